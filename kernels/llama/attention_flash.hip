/* Causal attention prefill over f16 KV caches, flash-attention style: a block takes 64 queries of
 * one head and walks the cache in tiles of 32 rows (only those the tile's last query attends), each
 * tile's K and V rows loaded into shared memory once for all 64 queries, with an online softmax, so
 * the cache is read once per 64 queries instead of once per query. Same semantics as
 * attention_prefill (attention.hip): query s at position n_ctx - seq_len + s attends rows 0 ..= it,
 * scale 1/sqrt(head_dim), query head h reads KV head h / (n_head / n_head_kv).
 *
 * 128 threads; thread (ty = tid / 8, tx = tid % 8) owns queries 4ty .. 4ty+3 of the tile: their
 * scores against keys tx, tx+8, tx+16, tx+24 of a tile (the row's 8 threads reduce the softmax
 * statistics with shuffles) and their outputs at dims 4tx + 32m .. +3 (m < head_dim / 32). Shared
 * memory (fl_flash_smem): the queries (f32, pre-scaled), the tile's K and V rows (f16), its weights.
 * Heaviest tiles (the sequence's end) are launched first.
 *
 * Heads over 128 or not a multiple of 32 take the per-query kernel of attention.hip (the geometry,
 * launch_config_llama.h, says which). VEC: q, out and the caches 16-byte aligned.
 */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

void fl_attention_prefill_per_query_f16(hipStream_t stream, const fl_launch_dims &d, float *out, const float *q,
                                        const __half *k_cache, const __half *v_cache, uint32_t seq_len, uint32_t n_head,
                                        uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx);

namespace {

constexpr uint32_t BQ = FL_FLASH_QUERIES, BK = FL_FLASH_KEYS, NT = FL_FLASH_THREADS;

struct FlashSmem {
  float *q;     /* [BQ][D + 4] */
  __half *k, *v; /* [BK][D + 8] */
  float *p;     /* [BQ][BK + 1] */
};

template <uint32_t D>
static __device__ __forceinline__ FlashSmem flash_smem(float4 *base) {
  FlashSmem s;
  s.q = reinterpret_cast<float *>(base);
  s.k = reinterpret_cast<__half *>(s.q + BQ * (D + 4));
  s.v = s.k + BK * (D + 8);
  s.p = reinterpret_cast<float *>(s.v + BK * (D + 8));
  return s;
}

/* The tile's queries, scaled, into shared memory; rows past the sequence are zeros. */
template <uint32_t D, bool VEC>
static __device__ __forceinline__ void flash_load_q(const FlashSmem &s, const float *q, uint64_t qrow, uint32_t s0,
                                                    uint32_t nq, uint32_t h, float scale) {
  for (uint32_t e = threadIdx.x; e < BQ * D / 4; e += NT) {
    const uint32_t r = e / (D / 4), c = 4 * (e % (D / 4));
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (r < nq) {
      const float *src = q + (s0 + r) * qrow + static_cast<uint64_t>(h) * D + c;
      v = VEC ? *reinterpret_cast<const float4 *>(src) : make_float4(src[0], src[1], src[2], src[3]);
    }
    float *dst = s.q + r * (D + 4) + c;
    dst[0] = v.x * scale, dst[1] = v.y * scale, dst[2] = v.z * scale, dst[3] = v.w * scale;
  }
}

/* Cache rows j0 .. j0 + BK - 1 of KV head hk into shared memory (rows past n_ctx: zeros, never read). */
template <uint32_t D, bool VEC>
static __device__ __forceinline__ void flash_load_kv(const FlashSmem &s, const __half *k_cache, const __half *v_cache,
                                                     uint64_t kvrow, uint32_t hk, uint32_t j0, uint32_t n_ctx) {
  for (uint32_t e = threadIdx.x; e < BK * D / 8; e += NT) {
    const uint32_t r = e / (D / 8), c = 8 * (e % (D / 8)), j = j0 + r;
    const uint64_t at = static_cast<uint64_t>(j) * kvrow + static_cast<uint64_t>(hk) * D + c;
    __half *kd = s.k + r * (D + 8) + c, *vd = s.v + r * (D + 8) + c;
    if (VEC) {
      const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
      *reinterpret_cast<uint4 *>(kd) = j < n_ctx ? *reinterpret_cast<const uint4 *>(k_cache + at) : zero;
      *reinterpret_cast<uint4 *>(vd) = j < n_ctx ? *reinterpret_cast<const uint4 *>(v_cache + at) : zero;
    } else {
      for (uint32_t i = 0; i < 8; i++) {
        kd[i] = j < n_ctx ? k_cache[at + i] : __float2half_rn(0.0f);
        vd[i] = j < n_ctx ? v_cache[at + i] : __float2half_rn(0.0f);
      }
    }
  }
}

/* Scores of the thread's 4 queries against its 4 keys of the tile. */
template <uint32_t D>
static __device__ __forceinline__ void flash_scores(const FlashSmem &s, uint32_t ty, uint32_t tx, float sc[4][4]) {
#pragma unroll
  for (uint32_t i = 0; i < 4; i++)
#pragma unroll
    for (uint32_t j = 0; j < 4; j++) sc[i][j] = 0.0f;
#pragma unroll 4
  for (uint32_t d = 0; d < D; d += 4) {
    float4 qv[4], kv[4];
#pragma unroll
    for (uint32_t i = 0; i < 4; i++) qv[i] = *reinterpret_cast<const float4 *>(s.q + (4 * ty + i) * (D + 4) + d);
#pragma unroll
    for (uint32_t j = 0; j < 4; j++) kv[j] = fl_load4(s.k + (tx + 8 * j) * (D + 8) + d, 0);
#pragma unroll
    for (uint32_t i = 0; i < 4; i++)
#pragma unroll
      for (uint32_t j = 0; j < 4; j++)
        sc[i][j] += qv[i].x * kv[j].x + qv[i].y * kv[j].y + qv[i].z * kv[j].z + qv[i].w * kv[j].w;
  }
}

/* Max and sum over the 8 threads of a query row (consecutive lanes). */
static __device__ __forceinline__ float row_max(float v) {
#pragma unroll
  for (int m = 4; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(FL_FULL_MASK, v, m, FL_LLAMA_GROUP));
  return v;
}
static __device__ __forceinline__ float row_sum(float v) {
#pragma unroll
  for (int m = 4; m > 0; m >>= 1) v += __shfl_xor_sync(FL_FULL_MASK, v, m, FL_LLAMA_GROUP);
  return v;
}

template <uint32_t NM, bool VEC>
__global__ void FL_LAUNCH_BOUNDS(FL_FLASH_THREADS, 1)
    attention_flash_kernel(float *out, const float *q, const __half *k_cache, const __half *v_cache, uint32_t seq_len,
                           uint32_t n_head, uint32_t n_head_kv, uint32_t n_ctx, float scale) {
  FL_LLAMA_KERNEL_PROLOGUE();
  constexpr uint32_t D = 32 * NM;
  FL_DYNAMIC_SHARED(float4, smem4);
  const FlashSmem s = flash_smem<D>(smem4);
  const uint32_t ty = threadIdx.x / 8, tx = threadIdx.x % 8;
  const uint32_t s0 = (gridDim.x - 1 - blockIdx.x) * BQ, nq = min(BQ, seq_len - s0);
  const uint32_t h = blockIdx.y, hk = h / (n_head / n_head_kv), past = n_ctx - seq_len;
  const uint64_t qrow = static_cast<uint64_t>(n_head) * D, kvrow = static_cast<uint64_t>(n_head_kv) * D;
  flash_load_q<D, VEC>(s, q, qrow, s0, nq, h, scale);
  float o[4][4 * NM], m[4], l[4];
#pragma unroll
  for (uint32_t i = 0; i < 4; i++) {
    m[i] = -INFINITY, l[i] = 0.0f;
#pragma unroll
    for (uint32_t e = 0; e < 4 * NM; e++) o[i][e] = 0.0f;
  }
  const uint32_t tiles = (past + s0 + nq - 1) / BK + 1; /* up to the tile of the last query's own row */
  for (uint32_t kt = 0; kt < tiles; kt++) {
    __syncthreads(); /* the previous tile's rows and weights are read */
    flash_load_kv<D, VEC>(s, k_cache, v_cache, kvrow, hk, kt * BK, n_ctx);
    __syncthreads();
    float sc[4][4];
    flash_scores<D>(s, ty, tx, sc);
#pragma unroll
    for (uint32_t i = 0; i < 4; i++) {
      const uint32_t r = 4 * ty + i, pos = past + s0 + r;
      float mx = -INFINITY;
#pragma unroll
      for (uint32_t j = 0; j < 4; j++) {
        if (r >= nq || kt * BK + tx + 8 * j > pos) sc[i][j] = -INFINITY; /* past the causal limit */
        mx = fmaxf(mx, sc[i][j]);
      }
      const float mn = fmaxf(m[i], row_max(mx));
      const float corr = mn == -INFINITY ? 1.0f : expf(m[i] - mn); /* a row with no key yet keeps zeros */
      float sum = 0.0f;
#pragma unroll
      for (uint32_t j = 0; j < 4; j++) {
        const float p = sc[i][j] == -INFINITY ? 0.0f : expf(sc[i][j] - mn);
        s.p[r * (BK + 1) + tx + 8 * j] = p;
        sum += p;
      }
      l[i] = l[i] * corr + row_sum(sum);
      m[i] = mn;
#pragma unroll
      for (uint32_t e = 0; e < 4 * NM; e++) o[i][e] *= corr;
    }
    __syncthreads(); /* the weights of every key of the row are in place */
#pragma unroll 4
    for (uint32_t kk = 0; kk < BK; kk++) {
      float p[4];
#pragma unroll
      for (uint32_t i = 0; i < 4; i++) p[i] = s.p[(4 * ty + i) * (BK + 1) + kk];
#pragma unroll
      for (uint32_t mm = 0; mm < NM; mm++) {
        const float4 v = fl_load4(s.v + kk * (D + 8) + 4 * tx + 32 * mm, 0);
#pragma unroll
        for (uint32_t i = 0; i < 4; i++) {
          o[i][4 * mm] += p[i] * v.x, o[i][4 * mm + 1] += p[i] * v.y;
          o[i][4 * mm + 2] += p[i] * v.z, o[i][4 * mm + 3] += p[i] * v.w;
        }
      }
    }
  }
#pragma unroll
  for (uint32_t i = 0; i < 4; i++) {
    const uint32_t r = 4 * ty + i;
    if (r >= nq) continue;
    const float inv = 1.0f / l[i];
#pragma unroll
    for (uint32_t mm = 0; mm < NM; mm++) {
      float *dst = out + (s0 + r) * qrow + static_cast<uint64_t>(h) * D + 4 * tx + 32 * mm;
      const float4 v = make_float4(o[i][4 * mm] * inv, o[i][4 * mm + 1] * inv, o[i][4 * mm + 2] * inv,
                                   o[i][4 * mm + 3] * inv);
      if (VEC) {
        *reinterpret_cast<float4 *>(dst) = v;
      } else {
        dst[0] = v.x, dst[1] = v.y, dst[2] = v.z, dst[3] = v.w;
      }
    }
  }
}

/* More than 48 KiB of dynamic shared memory needs the kernel's consent on cuda (once per device). */
template <typename K>
void allow_smem(K kernel, uint32_t bytes, int32_t dev) {
#if defined(FL_BACKEND_CUDA)
  static bool done[flgpu::kMaxDevices] = {};
  if (bytes <= 48u * 1024u || dev < 0 || dev >= flgpu::kMaxDevices || done[dev]) return;
  if (cudaFuncSetAttribute(reinterpret_cast<const void *>(kernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(bytes)) == cudaSuccess) {
    done[dev] = true;
  }
#else
  (void)kernel, (void)bytes, (void)dev;
#endif
}

template <uint32_t NM, bool VEC>
void launch_flash(const flgpu::Launch &l, const fl_launch_dims &d, float *out, const float *q, const __half *k,
                  const __half *v, uint32_t seq_len, uint32_t n_head, uint32_t n_head_kv, uint32_t n_ctx) {
  const uint32_t smem = fl_flash_smem(32 * NM);
  allow_smem(attention_flash_kernel<NM, VEC>, smem, l.dev);
  const float scale = 1.0f / sqrtf(static_cast<float>(32 * NM));
  FL_LLAMA_LAUNCH((attention_flash_kernel<NM, VEC>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), smem, l.hstream, out, q, k, v,
                  seq_len, n_head, n_head_kv, n_ctx, scale);
}

template <bool VEC>
void launch_flash_vec(const flgpu::Launch &l, const fl_launch_dims &d, float *out, const float *q, const __half *k,
                      const __half *v, uint32_t seq_len, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                      uint32_t n_ctx) {
  switch (head_dim / 32) { /* fl_flash_head: 32, 64, 96 or 128 */
    case 1: return launch_flash<1, VEC>(l, d, out, q, k, v, seq_len, n_head, n_head_kv, n_ctx);
    case 2: return launch_flash<2, VEC>(l, d, out, q, k, v, seq_len, n_head, n_head_kv, n_ctx);
    case 3: return launch_flash<3, VEC>(l, d, out, q, k, v, seq_len, n_head, n_head_kv, n_ctx);
    default: return launch_flash<4, VEC>(l, d, out, q, k, v, seq_len, n_head, n_head_kv, n_ctx);
  }
}

}  // namespace

using flgpu::ptr;

void fl_gpu_attention_prefill_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_attention_prefill_f16 &a) {
  float *out = ptr<float>(a.out);
  const float *q = ptr<const float>(a.q);
  const __half *k = ptr<const __half>(a.k_cache), *v = ptr<const __half>(a.v_cache);
  if (!fl_flash_head(a.head_dim)) {
    fl_attention_prefill_per_query_f16(l.hstream, d[0], out, q, k, v, a.seq_len, a.n_head, a.n_head_kv, a.head_dim,
                                       a.n_ctx);
    return;
  }
  const bool vec = ((reinterpret_cast<uintptr_t>(out) | reinterpret_cast<uintptr_t>(q) |
                     reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) & 15u) == 0;
  if (vec) {
    launch_flash_vec<true>(l, d[0], out, q, k, v, a.seq_len, a.n_head, a.n_head_kv, a.head_dim, a.n_ctx);
  } else {
    launch_flash_vec<false>(l, d[0], out, q, k, v, a.seq_len, a.n_head, a.n_head_kv, a.head_dim, a.n_ctx);
  }
}
