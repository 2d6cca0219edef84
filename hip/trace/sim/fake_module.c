/* The stand-in driver (fake_cuda.h): sim modules, their kernels, launches and graphs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline.h"
#include "fake_cuda.h"
#include "modules.h"

#define MODULE_MAGIC 0x4d4f444cu   /* "MODL" */
#define FUNCTION_MAGIC 0x46554e43u /* "FUNC" */
#define GRAPH_MAGIC 0x47525048u    /* "GRPH" */
#define EXEC_MAGIC 0x47455845u     /* "GEXE" */

typedef struct fk_module {
  uint32_t magic;
  uint64_t fl;
} fk_module;

static fk_module *module_of(CUmodule m) {
  fk_module *fm = (fk_module *)m;
  return fm && fm->magic == MODULE_MAGIC ? fm : NULL;
}

static fk_function *function_of(CUfunction f) {
  fk_function *ff = (fk_function *)f;
  return ff && ff->magic == FUNCTION_MAGIC ? ff : NULL;
}

/* ---- modules ------------------------------------------------------------------------ */

/* The bytes of an ELF image up to the end of its section headers (cuModuleLoadData has no size). */
static uint64_t elf_size(const unsigned char *p) {
  if (memcmp(p, "\x7f" "ELF", 4) != 0 || p[4] != 2) return 0; /* 64-bit ELF only */
  uint64_t shoff;
  uint16_t shentsize, shnum;
  memcpy(&shoff, p + 0x28, 8);
  memcpy(&shentsize, p + 0x3a, 2);
  memcpy(&shnum, p + 0x3c, 2);
  return shoff + (uint64_t)shentsize * shnum;
}

static CUresult load(CUmodule *out, const void *image, uint64_t bytes) {
  fk_module *m = calloc(1, sizeof *m);
  if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult st = fk_status(fl_module_load(0, image, bytes, &m->fl));
  if (st != CUDA_SUCCESS) {
    free(m);
    return st;
  }
  m->magic = MODULE_MAGIC;
  *out = (CUmodule)m;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuModuleLoadData(CUmodule *out, const void *image) {
  if (!out || !image) return CUDA_ERROR_INVALID_VALUE;
  uint64_t bytes = elf_size(image);
  return bytes ? load(out, image, bytes) : CUDA_ERROR_INVALID_IMAGE;
}

FK_EXPORT CUresult cuModuleLoadDataEx(CUmodule *out, const void *image, unsigned int n, CUjit_option *options,
                                      void **values) {
  (void)n;
  (void)options;
  (void)values;
  return cuModuleLoadData(out, image);
}

FK_EXPORT CUresult cuModuleLoad(CUmodule *out, const char *path) {
  if (!out || !path) return CUDA_ERROR_INVALID_VALUE;
  FILE *f = fopen(path, "rb");
  if (!f) return CUDA_ERROR_FILE_NOT_FOUND;
  unsigned char *buf = NULL;
  size_t n = 0, cap = 0, got;
  do {
    if (n == cap) {
      cap = cap ? 2 * cap : 1 << 16;
      unsigned char *b = realloc(buf, cap);
      if (!b) break;
      buf = b;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  fclose(f);
  CUresult st = buf && n ? load(out, buf, n) : CUDA_ERROR_INVALID_IMAGE;
  free(buf);
  return st;
}

FK_EXPORT CUresult cuModuleUnload(CUmodule mod) {
  fk_module *m = module_of(mod);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  CUresult st = fk_status(fl_module_unload(0, m->fl));
  if (st == CUDA_SUCCESS) m->magic = 0;
  return st;
}

/* ---- kernels ---------------------------------------------------------------------- */

FK_EXPORT CUresult cuModuleGetFunction(CUfunction *out, CUmodule mod, const char *name) {
  fk_module *m = module_of(mod);
  if (!out || !name) return CUDA_ERROR_INVALID_VALUE;
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  fk_function *f = calloc(1, sizeof *f);
  if (!f) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult st = fk_status(fl_module_function(0, m->fl, name, &f->fl));
  for (int32_t i = 0; st == CUDA_SUCCESS && i < 64; i++) {
    uint64_t off, size;
    int32_t kind;
    if (fl_function_param(0, f->fl, i, &off, &size, &kind) != 0) break;
    f->offset[i] = (uint32_t)off;
    f->size[i] = (uint32_t)size;
    f->nparams = i + 1;
    f->args_bytes = (uint32_t)(off + size);
  }
  if (st != CUDA_SUCCESS) {
    free(f);
    return st;
  }
  snprintf(f->name, sizeof f->name, "%s", name);
  f->magic = FUNCTION_MAGIC;
  *out = (CUfunction)f;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuFuncGetName(const char **name, CUfunction fn) {
  fk_function *f = function_of(fn);
  if (!name) return CUDA_ERROR_INVALID_VALUE;
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  *name = f->name;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuFuncGetParamInfo(CUfunction fn, size_t index, size_t *offset, size_t *size) {
  fk_function *f = function_of(fn);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (!offset || !size || index >= (size_t)f->nparams) return CUDA_ERROR_INVALID_VALUE;
  *offset = f->offset[index];
  *size = f->size[index];
  return CUDA_SUCCESS;
}

/* ---- launches ------------------------------------------------------------------------ */

CUresult fk_launch_packed(const fk_function *f, const uint32_t dims[6], uint32_t shared, uint64_t fl,
                          const void *args) {
  return fk_status(fl_launch_function(0, fl, f->fl, dims, shared, args, f->args_bytes, f->name));
}

/* The packed arguments of a launch, from kernelParams or from the `extra` buffer. */
static CUresult pack(const fk_function *f, void **params, void **extra, unsigned char *out) {
  if (params) {
    for (int32_t i = 0; i < f->nparams; i++) {
      if (!params[i]) return CUDA_ERROR_INVALID_VALUE;
      memcpy(out + f->offset[i], params[i], f->size[i]);
    }
    return CUDA_SUCCESS;
  }
  const void *buf = NULL;
  size_t bytes = 0;
  for (int k = 0; extra && k < 64 && extra[k] != CU_LAUNCH_PARAM_END; k += 2) {
    if (extra[k] == CU_LAUNCH_PARAM_BUFFER_POINTER)
      buf = extra[k + 1];
    else if (extra[k] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[k + 1])
      bytes = *(const size_t *)extra[k + 1];
    else
      return CUDA_ERROR_INVALID_VALUE;
  }
  if (f->args_bytes == 0) return CUDA_SUCCESS;
  if (!buf || bytes < f->args_bytes) return CUDA_ERROR_INVALID_VALUE;
  memcpy(out, buf, f->args_bytes);
  return CUDA_SUCCESS;
}

/* FAULTLINE_SIM_LAUNCH=none: launches are checked and packed but not run (the trace benchmark
 * measures what the interposer adds to a launch without the sim's queue in the way). */
static int launches_run(void) {
  static int cached = -1;
  if (cached < 0) {
    const char *v = getenv("FAULTLINE_SIM_LAUNCH");
    cached = !(v && strcmp(v, "none") == 0);
  }
  return cached;
}

static CUresult launch(CUfunction fn, const uint32_t dims[6], uint32_t shared, CUstream s, void **params,
                       void **extra) {
  fk_function *f = function_of(fn);
  fk_stream *fs;
  uint64_t fl;
  if (!f || fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  if (params && extra) return CUDA_ERROR_INVALID_VALUE;
  unsigned char args[4096];
  if (f->args_bytes > sizeof args) return CUDA_ERROR_INVALID_VALUE;
  CUresult st = pack(f, params, extra, args);
  if (st != CUDA_SUCCESS) return st;
  if (fs && fs->capturing) return fk_graph_add_launch(fs->graph, f, dims, shared, args);
  if (!launches_run()) return fk_status(fl_stream_query(0, fl) == FL_ERROR_ILLEGAL_ADDRESS ? FL_ERROR_ILLEGAL_ADDRESS : 0);
  return fk_launch_packed(f, dims, shared, fl, args);
}

FK_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                  unsigned bz, unsigned shared, CUstream s, void **params, void **extra) {
  const uint32_t dims[6] = {gx, gy, gz, bx, by, bz};
  return launch(f, dims, shared, s, params, extra);
}

FK_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                       unsigned by, unsigned bz, unsigned shared, CUstream s, void **params,
                                       void **extra) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
}

FK_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f, void **params, void **extra) {
  if (!c) return CUDA_ERROR_INVALID_VALUE;
  const uint32_t dims[6] = {c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ};
  return launch(f, dims, c->sharedMemBytes, c->hStream, params, extra);
}

/* ---- graphs ---------------------------------------------------------------------------- */

typedef struct fk_node {
  const fk_function *f;
  uint32_t dims[6];
  uint32_t shared;
  unsigned char *args;
} fk_node;

struct fk_graph {
  uint32_t magic;
  fk_node *nodes;
  size_t n, cap;
};

typedef struct fk_exec {
  uint32_t magic;
  fk_graph *graph;
} fk_exec;

FK_HIDDEN fk_graph *fk_graph_new(void) {
  fk_graph *g = calloc(1, sizeof *g);
  if (g) g->magic = GRAPH_MAGIC;
  return g;
}

CUresult fk_graph_add_launch(fk_graph *g, const fk_function *f, const uint32_t dims[6], uint32_t shared,
                             const void *args) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 16;
    fk_node *v = realloc(g->nodes, cap * sizeof *v);
    if (!v) return CUDA_ERROR_OUT_OF_MEMORY;
    g->nodes = v;
    g->cap = cap;
  }
  fk_node *n = &g->nodes[g->n];
  n->args = malloc(f->args_bytes ? f->args_bytes : 1);
  if (!n->args) return CUDA_ERROR_OUT_OF_MEMORY;
  memcpy(n->args, args, f->args_bytes);
  n->f = f;
  memcpy(n->dims, dims, sizeof n->dims);
  n->shared = shared;
  g->n++;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *out, CUgraph graph, unsigned long long flags) {
  (void)flags;
  fk_graph *g = (fk_graph *)graph;
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  if (!g || g->magic != GRAPH_MAGIC) return CUDA_ERROR_INVALID_HANDLE;
  fk_exec *e = calloc(1, sizeof *e);
  if (!e) return CUDA_ERROR_OUT_OF_MEMORY;
  e->magic = EXEC_MAGIC;
  e->graph = g;
  *out = (CUgraphExec)e;
  return CUDA_SUCCESS;
}

static CUresult graph_launch(CUgraphExec exec, CUstream s) {
  fk_exec *e = (fk_exec *)exec;
  fk_stream *fs;
  uint64_t fl;
  if (!e || e->magic != EXEC_MAGIC || fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  for (size_t i = 0; i < e->graph->n; i++) {
    const fk_node *n = &e->graph->nodes[i];
    CUresult st = fk_launch_packed(n->f, n->dims, n->shared, fl, n->args);
    if (st != CUDA_SUCCESS) return st;
  }
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream s) { return graph_launch(exec, s); }
FK_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream s) { return graph_launch(exec, s); }

FK_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  fk_exec *e = (fk_exec *)exec;
  if (!e || e->magic != EXEC_MAGIC) return CUDA_ERROR_INVALID_HANDLE;
  e->magic = 0;
  return CUDA_SUCCESS;
}

/* A graph's nodes stay: an instantiated graph replays them. */
FK_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  fk_graph *g = (fk_graph *)graph;
  return g && g->magic == GRAPH_MAGIC ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
