/* Streams, events, synchronization and stream capture. Records use the
 * journal's verbs where the forensics reads them (stream_synchronize,
 * event_synchronize, device_synchronize, stream_query, event_query), with
 * the driver call in `op`; other records are named after the call.
 *
 * Capture: a launch on a capturing stream is journaled with scalar captured=1
 * and listed in the side file when the capture ends, {"graph": handle,
 * "ops": [launch op ids]}; cuGraphInstantiateWithFlags notes
 * {"exec": handle, "graph": handle}, so a cuGraphLaunch's record ties to the
 * launches it replays. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_hooks.h"

static uint32_t record(int32_t kind, uint32_t name, uint32_t op, uint64_t stream, int has_event, uint64_t event) {
  tr_call c;
  tr_call_init(&c, kind, name, stream);
  c.op = op;
  if (has_event) tr_call_event(&c, event);
  return tr_intent(&c);
}

#define H(x) ((uint64_t)(uintptr_t)(x))

/* ---- capture bookkeeping ------------------------------------------------------- */

typedef struct capture {
  uint64_t stream;
  uint32_t *ops;
  size_t n, cap;
} capture;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static capture g_captures[64];
static int g_ncaptures;

/* A forked child starts with this lock free and no capture (its parent's streams are not its own). */
static void unlock_in_child(void) { pthread_mutex_init(&g_mu, NULL);
  g_ncaptures = 0;
}
__attribute__((constructor)) static void install_child_unlock(void) { pthread_atfork(NULL, NULL, unlock_in_child); }

int tr_capture_active(void) { return __atomic_load_n(&g_ncaptures, __ATOMIC_RELAXED) > 0; }

static capture *capture_of_locked(uint64_t stream) {
  for (int i = 0; i < g_ncaptures; i++)
    if (g_captures[i].stream == stream) return &g_captures[i];
  return NULL;
}

int tr_capturing(uint64_t stream) {
  if (!tr_capture_active()) return 0;
  pthread_mutex_lock(&g_mu);
  int yes = capture_of_locked(stream) != NULL;
  pthread_mutex_unlock(&g_mu);
  return yes;
}

void tr_capture_add(uint64_t stream, uint32_t op) {
  pthread_mutex_lock(&g_mu);
  capture *c = capture_of_locked(stream);
  if (c && c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    uint32_t *v = realloc(c->ops, cap * sizeof *v);
    if (v) {
      c->ops = v;
      c->cap = cap;
    }
  }
  if (c && c->n < c->cap) c->ops[c->n++] = op;
  pthread_mutex_unlock(&g_mu);
}

static void capture_begin(uint64_t stream) {
  pthread_mutex_lock(&g_mu);
  if (!capture_of_locked(stream) && g_ncaptures < 64) {
    g_captures[g_ncaptures] = (capture){stream, NULL, 0, 0};
    __atomic_store_n(&g_ncaptures, g_ncaptures + 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&g_mu);
}

/* Ends the capture of `stream`; notes the graph's launches when it made one. */
static void capture_end(uint64_t stream, CUgraph graph) {
  pthread_mutex_lock(&g_mu);
  capture *c = capture_of_locked(stream);
  capture done = c ? *c : (capture){0, NULL, 0, 0};
  if (c) {
    *c = g_captures[g_ncaptures - 1];
    __atomic_store_n(&g_ncaptures, g_ncaptures - 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&g_mu);
  if (graph) {
    size_t cap = 64 + done.n * 12;
    char *line = malloc(cap);
    if (line) {
      size_t len = (size_t)snprintf(line, cap, "{\"graph\":%llu,\"ops\":[", (unsigned long long)H(graph));
      for (size_t i = 0; i < done.n; i++) len += (size_t)snprintf(line + len, cap - len, "%s%u", i ? "," : "", done.ops[i]);
      snprintf(line + len, cap - len, "]}");
      tr_side(line);
      free(line);
    }
  }
  free(done.ops);
}

/* ---- streams ----------------------------------------------------------------- */

static CUresult (*real_cuStreamCreate)(CUstream *, unsigned int);
static CUresult (*real_cuStreamCreateWithPriority)(CUstream *, unsigned int, int);
static CUresult (*real_cuStreamDestroy_v2)(CUstream);

/* A stream's creation, with its flags (CU_STREAM_NON_BLOCKING or not: the legacy default stream orders
 * the others). */
static uint32_t create_intent(uint32_t name, unsigned int flags) {
  tr_call c;
  tr_call_init(&c, FLJ_K_STREAM_CREATE, name, 0);
  tr_call_scalar(&c, TR_STR("flags"), flags);
  return tr_intent(&c);
}

static void created(uint32_t seq, CUresult st, CUstream *s) {
  if (st == CUDA_SUCCESS && s)
    tr_done_result(seq, st, H(*s));
  else
    tr_done(seq, st);
}

TR_EXPORT CUresult cuStreamCreate(CUstream *s, unsigned int flags) {
  TR_REAL(cuStreamCreate);
  if (!tr_on()) return real_cuStreamCreate(s, flags);
  uint32_t seq = create_intent(TR_STR("cuStreamCreate"), flags);
  CUresult st = real_cuStreamCreate(s, flags);
  created(seq, st, s);
  return st;
}

TR_EXPORT CUresult cuStreamCreateWithPriority(CUstream *s, unsigned int flags, int priority) {
  TR_REAL(cuStreamCreateWithPriority);
  if (!tr_on()) return real_cuStreamCreateWithPriority(s, flags, priority);
  uint32_t seq = create_intent(TR_STR("cuStreamCreateWithPriority"), flags);
  CUresult st = real_cuStreamCreateWithPriority(s, flags, priority);
  created(seq, st, s);
  return st;
}

TR_EXPORT CUresult cuStreamDestroy_v2(CUstream s) {
  TR_REAL(cuStreamDestroy_v2);
  if (!tr_on()) return real_cuStreamDestroy_v2(s);
  uint32_t seq = record(FLJ_K_STREAM_DESTROY, TR_STR("cuStreamDestroy_v2"), 0, tr_stream_id(s, 0), 0, 0);
  CUresult st = real_cuStreamDestroy_v2(s);
  tr_done(seq, st);
  return st;
}

/* Stream calls with a _ptsz twin: a wrapper pair over one body. */
#define STREAM_PAIR(fn, params, call, body_args)                    \
  static CUresult(*real_##fn) params;                               \
  static CUresult(*real_##fn##_ptsz) params;                        \
  TR_EXPORT CUresult fn params {                                    \
    TR_REAL(fn);                                                    \
    return fn##_body(real_##fn, 0, body_args);                      \
  }                                                                 \
  TR_EXPORT CUresult fn##_ptsz params {                             \
    TR_REAL(fn##_ptsz);                                             \
    return fn##_body(real_##fn##_ptsz, 1, body_args);               \
  }

static CUresult cuStreamSynchronize_body(CUresult (*real)(CUstream), int ptds, CUstream s) {
  if (!tr_on()) return real(s);
  uint32_t seq = record(FLJ_K_SYNC, TR_STR("stream_synchronize"), TR_STR("cuStreamSynchronize"),
                        tr_stream_id(s, ptds), 0, 0);
  CUresult st = real(s);
  tr_done(seq, st);
  return st;
}
STREAM_PAIR(cuStreamSynchronize, (CUstream s), (s), s)

static CUresult cuStreamQuery_body(CUresult (*real)(CUstream), int ptds, CUstream s) {
  if (!tr_on()) return real(s);
  uint32_t seq = record(FLJ_K_QUERY, TR_STR("stream_query"), TR_STR("cuStreamQuery"), tr_stream_id(s, ptds), 0, 0);
  CUresult st = real(s);
  tr_done(seq, st);
  return st;
}
STREAM_PAIR(cuStreamQuery, (CUstream s), (s), s)

typedef struct wait_args {
  CUstream s;
  CUevent e;
  unsigned int flags;
} wait_args;

static CUresult cuStreamWaitEvent_body(CUresult (*real)(CUstream, CUevent, unsigned int), int ptds, wait_args a) {
  if (!tr_on()) return real(a.s, a.e, a.flags);
  uint32_t seq = record(FLJ_K_EVENT_WAIT, TR_STR("cuStreamWaitEvent"), 0, tr_stream_id(a.s, ptds), 1, H(a.e));
  CUresult st = real(a.s, a.e, a.flags);
  tr_done(seq, st);
  return st;
}
STREAM_PAIR(cuStreamWaitEvent, (CUstream s, CUevent e, unsigned int flags), (s, e, flags), ((wait_args){s, e, flags}))

/* ---- events -------------------------------------------------------------------- */

static CUresult (*real_cuEventCreate)(CUevent *, unsigned int);
static CUresult (*real_cuEventDestroy_v2)(CUevent);
static CUresult (*real_cuEventSynchronize)(CUevent);
static CUresult (*real_cuEventQuery)(CUevent);

TR_EXPORT CUresult cuEventCreate(CUevent *e, unsigned int flags) {
  TR_REAL(cuEventCreate);
  if (!tr_on()) return real_cuEventCreate(e, flags);
  uint32_t seq = record(FLJ_K_EVENT_CREATE, TR_STR("cuEventCreate"), 0, 0, 0, 0);
  CUresult st = real_cuEventCreate(e, flags);
  if (st == CUDA_SUCCESS && e)
    tr_done_result(seq, st, H(*e));
  else
    tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuEventDestroy_v2(CUevent e) {
  TR_REAL(cuEventDestroy_v2);
  if (!tr_on()) return real_cuEventDestroy_v2(e);
  uint32_t seq = record(FLJ_K_EVENT_DESTROY, TR_STR("cuEventDestroy_v2"), 0, 0, 1, H(e));
  CUresult st = real_cuEventDestroy_v2(e);
  tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuEventSynchronize(CUevent e) {
  TR_REAL(cuEventSynchronize);
  if (!tr_on()) return real_cuEventSynchronize(e);
  uint32_t seq = record(FLJ_K_SYNC, TR_STR("event_synchronize"), TR_STR("cuEventSynchronize"), 0, 1, H(e));
  CUresult st = real_cuEventSynchronize(e);
  tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuEventQuery(CUevent e) {
  TR_REAL(cuEventQuery);
  if (!tr_on()) return real_cuEventQuery(e);
  uint32_t seq = record(FLJ_K_QUERY, TR_STR("event_query"), TR_STR("cuEventQuery"), 0, 1, H(e));
  CUresult st = real_cuEventQuery(e);
  tr_done(seq, st);
  return st;
}

typedef struct record_args {
  CUevent e;
  CUstream s;
} record_args;

static CUresult cuEventRecord_body(CUresult (*real)(CUevent, CUstream), int ptds, record_args a) {
  if (!tr_on()) return real(a.e, a.s);
  uint32_t seq = record(FLJ_K_EVENT_RECORD, TR_STR("cuEventRecord"), 0, tr_stream_id(a.s, ptds), 1, H(a.e));
  CUresult st = real(a.e, a.s);
  tr_done(seq, st);
  return st;
}
STREAM_PAIR(cuEventRecord, (CUevent e, CUstream s), (e, s), ((record_args){e, s}))

typedef struct record_flags_args {
  CUevent e;
  CUstream s;
  unsigned int flags;
} record_flags_args;

static CUresult cuEventRecordWithFlags_body(CUresult (*real)(CUevent, CUstream, unsigned int), int ptds,
                                            record_flags_args a) {
  if (!tr_on()) return real(a.e, a.s, a.flags);
  uint32_t seq = record(FLJ_K_EVENT_RECORD, TR_STR("cuEventRecordWithFlags"), 0, tr_stream_id(a.s, ptds), 1, H(a.e));
  CUresult st = real(a.e, a.s, a.flags);
  tr_done(seq, st);
  return st;
}
STREAM_PAIR(cuEventRecordWithFlags, (CUevent e, CUstream s, unsigned int flags), (e, s, flags),
            ((record_flags_args){e, s, flags}))

/* ---- the context -------------------------------------------------------------- */

static CUresult (*real_cuCtxSynchronize)(void);
static CUresult (*real_cuCtxSynchronize_v2)(CUcontext);
static CUresult (*real_cuCtxSetCurrent)(CUcontext);
static CUresult (*real_cuCtxPushCurrent_v2)(CUcontext);
static CUresult (*real_cuCtxPopCurrent_v2)(CUcontext *);

TR_EXPORT CUresult cuCtxSynchronize(void) {
  TR_REAL(cuCtxSynchronize);
  if (!tr_on()) return real_cuCtxSynchronize();
  uint32_t seq = record(FLJ_K_SYNC, TR_STR("device_synchronize"), TR_STR("cuCtxSynchronize"), 0, 0, 0);
  CUresult st = real_cuCtxSynchronize();
  tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx) {
  TR_REAL(cuCtxSynchronize_v2);
  if (!tr_on()) return real_cuCtxSynchronize_v2(ctx);
  uint32_t seq = record(FLJ_K_SYNC, TR_STR("device_synchronize"), TR_STR("cuCtxSynchronize_v2"), 0, 0, 0);
  CUresult st = real_cuCtxSynchronize_v2(ctx);
  tr_done(seq, st);
  return st;
}

TR_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  TR_REAL(cuCtxSetCurrent);
  tr_device_changed();
  return real_cuCtxSetCurrent(ctx);
}

TR_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  TR_REAL(cuCtxPushCurrent_v2);
  tr_device_changed();
  return real_cuCtxPushCurrent_v2(ctx);
}

TR_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *ctx) {
  TR_REAL(cuCtxPopCurrent_v2);
  tr_device_changed();
  return real_cuCtxPopCurrent_v2(ctx);
}

/* ---- stream capture and graphs ---------------------------------------------------- */

typedef struct begin_args {
  CUstream s;
  CUstreamCaptureMode mode;
} begin_args;

static CUresult cuStreamBeginCapture_v2_body(CUresult (*real)(CUstream, CUstreamCaptureMode), int ptds,
                                             begin_args a) {
  if (!tr_on()) return real(a.s, a.mode);
  uint64_t stream = tr_stream_id(a.s, ptds);
  uint32_t seq = record(FLJ_K_CAPTURE, TR_STR("cuStreamBeginCapture"), 0, stream, 0, 0);
  CUresult st = real(a.s, a.mode);
  tr_done(seq, st);
  if (st == CUDA_SUCCESS) capture_begin(stream);
  return st;
}

static CUresult (*real_cuStreamBeginCapture_v2)(CUstream, CUstreamCaptureMode);
static CUresult (*real_cuStreamBeginCapture_v2_ptsz)(CUstream, CUstreamCaptureMode);

TR_EXPORT CUresult cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
  TR_REAL(cuStreamBeginCapture_v2);
  return cuStreamBeginCapture_v2_body(real_cuStreamBeginCapture_v2, 0, (begin_args){s, mode});
}

TR_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream s, CUstreamCaptureMode mode) {
  TR_REAL(cuStreamBeginCapture_v2_ptsz);
  return cuStreamBeginCapture_v2_body(real_cuStreamBeginCapture_v2_ptsz, 1, (begin_args){s, mode});
}

typedef struct end_args {
  CUstream s;
  CUgraph *graph;
} end_args;

static CUresult cuStreamEndCapture_body(CUresult (*real)(CUstream, CUgraph *), int ptds, end_args a) {
  if (!tr_on()) return real(a.s, a.graph);
  uint64_t stream = tr_stream_id(a.s, ptds);
  uint32_t seq = record(FLJ_K_CAPTURE, TR_STR("cuStreamEndCapture"), 0, stream, 0, 0);
  CUresult st = real(a.s, a.graph);
  CUgraph g = st == CUDA_SUCCESS && a.graph ? *a.graph : NULL;
  if (g)
    tr_done_result(seq, st, H(g));
  else
    tr_done(seq, st);
  capture_end(stream, g);
  return st;
}
STREAM_PAIR(cuStreamEndCapture, (CUstream s, CUgraph * graph), (s, graph), ((end_args){s, graph}))

static CUresult (*real_cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);

TR_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph, unsigned long long flags) {
  TR_REAL(cuGraphInstantiateWithFlags);
  CUresult st = real_cuGraphInstantiateWithFlags(exec, graph, flags);
  if (st == CUDA_SUCCESS && exec && tr_on()) {
    char line[96];
    snprintf(line, sizeof line, "{\"exec\":%llu,\"graph\":%llu}", (unsigned long long)H(*exec),
             (unsigned long long)H(graph));
    tr_side(line);
  }
  return st;
}

static const tr_hook hooks[] = {
    TR_HOOK(cuStreamCreate, "cuStreamCreate", 2000, 0),
    TR_HOOK(cuStreamCreateWithPriority, "cuStreamCreateWithPriority", 5050, 0),
    TR_HOOK(cuStreamDestroy_v2, "cuStreamDestroy", 4000, 0),
    TR_HOOK(cuStreamSynchronize, "cuStreamSynchronize", 2000, 0),
    TR_HOOK(cuStreamSynchronize_ptsz, "cuStreamSynchronize", 7000, 1),
    TR_HOOK(cuStreamQuery, "cuStreamQuery", 2000, 0),
    TR_HOOK(cuStreamQuery_ptsz, "cuStreamQuery", 7000, 1),
    TR_HOOK(cuStreamWaitEvent, "cuStreamWaitEvent", 3020, 0),
    TR_HOOK(cuStreamWaitEvent_ptsz, "cuStreamWaitEvent", 7000, 1),
    TR_HOOK(cuEventCreate, "cuEventCreate", 2000, 0),
    TR_HOOK(cuEventDestroy_v2, "cuEventDestroy", 4000, 0),
    TR_HOOK(cuEventSynchronize, "cuEventSynchronize", 2000, 0),
    TR_HOOK(cuEventQuery, "cuEventQuery", 2000, 0),
    TR_HOOK(cuEventRecord, "cuEventRecord", 2000, 0),
    TR_HOOK(cuEventRecord_ptsz, "cuEventRecord", 7000, 1),
    TR_HOOK(cuEventRecordWithFlags, "cuEventRecordWithFlags", 11010, 0),
    TR_HOOK(cuEventRecordWithFlags_ptsz, "cuEventRecordWithFlags", 11010, 1),
    TR_HOOK(cuCtxSynchronize, "cuCtxSynchronize", 2000, 0),
    TR_HOOK(cuCtxSynchronize_v2, "cuCtxSynchronize_v2", 13000, 0),
    TR_HOOK(cuCtxSetCurrent, "cuCtxSetCurrent", 4000, 0),
    TR_HOOK(cuCtxPushCurrent_v2, "cuCtxPushCurrent", 4000, 0),
    TR_HOOK(cuCtxPopCurrent_v2, "cuCtxPopCurrent", 4000, 0),
    TR_HOOK(cuStreamBeginCapture_v2, "cuStreamBeginCapture", 10010, 0),
    TR_HOOK(cuStreamBeginCapture_v2_ptsz, "cuStreamBeginCapture", 10010, 1),
    TR_HOOK(cuStreamEndCapture, "cuStreamEndCapture", 10000, 0),
    TR_HOOK(cuStreamEndCapture_ptsz, "cuStreamEndCapture", 10000, 1),
    TR_HOOK(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", 11040, 0),
};
const tr_hook_list tr_cuda_stream_hooks = {hooks, sizeof hooks / sizeof hooks[0]};
