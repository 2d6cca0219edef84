/* cuBLAS for gemm_f16 (see blas.h): dlopen'ed on first use, one handle per device. Not on hip. */
#include "blas.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>

#include "gpu_common.h"

namespace flgpu {
namespace {

int32_t put_string(const char *s, char *buf, int32_t cap) {
  if (buf == nullptr || cap <= 0) return FL_ERROR_INVALID_VALUE;
  snprintf(buf, static_cast<size_t>(cap), "%s", s);
  return FL_SUCCESS;
}

#if defined(FL_BACKEND_CUDA)
/* The cuBLAS ABI used here (cublas_api.h, stable since CUDA 11). */
typedef void *cublasHandle_t;
typedef int (*CreateFn)(cublasHandle_t *);
typedef int (*SetStreamFn)(cublasHandle_t, cudaStream_t);
typedef int (*GemmExFn)(cublasHandle_t, int transa, int transb, int m, int n, int k, const void *alpha,
                        const void *A, int Atype, int lda, const void *B, int Btype, int ldb, const void *beta,
                        void *C, int Ctype, int ldc, int computeType, int algo);
constexpr int kOpN = 0, kOpT = 1, kR16F = 2, kR32F = 0, kCompute32F = 68, kGemmDefault = -1;

struct Cublas {
  std::mutex mu;
  int state = 0; /* 0 not tried, 1 loaded, -1 unavailable */
  void *lib = nullptr;
  CreateFn create = nullptr;
  SetStreamFn set_stream = nullptr;
  GemmExFn gemm = nullptr;
  cublasHandle_t handles[kMaxDevices] = {};
  char info[512] = "";
};
Cublas g_blas;

bool bind(void *lib, const char *path) {
  g_blas.create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
  g_blas.set_stream = reinterpret_cast<SetStreamFn>(dlsym(lib, "cublasSetStream_v2"));
  g_blas.gemm = reinterpret_cast<GemmExFn>(dlsym(lib, "cublasGemmEx"));
  if (!g_blas.create || !g_blas.set_stream || !g_blas.gemm) {
    snprintf(g_blas.info, sizeof g_blas.info, "own kernel (%s lacks cublasCreate_v2, cublasSetStream_v2 or cublasGemmEx)",
             path);
    return false;
  }
  g_blas.lib = lib;
  Dl_info where;
  const char *real = dladdr(reinterpret_cast<void *>(g_blas.gemm), &where) && where.dli_fname ? where.dli_fname : path;
  snprintf(g_blas.info, sizeof g_blas.info, "cublas %s", real);
  return true;
}

/* Caller holds g_blas.mu. */
void load_locked() {
  if (g_blas.state != 0) return;
  g_blas.state = -1;
  const char *env = getenv("FAULTLINE_CUBLAS");
  if (env && strcmp(env, "off") == 0) {
    snprintf(g_blas.info, sizeof g_blas.info, "own kernel (FAULTLINE_CUBLAS=off)");
    return;
  }
  char paths[8][400];
  int n = 0;
  if (env && *env) snprintf(paths[n++], sizeof paths[0], "%s", env);
  for (const char *name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}) {
    snprintf(paths[n++], sizeof paths[0], "%s", name);
  }
  for (const char *var : {"CUDA_HOME", "CUDA_PATH"}) {
    const char *dir = getenv(var);
    if (dir && *dir && n < 8) snprintf(paths[n++], sizeof paths[0], "%s/lib64/libcublas.so", dir);
  }
  if (n < 8) snprintf(paths[n++], sizeof paths[0], "/usr/local/cuda/lib64/libcublas.so");
  const char *last_error = "not found";
  for (int i = 0; i < n; i++) {
    void *lib = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      last_error = dlerror();
      if (env && *env && i == 0) break; /* an explicit path that does not load is the answer */
      continue;
    }
    if (bind(lib, paths[i])) {
      g_blas.state = 1;
      return;
    }
    dlclose(lib);
    return;
  }
  snprintf(g_blas.info, sizeof g_blas.info, "own kernel (libcublas not loaded: %s)", last_error ? last_error : "?");
}

/* Caller holds g_blas.mu; the current device is `dev`. */
cublasHandle_t handle_locked(int32_t dev) {
  if (dev < 0 || dev >= kMaxDevices) return nullptr;
  if (!g_blas.handles[dev]) {
    cublasHandle_t h = nullptr;
    if (g_blas.create(&h) != 0) return nullptr;
    g_blas.handles[dev] = h;
  }
  return g_blas.handles[dev];
}
#endif

}  // namespace

bool blas_gemm_f16(int32_t dev, hipStream_t stream, float *y, const __half *w, const __half *x, uint32_t n,
                   uint32_t m, uint32_t k) {
#if defined(FL_BACKEND_CUDA)
  std::lock_guard<std::mutex> lock(g_blas.mu);
  load_locked();
  if (g_blas.state != 1 || m > 0x7fffffffu || n > 0x7fffffffu || k > 0x7fffffffu) return false;
  cublasHandle_t h = handle_locked(dev);
  if (!h || g_blas.set_stream(h, stream) != 0) return false;
  /* Column-major: C (m x n, ld m) = W^T-view (A = w as k x m, ld k, transposed) times x (k x n, ld k). */
  const float one = 1.0f, zero = 0.0f;
  return g_blas.gemm(h, kOpT, kOpN, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), &one, w, kR16F,
                     static_cast<int>(k), x, kR16F, static_cast<int>(k), &zero, y, kR32F, static_cast<int>(m),
                     kCompute32F, kGemmDefault) == 0;
#else
  (void)dev, (void)stream, (void)y, (void)w, (void)x, (void)n, (void)m, (void)k;
  return false;
#endif
}

}  // namespace flgpu

int32_t fl_blas_info(char *buf, int32_t cap) {
#if defined(FL_BACKEND_CUDA)
  std::lock_guard<std::mutex> lock(flgpu::g_blas.mu);
  flgpu::load_locked();
  return flgpu::put_string(flgpu::g_blas.info, buf, cap);
#else
  return flgpu::put_string("own kernel (hip: no BLAS library is used)", buf, cap);
#endif
}
