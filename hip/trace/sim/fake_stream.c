/* The stand-in driver (fake_cuda.h): streams, events and stream capture. */
#include <stdlib.h>

#include "faultline.h"
#include "fake_cuda.h"

#define STREAM_MAGIC 0x5354524du /* "STRM" */
#define EVENT_MAGIC 0x4556544eu  /* "EVTN" */

typedef struct fk_event {
  uint32_t magic;
  uint64_t fl;
} fk_event;

/* A handle stays readable after destroy (its magic cleared), so a stale one is an error, not a crash. */
int fk_stream_of(CUstream s, fk_stream **out, uint64_t *fl) {
  *out = NULL;
  *fl = 0;
  if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) return 0;
  fk_stream *fs = (fk_stream *)s;
  if (fs->magic != STREAM_MAGIC) return 1;
  *out = fs;
  *fl = fs->fl;
  return 0;
}

static fk_event *event_of(CUevent e) {
  fk_event *fe = (fk_event *)e;
  return fe && fe->magic == EVENT_MAGIC ? fe : NULL;
}

/* ---- streams ----------------------------------------------------------------------- */

FK_EXPORT CUresult cuStreamCreate(CUstream *s, unsigned int flags) {
  (void)flags;
  if (!s) return CUDA_ERROR_INVALID_VALUE;
  fk_stream *fs = calloc(1, sizeof *fs);
  if (!fs) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult st = fk_status(fl_stream_create(0, &fs->fl));
  if (st != CUDA_SUCCESS) {
    free(fs);
    return st;
  }
  fs->magic = STREAM_MAGIC;
  *s = (CUstream)fs;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuStreamCreateWithPriority(CUstream *s, unsigned int flags, int priority) {
  (void)priority;
  return cuStreamCreate(s, flags);
}

FK_EXPORT CUresult cuStreamDestroy_v2(CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  if (fk_stream_of(s, &fs, &fl) || !fs) return CUDA_ERROR_INVALID_HANDLE;
  CUresult st = fk_status(fl_stream_destroy(0, fl));
  if (st == CUDA_SUCCESS) fs->magic = 0;
  return st;
}

static CUresult stream_sync(CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  if (fs && fs->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  return fk_status(fl_stream_synchronize(0, fl));
}

FK_EXPORT CUresult cuStreamSynchronize(CUstream s) { return stream_sync(s); }
FK_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) { return stream_sync(s); }

FK_EXPORT CUresult cuStreamQuery(CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  return fk_status(fl_stream_query(0, fl));
}

FK_EXPORT CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
  (void)flags;
  fk_stream *fs;
  uint64_t fl;
  fk_event *fe = event_of(e);
  if (fk_stream_of(s, &fs, &fl) || !fe) return CUDA_ERROR_INVALID_HANDLE;
  return fk_status(fl_stream_wait_event(0, fl, fe->fl));
}

/* ---- events ------------------------------------------------------------------------ */

FK_EXPORT CUresult cuEventCreate(CUevent *e, unsigned int flags) {
  (void)flags;
  if (!e) return CUDA_ERROR_INVALID_VALUE;
  fk_event *fe = calloc(1, sizeof *fe);
  if (!fe) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult st = fk_status(fl_event_create(0, &fe->fl));
  if (st != CUDA_SUCCESS) {
    free(fe);
    return st;
  }
  fe->magic = EVENT_MAGIC;
  *e = (CUevent)fe;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuEventDestroy_v2(CUevent e) {
  fk_event *fe = event_of(e);
  if (!fe) return CUDA_ERROR_INVALID_HANDLE;
  CUresult st = fk_status(fl_event_destroy(0, fe->fl));
  if (st == CUDA_SUCCESS) fe->magic = 0;
  return st;
}

static CUresult event_record(CUevent e, CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  fk_event *fe = event_of(e);
  if (fk_stream_of(s, &fs, &fl) || !fe) return CUDA_ERROR_INVALID_HANDLE;
  if (fs && fs->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  return fk_status(fl_event_record(0, fe->fl, fl));
}

FK_EXPORT CUresult cuEventRecord(CUevent e, CUstream s) { return event_record(e, s); }
FK_EXPORT CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return event_record(e, s); }
FK_EXPORT CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned int flags) {
  (void)flags;
  return event_record(e, s);
}

FK_EXPORT CUresult cuEventSynchronize(CUevent e) {
  fk_event *fe = event_of(e);
  return fe ? fk_status(fl_event_synchronize(0, fe->fl)) : CUDA_ERROR_INVALID_HANDLE;
}

FK_EXPORT CUresult cuEventQuery(CUevent e) {
  fk_event *fe = event_of(e);
  return fe ? fk_status(fl_event_query(0, fe->fl)) : CUDA_ERROR_INVALID_HANDLE;
}

FK_EXPORT CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
  fk_event *a = event_of(start), *b = event_of(end);
  if (!ms) return CUDA_ERROR_INVALID_VALUE;
  if (!a || !b) return CUDA_ERROR_INVALID_HANDLE;
  return fk_status(fl_event_elapsed_ms(0, a->fl, b->fl, ms));
}

FK_EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}

/* ---- stream capture ------------------------------------------------------------------ */

FK_HIDDEN fk_graph *fk_graph_new(void);

static CUresult begin_capture(CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  if (!fs) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* the legacy stream cannot be captured */
  if (fs->capturing) return CUDA_ERROR_ILLEGAL_STATE;
  fs->graph = fk_graph_new();
  if (!fs->graph) return CUDA_ERROR_OUT_OF_MEMORY;
  fs->capturing = 1;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
  (void)mode;
  return begin_capture(s);
}
FK_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream s, CUstreamCaptureMode mode) {
  (void)mode;
  return begin_capture(s);
}

static CUresult end_capture(CUstream s, CUgraph *graph) {
  fk_stream *fs;
  uint64_t fl;
  if (!graph) return CUDA_ERROR_INVALID_VALUE;
  if (fk_stream_of(s, &fs, &fl) || !fs) return CUDA_ERROR_INVALID_HANDLE;
  if (!fs->capturing) return CUDA_ERROR_ILLEGAL_STATE;
  *graph = (CUgraph)fs->graph;
  fs->graph = NULL;
  fs->capturing = 0;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuStreamEndCapture(CUstream s, CUgraph *graph) { return end_capture(s, graph); }
FK_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream s, CUgraph *graph) { return end_capture(s, graph); }

FK_EXPORT CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status) {
  fk_stream *fs;
  uint64_t fl;
  if (!status) return CUDA_ERROR_INVALID_VALUE;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  *status = fs && fs->capturing ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuStreamQuery_ptsz(CUstream s) { return cuStreamQuery(s); }
FK_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e, unsigned int flags) {
  return cuStreamWaitEvent(s, e, flags);
}
