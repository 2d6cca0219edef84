/* Host-side helpers compiled into every backend (the C files of hip/host/), for the
 * runtime's own bookkeeping rather than for the device.
 *
 * The journal is a file mapped MAP_SHARED: records written into the mapping
 * from TypeScript reach the page cache at once, so they survive the process
 * dying inside a native call (segfault, SIGKILL, a sticky GPU error), at the
 * cost of a memory store per field instead of a system call per record. */
#ifndef FAULTLINE_HOST_H
#define FAULTLINE_HOST_H

#include "faultline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates (or truncates) `path` to `bytes` and maps it read-write, shared. */
FL_EXPORT int32_t fl_journal_map(const char *path, uint64_t bytes, uint64_t *out_addr);
/* Unmaps a mapping made by fl_journal_map (the file stays). */
FL_EXPORT int32_t fl_journal_unmap(uint64_t addr, uint64_t bytes);

#ifdef __cplusplus
}
#endif
#endif
