/* The trace interposer's journal ring (trace_journal.h). */
#include "trace_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "trace_allocs.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define DEFAULT_CAPACITY 65536u
#define MIN_CAPACITY 64u
#define MAX_CAPACITY (1u << 22)

enum { STATE_UNTRIED = 0, STATE_OPEN = 1, STATE_OFF = -1 };

typedef struct str_entry {
  uint64_t hash;
  uint32_t id;
  char *text;
} str_entry;

static struct {
  pthread_mutex_t mu;
  volatile int state;
  char *base;
  size_t bytes;
  uint32_t capacity;
  uint32_t seq;
  int32_t events;
  int side_fd;
  int described; /* the device note is written */
  /* interned strings: open addressing, ids from 1 in order */
  str_entry *strings;
  uint32_t nstrings, cap_strings;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .side_fd = -1};

int (*tr_current_device)(int32_t *out);
int (*tr_describe_device)(void);

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t hash_of(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h ? h : 1;
}

/* ---- side file ---------------------------------------------------------- */

size_t tr_json_string(char *out, size_t cap, const char *s) {
  size_t n = 0;
  if (cap < 3) return 0;
  out[n++] = '"';
  for (; s && *s && n + 8 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      out[n++] = '\\';
      out[n++] = (char)ch;
    } else if (ch < 0x20) {
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
    } else {
      out[n++] = (char)ch;
    }
  }
  out[n++] = '"';
  out[n] = '\0';
  return n;
}

static void side_write_locked(const char *json) {
  if (g.side_fd < 0) return;
  size_t len = strlen(json);
  char stack[1024];
  char *buf = len + 2 <= sizeof stack ? stack : malloc(len + 2);
  if (!buf) return;
  memcpy(buf, json, len);
  buf[len] = '\n';
  size_t off = 0;
  while (off < len + 1) {
    ssize_t w = write(g.side_fd, buf + off, len + 1 - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  if (buf != stack) free(buf);
}

void tr_side(const char *json) {
  if (!tr_on()) return;
  pthread_mutex_lock(&g.mu);
  side_write_locked(json);
  pthread_mutex_unlock(&g.mu);
}

static void side_string_locked(uint32_t id, const char *text) {
  size_t cap = strlen(text) * 6 + 64;
  char *line = malloc(cap);
  if (!line) return;
  int n = snprintf(line, cap, "{\"s\":%u,\"v\":", id);
  tr_json_string(line + n, cap - (size_t)n - 2, text);
  strcat(line, "}");
  side_write_locked(line);
  free(line);
}

/* ---- strings ------------------------------------------------------------- */

static int strings_grow_locked(void) {
  uint32_t cap = g.cap_strings ? g.cap_strings * 2 : 1024;
  str_entry *t = calloc(cap, sizeof *t);
  if (!t) return -1;
  for (uint32_t i = 0; i < g.cap_strings; i++) {
    if (!g.strings[i].text) continue;
    uint32_t k = (uint32_t)(g.strings[i].hash & (cap - 1));
    while (t[k].text) k = (k + 1) & (cap - 1);
    t[k] = g.strings[i];
  }
  free(g.strings);
  g.strings = t;
  g.cap_strings = cap;
  return 0;
}

static uint32_t intern_locked(const char *s) {
  if (2 * (g.nstrings + 1) > g.cap_strings && strings_grow_locked() != 0) return 0;
  uint64_t h = hash_of(s);
  uint32_t k = (uint32_t)(h & (g.cap_strings - 1));
  while (g.strings[k].text) {
    if (g.strings[k].hash == h && strcmp(g.strings[k].text, s) == 0) return g.strings[k].id;
    k = (k + 1) & (g.cap_strings - 1);
  }
  char *copy = strdup(s);
  if (!copy) return 0;
  g.strings[k] = (str_entry){h, ++g.nstrings, copy};
  side_string_locked(g.nstrings, copy);
  return g.nstrings;
}

uint32_t tr_intern(const char *s) {
  if (!s || !tr_on()) return 0;
  pthread_mutex_lock(&g.mu);
  uint32_t id = intern_locked(s);
  pthread_mutex_unlock(&g.mu);
  return id;
}

uint32_t tr_intern_cached(uint32_t *slot, const char *s) {
  uint32_t id = __atomic_load_n(slot, __ATOMIC_RELAXED);
  if (id) return id;
  id = tr_intern(s);
  __atomic_store_n(slot, id, __ATOMIC_RELAXED);
  return id;
}

/* ---- opening the ring ---------------------------------------------------- */

static uint32_t env_capacity(void) {
  const char *v = getenv("FAULTLINE_TRACE_CAPACITY");
  if (!v || !*v) return DEFAULT_CAPACITY;
  unsigned long n = strtoul(v, NULL, 10);
  if (n < MIN_CAPACITY) return MIN_CAPACITY;
  return n > MAX_CAPACITY ? MAX_CAPACITY : (uint32_t)n;
}

/* Creates a ring file of its own in `dir`: journal.bin if no process took it, else journal-<pid>[-n].bin. */
static int create_ring(const char *dir, char *path, size_t cap) {
  for (int n = 0; n < 100; n++) {
    if (n == 0)
      snprintf(path, cap, "%s/journal.bin", dir);
    else if (n == 1)
      snprintf(path, cap, "%s/journal-%d.bin", dir, (int)getpid());
    else
      snprintf(path, cap, "%s/journal-%d-%d.bin", dir, (int)getpid(), n - 1);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

static void write_header(uint32_t capacity) {
  int32_t *hi = (int32_t *)g.base;
  double *hf = (double *)g.base;
  hi[FLJ_H_VERSION] = FLJ_JOURNAL_VERSION;
  hi[FLJ_H_RECORD_BYTES] = FLJ_RECORD_BYTES;
  hi[FLJ_H_CAPACITY] = (int32_t)capacity;
  hi[FLJ_H_PID] = (int32_t)getpid();
  double now = mono_ms();
  hf[FLJ_H_TIME_ORIGIN] = epoch_ms() - now;
  hf[FLJ_H_START_NOW] = now;
  __atomic_store_n(&hi[FLJ_H_MAGIC], (int32_t)FLJ_JOURNAL_MAGIC, __ATOMIC_RELEASE);
}

/* {"proc":{...}}: who wrote this journal, so the report can tie processes together. */
static void side_process_locked(void) {
  char exe[1024] = "";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  char line[8192];
  size_t len = (size_t)snprintf(line, sizeof line, "{\"proc\":{\"pid\":%d,\"ppid\":%d,\"exe\":", (int)getpid(),
                                (int)getppid());
  len += tr_json_string(line + len, sizeof line - len, exe);
  len += (size_t)snprintf(line + len, sizeof line - len, ",\"argv\":[");
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  char args[4096];
  ssize_t got = fd >= 0 ? read(fd, args, sizeof args - 1) : 0;
  if (fd >= 0) close(fd);
  int first = 1;
  for (ssize_t at = 0; got > 0 && at < got && len + 16 < sizeof line;) {
    args[got] = '\0';
    if (!first) line[len++] = ',';
    len += tr_json_string(line + len, sizeof line - len - 8, args + at);
    at += (ssize_t)strlen(args + at) + 1;
    first = 0;
  }
  snprintf(line + len, sizeof line - len, "]}}");
  side_write_locked(line);
}

static int open_locked(void) {
  const char *dir = getenv("FAULTLINE_TRACE_DIR");
  if (!dir || !*dir) return -1;
  char path[4096], side[4200];
  int fd = create_ring(dir, path, sizeof path);
  if (fd < 0) return -1;
  uint32_t capacity = env_capacity();
  size_t bytes = FLJ_HEADER_BYTES + (size_t)capacity * FLJ_RECORD_BYTES;
  if (ftruncate(fd, (off_t)bytes) != 0 || posix_fallocate(fd, 0, (off_t)bytes) != 0) {
    close(fd);
    return -1;
  }
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return -1;
  (void)madvise(p, bytes, MADV_POPULATE_WRITE);
  snprintf(side, sizeof side, "%s.side", path);
  g.side_fd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  g.base = p;
  g.bytes = bytes;
  g.capacity = capacity;
  g.seq = 0;
  g.events = 0;
  write_header(capacity);
  side_process_locked();
  /* strings interned before a fork keep their ids: the child's side file needs them too */
  for (uint32_t i = 0; i < g.cap_strings; i++)
    if (g.strings[i].text) side_string_locked(g.strings[i].id, g.strings[i].text);
  return 0;
}

/* In a forked child: the parent's ring stays the parent's; the child opens its own at its first call. */
static void after_fork_child(void) {
  pthread_mutex_init(&g.mu, NULL);
  if (g.base) munmap(g.base, g.bytes);
  if (g.side_fd >= 0) close(g.side_fd);
  g.base = NULL;
  g.side_fd = -1;
  g.described = 0;
  if (g.state == STATE_OPEN) g.state = STATE_UNTRIED;
  tr_allocs_reset();
}

static void before_fork(void) { pthread_mutex_lock(&g.mu); }
static void after_fork_parent(void) { pthread_mutex_unlock(&g.mu); }

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

int tr_on(void) {
  int s = g.state;
  if (__builtin_expect(s != STATE_UNTRIED, 1)) return s == STATE_OPEN;
  pthread_once(&g_atfork_once, install_atfork);
  pthread_mutex_lock(&g.mu);
  if (g.state == STATE_UNTRIED) g.state = open_locked() == 0 ? STATE_OPEN : STATE_OFF;
  s = g.state;
  pthread_mutex_unlock(&g.mu);
  return s == STATE_OPEN;
}

/* ---- records ------------------------------------------------------------- */

void tr_call_init(tr_call *c, int32_t kind, uint32_t name, uint64_t stream) {
  c->kind = kind;
  c->name = name;
  c->op = 0;
  c->device = tr_device();
  c->stream = stream;
  c->flags = 0;
  c->nptr = 0;
  c->nscalar = 0;
}

void tr_call_ptr(tr_call *c, uint32_t arg, uint64_t ptr, uint64_t bytes, int32_t access) {
  if (c->nptr == FLJ_MAX_POINTERS) {
    c->flags |= FLJ_FLAG_PTR_TRUNCATED;
    return;
  }
  int k = c->nptr++;
  c->ptr_arg[k] = arg;
  c->ptr[k] = ptr;
  c->ptr_bytes[k] = bytes;
  c->ptr_access[k] = access;
}

void tr_call_scalar(tr_call *c, uint32_t name, double value) {
  if (c->nscalar == FLJ_MAX_SCALARS) {
    c->flags |= FLJ_FLAG_SCALAR_TRUNCATED;
    return;
  }
  c->scalar_name[c->nscalar] = name;
  c->scalar[c->nscalar++] = value;
}

void tr_call_host(tr_call *c, uint64_t host) {
  c->host = host;
  c->flags |= FLJ_FLAG_HOST;
}

void tr_call_event(tr_call *c, uint64_t event) {
  c->event = event;
  c->flags |= FLJ_FLAG_EVENT;
}

static int32_t *slot_of(uint32_t seq) {
  size_t slot = (size_t)((seq - 1) % g.capacity);
  return (int32_t *)(g.base + FLJ_HEADER_BYTES + slot * FLJ_RECORD_BYTES);
}

static void fill_record(int32_t *ri, const tr_call *c, uint32_t seq, double now) {
  double *rf = (double *)ri;
  rf[FLJ_F_ID] = seq;
  rf[FLJ_F_T_BEFORE] = now;
  rf[FLJ_F_T_AFTER] = 0;
  ri[FLJ_R_KIND] = c->kind;
  ri[FLJ_R_NAME] = (int32_t)c->name;
  ri[FLJ_R_DEVICE] = c->device;
  ri[FLJ_R_STATUS] = 0;
  ri[FLJ_R_STEP] = FLJ_NONE;
  ri[FLJ_R_LAYER] = FLJ_NONE;
  ri[FLJ_R_OP] = (int32_t)c->op;
  rf[FLJ_F_STREAM] = (double)c->stream;
  if (c->flags & FLJ_FLAG_HOST) rf[FLJ_F_HOST] = (double)c->host;
  if (c->flags & FLJ_FLAG_EVENT) rf[FLJ_F_EVENT] = (double)c->event;
  if (c->flags & FLJ_FLAG_GEOMETRY) memcpy(&ri[FLJ_R_GEOMETRY], c->geometry, sizeof c->geometry);
  if (c->flags & FLJ_FLAG_ORDINAL) rf[FLJ_F_ORDINAL] = c->ordinal;
  for (int k = 0; k < c->nptr; k++) {
    rf[FLJ_F_PTR + 2 * k] = (double)c->ptr[k];
    rf[FLJ_F_PTR + 2 * k + 1] = (double)c->ptr_bytes[k];
    ri[FLJ_R_PTR_META + 2 * k] = (int32_t)c->ptr_arg[k];
    ri[FLJ_R_PTR_META + 2 * k + 1] = c->ptr_access[k] | (1 << 2); /* elem 1: untyped */
  }
  ri[FLJ_R_NPTR] = c->nptr;
  for (int k = 0; k < c->nscalar; k++) {
    rf[FLJ_F_SCALAR + k] = c->scalar[k];
    ri[FLJ_R_SCALAR_NAME + k] = (int32_t)c->scalar_name[k];
  }
  ri[FLJ_R_NSCALAR] = c->nscalar;
  ri[FLJ_R_FLAGS] = (int32_t)c->flags;
}

uint32_t tr_intent(const tr_call *c) {
  if (!tr_on()) return 0;
  double now = mono_ms();
  pthread_mutex_lock(&g.mu);
  if (!g.base) {
    pthread_mutex_unlock(&g.mu);
    return 0;
  }
  uint32_t seq = ++g.seq;
  int32_t *ri = slot_of(seq);
  /* a slot being overwritten loses its markers first: a half-written record is never read as whole */
  __atomic_store_n(&ri[FLJ_R_INTENT], 0, __ATOMIC_RELAXED);
  __atomic_store_n(&ri[FLJ_R_DONE], 0, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  fill_record(ri, c, seq, now);
  ri[FLJ_R_EV_INTENT] = ++g.events;
  ri[FLJ_R_EV_DONE] = 0;
  __atomic_store_n(&ri[FLJ_R_INTENT], (int32_t)seq, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g.mu);
  /* a journaled call means the driver is initialized: the device can be named now */
  if (__builtin_expect(!__atomic_load_n(&g.described, __ATOMIC_RELAXED), 0) && tr_describe_device &&
      !__atomic_exchange_n(&g.described, 1, __ATOMIC_ACQ_REL) && !tr_describe_device())
    __atomic_store_n(&g.described, 0, __ATOMIC_RELEASE);
  return seq;
}

static void done_locked(uint32_t seq, int32_t status, int has_result, uint64_t result) {
  if (!g.base || seq == 0 || (uint64_t)seq + g.capacity <= g.seq) return; /* overwritten already */
  int32_t *ri = slot_of(seq);
  double *rf = (double *)ri;
  int32_t kind = ri[FLJ_R_KIND];
  /* an asynchronous enqueue returns at once: its end time is not worth a clock read */
  int async = kind == FLJ_K_LAUNCH || kind == FLJ_K_EVENT_RECORD || kind == FLJ_K_EVENT_WAIT;
  rf[FLJ_F_T_AFTER] = async ? rf[FLJ_F_T_BEFORE] : mono_ms();
  ri[FLJ_R_STATUS] = status;
  if (has_result) {
    rf[FLJ_F_RESULT] = (double)result;
    ri[FLJ_R_FLAGS] |= FLJ_FLAG_RESULT;
  }
  ri[FLJ_R_EV_DONE] = ++g.events;
  __atomic_store_n(&ri[FLJ_R_DONE], (int32_t)seq, __ATOMIC_RELEASE);
}

void tr_done(uint32_t seq, int32_t status) {
  if (seq == 0) return;
  pthread_mutex_lock(&g.mu);
  done_locked(seq, status, 0, 0);
  pthread_mutex_unlock(&g.mu);
}

void tr_done_result(uint32_t seq, int32_t status, uint64_t result) {
  if (seq == 0) return;
  pthread_mutex_lock(&g.mu);
  done_locked(seq, status, 1, result);
  pthread_mutex_unlock(&g.mu);
}

/* ---- current device ------------------------------------------------------ */

static __thread int32_t t_device = -1;

int32_t tr_device(void) {
  if (__builtin_expect(t_device >= 0, 1)) return t_device;
  int32_t d = 0;
  if (tr_current_device && tr_current_device(&d) == 0 && d >= 0) {
    t_device = d;
    return d;
  }
  return 0;
}

void tr_device_changed(void) { t_device = -1; }
