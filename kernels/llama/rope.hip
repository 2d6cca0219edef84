/* Rotary position embedding, in place, on x laid out [seq_len, heads, head_dim].
 *
 * Layout: llama's as GGML's "normal" rope (GGML_ROPE_TYPE_NORMAL, the mode
 * llama GGUF weights are converted for): within each head the adjacent pairs
 * (2i, 2i+1), i < head_dim/2, rotate by theta = pos * freq_base^(-2i/head_dim),
 *   x'[2i]   = x[2i] cos(theta) - x[2i+1] sin(theta)
 *   x'[2i+1] = x[2i] sin(theta) + x[2i+1] cos(theta),
 * with pos = pos_offset + s for row s (not NEOX's (i, i + head_dim/2) pairs).
 *
 * One thread per (row s, pair i, group of up to 4 heads): the angle is the
 * same for every head, so it is computed once, in double (a float angle at
 * position 2048 is off by ~1e-4 rad) and reduced to [-pi, pi] before a float
 * sincospi, then applied to the thread's heads. Consecutive threads take
 * consecutive pairs: 8-byte loads, coalesced.
 */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

template <bool DPOS, bool VEC>
__global__ void rope_kernel(float *x, uint32_t seq_len, uint32_t heads, uint32_t head_dim, int32_t pos_offset,
                            const int32_t *pos_ptr, float freq_base) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint32_t half = head_dim / 2;
  const uint32_t groups = (heads + FL_ROPE_HEADS_PER_THREAD - 1) / FL_ROPE_HEADS_PER_THREAD;
  const uint64_t g = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const uint64_t total = static_cast<uint64_t>(seq_len) * half * groups;
  if (g >= total) return;
  const uint32_t i = static_cast<uint32_t>(g % half);
  const uint64_t rest = g / half;
  const uint32_t grp = static_cast<uint32_t>(rest % groups);
  const uint32_t s = static_cast<uint32_t>(rest / groups);

  /* All of the thread's loads first (independent, in flight together), while the angle
   * is computed; then the rotations. */
  const uint32_t h0 = grp * FL_ROPE_HEADS_PER_THREAD;
  float *row = x + (static_cast<uint64_t>(s) * heads + h0) * head_dim + 2 * i;
  float2 v[FL_ROPE_HEADS_PER_THREAD];
#pragma unroll
  for (uint32_t k = 0; k < FL_ROPE_HEADS_PER_THREAD; k++) {
    const float *p = row + static_cast<uint64_t>(k) * head_dim;
    if (h0 + k < heads) v[k] = VEC ? *reinterpret_cast<const float2 *>(p) : make_float2(p[0], p[1]);
  }

  const int32_t pos0 = DPOS ? *pos_ptr : pos_offset;
  const double pos = static_cast<double>(pos0) + static_cast<double>(s);
  const double inv_freq = exp2(-2.0 * static_cast<double>(i) / static_cast<double>(head_dim) *
                               log2(static_cast<double>(freq_base)));
  /* theta / pi, reduced to [-1, 1] in double; sincospif then needs no
   * argument reduction of its own (sincosf would carry a slow path for
   * large arguments, with a local-memory frame). */
  double turns = pos * inv_freq * 0.31830988618379067153776752674503; /* 1/pi */
  turns -= 2.0 * rint(0.5 * turns);
  float sn, c;
  sincospif(static_cast<float>(turns), &sn, &c);

#pragma unroll
  for (uint32_t k = 0; k < FL_ROPE_HEADS_PER_THREAD; k++) {
    float *p = row + static_cast<uint64_t>(k) * head_dim;
    if (h0 + k < heads) {
      const float r0 = v[k].x * c - v[k].y * sn, r1 = v[k].x * sn + v[k].y * c;
      if (VEC) {
        fl_store_float2(p, r0, r1);
      } else {
        p[0] = r0;
        p[1] = r1;
      }
    }
  }
}

static void launch_rope(hipStream_t stream, const fl_launch_dims &d, float *x, uint32_t seq_len, uint32_t heads,
                 uint32_t head_dim, int32_t pos_offset, bool dpos, const int32_t *pos, float freq_base) {
  /* head_dim is even (the config refuses odd), so every pair is 8-byte aligned when x is. */
  const bool vec = (reinterpret_cast<uintptr_t>(x) & 7u) == 0;
  if (dpos) {
    if (vec) {
      FL_LLAMA_LAUNCH((rope_kernel<true, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, x, seq_len,
                         heads, head_dim, pos_offset, pos, freq_base);
    } else {
      FL_LLAMA_LAUNCH((rope_kernel<true, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, x, seq_len,
                         heads, head_dim, pos_offset, pos, freq_base);
    }
  } else {
    if (vec) {
      FL_LLAMA_LAUNCH((rope_kernel<false, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, x, seq_len,
                         heads, head_dim, pos_offset, pos, freq_base);
    } else {
      FL_LLAMA_LAUNCH((rope_kernel<false, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, x, seq_len,
                         heads, head_dim, pos_offset, pos, freq_base);
    }
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_rope(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_rope &a) {
  launch_rope(l.hstream, d[0], ptr<float>(a.x), a.seq_len, a.heads, a.head_dim, a.pos_offset, false, nullptr,
              a.freq_base);
}

void fl_gpu_rope_dpos(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_rope_dpos &a) {
  launch_rope(l.hstream, d[0], ptr<float>(a.x), a.seq_len, a.heads, a.head_dim, 0, true, ptr<const int32_t>(a.pos),
              a.freq_base);
}
