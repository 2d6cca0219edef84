/* Deliberately broken kernels: the test suite uses them to prove that a
 * fault is caught, surfaces where a GPU would surface it, and is traced back
 * to the launch that caused it. C reference versions: hip/sim/. */
#include <stdint.h>

#include "launch_config.h"
#include "vendor.h"

/* One thread stores `value` at `addr`, wherever it points. The address goes
 * into the breadcrumb first, so that the host can name it after a fault. */
__global__ void fault_write_at_kernel(float *addr, float value, fl_breadcrumb *crumb, uint64_t seq) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  fl_breadcrumb_leave(crumb, seq, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(addr)), 2);
  *static_cast<volatile float *>(addr) = value;
}

/* dst[i] = value for i < n, grid-stride: n may run past dst's buffer. */
__global__ void fault_fill_kernel(float *dst, uint64_t n, float value) {
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = value;
  }
}

void launch_fault_write_at(hipStream_t stream, fl_breadcrumb *crumb, uint64_t seq, float *addr, float value) {
  const fl_launch_dims d = fl_config_fault_write_at();
  hipLaunchKernelGGL(fault_write_at_kernel, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, addr, value, crumb,
                     seq);
}

void launch_fault_fill(hipStream_t stream, float *dst, uint64_t n, float value) {
  const fl_launch_dims d = fl_config_fault_fill(n);
  hipLaunchKernelGGL(fault_fill_kernel, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, dst, n, value);
}
