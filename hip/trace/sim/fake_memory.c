/* The stand-in driver (fake_cuda.h): memory, copies, memsets and virtual memory management. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline.h"
#include "fake_cuda.h"

/* ---- what this driver handed out ------------------------------------------------ */

typedef struct span {
  uint64_t base, bytes;
} span;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static span *g_spans;
static size_t g_nspans, g_cap;

static void spans_add(uint64_t base, uint64_t bytes) {
  pthread_mutex_lock(&g_mu);
  if (g_nspans == g_cap) {
    size_t cap = g_cap ? 2 * g_cap : 64;
    span *v = realloc(g_spans, cap * sizeof *v);
    if (v) {
      g_spans = v;
      g_cap = cap;
    }
  }
  if (g_nspans < g_cap) g_spans[g_nspans++] = (span){base, bytes};
  pthread_mutex_unlock(&g_mu);
}

static void spans_remove(uint64_t base) {
  pthread_mutex_lock(&g_mu);
  for (size_t i = 0; i < g_nspans; i++) {
    if (g_spans[i].base == base) {
      g_spans[i] = g_spans[--g_nspans];
      break;
    }
  }
  pthread_mutex_unlock(&g_mu);
}

void fk_note_alloc(uint64_t ptr, uint64_t bytes) { spans_add(ptr, bytes); }
void fk_forget_alloc(uint64_t ptr) { spans_remove(ptr); }

int fk_is_sim_device(uint64_t ptr) {
  int found = 0;
  pthread_mutex_lock(&g_mu);
  for (size_t i = 0; i < g_nspans && !found; i++) found = ptr >= g_spans[i].base && ptr - g_spans[i].base < g_spans[i].bytes;
  pthread_mutex_unlock(&g_mu);
  return found;
}

/* ---- allocations ------------------------------------------------------------------ */

FK_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
  if (!dptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t p = 0;
  CUresult st = fk_status(fl_malloc(0, bytes, &p));
  if (st != CUDA_SUCCESS) return st;
  fk_note_alloc(p, bytes);
  *dptr = p;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  if (p == 0) return CUDA_SUCCESS;
  CUresult st = fk_status(fl_free(0, p));
  if (st == CUDA_SUCCESS) fk_forget_alloc(p);
  return st;
}

/* Stream-ordered allocation on the sim: the memory exists at once; the free waits for the device. */
FK_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  return cuMemAlloc_v2(dptr, bytes);
}

FK_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  fk_stream *fs;
  uint64_t fl;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  return cuMemFree_v2(p);
}

FK_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytes) {
  if (!pp) return CUDA_ERROR_INVALID_VALUE;
  uint64_t p = 0;
  CUresult st = fk_status(fl_host_malloc(0, bytes, &p));
  if (st == CUDA_SUCCESS) *pp = (void *)(uintptr_t)p;
  return st;
}

FK_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytes, unsigned int flags) {
  (void)flags;
  return cuMemAllocHost_v2(pp, bytes);
}

FK_EXPORT CUresult cuMemFreeHost(void *p) { return fk_status(fl_host_free(0, (uint64_t)(uintptr_t)p)); }

/* ---- copies ----------------------------------------------------------------------- */

static CUresult copy(uint64_t dst, uint64_t src, size_t n, int32_t kind, CUstream s, int async) {
  fk_stream *fs = NULL;
  uint64_t fl = 0;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  if (fs && fs->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (n == 0) return CUDA_SUCCESS;
  return fk_status(async ? fl_memcpy_async(0, dst, src, n, kind, fl) : fl_memcpy(0, dst, src, n, kind));
}

#define HP(p) ((uint64_t)(uintptr_t)(p))

FK_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *h, size_t n) {
  return copy(d, HP(h), n, FL_MEMCPY_H2D, NULL, 0);
}
FK_EXPORT CUresult cuMemcpyDtoH_v2(void *h, CUdeviceptr d, size_t n) {
  return copy(HP(h), d, n, FL_MEMCPY_D2H, NULL, 0);
}
FK_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(d, s, n, FL_MEMCPY_D2D, NULL, 0);
}
FK_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *h, size_t n, CUstream s) {
  return copy(d, HP(h), n, FL_MEMCPY_H2D, s, 1);
}
FK_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *h, CUdeviceptr d, size_t n, CUstream s) {
  return copy(HP(h), d, n, FL_MEMCPY_D2H, s, 1);
}
FK_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr x, size_t n, CUstream s) {
  return copy(d, x, n, FL_MEMCPY_D2D, s, 1);
}

static int32_t unified_kind(uint64_t dst, uint64_t src) {
  int d = fk_is_sim_device(dst), s = fk_is_sim_device(src);
  return d ? (s ? FL_MEMCPY_D2D : FL_MEMCPY_H2D) : (s ? FL_MEMCPY_D2H : FL_MEMCPY_H2H);
}

FK_EXPORT CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(d, s, n, unified_kind(d, s), NULL, 0);
}
FK_EXPORT CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st) {
  return copy(d, s, n, unified_kind(d, s), st, 1);
}

/* ---- memsets ---------------------------------------------------------------------- */

/* Fills `n` elements of `width` bytes at `d` with `value` (a byte value goes straight to the sim). */
static CUresult memset_elems(CUdeviceptr d, uint32_t value, size_t n, size_t width, CUstream s, int async) {
  fk_stream *fs = NULL;
  uint64_t fl = 0;
  if (fk_stream_of(s, &fs, &fl)) return CUDA_ERROR_INVALID_HANDLE;
  if (fs && fs->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  size_t bytes = n * width;
  if (bytes == 0) return CUDA_SUCCESS;
  int bytewise = width == 1 || value == 0 || (width == 2 && (value & 0xff) == (value >> 8 & 0xff)) ||
                 (width == 4 && value == (value & 0xff) * 0x01010101u);
  if (bytewise) {
    int v = (int)(value & 0xff);
    return fk_status(async ? fl_memset_async(0, d, v, bytes, fl) : fl_memset(0, d, v, bytes));
  }
  /* a wider pattern: staged through the host, after the stream's earlier work */
  char *buf = malloc(bytes);
  if (!buf) return CUDA_ERROR_OUT_OF_MEMORY;
  for (size_t i = 0; i < n; i++) memcpy(buf + i * width, &value, width);
  CUresult st = fk_status(fl_stream_synchronize(0, fl));
  if (st == CUDA_SUCCESS) st = fk_status(fl_memcpy(0, d, HP(buf), bytes, FL_MEMCPY_H2D));
  free(buf);
  return st;
}

FK_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return memset_elems(d, v, n, 1, NULL, 0); }
FK_EXPORT CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) {
  return memset_elems(d, v, n, 2, NULL, 0);
}
FK_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) { return memset_elems(d, v, n, 4, NULL, 0); }
FK_EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
  return memset_elems(d, v, n, 1, s, 1);
}
FK_EXPORT CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
  return memset_elems(d, v, n, 2, s, 1);
}
FK_EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) {
  return memset_elems(d, v, n, 4, s, 1);
}

/* ---- virtual memory management -------------------------------------------------------
 * A reservation is sim device memory of its own (fl_malloc), so kernels and copies reach it like
 * any device memory; mapping records nothing the sim enforces: a mapped range does not alias its
 * physical allocation, and a touch of an unmapped part of a reservation does not fault. What a
 * trace journals of these calls is what matters here. */

typedef struct fk_physical {
  size_t bytes;
} fk_physical;

FK_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr,
                                       unsigned long long flags) {
  (void)align;
  (void)addr;
  (void)flags;
  if (!ptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  return cuMemAlloc_v2(ptr, size);
}

FK_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  (void)size;
  return cuMemFree_v2(ptr);
}

FK_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
                               unsigned long long flags) {
  (void)prop;
  (void)flags;
  if (!handle || size == 0) return CUDA_ERROR_INVALID_VALUE;
  fk_physical *m = malloc(sizeof *m);
  if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
  m->bytes = size;
  *handle = (CUmemGenericAllocationHandle)(uintptr_t)m;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  fk_physical *m = (fk_physical *)(uintptr_t)handle;
  if (!m) return CUDA_ERROR_INVALID_VALUE;
  free(m);
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                            unsigned long long flags) {
  (void)flags;
  fk_physical *m = (fk_physical *)(uintptr_t)handle;
  if (!m || ptr == 0 || size == 0 || offset + size > m->bytes) return CUDA_ERROR_INVALID_VALUE;
  return fk_is_sim_device(ptr) && fk_is_sim_device(ptr + size - 1) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FK_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  return size && fk_is_sim_device(ptr) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FK_EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count) {
  (void)ptr;
  (void)size;
  return desc || count == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FK_EXPORT CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                                 CUmemAllocationGranularity_flags option) {
  (void)prop;
  (void)option;
  if (!granularity) return CUDA_ERROR_INVALID_VALUE;
  *granularity = (size_t)sysconf(_SC_PAGESIZE);
  return CUDA_SUCCESS;
}

/* ---- the per-thread default stream variants (the sim has one default stream) ---------- */

FK_EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr d, const void *h, size_t n) { return cuMemcpyHtoD_v2(d, h, n); }
FK_EXPORT CUresult cuMemcpyDtoH_v2_ptds(void *h, CUdeviceptr d, size_t n) { return cuMemcpyDtoH_v2(h, d, n); }
FK_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr d, CUdeviceptr s, size_t n) { return cuMemcpyDtoD_v2(d, s, n); }
FK_EXPORT CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char v, size_t n) { return cuMemsetD8_v2(d, v, n); }
FK_EXPORT CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, unsigned short v, size_t n) { return cuMemsetD16_v2(d, v, n); }
FK_EXPORT CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned int v, size_t n) { return cuMemsetD32_v2(d, v, n); }
