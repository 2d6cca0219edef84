/* Internal plumbing of the GPU backends (cuda and hip), shared by
 * gpu_runtime.cpp (the runtime exports) and the gpu_launch*.cpp files (the
 * launch exports). Not part of the ABI: everything here is hidden.
 *
 * A launch export has this shape:
 *
 *   void launch_fill(hipStream_t stream, float *dst, uint64_t n, float value); // kernels/x.hip
 *
 *   FL_EXPORT int32_t fl_launch_fill(int32_t dev, uint64_t stream, uint64_t dst, uint64_t n,
 *                                    float value) {
 *     flgpu::Launch l;
 *     if (int32_t st = flgpu::launch_begin(l, dev, stream, "fill")) return st;
 *     launch_fill(l.hstream, flgpu::ptr<float>(dst), n, value);
 *     return flgpu::launch_end(l);
 *   }
 *
 * launch_begin sets the device and records the kernel's name and the current
 * tag as the last launch on the stream (what fl_fault_info_get reports when a
 * fault surfaces there); launch_end returns the launch status and undoes that
 * record when the launch did not happen.
 *
 * Every other export ends with `return flgpu::status(dev, err, ...)`, which
 * records the first sticky error (illegal address, launch failure, ...) of
 * the device as its fault.
 */
#ifndef FAULTLINE_GPU_COMMON_H
#define FAULTLINE_GPU_COMMON_H

#include <stdint.h>

#include "faultline.h"
#include "launch_config.h"
#include "vendor.h"

#define FL_HIDDEN __attribute__((visibility("hidden")))

namespace flgpu {

constexpr int32_t kMaxDevices = 16;

inline hipStream_t hstream(uint64_t s) { return reinterpret_cast<hipStream_t>(static_cast<uintptr_t>(s)); }
inline hipEvent_t hevent(uint64_t e) { return reinterpret_cast<hipEvent_t>(static_cast<uintptr_t>(e)); }
template <class T>
inline T *ptr(uint64_t a) {
  return reinterpret_cast<T *>(static_cast<uintptr_t>(a));
}
inline uint64_t handle(const void *p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

inline dim3 grid_of(const fl_launch_dims &d) { return dim3(d.grid[0], d.grid[1], d.grid[2]); }
inline dim3 block_of(const fl_launch_dims &d) { return dim3(d.block[0], d.block[1], d.block[2]); }

/* Makes `dev` the calling thread's device. The device last set on this thread
 * is cached, so the common case costs one comparison. 101 for a device out of
 * range. */
FL_HIDDEN hipError_t set_device(int32_t dev);

/* What surfaced a status: a call on one stream (a stream sync, an async copy,
 * a launch) or on the whole device (a device sync, a synchronous copy, an
 * allocation). */
enum Scope { kDevice = 0, kStream = 1 };

/* Returns `err` as a status. The first time a device sees a sticky error
 * (700, 719, ...), records it as the device's fault with the stream of the
 * call and the last kernel launched there (kStream) or on the device (kDevice). */
FL_HIDDEN int32_t status(int32_t dev, hipError_t err, uint64_t stream = 0, Scope scope = kDevice);

/* Records `stream` as the stream `event` was last recorded on, so that a
 * fault surfacing at the event's wait names that stream. */
FL_HIDDEN void note_event_record(int32_t dev, uint64_t event, uint64_t stream);
/* The stream `event` was last recorded on; false when unknown. */
FL_HIDDEN bool event_stream(int32_t dev, uint64_t event, uint64_t *stream);
/* Forgets a destroyed stream's or event's records. */
FL_HIDDEN void forget_stream(int32_t dev, uint64_t stream);
FL_HIDDEN void forget_event(int32_t dev, uint64_t event);

/* The last kernel launched on a stream. */
struct LaunchRecord {
  uint64_t stream;
  uint64_t seq; /* launch sequence number, 0 = none */
  uint64_t tag;
  char name[64];
};

struct Launch {
  int32_t dev = 0;
  uint64_t stream = 0;
  hipStream_t hstream = nullptr;
  uint64_t seq = 0; /* this launch's sequence number, for breadcrumbs */
  uint64_t tag = 0;
  LaunchRecord prev_stream{}; /* records replaced by this launch, put back if it fails */
  LaunchRecord prev_device{};
  /* The device's breadcrumb slot (device pointer), allocated on first use;
   * null when it cannot be had (the kernel then leaves no breadcrumb). */
  fl_breadcrumb *crumb();
};

/* Sets the device, clears a pending non-sticky error (so that launch_end
 * returns this launch's own status) and records `name` (copied, up to 63
 * chars) and the current tag as the last launch on the stream and the device.
 * Returns 0, or the status that stops the launch. */
FL_HIDDEN int32_t launch_begin(Launch &l, int32_t dev, uint64_t stream, const char *name);
/* Refuses a launch whose configuration the kernel cannot run (the kernels'
 * launch_config says so): returns 9 (invalid configuration) without touching
 * the device and makes it the thread's last error, as sim does. The vendors
 * disagree on the status of a launch with impossible geometry (CUDA 13 says 1
 * for some), so the refusal does not go through them. */
FL_HIDDEN int32_t refuse_launch();
/* hipGetLastError() as the launch status; puts back the previous records when
 * the launch failed, and records a sticky error as the device's fault. */
FL_HIDDEN int32_t launch_end(Launch &l);

}  // namespace flgpu

#endif
