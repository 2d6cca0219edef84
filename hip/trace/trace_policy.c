/* The sync policy table (trace_policy.h). */
#include "trace_policy.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const volatile unsigned char *g_table;

static void map_table(void) {
  const char *path = getenv("FAULTLINE_TRACE_POLICY");
  if (!path || !*path) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  /* a file shorter than the table would fault when read past its end: not a table */
  if (fstat(fd, &st) == 0 && st.st_size >= TR_POLICY_BYTES) {
    void *p = mmap(NULL, TR_POLICY_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) g_table = p;
  }
  close(fd);
}

static uint32_t u32_at(size_t off) {
  uint32_t v;
  memcpy(&v, (const void *)(g_table + off), sizeof v);
  return v;
}

static int64_t i64_at(size_t off) {
  int64_t v;
  memcpy(&v, (const void *)(g_table + off), sizeof v);
  return v;
}

/* One consistent copy of the table's fields (the generation is even and unchanged around the read). */
typedef struct snapshot {
  uint32_t sync, flags;
  int64_t from, to;
  char pattern[TR_POLICY_PATTERN_BYTES];
} snapshot;

static int read_snapshot(snapshot *s) {
  for (int tries = 0; tries < 100; tries++) {
    uint32_t gen = __atomic_load_n((const volatile uint32_t *)(g_table + 8), __ATOMIC_ACQUIRE);
    if (gen & 1) continue;
    if (u32_at(0) != TR_POLICY_MAGIC || u32_at(4) != TR_POLICY_VERSION) return 0;
    s->sync = u32_at(12);
    s->from = i64_at(16);
    s->to = i64_at(24);
    s->flags = u32_at(32);
    memcpy(s->pattern, (const void *)(g_table + TR_POLICY_PATTERN_AT), sizeof s->pattern);
    s->pattern[sizeof s->pattern - 1] = '\0';
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n((const volatile uint32_t *)(g_table + 8), __ATOMIC_ACQUIRE) == gen) return 1;
  }
  return 0;
}

tr_policy_decision tr_policy_for(uint64_t ordinal, const char *name) {
  tr_policy_decision d = {0, 0};
  pthread_once(&g_once, map_table);
  if (!g_table || u32_at(12) == 0) return d; /* the common case: no syncs, one load */
  snapshot s;
  if (!read_snapshot(&s) || s.sync == 0) return d;
  if ((int64_t)ordinal < s.from || (s.to >= 0 && (int64_t)ordinal > s.to)) return d;
  if (s.pattern[0] && fnmatch(s.pattern, name ? name : "", 0) != 0) return d;
  d.sync = 1;
  d.backtrace = (s.flags & TR_POLICY_BACKTRACE) != 0;
  return d;
}
