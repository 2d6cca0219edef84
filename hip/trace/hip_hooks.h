/* The HIP runtime side of the interposer (hip_memory.c, hip_launch.c): the
 * hip* entry points a program calls, exported under their own names so
 * LD_PRELOAD puts them in front of libamdhip64, each finding the real one
 * with dlsym(RTLD_NEXT) and returning its result unchanged. They journal into
 * the same ring as the CUDA hooks (trace_journal.h), with the same kinds,
 * names and arguments.
 *
 * Built for the hip backend against the HIP headers; no AMD GPU is lent to
 * this project, so it is compiled in CI and not run. ROCm's rocprofiler-sdk
 * intercept tables would be the better way in (no symbol interposition,
 * several tools at once), but the HIP 5.2 of CI ships no rocprofiler-sdk.
 * Kernel argument layouts would come from the code object's metadata
 * (.value_kind: global_buffer), which this does not read yet: pointer
 * arguments are found only in an `extra` buffer, whose size is known. */
#ifndef FL_TRACE_HIP_HOOKS_H
#define FL_TRACE_HIP_HOOKS_H

#include <dlfcn.h>
#include <hip/hip_runtime_api.h>

#include "trace_journal.h"

/* Finds real_<fn> once; a runtime without it makes the wrapper return hipErrorNotSupported. */
#define HIP_REAL(fn)                                                                  \
  static __typeof__(&fn) real_##fn;                                                   \
  if (__builtin_expect(real_##fn == NULL, 0)) {                                       \
    real_##fn = (__typeof__(&fn))dlsym(RTLD_NEXT, #fn);                               \
    if (!real_##fn) return hipErrorNotSupported;                                      \
  }                                                                                   \
  tr_current_device = hip_current_device;                                             \
  tr_describe_device = hip_describe_device

/* The journal's stream id of a HIP stream (the null stream is 0). */
static inline uint64_t hip_stream_id(hipStream_t s) { return (uint64_t)(uintptr_t)s; }

TR_HIDDEN int hip_current_device(int32_t *out);
/* {"device": {"ordinal": n, "name": "..."}} (hipDeviceGetName); 1 when written. */
TR_HIDDEN int hip_describe_device(void);

#endif
