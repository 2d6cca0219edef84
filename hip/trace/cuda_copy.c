/* Copies and memsets: h2d / d2h / d2d / h2h records with the device side(s) as
 * pointer arguments (src read, dst written, `bytes` long), the host side as
 * `host`, and scalars {bytes, sync} (sync 1: the host waits for it). cuMemcpy
 * and cuMemcpyAsync take unified addresses: the allocation table says which
 * side is on the device. */
#include "cuda_hooks.h"
#include "trace_allocs.h"

enum { HOST = 0, DEVICE = 1 };

static int32_t copy_kind(int dst, int src) {
  if (dst == DEVICE) return src == DEVICE ? FLJ_K_D2D : FLJ_K_H2D;
  return src == DEVICE ? FLJ_K_D2H : FLJ_K_H2H;
}

static uint32_t copy_intent(const char *api, uint64_t dst, int dst_side, uint64_t src, int src_side,
                            uint64_t bytes, uint64_t stream, int sync) {
  tr_call c;
  tr_call_init(&c, copy_kind(dst_side, src_side), tr_intern(api), stream);
  if (src_side == DEVICE) tr_call_ptr(&c, TR_STR("src"), src, bytes, FLJ_ACCESS_R);
  if (dst_side == DEVICE) tr_call_ptr(&c, TR_STR("dst"), dst, bytes, FLJ_ACCESS_W);
  if (src_side == HOST && dst_side == DEVICE) tr_call_host(&c, src);
  if (dst_side == HOST && src_side == DEVICE) tr_call_host(&c, dst);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  tr_call_scalar(&c, TR_STR("sync"), sync);
  return tr_intent(&c);
}

static int side_of(uint64_t p) { return tr_is_device(p) ? DEVICE : HOST; }

#define HOSTPTR(p) ((uint64_t)(uintptr_t)(p))

/* One wrapper: journal the copy, make it, record its status. */
#define COPY_WRAPPER(fn, params, call, api, dst, dside, src, sside, bytes, stream, sync) \
  static CUresult(*real_##fn) params;                                                   \
  TR_EXPORT CUresult fn params {                                                        \
    TR_REAL(fn);                                                                        \
    if (!tr_on()) return real_##fn call;                                                \
    uint32_t seq = copy_intent(api, dst, dside, src, sside, bytes, stream, sync);       \
    CUresult st = real_##fn call;                                                       \
    tr_done(seq, st);                                                                   \
    return st;                                                                          \
  }

COPY_WRAPPER(cuMemcpyHtoD_v2, (CUdeviceptr d, const void *h, size_t n), (d, h, n), "cuMemcpyHtoD_v2", d, DEVICE,
             HOSTPTR(h), HOST, n, 0, 1)
COPY_WRAPPER(cuMemcpyHtoD_v2_ptds, (CUdeviceptr d, const void *h, size_t n), (d, h, n), "cuMemcpyHtoD_v2_ptds", d,
             DEVICE, HOSTPTR(h), HOST, n, tr_stream_id(NULL, 1), 1)
COPY_WRAPPER(cuMemcpyDtoH_v2, (void *h, CUdeviceptr d, size_t n), (h, d, n), "cuMemcpyDtoH_v2", HOSTPTR(h), HOST, d,
             DEVICE, n, 0, 1)
COPY_WRAPPER(cuMemcpyDtoH_v2_ptds, (void *h, CUdeviceptr d, size_t n), (h, d, n), "cuMemcpyDtoH_v2_ptds",
             HOSTPTR(h), HOST, d, DEVICE, n, tr_stream_id(NULL, 1), 1)
COPY_WRAPPER(cuMemcpyDtoD_v2, (CUdeviceptr d, CUdeviceptr s, size_t n), (d, s, n), "cuMemcpyDtoD_v2", d, DEVICE, s,
             DEVICE, n, 0, 1)
COPY_WRAPPER(cuMemcpyDtoD_v2_ptds, (CUdeviceptr d, CUdeviceptr s, size_t n), (d, s, n), "cuMemcpyDtoD_v2_ptds", d,
             DEVICE, s, DEVICE, n, tr_stream_id(NULL, 1), 1)
COPY_WRAPPER(cuMemcpyHtoDAsync_v2, (CUdeviceptr d, const void *h, size_t n, CUstream s), (d, h, n, s),
             "cuMemcpyHtoDAsync_v2", d, DEVICE, HOSTPTR(h), HOST, n, tr_stream_id(s, 0), 0)
COPY_WRAPPER(cuMemcpyHtoDAsync_v2_ptsz, (CUdeviceptr d, const void *h, size_t n, CUstream s), (d, h, n, s),
             "cuMemcpyHtoDAsync_v2_ptsz", d, DEVICE, HOSTPTR(h), HOST, n, tr_stream_id(s, 1), 0)
COPY_WRAPPER(cuMemcpyDtoHAsync_v2, (void *h, CUdeviceptr d, size_t n, CUstream s), (h, d, n, s),
             "cuMemcpyDtoHAsync_v2", HOSTPTR(h), HOST, d, DEVICE, n, tr_stream_id(s, 0), 0)
COPY_WRAPPER(cuMemcpyDtoHAsync_v2_ptsz, (void *h, CUdeviceptr d, size_t n, CUstream s), (h, d, n, s),
             "cuMemcpyDtoHAsync_v2_ptsz", HOSTPTR(h), HOST, d, DEVICE, n, tr_stream_id(s, 1), 0)
COPY_WRAPPER(cuMemcpyDtoDAsync_v2, (CUdeviceptr d, CUdeviceptr x, size_t n, CUstream s), (d, x, n, s),
             "cuMemcpyDtoDAsync_v2", d, DEVICE, x, DEVICE, n, tr_stream_id(s, 0), 0)
COPY_WRAPPER(cuMemcpyDtoDAsync_v2_ptsz, (CUdeviceptr d, CUdeviceptr x, size_t n, CUstream s), (d, x, n, s),
             "cuMemcpyDtoDAsync_v2_ptsz", d, DEVICE, x, DEVICE, n, tr_stream_id(s, 1), 0)
COPY_WRAPPER(cuMemcpy, (CUdeviceptr d, CUdeviceptr x, size_t n), (d, x, n), "cuMemcpy", d, side_of(d), x, side_of(x),
             n, 0, 1)
COPY_WRAPPER(cuMemcpy_ptds, (CUdeviceptr d, CUdeviceptr x, size_t n), (d, x, n), "cuMemcpy_ptds", d, side_of(d), x,
             side_of(x), n, tr_stream_id(NULL, 1), 1)
COPY_WRAPPER(cuMemcpyAsync, (CUdeviceptr d, CUdeviceptr x, size_t n, CUstream s), (d, x, n, s), "cuMemcpyAsync", d,
             side_of(d), x, side_of(x), n, tr_stream_id(s, 0), 0)
COPY_WRAPPER(cuMemcpyAsync_ptsz, (CUdeviceptr d, CUdeviceptr x, size_t n, CUstream s), (d, x, n, s),
             "cuMemcpyAsync_ptsz", d, side_of(d), x, side_of(x), n, tr_stream_id(s, 1), 0)
COPY_WRAPPER(cuMemcpyPeer, (CUdeviceptr d, CUcontext dc, CUdeviceptr x, CUcontext xc, size_t n), (d, dc, x, xc, n),
             "cuMemcpyPeer", d, DEVICE, x, DEVICE, n, 0, 1)
COPY_WRAPPER(cuMemcpyPeerAsync, (CUdeviceptr d, CUcontext dc, CUdeviceptr x, CUcontext xc, size_t n, CUstream s),
             (d, dc, x, xc, n, s), "cuMemcpyPeerAsync", d, DEVICE, x, DEVICE, n, tr_stream_id(s, 0), 0)

/* ---- memsets ------------------------------------------------------------------ */

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

#define MEMSET_WRAPPER(fn, type, width, async, ptds)                                                  \
  static CUresult(*real_##fn)(CUdeviceptr, type, size_t MEMSET_STREAM_##async);                      \
  TR_EXPORT CUresult fn(CUdeviceptr d, type v, size_t n MEMSET_STREAM_PARAM_##async) {                \
    TR_REAL(fn);                                                                                      \
    if (!tr_on()) return real_##fn(d, v, n MEMSET_STREAM_ARG_##async);                                \
    uint32_t seq = memset_intent(#fn, d, v, (uint64_t)n * (width), MEMSET_STREAM_ID_##async(ptds), !(async)); \
    CUresult st = real_##fn(d, v, n MEMSET_STREAM_ARG_##async);                                       \
    tr_done(seq, st);                                                                                 \
    return st;                                                                                        \
  }
#define MEMSET_STREAM_0
#define MEMSET_STREAM_1 , CUstream
#define MEMSET_STREAM_PARAM_0
#define MEMSET_STREAM_PARAM_1 , CUstream s
#define MEMSET_STREAM_ARG_0
#define MEMSET_STREAM_ARG_1 , s
#define MEMSET_STREAM_ID_0(ptds) tr_stream_id(NULL, ptds)
#define MEMSET_STREAM_ID_1(ptds) tr_stream_id(s, ptds)

MEMSET_WRAPPER(cuMemsetD8_v2, unsigned char, 1, 0, 0)
MEMSET_WRAPPER(cuMemsetD16_v2, unsigned short, 2, 0, 0)
MEMSET_WRAPPER(cuMemsetD32_v2, unsigned int, 4, 0, 0)
MEMSET_WRAPPER(cuMemsetD8_v2_ptds, unsigned char, 1, 0, 1)
MEMSET_WRAPPER(cuMemsetD16_v2_ptds, unsigned short, 2, 0, 1)
MEMSET_WRAPPER(cuMemsetD32_v2_ptds, unsigned int, 4, 0, 1)
MEMSET_WRAPPER(cuMemsetD8Async, unsigned char, 1, 1, 0)
MEMSET_WRAPPER(cuMemsetD16Async, unsigned short, 2, 1, 0)
MEMSET_WRAPPER(cuMemsetD32Async, unsigned int, 4, 1, 0)
MEMSET_WRAPPER(cuMemsetD8Async_ptsz, unsigned char, 1, 1, 1)
MEMSET_WRAPPER(cuMemsetD16Async_ptsz, unsigned short, 2, 1, 1)
MEMSET_WRAPPER(cuMemsetD32Async_ptsz, unsigned int, 4, 1, 1)

static const tr_hook hooks[] = {
    TR_HOOK(cuMemcpyHtoD_v2, "cuMemcpyHtoD", 3020, 0),
    TR_HOOK(cuMemcpyHtoD_v2_ptds, "cuMemcpyHtoD", 7000, 1),
    TR_HOOK(cuMemcpyDtoH_v2, "cuMemcpyDtoH", 3020, 0),
    TR_HOOK(cuMemcpyDtoH_v2_ptds, "cuMemcpyDtoH", 7000, 1),
    TR_HOOK(cuMemcpyDtoD_v2, "cuMemcpyDtoD", 3020, 0),
    TR_HOOK(cuMemcpyDtoD_v2_ptds, "cuMemcpyDtoD", 7000, 1),
    TR_HOOK(cuMemcpyHtoDAsync_v2, "cuMemcpyHtoDAsync", 3020, 0),
    TR_HOOK(cuMemcpyHtoDAsync_v2_ptsz, "cuMemcpyHtoDAsync", 7000, 1),
    TR_HOOK(cuMemcpyDtoHAsync_v2, "cuMemcpyDtoHAsync", 3020, 0),
    TR_HOOK(cuMemcpyDtoHAsync_v2_ptsz, "cuMemcpyDtoHAsync", 7000, 1),
    TR_HOOK(cuMemcpyDtoDAsync_v2, "cuMemcpyDtoDAsync", 3020, 0),
    TR_HOOK(cuMemcpyDtoDAsync_v2_ptsz, "cuMemcpyDtoDAsync", 7000, 1),
    TR_HOOK(cuMemcpy, "cuMemcpy", 4000, 0),
    TR_HOOK(cuMemcpy_ptds, "cuMemcpy", 7000, 1),
    TR_HOOK(cuMemcpyAsync, "cuMemcpyAsync", 4000, 0),
    TR_HOOK(cuMemcpyAsync_ptsz, "cuMemcpyAsync", 7000, 1),
    TR_HOOK(cuMemcpyPeer, "cuMemcpyPeer", 4000, 0),
    TR_HOOK(cuMemcpyPeerAsync, "cuMemcpyPeerAsync", 4000, 0),
    TR_HOOK(cuMemsetD8_v2, "cuMemsetD8", 3020, 0),
    TR_HOOK(cuMemsetD16_v2, "cuMemsetD16", 3020, 0),
    TR_HOOK(cuMemsetD32_v2, "cuMemsetD32", 3020, 0),
    TR_HOOK(cuMemsetD8_v2_ptds, "cuMemsetD8", 7000, 1),
    TR_HOOK(cuMemsetD16_v2_ptds, "cuMemsetD16", 7000, 1),
    TR_HOOK(cuMemsetD32_v2_ptds, "cuMemsetD32", 7000, 1),
    TR_HOOK(cuMemsetD8Async, "cuMemsetD8Async", 3020, 0),
    TR_HOOK(cuMemsetD16Async, "cuMemsetD16Async", 3020, 0),
    TR_HOOK(cuMemsetD32Async, "cuMemsetD32Async", 3020, 0),
    TR_HOOK(cuMemsetD8Async_ptsz, "cuMemsetD8Async", 7000, 1),
    TR_HOOK(cuMemsetD16Async_ptsz, "cuMemsetD16Async", 7000, 1),
    TR_HOOK(cuMemsetD32Async_ptsz, "cuMemsetD32Async", 7000, 1),
};
const tr_hook_list tr_cuda_copy_hooks = {hooks, sizeof hooks / sizeof hooks[0]};
