/* hip/modules.h for the sim backend. A sim module is a shared object built
 * from a HIP-dialect kernel source against hip/rtc/sim/ (the CPU execution
 * model); it exports fl_sim_module_kernels() (hip/sim/sim_module.h). Loading
 * writes the image to an anonymous file and dlopens it; a launch enqueues the
 * kernel's `run` on the stream like any sim kernel, so it runs under the same
 * fault guard and a wild access surfaces at the next sync as 700.
 *
 * Handles are pointers to the structs below; every export checks a handle
 * against the live ones first, so a stale or made-up handle is 400, never a
 * crash. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modules.h"
#include "sim_internal.h"
#include "sim_module.h"

typedef struct sim_module {
  int32_t dev;
  void *so;
  const fl_sim_module *table;
  struct sim_module *next;
} sim_module;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static sim_module *g_modules;

/* The live module `h` of device `dev`, or null. Caller holds g_mu. */
static sim_module *live_module(uint64_t h, int32_t dev) {
  for (sim_module *m = g_modules; m; m = m->next)
    if ((uint64_t)(uintptr_t)m == h && m->dev == dev) return m;
  return NULL;
}

/* The kernel `h` of a live module of device `dev`, or null. Caller holds g_mu. */
static const fl_sim_kernel *live_kernel(uint64_t h, int32_t dev) {
  for (sim_module *m = g_modules; m; m = m->next) {
    if (m->dev != dev) continue;
    for (int32_t i = 0; i < m->table->count; i++)
      if ((uint64_t)(uintptr_t)m->table->kernels[i] == h) return m->table->kernels[i];
  }
  return NULL;
}

/* dlopens `bytes` of `image` through a file of its own; null when it is no
 * loadable sim module. Each load gets a new path: the dynamic loader hands
 * back an already loaded object of the same name, and a C++ module may stay
 * loaded after dlclose. */
static void *open_image(const void *image, uint64_t bytes) {
  const char *tmp = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/faultline-module-XXXXXX.so", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemps(path, 3);
  if (fd < 0) return NULL;
  const char *p = image;
  uint64_t left = bytes;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n <= 0) break;
    p += n;
    left -= (uint64_t)n;
  }
  close(fd);
  void *so = left == 0 ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  unlink(path);
  return so;
}

FL_EXPORT int32_t fl_module_load(int32_t dev, const void *image, uint64_t bytes, uint64_t *out_module) {
  int32_t st = sim_enter(dev, 1);
  if (st) return st;
  if (!image || !out_module || bytes == 0) return sim_fail(FL_ERROR_INVALID_VALUE);
  if (bytes < 4 || memcmp(image, "\x7f" "ELF", 4) != 0) return sim_fail(FL_ERROR_INVALID_IMAGE);
  void *so = open_image(image, bytes);
  if (!so) return sim_fail(FL_ERROR_INVALID_IMAGE);
  const fl_sim_module *(*table)(void) = (const fl_sim_module *(*)(void))dlsym(so, "fl_sim_module_kernels");
  const fl_sim_module *t = table ? table() : NULL;
  sim_module *m = t && t->version == FL_SIM_MODULE_VERSION ? calloc(1, sizeof *m) : NULL;
  if (!m) {
    dlclose(so);
    return sim_fail(t ? FL_ERROR_OUT_OF_MEMORY : FL_ERROR_INVALID_IMAGE);
  }
  m->dev = dev;
  m->so = so;
  m->table = t;
  pthread_mutex_lock(&g_mu);
  m->next = g_modules;
  g_modules = m;
  pthread_mutex_unlock(&g_mu);
  *out_module = (uint64_t)(uintptr_t)m;
  return 0;
}

FL_EXPORT int32_t fl_module_unload(int32_t dev, uint64_t module) {
  int32_t st = sim_enter(dev, 0);
  if (st) return st;
  pthread_mutex_lock(&g_mu);
  sim_module **link = &g_modules;
  while (*link && (uint64_t)(uintptr_t)*link != module) link = &(*link)->next;
  sim_module *m = *link;
  if (!m || m->dev != dev) {
    pthread_mutex_unlock(&g_mu);
    return sim_fail(FL_ERROR_INVALID_HANDLE);
  }
  *link = m->next;
  pthread_mutex_unlock(&g_mu);
  /* Queued launches may still run the module's code: let them finish first. */
  (void)fl_device_synchronize(dev);
  dlclose(m->so);
  free(m);
  return 0;
}

FL_EXPORT int32_t fl_module_function(int32_t dev, uint64_t module, const char *name, uint64_t *out_fn) {
  int32_t st = sim_enter(dev, 0);
  if (st) return st;
  if (!name || !out_fn) return sim_fail(FL_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&g_mu);
  sim_module *m = live_module(module, dev);
  const fl_sim_kernel *k = NULL;
  for (int32_t i = 0; m && i < m->table->count && !k; i++)
    if (strcmp(m->table->kernels[i]->name, name) == 0) k = m->table->kernels[i];
  pthread_mutex_unlock(&g_mu);
  if (!m) return sim_fail(FL_ERROR_INVALID_HANDLE);
  if (!k) return sim_fail(FL_ERROR_NOT_FOUND);
  *out_fn = (uint64_t)(uintptr_t)k;
  return 0;
}

FL_EXPORT int32_t fl_function_param(int32_t dev, uint64_t fn, int32_t index, uint64_t *offset, uint64_t *size,
                                    int32_t *kind) {
  int32_t st = sim_enter(dev, 0);
  if (st) return st;
  if (!offset || !size || !kind || index < 0) return sim_fail(FL_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&g_mu);
  const fl_sim_kernel *k = live_kernel(fn, dev);
  pthread_mutex_unlock(&g_mu);
  if (!k) return sim_fail(FL_ERROR_INVALID_HANDLE);
  if (index >= k->nparams) return sim_fail(FL_ERROR_INVALID_VALUE);
  *offset = k->offset[index];
  *size = k->size[index];
  *kind = k->kind[index];
  return 0;
}

/* What a module launch enqueues: the kernel and its geometry, then the packed arguments. */
typedef struct {
  const fl_sim_kernel *kernel;
  uint32_t dims[6];
  uint32_t shared_bytes;
} module_launch;

static void run_module_kernel(const void *p) {
  const module_launch *h = p;
  h->kernel->run(h->dims, h->shared_bytes, (const char *)p + sizeof *h);
}

/* The dynamic shared memory every backend gives a block without opting in. */
#define SIM_MAX_DYNAMIC_SHARED (48u * 1024u)

FL_EXPORT int32_t fl_launch_function(int32_t dev, uint64_t stream, uint64_t fn, const uint32_t *dims,
                                     uint32_t shared_bytes, const void *args, uint64_t args_bytes,
                                     const char *name) {
  int32_t st = sim_enter(dev, 1);
  if (st) return st;
  if (!dims || (args_bytes && !args)) return sim_fail(FL_ERROR_INVALID_VALUE);
  pthread_mutex_lock(&g_mu);
  const fl_sim_kernel *k = live_kernel(fn, dev);
  pthread_mutex_unlock(&g_mu);
  if (!k) return sim_fail(FL_ERROR_INVALID_HANDLE);
  if (args_bytes != k->args_bytes) return sim_fail(FL_ERROR_INVALID_VALUE);
  st = sim_check_launch(dev, dims, dims + 3);
  if (st) return st;
  if (shared_bytes > SIM_MAX_DYNAMIC_SHARED) return sim_fail(FL_ERROR_INVALID_VALUE);
  int32_t bad = 0;
  uint64_t bad_addr = 0;
  for (int32_t i = 0; i < k->nparams && !bad; i++) {
    if (k->kind[i] != FL_PARAM_POINTER || k->size[i] != 8) continue;
    memcpy(&bad_addr, (const char *)args + k->offset[i], sizeof bad_addr);
    bad = sim_pointer_status(dev, bad_addr, 1);
  }
  size_t size = sizeof(module_launch) + args_bytes;
  _Alignas(16) char local[512]; /* sim_launch copies it: most launches need no allocation */
  module_launch *h = size <= sizeof local ? (module_launch *)local : malloc(size);
  if (!h) return sim_fail(FL_ERROR_OUT_OF_MEMORY);
  h->kernel = k;
  memcpy(h->dims, dims, sizeof h->dims);
  h->shared_bytes = shared_bytes;
  if (args_bytes) memcpy((char *)(h + 1), args, args_bytes);
  st = sim_launch_checked(dev, stream, name ? name : k->name, run_module_kernel, h, size, bad, bad_addr);
  if ((char *)h != local) free(h);
  return st;
}
