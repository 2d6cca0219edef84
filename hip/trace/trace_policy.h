/* The sync policy table: a small file that TypeScript writes
 * (scripts/trace/policy.ts) and the interposer maps read-only and reads at
 * every launch, so a policy script can change it while the program runs.
 *
 * Layout (little-endian, 512 bytes; offsets in bytes):
 *     0 u32 magic 'FLSP' (0x50534c46)      4 u32 version (1)
 *     8 u32 generation: odd while the writer changes the table
 *    12 u32 sync: 1 = synchronize the launch's stream after each selected launch
 *    16 i64 from: first selected launch ordinal (0: the first launch)
 *    24 i64 to: last selected launch ordinal (-1: no end)
 *    32 u32 flags: bit 0 = record the host backtrace of a launch whose sync fails
 *    64 char pattern[256]: a glob (fnmatch) the kernel name must match; empty: every kernel
 * Without $FAULTLINE_TRACE_POLICY, or with a file that is not such a table, no
 * launch is synchronized. */
#ifndef FL_TRACE_POLICY_H
#define FL_TRACE_POLICY_H

#include <stdint.h>

#include "trace_journal.h"

#define TR_POLICY_MAGIC 0x50534c46u
#define TR_POLICY_VERSION 1u
#define TR_POLICY_BYTES 512
#define TR_POLICY_PATTERN_AT 64
#define TR_POLICY_PATTERN_BYTES 256
#define TR_POLICY_BACKTRACE 1u

typedef struct tr_policy_decision {
  int sync;      /* synchronize the launch's stream after it */
  int backtrace; /* record the launch's backtrace if that sync fails */
} tr_policy_decision;

/* What the table says for launch number `ordinal` of kernel `name`. */
TR_HIDDEN tr_policy_decision tr_policy_for(uint64_t ordinal, const char *name);

#endif
