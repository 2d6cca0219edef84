/* What the interposer knows of the traced program's memory: the live device
 * allocations (and the recently freed ones), host allocations, and virtual
 * address reservations, each noted in the journal's side file as it changes
 * ({"a": id, ...} and {"f": id, "op": op}, the format ffi/journal.ts reads), so
 * the decoder resolves every pointer to (allocation, offset) even after the
 * ring has wrapped.
 *
 * The launch hooks classify each 8-byte word of a kernel's arguments against
 * it: inside a live or freed allocation, inside a reservation where nothing is
 * mapped, near the device allocations but in none of them (a pointer gone
 * wild, most likely), or not a pointer at all. */
#ifndef FL_TRACE_ALLOCS_H
#define FL_TRACE_ALLOCS_H

#include <stdint.h>

#include "trace_journal.h"

typedef enum tr_class {
  TR_NOT_POINTER = 0,
  TR_LIVE,      /* inside a live allocation */
  TR_FREED,     /* inside a freed one (and no live one) */
  TR_UNMAPPED,  /* inside a reservation, where nothing is mapped */
  TR_NEAR       /* in no allocation, but within the device allocations' address window */
} tr_class;

/* A new allocation made by op `id` (its journal record): kept, and noted in the side file.
 * `name` (interned as `name_id`) is what reports call it; `host` marks pinned host memory. */
TR_HIDDEN void tr_alloc_add(uint32_t id, uint64_t ptr, uint64_t bytes, int32_t device, int host, uint32_t name_id,
                            const char *name);
/* The live allocation starting at `ptr`: 1 with its name id and size, else 0. */
TR_HIDDEN int tr_alloc_find(uint64_t ptr, uint32_t *name_id, uint64_t *bytes);
/* The live allocation starting at `ptr` freed by op `op`: noted; returns its id (0: none known)
 * and its size in *bytes. */
TR_HIDDEN uint32_t tr_alloc_free(uint64_t ptr, uint32_t op, uint64_t *bytes);
/* The journal intent of a free of `ptr` by `api` (kind free or host_free): named after the
 * allocation when it is known, with its address and size; and its outcome, which forgets
 * the allocation when the vendor call succeeded (`ok`). */
TR_HIDDEN uint32_t tr_free_intent(const char *api, int32_t kind, uint64_t ptr, uint64_t stream);
TR_HIDDEN void tr_free_outcome(uint32_t seq, int32_t status, int ok, uint64_t ptr);
/* A virtual address reservation [ptr, ptr + bytes) (VMM), and its release. */
TR_HIDDEN void tr_reserve_add(uint64_t ptr, uint64_t bytes);
TR_HIDDEN void tr_reserve_remove(uint64_t ptr);
/* What `word` is (see tr_class). */
TR_HIDDEN tr_class tr_classify(uint64_t word);
/* 1 when `ptr` lies in a live device allocation or a reservation (a copy's device side). */
TR_HIDDEN int tr_is_device(uint64_t ptr);
/* The next allocation number (1, 2, ...), for allocation names ("cuMemAlloc#3"). */
TR_HIDDEN uint32_t tr_alloc_next_number(void);
/* Forgets everything (a forked child: the parent's allocations are not its own). */
TR_HIDDEN void tr_allocs_reset(void);

#endif
