/* Launch exports of hip/launch.h for the GPU backends that are not
 * generated from a kernel declaration (the built-in kernels' exports are
 * build/gen/fl_kernel_exports_gpu.cpp). */
#include "gpu_common.h"
#include "launch.h"

/* The same per-launch work as fl_launch_tick (device, record, launch,
 * status), minus the FFI call: the baseline for the TypeScript launch path. */
int32_t fl_bench_tick_loop(int32_t dev, uint64_t stream, uint64_t counter, int32_t n) {
  if (n < 0) return FL_ERROR_INVALID_VALUE;
  for (int32_t i = 0; i < n; i++) {
    const int32_t st = fl_launch_tick(dev, stream, counter);
    if (st != FL_SUCCESS) return st;
  }
  return FL_SUCCESS;
}
