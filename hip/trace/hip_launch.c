/* HIP launches, kernel names, streams, events, syncs and capture (hip_hooks.h):
 * the records the CUDA hooks make (cuda_launch.c, cuda_stream.c). A kernel's
 * name comes from __hipRegisterFunction (the host stub hipLaunchKernel is given)
 * or hipModuleGetFunction. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hip_hooks.h"
#include "trace_allocs.h"
#include "trace_backtrace.h"
#include "trace_policy.h"

/* ---- kernel names ------------------------------------------------------------------ */

typedef struct named {
  const void *handle;
  uint32_t id;
  char *name;
} named;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static named *g_names;
static size_t g_nnames, g_cap;

/* A forked child starts with this lock free, whichever thread of the parent held it. */
static void unlock_in_child(void) { pthread_mutex_init(&g_mu, NULL); }
__attribute__((constructor)) static void install_child_unlock(void) { pthread_atfork(NULL, NULL, unlock_in_child); }

static void remember(const void *handle, const char *name) {
  if (!handle || !name) return;
  char *copy = strdup(name);
  pthread_mutex_lock(&g_mu);
  if (g_nnames == g_cap) {
    size_t cap = g_cap ? 2 * g_cap : 256;
    named *v = realloc(g_names, cap * sizeof *v);
    if (v) {
      g_names = v;
      g_cap = cap;
    }
  }
  if (copy && g_nnames < g_cap) g_names[g_nnames++] = (named){handle, 0, copy};
  pthread_mutex_unlock(&g_mu);
}

/* The interned name of a kernel handle ("kernel@0x.." when none was seen). */
static uint32_t name_of(const void *handle, const char **text) {
  pthread_mutex_lock(&g_mu);
  named *n = NULL;
  for (size_t i = g_nnames; i-- > 0 && !n;)
    if (g_names[i].handle == handle) n = &g_names[i];
  if (n && !n->id) n->id = tr_intern(n->name);
  uint32_t id = n ? n->id : 0;
  *text = n ? n->name : "";
  pthread_mutex_unlock(&g_mu);
  if (id) return id;
  char fallback[40];
  snprintf(fallback, sizeof fallback, "kernel@%p", handle);
  return tr_intern(fallback);
}

/* The runtime's registration of a compiled-in kernel (signature of HIP's hip_platform.cpp). */
TR_EXPORT void __hipRegisterFunction(void *modules, const void *hostFunction, char *deviceFunction,
                                     const char *deviceName, unsigned int threadLimit, void *tid, void *bid,
                                     void *blockDim, void *gridDim, int *wSize) {
  static void (*real)(void *, const void *, char *, const char *, unsigned int, void *, void *, void *, void *,
                      int *);
  if (!real) real = (__typeof__(real))dlsym(RTLD_NEXT, "__hipRegisterFunction");
  remember(hostFunction, deviceName ? deviceName : deviceFunction);
  if (real) real(modules, hostFunction, deviceFunction, deviceName, threadLimit, tid, bid, blockDim, gridDim, wSize);
}

TR_EXPORT hipError_t hipModuleGetFunction(hipFunction_t *f, hipModule_t m, const char *name) {
  HIP_REAL(hipModuleGetFunction);
  hipError_t st = real_hipModuleGetFunction(f, m, name);
  if (st == hipSuccess && f) remember(*f, name);
  return st;
}

/* ---- launches ------------------------------------------------------------------------ */

static uint64_t g_launches;
static void reset_in_child(void) { g_launches = 0; }
__attribute__((constructor)) static void install_fork_reset(void) { pthread_atfork(NULL, NULL, reset_in_child); }

/* Pointer-looking words of an `extra` argument buffer (HIP_LAUNCH_PARAM_*), named by offset. */
static void extra_args(tr_call *c, void **extra) {
  const unsigned char *buf = NULL;
  size_t bytes = 0;
  for (int k = 0; extra && k < 64 && extra[k] != HIP_LAUNCH_PARAM_END; k += 2) {
    if (extra[k] == HIP_LAUNCH_PARAM_BUFFER_POINTER)
      buf = extra[k + 1];
    else if (extra[k] == HIP_LAUNCH_PARAM_BUFFER_SIZE && extra[k + 1])
      bytes = *(const size_t *)extra[k + 1];
    else
      break;
  }
  for (size_t k = 0; buf && k + 8 <= bytes; k += 8) {
    uint64_t w;
    memcpy(&w, buf + k, 8);
    if (tr_classify(w) == TR_NOT_POINTER) continue;
    char name[32];
    snprintf(name, sizeof name, "+%zu", k);
    tr_call_ptr(c, tr_intern(name), w, 0, FLJ_ACCESS_RW);
  }
}

typedef struct hip_launch {
  const void *handle;
  uint32_t geometry[7];
  hipStream_t stream;
  void **extra;
  uint64_t ordinal;
  uint32_t seq;
  const char *name;
} hip_launch;

static void begin(hip_launch *l) {
  l->ordinal = __atomic_fetch_add(&g_launches, 1, __ATOMIC_RELAXED);
  tr_call c;
  tr_call_init(&c, FLJ_K_LAUNCH, name_of(l->handle, &l->name), hip_stream_id(l->stream));
  memcpy(c.geometry, l->geometry, sizeof c.geometry);
  c.ordinal = (double)l->ordinal;
  c.flags |= FLJ_FLAG_GEOMETRY | FLJ_FLAG_ORDINAL;
  extra_args(&c, l->extra);
  l->seq = tr_intent(&c);
}

static void end(const hip_launch *l, hipError_t st) {
  tr_done(l->seq, st);
  if (st != hipSuccess) return;
  tr_policy_decision d = tr_policy_for(l->ordinal, l->name);
  if (!d.sync) return;
  static __typeof__(&hipStreamSynchronize) sync;
  if (!sync) sync = (__typeof__(&hipStreamSynchronize))dlsym(RTLD_NEXT, "hipStreamSynchronize");
  if (!sync) return;
  tr_call c;
  tr_call_init(&c, FLJ_K_SYNC, TR_STR("stream_synchronize"), hip_stream_id(l->stream));
  c.op = TR_STR("sync policy");
  uint32_t seq = tr_intent(&c);
  hipError_t s = sync(l->stream);
  if (s != hipSuccess && d.backtrace) tr_backtrace_note(l->seq);
  tr_done(seq, s);
}

TR_EXPORT hipError_t hipLaunchKernel(const void *f, dim3 grid, dim3 block, void **args, size_t shared,
                                     hipStream_t s) {
  HIP_REAL(hipLaunchKernel);
  if (!tr_on()) return real_hipLaunchKernel(f, grid, block, args, shared, s);
  hip_launch l = {f, {grid.x, grid.y, grid.z, block.x, block.y, block.z, (uint32_t)shared}, s, NULL, 0, 0, NULL};
  begin(&l);
  hipError_t st = real_hipLaunchKernel(f, grid, block, args, shared, s);
  end(&l, st);
  return st;
}

TR_EXPORT hipError_t hipModuleLaunchKernel(hipFunction_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                           unsigned by, unsigned bz, unsigned shared, hipStream_t s, void **params,
                                           void **extra) {
  HIP_REAL(hipModuleLaunchKernel);
  if (!tr_on()) return real_hipModuleLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
  hip_launch l = {f, {gx, gy, gz, bx, by, bz, shared}, s, extra, 0, 0, NULL};
  begin(&l);
  hipError_t st = real_hipModuleLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
  end(&l, st);
  return st;
}

/* hipExtModuleLaunchKernel takes global work sizes (threads), not blocks. */
TR_EXPORT hipError_t hipExtModuleLaunchKernel(hipFunction_t f, uint32_t wx, uint32_t wy, uint32_t wz, uint32_t lx,
                                              uint32_t ly, uint32_t lz, size_t shared, hipStream_t s,
                                              void **params, void **extra, hipEvent_t start, hipEvent_t stop,
                                              uint32_t flags) {
  static hipError_t (*real)(hipFunction_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, size_t,
                            hipStream_t, void **, void **, hipEvent_t, hipEvent_t, uint32_t);
  if (!real) real = (__typeof__(real))dlsym(RTLD_NEXT, "hipExtModuleLaunchKernel");
  if (!real) return hipErrorNotSupported;
  tr_current_device = hip_current_device;
  tr_describe_device = hip_describe_device;
  if (!tr_on()) return real(f, wx, wy, wz, lx, ly, lz, shared, s, params, extra, start, stop, flags);
  uint32_t gx = lx ? (wx + lx - 1) / lx : 0, gy = ly ? (wy + ly - 1) / ly : 0, gz = lz ? (wz + lz - 1) / lz : 0;
  hip_launch l = {f, {gx, gy, gz, lx, ly, lz, (uint32_t)shared}, s, extra, 0, 0, NULL};
  begin(&l);
  hipError_t st = real(f, wx, wy, wz, lx, ly, lz, shared, s, params, extra, start, stop, flags);
  end(&l, st);
  return st;
}

TR_EXPORT hipError_t hipGraphLaunch(hipGraphExec_t exec, hipStream_t s) {
  HIP_REAL(hipGraphLaunch);
  if (!tr_on()) return real_hipGraphLaunch(exec, s);
  uint64_t ordinal = __atomic_fetch_add(&g_launches, 1, __ATOMIC_RELAXED);
  tr_call c;
  tr_call_init(&c, FLJ_K_LAUNCH, TR_STR("hipGraphLaunch"), hip_stream_id(s));
  c.ordinal = (double)ordinal;
  c.flags |= FLJ_FLAG_ORDINAL;
  tr_call_scalar(&c, TR_STR("graph"), (double)(uintptr_t)exec);
  uint32_t seq = tr_intent(&c);
  hipError_t st = real_hipGraphLaunch(exec, s);
  tr_done(seq, st);
  return st;
}

/* ---- streams, events, syncs ------------------------------------------------------------ */

static uint32_t record(int32_t kind, uint32_t name, uint32_t op, uint64_t stream, int has_event, uint64_t event) {
  tr_call c;
  tr_call_init(&c, kind, name, stream);
  c.op = op;
  if (has_event) tr_call_event(&c, event);
  return tr_intent(&c);
}

#define H(x) ((uint64_t)(uintptr_t)(x))
/* One journaled call: the record, the real call, its status (and the handle it made). */
#define SIMPLE(kind, name, op, stream, has_event, event, call, made)      \
  if (!tr_on()) return call;                                             \
  uint32_t seq = record(kind, name, op, stream, has_event, event);       \
  hipError_t st = call;                                                  \
  if (st == hipSuccess && (made) != NULL)                                \
    tr_done_result(seq, st, H(*(made)));                                 \
  else                                                                   \
    tr_done(seq, st);                                                    \
  return st

static const hipStream_t *const NO_STREAM = NULL;

/* A stream's creation, with its flags (hipStreamNonBlocking or not: the null stream orders the others). */
static hipError_t created(uint32_t name, unsigned int flags, hipStream_t *s, hipError_t (*make)(hipStream_t *, unsigned),
                          unsigned make_flags) {
  tr_call c;
  tr_call_init(&c, FLJ_K_STREAM_CREATE, name, 0);
  tr_call_scalar(&c, TR_STR("flags"), flags);
  uint32_t seq = tr_intent(&c);
  hipError_t st = make(s, make_flags);
  if (st == hipSuccess && s)
    tr_done_result(seq, st, (uint64_t)(uintptr_t)*s);
  else
    tr_done(seq, st);
  return st;
}

static __typeof__(&hipStreamCreate) g_create;
static hipError_t create_plain(hipStream_t *s, unsigned flags) {
  (void)flags;
  return g_create(s);
}

TR_EXPORT hipError_t hipStreamCreate(hipStream_t *s) {
  HIP_REAL(hipStreamCreate);
  g_create = real_hipStreamCreate;
  if (!tr_on()) return real_hipStreamCreate(s);
  return created(TR_STR("hipStreamCreate"), 0, s, create_plain, 0);
}

TR_EXPORT hipError_t hipStreamCreateWithFlags(hipStream_t *s, unsigned int flags) {
  HIP_REAL(hipStreamCreateWithFlags);
  if (!tr_on()) return real_hipStreamCreateWithFlags(s, flags);
  return created(TR_STR("hipStreamCreateWithFlags"), flags, s, real_hipStreamCreateWithFlags, flags);
}

TR_EXPORT hipError_t hipStreamDestroy(hipStream_t s) {
  HIP_REAL(hipStreamDestroy);
  SIMPLE(FLJ_K_STREAM_DESTROY, TR_STR("hipStreamDestroy"), 0, hip_stream_id(s), 0, 0, real_hipStreamDestroy(s),
         NO_STREAM);
}

TR_EXPORT hipError_t hipStreamSynchronize(hipStream_t s) {
  HIP_REAL(hipStreamSynchronize);
  SIMPLE(FLJ_K_SYNC, TR_STR("stream_synchronize"), TR_STR("hipStreamSynchronize"), hip_stream_id(s), 0, 0,
         real_hipStreamSynchronize(s), NO_STREAM);
}

TR_EXPORT hipError_t hipStreamQuery(hipStream_t s) {
  HIP_REAL(hipStreamQuery);
  SIMPLE(FLJ_K_QUERY, TR_STR("stream_query"), TR_STR("hipStreamQuery"), hip_stream_id(s), 0, 0,
         real_hipStreamQuery(s), NO_STREAM);
}

TR_EXPORT hipError_t hipStreamWaitEvent(hipStream_t s, hipEvent_t e, unsigned int flags) {
  HIP_REAL(hipStreamWaitEvent);
  SIMPLE(FLJ_K_EVENT_WAIT, TR_STR("hipStreamWaitEvent"), 0, hip_stream_id(s), 1, H(e),
         real_hipStreamWaitEvent(s, e, flags), NO_STREAM);
}

static const hipEvent_t *const NO_EVENT = NULL;

TR_EXPORT hipError_t hipEventCreate(hipEvent_t *e) {
  HIP_REAL(hipEventCreate);
  SIMPLE(FLJ_K_EVENT_CREATE, TR_STR("hipEventCreate"), 0, 0, 0, 0, real_hipEventCreate(e), e);
}

TR_EXPORT hipError_t hipEventCreateWithFlags(hipEvent_t *e, unsigned flags) {
  HIP_REAL(hipEventCreateWithFlags);
  SIMPLE(FLJ_K_EVENT_CREATE, TR_STR("hipEventCreateWithFlags"), 0, 0, 0, 0, real_hipEventCreateWithFlags(e, flags), e);
}

TR_EXPORT hipError_t hipEventDestroy(hipEvent_t e) {
  HIP_REAL(hipEventDestroy);
  SIMPLE(FLJ_K_EVENT_DESTROY, TR_STR("hipEventDestroy"), 0, 0, 1, H(e), real_hipEventDestroy(e), NO_EVENT);
}

TR_EXPORT hipError_t hipEventRecord(hipEvent_t e, hipStream_t s) {
  HIP_REAL(hipEventRecord);
  SIMPLE(FLJ_K_EVENT_RECORD, TR_STR("hipEventRecord"), 0, hip_stream_id(s), 1, H(e), real_hipEventRecord(e, s),
         NO_EVENT);
}

TR_EXPORT hipError_t hipEventSynchronize(hipEvent_t e) {
  HIP_REAL(hipEventSynchronize);
  SIMPLE(FLJ_K_SYNC, TR_STR("event_synchronize"), TR_STR("hipEventSynchronize"), 0, 1, H(e),
         real_hipEventSynchronize(e), NO_EVENT);
}

TR_EXPORT hipError_t hipEventQuery(hipEvent_t e) {
  HIP_REAL(hipEventQuery);
  SIMPLE(FLJ_K_QUERY, TR_STR("event_query"), TR_STR("hipEventQuery"), 0, 1, H(e), real_hipEventQuery(e), NO_EVENT);
}

TR_EXPORT hipError_t hipDeviceSynchronize(void) {
  HIP_REAL(hipDeviceSynchronize);
  SIMPLE(FLJ_K_SYNC, TR_STR("device_synchronize"), TR_STR("hipDeviceSynchronize"), 0, 0, 0,
         real_hipDeviceSynchronize(), NO_EVENT);
}

static const hipGraph_t *const NO_GRAPH = NULL;

TR_EXPORT hipError_t hipStreamBeginCapture(hipStream_t s, hipStreamCaptureMode mode) {
  HIP_REAL(hipStreamBeginCapture);
  SIMPLE(FLJ_K_CAPTURE, TR_STR("hipStreamBeginCapture"), 0, hip_stream_id(s), 0, 0,
         real_hipStreamBeginCapture(s, mode), NO_GRAPH);
}

TR_EXPORT hipError_t hipStreamEndCapture(hipStream_t s, hipGraph_t *g) {
  HIP_REAL(hipStreamEndCapture);
  SIMPLE(FLJ_K_CAPTURE, TR_STR("hipStreamEndCapture"), 0, hip_stream_id(s), 0, 0, real_hipStreamEndCapture(s, g), g);
}
