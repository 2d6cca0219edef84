/* The interposer's allocation table (trace_allocs.h). Sorted arrays under one
 * lock; a launch does one binary search per 8-byte argument word. */
#include "trace_allocs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_FREED 4096
/* Past the highest device allocation, how far a word still looks like a device pointer. */
#define WINDOW_SLACK (1ull << 30)

typedef struct range {
  uint64_t base, end;
  uint32_t id, name;
  int host;
} range;

typedef struct range_list {
  range *v;
  size_t n, cap;
} range_list;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static range_list g_live, g_freed, g_reserved;
static uint64_t g_lo = UINT64_MAX, g_hi; /* the device allocations' address window */
static uint32_t g_count;

/* Index of the first entry whose base is > a. */
static size_t upper(const range_list *l, uint64_t a) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (l->v[mid].base <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The entry holding `a`, or -1. */
static long find(const range_list *l, uint64_t a) {
  size_t k = upper(l, a);
  if (k == 0) return -1;
  const range *r = &l->v[k - 1];
  return a < r->end || (r->end == r->base && a == r->base) ? (long)(k - 1) : -1;
}

static int insert(range_list *l, range r) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    range *v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->cap = cap;
  }
  size_t k = upper(l, r.base);
  memmove(&l->v[k + 1], &l->v[k], (l->n - k) * sizeof *l->v);
  l->v[k] = r;
  l->n++;
  return 0;
}

static void erase(range_list *l, size_t k) {
  memmove(&l->v[k], &l->v[k + 1], (l->n - k - 1) * sizeof *l->v);
  l->n--;
}

/* Removes the entries of `l` overlapping [base, end). */
static void erase_overlapping(range_list *l, uint64_t base, uint64_t end) {
  for (size_t k = 0; k < l->n;) {
    const range *r = &l->v[k];
    if (r->base < end && base < (r->end > r->base ? r->end : r->base + 1))
      erase(l, k);
    else
      k++;
  }
}

static void widen_window(uint64_t base, uint64_t end) {
  if (base < g_lo) g_lo = base;
  if (end > g_hi) g_hi = end;
}

static void note_alloc(uint32_t id, uint64_t ptr, uint64_t bytes, int32_t device, int host, const char *name) {
  char line[1024], qname[512];
  tr_json_string(qname, sizeof qname, name);
  snprintf(line, sizeof line,
           "{\"a\":%u,\"id\":%u,\"ptr\":%llu,\"bytes\":%llu,\"name\":%s,\"align\":%d,\"device\":%d,"
           "\"base\":%llu,\"allocBytes\":%llu,\"redzone\":0,\"host\":%s}",
           id, id, (unsigned long long)ptr, (unsigned long long)bytes, qname, host ? 64 : 256, device,
           (unsigned long long)ptr, (unsigned long long)bytes, host ? "true" : "false");
  tr_side(line);
}

void tr_alloc_add(uint32_t id, uint64_t ptr, uint64_t bytes, int32_t device, int host, uint32_t name_id,
                  const char *name) {
  if (id == 0 || ptr == 0) return;
  range r = {ptr, ptr + bytes, id, name_id, host};
  pthread_mutex_lock(&g_mu);
  erase_overlapping(&g_live, r.base, r.end > r.base ? r.end : r.base + 1);
  erase_overlapping(&g_freed, r.base, r.end > r.base ? r.end : r.base + 1);
  insert(&g_live, r);
  if (!host) widen_window(r.base, r.end);
  pthread_mutex_unlock(&g_mu);
  note_alloc(id, ptr, bytes, device, host, name);
}

/* Keeps at most KEEP_FREED freed ranges: the oldest (smallest id) goes first. */
static void keep_freed(range r) {
  if (g_freed.n >= KEEP_FREED) {
    size_t oldest = 0;
    for (size_t k = 1; k < g_freed.n; k++)
      if (g_freed.v[k].id < g_freed.v[oldest].id) oldest = k;
    erase(&g_freed, oldest);
  }
  insert(&g_freed, r);
}

int tr_alloc_find(uint64_t ptr, uint32_t *name_id, uint64_t *bytes) {
  pthread_mutex_lock(&g_mu);
  long k = find(&g_live, ptr);
  int found = k >= 0 && g_live.v[k].base == ptr;
  if (found) {
    if (name_id) *name_id = g_live.v[k].name;
    if (bytes) *bytes = g_live.v[k].end - g_live.v[k].base;
  }
  pthread_mutex_unlock(&g_mu);
  return found;
}

uint32_t tr_alloc_free(uint64_t ptr, uint32_t op, uint64_t *bytes) {
  pthread_mutex_lock(&g_mu);
  long k = find(&g_live, ptr);
  uint32_t id = 0;
  if (k >= 0 && g_live.v[k].base == ptr) {
    range r = g_live.v[k];
    erase(&g_live, (size_t)k);
    keep_freed(r);
    id = r.id;
    if (bytes) *bytes = r.end - r.base;
  }
  pthread_mutex_unlock(&g_mu);
  if (id && op) {
    char line[96];
    snprintf(line, sizeof line, "{\"f\":%u,\"op\":%u}", id, op);
    tr_side(line);
  }
  return id;
}

void tr_reserve_add(uint64_t ptr, uint64_t bytes) {
  pthread_mutex_lock(&g_mu);
  insert(&g_reserved, (range){ptr, ptr + bytes, 0, 0, 0});
  widen_window(ptr, ptr + bytes);
  pthread_mutex_unlock(&g_mu);
}

void tr_reserve_remove(uint64_t ptr) {
  pthread_mutex_lock(&g_mu);
  long k = find(&g_reserved, ptr);
  if (k >= 0 && g_reserved.v[k].base == ptr) erase(&g_reserved, (size_t)k);
  pthread_mutex_unlock(&g_mu);
}

tr_class tr_classify(uint64_t word) {
  if (word < 4096) return TR_NOT_POINTER;
  pthread_mutex_lock(&g_mu);
  tr_class c = TR_NOT_POINTER;
  if (find(&g_live, word) >= 0)
    c = TR_LIVE;
  else if (word >= g_lo && word < g_hi + WINDOW_SLACK) {
    if (find(&g_freed, word) >= 0)
      c = TR_FREED;
    else if (find(&g_reserved, word) >= 0)
      c = TR_UNMAPPED;
    else
      c = TR_NEAR;
  }
  pthread_mutex_unlock(&g_mu);
  return c;
}

int tr_is_device(uint64_t ptr) {
  pthread_mutex_lock(&g_mu);
  long k = find(&g_live, ptr);
  int dev = (k >= 0 && !g_live.v[k].host) || find(&g_reserved, ptr) >= 0;
  pthread_mutex_unlock(&g_mu);
  return dev;
}

uint32_t tr_alloc_next_number(void) { return __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED); }

void tr_allocs_reset(void) {
  pthread_mutex_init(&g_mu, NULL);
  g_live.n = g_freed.n = g_reserved.n = 0;
  g_lo = UINT64_MAX;
  g_hi = 0;
  g_count = 0;
}

uint32_t tr_free_intent(const char *api, int32_t kind, uint64_t ptr, uint64_t stream) {
  uint32_t name = 0;
  uint64_t bytes = 0;
  if (!tr_alloc_find(ptr, &name, &bytes)) name = tr_intern(api);
  tr_call c;
  tr_call_init(&c, kind, name, stream);
  c.op = tr_intern(api);
  tr_call_scalar(&c, TR_STR("ptr"), (double)ptr);
  tr_call_scalar(&c, TR_STR("bytes"), (double)bytes);
  return tr_intent(&c);
}

void tr_free_outcome(uint32_t seq, int32_t status, int ok, uint64_t ptr) {
  tr_done(seq, status);
  if (ok) tr_alloc_free(ptr, seq, NULL);
}
