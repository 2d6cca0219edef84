/* The CUDA driver API side of the interposer: which entry points it wraps,
 * how it finds the real ones, and how a wrapper reaches the program.
 *
 * A program reaches libcuda three ways, and each ends in the same wrapper:
 *   - linked with -lcuda: the wrappers are exported under the driver's ABI
 *     names (cuMemAlloc_v2, cuLaunchKernel_ptsz, ...) and LD_PRELOAD puts them
 *     first;
 *   - dlopen("libcuda.so.1") + dlsym: the interposer's dlsym returns the
 *     wrapper for a wrapped name (the real dlsym found by
 *     dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5"));
 *   - cuGetProcAddress / _v2 (what cudart does for every entry point): the
 *     real call runs first; its pointer is matched against the real entry
 *     points of every wrapped variant (_v2, _ptsz, _ptds, ...) and only an
 *     exact match gets its wrapper. A pointer no wrapped variant has is identified by the
 *     requested CUDA version and stream flags where the table is sure, and is
 *     passed through untouched otherwise, noted in the side file as
 *     {"unhooked": name}. symbolStatus is never dereferenced.
 *
 * Every wrapper returns the real result unchanged; an entry point the driver
 * lacks is CUDA_ERROR_NOT_FOUND. */
#ifndef FL_TRACE_CUDA_HOOKS_H
#define FL_TRACE_CUDA_HOOKS_H

#include "cu_abi.h"
#include "trace_journal.h"

typedef struct tr_hook {
  const char *name;  /* the ABI name, as exported by libcuda ("cuMemAlloc_v2") */
  const char *base;  /* the name cuGetProcAddress is asked for ("cuMemAlloc") */
  int version;       /* the CUDA version from which cuGetProcAddress(base) returns this variant */
  int ptds;          /* 1: the per-thread default stream variant (_ptsz, _ptds) */
  void *wrapper;
  void **real;
} tr_hook;

#define TR_HOOK(fn, base, version, ptds) {#fn, base, version, ptds, (void *)fn, (void **)&real_##fn}

typedef struct tr_hook_list {
  const tr_hook *hooks;
  int count;
} tr_hook_list;

/* The hook tables of each family of entry points (cuda_*.c). */
TR_HIDDEN extern const tr_hook_list tr_cuda_memory_hooks, tr_cuda_copy_hooks, tr_cuda_launch_hooks,
    tr_cuda_stream_hooks, tr_cuda_function_hooks, tr_cuda_proc_hooks;

/* Resolves every real entry point (once; dlopen of $FAULTLINE_TRACE_LIBCUDA, default libcuda.so.1);
 * returns *slot non-null. */
TR_HIDDEN int tr_cuda_resolve(void **slot);
/* The real dlsym. */
TR_HIDDEN void *tr_real_dlsym(void *handle, const char *name);
/* A real entry point the interposer calls itself (not wrapped), or null. */
TR_HIDDEN void *tr_cuda_symbol(const char *name);
/* The wrapper for the real pointer `fn` that cuGetProcAddress returned for `symbol`, or null. */
TR_HIDDEN void *tr_cuda_wrap_proc(const char *symbol, void *fn, int version, cuuint64_t flags, int found);

/* Resolves `real_<fn>`; a driver without it makes the wrapper return CUDA_ERROR_NOT_FOUND. */
#define TR_REAL(fn)                                                                  \
  do {                                                                               \
    if (__builtin_expect(real_##fn == NULL, 0) && !tr_cuda_resolve((void **)&real_##fn)) \
      return CUDA_ERROR_NOT_FOUND;                                                   \
  } while (0)

/* The stream a call names, as the journal keeps it: the legacy default stream is 0, the
 * per-thread default stream CU_STREAM_PER_THREAD (a _ptsz / _ptds call's null stream too). */
static inline uint64_t tr_stream_id(CUstream s, int ptds) {
  if (s == NULL) return ptds ? (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD : 0;
  if (s == CU_STREAM_LEGACY) return 0;
  return (uint64_t)(uintptr_t)s;
}

/* Stream capture (cuda_stream.c): whether any stream of the process is capturing (a sync
 * then would break the capture), whether `stream` (a journal stream id) is, and noting a
 * launch record captured into its graph. */
TR_HIDDEN int tr_capture_active(void);
TR_HIDDEN int tr_capturing(uint64_t stream);
TR_HIDDEN void tr_capture_add(uint64_t stream, uint32_t op);

#endif
