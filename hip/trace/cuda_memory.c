/* Allocations and frees: device (cuMemAlloc*, stream-ordered and pool
 * allocations), host (cuMemHostAlloc, cuMemAllocHost), virtual memory
 * management (a cuMemMap is an allocation of the mapped range, a
 * reservation is remembered so a pointer into its unmapped part is flagged),
 * module globals and IPC mappings (ranges a kernel may be handed).
 *
 * An allocation's record is named after it ("cuMemAlloc#3": the third
 * allocation of the process), with the call in `op`; a free's record carries
 * the freed allocation's name and scalars {ptr, bytes}. */
#include <stdio.h>

#include "cuda_hooks.h"
#include "trace_allocs.h"

typedef struct alloc_note {
  uint32_t seq, name;
  char text[96];
} alloc_note;

static void alloc_intent(alloc_note *n, const char *api, const char *label, int32_t kind, uint64_t bytes,
                         uint64_t stream) {
  snprintf(n->text, sizeof n->text, "%s#%u", label, tr_alloc_next_number());
  n->name = tr_intern(n->text);
  tr_call c;
  tr_call_init(&c, kind, n->name, stream);
  c.op = tr_intern(api);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  n->seq = tr_intent(&c);
}

static void alloc_outcome(const alloc_note *n, CUresult st, uint64_t ptr, uint64_t bytes, int host) {
  if (st != CUDA_SUCCESS) {
    tr_done(n->seq, st);
    return;
  }
  tr_done_result(n->seq, st, ptr);
  tr_alloc_add(n->seq, ptr, bytes, tr_device(), host, n->name, n->text);
}


/* ---- device allocations ---------------------------------------------------- */

static CUresult (*real_cuMemAlloc_v2)(CUdeviceptr *, size_t);
static CUresult (*real_cuMemAllocPitch_v2)(CUdeviceptr *, size_t *, size_t, size_t, unsigned int);
static CUresult (*real_cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned int);
static CUresult (*real_cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
static CUresult (*real_cuMemAllocAsync_ptsz)(CUdeviceptr *, size_t, CUstream);
static CUresult (*real_cuMemAllocFromPoolAsync)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
static CUresult (*real_cuMemAllocFromPoolAsync_ptsz)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
static CUresult (*real_cuMemFree_v2)(CUdeviceptr);
static CUresult (*real_cuMemFreeAsync)(CUdeviceptr, CUstream);
static CUresult (*real_cuMemFreeAsync_ptsz)(CUdeviceptr, CUstream);

TR_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
  TR_REAL(cuMemAlloc_v2);
  if (!tr_on()) return real_cuMemAlloc_v2(dptr, bytes);
  alloc_note n;
  alloc_intent(&n, "cuMemAlloc_v2", "cuMemAlloc", FLJ_K_ALLOC, bytes, 0);
  CUresult st = real_cuMemAlloc_v2(dptr, bytes);
  alloc_outcome(&n, st, st == CUDA_SUCCESS && dptr ? *dptr : 0, bytes, 0);
  return st;
}

TR_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                      unsigned int elem) {
  TR_REAL(cuMemAllocPitch_v2);
  if (!tr_on()) return real_cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
  alloc_note n;
  alloc_intent(&n, "cuMemAllocPitch_v2", "cuMemAllocPitch", FLJ_K_ALLOC, (uint64_t)width * height, 0);
  CUresult st = real_cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
  uint64_t bytes = st == CUDA_SUCCESS && pitch ? (uint64_t)*pitch * height : 0;
  alloc_outcome(&n, st, st == CUDA_SUCCESS && dptr ? *dptr : 0, bytes, 0);
  return st;
}

TR_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned int flags) {
  TR_REAL(cuMemAllocManaged);
  if (!tr_on()) return real_cuMemAllocManaged(dptr, bytes, flags);
  alloc_note n;
  alloc_intent(&n, "cuMemAllocManaged", "cuMemAllocManaged", FLJ_K_ALLOC, bytes, 0);
  CUresult st = real_cuMemAllocManaged(dptr, bytes, flags);
  alloc_outcome(&n, st, st == CUDA_SUCCESS && dptr ? *dptr : 0, bytes, 0);
  return st;
}

static CUresult alloc_async(CUresult (*real)(CUdeviceptr *, size_t, CUstream), const char *api, int ptds,
                            CUdeviceptr *dptr, size_t bytes, CUstream s) {
  if (!tr_on()) return real(dptr, bytes, s);
  alloc_note n;
  alloc_intent(&n, api, "cuMemAllocAsync", FLJ_K_ALLOC, bytes, tr_stream_id(s, ptds));
  CUresult st = real(dptr, bytes, s);
  alloc_outcome(&n, st, st == CUDA_SUCCESS && dptr ? *dptr : 0, bytes, 0);
  return st;
}

TR_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream s) {
  TR_REAL(cuMemAllocAsync);
  return alloc_async(real_cuMemAllocAsync, "cuMemAllocAsync", 0, dptr, bytes, s);
}

TR_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUstream s) {
  TR_REAL(cuMemAllocAsync_ptsz);
  return alloc_async(real_cuMemAllocAsync_ptsz, "cuMemAllocAsync_ptsz", 1, dptr, bytes, s);
}

static CUresult alloc_pool(CUresult (*real)(CUdeviceptr *, size_t, CUmemoryPool, CUstream), const char *api,
                           int ptds, CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s) {
  if (!tr_on()) return real(dptr, bytes, pool, s);
  alloc_note n;
  alloc_intent(&n, api, "cuMemAllocFromPoolAsync", FLJ_K_ALLOC, bytes, tr_stream_id(s, ptds));
  CUresult st = real(dptr, bytes, pool, s);
  alloc_outcome(&n, st, st == CUDA_SUCCESS && dptr ? *dptr : 0, bytes, 0);
  return st;
}

TR_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s) {
  TR_REAL(cuMemAllocFromPoolAsync);
  return alloc_pool(real_cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 0, dptr, bytes, pool, s);
}

TR_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s) {
  TR_REAL(cuMemAllocFromPoolAsync_ptsz);
  return alloc_pool(real_cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync_ptsz", 1, dptr, bytes, pool, s);
}

TR_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  TR_REAL(cuMemFree_v2);
  if (!tr_on()) return real_cuMemFree_v2(p);
  uint32_t seq = tr_free_intent("cuMemFree_v2", FLJ_K_FREE, p, 0);
  CUresult st = real_cuMemFree_v2(p);
  tr_free_outcome(seq, st, st == CUDA_SUCCESS, p);
  return st;
}

static CUresult free_async(CUresult (*real)(CUdeviceptr, CUstream), const char *api, int ptds, CUdeviceptr p,
                           CUstream s) {
  if (!tr_on()) return real(p, s);
  uint32_t seq = tr_free_intent(api, FLJ_K_FREE, p, tr_stream_id(s, ptds));
  CUresult st = real(p, s);
  tr_free_outcome(seq, st, st == CUDA_SUCCESS, p);
  return st;
}

TR_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  TR_REAL(cuMemFreeAsync);
  return free_async(real_cuMemFreeAsync, "cuMemFreeAsync", 0, p, s);
}

TR_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) {
  TR_REAL(cuMemFreeAsync_ptsz);
  return free_async(real_cuMemFreeAsync_ptsz, "cuMemFreeAsync_ptsz", 1, p, s);
}

/* ---- host allocations ------------------------------------------------------ */

static CUresult (*real_cuMemHostAlloc)(void **, size_t, unsigned int);
static CUresult (*real_cuMemAllocHost_v2)(void **, size_t);
static CUresult (*real_cuMemFreeHost)(void *);

TR_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytes, unsigned int flags) {
  TR_REAL(cuMemHostAlloc);
  if (!tr_on()) return real_cuMemHostAlloc(pp, bytes, flags);
  alloc_note n;
  alloc_intent(&n, "cuMemHostAlloc", "cuMemHostAlloc", FLJ_K_HOST_ALLOC, bytes, 0);
  CUresult st = real_cuMemHostAlloc(pp, bytes, flags);
  alloc_outcome(&n, st, st == CUDA_SUCCESS && pp ? (uint64_t)(uintptr_t)*pp : 0, bytes, 1);
  return st;
}

TR_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytes) {
  TR_REAL(cuMemAllocHost_v2);
  if (!tr_on()) return real_cuMemAllocHost_v2(pp, bytes);
  alloc_note n;
  alloc_intent(&n, "cuMemAllocHost_v2", "cuMemAllocHost", FLJ_K_HOST_ALLOC, bytes, 0);
  CUresult st = real_cuMemAllocHost_v2(pp, bytes);
  alloc_outcome(&n, st, st == CUDA_SUCCESS && pp ? (uint64_t)(uintptr_t)*pp : 0, bytes, 1);
  return st;
}

TR_EXPORT CUresult cuMemFreeHost(void *p) {
  TR_REAL(cuMemFreeHost);
  if (!tr_on()) return real_cuMemFreeHost(p);
  uint32_t seq = tr_free_intent("cuMemFreeHost", FLJ_K_HOST_FREE, (uint64_t)(uintptr_t)p, 0);
  CUresult st = real_cuMemFreeHost(p);
  tr_free_outcome(seq, st, st == CUDA_SUCCESS, (uint64_t)(uintptr_t)p);
  return st;
}

/* ---- virtual memory management ----------------------------------------------- */

static CUresult (*real_cuMemAddressReserve)(CUdeviceptr *, size_t, size_t, CUdeviceptr, unsigned long long);
static CUresult (*real_cuMemAddressFree)(CUdeviceptr, size_t);
static CUresult (*real_cuMemCreate)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
                                    unsigned long long);
static CUresult (*real_cuMemRelease)(CUmemGenericAllocationHandle);
static CUresult (*real_cuMemMap)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long);
static CUresult (*real_cuMemUnmap)(CUdeviceptr, size_t);

static uint32_t vmm_intent(const char *api, uint64_t bytes, uint64_t handle) {
  tr_call c;
  tr_call_init(&c, FLJ_K_VMM, tr_intern(api), 0);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  if (handle) tr_call_scalar(&c, TR_STR("handle"), (double)handle);
  return tr_intent(&c);
}

TR_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr,
                                       unsigned long long flags) {
  TR_REAL(cuMemAddressReserve);
  if (!tr_on()) return real_cuMemAddressReserve(ptr, size, align, addr, flags);
  uint32_t seq = vmm_intent("cuMemAddressReserve", size, 0);
  CUresult st = real_cuMemAddressReserve(ptr, size, align, addr, flags);
  if (st == CUDA_SUCCESS && ptr) {
    tr_done_result(seq, st, *ptr);
    tr_reserve_add(*ptr, size);
  } else {
    tr_done(seq, st);
  }
  return st;
}

TR_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  TR_REAL(cuMemAddressFree);
  if (!tr_on()) return real_cuMemAddressFree(ptr, size);
  uint32_t seq = vmm_intent("cuMemAddressFree", size, ptr);
  CUresult st = real_cuMemAddressFree(ptr, size);
  tr_done(seq, st);
  if (st == CUDA_SUCCESS) tr_reserve_remove(ptr);
  return st;
}

TR_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
                               unsigned long long flags) {
  TR_REAL(cuMemCreate);
  if (!tr_on()) return real_cuMemCreate(handle, size, prop, flags);
  uint32_t seq = vmm_intent("cuMemCreate", size, 0);
  CUresult st = real_cuMemCreate(handle, size, prop, flags);
  if (st == CUDA_SUCCESS && handle)
    tr_done_result(seq, st, (uint64_t)*handle);
  else
    tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  TR_REAL(cuMemRelease);
  if (!tr_on()) return real_cuMemRelease(handle);
  uint32_t seq = vmm_intent("cuMemRelease", 0, (uint64_t)handle);
  CUresult st = real_cuMemRelease(handle);
  tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                            unsigned long long flags) {
  TR_REAL(cuMemMap);
  if (!tr_on()) return real_cuMemMap(ptr, size, offset, handle, flags);
  alloc_note n;
  alloc_intent(&n, "cuMemMap", "cuMemMap", FLJ_K_ALLOC, size, 0);
  CUresult st = real_cuMemMap(ptr, size, offset, handle, flags);
  alloc_outcome(&n, st, ptr, size, 0);
  return st;
}

TR_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  TR_REAL(cuMemUnmap);
  if (!tr_on()) return real_cuMemUnmap(ptr, size);
  uint32_t seq = tr_free_intent("cuMemUnmap", FLJ_K_FREE, ptr, 0);
  CUresult st = real_cuMemUnmap(ptr, size);
  tr_free_outcome(seq, st, st == CUDA_SUCCESS, ptr);
  return st;
}

/* ---- ranges a kernel may be handed that no allocation call made ------------- */

static CUresult (*real_cuModuleGetGlobal_v2)(CUdeviceptr *, size_t *, CUmodule, const char *);
static CUresult (*real_cuIpcOpenMemHandle_v2)(CUdeviceptr *, CUipcMemHandle, unsigned int);
static CUresult (*real_cuIpcCloseMemHandle)(CUdeviceptr);

TR_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule mod, const char *name) {
  TR_REAL(cuModuleGetGlobal_v2);
  CUdeviceptr p = 0;
  size_t n = 0;
  CUresult st = real_cuModuleGetGlobal_v2(&p, &n, mod, name);
  if (dptr) *dptr = p;
  if (bytes) *bytes = n;
  if (st != CUDA_SUCCESS || !tr_on() || p == 0 || tr_classify(p) == TR_LIVE) return st;
  /* journaled after the fact (a look-up, not an allocation): the record says where it came from */
  alloc_note a;
  char label[80];
  snprintf(label, sizeof label, "global %s", name ? name : "?");
  alloc_intent(&a, "cuModuleGetGlobal_v2", label, FLJ_K_ALLOC, n, 0);
  alloc_outcome(&a, st, p, n, 0);
  return st;
}

TR_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *dptr, CUipcMemHandle handle, unsigned int flags) {
  TR_REAL(cuIpcOpenMemHandle_v2);
  if (!tr_on()) return real_cuIpcOpenMemHandle_v2(dptr, handle, flags);
  alloc_note n;
  alloc_intent(&n, "cuIpcOpenMemHandle_v2", "cuIpcOpenMemHandle", FLJ_K_ALLOC, 0, 0);
  CUresult st = real_cuIpcOpenMemHandle_v2(dptr, handle, flags);
  uint64_t p = st == CUDA_SUCCESS && dptr ? *dptr : 0;
  uint64_t bytes = 0;
  if (p) {
    /* the mapping's size is the driver's to say */
    CUresult (*range)(CUdeviceptr *, size_t *, CUdeviceptr) =
        (CUresult(*)(CUdeviceptr *, size_t *, CUdeviceptr))tr_cuda_symbol("cuMemGetAddressRange_v2");
    CUdeviceptr base = 0;
    size_t size = 0;
    if (range && range(&base, &size, p) == CUDA_SUCCESS && base == p) bytes = size;
  }
  alloc_outcome(&n, st, p, bytes, 0);
  return st;
}

TR_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr p) {
  TR_REAL(cuIpcCloseMemHandle);
  if (!tr_on()) return real_cuIpcCloseMemHandle(p);
  uint32_t seq = tr_free_intent("cuIpcCloseMemHandle", FLJ_K_FREE, p, 0);
  CUresult st = real_cuIpcCloseMemHandle(p);
  tr_free_outcome(seq, st, st == CUDA_SUCCESS, p);
  return st;
}

static const tr_hook hooks[] = {
    TR_HOOK(cuMemAlloc_v2, "cuMemAlloc", 3020, 0),
    TR_HOOK(cuMemAllocPitch_v2, "cuMemAllocPitch", 3020, 0),
    TR_HOOK(cuMemAllocManaged, "cuMemAllocManaged", 6000, 0),
    TR_HOOK(cuMemAllocAsync, "cuMemAllocAsync", 11020, 0),
    TR_HOOK(cuMemAllocAsync_ptsz, "cuMemAllocAsync", 11020, 1),
    TR_HOOK(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0),
    TR_HOOK(cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync", 11020, 1),
    TR_HOOK(cuMemFree_v2, "cuMemFree", 3020, 0),
    TR_HOOK(cuMemFreeAsync, "cuMemFreeAsync", 11020, 0),
    TR_HOOK(cuMemFreeAsync_ptsz, "cuMemFreeAsync", 11020, 1),
    TR_HOOK(cuMemHostAlloc, "cuMemHostAlloc", 2020, 0),
    TR_HOOK(cuMemAllocHost_v2, "cuMemAllocHost", 3020, 0),
    TR_HOOK(cuMemFreeHost, "cuMemFreeHost", 2000, 0),
    TR_HOOK(cuMemAddressReserve, "cuMemAddressReserve", 10020, 0),
    TR_HOOK(cuMemAddressFree, "cuMemAddressFree", 10020, 0),
    TR_HOOK(cuMemCreate, "cuMemCreate", 10020, 0),
    TR_HOOK(cuMemRelease, "cuMemRelease", 10020, 0),
    TR_HOOK(cuMemMap, "cuMemMap", 10020, 0),
    TR_HOOK(cuMemUnmap, "cuMemUnmap", 10020, 0),
    TR_HOOK(cuModuleGetGlobal_v2, "cuModuleGetGlobal", 3020, 0),
    TR_HOOK(cuIpcOpenMemHandle_v2, "cuIpcOpenMemHandle", 11000, 0),
    TR_HOOK(cuIpcCloseMemHandle, "cuIpcCloseMemHandle", 4010, 0),
};
const tr_hook_list tr_cuda_memory_hooks = {hooks, sizeof hooks / sizeof hooks[0]};
