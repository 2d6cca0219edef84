/* y = W x with W row-major [out_dim, in_dim] (f32 or f16), x and y f32,
 * f32 accumulation.
 *
 * matvec (decode): four 32-lane groups per output row, 2 rows per block
 * (256 threads). The fast path streams W in 16-byte loads (8 halves or 4
 * floats per lane), four independent loads in flight per lane, then reduces
 * the lanes' sums with shuffles and the groups' through shared memory. It needs every row and x 16-byte aligned: in_dim a multiple of
 * 8 (f16) or 4 (f32) and W, x 16-byte aligned; otherwise the scalar path runs.
 *
 * matmul (prefill): the tiled kernel of matmul_tiles.h.
 */
#include "matmul_tiles.h"
#include "fl_kernel_launchers.h"

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

/* Loads of weights that are read once: on cuda past L1 (non-coherent path,
 * no L1 allocation), so that L1 keeps x. */
static __device__ __forceinline__ uint4 fl_load_stream(const uint4 *p) {
#if defined(FL_BACKEND_CUDA)
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
#else
  return *p;
#endif
}

static __device__ __forceinline__ float4 fl_load_stream(const float4 *p) {
#if defined(FL_BACKEND_CUDA)
  float4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(r.x), "=f"(r.y), "=f"(r.z), "=f"(r.w)
               : "l"(p));
  return r;
#else
  return *p;
#endif
}

/* One group's share of a row's dot product: units u, u + STEP, ... (a unit
 * is 16 bytes of W on the VEC paths, one element otherwise), four loads in
 * flight per lane. */
constexpr uint32_t MV_STEP = FL_MATVEC_SPLIT * FL_LLAMA_GROUP;

template <bool VEC>
static __device__ __forceinline__ float matvec_part(const __half *wr, const float *x, uint32_t in_dim, uint32_t u) {
  float acc = 0.0f;
  if (VEC) {
    const uint4 *w8 = reinterpret_cast<const uint4 *>(wr);
    const float4 *x4 = reinterpret_cast<const float4 *>(x);
    const uint32_t n8 = in_dim / 8;
    for (; u + 3 * MV_STEP < n8; u += 4 * MV_STEP) {
      uint4 a[4];
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) a[l] = fl_load_stream(w8 + u + l * MV_STEP);
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) acc += dot8(a[l], x4, u + l * MV_STEP);
    }
    for (; u < n8; u += MV_STEP) acc += dot8(fl_load_stream(w8 + u), x4, u);
  } else {
    for (; u + 3 * MV_STEP < in_dim; u += 4 * MV_STEP) {
      float a[4];
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) a[l] = __half2float(wr[u + l * MV_STEP]);
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) acc += a[l] * x[u + l * MV_STEP];
    }
    for (; u < in_dim; u += MV_STEP) acc += __half2float(wr[u]) * x[u];
  }
  return acc;
}

template <bool VEC>
static __device__ __forceinline__ float matvec_part(const float *wr, const float *x, uint32_t in_dim, uint32_t u) {
  float acc = 0.0f;
  if (VEC) {
    const float4 *w4 = reinterpret_cast<const float4 *>(wr);
    const float4 *x4 = reinterpret_cast<const float4 *>(x);
    const uint32_t n4 = in_dim / 4;
    for (; u + 3 * MV_STEP < n4; u += 4 * MV_STEP) {
      float4 a[4];
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) a[l] = fl_load_stream(w4 + u + l * MV_STEP);
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) acc += dot4(a[l], x4[u + l * MV_STEP]);
    }
    for (; u < n4; u += MV_STEP) acc += dot4(fl_load_stream(w4 + u), x4[u]);
  } else {
    for (; u + 3 * MV_STEP < in_dim; u += 4 * MV_STEP) {
      float a[4];
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) a[l] = wr[u + l * MV_STEP];
#pragma unroll
      for (uint32_t l = 0; l < 4; l++) acc += a[l] * x[u + l * MV_STEP];
    }
    for (; u < in_dim; u += MV_STEP) acc += wr[u] * x[u];
  }
  return acc;
}

/* Mat-vec: FL_MATVEC_ROWS rows per block, FL_MATVEC_SPLIT 32-lane groups per
 * row. Group k of a row takes the units 32 * (SPLIT * i + k) + lane, so the
 * row's groups read neighbouring 512-byte stretches together; their sums
 * meet in shared memory. Several groups per row keep enough loads in flight
 * when rows are few (4096 outputs fill every warp slot of a large GPU). */
template <typename W, bool VEC>
__global__ void matvec_kernel(float *y, const W *w, const float *x, uint32_t out_dim, uint32_t in_dim) {
  FL_LLAMA_KERNEL_PROLOGUE();
  __shared__ float part[FL_MATVEC_ROWS * FL_MATVEC_SPLIT];
  const uint32_t lane = threadIdx.x % FL_LLAMA_GROUP, gid = threadIdx.x / FL_LLAMA_GROUP;
  const uint32_t row = blockIdx.x * FL_MATVEC_ROWS + gid / FL_MATVEC_SPLIT, k = gid % FL_MATVEC_SPLIT;
  const bool active = row < out_dim; /* no early return: the block meets at the barrier below */
  float acc = 0.0f;
  if (active) acc = matvec_part<VEC>(w + static_cast<uint64_t>(row) * in_dim, x, in_dim, k * FL_LLAMA_GROUP + lane);
  acc = fl_group_sum(acc);
  if (lane == 0) part[gid] = acc;
  __syncthreads();
  if (active && k == 0 && lane == 0) {
    float sum = part[gid];
#pragma unroll
    for (uint32_t i = 1; i < FL_MATVEC_SPLIT; i++) sum += part[gid + i];
    y[row] = sum;
  }
}

static void launch_matvec_f16(hipStream_t stream, const fl_launch_dims &d, float *y, const __half *w, const float *x,
                       uint32_t out_dim, uint32_t in_dim) {
  const bool vec = in_dim % 8 == 0 &&
                   ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15u) == 0;
  if (vec) {
    FL_LLAMA_LAUNCH((matvec_kernel<__half, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                    in_dim);
  } else {
    FL_LLAMA_LAUNCH((matvec_kernel<__half, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                    in_dim);
  }
}

static void launch_matvec_f32(hipStream_t stream, const fl_launch_dims &d, float *y, const float *w, const float *x,
                       uint32_t out_dim, uint32_t in_dim) {
  const bool vec = in_dim % 4 == 0 &&
                   ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) & 15u) == 0;
  if (vec) {
    FL_LLAMA_LAUNCH((matvec_kernel<float, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                    in_dim);
  } else {
    FL_LLAMA_LAUNCH((matvec_kernel<float, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, out_dim,
                    in_dim);
  }
}

static void launch_matmul_f32(hipStream_t stream, const fl_launch_dims &d, float *y, const float *w, const float *x,
                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) {
  FL_LLAMA_LAUNCH(matmul_kernel<float>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, n_tokens,
                     out_dim, in_dim);
}

static void launch_matmul_f16(hipStream_t stream, const fl_launch_dims &d, float *y, const __half *w, const float *x,
                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) {
  FL_LLAMA_LAUNCH(matmul_kernel<__half>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, y, w, x, n_tokens,
                     out_dim, in_dim);
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_matvec_f32(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matvec_f32 &a) {
  launch_matvec_f32(l.hstream, d[0], ptr<float>(a.y), ptr<const float>(a.w), ptr<const float>(a.x), a.out_dim,
                    a.in_dim);
}

void fl_gpu_matvec_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matvec_f16 &a) {
  launch_matvec_f16(l.hstream, d[0], ptr<float>(a.y), ptr<const __half>(a.w), ptr<const float>(a.x), a.out_dim,
                    a.in_dim);
}

void fl_gpu_matmul_f32(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matmul_f32 &a) {
  launch_matmul_f32(l.hstream, d[0], ptr<float>(a.y), ptr<const float>(a.w), ptr<const float>(a.x), a.n_tokens,
                    a.out_dim, a.in_dim);
}

void fl_gpu_matmul_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_matmul_f16 &a) {
  launch_matmul_f16(l.hstream, d[0], ptr<float>(a.y), ptr<const __half>(a.w), ptr<const float>(a.x), a.n_tokens,
                    a.out_dim, a.in_dim);
}

