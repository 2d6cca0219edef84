/* Tiny kernels for measuring the launch path. */
#include <stdint.h>

#include "fl_kernel_launchers.h"

/* counter[0] += 1, one thread. */
__global__ void tick_kernel(uint32_t *counter) {
  if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1u;
}

void fl_gpu_tick(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_tick &a) {
  hipLaunchKernelGGL(tick_kernel, FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream, flgpu::ptr<uint32_t>(a.counter));
}
