/* Embedding lookup: out[t, :] = table[tokens[t], :] (f32 or f16 table, f32 out).
 * One block per token. A token id outside [0, vocab) reads nothing and
 * yields a row of NaN, so the bad id shows downstream. */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

/* VEC: 16-byte loads and stores (rows and out 16-byte aligned). */
template <bool VEC>
__global__ void embed_f32_kernel(float *out, const float *table, const int32_t *tokens, uint32_t dim,
                                 uint32_t vocab) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint32_t t = blockIdx.x;
  const int32_t tok = tokens[t];
  float *o = out + static_cast<uint64_t>(t) * dim;
  if (tok < 0 || static_cast<uint32_t>(tok) >= vocab) {
    for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = fl_nanf();
    return;
  }
  const float *row = table + static_cast<uint64_t>(tok) * dim;
  if (VEC) {
    const float4 *r4 = reinterpret_cast<const float4 *>(row);
    float4 *o4 = reinterpret_cast<float4 *>(o);
    for (uint32_t i = threadIdx.x; i < dim / 4; i += blockDim.x) o4[i] = r4[i];
  } else {
    for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = row[i];
  }
}

/* VEC: 8 halves (16 bytes) per load (rows and out 16-byte aligned). */
template <bool VEC>
__global__ void embed_f16_kernel(float *out, const __half *table, const int32_t *tokens, uint32_t dim,
                                 uint32_t vocab) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint32_t t = blockIdx.x;
  const int32_t tok = tokens[t];
  float *o = out + static_cast<uint64_t>(t) * dim;
  if (tok < 0 || static_cast<uint32_t>(tok) >= vocab) {
    for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = fl_nanf();
    return;
  }
  const __half *row = table + static_cast<uint64_t>(tok) * dim;
  if (VEC) {
    const uint4 *r8 = reinterpret_cast<const uint4 *>(row);
    float4 *o4 = reinterpret_cast<float4 *>(o);
    for (uint32_t i = threadIdx.x; i < dim / 8; i += blockDim.x) {
      const uint4 u = r8[i]; /* one 16-byte load */
      float f[8];
      fl_half8_to_float(u, f);
      o4[2 * i] = make_float4(f[0], f[1], f[2], f[3]);
      o4[2 * i + 1] = make_float4(f[4], f[5], f[6], f[7]);
    }
  } else {
    for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = __half2float(row[i]);
  }
}

static void launch_embed_f32(hipStream_t stream, const fl_launch_dims &d, float *out, const float *table,
                      const int32_t *tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab) {
  (void)n_tokens;
  const bool vec = dim % 4 == 0 && (reinterpret_cast<uintptr_t>(out) & 15u) == 0 &&
                   (reinterpret_cast<uintptr_t>(table) & 15u) == 0;
  if (vec) {
    FL_LLAMA_LAUNCH(embed_f32_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, table, tokens,
                       dim, vocab);
  } else {
    FL_LLAMA_LAUNCH(embed_f32_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, table, tokens,
                       dim, vocab);
  }
}

static void launch_embed_f16(hipStream_t stream, const fl_launch_dims &d, float *out, const __half *table,
                      const int32_t *tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab) {
  (void)n_tokens;
  const bool vec = dim % 8 == 0 && (reinterpret_cast<uintptr_t>(out) & 15u) == 0 &&
                   (reinterpret_cast<uintptr_t>(table) & 15u) == 0;
  if (vec) {
    FL_LLAMA_LAUNCH(embed_f16_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, table, tokens,
                       dim, vocab);
  } else {
    FL_LLAMA_LAUNCH(embed_f16_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, table, tokens,
                       dim, vocab);
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_embed_f32(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_embed_f32 &a) {
  launch_embed_f32(l.hstream, d[0], ptr<float>(a.out), ptr<const float>(a.table), ptr<const int32_t>(a.tokens),
                   a.n_tokens, a.dim, a.vocab);
}

void fl_gpu_embed_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_embed_f16 &a) {
  launch_embed_f16(l.hstream, d[0], ptr<float>(a.out), ptr<const __half>(a.table), ptr<const int32_t>(a.tokens),
                   a.n_tokens, a.dim, a.vocab);
}
