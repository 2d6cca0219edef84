/* cuGetProcAddress and cuGetProcAddress_v2: the real call first, then the
 * wrapper for exactly the variant it answered with (cuda_hooks.h). */
#include "cuda_hooks.h"

static CUresult (*real_cuGetProcAddress)(const char *, void **, int, cuuint64_t);
static CUresult (*real_cuGetProcAddress_v2)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

TR_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags) {
  TR_REAL(cuGetProcAddress);
  CUresult st = real_cuGetProcAddress(symbol, pfn, cudaVersion, flags);
  if (symbol && pfn) {
    void *w = tr_cuda_wrap_proc(symbol, st == CUDA_SUCCESS ? *pfn : NULL, cudaVersion, flags, st == CUDA_SUCCESS);
    if (w) *pfn = w;
  }
  return st;
}

/* symbolStatus may be null (cudart passes null): it is only ever passed on. */
TR_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                                       CUdriverProcAddressQueryResult *symbolStatus) {
  TR_REAL(cuGetProcAddress_v2);
  CUresult st = real_cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, symbolStatus);
  if (symbol && pfn) {
    void *w = tr_cuda_wrap_proc(symbol, st == CUDA_SUCCESS ? *pfn : NULL, cudaVersion, flags, st == CUDA_SUCCESS);
    if (w) *pfn = w;
  }
  return st;
}

static const tr_hook hooks[] = {
    TR_HOOK(cuGetProcAddress, "cuGetProcAddress", 11030, 0),
    TR_HOOK(cuGetProcAddress_v2, "cuGetProcAddress", 12000, 0),
};
const tr_hook_list tr_cuda_proc_hooks = {hooks, sizeof hooks / sizeof hooks[0]};
