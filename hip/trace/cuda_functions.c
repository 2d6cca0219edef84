/* What the interposer knows of each kernel a program launches: its name
 * (cuFuncGetName, else cuKernelGetName for a CUkernel cast to CUfunction, else
 * the name it was looked up by) and its parameter layout (offset and size of
 * each parameter: cuFuncGetParamInfo / cuKernelGetParamInfo, asked until they
 * say there are no more). Found at a function's first launch and kept. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_functions.h"

#define MAX_PARAMS 1024

static CUresult (*real_cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
static CUresult (*real_cuLibraryGetKernel)(CUkernel *, CUlibrary, const char *);
static CUresult (*real_cuKernelGetFunction)(CUfunction *, CUkernel);

/* handle -> info, open addressing; entries are never removed (a module's handles may be reused
 * after it is unloaded: a re-lookup refreshes the name) */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tr_fn **g_table;
static size_t g_n, g_cap;

/* A forked child starts with this lock free, whichever thread of the parent held it. */
static void unlock_in_child(void) { pthread_mutex_init(&g_mu, NULL); }
__attribute__((constructor)) static void install_child_unlock(void) { pthread_atfork(NULL, NULL, unlock_in_child); }

static size_t slot_of(uint64_t h, size_t cap) { return (size_t)((h * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1); }

static tr_fn *find_locked(uint64_t h) {
  if (!g_cap) return NULL;
  for (size_t k = slot_of(h, g_cap);; k = (k + 1) & (g_cap - 1)) {
    if (!g_table[k]) return NULL;
    if (g_table[k]->handle == h) return g_table[k];
  }
}

static int insert_locked(tr_fn *f) {
  if (2 * (g_n + 1) > g_cap) {
    size_t cap = g_cap ? 2 * g_cap : 256;
    tr_fn **t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < g_cap; i++) {
      if (!g_table[i]) continue;
      size_t k = slot_of(g_table[i]->handle, cap);
      while (t[k]) k = (k + 1) & (cap - 1);
      t[k] = g_table[i];
    }
    free(g_table);
    g_table = t;
    g_cap = cap;
  }
  size_t k = slot_of(f->handle, g_cap);
  while (g_table[k]) k = (k + 1) & (g_cap - 1);
  g_table[k] = f;
  g_n++;
  return 0;
}

/* The entry of handle `h`, made if new (null when out of memory). Caller holds g_mu. */
static tr_fn *entry_locked(uint64_t h) {
  tr_fn *f = find_locked(h);
  if (f) return f;
  f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->handle = h;
  f->nparams = TR_PARAMS_UNKNOWN;
  if (insert_locked(f) != 0) {
    free(f);
    return NULL;
  }
  return f;
}

/* Remembers the name a handle was looked up by; its layout is asked again at the next launch. */
static void note_name(uint64_t h, const char *name) {
  if (!h || !name) return;
  pthread_mutex_lock(&g_mu);
  tr_fn *f = entry_locked(h);
  if (f) {
    char *copy = strdup(name);
    if (copy) {
      free(f->lookup_name);
      f->lookup_name = copy;
      f->ready = 0;
    }
  }
  pthread_mutex_unlock(&g_mu);
}

typedef CUresult (*name_fn)(const char **, void *);
typedef CUresult (*param_fn)(void *, size_t, size_t *, size_t *);

static const char *driver_name(uint64_t h) {
  static name_fn func_name, kernel_name;
  if (!func_name) func_name = (name_fn)tr_cuda_symbol("cuFuncGetName");
  if (!kernel_name) kernel_name = (name_fn)tr_cuda_symbol("cuKernelGetName");
  const char *n = NULL;
  if (func_name && func_name(&n, (void *)(uintptr_t)h) == CUDA_SUCCESS && n) return n;
  if (kernel_name && kernel_name(&n, (void *)(uintptr_t)h) == CUDA_SUCCESS && n) return n;
  return NULL;
}

/* Asks `fn` for each parameter until it says there is none; the count, or -1 when it knows none. */
static int32_t ask_layout(param_fn fn, uint64_t h, uint32_t *offset, uint32_t *size) {
  if (!fn) return TR_PARAMS_UNKNOWN;
  int32_t n = 0;
  for (; n < MAX_PARAMS; n++) {
    size_t off = 0, sz = 0;
    if (fn((void *)(uintptr_t)h, (size_t)n, &off, &sz) != CUDA_SUCCESS) break;
    offset[n] = (uint32_t)off;
    size[n] = (uint32_t)sz;
  }
  return n == 0 ? TR_PARAMS_UNKNOWN : n;
}

static void learn_layout(tr_fn *f) {
  static param_fn func_param, kernel_param;
  if (!func_param) func_param = (param_fn)tr_cuda_symbol("cuFuncGetParamInfo");
  if (!kernel_param) kernel_param = (param_fn)tr_cuda_symbol("cuKernelGetParamInfo");
  uint32_t *offset = calloc(MAX_PARAMS, sizeof *offset), *size = calloc(MAX_PARAMS, sizeof *size);
  if (!offset || !size) {
    free(offset);
    free(size);
    return;
  }
  int32_t n = ask_layout(func_param, f->handle, offset, size);
  if (n == TR_PARAMS_UNKNOWN) n = ask_layout(kernel_param, f->handle, offset, size);
  /* a layout learnt before stays allocated: a launch on another thread may still read it */
  f->offset = offset;
  f->size = size;
  f->nparams = n;
}

/* {"kernel": name, "params": [[offset, size], ...]}: the layout, once per kernel, for reports and exports. */
static void note_layout(const tr_fn *f) {
  size_t cap = 256 + (size_t)(f->nparams > 0 ? f->nparams : 0) * 24;
  char *line = malloc(cap);
  if (!line) return;
  size_t len = (size_t)snprintf(line, cap, "{\"kernel\":");
  len += tr_json_string(line + len, 200, f->name ? f->name : "?");
  len += (size_t)snprintf(line + len, cap - len, ",\"handle\":%llu,\"params\":%s", (unsigned long long)f->handle,
                          f->nparams < 0 ? "null" : "[");
  for (int32_t i = 0; i < f->nparams; i++)
    len += (size_t)snprintf(line + len, cap - len, "%s[%u,%u]", i ? "," : "", f->offset[i], f->size[i]);
  snprintf(line + len, cap - len, "%s}", f->nparams < 0 ? "" : "]");
  tr_side(line);
  free(line);
}

const tr_fn *tr_fn_info(CUfunction fn) {
  uint64_t h = (uint64_t)(uintptr_t)fn;
  pthread_mutex_lock(&g_mu);
  tr_fn *f = entry_locked(h);
  if (f && !f->ready) {
    const char *n = driver_name(h);
    char fallback[40];
    if (!n) n = f->lookup_name;
    if (!n) {
      snprintf(fallback, sizeof fallback, "kernel@0x%llx", (unsigned long long)h);
      n = fallback;
    }
    f->name = strdup(n); /* an older name stays allocated, like an older layout */
    f->name_id = tr_intern(f->name ? f->name : fallback);
    learn_layout(f);
    f->ready = 1;
    note_layout(f);
  }
  pthread_mutex_unlock(&g_mu);
  return f;
}

TR_EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) {
  TR_REAL(cuModuleGetFunction);
  CUresult st = real_cuModuleGetFunction(hfunc, hmod, name);
  if (st == CUDA_SUCCESS && hfunc) note_name((uint64_t)(uintptr_t)*hfunc, name);
  return st;
}

TR_EXPORT CUresult cuLibraryGetKernel(CUkernel *kernel, CUlibrary lib, const char *name) {
  TR_REAL(cuLibraryGetKernel);
  CUresult st = real_cuLibraryGetKernel(kernel, lib, name);
  if (st == CUDA_SUCCESS && kernel) note_name((uint64_t)(uintptr_t)*kernel, name);
  return st;
}

TR_EXPORT CUresult cuKernelGetFunction(CUfunction *func, CUkernel kernel) {
  TR_REAL(cuKernelGetFunction);
  CUresult st = real_cuKernelGetFunction(func, kernel);
  if (st == CUDA_SUCCESS && func) {
    pthread_mutex_lock(&g_mu);
    tr_fn *k = find_locked((uint64_t)(uintptr_t)kernel);
    char *name = k && k->lookup_name ? strdup(k->lookup_name) : NULL;
    pthread_mutex_unlock(&g_mu);
    if (name) note_name((uint64_t)(uintptr_t)*func, name);
    free(name);
  }
  return st;
}

static const tr_hook hooks[] = {
    TR_HOOK(cuModuleGetFunction, "cuModuleGetFunction", 2000, 0),
    TR_HOOK(cuLibraryGetKernel, "cuLibraryGetKernel", 12000, 0),
    TR_HOOK(cuKernelGetFunction, "cuKernelGetFunction", 12000, 0),
};
const tr_hook_list tr_cuda_function_hooks = {hooks, sizeof hooks / sizeof hooks[0]};
