/* The runtime exports of hip/faultline.h for the GPU backends, written against
 * the HIP API (vendor.h maps it to CUDA in the cuda build).
 *
 * Every export that touches a device sets the device itself (cached per
 * thread: Deno's nonblocking calls run on pooled threads). Errors are the
 * vendor's own, sticky ones included: nothing here emulates or masks them.
 *
 * Fault info. The first sticky error a device returns (700 illegal address,
 * 719 launch failure, ...) is recorded with the last kernel launched on the
 * stream of the call that surfaced it (or on the device, for device-wide
 * calls such as a synchronous copy or a device sync): its name, tag and
 * stream. The faulting address comes from the device's breadcrumb, a
 * host-mapped pinned slot that address-aware kernels (kernels/faults.hip)
 * write before the access that may fault; it is reported only when the
 * breadcrumb was left by that very launch, 0 otherwise.
 *
 * Streams are created non-blocking: like sim's in-order queues, they do not
 * synchronize with the default stream, so cross-stream races stay real.
 */
#include <atomic>
#include <cstring>
#include <mutex>

#include "faultline.h"
#include "gpu_common.h"

namespace flgpu {
namespace {

constexpr int kStreamSlots = 64;
constexpr int kEventSlots = 128;

struct EventRecord {
  uint64_t event;
  uint64_t stream;
};

struct DeviceState {
  std::mutex mu;
  LaunchRecord streams[kStreamSlots];
  LaunchRecord last; /* last launch on the device, any stream */
  EventRecord events[kEventSlots];
  int event_next = 0;
  std::atomic<bool> faulted{false};
  fl_fault_info fault;
  uint64_t fault_seq = 0;
  bool crumb_tried = false;
  fl_breadcrumb *crumb_host = nullptr;
  fl_breadcrumb *crumb_dev = nullptr;
};

DeviceState g_devices[kMaxDevices];
std::atomic<uint64_t> g_tag{0};
std::atomic<uint64_t> g_seq{0};
thread_local int32_t tl_device = -1;
/* A launch this library refused itself (refuse_launch), reported by
 * fl_get_last_error / fl_peek_last_error where the vendor has no error. */
thread_local int32_t tl_refused = 0;

bool valid_device(int32_t dev) { return dev >= 0 && dev < kMaxDevices; }

/* Errors after which the context is unusable, on both vendors. */
bool is_sticky(int32_t e) {
  switch (e) {
    case 700: /* illegal address */
    case 702: /* launch timeout */
    case 710: /* device-side assert */
    case 714: /* hardware stack error */
    case 715: /* illegal instruction */
    case 716: /* misaligned address */
    case 717: /* invalid address space */
    case 718: /* invalid program counter */
    case 719: /* launch failure */
      return true;
    default:
      return false;
  }
}

/* Caller holds d.mu. The slot holding `stream`'s record, or null. */
LaunchRecord *find_stream(DeviceState &d, uint64_t stream) {
  for (auto &r : d.streams)
    if (r.seq != 0 && r.stream == stream) return &r;
  return nullptr;
}

/* Caller holds d.mu. The slot for `stream`: its own, a free one, or the
 * least recently launched one. */
LaunchRecord *slot_for_stream(DeviceState &d, uint64_t stream) {
  LaunchRecord *oldest = &d.streams[0];
  for (auto &r : d.streams) {
    if (r.seq == 0 || r.stream == stream) return &r;
    if (r.seq < oldest->seq) oldest = &r;
  }
  return oldest;
}

int32_t copy_string(const char *s, char *buf, int32_t cap) {
  if (buf == nullptr || cap <= 0) return FL_ERROR_INVALID_VALUE;
  if (s == nullptr) s = "";
  size_t n = strlen(s);
  if (n >= static_cast<size_t>(cap)) n = static_cast<size_t>(cap) - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return FL_SUCCESS;
}

void copy_name(char (&dst)[64], const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n > sizeof dst - 1) n = sizeof dst - 1;
  if (n) memcpy(dst, name, n);
  dst[n] = '\0';
}

/* Caller holds d.mu: the breadcrumb left by launch `seq`, if any. */
void read_breadcrumb(DeviceState &d, uint64_t seq, fl_fault_info &f) {
  if (d.crumb_host == nullptr || seq == 0) return;
  const volatile fl_breadcrumb *c = d.crumb_host;
  if (c->seq != seq) return;
  f.address = c->address;
  f.access = static_cast<int32_t>(c->access);
}

}  // namespace

hipError_t set_device(int32_t dev) {
  if (dev == tl_device) return hipSuccess;
  if (!valid_device(dev)) return hipErrorInvalidDevice;
  hipError_t e = hipSetDevice(dev);
  if (e == hipSuccess) tl_device = dev;
  return e;
}

int32_t status(int32_t dev, hipError_t err, uint64_t stream, Scope scope) {
  const int32_t code = static_cast<int32_t>(err);
  if (code == 0 || !is_sticky(code) || !valid_device(dev)) return code;
  DeviceState &d = g_devices[dev];
  if (d.faulted.load(std::memory_order_acquire)) return code;
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.faulted.load(std::memory_order_relaxed)) return code;
  fl_fault_info &f = d.fault;
  memset(&f, 0, sizeof f);
  f.status = code;
  f.device = dev;
  f.stream = stream;
  const LaunchRecord *r = scope == kStream ? find_stream(d, stream) : nullptr;
  if (r == nullptr && d.last.seq != 0) r = &d.last;
  if (r != nullptr) {
    f.stream = r->stream;
    f.tag = r->tag;
    memcpy(f.op, r->name, sizeof f.op);
    d.fault_seq = r->seq;
    read_breadcrumb(d, r->seq, f);
  }
  d.faulted.store(true, std::memory_order_release);
  return code;
}

void note_event_record(int32_t dev, uint64_t event, uint64_t stream) {
  if (!valid_device(dev)) return;
  DeviceState &d = g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  for (auto &e : d.events)
    if (e.event == event) {
      e.stream = stream;
      return;
    }
  d.events[d.event_next] = {event, stream};
  d.event_next = (d.event_next + 1) % kEventSlots;
}

bool event_stream(int32_t dev, uint64_t event, uint64_t *stream) {
  *stream = 0;
  if (!valid_device(dev) || event == 0) return false;
  DeviceState &d = g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  for (auto &e : d.events)
    if (e.event == event) {
      *stream = e.stream;
      return true;
    }
  return false;
}

void forget_stream(int32_t dev, uint64_t stream) {
  if (!valid_device(dev) || stream == 0) return;
  DeviceState &d = g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  if (LaunchRecord *r = find_stream(d, stream)) *r = LaunchRecord{};
}

void forget_event(int32_t dev, uint64_t event) {
  if (!valid_device(dev) || event == 0) return;
  DeviceState &d = g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  for (auto &e : d.events)
    if (e.event == event) e = EventRecord{0, 0};
}

fl_breadcrumb *Launch::crumb() {
  DeviceState &d = g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  if (!d.crumb_tried) {
    d.crumb_tried = true;
    void *host = nullptr;
    void *device = nullptr;
    if (hipHostMalloc(&host, sizeof(fl_breadcrumb), hipHostMallocMapped | hipHostMallocPortable) ==
        hipSuccess) {
      memset(host, 0, sizeof(fl_breadcrumb));
      if (hipHostGetDevicePointer(&device, host, 0) == hipSuccess) {
        d.crumb_host = static_cast<fl_breadcrumb *>(host);
        d.crumb_dev = static_cast<fl_breadcrumb *>(device);
      } else {
        (void)hipHostFree(host);
      }
    }
    /* A failure here must not become the launch's status. */
    (void)hipGetLastError();
  }
  return d.crumb_dev;
}

int32_t launch_begin(Launch &l, int32_t dev, uint64_t stream, const char *name) {
  hipError_t e = set_device(dev);
  if (e != hipSuccess) return status(dev, e, stream, kStream);
  (void)hipGetLastError();
  l.dev = dev;
  l.stream = stream;
  l.hstream = hstream(stream);
  l.tag = g_tag.load(std::memory_order_relaxed);
  l.seq = g_seq.fetch_add(1, std::memory_order_relaxed) + 1;
  DeviceState &d = g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  LaunchRecord *r = slot_for_stream(d, stream);
  l.prev_stream = *r;
  r->stream = stream;
  r->seq = l.seq;
  r->tag = l.tag;
  copy_name(r->name, name);
  l.prev_device = d.last;
  d.last = *r;
  return FL_SUCCESS;
}

int32_t refuse_launch() {
  tl_refused = FL_ERROR_INVALID_CONFIGURATION;
  return FL_ERROR_INVALID_CONFIGURATION;
}

int32_t launch_end(Launch &l) {
  hipError_t e = hipGetLastError();
  if (e == hipSuccess) return FL_SUCCESS;
  {
    /* The kernel was not enqueued: the stream's last launch is the one before. */
    DeviceState &d = g_devices[l.dev];
    std::lock_guard<std::mutex> lock(d.mu);
    LaunchRecord *r = find_stream(d, l.stream);
    if (r != nullptr && r->seq == l.seq) *r = l.prev_stream;
    if (d.last.seq == l.seq) d.last = l.prev_device;
  }
  return status(l.dev, e, l.stream, kStream);
}

}  // namespace flgpu

using flgpu::hevent;
using flgpu::hstream;
using flgpu::kDevice;
using flgpu::kStream;
using flgpu::ptr;
using flgpu::set_device;
using flgpu::status;

/* Sets the device or returns its status from the calling export. */
#define FL_SET_DEVICE(dev)                                \
  do {                                                    \
    hipError_t set_err_ = set_device(dev);                \
    if (set_err_ != hipSuccess) return status(dev, set_err_); \
  } while (0)

/* ---- Library and errors ---- */

int32_t fl_abi_version(int32_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  *out = FL_ABI_VERSION;
  return FL_SUCCESS;
}

int32_t fl_backend_name(char *buf, int32_t cap) { return flgpu::copy_string(FL_VENDOR_NAME, buf, cap); }

int32_t fl_noop(void) { return FL_SUCCESS; }

int32_t fl_get_last_error(int32_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  hipError_t e = hipGetLastError();
  *out = e != hipSuccess ? static_cast<int32_t>(e) : flgpu::tl_refused;
  flgpu::tl_refused = 0;
  if (flgpu::tl_device >= 0) status(flgpu::tl_device, e);
  return FL_SUCCESS;
}

int32_t fl_peek_last_error(int32_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  hipError_t e = hipPeekAtLastError();
  *out = e != hipSuccess ? static_cast<int32_t>(e) : flgpu::tl_refused;
  if (flgpu::tl_device >= 0) status(flgpu::tl_device, e);
  return FL_SUCCESS;
}

int32_t fl_error_name(int32_t code, char *buf, int32_t cap) {
  return flgpu::copy_string(hipGetErrorName(static_cast<hipError_t>(code)), buf, cap);
}

int32_t fl_error_string(int32_t code, char *buf, int32_t cap) {
  return flgpu::copy_string(hipGetErrorString(static_cast<hipError_t>(code)), buf, cap);
}

int32_t fl_fault_info_get(int32_t dev, fl_fault_info *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  if (!flgpu::valid_device(dev)) return FL_ERROR_INVALID_DEVICE;
  flgpu::DeviceState &d = flgpu::g_devices[dev];
  std::lock_guard<std::mutex> lock(d.mu);
  if (!d.faulted.load(std::memory_order_relaxed)) {
    memset(out, 0, sizeof *out);
    out->device = dev;
    return FL_SUCCESS;
  }
  /* The breadcrumb may have become visible only after the error was seen. */
  if (d.fault.address == 0) flgpu::read_breadcrumb(d, d.fault_seq, d.fault);
  *out = d.fault;
  return FL_SUCCESS;
}

int32_t fl_set_tag(uint64_t tag) {
  flgpu::g_tag.store(tag, std::memory_order_relaxed);
  return FL_SUCCESS;
}

/* ---- Devices ---- */

int32_t fl_device_count(int32_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  int n = 0;
  hipError_t e = hipGetDeviceCount(&n);
  *out = e == hipSuccess ? n : 0;
  if (e == hipSuccess && n > flgpu::kMaxDevices) *out = flgpu::kMaxDevices;
  return static_cast<int32_t>(e);
}

int32_t fl_device_props_get(int32_t dev, fl_device_props *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  FL_SET_DEVICE(dev);
  memset(out, 0, sizeof *out);
  hipDeviceProp_t p;
  hipError_t e = hipGetDeviceProperties(&p, dev);
  if (e != hipSuccess) return status(dev, e);
  flgpu::copy_string(p.name, out->name, sizeof out->name);
  out->total_mem = static_cast<uint64_t>(p.totalGlobalMem);
  struct {
    hipDeviceAttribute_t attr;
    int32_t *dst;
  } const attrs[] = {
      {hipDeviceAttributeMaxGridDimX, &out->max_grid[0]},
      {hipDeviceAttributeMaxGridDimY, &out->max_grid[1]},
      {hipDeviceAttributeMaxGridDimZ, &out->max_grid[2]},
      {hipDeviceAttributeMaxBlockDimX, &out->max_block[0]},
      {hipDeviceAttributeMaxBlockDimY, &out->max_block[1]},
      {hipDeviceAttributeMaxBlockDimZ, &out->max_block[2]},
      {hipDeviceAttributeMaxThreadsPerBlock, &out->max_threads_per_block},
      {hipDeviceAttributeWarpSize, &out->warp_size},
      {hipDeviceAttributeMultiprocessorCount, &out->multiprocessor_count},
      {hipDeviceAttributeComputeCapabilityMajor, &out->major},
      {hipDeviceAttributeComputeCapabilityMinor, &out->minor},
  };
  for (const auto &a : attrs) {
    int v = 0;
    e = hipDeviceGetAttribute(&v, a.attr, dev);
    if (e != hipSuccess) return status(dev, e);
    *a.dst = v;
  }
  return FL_SUCCESS;
}

int32_t fl_device_bus_id(int32_t dev, char *buf, int32_t cap) {
  if (buf == nullptr || cap <= 0) return FL_ERROR_INVALID_VALUE;
  buf[0] = '\0';
  return status(dev, hipDeviceGetPCIBusId(buf, cap, dev));
}

int32_t fl_mem_info(int32_t dev, uint64_t *free_bytes, uint64_t *total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) return FL_ERROR_INVALID_VALUE;
  FL_SET_DEVICE(dev);
  size_t f = 0, t = 0;
  hipError_t e = hipMemGetInfo(&f, &t);
  *free_bytes = f;
  *total_bytes = t;
  return status(dev, e);
}

int32_t fl_device_synchronize(int32_t dev) {
  FL_SET_DEVICE(dev);
  return status(dev, hipDeviceSynchronize());
}

/* ---- Memory ---- */

int32_t fl_malloc(int32_t dev, uint64_t bytes, uint64_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  *out = 0;
  FL_SET_DEVICE(dev);
  void *p = nullptr;
  hipError_t e = hipMalloc(&p, static_cast<size_t>(bytes));
  if (e == hipSuccess) *out = flgpu::handle(p);
  return status(dev, e);
}

int32_t fl_free(int32_t dev, uint64_t p) {
  FL_SET_DEVICE(dev);
  return status(dev, hipFree(ptr<void>(p)));
}

int32_t fl_host_malloc(int32_t dev, uint64_t bytes, uint64_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  *out = 0;
  FL_SET_DEVICE(dev);
  void *p = nullptr;
  hipError_t e = hipHostMalloc(&p, static_cast<size_t>(bytes), hipHostMallocDefault);
  if (e == hipSuccess) *out = flgpu::handle(p);
  return status(dev, e);
}

int32_t fl_host_free(int32_t dev, uint64_t p) {
  FL_SET_DEVICE(dev);
  return status(dev, hipHostFree(ptr<void>(p)));
}

static bool memcpy_kind(int32_t kind, hipMemcpyKind *out) {
  switch (kind) {
    case FL_MEMCPY_H2H:
      *out = hipMemcpyHostToHost;
      return true;
    case FL_MEMCPY_H2D:
      *out = hipMemcpyHostToDevice;
      return true;
    case FL_MEMCPY_D2H:
      *out = hipMemcpyDeviceToHost;
      return true;
    case FL_MEMCPY_D2D:
      *out = hipMemcpyDeviceToDevice;
      return true;
    default:
      return false;
  }
}

int32_t fl_memcpy(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind) {
  hipMemcpyKind k;
  if (!memcpy_kind(kind, &k)) return FL_ERROR_INVALID_MEMCPY_DIRECTION;
  FL_SET_DEVICE(dev);
  return status(dev, hipMemcpy(ptr<void>(dst), ptr<const void>(src), static_cast<size_t>(bytes), k));
}

int32_t fl_memcpy_async(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind,
                        uint64_t stream) {
  hipMemcpyKind k;
  if (!memcpy_kind(kind, &k)) return FL_ERROR_INVALID_MEMCPY_DIRECTION;
  FL_SET_DEVICE(dev);
  hipError_t e = hipMemcpyAsync(ptr<void>(dst), ptr<const void>(src), static_cast<size_t>(bytes), k,
                                hstream(stream));
  return status(dev, e, stream, kStream);
}

/* A peer copy runs from the destination device: a fault it raises is that device's. */
int32_t fl_memcpy_peer(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes) {
  if (!flgpu::valid_device(src_dev)) return FL_ERROR_INVALID_DEVICE;
  FL_SET_DEVICE(dst_dev);
  return status(dst_dev,
                hipMemcpyPeer(ptr<void>(dst), dst_dev, ptr<const void>(src), src_dev, static_cast<size_t>(bytes)));
}

int32_t fl_memcpy_peer_async(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes,
                             uint64_t stream) {
  if (!flgpu::valid_device(src_dev)) return FL_ERROR_INVALID_DEVICE;
  FL_SET_DEVICE(dst_dev);
  hipError_t e = hipMemcpyPeerAsync(ptr<void>(dst), dst_dev, ptr<const void>(src), src_dev,
                                    static_cast<size_t>(bytes), hstream(stream));
  return status(dst_dev, e, stream, kStream);
}

int32_t fl_memset(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes) {
  FL_SET_DEVICE(dev);
  return status(dev, hipMemset(ptr<void>(dst), value, static_cast<size_t>(bytes)));
}

int32_t fl_memset_async(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes, uint64_t stream) {
  FL_SET_DEVICE(dev);
  hipError_t e = hipMemsetAsync(ptr<void>(dst), value, static_cast<size_t>(bytes), hstream(stream));
  return status(dev, e, stream, kStream);
}

/* ---- Streams ---- */

int32_t fl_stream_create(int32_t dev, uint64_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  *out = 0;
  FL_SET_DEVICE(dev);
  hipStream_t s = nullptr;
  hipError_t e = hipStreamCreateWithFlags(&s, hipStreamNonBlocking);
  if (e == hipSuccess) *out = flgpu::handle(s);
  return status(dev, e);
}

int32_t fl_stream_destroy(int32_t dev, uint64_t stream) {
  if (stream == 0) return FL_ERROR_INVALID_HANDLE; /* the default stream is not destroyed */
  FL_SET_DEVICE(dev);
  hipError_t e = hipStreamDestroy(hstream(stream));
  if (e == hipSuccess) flgpu::forget_stream(dev, stream);
  return status(dev, e, stream, kStream);
}

int32_t fl_stream_synchronize(int32_t dev, uint64_t stream) {
  FL_SET_DEVICE(dev);
  return status(dev, hipStreamSynchronize(hstream(stream)), stream, kStream);
}

int32_t fl_stream_query(int32_t dev, uint64_t stream) {
  FL_SET_DEVICE(dev);
  return status(dev, hipStreamQuery(hstream(stream)), stream, kStream);
}

int32_t fl_stream_wait_event(int32_t dev, uint64_t stream, uint64_t event) {
  FL_SET_DEVICE(dev);
  return status(dev, hipStreamWaitEvent(hstream(stream), hevent(event), 0), stream, kStream);
}

/* ---- Events ---- */

int32_t fl_event_create(int32_t dev, uint64_t *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  *out = 0;
  FL_SET_DEVICE(dev);
  hipEvent_t ev = nullptr;
  hipError_t e = hipEventCreate(&ev);
  if (e == hipSuccess) *out = flgpu::handle(ev);
  return status(dev, e);
}

int32_t fl_event_destroy(int32_t dev, uint64_t event) {
  FL_SET_DEVICE(dev);
  hipError_t e = hipEventDestroy(hevent(event));
  if (e == hipSuccess) flgpu::forget_event(dev, event);
  return status(dev, e);
}

int32_t fl_event_record(int32_t dev, uint64_t event, uint64_t stream) {
  FL_SET_DEVICE(dev);
  hipError_t e = hipEventRecord(hevent(event), hstream(stream));
  if (e == hipSuccess) flgpu::note_event_record(dev, event, stream);
  return status(dev, e, stream, kStream);
}

/* A fault surfacing at an event names the stream the event was recorded on. */
static int32_t event_status(int32_t dev, uint64_t event, hipError_t e) {
  if (e == hipSuccess || e == hipErrorNotReady) return static_cast<int32_t>(e);
  uint64_t stream = 0;
  const bool known = flgpu::event_stream(dev, event, &stream);
  return status(dev, e, stream, known ? kStream : kDevice);
}

int32_t fl_event_synchronize(int32_t dev, uint64_t event) {
  FL_SET_DEVICE(dev);
  return event_status(dev, event, hipEventSynchronize(hevent(event)));
}

int32_t fl_event_query(int32_t dev, uint64_t event) {
  FL_SET_DEVICE(dev);
  return event_status(dev, event, hipEventQuery(hevent(event)));
}

int32_t fl_event_elapsed_ms(int32_t dev, uint64_t start, uint64_t end, float *out) {
  if (out == nullptr) return FL_ERROR_INVALID_VALUE;
  *out = 0.0f;
  FL_SET_DEVICE(dev);
  return status(dev, hipEventElapsedTime(out, hevent(start), hevent(end)));
}
