/* Kernel launches: cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel
 * (each with its _ptsz variant) and cuGraphLaunch. A launch record carries the
 * kernel name, stream, geometry, its ordinal (the process's n-th launch, from
 * 0) and its arguments: every 8-byte parameter (and every 8-aligned word of a
 * larger one) that lies in an allocation, a freed one, an unmapped reservation
 * or near the device allocations is a pointer argument ("arg2", "arg3+8");
 * other parameters of up to 8 bytes are scalars. Arguments come from
 * kernelParams with the driver's parameter layout, or from the `extra`
 * buffer (CU_LAUNCH_PARAM_BUFFER_POINTER), which already has that layout.
 *
 * After a launch the sync policy (trace_policy.h) may synchronize its stream:
 * that sync is journaled (op "sync policy"), and when it fails the launch's
 * host backtrace is noted. No sync is made while a stream capture is active. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cuda_functions.h"
#include "trace_allocs.h"
#include "trace_backtrace.h"
#include "trace_policy.h"

static uint64_t g_launches; /* ordinals given so far in this process */

static void reset_in_child(void) { g_launches = 0; }
__attribute__((constructor)) static void install_fork_reset(void) { pthread_atfork(NULL, NULL, reset_in_child); }

/* "arg<i>", interned once per index. */
static uint32_t arg_name(int i) {
  static uint32_t ids[128];
  char name[32];
  snprintf(name, sizeof name, "arg%d", i);
  return i < 128 ? tr_intern_cached(&ids[i], name) : tr_intern(name);
}

static void add_word(tr_call *c, uint32_t name, uint64_t word, int scalar_if_not_pointer) {
  if (tr_classify(word) != TR_NOT_POINTER)
    tr_call_ptr(c, name, word, 0, FLJ_ACCESS_RW);
  else if (scalar_if_not_pointer)
    tr_call_scalar(c, name, (double)word);
}

static void add_param(tr_call *c, int i, const unsigned char *p, size_t size) {
  if (!p) return;
  if (size <= 8) {
    uint64_t v = 0;
    memcpy(&v, p, size);
    if (size == 8)
      add_word(c, arg_name(i), v, 1);
    else
      tr_call_scalar(c, arg_name(i), (double)v);
    return;
  }
  for (size_t k = 0; k + 8 <= size; k += 8) {
    uint64_t w;
    memcpy(&w, p + k, 8);
    if (tr_classify(w) == TR_NOT_POINTER) continue;
    char name[48];
    snprintf(name, sizeof name, "arg%d+%zu", i, k);
    tr_call_ptr(c, tr_intern(name), w, 0, FLJ_ACCESS_RW);
  }
}

/* The argument buffer of an `extra` list, or null. */
static const unsigned char *extra_buffer(void **extra, size_t *bytes) {
  const unsigned char *buf = NULL;
  *bytes = 0;
  for (int k = 0; k < 64 && extra[k] != CU_LAUNCH_PARAM_END; k += 2) {
    if (extra[k] == CU_LAUNCH_PARAM_BUFFER_POINTER)
      buf = extra[k + 1];
    else if (extra[k] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[k + 1])
      *bytes = *(const size_t *)extra[k + 1];
    else
      break;
  }
  return buf;
}

static void add_args(tr_call *c, const tr_fn *fn, void **params, void **extra) {
  if (params && fn->nparams >= 0) {
    for (int i = 0; i < fn->nparams; i++) add_param(c, i, params[i], fn->size[i]);
    return;
  }
  if (!extra) return;
  size_t bytes;
  const unsigned char *buf = extra_buffer(extra, &bytes);
  if (!buf) return;
  if (fn->nparams >= 0) {
    for (int i = 0; i < fn->nparams; i++)
      if ((size_t)fn->offset[i] + fn->size[i] <= bytes) add_param(c, i, buf + fn->offset[i], fn->size[i]);
    return;
  }
  for (size_t k = 0; k + 8 <= bytes; k += 8) {
    uint64_t w;
    memcpy(&w, buf + k, 8);
    char name[32];
    snprintf(name, sizeof name, "+%zu", k);
    if (tr_classify(w) != TR_NOT_POINTER) tr_call_ptr(c, tr_intern(name), w, 0, FLJ_ACCESS_RW);
  }
}

typedef struct launch_call {
  uint32_t geometry[7];
  CUstream stream;
  int ptds;
  void **params, **extra;
  /* filled by begin_launch */
  const tr_fn *fn;
  uint64_t ordinal;
  uint32_t seq;
} launch_call;

static void begin_launch(launch_call *l, CUfunction f) {
  l->fn = tr_fn_info(f);
  l->ordinal = __atomic_fetch_add(&g_launches, 1, __ATOMIC_RELAXED);
  l->seq = 0;
  if (!l->fn) return;
  uint64_t stream = tr_stream_id(l->stream, l->ptds);
  tr_call c;
  tr_call_init(&c, FLJ_K_LAUNCH, l->fn->name_id, stream);
  memcpy(c.geometry, l->geometry, sizeof c.geometry);
  c.ordinal = (double)l->ordinal;
  c.flags |= FLJ_FLAG_GEOMETRY | FLJ_FLAG_ORDINAL;
  int captured = tr_capturing(stream);
  if (captured) tr_call_scalar(&c, TR_STR("captured"), 1);
  add_args(&c, l->fn, l->params, l->extra);
  l->seq = tr_intent(&c);
  if (captured) tr_capture_add(stream, l->seq);
}

/* The policy's sync after a launch that succeeded (launch_op: its record). */
static void policy_sync(uint64_t ordinal, const char *name, CUstream s, int ptds, uint32_t launch_op) {
  tr_policy_decision d = tr_policy_for(ordinal, name);
  if (!d.sync || tr_capture_active()) return;
  static CUresult (*sync)(CUstream);
  if (!sync) sync = (CUresult(*)(CUstream))tr_cuda_symbol("cuStreamSynchronize");
  if (!sync) return;
  CUstream target = s == NULL && ptds ? CU_STREAM_PER_THREAD : s;
  tr_call c;
  tr_call_init(&c, FLJ_K_SYNC, TR_STR("stream_synchronize"), tr_stream_id(s, ptds));
  c.op = TR_STR("sync policy");
  uint32_t seq = tr_intent(&c);
  CUresult st = sync(target);
  if (st != CUDA_SUCCESS && d.backtrace) tr_backtrace_note(launch_op);
  tr_done(seq, st);
}

static void end_launch(const launch_call *l, CUresult st) {
  tr_done(l->seq, st);
  if (st == CUDA_SUCCESS && l->fn) policy_sync(l->ordinal, l->fn->name, l->stream, l->ptds, l->seq);
}

#define GEOMETRY(gx, gy, gz, bx, by, bz, sh) {gx, gy, gz, bx, by, bz, sh}

/* cuLaunchKernel and cuLaunchKernel_ptsz. */
#define LAUNCH_KERNEL(fn, ptds_)                                                                             \
  static CUresult (*real_##fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,      \
                               unsigned, CUstream, void **, void **);                                        \
  TR_EXPORT CUresult fn(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,       \
                        unsigned bz, unsigned shared, CUstream s, void **params, void **extra) {             \
    TR_REAL(fn);                                                                                             \
    if (!tr_on()) return real_##fn(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);                     \
    launch_call l = {GEOMETRY(gx, gy, gz, bx, by, bz, shared), s, ptds_, params, extra, NULL, 0, 0};         \
    begin_launch(&l, f);                                                                                     \
    CUresult st = real_##fn(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);                            \
    end_launch(&l, st);                                                                                      \
    return st;                                                                                               \
  }
LAUNCH_KERNEL(cuLaunchKernel, 0)
LAUNCH_KERNEL(cuLaunchKernel_ptsz, 1)

#define LAUNCH_COOPERATIVE(fn, ptds_)                                                                        \
  static CUresult (*real_##fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,      \
                               unsigned, CUstream, void **);                                                 \
  TR_EXPORT CUresult fn(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,       \
                        unsigned bz, unsigned shared, CUstream s, void **params) {                           \
    TR_REAL(fn);                                                                                             \
    if (!tr_on()) return real_##fn(f, gx, gy, gz, bx, by, bz, shared, s, params);                            \
    launch_call l = {GEOMETRY(gx, gy, gz, bx, by, bz, shared), s, ptds_, params, NULL, NULL, 0, 0};          \
    begin_launch(&l, f);                                                                                     \
    CUresult st = real_##fn(f, gx, gy, gz, bx, by, bz, shared, s, params);                                   \
    end_launch(&l, st);                                                                                      \
    return st;                                                                                               \
  }
LAUNCH_COOPERATIVE(cuLaunchCooperativeKernel, 0)
LAUNCH_COOPERATIVE(cuLaunchCooperativeKernel_ptsz, 1)

#define LAUNCH_EX(fn, ptds_)                                                                                 \
  static CUresult (*real_##fn)(const CUlaunchConfig *, CUfunction, void **, void **);                       \
  TR_EXPORT CUresult fn(const CUlaunchConfig *cfg, CUfunction f, void **params, void **extra) {             \
    TR_REAL(fn);                                                                                             \
    if (!tr_on() || !cfg) return real_##fn(cfg, f, params, extra);                                          \
    launch_call l = {GEOMETRY(cfg->gridDimX, cfg->gridDimY, cfg->gridDimZ, cfg->blockDimX, cfg->blockDimY,  \
                              cfg->blockDimZ, cfg->sharedMemBytes),                                          \
                     cfg->hStream, ptds_, params, extra, NULL, 0, 0};                                        \
    begin_launch(&l, f);                                                                                     \
    CUresult st = real_##fn(cfg, f, params, extra);                                                          \
    end_launch(&l, st);                                                                                      \
    return st;                                                                                               \
  }
LAUNCH_EX(cuLaunchKernelEx, 0)
LAUNCH_EX(cuLaunchKernelEx_ptsz, 1)

/* ---- graph launches --------------------------------------------------------- */

static CUresult graph_launch(CUresult (*real)(CUgraphExec, CUstream), int ptds, CUgraphExec exec, CUstream s) {
  if (!tr_on()) return real(exec, s);
  uint64_t ordinal = __atomic_fetch_add(&g_launches, 1, __ATOMIC_RELAXED);
  tr_call c;
  tr_call_init(&c, FLJ_K_LAUNCH, TR_STR("cuGraphLaunch"), tr_stream_id(s, ptds));
  c.ordinal = (double)ordinal;
  c.flags |= FLJ_FLAG_ORDINAL;
  tr_call_scalar(&c, TR_STR("graph"), (double)(uintptr_t)exec);
  uint32_t seq = tr_intent(&c);
  CUresult st = real(exec, s);
  tr_done(seq, st);
  if (st == CUDA_SUCCESS) policy_sync(ordinal, "cuGraphLaunch", s, ptds, seq);
  return st;
}

static CUresult (*real_cuGraphLaunch)(CUgraphExec, CUstream);
static CUresult (*real_cuGraphLaunch_ptsz)(CUgraphExec, CUstream);

TR_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream s) {
  TR_REAL(cuGraphLaunch);
  return graph_launch(real_cuGraphLaunch, 0, exec, s);
}

TR_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream s) {
  TR_REAL(cuGraphLaunch_ptsz);
  return graph_launch(real_cuGraphLaunch_ptsz, 1, exec, s);
}

static const tr_hook hooks[] = {
    TR_HOOK(cuLaunchKernel, "cuLaunchKernel", 4000, 0),
    TR_HOOK(cuLaunchKernel_ptsz, "cuLaunchKernel", 7000, 1),
    TR_HOOK(cuLaunchCooperativeKernel, "cuLaunchCooperativeKernel", 9000, 0),
    TR_HOOK(cuLaunchCooperativeKernel_ptsz, "cuLaunchCooperativeKernel", 9000, 1),
    TR_HOOK(cuLaunchKernelEx, "cuLaunchKernelEx", 11060, 0),
    TR_HOOK(cuLaunchKernelEx_ptsz, "cuLaunchKernelEx", 11060, 1),
    TR_HOOK(cuGraphLaunch, "cuGraphLaunch", 10000, 0),
    TR_HOOK(cuGraphLaunch_ptsz, "cuGraphLaunch", 10000, 1),
};
const tr_hook_list tr_cuda_launch_hooks = {hooks, sizeof hooks / sizeof hooks[0]};
