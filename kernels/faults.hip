/* Deliberately broken kernels: the test suite uses them to prove that a
 * fault is caught, surfaces where a GPU would surface it, and is traced back
 * to the launch that caused it. C reference versions: hip/sim/. */
#include <stdint.h>

#include "fl_kernel_launchers.h"

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

void fl_gpu_fault_write_at(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_fault_write_at &a) {
  hipLaunchKernelGGL(fault_write_at_kernel, FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream,
                     flgpu::ptr<float>(a.addr), a.value, l.crumb(), l.seq);
}

void fl_gpu_fault_fill(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_fault_fill &a) {
  hipLaunchKernelGGL(fault_fill_kernel, FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream,
                     flgpu::ptr<float>(a.dst), a.n, a.value);
}
