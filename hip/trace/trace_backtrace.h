/* The host backtrace of a call, noted in the side file as
 * {"bt": op, "frames": [{"obj": path, "off": "0x..", "pc": "0x..", "sym": name}, ...]}:
 * each call site as an offset into its object (dladdr) and as an address, which
 * scripts/trace/symbolize.ts turns into file:line with addr2line. Frames inside
 * the interposer are left out. Costly (microseconds): taken only for a launch
 * whose policy sync failed. */
#ifndef FL_TRACE_BACKTRACE_H
#define FL_TRACE_BACKTRACE_H

#include <stdint.h>

#include "trace_journal.h"

TR_HIDDEN void tr_backtrace_note(uint32_t op);

#endif
