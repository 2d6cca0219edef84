/* Finding the real driver entry points, the dlsym interposer, and matching
 * cuGetProcAddress's answers to wrappers (cuda_hooks.h). */
#include "cuda_hooks.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tr_hook_list *const *lists(void) {
  static const tr_hook_list *const all[] = {&tr_cuda_memory_hooks, &tr_cuda_copy_hooks,   &tr_cuda_launch_hooks,
                                            &tr_cuda_stream_hooks, &tr_cuda_function_hooks, &tr_cuda_proc_hooks,
                                            NULL};
  return all;
}

/* ---- the real dlsym and libcuda ------------------------------------------ */

typedef void *(*dlsym_fn)(void *, const char *);
static dlsym_fn g_dlsym;

static dlsym_fn real_dlsym_fn(void) {
  dlsym_fn f = __atomic_load_n(&g_dlsym, __ATOMIC_ACQUIRE);
  if (f) return f;
  f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
  if (!f) f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  __atomic_store_n(&g_dlsym, f, __ATOMIC_RELEASE);
  return f;
}

void *tr_real_dlsym(void *handle, const char *name) {
  dlsym_fn f = real_dlsym_fn();
  return f ? f(handle, name) : NULL;
}

static void *g_libcuda;
static pthread_once_t g_resolve_once = PTHREAD_ONCE_INIT;

static int driver_device(int32_t *out);
static int describe_device(void);

static void resolve_all(void) {
  const char *path = getenv("FAULTLINE_TRACE_LIBCUDA");
  g_libcuda = dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!g_libcuda) return;
  for (const tr_hook_list *const *l = lists(); *l; l++) {
    for (int i = 0; i < (*l)->count; i++) {
      const tr_hook *h = &(*l)->hooks[i];
      if (*h->real) continue;
      void *p = tr_real_dlsym(g_libcuda, h->name);
      if (p != h->wrapper) __atomic_store_n(h->real, p, __ATOMIC_RELEASE);
    }
  }
  tr_current_device = driver_device;
  tr_describe_device = describe_device;
}

int tr_cuda_resolve(void **slot) {
  pthread_once(&g_resolve_once, resolve_all);
  return __atomic_load_n(slot, __ATOMIC_ACQUIRE) != NULL;
}

void *tr_cuda_symbol(const char *name) {
  pthread_once(&g_resolve_once, resolve_all);
  return g_libcuda ? tr_real_dlsym(g_libcuda, name) : NULL;
}

static CUresult (*g_ctx_get_device)(CUdevice *);

static int driver_device(int32_t *out) {
  if (!g_ctx_get_device) g_ctx_get_device = (CUresult(*)(CUdevice *))tr_cuda_symbol("cuCtxGetDevice");
  CUdevice d = 0;
  if (!g_ctx_get_device || g_ctx_get_device(&d) != CUDA_SUCCESS) return -1;
  *out = (int32_t)d;
  return 0;
}

/* {"device": {"ordinal": n, "name": "..."}}: the device the process's first journaled call ran on. */
static int describe_device(void) {
  CUresult (*get_name)(char *, int, CUdevice) = (CUresult(*)(char *, int, CUdevice))tr_cuda_symbol("cuDeviceGetName");
  int32_t dev = tr_device();
  char name[256] = "", q[600], line[700];
  if (!get_name || get_name(name, sizeof name, dev) != CUDA_SUCCESS) return 0;
  tr_json_string(q, sizeof q, name);
  snprintf(line, sizeof line, "{\"device\":{\"ordinal\":%d,\"name\":%s}}", dev, q);
  tr_side(line);
  return 1;
}

/* ---- the dlsym interposer ------------------------------------------------- */

static const tr_hook *hook_named(const char *name) {
  for (const tr_hook_list *const *l = lists(); *l; l++)
    for (int i = 0; i < (*l)->count; i++)
      if (strcmp((*l)->hooks[i].name, name) == 0) return &(*l)->hooks[i];
  return NULL;
}

static void *wrap_dlsym(void *handle, const char *symbol) {
  const tr_hook *h = hook_named(symbol);
  if (!h) return NULL;
  void *real = tr_real_dlsym(handle, symbol);
  if (!real) return NULL;
  /* a handle whose scope holds this library (dlopen(NULL)) finds the wrapper itself */
  if (real != h->wrapper && !__atomic_load_n(h->real, __ATOMIC_ACQUIRE))
    __atomic_store_n(h->real, real, __ATOMIC_RELEASE);
  return h->wrapper;
}

/* RTLD_NEXT and RTLD_DEFAULT look-ups depend on the caller: they go to the real dlsym as a tail
 * call, so it sees the caller's return address, not this library's. */
TR_EXPORT void *dlsym(void *handle, const char *symbol) {
  const char *volatile name = symbol; /* dlfcn.h declares it non-null; a caller may still pass null */
  if (name && name[0] == 'c' && name[1] == 'u' && handle != RTLD_NEXT && handle != RTLD_DEFAULT) {
    void *w = wrap_dlsym(handle, symbol);
    if (w) return w;
  }
  dlsym_fn f = real_dlsym_fn();
  return f ? f(handle, symbol) : NULL;
}

/* ---- cuGetProcAddress answers --------------------------------------------- */

/* Names already noted as unhooked (each once per process). */
static pthread_mutex_t g_noted_mu = PTHREAD_MUTEX_INITIALIZER;
static char **g_noted;
static size_t g_nnoted, g_cap_noted;

static void unlock_in_child(void) { pthread_mutex_init(&g_noted_mu, NULL); }
__attribute__((constructor)) static void install_child_unlock(void) { pthread_atfork(NULL, NULL, unlock_in_child); }

static int first_note(const char *symbol) {
  pthread_mutex_lock(&g_noted_mu);
  for (size_t i = 0; i < g_nnoted; i++) {
    if (strcmp(g_noted[i], symbol) == 0) {
      pthread_mutex_unlock(&g_noted_mu);
      return 0;
    }
  }
  if (g_nnoted == g_cap_noted) {
    size_t cap = g_cap_noted ? 2 * g_cap_noted : 256;
    char **v = realloc(g_noted, cap * sizeof *v);
    if (!v) {
      pthread_mutex_unlock(&g_noted_mu);
      return 0;
    }
    g_noted = v;
    g_cap_noted = cap;
  }
  char *copy = strdup(symbol);
  if (copy) g_noted[g_nnoted++] = copy;
  pthread_mutex_unlock(&g_noted_mu);
  return copy != NULL;
}

static void note_proc(const char *key, const char *symbol, const char *variant, int version, cuuint64_t flags,
                      int found) {
  char q[512], line[1024];
  tr_json_string(q, sizeof q, symbol);
  int n = snprintf(line, sizeof line, "{\"%s\":%s,\"version\":%d,\"flags\":%llu,\"found\":%s", key, q, version,
                   (unsigned long long)flags, found ? "true" : "false");
  if (variant) {
    tr_json_string(q, sizeof q, variant);
    n += snprintf(line + n, sizeof line - (size_t)n, ",\"variant\":%s", q);
  }
  snprintf(line + n, sizeof line - (size_t)n, "}");
  tr_side(line);
}

/* The variant of `base` the driver answers for `version` and the stream flags: the newest one
 * not newer than `version`, per-thread when asked and the base has one. Null when the table
 * does not know the base or has no variant old enough. */
static const tr_hook *predict(const char *base, int version, cuuint64_t flags) {
  int want_ptds = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  const tr_hook *best[2] = {NULL, NULL};
  for (const tr_hook_list *const *l = lists(); *l; l++) {
    for (int i = 0; i < (*l)->count; i++) {
      const tr_hook *h = &(*l)->hooks[i];
      if (strcmp(h->base, base) != 0 || h->version > version) continue;
      if (!best[h->ptds] || h->version > best[h->ptds]->version) best[h->ptds] = h;
    }
  }
  return want_ptds && best[1] ? best[1] : best[0];
}

void *tr_cuda_wrap_proc(const char *symbol, void *fn, int version, cuuint64_t flags, int found) {
  pthread_once(&g_resolve_once, resolve_all);
  if (found && fn) {
    /* a pointer a driver export has names its ABI exactly, whatever name it was asked by
     * (CUDA 12 answers cuGraphInstantiate with cuGraphInstantiateWithFlags) */
    for (const tr_hook_list *const *l = lists(); *l; l++) {
      for (int i = 0; i < (*l)->count; i++) {
        const tr_hook *h = &(*l)->hooks[i];
        if (fn == h->wrapper) return fn;
        if (__atomic_load_n(h->real, __ATOMIC_ACQUIRE) == fn) return h->wrapper;
      }
    }
    const char *strict = getenv("FAULTLINE_TRACE_GPA_STRICT");
    const tr_hook *p = strict && *strict == '1' ? NULL : predict(symbol, version, flags);
    if (p) {
      /* the driver answered with a pointer none of its exports has: trust the variant the
       * version and flags select, and call what the driver gave */
      __atomic_store_n(p->real, fn, __ATOMIC_RELEASE);
      if (first_note(symbol)) note_proc("gpa", symbol, p->name, version, flags, 1);
      return p->wrapper;
    }
  }
  if (first_note(symbol)) note_proc("unhooked", symbol, NULL, version, flags, found && fn);
  return NULL;
}
