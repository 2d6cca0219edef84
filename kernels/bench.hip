/* Tiny kernels for measuring the launch path. */
#include <stdint.h>

#include "launch_config.h"
#include "vendor.h"

/* counter[0] += 1, one thread. */
__global__ void tick_kernel(uint32_t *counter) {
  if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1u;
}

void launch_tick(hipStream_t stream, uint32_t *counter) {
  const fl_launch_dims d = fl_config_tick();
  hipLaunchKernelGGL(tick_kernel, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, counter);
}
