/* y = W x with W row-major [out_dim, in_dim] (f32 or f16), x and y f32,
 * f32 accumulation.
 *
 * matvec (decode): one 32-lane group per output row, 8 rows per block. The
 * fast path streams W in 16-byte loads (8 halves or 4 floats per lane), four
 * independent loads in flight per lane, then reduces the lanes' sums with
 * shuffles. It needs every row and x 16-byte aligned: in_dim a multiple of
 * 8 (f16) or 4 (f32) and W, x 16-byte aligned; otherwise the scalar path runs.
 *
 * matmul (prefill): 64 tokens x 64 outputs per block through shared-memory
 * tiles of 16 along in_dim; each of the 256 threads owns 4 x 4 outputs.
 */
#include "llama_common.h"
#include "llama_launchers.h"

/* Dot product of 8 weights (one 16-byte load) with x[8*u .. 8*u+7]. */
static __device__ __forceinline__ float dot8(const uint4 &wv, const float4 *x4, uint32_t u) {
  float w[8];
  fl_half8_to_float(wv, w);
  const float4 a = x4[2 * u], b = x4[2 * u + 1];
  return w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
}

static __device__ __forceinline__ float dot4(const float4 &w, const float4 &x) {
  return w.x * x.x + w.y * x.y + w.z * x.z + w.w * x.w;
}

template <bool VEC>
__global__ void matvec_f16_kernel(float *y, const __half *w, const float *x, uint32_t out_dim, uint32_t in_dim) {
  const uint32_t lane = threadIdx.x % FL_LLAMA_GROUP;
  const uint32_t row = blockIdx.x * FL_MATVEC_ROWS + threadIdx.x / FL_LLAMA_GROUP;
  if (row >= out_dim) return; /* the whole group leaves together */
  const __half *wr = w + static_cast<uint64_t>(row) * in_dim;
  float acc = 0.0f;
  if (VEC) {
    const uint4 *w8 = reinterpret_cast<const uint4 *>(wr);
    const float4 *x4 = reinterpret_cast<const float4 *>(x);
    const uint32_t n8 = in_dim / 8;
    uint32_t u = lane;
    for (; u + 3 * FL_LLAMA_GROUP < n8; u += 4 * FL_LLAMA_GROUP) {
      const uint4 a = w8[u], b = w8[u + FL_LLAMA_GROUP], c = w8[u + 2 * FL_LLAMA_GROUP],
                  e = w8[u + 3 * FL_LLAMA_GROUP];
      acc += dot8(a, x4, u);
      acc += dot8(b, x4, u + FL_LLAMA_GROUP);
      acc += dot8(c, x4, u + 2 * FL_LLAMA_GROUP);
      acc += dot8(e, x4, u + 3 * FL_LLAMA_GROUP);
    }
    for (; u < n8; u += FL_LLAMA_GROUP) {
      const uint4 a = w8[u]; /* one 16-byte load (a reference into global memory would be read piecewise) */
      acc += dot8(a, x4, u);
    }
  } else {
    uint32_t i = lane;
    for (; i + 3 * FL_LLAMA_GROUP < in_dim; i += 4 * FL_LLAMA_GROUP) {
      const float a = __half2float(wr[i]), b = __half2float(wr[i + FL_LLAMA_GROUP]),
                  c = __half2float(wr[i + 2 * FL_LLAMA_GROUP]), e = __half2float(wr[i + 3 * FL_LLAMA_GROUP]);
      acc += a * x[i] + b * x[i + FL_LLAMA_GROUP] + c * x[i + 2 * FL_LLAMA_GROUP] + e * x[i + 3 * FL_LLAMA_GROUP];
    }
    for (; i < in_dim; i += FL_LLAMA_GROUP) acc += __half2float(wr[i]) * x[i];
  }
  acc = fl_group_sum(acc);
  if (lane == 0) y[row] = acc;
}

template <bool VEC>
__global__ void matvec_f32_kernel(float *y, const float *w, const float *x, uint32_t out_dim, uint32_t in_dim) {
  const uint32_t lane = threadIdx.x % FL_LLAMA_GROUP;
  const uint32_t row = blockIdx.x * FL_MATVEC_ROWS + threadIdx.x / FL_LLAMA_GROUP;
  if (row >= out_dim) return; /* the whole group leaves together */
  const float *wr = w + static_cast<uint64_t>(row) * in_dim;
  float acc = 0.0f;
  if (VEC) {
    const float4 *w4 = reinterpret_cast<const float4 *>(wr);
    const float4 *x4 = reinterpret_cast<const float4 *>(x);
    const uint32_t n4 = in_dim / 4;
    uint32_t u = lane;
    for (; u + 3 * FL_LLAMA_GROUP < n4; u += 4 * FL_LLAMA_GROUP) {
      const float4 a = w4[u], b = w4[u + FL_LLAMA_GROUP], c = w4[u + 2 * FL_LLAMA_GROUP],
                   e = w4[u + 3 * FL_LLAMA_GROUP];
      acc += dot4(a, x4[u]);
      acc += dot4(b, x4[u + FL_LLAMA_GROUP]);
      acc += dot4(c, x4[u + 2 * FL_LLAMA_GROUP]);
      acc += dot4(e, x4[u + 3 * FL_LLAMA_GROUP]);
    }
    for (; u < n4; u += FL_LLAMA_GROUP) acc += dot4(w4[u], x4[u]);
  } else {
    uint32_t i = lane;
    for (; i + 3 * FL_LLAMA_GROUP < in_dim; i += 4 * FL_LLAMA_GROUP) {
      const float a = wr[i], b = wr[i + FL_LLAMA_GROUP], c = wr[i + 2 * FL_LLAMA_GROUP],
                  e = wr[i + 3 * FL_LLAMA_GROUP];
      acc += a * x[i] + b * x[i + FL_LLAMA_GROUP] + c * x[i + 2 * FL_LLAMA_GROUP] + e * x[i + 3 * FL_LLAMA_GROUP];
    }
    for (; i < in_dim; i += FL_LLAMA_GROUP) acc += wr[i] * x[i];
  }
  acc = fl_group_sum(acc);
  if (lane == 0) y[row] = acc;
}

/* Prefill: block (bx, by) computes y[by*64 .. +64, bx*64 .. +64] through
 * shared-memory tiles of 16 along in_dim. Thread (tx, ty) of 16 x 16 owns
 * outputs bx*64 + tx + 16j and tokens by*64 + ty + 16i (i, j < 4): 16
 * accumulators, 8 shared loads per 16 FMAs. Tiles are stored k-major with
 * one float of padding, so neither the transposing stores nor the loads
 * conflict on banks. */
template <typename W>
__global__ void matmul_kernel(float *y, const W *w, const float *x, uint32_t n_tokens, uint32_t out_dim,
                              uint32_t in_dim) {
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
      xs[kk][rr] = (t < n_tokens && k < in_dim) ? x[static_cast<uint64_t>(t) * in_dim + k] : 0.0f;
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

void launch_matvec_f16(hipStream_t stream, const fl_launch_dims &d, float *y, const __half *w, const float *x,
                       uint32_t out_dim, uint32_t in_dim) {
  const bool vec = in_dim % 8 == 0 &&
                   ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15u) == 0;
  if (vec) {
    hipLaunchKernelGGL(matvec_f16_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                       in_dim);
  } else {
    hipLaunchKernelGGL(matvec_f16_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                       in_dim);
  }
}

void launch_matvec_f32(hipStream_t stream, const fl_launch_dims &d, float *y, const float *w, const float *x,
                       uint32_t out_dim, uint32_t in_dim) {
  const bool vec = in_dim % 4 == 0 &&
                   ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15u) == 0;
  if (vec) {
    hipLaunchKernelGGL(matvec_f32_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                       in_dim);
  } else {
    hipLaunchKernelGGL(matvec_f32_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                       in_dim);
  }
}

void launch_matmul_f32(hipStream_t stream, const fl_launch_dims &d, float *y, const float *w, const float *x,
                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) {
  hipLaunchKernelGGL(matmul_kernel<float>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, n_tokens,
                     out_dim, in_dim);
}

void launch_matmul_f16(hipStream_t stream, const fl_launch_dims &d, float *y, const __half *w, const float *x,
                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) {
  hipLaunchKernelGGL(matmul_kernel<__half>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, n_tokens,
                     out_dim, in_dim);
}
