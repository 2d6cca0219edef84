/* Launch exports of hip/launch.h for the GPU backends: each sets the device,
 * records the kernel's name and tag for fault info (gpu_common.h), calls the
 * kernel file's launcher and returns the launch status. */
#include "gpu_common.h"
#include "launch.h"

/* kernels/faults.hip */
void launch_fault_write_at(hipStream_t stream, fl_breadcrumb *crumb, uint64_t seq, float *addr, float value);
void launch_fault_fill(hipStream_t stream, float *dst, uint64_t n, float value);
/* kernels/redzone.hip */
void launch_redzone_check(hipStream_t stream, const uint64_t *table, uint32_t n, uint32_t pattern, int64_t *out);
/* kernels/bench.hip */
void launch_tick(hipStream_t stream, uint32_t *counter);

int32_t fl_launch_fault_write_at(int32_t dev, uint64_t stream, uint64_t addr, float value) {
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "fault_write_at")) return st;
  launch_fault_write_at(l.hstream, l.crumb(), l.seq, flgpu::ptr<float>(addr), value);
  return flgpu::launch_end(l);
}

int32_t fl_launch_fault_fill(int32_t dev, uint64_t stream, uint64_t dst, uint64_t n, float value) {
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "fault_fill")) return st;
  launch_fault_fill(l.hstream, flgpu::ptr<float>(dst), n, value);
  return flgpu::launch_end(l);
}

int32_t fl_launch_redzone_check(int32_t dev, uint64_t stream, uint64_t table, uint32_t n, uint32_t pattern,
                                uint64_t out) {
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "redzone_check")) return st;
  launch_redzone_check(l.hstream, flgpu::ptr<const uint64_t>(table), n, pattern, flgpu::ptr<int64_t>(out));
  return flgpu::launch_end(l);
}

int32_t fl_launch_tick(int32_t dev, uint64_t stream, uint64_t counter) {
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "tick")) return st;
  launch_tick(l.hstream, flgpu::ptr<uint32_t>(counter));
  return flgpu::launch_end(l);
}

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
