/* The trace interposer's journal: the crash-safe ring of ffi/journal_native.ts,
 * written from C. One ring per process, opened at the process's first journaled
 * call in $FAULTLINE_TRACE_DIR (journal.bin for the first process to get there,
 * journal-<pid>.bin for the others), with its side file of strings,
 * allocations and notes (<ring>.side, JSON lines). The layout comes from the
 * generated fl_journal_format.h, so ffi/journal.ts decodes what this writes.
 *
 * Each call writes its intent before the real call (all fields, then the
 * intent marker) and its outcome after it (status, then the done marker),
 * under one lock, so records and the shared event count (R_EV_INTENT,
 * R_EV_DONE) are in the order the calls happened, across threads. A forked
 * child gets a ring of its own at its first call; nothing here ever fails the
 * traced program: without $FAULTLINE_TRACE_DIR, or when the ring cannot be
 * made, every call passes through unjournaled. */
#ifndef FL_TRACE_JOURNAL_H
#define FL_TRACE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fl_journal_format.h"

#define TR_HIDDEN __attribute__((visibility("hidden")))
#define TR_EXPORT __attribute__((visibility("default")))

typedef struct tr_call {
  int32_t kind;    /* FLJ_K_* */
  uint32_t name;   /* interned string ids (tr_intern) */
  uint32_t op;     /* 0: none */
  int32_t device;
  uint64_t stream;
  uint32_t flags;  /* FLJ_FLAG_HOST, _EVENT, _GEOMETRY, _ORDINAL, _*_TRUNCATED */
  uint64_t host;
  uint64_t event;
  uint32_t geometry[7]; /* grid x y z, block x y z, dynamic shared bytes */
  double ordinal;
  int32_t nptr;
  uint32_t ptr_arg[FLJ_MAX_POINTERS];
  uint64_t ptr[FLJ_MAX_POINTERS];
  uint64_t ptr_bytes[FLJ_MAX_POINTERS];
  int32_t ptr_access[FLJ_MAX_POINTERS]; /* FLJ_ACCESS_* */
  int32_t nscalar;
  uint32_t scalar_name[FLJ_MAX_SCALARS];
  double scalar[FLJ_MAX_SCALARS];
} tr_call;

/* 1 when this process journals (the ring is open, or opens now). Cheap after the first call. */
TR_HIDDEN int tr_on(void);
/* The id of string `s` in the side file (appended the first time); 0 when not journaling. */
TR_HIDDEN uint32_t tr_intern(const char *s);
/* An id cached in `*slot` (call sites keep one static slot per constant string). */
TR_HIDDEN uint32_t tr_intern_cached(uint32_t *slot, const char *s);
/* An interned constant string, one id cache per call site. */
#define TR_STR(s)                          \
  ({                                       \
    static uint32_t tr_str_id_;            \
    tr_intern_cached(&tr_str_id_, (s));    \
  })

TR_HIDDEN void tr_call_init(tr_call *c, int32_t kind, uint32_t name, uint64_t stream);
TR_HIDDEN void tr_call_ptr(tr_call *c, uint32_t arg, uint64_t ptr, uint64_t bytes, int32_t access);
TR_HIDDEN void tr_call_scalar(tr_call *c, uint32_t name, double value);
TR_HIDDEN void tr_call_host(tr_call *c, uint64_t host);
TR_HIDDEN void tr_call_event(tr_call *c, uint64_t event);

/* Writes the intent of `c`; returns its sequence number, which is also its op id (0: not journaled). */
TR_HIDDEN uint32_t tr_intent(const tr_call *c);
/* Writes the outcome of record `seq`. */
TR_HIDDEN void tr_done(uint32_t seq, int32_t status);
/* The same, with the handle or address the call produced. */
TR_HIDDEN void tr_done_result(uint32_t seq, int32_t status, uint64_t result);

/* Appends one JSON object (no newline) to the side file. */
TR_HIDDEN void tr_side(const char *json);
/* Writes `s` as a JSON string (quotes included) into out[cap]; returns the length written. */
TR_HIDDEN size_t tr_json_string(char *out, size_t cap, const char *s);

/* The calling thread's current device, as the driver last said (0 when it cannot tell). */
TR_HIDDEN int32_t tr_device(void);
/* Forgets it (after the thread's context changed). */
TR_HIDDEN void tr_device_changed(void);
/* Set by the backend's hooks: how to ask the driver for the current device, and a note
 * describing it ({"device": {...}}) written at the journal's first record (1 when written). */
TR_HIDDEN extern int (*tr_current_device)(int32_t *out);
TR_HIDDEN extern int (*tr_describe_device)(void);

#endif
