/* Attention over a KV cache laid out [ctx, n_head_kv, head_dim] (f32, or f16 for
 * the _f16 kernels: the same code over KV = __half, four elements a load), scale
 * 1/sqrt(head_dim), grouped-query heads: query head h reads KV head
 * h / (n_head / n_head_kv).
 *
 * prefill: one 32-lane group per (query s, head h) with an online softmax
 *   over cache rows 0 ..= n_ctx - seq_len + s (causal), four keys at a time.
 *   Each lane keeps its share of q and of the output in registers:
 *   head_dim <= 256 (the config refuses larger with status 9).
 *
 * decode: flash-decoding. The partial kernel gives one block to each (chunk
 *   of 64 keys, KV head), so the G = n_head / n_head_kv query heads of a KV
 *   head read each K and V row once; it writes, per (query head, chunk), the
 *   chunk's max score m, its sum of exp(score - m) l and the unnormalized
 *   output acc. The combine kernel (one block per query head) rescales and
 *   sums the chunks. Scratch layout (f32): acc[n_head][chunks][head_dim],
 *   then ml[n_head][chunks][2].
 *
 *   Tried on the H100 (Llama-2-7B heads, ctx 2048, 67 MB, workload_kernels
 *   with FL_ATTN_VARIANTS; this register kernel: 27.8-28.1 us) and not kept:
 *   a streaming partial kernel taking 128, 256 or 512 keys per block, 64 at
 *   a time with an online softmax, the next K rows loaded right after the
 *   dots and the next V rows right after the weighted sums (28.9, 28.1,
 *   28.4 us: the number of partials and the combine's share do not show);
 *   the same with an L2 prefetch two steps ahead (31.2 us at 256 keys);
 *   folding the combine into it through a thread-block cluster per KV head
 *   (its chunks meet in distributed shared memory, no scratch, no second
 *   kernel: 33.5 us with 8 blocks a cluster, 35.1 us with 16).
 */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

#define FL_ATTN_MAX_PER_LANE (FL_LLAMA_MAX_HEAD_DIM / FL_LLAMA_GROUP) /* 8 */

static_assert(FL_ATTN_CHUNK == 2 * FL_LLAMA_GROUP, "the decode softmax gives each lane two keys of a chunk");

/* NT: elements of a head per lane (head_dim <= 32 * NT). Keys go four at a
 * time: their K and V loads in flight together, one reduction for the four
 * dots (fl_group_sum4), one online-softmax rescale. */
template <int NT, typename KV>
__global__ void attention_prefill_kernel(float *out, const float *q, const KV *k_cache, const KV *v_cache,
                                         uint32_t seq_len, uint32_t n_head, uint32_t n_head_kv,
                                         uint32_t head_dim, uint32_t n_ctx, float scale) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint32_t lane = threadIdx.x % FL_LLAMA_GROUP;
  const uint64_t p = static_cast<uint64_t>(blockIdx.x) * FL_ATTN_PREFILL_QUERIES + threadIdx.x / FL_LLAMA_GROUP;
  if (p >= static_cast<uint64_t>(seq_len) * n_head) return; /* the whole group leaves together */
  const uint32_t s = static_cast<uint32_t>(p / n_head), h = static_cast<uint32_t>(p % n_head);
  const uint32_t hk = h / (n_head / n_head_kv);
  const uint32_t last = n_ctx - seq_len + s;
  const uint64_t kv_stride = static_cast<uint64_t>(n_head_kv) * head_dim;
  const float *qh = q + p * head_dim;
  const KV *kb = k_cache + static_cast<uint64_t>(hk) * head_dim;
  const KV *vb = v_cache + static_cast<uint64_t>(hk) * head_dim;

  float qr[NT], acc[NT];
#pragma unroll
  for (int t = 0; t < NT; t++) {
    const uint32_t d = lane + t * FL_LLAMA_GROUP;
    qr[t] = d < head_dim ? qh[d] * scale : 0.0f;
    acc[t] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (uint32_t j0 = 0; j0 <= last; j0 += 4) {
    float kr[4][NT], vr[4][NT], dot[4], sc[4];
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const uint32_t j = j0 + k;
      const KV *krow = kb + j * kv_stride, *vrow = vb + j * kv_stride;
#pragma unroll
      for (int t = 0; t < NT; t++) {
        const uint32_t d = lane + t * FL_LLAMA_GROUP;
        const bool ok = j <= last && d < head_dim;
        kr[k][t] = ok ? fl_to_float(krow[d]) : 0.0f;
        vr[k][t] = ok ? fl_to_float(vrow[d]) : 0.0f;
      }
    }
#pragma unroll
    for (int k = 0; k < 4; k++) {
      dot[k] = 0.0f;
#pragma unroll
      for (int t = 0; t < NT; t++) dot[k] += qr[t] * kr[k][t];
    }
    fl_group_sum4(dot, sc);
    float m_new = m;
#pragma unroll
    for (int k = 0; k < 4; k++) {
      if (j0 + k > last) sc[k] = -INFINITY; /* past the causal limit: weight 0 */
      m_new = fmaxf(m_new, sc[k]);
    }
    const float corr = expf(m - m_new); /* key j0 <= last is finite: m_new is */
    float e[4];
#pragma unroll
    for (int k = 0; k < 4; k++) e[k] = expf(sc[k] - m_new);
    l = l * corr + (e[0] + e[1]) + (e[2] + e[3]);
#pragma unroll
    for (int t = 0; t < NT; t++) {
      acc[t] = acc[t] * corr + e[0] * vr[0][t] + e[1] * vr[1][t] + e[2] * vr[2][t] + e[3] * vr[3][t];
    }
    m = m_new;
  }
  const float inv_l = 1.0f / l;
  float *oh = out + p * head_dim;
#pragma unroll
  for (int t = 0; t < NT; t++) {
    const uint32_t d = lane + t * FL_LLAMA_GROUP;
    if (d < head_dim) oh[d] = acc[t] * inv_l;
  }
}

/* Decode, phase 1. VEC: head_dim % 4 == 0 and k, v 16-byte aligned (every
 * row then is). Shared memory (fl_attn_decode_smem): red[blockDim.x] float4
 * for the key-slice sums, then qs[G][D] scaled queries, ps[G][CHUNK] scores
 * (then weights), ml[G][2]. */
template <bool VEC, int PL, typename KV>
__global__ void attention_decode_partial_kernel(float *scratch, const float *q, const KV *k_cache,
                                                const KV *v_cache, uint32_t n_head, uint32_t n_head_kv,
                                                uint32_t head_dim, uint32_t n_ctx, float scale) {
  FL_LLAMA_KERNEL_PROLOGUE();
  FL_DYNAMIC_SHARED(float4, smem4);
  constexpr uint32_t KEYS = 4; /* keys whose loads are in flight together, per group (the reduction below assumes 4) */
  /* PL: units per lane, U <= 32 * PL (the launcher picks the smallest) */
  constexpr uint32_t W = VEC ? 4 : 1;                                      /* floats per unit */
  const uint32_t G = n_head / n_head_kv, D = head_dim, U = D / W;
  float4 *red = smem4;
  float *qs = reinterpret_cast<float *>(smem4 + blockDim.x);
  float *ps = qs + G * D;
  float *ml = ps + G * FL_ATTN_CHUNK;
  const uint32_t c = blockIdx.x, hk = blockIdx.y, chunks = gridDim.x;
  const uint32_t tid = threadIdx.x, lane = tid % FL_LLAMA_GROUP, group = tid / FL_LLAMA_GROUP;
  const uint32_t n_groups = blockDim.x / FL_LLAMA_GROUP;
  const uint32_t j0 = c * FL_ATTN_CHUNK;
  const uint32_t nj = min(static_cast<uint32_t>(FL_ATTN_CHUNK), n_ctx - j0);
  const uint64_t kv_stride = static_cast<uint64_t>(n_head_kv) * D;
  const KV *kb = k_cache + static_cast<uint64_t>(j0) * kv_stride + static_cast<uint64_t>(hk) * D;
  const KV *vb = v_cache + static_cast<uint64_t>(j0) * kv_stride + static_cast<uint64_t>(hk) * D;

  /* The KV head's queries are contiguous: heads hk*G .. hk*G + G - 1. */
  const float *qg = q + static_cast<uint64_t>(hk) * G * D;
  for (uint32_t e = tid; e < G * D; e += blockDim.x) qs[e] = qg[e] * scale;
  __syncthreads();

#if defined(FL_BACKEND_CUDA)
  /* Warm L2 with the chunk's V rows while the scores are computed, so that
   * the weighted sum below waits on L2 rather than on DRAM. Every address
   * lies inside a V row this block reads anyway. */
  {
    const uint32_t lines = (D * static_cast<uint32_t>(sizeof(KV)) + 127) / 128;
    for (uint32_t e = tid; e < nj * lines; e += blockDim.x) {
      const char *p = reinterpret_cast<const char *>(vb + static_cast<uint64_t>(e / lines) * kv_stride) +
                      (e % lines) * 128;
      asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
    }
  }
#endif

  /* Scores: group `group` takes keys group + n_groups * (KEYS * it + k). */
  for (uint32_t jb = group; jb < nj; jb += KEYS * n_groups) {
    float4 kr[KEYS][PL];
#pragma unroll
    for (uint32_t k = 0; k < KEYS; k++) {
      const uint32_t jj = jb + k * n_groups;
      const KV *row = kb + static_cast<uint64_t>(jj) * kv_stride;
#pragma unroll
      for (int t = 0; t < PL; t++) {
        const uint32_t u = lane + t * FL_LLAMA_GROUP;
        const bool ok = jj < nj && u < U;
        if (VEC) {
          kr[k][t] = ok ? fl_load4(row, u) : make_float4(0.f, 0.f, 0.f, 0.f);
        } else {
          kr[k][t].x = ok ? fl_to_float(row[u]) : 0.0f;
        }
      }
    }
    for (uint32_t g = 0; g < G; g++) {
      float dot[KEYS];
#pragma unroll
      for (uint32_t k = 0; k < KEYS; k++) dot[k] = 0.0f;
#pragma unroll
      for (int t = 0; t < PL; t++) {
        const uint32_t u = lane + t * FL_LLAMA_GROUP;
        if (u < U) {
          if (VEC) {
            const float4 qv = reinterpret_cast<const float4 *>(qs)[g * U + u];
#pragma unroll
            for (uint32_t k = 0; k < KEYS; k++)
              dot[k] += qv.x * kr[k][t].x + qv.y * kr[k][t].y + qv.z * kr[k][t].z + qv.w * kr[k][t].w;
          } else {
            const float qv = qs[g * D + u];
#pragma unroll
            for (uint32_t k = 0; k < KEYS; k++) dot[k] += qv * kr[k][t].x;
          }
        }
      }
      const float kept = fl_group_sum4_scatter(dot); /* lane 8k: the dot of key k */
      const uint32_t jj = jb + fl_group_sum4_key() * n_groups;
      if ((lane & 7) == 0 && jj < nj) ps[g * FL_ATTN_CHUNK + jj] = kept;
    }
  }
  __syncthreads();

  /* Chunk softmax statistics, one group per query head; scores become weights. */
  for (uint32_t g = group; g < G; g += n_groups) {
    float *pg = ps + g * FL_ATTN_CHUNK;
    const float s0 = lane < nj ? pg[lane] : -INFINITY;
    const float s1 = lane + FL_LLAMA_GROUP < nj ? pg[lane + FL_LLAMA_GROUP] : -INFINITY;
    const float m = fl_group_max(fmaxf(s0, s1));
    const float e0 = lane < nj ? expf(s0 - m) : 0.0f;
    const float e1 = lane + FL_LLAMA_GROUP < nj ? expf(s1 - m) : 0.0f;
    const float l = fl_group_sum(e0 + e1);
    if (lane < nj) pg[lane] = e0;
    if (lane + FL_LLAMA_GROUP < nj) pg[lane + FL_LLAMA_GROUP] = e1;
    if (lane == 0) {
      ml[2 * g] = m;
      ml[2 * g + 1] = l;
    }
  }
  __syncthreads();

  /* acc[g][d] = sum_j w[g][j] v[j][d]. Each thread owns a (head, column
   * unit) and, when there are fewer of those than threads, a slice of the
   * keys (S slices, summed through `red`). */
  const uint32_t GU = G * U;
  uint32_t S = blockDim.x / GU;
  if (S < 1) S = 1;
  if (S > 8) S = 8;
  float *acc_out = scratch;                                             /* [n_head][chunks][D] */
  float *ml_out = scratch + static_cast<uint64_t>(n_head) * chunks * D; /* [n_head][chunks][2] */
  /* S == 1: units e0 + tid, as many passes as needed; S > 1 (then
   * S * GU <= blockDim.x): one pass, every thread on the same path. */
  for (uint32_t e0 = 0; e0 < GU; e0 += S == 1 ? blockDim.x : GU) {
    const uint32_t e = S == 1 ? e0 + tid : tid % GU;
    const uint32_t sl = S == 1 ? 0 : tid / GU;
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
    const bool active = e < GU && sl < S;
    if (active) {
      const uint32_t g = e / U, u = e % U;
      const float *pg = ps + g * FL_ATTN_CHUNK;
#pragma unroll 4
      for (uint32_t jj = sl; jj < nj; jj += S) {
        const float w = pg[jj];
        const KV *row = vb + static_cast<uint64_t>(jj) * kv_stride;
        if (VEC) {
          const float4 v = fl_load4(row, u);
          a.x += w * v.x, a.y += w * v.y, a.z += w * v.z, a.w += w * v.w;
        } else {
          a.x += w * fl_to_float(row[u]);
        }
      }
    }
    if (S > 1) {
      if (active) red[tid] = a;
      __syncthreads();
      if (tid < GU) {
        for (uint32_t k = 1; k < S; k++) {
          const float4 r = red[tid + k * GU];
          a.x += r.x, a.y += r.y, a.z += r.z, a.w += r.w;
        }
      }
    }
    if (e < GU && sl == 0) {
      const uint32_t g = e / U, u = e % U;
      float *o = acc_out + (static_cast<uint64_t>(hk * G + g) * chunks + c) * D + u * W;
      o[0] = a.x;
      if (VEC) o[1] = a.y, o[2] = a.z, o[3] = a.w;
    }
  }
  for (uint32_t g = tid; g < G; g += blockDim.x) {
    float *o = ml_out + (static_cast<uint64_t>(hk * G + g) * chunks + c) * 2;
    o[0] = ml[2 * g];
    o[1] = ml[2 * g + 1];
  }
}

/* Decode, phase 1, register path (VEC with head_dim <= 128, so a lane owns
 * one float4 column unit): the block's 8 groups each load their 8 keys of
 * the chunk (keys group + 8k), K and V rows together, all 16 loads in
 * flight at once and kept in registers, so the chunk costs one round trip to
 * memory. Per query head g of the KV head: dots (two 4-key group
 * reductions), the chunk softmax in shared memory, each group's weighted sum
 * of its V rows, summed over the groups. FINAL (a single chunk): the block
 * writes out = acc / l itself and no combine kernel runs. */
template <bool FINAL, typename KV>
__global__ void FL_LAUNCH_BOUNDS(FL_ATTN_BLOCK, 2)
    attention_decode_reg_kernel(float *scratch, float *out, const float *q, const KV *k_cache,
                                const KV *v_cache, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                uint32_t n_ctx, float scale) {
  FL_LLAMA_KERNEL_PROLOGUE();
  constexpr uint32_t NG = FL_ATTN_BLOCK / FL_LLAMA_GROUP, KPG = FL_ATTN_CHUNK / NG; /* 8 groups, 8 keys each */
  static_assert(KPG == 8, "two 4-key reductions per group");
  __shared__ float ps[FL_ATTN_CHUNK];
  __shared__ float4 red[NG][FL_LLAMA_GROUP];
  __shared__ float stat[2];
  const uint32_t G = n_head / n_head_kv, D = head_dim, U = D / 4;
  /* Blocks in launch order take every KV head of a chunk before the next
   * chunk, so the blocks resident together read whole cache rows (all KV
   * heads of consecutive positions): long contiguous stretches of memory. */
  const uint32_t chunks = gridDim.x;
  const uint64_t id = static_cast<uint64_t>(blockIdx.y) * chunks + blockIdx.x;
  const uint32_t c = static_cast<uint32_t>(id / n_head_kv), hk = static_cast<uint32_t>(id % n_head_kv);
  const uint32_t tid = threadIdx.x, lane = tid % FL_LLAMA_GROUP, group = tid / FL_LLAMA_GROUP;
  const uint32_t j0 = c * FL_ATTN_CHUNK;
  const uint32_t nj = min(static_cast<uint32_t>(FL_ATTN_CHUNK), n_ctx - j0);
  const uint64_t kv_stride = static_cast<uint64_t>(n_head_kv) * D;
  const KV *kb = k_cache + static_cast<uint64_t>(j0) * kv_stride + static_cast<uint64_t>(hk) * D;
  const KV *vb = v_cache + static_cast<uint64_t>(j0) * kv_stride + static_cast<uint64_t>(hk) * D;
  const bool lane_ok = lane < U;
  const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);

  float4 kr[KPG], vr[KPG];
#pragma unroll
  for (uint32_t k = 0; k < KPG; k++) {
    const uint32_t jj = group + k * NG;
    const bool ok = lane_ok && jj < nj;
    kr[k] = ok ? fl_load4(kb + static_cast<uint64_t>(jj) * kv_stride, lane) : zero;
    vr[k] = ok ? fl_load4(vb + static_cast<uint64_t>(jj) * kv_stride, lane) : zero;
  }

  for (uint32_t g = 0; g < G; g++) {
    const uint32_t h = hk * G + g;
    float4 qv = zero;
    if (lane_ok) {
      const float *qh = q + static_cast<uint64_t>(h) * D + 4 * lane;
      qv = make_float4(qh[0] * scale, qh[1] * scale, qh[2] * scale, qh[3] * scale);
    }
    float dot[KPG];
#pragma unroll
    for (uint32_t k = 0; k < KPG; k++)
      dot[k] = qv.x * kr[k].x + qv.y * kr[k].y + qv.z * kr[k].z + qv.w * kr[k].w;
    const float lo = fl_group_sum4_scatter(dot), hi = fl_group_sum4_scatter(dot + 4);
    const uint32_t key = fl_group_sum4_key();
    if ((lane & 7) == 0) {
      const uint32_t jl = group + key * NG, jh = group + (key + 4) * NG;
      if (jl < nj) ps[jl] = lo;
      if (jh < nj) ps[jh] = hi;
    }
    __syncthreads();
    if (group == 0) {
      const float s0 = lane < nj ? ps[lane] : -INFINITY;
      const float s1 = lane + FL_LLAMA_GROUP < nj ? ps[lane + FL_LLAMA_GROUP] : -INFINITY;
      const float m = fl_group_max(fmaxf(s0, s1));
      const float e0 = lane < nj ? expf(s0 - m) : 0.0f;
      const float e1 = lane + FL_LLAMA_GROUP < nj ? expf(s1 - m) : 0.0f;
      const float l = fl_group_sum(e0 + e1);
      if (lane < nj) ps[lane] = e0;
      if (lane + FL_LLAMA_GROUP < nj) ps[lane + FL_LLAMA_GROUP] = e1;
      if (lane == 0) stat[0] = m, stat[1] = l;
    }
    __syncthreads();
    float4 a = zero;
#pragma unroll
    for (uint32_t k = 0; k < KPG; k++) {
      const uint32_t jj = group + k * NG;
      const float w = jj < nj ? ps[jj] : 0.0f; /* ps past nj was never written */
      a.x += w * vr[k].x, a.y += w * vr[k].y, a.z += w * vr[k].z, a.w += w * vr[k].w;
    }
    red[group][lane] = a;
    __syncthreads();
    if (tid < U) {
      float4 o = red[0][tid];
#pragma unroll
      for (uint32_t k = 1; k < NG; k++) {
        const float4 r = red[k][tid];
        o.x += r.x, o.y += r.y, o.z += r.z, o.w += r.w;
      }
      if (FINAL) {
        const float inv_l = 1.0f / stat[1];
        float *dst = out + static_cast<uint64_t>(h) * D + 4 * tid;
        dst[0] = o.x * inv_l, dst[1] = o.y * inv_l, dst[2] = o.z * inv_l, dst[3] = o.w * inv_l;
      } else {
        float *dst = scratch + (static_cast<uint64_t>(h) * chunks + c) * D + 4 * tid;
        dst[0] = o.x, dst[1] = o.y, dst[2] = o.z, dst[3] = o.w;
        if (tid == 0) {
          float *mo = scratch + static_cast<uint64_t>(n_head) * chunks * D + (static_cast<uint64_t>(h) * chunks + c) * 2;
          mo[0] = stat[0];
          mo[1] = stat[1];
        }
      }
    }
    __syncthreads(); /* ps, red and stat are reused by the next head */
  }
}

/* Decode, phase 2: one block per query head. out = sum_c acc_c exp(m_c - M) / L,
 * M = max_c m_c, L = sum_c l_c exp(m_c - M). VEC (head_dim % 4 == 0, scratch
 * 16-byte aligned): float4 columns. Each thread owns a column unit and a
 * slice of the chunks (S = blockDim.x / units slices, at most 32) and folds
 * its chunks in with a running max (acc, m and l loads of several chunks in
 * flight together: one round trip to memory); the slices then meet in
 * shared memory, rescaled to the common max. */
template <bool VEC>
__global__ void attention_decode_combine_kernel(float *out, const float *scratch, uint32_t n_head,
                                                uint32_t head_dim, uint32_t chunks) {
  FL_LLAMA_KERNEL_PROLOGUE();
  __shared__ float4 part[FL_ATTN_BLOCK];
  __shared__ float2 part_ml[FL_ATTN_BLOCK];
  constexpr uint32_t W = VEC ? 4 : 1;
  const uint32_t h = blockIdx.x, D = head_dim, U = D / W, tid = threadIdx.x;
  const float *acc = scratch + static_cast<uint64_t>(h) * chunks * D;
  const float *ml = scratch + static_cast<uint64_t>(n_head) * chunks * D + static_cast<uint64_t>(h) * chunks * 2;
  uint32_t S = blockDim.x / U; /* U <= 256 = blockDim.x (head_dim <= 256) */
  if (S > 32) S = 32;
  if (S < 1) S = 1;
  for (uint32_t u0 = 0; u0 < U; u0 += blockDim.x) { /* one pass unless U > blockDim.x */
    const uint32_t u = S == 1 ? u0 + tid : tid % U, sl = S == 1 ? 0 : tid / U;
    float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
    float m = -INFINITY, l = 0.0f; /* o and l are relative to exp(m) */
    if (u < U && sl < S) {
#pragma unroll 4
      for (uint32_t c = sl; c < chunks; c += S) {
        const float mc = ml[2 * c], lc = ml[2 * c + 1];
        const float *row = acc + static_cast<uint64_t>(c) * D;
        float4 a;
        if (VEC) {
          a = reinterpret_cast<const float4 *>(row)[u];
        } else {
          a = make_float4(row[u], 0.f, 0.f, 0.f);
        }
        const float mn = fmaxf(m, mc); /* chunk maxima are finite */
        const float fo = expf(m - mn), fc = expf(mc - mn);
        o.x = o.x * fo + a.x * fc, o.y = o.y * fo + a.y * fc, o.z = o.z * fo + a.z * fc, o.w = o.w * fo + a.w * fc;
        l = l * fo + lc * fc;
        m = mn;
      }
    }
    if (S > 1) {
      part[tid] = o;
      part_ml[tid] = make_float2(m, l);
      __syncthreads();
      if (tid < U) { /* slice 0 of unit tid: slice 0 holds chunk 0, so mx is finite */
        float mx = m;
        for (uint32_t k = 1; k < S; k++) mx = fmaxf(mx, part_ml[tid + k * U].x);
        o = make_float4(0.f, 0.f, 0.f, 0.f);
        l = 0.0f;
        for (uint32_t k = 0; k < S; k++) {
          const float2 sml = part_ml[tid + k * U];
          const float4 r = part[tid + k * U];
          const float f = expf(sml.x - mx); /* 0 for a slice with no chunk */
          o.x += r.x * f, o.y += r.y * f, o.z += r.z * f, o.w += r.w * f;
          l += sml.y * f;
        }
      }
    }
    if (u < U && sl == 0) {
      const float inv_l = 1.0f / l;
      float *dst = out + static_cast<uint64_t>(h) * D + u * W;
      dst[0] = o.x * inv_l;
      if (VEC) dst[1] = o.y * inv_l, dst[2] = o.z * inv_l, dst[3] = o.w * inv_l;
    }
  }
}

template <typename KV>
static void launch_attention_prefill(hipStream_t stream, const fl_launch_dims &d, float *out, const float *q,
                                     const KV *k_cache, const KV *v_cache, uint32_t seq_len, uint32_t n_head,
                                     uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx) {
  const float scale = 1.0f / sqrtf(static_cast<float>(head_dim));
  if (head_dim <= 2 * FL_LLAMA_GROUP) {
    FL_LLAMA_LAUNCH((attention_prefill_kernel<2, KV>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, q, k_cache,
                    v_cache, seq_len, n_head, n_head_kv, head_dim, n_ctx, scale);
  } else if (head_dim <= 4 * FL_LLAMA_GROUP) {
    FL_LLAMA_LAUNCH((attention_prefill_kernel<4, KV>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, q, k_cache,
                    v_cache, seq_len, n_head, n_head_kv, head_dim, n_ctx, scale);
  } else {
    /* head_dim <= 256 (FL_LLAMA_MAX_HEAD_DIM, refused above that) */
    FL_LLAMA_LAUNCH((attention_prefill_kernel<FL_ATTN_MAX_PER_LANE, KV>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0,
                    stream, out, q, k_cache, v_cache, seq_len, n_head, n_head_kv, head_dim, n_ctx, scale);
  }
}

template <typename KV>
static void launch_attention_decode(hipStream_t stream, const fl_launch_dims &partial, const fl_launch_dims &combine,
                                    float *out, const float *q, const KV *k_cache, const KV *v_cache, float *scratch,
                                    uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx) {
  const float scale = 1.0f / sqrtf(static_cast<float>(head_dim));
  const uint32_t smem = fl_attn_decode_smem(n_head, n_head_kv, head_dim);
  const uintptr_t row_align = 4 * sizeof(KV) - 1; /* four elements in one load */
  const bool vec = head_dim % 4 == 0 &&
                   ((reinterpret_cast<uintptr_t>(k_cache) | reinterpret_cast<uintptr_t>(v_cache)) & row_align) == 0;
  const bool ok_dims = partial.block[0] * partial.block[1] * partial.block[2] <= 1024u; /* else: the refusal */
  if (vec && head_dim <= 4 * FL_LLAMA_GROUP && ok_dims) {
    if (partial.grid[0] == 1) {
      FL_LLAMA_LAUNCH((attention_decode_reg_kernel<true, KV>), FL_GRID_DIM3(partial), FL_BLOCK_DIM3(partial), 0,
                      stream, scratch, out, q, k_cache, v_cache, n_head, n_head_kv, head_dim, n_ctx, scale);
      return; /* one chunk: the output is written, nothing to combine */
    }
    FL_LLAMA_LAUNCH((attention_decode_reg_kernel<false, KV>), FL_GRID_DIM3(partial), FL_BLOCK_DIM3(partial), 0, stream,
                    scratch, out, q, k_cache, v_cache, n_head, n_head_kv, head_dim, n_ctx, scale);
  } else if (vec && head_dim <= 4 * FL_LLAMA_GROUP) {
    FL_LLAMA_LAUNCH((attention_decode_partial_kernel<true, 1, KV>), FL_GRID_DIM3(partial), FL_BLOCK_DIM3(partial),
                    smem, stream, scratch, q, k_cache, v_cache, n_head, n_head_kv, head_dim, n_ctx, scale);
  } else if (vec) {
    FL_LLAMA_LAUNCH((attention_decode_partial_kernel<true, FL_ATTN_MAX_PER_LANE / 4, KV>), FL_GRID_DIM3(partial),
                    FL_BLOCK_DIM3(partial), smem, stream, scratch, q, k_cache, v_cache, n_head, n_head_kv, head_dim,
                    n_ctx, scale);
  } else {
    FL_LLAMA_LAUNCH((attention_decode_partial_kernel<false, FL_ATTN_MAX_PER_LANE, KV>), FL_GRID_DIM3(partial),
                    FL_BLOCK_DIM3(partial), smem, stream, scratch, q, k_cache, v_cache, n_head, n_head_kv, head_dim,
                    n_ctx, scale);
  }
  /* The combine kernel's launch status would hide the partial's: launch it
   * only when the first one was accepted. */
  if (hipPeekAtLastError() != hipSuccess) return;
  const bool cvec = head_dim % 4 == 0 && (reinterpret_cast<uintptr_t>(scratch) & 15u) == 0;
  if (cvec) {
    FL_LLAMA_LAUNCH(attention_decode_combine_kernel<true>, FL_GRID_DIM3(combine), FL_BLOCK_DIM3(combine), 0, stream,
                    out, scratch, n_head, head_dim, partial.grid[0]);
  } else {
    FL_LLAMA_LAUNCH(attention_decode_combine_kernel<false>, FL_GRID_DIM3(combine), FL_BLOCK_DIM3(combine), 0,
                    stream, out, scratch, n_head, head_dim, partial.grid[0]);
  }
}

/* The per-query prefill for heads the flash kernel does not take (attention_flash.hip). */
void fl_attention_prefill_per_query_f16(hipStream_t stream, const fl_launch_dims &d, float *out, const float *q,
                                        const __half *k_cache, const __half *v_cache, uint32_t seq_len, uint32_t n_head,
                                        uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx) {
  launch_attention_prefill(stream, d, out, q, k_cache, v_cache, seq_len, n_head, n_head_kv, head_dim, n_ctx);
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_attention_prefill(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_attention_prefill &a) {
  launch_attention_prefill(l.hstream, d[0], ptr<float>(a.out), ptr<const float>(a.q), ptr<const float>(a.k_cache),
                           ptr<const float>(a.v_cache), a.seq_len, a.n_head, a.n_head_kv, a.head_dim, a.n_ctx);
}

void fl_gpu_attention_decode(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_attention_decode &a) {
  launch_attention_decode(l.hstream, d[0], d[1], ptr<float>(a.out), ptr<const float>(a.q),
                          ptr<const float>(a.k_cache), ptr<const float>(a.v_cache), ptr<float>(a.scratch), a.n_head,
                          a.n_head_kv, a.head_dim, a.n_ctx);
}

void fl_gpu_attention_decode_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_attention_decode_f16 &a) {
  launch_attention_decode(l.hstream, d[0], d[1], ptr<float>(a.out), ptr<const float>(a.q),
                          ptr<const __half>(a.k_cache), ptr<const __half>(a.v_cache), ptr<float>(a.scratch), a.n_head,
                          a.n_head_kv, a.head_dim, a.n_ctx);
}
