/* HIP allocations, copies and memsets (hip_hooks.h): the records the CUDA
 * hooks make (cuda_memory.c, cuda_copy.c), named after the HIP call. */
#include <stdio.h>

#include "hip_hooks.h"
#include "trace_allocs.h"

int hip_current_device(int32_t *out) {
  static __typeof__(&hipGetDevice) get;
  if (!get) get = (__typeof__(&hipGetDevice))dlsym(RTLD_NEXT, "hipGetDevice");
  int d = 0;
  if (!get || get(&d) != hipSuccess) return -1;
  *out = d;
  return 0;
}

int hip_describe_device(void) {
  static __typeof__(&hipDeviceGetName) get;
  if (!get) get = (__typeof__(&hipDeviceGetName))dlsym(RTLD_NEXT, "hipDeviceGetName");
  int32_t dev = tr_device();
  char name[256] = "", q[600], line[700];
  if (!get || get(name, sizeof name, dev) != hipSuccess) return 0;
  tr_json_string(q, sizeof q, name);
  snprintf(line, sizeof line, "{\"device\":{\"ordinal\":%d,\"name\":%s}}", dev, q);
  tr_side(line);
  return 1;
}

typedef struct alloc_note {
  uint32_t seq, name;
  char text[96];
} alloc_note;

static void alloc_intent(alloc_note *n, const char *api, int32_t kind, uint64_t bytes, uint64_t stream) {
  snprintf(n->text, sizeof n->text, "%s#%u", api, tr_alloc_next_number());
  n->name = tr_intern(n->text);
  tr_call c;
  tr_call_init(&c, kind, n->name, stream);
  c.op = tr_intern(api);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  n->seq = tr_intent(&c);
}

static void alloc_outcome(const alloc_note *n, hipError_t st, void **p, uint64_t bytes, int host) {
  if (st != hipSuccess || !p) {
    tr_done(n->seq, st);
    return;
  }
  tr_done_result(n->seq, st, (uint64_t)(uintptr_t)*p);
  tr_alloc_add(n->seq, (uint64_t)(uintptr_t)*p, bytes, tr_device(), host, n->name, n->text);
}


#define ALLOC_BODY(api, kind, host, bytes, stream, call) \
  if (!tr_on()) return call;                            \
  alloc_note n;                                         \
  alloc_intent(&n, api, kind, bytes, stream);           \
  hipError_t st = call;                                 \
  alloc_outcome(&n, st, ptr, bytes, host);              \
  return st

TR_EXPORT hipError_t hipMalloc(void **ptr, size_t size) {
  HIP_REAL(hipMalloc);
  ALLOC_BODY("hipMalloc", FLJ_K_ALLOC, 0, size, 0, real_hipMalloc(ptr, size));
}

TR_EXPORT hipError_t hipExtMallocWithFlags(void **ptr, size_t size, unsigned int flags) {
  HIP_REAL(hipExtMallocWithFlags);
  ALLOC_BODY("hipExtMallocWithFlags", FLJ_K_ALLOC, 0, size, 0, real_hipExtMallocWithFlags(ptr, size, flags));
}

TR_EXPORT hipError_t hipMallocManaged(void **ptr, size_t size, unsigned int flags) {
  HIP_REAL(hipMallocManaged);
  ALLOC_BODY("hipMallocManaged", FLJ_K_ALLOC, 0, size, 0, real_hipMallocManaged(ptr, size, flags));
}

TR_EXPORT hipError_t hipMallocAsync(void **ptr, size_t size, hipStream_t s) {
  HIP_REAL(hipMallocAsync);
  ALLOC_BODY("hipMallocAsync", FLJ_K_ALLOC, 0, size, hip_stream_id(s), real_hipMallocAsync(ptr, size, s));
}

TR_EXPORT hipError_t hipMallocFromPoolAsync(void **ptr, size_t size, hipMemPool_t pool, hipStream_t s) {
  HIP_REAL(hipMallocFromPoolAsync);
  ALLOC_BODY("hipMallocFromPoolAsync", FLJ_K_ALLOC, 0, size, hip_stream_id(s),
             real_hipMallocFromPoolAsync(ptr, size, pool, s));
}

TR_EXPORT hipError_t hipHostMalloc(void **ptr, size_t size, unsigned int flags) {
  HIP_REAL(hipHostMalloc);
  ALLOC_BODY("hipHostMalloc", FLJ_K_HOST_ALLOC, 1, size, 0, real_hipHostMalloc(ptr, size, flags));
}

#define FREE_BODY(api, kind, p, stream, call)                                   \
  if (!tr_on()) return call;                                                    \
  uint32_t seq = tr_free_intent(api, kind, (uint64_t)(uintptr_t)(p), stream);   \
  hipError_t st = call;                                                         \
  tr_free_outcome(seq, st, st == hipSuccess, (uint64_t)(uintptr_t)(p));         \
  return st

TR_EXPORT hipError_t hipFree(void *p) {
  HIP_REAL(hipFree);
  FREE_BODY("hipFree", FLJ_K_FREE, p, 0, real_hipFree(p));
}

TR_EXPORT hipError_t hipFreeAsync(void *p, hipStream_t s) {
  HIP_REAL(hipFreeAsync);
  FREE_BODY("hipFreeAsync", FLJ_K_FREE, p, hip_stream_id(s), real_hipFreeAsync(p, s));
}

TR_EXPORT hipError_t hipHostFree(void *p) {
  HIP_REAL(hipHostFree);
  FREE_BODY("hipHostFree", FLJ_K_HOST_FREE, p, 0, real_hipHostFree(p));
}

/* ---- copies and memsets ------------------------------------------------------------ */

enum { HOST = 0, DEVICE = 1 };

static uint32_t copy_intent(const char *api, uint64_t dst, int dside, uint64_t src, int sside, uint64_t bytes,
                            uint64_t stream, int sync) {
  tr_call c;
  int32_t kind = dside == DEVICE ? (sside == DEVICE ? FLJ_K_D2D : FLJ_K_H2D) : (sside == DEVICE ? FLJ_K_D2H : FLJ_K_H2H);
  tr_call_init(&c, kind, tr_intern(api), stream);
  if (sside == DEVICE) tr_call_ptr(&c, TR_STR("src"), src, bytes, FLJ_ACCESS_R);
  if (dside == DEVICE) tr_call_ptr(&c, TR_STR("dst"), dst, bytes, FLJ_ACCESS_W);
  if (sside == HOST && dside == DEVICE) tr_call_host(&c, src);
  if (dside == HOST && sside == DEVICE) tr_call_host(&c, dst);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  tr_call_scalar(&c, TR_STR("sync"), sync);
  return tr_intent(&c);
}

/* The sides a hipMemcpyKind names (hipMemcpyDefault: the allocation table says). */
static void sides(hipMemcpyKind kind, const void *dst, const void *src, int *d, int *s) {
  switch (kind) {
    case hipMemcpyHostToDevice: *d = DEVICE, *s = HOST; break;
    case hipMemcpyDeviceToHost: *d = HOST, *s = DEVICE; break;
    case hipMemcpyDeviceToDevice: *d = DEVICE, *s = DEVICE; break;
    case hipMemcpyHostToHost: *d = HOST, *s = HOST; break;
    default:
      *d = tr_is_device((uint64_t)(uintptr_t)dst) ? DEVICE : HOST;
      *s = tr_is_device((uint64_t)(uintptr_t)src) ? DEVICE : HOST;
  }
}

#define U(p) ((uint64_t)(uintptr_t)(p))
#define COPY_BODY(api, dst, ds, src, ss, n, stream, sync, call)                 \
  if (!tr_on()) return call;                                                    \
  uint32_t seq = copy_intent(api, U(dst), ds, U(src), ss, n, stream, sync);     \
  hipError_t st = call;                                                         \
  tr_done(seq, st);                                                             \
  return st

TR_EXPORT hipError_t hipMemcpy(void *dst, const void *src, size_t n, hipMemcpyKind kind) {
  HIP_REAL(hipMemcpy);
  int d, s;
  sides(kind, dst, src, &d, &s);
  COPY_BODY("hipMemcpy", dst, d, src, s, n, 0, 1, real_hipMemcpy(dst, src, n, kind));
}

TR_EXPORT hipError_t hipMemcpyAsync(void *dst, const void *src, size_t n, hipMemcpyKind kind, hipStream_t stream) {
  HIP_REAL(hipMemcpyAsync);
  int d, s;
  sides(kind, dst, src, &d, &s);
  COPY_BODY("hipMemcpyAsync", dst, d, src, s, n, hip_stream_id(stream), 0,
            real_hipMemcpyAsync(dst, src, n, kind, stream));
}

TR_EXPORT hipError_t hipMemcpyWithStream(void *dst, const void *src, size_t n, hipMemcpyKind kind,
                                         hipStream_t stream) {
  HIP_REAL(hipMemcpyWithStream);
  int d, s;
  sides(kind, dst, src, &d, &s);
  COPY_BODY("hipMemcpyWithStream", dst, d, src, s, n, hip_stream_id(stream), 1,
            real_hipMemcpyWithStream(dst, src, n, kind, stream));
}

TR_EXPORT hipError_t hipMemcpyHtoD(hipDeviceptr_t dst, void *src, size_t n) {
  HIP_REAL(hipMemcpyHtoD);
  COPY_BODY("hipMemcpyHtoD", dst, DEVICE, src, HOST, n, 0, 1, real_hipMemcpyHtoD(dst, src, n));
}

TR_EXPORT hipError_t hipMemcpyDtoH(void *dst, hipDeviceptr_t src, size_t n) {
  HIP_REAL(hipMemcpyDtoH);
  COPY_BODY("hipMemcpyDtoH", dst, HOST, src, DEVICE, n, 0, 1, real_hipMemcpyDtoH(dst, src, n));
}

TR_EXPORT hipError_t hipMemcpyDtoD(hipDeviceptr_t dst, hipDeviceptr_t src, size_t n) {
  HIP_REAL(hipMemcpyDtoD);
  COPY_BODY("hipMemcpyDtoD", dst, DEVICE, src, DEVICE, n, 0, 1, real_hipMemcpyDtoD(dst, src, n));
}

TR_EXPORT hipError_t hipMemcpyHtoDAsync(hipDeviceptr_t dst, void *src, size_t n, hipStream_t s) {
  HIP_REAL(hipMemcpyHtoDAsync);
  COPY_BODY("hipMemcpyHtoDAsync", dst, DEVICE, src, HOST, n, hip_stream_id(s), 0,
            real_hipMemcpyHtoDAsync(dst, src, n, s));
}

TR_EXPORT hipError_t hipMemcpyDtoHAsync(void *dst, hipDeviceptr_t src, size_t n, hipStream_t s) {
  HIP_REAL(hipMemcpyDtoHAsync);
  COPY_BODY("hipMemcpyDtoHAsync", dst, HOST, src, DEVICE, n, hip_stream_id(s), 0,
            real_hipMemcpyDtoHAsync(dst, src, n, s));
}

TR_EXPORT hipError_t hipMemcpyDtoDAsync(hipDeviceptr_t dst, hipDeviceptr_t src, size_t n, hipStream_t s) {
  HIP_REAL(hipMemcpyDtoDAsync);
  COPY_BODY("hipMemcpyDtoDAsync", dst, DEVICE, src, DEVICE, n, hip_stream_id(s), 0,
            real_hipMemcpyDtoDAsync(dst, src, n, s));
}

static uint32_t memset_intent(const char *api, uint64_t dst, uint32_t value, uint64_t bytes, uint64_t stream,
                              int sync) {
  tr_call c;
  tr_call_init(&c, FLJ_K_MEMSET, tr_intern(api), stream);
  tr_call_ptr(&c, TR_STR("dst"), dst, bytes, FLJ_ACCESS_W);
  tr_call_scalar(&c, TR_STR("value"), value);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  tr_call_scalar(&c, TR_STR("sync"), sync);
  return tr_intent(&c);
}

#define MEMSET_BODY(api, dst, value, bytes, stream, sync, call)                   \
  if (!tr_on()) return call;                                                      \
  uint32_t seq = memset_intent(api, U(dst), (uint32_t)(value), bytes, stream, sync); \
  hipError_t st = call;                                                           \
  tr_done(seq, st);                                                               \
  return st

TR_EXPORT hipError_t hipMemset(void *dst, int value, size_t n) {
  HIP_REAL(hipMemset);
  MEMSET_BODY("hipMemset", dst, value, n, 0, 1, real_hipMemset(dst, value, n));
}

TR_EXPORT hipError_t hipMemsetAsync(void *dst, int value, size_t n, hipStream_t s) {
  HIP_REAL(hipMemsetAsync);
  MEMSET_BODY("hipMemsetAsync", dst, value, n, hip_stream_id(s), 0, real_hipMemsetAsync(dst, value, n, s));
}

TR_EXPORT hipError_t hipMemsetD8(hipDeviceptr_t dst, unsigned char value, size_t n) {
  HIP_REAL(hipMemsetD8);
  MEMSET_BODY("hipMemsetD8", dst, value, n, 0, 1, real_hipMemsetD8(dst, value, n));
}

TR_EXPORT hipError_t hipMemsetD16(hipDeviceptr_t dst, unsigned short value, size_t n) {
  HIP_REAL(hipMemsetD16);
  MEMSET_BODY("hipMemsetD16", dst, value, 2 * n, 0, 1, real_hipMemsetD16(dst, value, n));
}

TR_EXPORT hipError_t hipMemsetD32(hipDeviceptr_t dst, int value, size_t n) {
  HIP_REAL(hipMemsetD32);
  MEMSET_BODY("hipMemsetD32", dst, value, 4 * n, 0, 1, real_hipMemsetD32(dst, value, n));
}

TR_EXPORT hipError_t hipMemsetD32Async(hipDeviceptr_t dst, int value, size_t n, hipStream_t s) {
  HIP_REAL(hipMemsetD32Async);
  MEMSET_BODY("hipMemsetD32Async", dst, value, 4 * n, hip_stream_id(s), 0, real_hipMemsetD32Async(dst, value, n, s));
}
