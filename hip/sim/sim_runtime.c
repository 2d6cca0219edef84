/* sim backend: devices, memory, streams, events and faults on the CPU.
 *
 * Device memory: each device reserves one large PROT_NONE range. An
 * allocation is rounded up to whole pages, mapped read-write, and followed by
 * one unmapped guard page, so an overrun inside the last mapped page is silent
 * and one that reaches the next page faults. Allocation bump-allocates through
 * the range, so a freed range stays unmapped (a use after free faults) until
 * the range wraps; then freed holes are reused first-fit. fl_malloc(0)
 * returns success and a unique address of one unmapped page (touching it
 * faults); fl_free of that address releases it.
 *
 * Streams: in-order queues, each run by its own worker thread; stream 0 is
 * the device's default stream, with the legacy default stream's semantics:
 * an op on stream 0 starts after all work enqueued before it on the other
 * streams of the device, and an op on a created stream starts after all work
 * enqueued before it on stream 0 (created streams are blocking streams, as
 * from hipStreamCreate). Synchronous fl_memcpy / fl_memset first wait for
 * the whole device (so an earlier fault on any stream surfaces there), then
 * run on the default stream's worker. fl_free waits for the device too (as
 * hipFree / cudaFree do) before unmapping.
 *
 * Faults: a worker runs each kernel, copy and memset under sigsetjmp. The
 * process-wide SIGSEGV / SIGBUS handler finds the faulting thread among the
 * workers; when it is inside a guarded op it records the address and the
 * access and jumps back; otherwise it chains to the previously installed
 * handler. A fault in a kernel, or on the device side of a copy or memset,
 * poisons the device: queued ops are discarded and every later call but the
 * error and fault queries returns 700. A copy that faults on its (trusted)
 * host side fails with 1 and does not poison.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "launch_config.h"
#include "sim_internal.h"

#define GIB (1024ull * 1024ull * 1024ull)
#define SIM_MAX_DEVICES 64
#define SIM_MAX_WORKERS 4096
#define SIM_ALTSTACK_BYTES (64 * 1024)

/* ---- ops and queues ---------------------------------------------------- */

enum { OP_KERNEL, OP_COPY, OP_MEMSET, OP_RECORD, OP_WAIT, OP_BARRIER };

typedef struct sim_done {
  int done;
  int32_t status;
} sim_done;

struct sim_event;
struct sim_stream;

/* An OP_BARRIER waits until each listed stream has completed `target` ops. */
typedef struct sim_wait {
  struct sim_stream *stream;
  uint64_t target;
} sim_wait;

typedef struct sim_op {
  struct sim_op *next;
  int kind;
  uint64_t tag;
  char name[64];
  sim_kernel_fn fn;
  uint64_t dst, src, bytes;
  int value;
  struct sim_event *ev;
  uint64_t ev_seq;
  sim_done *done;
  size_t nwaits; /* OP_BARRIER: sim_wait entries in args */
  int32_t bad_status; /* OP_KERNEL: the fault its arguments make (sim_launch_checked); 0 runs it */
  uint64_t bad_addr;
  max_align_t args[];
} sim_op;

/* One slot per worker thread, scanned by the signal handler (no TLS there). */
typedef struct sim_worker_slot {
  _Atomic long tid;
  volatile sig_atomic_t in_guard;
  sigjmp_buf jmp;
  volatile uintptr_t fault_addr;
  volatile int fault_access;
} sim_worker_slot;

struct sim_dev;

typedef struct sim_stream {
  uint64_t id;
  struct sim_dev *dev;
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* worker: new op or stop */
  pthread_cond_t idle_cv; /* waiters: an op finished, or the device was poisoned */
  sim_op *head, *tail;
  uint64_t pending; /* queued + running */
  uint64_t enqueued, completed; /* ops pushed and finished, ever */
  int stop;
  int32_t deferred_error; /* a non-sticky async failure, returned by the next sync */
  int users;              /* waiters holding a pointer (protected by dev->mu) */
  pthread_t thread;
} sim_stream;

typedef struct sim_event {
  uint64_t id;
  int refs; /* queued ops that refer to it (protected by dev->mu) */
  int destroyed;
  uint64_t recorded_seq;  /* records enqueued */
  uint64_t completed_seq; /* highest record completed */
  uint64_t time_ns;       /* CLOCK_MONOTONIC of that completion */
} sim_event;

typedef struct sim_alloc {
  uintptr_t base;
  uint64_t requested;
  uint64_t mapped; /* read-write bytes from base */
  uint64_t span;   /* address space taken, including the guard page */
} sim_alloc;

typedef struct sim_dev {
  int32_t index;
  int32_t physical; /* its index among the FAULTLINE_SIM_DEVICES simulated devices */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* events completed, device poisoned, stream users gone */
  uintptr_t base;
  uint64_t range;
  uint64_t next; /* bump offset */
  uint64_t cap, live;
  sim_alloc *allocs; /* sorted by base */
  size_t nallocs, cap_allocs;
  sim_stream **streams; /* streams[0] is the default stream */
  size_t nstreams, cap_streams;
  sim_event **events;
  size_t nevents, cap_events;
  _Atomic int32_t poisoned;
  fl_fault_info fault;
} sim_dev;

typedef struct sim_host_alloc {
  uintptr_t base;
  uint64_t mapped;
} sim_host_alloc;

/* ---- globals ----------------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int32_t g_init_status;
static int32_t g_ndev;
static sim_dev g_devs[SIM_MAX_DEVICES];
static uint64_t g_page;
static uint64_t g_cap;
static _Atomic uint64_t g_tag;
static _Atomic uint64_t g_next_handle = 1;
static _Atomic int g_shutdown;

static pthread_mutex_t g_host_mu = PTHREAD_MUTEX_INITIALIZER;
static sim_host_alloc *g_host;
static size_t g_nhost, g_cap_host;

static sim_worker_slot g_slots[SIM_MAX_WORKERS];
static _Atomic int g_nslots; /* high-water mark of used slots */
static pthread_mutex_t g_workers_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_workers_cv = PTHREAD_COND_INITIALIZER;
static int g_live_workers;

static struct sigaction g_old_segv, g_old_bus;

/* ---- helpers ----------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 16;
  while (n < need) n *= 2;
  void *p = realloc(*arr, n * elem);
  if (!p) return -1;
  *arr = p;
  *cap = n;
  return 0;
}

static uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *s = getenv(name);
  if (!s || !*s) return dflt;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s) return dflt;
  return (uint64_t)v;
}

static int addr_in_any_device(uintptr_t a) {
  for (int32_t i = 0; i < g_ndev; i++)
    if (a >= g_devs[i].base && a - g_devs[i].base < g_devs[i].range) return 1;
  return 0;
}

/* ---- signals ----------------------------------------------------------- */

static void chain(int sig, siginfo_t *si, void *uc) {
  struct sigaction *old = sig == SIGSEGV ? &g_old_segv : &g_old_bus;
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) {
      old->sa_sigaction(sig, si, uc);
      return;
    }
  } else if (old->sa_handler == SIG_IGN) {
    return;
  } else if (old->sa_handler != SIG_DFL && old->sa_handler) {
    old->sa_handler(sig);
    return;
  }
  /* Default action: restore it and let the signal kill the process. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *ucv) {
  int saved = errno;
  long tid = syscall(SYS_gettid);
  int n = atomic_load(&g_nslots);
  for (int i = 0; i < n; i++) {
    sim_worker_slot *w = &g_slots[i];
    if (atomic_load_explicit(&w->tid, memory_order_relaxed) == tid && w->in_guard) {
      int access = 0;
#if defined(__x86_64__)
      ucontext_t *uc = ucv;
      access = (uc->uc_mcontext.gregs[REG_ERR] & 2) ? 2 : 1;
#endif
      w->fault_addr = (uintptr_t)si->si_addr;
      w->fault_access = access;
      w->in_guard = 0;
      errno = saved;
      siglongjmp(w->jmp, 1);
    }
  }
  errno = saved;
  chain(sig, si, ucv);
}

static void install_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
}

static sim_worker_slot *claim_slot(void) {
  long tid = syscall(SYS_gettid);
  for (int i = 0; i < SIM_MAX_WORKERS; i++) {
    long expect = 0;
    if (atomic_compare_exchange_strong(&g_slots[i].tid, &expect, tid)) {
      g_slots[i].in_guard = 0;
      int hw = atomic_load(&g_nslots);
      while (hw < i + 1 && !atomic_compare_exchange_weak(&g_nslots, &hw, i + 1)) {
      }
      return &g_slots[i];
    }
  }
  return NULL;
}

/* ---- init -------------------------------------------------------------- */

static sim_stream *stream_new(sim_dev *d, uint64_t id);

/* The simulated devices this process sees, in ordinal order, as CUDA reads
 * CUDA_VISIBLE_DEVICES: FAULTLINE_SIM_VISIBLE_DEVICES ("2,0") lists indexes
 * below the device count; the list ends at the first entry that is not one or
 * repeats one; set and empty, no device is visible. Unset: all, in order. */
static int32_t visible_devices(uint64_t ndev, int32_t *out) {
  const char *s = getenv("FAULTLINE_SIM_VISIBLE_DEVICES");
  int32_t n = 0;
  if (!s) {
    for (uint64_t i = 0; i < ndev; i++) out[n++] = (int32_t)i;
    return n;
  }
  while (n < (int32_t)ndev) {
    while (*s == ' ') s++;
    if (*s < '0' || *s > '9') break;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v >= ndev) break;
    int seen = 0;
    for (int32_t k = 0; k < n; k++) seen |= out[k] == (int32_t)v;
    if (seen) break;
    out[n++] = (int32_t)v;
    for (s = end; *s == ' '; s++) {
    }
    if (*s != ',') break;
    s++;
  }
  return n;
}

static void sim_init_once(void) {
  long pg = sysconf(_SC_PAGESIZE);
  g_page = pg > 0 ? (uint64_t)pg : 4096;
  g_cap = env_u64("FAULTLINE_SIM_MEMORY", 8 * GIB);
  uint64_t ndev = env_u64("FAULTLINE_SIM_DEVICES", 1);
  if (ndev > SIM_MAX_DEVICES) ndev = SIM_MAX_DEVICES;
  uint64_t range = 256 * GIB;
  if (g_cap > range / 4) range = round_up(g_cap * 4, GIB);
  install_handlers();
  int32_t phys[SIM_MAX_DEVICES];
  int32_t nvis = visible_devices(ndev, phys);
  for (int32_t i = 0; i < nvis; i++) {
    sim_dev *d = &g_devs[i];
    d->index = i;
    d->physical = phys[i];
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* Where address space is limited (ulimit -v, valgrind), settle for less. */
    void *p = MAP_FAILED;
    for (; range >= GIB; range /= 2) {
      p = mmap(NULL, range, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p != MAP_FAILED) break;
    }
    /* TypeScript holds addresses as numbers: the range must end below 2^53. */
    if (p != MAP_FAILED && (uint64_t)(uintptr_t)p + range > (1ull << 53)) {
      munmap(p, range);
      p = MAP_FAILED;
    }
    if (p == MAP_FAILED) {
      g_init_status = FL_ERROR_NOT_INITIALIZED;
      return;
    }
    d->base = (uintptr_t)p;
    d->range = range;
    d->cap = g_cap;
    if (grow((void **)&d->streams, &d->cap_streams, 1, sizeof *d->streams)) {
      g_init_status = FL_ERROR_NOT_INITIALIZED;
      return;
    }
    sim_stream *s = stream_new(d, 0);
    if (!s) {
      g_init_status = FL_ERROR_NOT_INITIALIZED;
      return;
    }
    d->streams[0] = s;
    d->nstreams = 1;
    g_ndev = i + 1;
  }
}

/* Enters an export that takes a device: initializes, checks the ordinal and,
 * when `sticky` is set, the device's poison. */
static int32_t enter(int32_t dev, sim_dev **out, int sticky) {
  pthread_once(&g_once, sim_init_once);
  if (g_init_status) return sim_fail(g_init_status);
  if (dev < 0 || dev >= g_ndev) return sim_fail(FL_ERROR_INVALID_DEVICE);
  sim_set_current_device(dev);
  sim_dev *d = &g_devs[dev];
  if (sticky && atomic_load(&d->poisoned)) return sim_fail(atomic_load(&d->poisoned));
  *out = d;
  return 0;
}

SIM_HIDDEN int32_t sim_enter(int32_t dev, int sticky) {
  sim_dev *d;
  return enter(dev, &d, sticky);
}

SIM_HIDDEN int32_t sim_device_sticky(int32_t dev) {
  pthread_once(&g_once, sim_init_once);
  if (dev < 0 || dev >= g_ndev) return 0;
  return atomic_load(&g_devs[dev].poisoned);
}

/* ---- faults ------------------------------------------------------------ */

/* Poisons the device with the first fault and wakes every waiter. */
static void poison(sim_dev *d, sim_stream *s, const sim_op *op, uintptr_t addr, int access, int32_t status) {
  pthread_mutex_lock(&d->mu);
  if (!atomic_load(&d->poisoned)) {
    memset(&d->fault, 0, sizeof d->fault);
    d->fault.status = status;
    d->fault.device = d->index;
    d->fault.address = (uint64_t)addr;
    d->fault.stream = s->id;
    d->fault.tag = op->tag;
    snprintf(d->fault.op, sizeof d->fault.op, "%s", op->name);
    d->fault.access = access;
    atomic_store(&d->poisoned, status);
  }
  pthread_cond_broadcast(&d->cv);
  for (size_t i = 0; i < d->nstreams; i++) {
    pthread_mutex_lock(&d->streams[i]->mu);
    pthread_cond_broadcast(&d->streams[i]->idle_cv);
    pthread_mutex_unlock(&d->streams[i]->mu);
  }
  pthread_mutex_unlock(&d->mu);
}

static __attribute__((noinline)) void run_body(const sim_op *op) {
  switch (op->kind) {
  case OP_KERNEL:
    op->fn(op->args);
    break;
  case OP_COPY:
    memmove((void *)(uintptr_t)op->dst, (const void *)(uintptr_t)op->src, (size_t)op->bytes);
    break;
  case OP_MEMSET:
    memset((void *)(uintptr_t)op->dst, op->value, (size_t)op->bytes);
    break;
  }
}

/* Runs the op under the fault guard: 0, or 1 after a fault (w holds it). */
static __attribute__((noinline)) int run_guarded(sim_worker_slot *w, const sim_op *op) {
  if (sigsetjmp(w->jmp, 0) == 0) {
    w->in_guard = 1;
    atomic_signal_fence(memory_order_seq_cst);
    run_body(op);
    atomic_signal_fence(memory_order_seq_cst);
    w->in_guard = 0;
    return 0;
  }
  /* Back from the handler: the signals it blocked are still blocked. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSEGV);
  sigaddset(&set, SIGBUS);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  return 1;
}

static void event_unref(sim_event *ev) {
  if (--ev->refs == 0 && ev->destroyed) free(ev);
}

static void stream_put(sim_dev *d, sim_stream *s);

/* Waits for the streams a barrier lists, then releases them. */
static void run_barrier(sim_dev *d, const sim_op *op) {
  const sim_wait *waits = (const sim_wait *)op->args;
  for (size_t i = 0; i < op->nwaits; i++) {
    sim_stream *t = waits[i].stream;
    pthread_mutex_lock(&t->mu);
    while (t->completed < waits[i].target && !atomic_load(&d->poisoned) && !atomic_load(&g_shutdown))
      pthread_cond_wait(&t->idle_cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    stream_put(d, t);
  }
}

static int32_t run_op(sim_stream *s, sim_worker_slot *w, sim_op *op) {
  sim_dev *d = s->dev;
  int32_t status = 0;
  if (op->kind == OP_BARRIER) {
    run_barrier(d, op);
    return 0;
  }
  if (atomic_load(&d->poisoned) || atomic_load(&g_shutdown)) {
    status = atomic_load(&d->poisoned) ? atomic_load(&d->poisoned) : FL_ERROR_ILLEGAL_ADDRESS;
    if (op->ev) {
      pthread_mutex_lock(&d->mu);
      event_unref(op->ev);
      pthread_mutex_unlock(&d->mu);
    }
    return status;
  }
  switch (op->kind) {
  case OP_RECORD:
    pthread_mutex_lock(&d->mu);
    if (op->ev_seq > op->ev->completed_seq) {
      op->ev->completed_seq = op->ev_seq;
      op->ev->time_ns = now_ns();
    }
    event_unref(op->ev);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    break;
  case OP_WAIT:
    pthread_mutex_lock(&d->mu);
    while (op->ev->completed_seq < op->ev_seq && !atomic_load(&d->poisoned) && !atomic_load(&g_shutdown))
      pthread_cond_wait(&d->cv, &d->mu);
    event_unref(op->ev);
    pthread_mutex_unlock(&d->mu);
    break;
  default:
    if (!w) return FL_ERROR_UNKNOWN; /* no worker slot: cannot guard the op */
    if (op->kind == OP_KERNEL && op->bad_status) {
      /* an argument no GPU could touch: the kernel faults when it runs */
      poison(d, s, op, (uintptr_t)op->bad_addr, 0, op->bad_status);
      status = op->bad_status;
    } else if (run_guarded(w, op)) {
      uintptr_t addr = w->fault_addr;
      if (op->kind == OP_COPY && !addr_in_any_device(addr)) {
        status = FL_ERROR_INVALID_VALUE; /* the host side of a copy was bad */
      } else {
        poison(d, s, op, addr, w->fault_access, FL_ERROR_ILLEGAL_ADDRESS);
        status = FL_ERROR_ILLEGAL_ADDRESS;
      }
    }
    break;
  }
  return status;
}

/* ---- workers ----------------------------------------------------------- */

static void *worker_main(void *arg) {
  sim_stream *s = arg;
  sim_worker_slot *w = claim_slot();
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = malloc(SIM_ALTSTACK_BYTES);
  if (ss.ss_sp) {
    ss.ss_size = SIM_ALTSTACK_BYTES;
    sigaltstack(&ss, NULL);
  }
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stop && !atomic_load(&g_shutdown)) pthread_cond_wait(&s->work_cv, &s->mu);
    if (!s->head) break;
    sim_op *op = s->head;
    s->head = op->next;
    if (!s->head) s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    int32_t status = run_op(s, w, op);
    pthread_mutex_lock(&s->mu);
    if (op->done) {
      op->done->status = status;
      op->done->done = 1;
    } else if (status && status != FL_ERROR_ILLEGAL_ADDRESS && !s->deferred_error) {
      s->deferred_error = status;
    }
    s->pending--;
    s->completed++;
    pthread_cond_broadcast(&s->idle_cv);
    free(op);
  }
  pthread_mutex_unlock(&s->mu);
  if (ss.ss_sp) {
    stack_t off;
    memset(&off, 0, sizeof off);
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, NULL);
    free(ss.ss_sp);
  }
  if (w) atomic_store(&w->tid, 0);
  pthread_mutex_lock(&g_workers_mu);
  g_live_workers--;
  pthread_cond_broadcast(&g_workers_cv);
  pthread_mutex_unlock(&g_workers_mu);
  return NULL;
}

static sim_stream *stream_new(sim_dev *d, uint64_t id) {
  sim_stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->id = id;
  s->dev = d;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work_cv, NULL);
  pthread_cond_init(&s->idle_cv, NULL);
  /* Workers start with every signal but the fault signals blocked, so that
   * process-directed signals go to the host's own threads. */
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_mutex_lock(&g_workers_mu);
  int rc = pthread_create(&s->thread, NULL, worker_main, s);
  if (rc == 0) g_live_workers++;
  pthread_mutex_unlock(&g_workers_mu);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->idle_cv);
    free(s);
    return NULL;
  }
  return s;
}

/* Caller holds d->mu. */
static sim_stream *find_stream(sim_dev *d, uint64_t id) {
  for (size_t i = 0; i < d->nstreams; i++)
    if (d->streams[i]->id == id) return d->streams[i];
  return NULL;
}

/* Caller holds d->mu. */
static sim_event *find_event(sim_dev *d, uint64_t id) {
  if (id == 0) return NULL;
  for (size_t i = 0; i < d->nevents; i++)
    if (d->events[i]->id == id) return d->events[i];
  return NULL;
}

/* The default stream and created streams synchronize with each other, as
 * the legacy default stream does with blocking streams on a GPU: an op on
 * stream 0 waits for the work enqueued before it on every other stream, and
 * an op on another stream waits for the work enqueued before it on stream 0.
 * Returns the barrier op to push before the op, or NULL when nothing earlier
 * is outstanding. Caller holds d->mu. */
static sim_op *barrier_for(sim_dev *d, sim_stream *s) {
  sim_op *b = NULL;
  for (size_t i = 0; i < d->nstreams; i++) {
    sim_stream *t = d->streams[i];
    if (t == s || (s->id != 0 && t->id != 0)) continue;
    pthread_mutex_lock(&t->mu);
    uint64_t pending = t->pending, target = t->enqueued;
    pthread_mutex_unlock(&t->mu);
    if (!pending) continue;
    if (!b) {
      b = calloc(1, sizeof *b + d->nstreams * sizeof(sim_wait));
      if (!b) return NULL; /* out of memory: run without the ordering rather than fail */
      b->kind = OP_BARRIER;
      snprintf(b->name, sizeof b->name, "barrier");
    }
    sim_wait *w = (sim_wait *)b->args + b->nwaits++;
    w->stream = t;
    w->target = target;
    t->users++;
  }
  return b;
}

static void push_one(sim_stream *s, sim_op *op) {
  op->next = NULL;
  if (s->tail)
    s->tail->next = op;
  else
    s->head = op;
  s->tail = op;
  s->pending++;
  s->enqueued++;
}

/* Pushes op on s, after the barrier that orders it against the default
 * stream. Caller holds d->mu, which this releases (after taking s->mu, so
 * that a concurrent destroy sees the op). */
static void push_locked(sim_dev *d, sim_stream *s, sim_op *op) {
  sim_op *barrier = barrier_for(d, s);
  pthread_mutex_lock(&s->mu);
  pthread_mutex_unlock(&d->mu);
  if (barrier) push_one(s, barrier);
  push_one(s, op);
  pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
}

static int32_t enqueue(sim_dev *d, uint64_t stream, sim_op *op) {
  pthread_mutex_lock(&d->mu);
  sim_stream *s = find_stream(d, stream);
  if (!s) {
    pthread_mutex_unlock(&d->mu);
    free(op);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  push_locked(d, s, op);
  return 0;
}

static sim_op *op_new(int kind, const char *name, size_t args_size) {
  sim_op *op = calloc(1, sizeof *op + args_size);
  if (!op) return NULL;
  op->kind = kind;
  op->tag = atomic_load(&g_tag);
  snprintf(op->name, sizeof op->name, "%s", name ? name : "");
  return op;
}

/* Takes a counted reference to stream `id` (NULL when unknown). */
static sim_stream *stream_get(sim_dev *d, uint64_t id) {
  pthread_mutex_lock(&d->mu);
  sim_stream *s = find_stream(d, id);
  if (s) s->users++;
  pthread_mutex_unlock(&d->mu);
  return s;
}

static void stream_put(sim_dev *d, sim_stream *s) {
  pthread_mutex_lock(&d->mu);
  if (--s->users == 0) pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

/* Waits until s has nothing queued or running, or the device is poisoned.
 * Returns 700 when poisoned, else (when `take`) the stream's deferred error,
 * which it clears. */
static int32_t stream_drain(sim_dev *d, sim_stream *s, int take) {
  pthread_mutex_lock(&s->mu);
  while (s->pending && !atomic_load(&d->poisoned)) pthread_cond_wait(&s->idle_cv, &s->mu);
  int32_t status = atomic_load(&d->poisoned);
  if (!status && take) {
    status = s->deferred_error;
    s->deferred_error = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return status;
}

static int32_t device_drain(sim_dev *d, int take) {
  pthread_mutex_lock(&d->mu);
  size_t n = d->nstreams;
  sim_stream **snap = malloc(n * sizeof *snap);
  if (!snap) {
    pthread_mutex_unlock(&d->mu);
    return FL_ERROR_OUT_OF_MEMORY;
  }
  for (size_t i = 0; i < n; i++) {
    snap[i] = d->streams[i];
    snap[i]->users++;
  }
  pthread_mutex_unlock(&d->mu);
  int32_t status = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t st = stream_drain(d, snap[i], take);
    if (st && (!status || st == FL_ERROR_ILLEGAL_ADDRESS)) status = st;
    stream_put(d, snap[i]);
  }
  free(snap);
  return status;
}

/* Enqueues op on the default stream and waits for it. */
static int32_t run_sync(sim_dev *d, sim_op *op) {
  sim_done done = {0, 0};
  op->done = &done;
  pthread_mutex_lock(&d->mu);
  sim_stream *s = d->streams[0];
  push_locked(d, s, op);
  pthread_mutex_lock(&s->mu);
  while (!done.done) pthread_cond_wait(&s->idle_cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  return done.status;
}

/* ---- shutdown ---------------------------------------------------------- */

/* At exit (or unload) the workers stop without running what is queued, so
 * that the library never holds the process up. */
__attribute__((destructor)) static void sim_shutdown(void) {
  if (!g_ndev) return;
  atomic_store(&g_shutdown, 1);
  for (int32_t i = 0; i < g_ndev; i++) {
    sim_dev *d = &g_devs[i];
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    for (size_t j = 0; j < d->nstreams; j++) {
      sim_stream *s = d->streams[j];
      pthread_mutex_lock(&s->mu);
      s->stop = 1;
      pthread_cond_broadcast(&s->work_cv);
      pthread_cond_broadcast(&s->idle_cv);
      pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&d->mu);
  }
  /* Give running kernels a moment; a worker stuck in a kernel is left behind. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += 500 * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&g_workers_mu);
  while (g_live_workers > 0)
    if (pthread_cond_timedwait(&g_workers_cv, &g_workers_mu, &until) == ETIMEDOUT) break;
  int all_gone = g_live_workers == 0;
  pthread_mutex_unlock(&g_workers_mu);
  if (!all_gone) return;
  for (int32_t i = 0; i < g_ndev; i++) {
    sim_dev *d = &g_devs[i];
    for (size_t j = 0; j < d->nstreams; j++) pthread_join(d->streams[j]->thread, NULL);
  }
  /* On unload the handler's code goes away: give the signals back to the
   * previous handlers, unless someone installed theirs over ours since. */
  struct sigaction cur;
  if (sigaction(SIGSEGV, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault)
    sigaction(SIGSEGV, &g_old_segv, NULL);
  if (sigaction(SIGBUS, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault)
    sigaction(SIGBUS, &g_old_bus, NULL);
}

/* ---- library ----------------------------------------------------------- */

FL_EXPORT int32_t fl_set_tag(uint64_t tag) {
  atomic_store(&g_tag, tag);
  return 0;
}

FL_EXPORT int32_t fl_fault_info_get(int32_t dev, fl_fault_info *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 0);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&d->mu);
  if (atomic_load(&d->poisoned)) {
    *out = d->fault;
  } else {
    memset(out, 0, sizeof *out);
    out->device = dev;
  }
  pthread_mutex_unlock(&d->mu);
  return 0;
}

/* ---- devices ----------------------------------------------------------- */

FL_EXPORT int32_t fl_device_count(int32_t *out) {
  pthread_once(&g_once, sim_init_once);
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  if (g_init_status) return sim_fail(g_init_status);
  *out = g_ndev;
  return 0;
}

FL_EXPORT int32_t fl_device_props_get(int32_t dev, fl_device_props *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 0);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "faultline sim (CPU)");
  out->total_mem = d->cap;
  fl_launch_limits l = fl_launch_limits_default();
  for (int i = 0; i < 3; i++) {
    out->max_grid[i] = l.max_grid[i];
    out->max_block[i] = l.max_block[i];
  }
  out->max_threads_per_block = l.max_threads_per_block;
  out->warp_size = 32;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  out->multiprocessor_count = cpus > 0 ? (int32_t)cpus : 1;
  out->major = 0;
  out->minor = 0;
  return 0;
}

FL_EXPORT int32_t fl_device_bus_id(int32_t dev, char *buf, int32_t cap) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 0);
  if (st) return st;
  if (!buf || cap <= 0) return sim_fail(FL_ERROR_INVALID_VALUE);
  snprintf(buf, (size_t)cap, "sim:%d", d->physical);
  return 0;
}

FL_EXPORT int32_t fl_mem_info(int32_t dev, uint64_t *free_bytes, uint64_t *total_bytes) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 0);
  if (st) return st;
  if (!free_bytes || !total_bytes) return sim_fail(FL_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&d->mu);
  *free_bytes = d->cap - d->live;
  *total_bytes = d->cap;
  pthread_mutex_unlock(&d->mu);
  return 0;
}

FL_EXPORT int32_t fl_device_synchronize(int32_t dev) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  return sim_fail(device_drain(d, 1));
}

/* ---- memory ------------------------------------------------------------ */

/* Index of the allocation containing a, or -1. Caller holds d->mu. */
static ptrdiff_t alloc_find(sim_dev *d, uintptr_t a) {
  size_t lo = 0, hi = d->nallocs;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (d->allocs[mid].base <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return -1;
  sim_alloc *al = &d->allocs[lo - 1];
  if (a - al->base < al->span) return (ptrdiff_t)(lo - 1);
  return -1;
}

/* 1 when [a, a + bytes) lies inside one live allocation's requested size. */
static int range_valid(sim_dev *d, uint64_t a, uint64_t bytes) {
  pthread_mutex_lock(&d->mu);
  ptrdiff_t i = alloc_find(d, (uintptr_t)a);
  int ok = 0;
  if (i >= 0) {
    sim_alloc *al = &d->allocs[i];
    uint64_t off = a - al->base;
    ok = off <= al->requested && bytes <= al->requested - off;
  }
  pthread_mutex_unlock(&d->mu);
  return ok;
}

/* First offset >= from where `span` bytes fit between live allocations. */
static int find_gap(sim_dev *d, uint64_t from, uint64_t span, uint64_t *out) {
  uint64_t cursor = from;
  for (size_t i = 0; i < d->nallocs; i++) {
    uint64_t b = d->allocs[i].base - d->base;
    uint64_t e = b + d->allocs[i].span;
    if (e <= cursor) continue;
    if (b >= cursor && b - cursor >= span) break;
    cursor = e;
  }
  if (cursor > d->range || d->range - cursor < span) return 0;
  *out = cursor;
  return 1;
}

FL_EXPORT int32_t fl_malloc(int32_t dev, uint64_t bytes, uint64_t *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  if (bytes > d->range) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  uint64_t mapped = round_up(bytes, g_page);
  uint64_t span = mapped + g_page; /* one guard page (or one bare page for 0 bytes) */
  pthread_mutex_lock(&d->mu);
  if (bytes > d->cap - d->live) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  uint64_t off;
  if (!find_gap(d, d->next, span, &off) && !find_gap(d, 0, span, &off)) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  if (grow((void **)&d->allocs, &d->cap_allocs, d->nallocs + 1, sizeof *d->allocs)) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  uintptr_t base = d->base + off;
  if (mapped && mprotect((void *)base, mapped, PROT_READ | PROT_WRITE) != 0) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  size_t pos = 0;
  while (pos < d->nallocs && d->allocs[pos].base < base) pos++;
  memmove(&d->allocs[pos + 1], &d->allocs[pos], (d->nallocs - pos) * sizeof *d->allocs);
  d->allocs[pos] = (sim_alloc){base, bytes, mapped, span};
  d->nallocs++;
  d->live += bytes;
  d->next = off + span;
  pthread_mutex_unlock(&d->mu);
  *out = (uint64_t)base;
  return 0;
}

FL_EXPORT int32_t fl_free(int32_t dev, uint64_t ptr) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (ptr == 0) return 0;
  pthread_mutex_lock(&d->mu);
  ptrdiff_t i = alloc_find(d, (uintptr_t)ptr);
  int known = i >= 0 && d->allocs[i].base == (uintptr_t)ptr;
  pthread_mutex_unlock(&d->mu);
  if (!known) return sim_fail(FL_ERROR_INVALID_VALUE);
  /* Like hipFree, wait for the device first: work already enqueued may use it. */
  st = device_drain(d, 0);
  if (st == FL_ERROR_ILLEGAL_ADDRESS) return sim_fail(st);
  pthread_mutex_lock(&d->mu);
  i = alloc_find(d, (uintptr_t)ptr);
  if (i < 0 || d->allocs[i].base != (uintptr_t)ptr) {
    pthread_mutex_unlock(&d->mu); /* freed meanwhile by another thread */
    return sim_fail(FL_ERROR_INVALID_VALUE);
  }
  sim_alloc al = d->allocs[i];
  if (al.mapped) {
    mprotect((void *)al.base, al.mapped, PROT_NONE);
    madvise((void *)al.base, al.mapped, MADV_DONTNEED);
  }
  memmove(&d->allocs[i], &d->allocs[i + 1], (d->nallocs - (size_t)i - 1) * sizeof *d->allocs);
  d->nallocs--;
  d->live -= al.requested;
  pthread_mutex_unlock(&d->mu);
  return 0;
}

FL_EXPORT int32_t fl_host_malloc(int32_t dev, uint64_t bytes, uint64_t *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  uint64_t mapped = round_up(bytes ? bytes : 1, g_page);
  if (mapped < bytes) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  pthread_mutex_lock(&g_host_mu);
  if (grow((void **)&g_host, &g_cap_host, g_nhost + 1, sizeof *g_host)) {
    pthread_mutex_unlock(&g_host_mu);
    munmap(p, mapped);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  g_host[g_nhost++] = (sim_host_alloc){(uintptr_t)p, mapped};
  pthread_mutex_unlock(&g_host_mu);
  *out = (uint64_t)(uintptr_t)p;
  return 0;
}

FL_EXPORT int32_t fl_host_free(int32_t dev, uint64_t ptr) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (ptr == 0) return 0;
  pthread_mutex_lock(&g_host_mu);
  size_t i = 0;
  while (i < g_nhost && g_host[i].base != (uintptr_t)ptr) i++;
  if (i == g_nhost) {
    pthread_mutex_unlock(&g_host_mu);
    return sim_fail(FL_ERROR_INVALID_VALUE);
  }
  sim_host_alloc h = g_host[i];
  g_host[i] = g_host[--g_nhost];
  pthread_mutex_unlock(&g_host_mu);
  /* Like hipHostFree, wait for the device: a queued async copy may use it. */
  device_drain(d, 0);
  munmap((void *)h.base, h.mapped);
  return 0;
}

/* Validates a copy and builds its op (NULL with *status set on failure). */
static sim_op *copy_op(sim_dev *d, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind, int32_t *status) {
  *status = 0;
  int dst_dev, src_dev;
  switch (kind) {
  case FL_MEMCPY_H2H: dst_dev = 0; src_dev = 0; break;
  case FL_MEMCPY_H2D: dst_dev = 1; src_dev = 0; break;
  case FL_MEMCPY_D2H: dst_dev = 0; src_dev = 1; break;
  case FL_MEMCPY_D2D: dst_dev = 1; src_dev = 1; break;
  default: *status = sim_fail(FL_ERROR_INVALID_MEMCPY_DIRECTION); return NULL;
  }
  if ((dst_dev && !range_valid(d, dst, bytes)) || (src_dev && !range_valid(d, src, bytes))) {
    *status = sim_fail(FL_ERROR_INVALID_VALUE);
    return NULL;
  }
  sim_op *op = op_new(OP_COPY, "memcpy", 0);
  if (!op) {
    *status = sim_fail(FL_ERROR_OUT_OF_MEMORY);
    return NULL;
  }
  op->dst = dst;
  op->src = src;
  op->bytes = bytes;
  return op;
}

static sim_op *memset_op(sim_dev *d, uint64_t dst, int32_t value, uint64_t bytes, int32_t *status) {
  *status = 0;
  if (!range_valid(d, dst, bytes)) {
    *status = sim_fail(FL_ERROR_INVALID_VALUE);
    return NULL;
  }
  sim_op *op = op_new(OP_MEMSET, "memset", 0);
  if (!op) {
    *status = sim_fail(FL_ERROR_OUT_OF_MEMORY);
    return NULL;
  }
  op->dst = dst;
  op->value = value;
  op->bytes = bytes;
  return op;
}

/* A synchronous copy or memset: waits for the whole device first (so that an
 * earlier fault on any stream surfaces here), then runs on the default stream. */
static int32_t sync_op(sim_dev *d, sim_op *op) {
  int32_t st = device_drain(d, 0);
  if (st == FL_ERROR_ILLEGAL_ADDRESS) {
    free(op);
    return sim_fail(st);
  }
  return sim_fail(run_sync(d, op));
}

FL_EXPORT int32_t fl_memcpy(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_op *op = copy_op(d, dst, src, bytes, kind, &st);
  if (!op) return st;
  if (bytes == 0) {
    free(op);
    return 0;
  }
  return sync_op(d, op);
}

FL_EXPORT int32_t fl_memcpy_async(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind,
                                  uint64_t stream) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_op *op = copy_op(d, dst, src, bytes, kind, &st);
  if (!op) return st;
  if (bytes == 0) {
    free(op);
    pthread_mutex_lock(&d->mu);
    int ok = find_stream(d, stream) != NULL;
    pthread_mutex_unlock(&d->mu);
    return ok ? 0 : sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  return enqueue(d, stream, op);
}

FL_EXPORT int32_t fl_memset(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_op *op = memset_op(d, dst, value, bytes, &st);
  if (!op) return st;
  if (bytes == 0) {
    free(op);
    return 0;
  }
  return sync_op(d, op);
}

FL_EXPORT int32_t fl_memset_async(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes, uint64_t stream) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_op *op = memset_op(d, dst, value, bytes, &st);
  if (!op) return st;
  return enqueue(d, stream, op);
}

/* ---- peer copies -------------------------------------------------------- */

/* Enters both devices of a peer copy and checks both ends: each inside one
 * live allocation of its own device (1 otherwise, as hipMemcpyPeer refuses
 * a pointer it does not know). The destination ends up the current device. */
static int32_t peer_enter(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes,
                          sim_dev **dd, sim_dev **sd) {
  int32_t st = enter(src_dev, sd, 1);
  if (!st) st = enter(dst_dev, dd, 1);
  if (st) return st;
  if (!range_valid(*dd, dst, bytes) || !range_valid(*sd, src, bytes)) return sim_fail(FL_ERROR_INVALID_VALUE);
  return 0;
}

static sim_op *peer_op(uint64_t dst, uint64_t src, uint64_t bytes) {
  sim_op *op = op_new(OP_COPY, "memcpy_peer", 0);
  if (!op) return NULL;
  op->dst = dst;
  op->src = src;
  op->bytes = bytes;
  return op;
}

FL_EXPORT int32_t fl_memcpy_peer(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes) {
  sim_dev *dd, *sd;
  int32_t st = peer_enter(dst_dev, dst, src_dev, src, bytes, &dd, &sd);
  if (st || bytes == 0) return st;
  /* the source's work first (a fault there surfaces here), then the copy after the destination's */
  st = device_drain(sd, 0);
  if (st == FL_ERROR_ILLEGAL_ADDRESS) return sim_fail(st);
  sim_op *op = peer_op(dst, src, bytes);
  if (!op) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  return sync_op(dd, op);
}

FL_EXPORT int32_t fl_memcpy_peer_async(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src,
                                       uint64_t bytes, uint64_t stream) {
  sim_dev *dd, *sd;
  int32_t st = peer_enter(dst_dev, dst, src_dev, src, bytes, &dd, &sd);
  if (st) return st;
  if (bytes == 0) {
    pthread_mutex_lock(&dd->mu);
    int ok = find_stream(dd, stream) != NULL;
    pthread_mutex_unlock(&dd->mu);
    return ok ? 0 : sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  sim_op *op = peer_op(dst, src, bytes);
  if (!op) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  return enqueue(dd, stream, op);
}

/* ---- launches ---------------------------------------------------------- */

SIM_HIDDEN int32_t sim_launch(int32_t dev, uint64_t stream, const char *name, sim_kernel_fn fn, const void *args,
                              size_t args_size) {
  return sim_launch_checked(dev, stream, name, fn, args, args_size, 0, 0);
}

SIM_HIDDEN int32_t sim_pointer_status(int32_t dev, uint64_t addr, uint32_t elem) {
  if (addr == 0) return 0; /* a null pointer faults where it is touched, like any unmapped page */
  if (elem > 1 && addr % elem) return FL_ERROR_MISALIGNED_ADDRESS;
  if (dev >= 0 && dev < g_ndev && addr >= g_devs[dev].base && addr - g_devs[dev].base < g_devs[dev].range) return 0;
  int pinned = 0;
  pthread_mutex_lock(&g_host_mu);
  for (size_t i = 0; i < g_nhost && !pinned; i++)
    pinned = addr >= g_host[i].base && addr - g_host[i].base < g_host[i].mapped;
  pthread_mutex_unlock(&g_host_mu);
  return pinned ? 0 : FL_ERROR_ILLEGAL_ADDRESS;
}

SIM_HIDDEN int32_t sim_launch_checked(int32_t dev, uint64_t stream, const char *name, sim_kernel_fn fn,
                                      const void *args, size_t args_size, int32_t bad_status, uint64_t bad_addr) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (!fn || (args_size && !args)) return sim_fail(FL_ERROR_INVALID_VALUE);
  sim_op *op = op_new(OP_KERNEL, name, args_size);
  if (!op) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  op->fn = fn;
  op->bad_status = bad_status;
  op->bad_addr = bad_addr;
  if (args_size) memcpy(op->args, args, args_size);
  return enqueue(d, stream, op);
}

SIM_HIDDEN int32_t sim_check_launch(int32_t dev, const uint32_t grid[3], const uint32_t block[3]) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 0);
  if (st) return st;
  if (!grid || !block) return sim_fail(FL_ERROR_INVALID_CONFIGURATION);
  fl_launch_dims dims = fl_launch_dims_make(grid[0], grid[1], grid[2], block[0], block[1], block[2]);
  return sim_fail(fl_launch_dims_check(dims, fl_launch_limits_default()));
}

SIM_HIDDEN int32_t sim_run_kernel(int32_t dev, uint64_t stream, const char *name, int32_t geometry,
                                  const fl_launch_dims *d, int32_t phases, sim_kernel_fn fn, const void *args,
                                  size_t args_size, const sim_ptr_arg *ptrs, int32_t nptrs) {
  sim_dev *dv;
  int32_t st = enter(dev, &dv, 0);
  if (st) return st;
  if (geometry) return sim_fail(FL_ERROR_INVALID_CONFIGURATION);
  for (int32_t i = 0; i < phases; i++) {
    if (d[i].grid[0] == 0) continue; /* phase unused */
    st = sim_check_launch(dev, d[i].grid, d[i].block);
    if (st) return st;
  }
  for (int32_t i = 0; i < nptrs; i++) {
    uint64_t p;
    memcpy(&p, (const char *)args + ptrs[i].offset, sizeof p);
    int32_t bad = sim_pointer_status(dev, p, ptrs[i].elem);
    if (bad) return sim_launch_checked(dev, stream, name, fn, args, args_size, bad, p);
  }
  return sim_launch(dev, stream, name, fn, args, args_size);
}

/* ---- streams ----------------------------------------------------------- */

/* Stops a stream's worker and joins it; called with s->mu held (released here), nothing left queued. */
static void stream_stop_locked(sim_stream *s) {
  s->stop = 1;
  pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
}

FL_EXPORT int32_t fl_stream_create(int32_t dev, uint64_t *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  uint64_t id = atomic_fetch_add(&g_next_handle, 1);
  sim_stream *s = stream_new(d, id);
  if (!s) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  pthread_mutex_lock(&d->mu);
  if (grow((void **)&d->streams, &d->cap_streams, d->nstreams + 1, sizeof *d->streams)) {
    pthread_mutex_unlock(&d->mu);
    pthread_mutex_lock(&s->mu);
    stream_stop_locked(s);
    free(s);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  d->streams[d->nstreams++] = s;
  pthread_mutex_unlock(&d->mu);
  *out = id;
  return 0;
}

FL_EXPORT int32_t fl_stream_destroy(int32_t dev, uint64_t stream) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (stream == 0) return sim_fail(FL_ERROR_INVALID_HANDLE);
  pthread_mutex_lock(&d->mu);
  size_t i = 0;
  while (i < d->nstreams && d->streams[i]->id != stream) i++;
  if (i == d->nstreams) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  sim_stream *s = d->streams[i];
  d->streams[i] = d->streams[--d->nstreams];
  pthread_mutex_unlock(&d->mu);
  /* Drain (a poisoned device discards what is queued), stop, join. */
  pthread_mutex_lock(&s->mu);
  while (s->pending) pthread_cond_wait(&s->idle_cv, &s->mu);
  stream_stop_locked(s);
  pthread_mutex_lock(&d->mu);
  while (s->users) pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work_cv);
  pthread_cond_destroy(&s->idle_cv);
  free(s);
  return 0;
}

FL_EXPORT int32_t fl_stream_synchronize(int32_t dev, uint64_t stream) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_stream *s = stream_get(d, stream);
  if (!s) return sim_fail(FL_ERROR_INVALID_HANDLE);
  st = stream_drain(d, s, 1);
  stream_put(d, s);
  return sim_fail(st);
}

FL_EXPORT int32_t fl_stream_query(int32_t dev, uint64_t stream) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  pthread_mutex_lock(&d->mu);
  sim_stream *s = find_stream(d, stream);
  if (!s) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  pthread_mutex_lock(&s->mu);
  uint64_t pending = s->pending;
  pthread_mutex_unlock(&s->mu);
  pthread_mutex_unlock(&d->mu);
  if (atomic_load(&d->poisoned)) return sim_fail(atomic_load(&d->poisoned));
  return pending ? FL_ERROR_NOT_READY : 0;
}

/* A wait or record op on (stream, event): on success the device lock is held for the caller (who
 * queues the op with push_locked, which releases it); on failure nothing is held and the status returned. */
static int32_t event_op_begin(sim_dev *d, int kind, const char *name, uint64_t stream, uint64_t event,
                              sim_op **op, sim_stream **s, sim_event **ev) {
  *op = op_new(kind, name, 0);
  if (!*op) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  pthread_mutex_lock(&d->mu);
  *s = find_stream(d, stream);
  *ev = find_event(d, event);
  if (!*s || !*ev) {
    pthread_mutex_unlock(&d->mu);
    free(*op);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  return 0;
}

FL_EXPORT int32_t fl_stream_wait_event(int32_t dev, uint64_t stream, uint64_t event) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_op *op;
  sim_stream *s;
  sim_event *ev;
  st = event_op_begin(d, OP_WAIT, "stream_wait_event", stream, event, &op, &s, &ev);
  if (st) return st;
  if (ev->recorded_seq == 0 || ev->completed_seq >= ev->recorded_seq) {
    pthread_mutex_unlock(&d->mu); /* never recorded, or already complete */
    free(op);
    return 0;
  }
  op->ev = ev;
  op->ev_seq = ev->recorded_seq;
  ev->refs++;
  push_locked(d, s, op);
  return 0;
}

/* ---- events ------------------------------------------------------------ */

FL_EXPORT int32_t fl_event_create(int32_t dev, uint64_t *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  sim_event *ev = calloc(1, sizeof *ev);
  if (!ev) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  ev->id = atomic_fetch_add(&g_next_handle, 1);
  pthread_mutex_lock(&d->mu);
  if (grow((void **)&d->events, &d->cap_events, d->nevents + 1, sizeof *d->events)) {
    pthread_mutex_unlock(&d->mu);
    free(ev);
    return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  }
  d->events[d->nevents++] = ev;
  pthread_mutex_unlock(&d->mu);
  *out = ev->id;
  return 0;
}

FL_EXPORT int32_t fl_event_destroy(int32_t dev, uint64_t event) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  pthread_mutex_lock(&d->mu);
  size_t i = 0;
  while (i < d->nevents && d->events[i]->id != event) i++;
  if (event == 0 || i == d->nevents) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  sim_event *ev = d->events[i];
  d->events[i] = d->events[--d->nevents];
  ev->destroyed = 1;
  if (ev->refs == 0) free(ev); /* else the last queued op that refers to it frees it */
  pthread_mutex_unlock(&d->mu);
  return 0;
}

FL_EXPORT int32_t fl_event_record(int32_t dev, uint64_t event, uint64_t stream) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  sim_op *op;
  sim_stream *s;
  sim_event *ev;
  st = event_op_begin(d, OP_RECORD, "event_record", stream, event, &op, &s, &ev);
  if (st) return st;
  op->ev = ev;
  op->ev_seq = ++ev->recorded_seq;
  ev->refs++;
  push_locked(d, s, op);
  return 0;
}

FL_EXPORT int32_t fl_event_synchronize(int32_t dev, uint64_t event) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  pthread_mutex_lock(&d->mu);
  sim_event *ev = find_event(d, event);
  if (!ev) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  uint64_t target = ev->recorded_seq;
  ev->refs++;
  while (ev->completed_seq < target && !atomic_load(&d->poisoned)) pthread_cond_wait(&d->cv, &d->mu);
  event_unref(ev);
  pthread_mutex_unlock(&d->mu);
  return sim_fail(atomic_load(&d->poisoned));
}

FL_EXPORT int32_t fl_event_query(int32_t dev, uint64_t event) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  pthread_mutex_lock(&d->mu);
  sim_event *ev = find_event(d, event);
  int32_t status = !ev ? FL_ERROR_INVALID_HANDLE : ev->completed_seq >= ev->recorded_seq ? 0 : FL_ERROR_NOT_READY;
  pthread_mutex_unlock(&d->mu);
  if (status == FL_ERROR_INVALID_HANDLE) return sim_fail(status);
  if (atomic_load(&d->poisoned)) return sim_fail(atomic_load(&d->poisoned));
  return status; /* 600 is a state, not an error: the last error is left alone */
}

FL_EXPORT int32_t fl_event_elapsed_ms(int32_t dev, uint64_t start, uint64_t end, float *out) {
  sim_dev *d;
  int32_t st = enter(dev, &d, 1);
  if (st) return st;
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&d->mu);
  sim_event *a = find_event(d, start), *b = find_event(d, end);
  if (!a || !b) {
    pthread_mutex_unlock(&d->mu);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  int done = a->recorded_seq && b->recorded_seq && a->completed_seq >= a->recorded_seq &&
             b->completed_seq >= b->recorded_seq;
  double ms = done ? ((double)b->time_ns - (double)a->time_ns) / 1e6 : 0.0;
  pthread_mutex_unlock(&d->mu);
  if (!done) return sim_fail(FL_ERROR_NOT_READY);
  *out = (float)ms;
  return 0;
}
