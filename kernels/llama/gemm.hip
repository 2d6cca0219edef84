/* gemm_f16, the prefill GEMM over f16 operands (ffi/kernels_gemm.ts): cuBLAS where it is loaded
 * (hip/blas.h: cublasGemmEx, tensor cores, f32 accumulation), else the prefill matmul's own tiled
 * kernel (matmul_tiles.h) over f16 x, as on hip. */
#include "matmul_tiles.h"
#include "blas.h"
#include "fl_kernel_launchers.h"

using flgpu::ptr;

void fl_gpu_gemm_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_gemm_f16 &a) {
  float *y = ptr<float>(a.y);
  const __half *w = ptr<const __half>(a.w), *x = ptr<const __half>(a.x);
  if (flgpu::blas_gemm_f16(l.dev, l.hstream, y, w, x, a.n_tokens, a.out_dim, a.in_dim)) return;
  FL_LLAMA_LAUNCH((matmul_kernel<__half, __half>), FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream, y, w, x,
                  a.n_tokens, a.out_dim, a.in_dim);
}
