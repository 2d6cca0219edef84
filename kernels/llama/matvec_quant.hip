/* Decode y = W x over ggml block-quantized W [out_dim, in_dim] (Q8_0, Q4_0, Q4_K), f32 x, y and
 * accumulation; the weights are dequantized inside the dot product, never stored.
 *
 * Geometry (launch_config_llama.h): 8 output rows per block of 256 threads, in pairs; each pair is
 * shared by two 32-lane groups. A group's lanes take consecutive tasks, a task being one lane's share
 * of a block: 4 weights of a Q8_0 block (8 lanes a block), 8 of a Q4_0 block (4 lanes), 32 of a Q4_K
 * super-block (8 lanes: a 16-byte slice of its quants and its 16-byte header). Each lane computes both
 * rows of its pair from one load of x, with two tasks' loads in flight. Per block of weights the
 * scale multiplies the partial sum once; for Q4_K, w = d*sc*q - dmin*m gives
 * d*sc*sum(q x) - dmin*m*sum(x), x's sums shared by the two rows.
 *
 * VEC: x 16-byte aligned (float4 loads of x) and, for Q4_K, the weights too (16-byte loads of the
 * quants); otherwise the same kernel reads them in 4- and 2-byte pieces.
 */
#include "quant_blocks.h"
#include "fl_kernel_launchers.h"

/* The `n` floats of x from x + i (n a multiple of 4; i too on the VEC path). */
template <bool VEC, uint32_t N>
static __device__ __forceinline__ void fl_load_x(const float *x, uint32_t i, float out[N]) {
#pragma unroll
  for (uint32_t k = 0; k < N; k += 4) {
    if (VEC) {
      const float4 v = *reinterpret_cast<const float4 *>(x + i + k);
      out[k] = v.x, out[k + 1] = v.y, out[k + 2] = v.z, out[k + 3] = v.w;
    } else {
      out[k] = x[i + k], out[k + 1] = x[i + k + 1], out[k + 2] = x[i + k + 2], out[k + 3] = x[i + k + 3];
    }
  }
}

/* Q8_0: task j of block b is qs[4j .. 4j+3]. */
struct MvQ8_0 {
  static constexpr uint32_t BLOCK = 32, BYTES = 34, LANES = 8;
  struct Raw {
    float d;
    uint32_t q;
  };
  struct X {
    float v[4];
  };
  template <bool VEC>
  static __device__ __forceinline__ Raw load(const uint8_t *row, uint32_t b, uint32_t j) {
    const uint8_t *p = row + b * BYTES;
    return {fl_load_half(p), fl_load_u32_a2(p + 2 + 4 * j)};
  }
  template <bool VEC>
  static __device__ __forceinline__ X load_x(const float *x, uint32_t b, uint32_t j) {
    X r;
    fl_load_x<VEC, 4>(x, b * BLOCK + 4 * j, r.v);
    return r;
  }
  static __device__ __forceinline__ float dot(const Raw &r, const X &x, uint32_t) {
    const uint32_t u = r.q ^ 0x80808080u;
    float s = 0.0f;
#pragma unroll
    for (uint32_t k = 0; k < 4; k++) s += fl_byte_minus(u, k, 128.0f) * x.v[k];
    return r.d * s;
  }
};

/* Q4_0: task j of block b is qs[4j .. 4j+3]: weights 4j.. (low nibbles) and 16+4j.. (high). */
struct MvQ4_0 {
  static constexpr uint32_t BLOCK = 32, BYTES = 18, LANES = 4;
  struct Raw {
    float d;
    uint32_t q;
  };
  struct X {
    float v[8];
  };
  template <bool VEC>
  static __device__ __forceinline__ Raw load(const uint8_t *row, uint32_t b, uint32_t j) {
    const uint8_t *p = row + b * BYTES;
    return {fl_load_half(p), fl_load_u32_a2(p + 2 + 4 * j)};
  }
  template <bool VEC>
  static __device__ __forceinline__ X load_x(const float *x, uint32_t b, uint32_t j) {
    X r;
    fl_load_x<VEC, 4>(x, b * BLOCK + 4 * j, r.v);
    fl_load_x<VEC, 4>(x, b * BLOCK + 16 + 4 * j, r.v + 4);
    return r;
  }
  static __device__ __forceinline__ float dot(const Raw &r, const X &x, uint32_t) {
    const uint32_t lo = r.q & 0x0f0f0f0fu, hi = (r.q >> 4) & 0x0f0f0f0fu;
    float s = 0.0f;
#pragma unroll
    for (uint32_t k = 0; k < 4; k++) s += fl_byte_minus(lo, k, 8.0f) * x.v[k] + fl_byte_minus(hi, k, 8.0f) * x.v[4 + k];
    return r.d * s;
  }
};

/* Q4_K: task j of super-block b is quant bytes 16j .. 16j+15: positions l0 = 16 (j % 2) .. +15 of
 * sub-blocks 2c (low nibbles) and 2c+1 (high), c = j / 2. */
struct MvQ4K {
  static constexpr uint32_t BLOCK = 256, BYTES = 144, LANES = 8;
  struct Raw {
    uint4 head; /* d, dmin, scales[12] */
    uint4 q;
  };
  struct X {
    float lo[16], hi[16];
    float sum_lo, sum_hi;
  };
  template <bool VEC>
  static __device__ __forceinline__ uint4 load16(const uint8_t *p) {
    if (VEC) return *reinterpret_cast<const uint4 *>(p);
    return make_uint4(fl_load_u32_a2(p), fl_load_u32_a2(p + 4), fl_load_u32_a2(p + 8), fl_load_u32_a2(p + 12));
  }
  template <bool VEC>
  static __device__ __forceinline__ Raw load(const uint8_t *row, uint32_t b, uint32_t j) {
    const uint8_t *p = row + b * BYTES;
    return {load16<VEC>(p), load16<VEC>(p + 16 + 16 * j)};
  }
  template <bool VEC>
  static __device__ __forceinline__ X load_x(const float *x, uint32_t b, uint32_t j) {
    X r;
    const uint32_t i = b * BLOCK + 64 * (j / 2) + 16 * (j % 2);
    fl_load_x<VEC, 16>(x, i, r.lo);
    fl_load_x<VEC, 16>(x, i + 32, r.hi);
    r.sum_lo = r.sum_hi = 0.0f;
#pragma unroll
    for (uint32_t k = 0; k < 16; k++) r.sum_lo += r.lo[k], r.sum_hi += r.hi[k];
    return r;
  }
  static __device__ __forceinline__ float dot(const Raw &r, const X &x, uint32_t j) {
    const uint32_t words[4] = {r.q.x, r.q.y, r.q.z, r.q.w};
    float slo = 0.0f, shi = 0.0f;
#pragma unroll
    for (uint32_t i = 0; i < 4; i++) {
      const uint32_t lo = words[i] & 0x0f0f0f0fu, hi = (words[i] >> 4) & 0x0f0f0f0fu;
#pragma unroll
      for (uint32_t k = 0; k < 4; k++) {
        slo += fl_byte_minus(lo, k, 0.0f) * x.lo[4 * i + k];
        shi += fl_byte_minus(hi, k, 0.0f) * x.hi[4 * i + k];
      }
    }
    const float d = fl_half_bits(r.head.x & 0xffffu), dmin = fl_half_bits(r.head.x >> 16);
    const uint32_t scales[3] = {r.head.y, r.head.z, r.head.w};
    float sc0, m0, sc1, m1;
    fl_q4k_scale_min(scales, 2 * (j / 2), &sc0, &m0);
    fl_q4k_scale_min(scales, 2 * (j / 2) + 1, &sc1, &m1);
    return d * (sc0 * slo + sc1 * shi) - dmin * (m0 * x.sum_lo + m1 * x.sum_hi);
  }
};

/* One task t of both rows: a0 += row0 . x, a1 += row1 . x over the task's weights. */
template <class F, bool VEC>
static __device__ __forceinline__ void mv_task(const uint8_t *w0, const uint8_t *w1, const float *x, uint32_t t,
                                               float &a0, float &a1) {
  const uint32_t b = t / F::LANES, j = t % F::LANES;
  const typename F::Raw r0 = F::template load<VEC>(w0, b, j), r1 = F::template load<VEC>(w1, b, j);
  const typename F::X xs = F::template load_x<VEC>(x, b, j);
  a0 += F::dot(r0, xs, j);
  a1 += F::dot(r1, xs, j);
}

template <class F, bool VEC>
__global__ void FL_LAUNCH_BOUNDS(256, 2)
    matvec_q_kernel(float *y, const uint8_t *w, const float *x, uint32_t out_dim, uint32_t in_dim) {
  FL_LLAMA_KERNEL_PROLOGUE();
  constexpr uint32_t SPLIT = FL_MATVEC_Q_SPLIT, STEP = SPLIT * FL_LLAMA_GROUP;
  __shared__ float part[FL_MATVEC_Q_ROWS][SPLIT];
  const uint32_t lane = threadIdx.x % FL_LLAMA_GROUP, g = threadIdx.x / FL_LLAMA_GROUP;
  const uint32_t pair = g / SPLIT, k = g % SPLIT;
  const uint32_t r0 = blockIdx.x * FL_MATVEC_Q_ROWS + 2 * pair;
  const uint64_t row_bytes = static_cast<uint64_t>(in_dim / F::BLOCK) * F::BYTES;
  const uint32_t tasks = in_dim / F::BLOCK * F::LANES;
  float a0 = 0.0f, a1 = 0.0f;
  if (r0 < out_dim) { /* the whole group: r0 is the same for its lanes */
    const uint8_t *w0 = w + r0 * row_bytes;
    const uint8_t *w1 = r0 + 1 < out_dim ? w0 + row_bytes : w0; /* a missing second row repeats the first */
    uint32_t t = k * FL_LLAMA_GROUP + lane;
    for (; t + STEP < tasks; t += 2 * STEP) {
      mv_task<F, VEC>(w0, w1, x, t, a0, a1);
      mv_task<F, VEC>(w0, w1, x, t + STEP, a0, a1);
    }
    if (t < tasks) mv_task<F, VEC>(w0, w1, x, t, a0, a1);
  }
  a0 = fl_group_sum(a0);
  a1 = fl_group_sum(a1);
  if (lane == 0) part[2 * pair][k] = a0, part[2 * pair + 1][k] = a1;
  __syncthreads();
  const uint32_t row = blockIdx.x * FL_MATVEC_Q_ROWS + threadIdx.x;
  if (threadIdx.x < FL_MATVEC_Q_ROWS && row < out_dim) {
    float s = 0.0f;
#pragma unroll
    for (uint32_t i = 0; i < SPLIT; i++) s += part[threadIdx.x][i];
    y[row] = s;
  }
}

template <class F>
static void launch_matvec_q(hipStream_t stream, const fl_launch_dims &d, float *y, const uint8_t *w, const float *x,
                            uint32_t out_dim, uint32_t in_dim, bool w16) {
  const bool vec = fl_aligned16(x) && (!w16 || fl_aligned16(w));
  if (vec) {
    FL_LLAMA_LAUNCH((matvec_q_kernel<F, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim, in_dim);
  } else {
    FL_LLAMA_LAUNCH((matvec_q_kernel<F, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim, in_dim);
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_matvec_q8_0(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matvec_q8_0 &a) {
  launch_matvec_q<MvQ8_0>(l.hstream, d[0], ptr<float>(a.y), ptr<const uint8_t>(a.w), ptr<const float>(a.x),
                          a.out_dim, a.in_dim, false);
}

void fl_gpu_matvec_q4_0(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matvec_q4_0 &a) {
  launch_matvec_q<MvQ4_0>(l.hstream, d[0], ptr<float>(a.y), ptr<const uint8_t>(a.w), ptr<const float>(a.x),
                          a.out_dim, a.in_dim, false);
}

void fl_gpu_matvec_q4_k(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matvec_q4_k &a) {
  launch_matvec_q<MvQ4K>(l.hstream, d[0], ptr<float>(a.y), ptr<const uint8_t>(a.w), ptr<const float>(a.x),
                         a.out_dim, a.in_dim, true);
}
