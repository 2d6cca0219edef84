/* The prefill matmul's tiled kernel, shared by matmul.hip (f32 x) and gemm.hip (f16 x, where
 * cuBLAS is not loaded). */
#ifndef FAULTLINE_MATMUL_TILES_H
#define FAULTLINE_MATMUL_TILES_H

#include "llama_common.h"

/* Prefill: block (bx, by) computes y[by*64 .. +64, bx*64 .. +64] through
 * shared-memory tiles of 16 along in_dim. Thread (tx, ty) of 16 x 16 owns
 * outputs bx*64 + tx + 16j and tokens by*64 + ty + 16i (i, j < 4): 16
 * accumulators, 8 shared loads per 16 FMAs. Tiles are stored k-major with
 * one float of padding, so neither the transposing stores nor the loads
 * conflict on banks. */
template <typename W, typename X = float>
__global__ void matmul_kernel(float *y, const W *w, const X *x, uint32_t n_tokens, uint32_t out_dim,
                              uint32_t in_dim) {
  FL_LLAMA_KERNEL_PROLOGUE();
  constexpr uint32_t T = FL_MATMUL_TILE, K = FL_MATMUL_TILE_K, R = T / 16;
  __shared__ float ws[K][T + 1]; /* [k][output] */
  __shared__ float xs[K][T + 1]; /* [k][token] */
  const uint32_t tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const uint32_t o0 = blockIdx.x * T, t0 = blockIdx.y * T;
  float acc[R][R];
#pragma unroll
  for (uint32_t i = 0; i < R; i++)
#pragma unroll
    for (uint32_t j = 0; j < R; j++) acc[i][j] = 0.0f;
  for (uint32_t k0 = 0; k0 < in_dim; k0 += K) {
#pragma unroll
    for (uint32_t r = 0; r < T * K / FL_LLAMA_BLOCK; r++) {
      const uint32_t e = tid + r * FL_LLAMA_BLOCK, rr = e / K, kk = e % K;
      const uint32_t o = o0 + rr, t = t0 + rr, k = k0 + kk;
      ws[kk][rr] = (o < out_dim && k < in_dim) ? fl_to_float(w[static_cast<uint64_t>(o) * in_dim + k]) : 0.0f;
      xs[kk][rr] = (t < n_tokens && k < in_dim) ? fl_to_float(x[static_cast<uint64_t>(t) * in_dim + k]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (uint32_t kk = 0; kk < K; kk++) {
      float a[R], b[R];
#pragma unroll
      for (uint32_t i = 0; i < R; i++) a[i] = xs[kk][ty + 16 * i];
#pragma unroll
      for (uint32_t j = 0; j < R; j++) b[j] = ws[kk][tx + 16 * j];
#pragma unroll
      for (uint32_t i = 0; i < R; i++)
#pragma unroll
        for (uint32_t j = 0; j < R; j++) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (uint32_t i = 0; i < R; i++) {
    const uint32_t t = t0 + ty + 16 * i;
    if (t >= n_tokens) continue;
#pragma unroll
    for (uint32_t j = 0; j < R; j++) {
      const uint32_t o = o0 + tx + 16 * j;
      if (o < out_dim) y[static_cast<uint64_t>(t) * out_dim + o] = acc[i][j];
    }
  }
}

#endif
