/* The GEMM library behind the prefill GEMM (gemm_f16, kernels/llama/matmul.hip): cuBLAS on cuda,
 * loaded at run time with dlopen so that the library builds and loads where cuBLAS is absent (no
 * cuBLAS header is used: the few prototypes are declared in gpu_blas.cpp). Where it cannot be
 * loaded, and on hip, gemm_f16 runs faultline's own tiled kernel instead.
 *
 * Where libcublas is looked for: $FAULTLINE_CUBLAS (a path; "off" never loads it), then the loader's
 * search path (libcublas.so.13, .12, .11, libcublas.so), then $CUDA_HOME/lib64, $CUDA_PATH/lib64
 * and /usr/local/cuda/lib64.
 */
#ifndef FAULTLINE_BLAS_H
#define FAULTLINE_BLAS_H

#include <stdint.h>

#include "faultline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What gemm_f16 runs on, as text: "cublas <path>", "own kernel (<why>)" or, on sim, "reference".
 * Loads the library first if no launch has yet. */
FL_EXPORT int32_t fl_blas_info(char *buf, int32_t cap);

#ifdef __cplusplus
}

#include "vendor.h"

namespace flgpu {
/* y [n, m] (row-major, f32) = x [n, k] (f16) times w [m, k]^T (f16), on `stream` of the current
 * device: one cublasGemmEx with f32 accumulation. False (nothing enqueued) when cuBLAS is not
 * loaded or refuses the call; the caller then runs its own kernel. */
bool blas_gemm_f16(int32_t dev, hipStream_t stream, float *y, const __half *w, const __half *x, uint32_t n,
                   uint32_t m, uint32_t k);
}  // namespace flgpu
#endif
#endif
