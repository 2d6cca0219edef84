/* RMSNorm: out[r, i] = x[r, i] / sqrt(mean_i(x[r, :]^2) + eps) * weight[i].
 * One block per row; out may equal x (each element is read before it is
 * written, by the same thread, and the block-wide sum lies between). */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

/* VEC: float4 loads and stores (dim % 4 == 0, out, x and weight 16-byte aligned). */
template <bool VEC>
__global__ void rmsnorm_kernel(float *out, const float *x, const float *weight, uint32_t dim, float eps) {
  FL_LLAMA_KERNEL_PROLOGUE();
  __shared__ float scratch[32];
  const uint64_t base = static_cast<uint64_t>(blockIdx.x) * dim;
  const float *xr = x + base;
  float *orow = out + base;
  float ss = 0.0f;
  if (VEC) {
    const float4 *x4 = reinterpret_cast<const float4 *>(xr);
#pragma unroll 4
    for (uint32_t i = threadIdx.x; i < dim / 4; i += blockDim.x) {
      const float4 v = x4[i];
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
  } else {
#pragma unroll 4
    for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  }
  ss = fl_block_sum(ss, scratch);
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
  if (VEC) {
    const float4 *x4 = reinterpret_cast<const float4 *>(xr);
    const float4 *w4 = reinterpret_cast<const float4 *>(weight);
    float4 *o4 = reinterpret_cast<float4 *>(orow);
#pragma unroll 4
    for (uint32_t i = threadIdx.x; i < dim / 4; i += blockDim.x) {
      const float4 v = x4[i], w = w4[i];
      o4[i] = make_float4(v.x * scale * w.x, v.y * scale * w.y, v.z * scale * w.z, v.w * scale * w.w);
    }
  } else {
#pragma unroll 4
    for (uint32_t i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = xr[i] * scale * weight[i];
  }
}

/* Rows of up to 4 * NV * blockDim.x floats, float4-aligned (as VEC): each
 * thread loads its NV float4 of x, and of weight, once, all in flight
 * together, keeps them in registers across the block-wide sum, and writes
 * from them: one pass over x. */
template <int NV>
__global__ void rmsnorm_reg_kernel(float *out, const float *x, const float *weight, uint32_t dim, float eps) {
  FL_LLAMA_KERNEL_PROLOGUE();
  __shared__ float scratch[32];
  const uint64_t base = static_cast<uint64_t>(blockIdx.x) * dim;
  const float4 *x4 = reinterpret_cast<const float4 *>(x + base);
  const float4 *w4 = reinterpret_cast<const float4 *>(weight);
  float4 *o4 = reinterpret_cast<float4 *>(out + base);
  const uint32_t n4 = dim / 4;
  float4 v[NV], w[NV];
  float ss = 0.0f;
#pragma unroll
  for (int k = 0; k < NV; k++) {
    const uint32_t i = threadIdx.x + k * blockDim.x;
    v[k] = i < n4 ? x4[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    w[k] = i < n4 ? w4[i] : make_float4(0.f, 0.f, 0.f, 0.f);
  }
#pragma unroll
  for (int k = 0; k < NV; k++) ss += v[k].x * v[k].x + v[k].y * v[k].y + v[k].z * v[k].z + v[k].w * v[k].w;
  ss = fl_block_sum(ss, scratch);
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
#pragma unroll
  for (int k = 0; k < NV; k++) {
    const uint32_t i = threadIdx.x + k * blockDim.x;
    if (i < n4) {
      o4[i] = make_float4(v[k].x * scale * w[k].x, v[k].y * scale * w[k].y, v[k].z * scale * w[k].z,
                          v[k].w * scale * w[k].w);
    }
  }
}

static void launch_rmsnorm(hipStream_t stream, const fl_launch_dims &d, float *out, const float *x, const float *weight,
                    uint32_t rows, uint32_t dim, float eps) {
  (void)rows;
  const bool vec = dim % 4 == 0 && ((reinterpret_cast<uintptr_t>(out) | reinterpret_cast<uintptr_t>(x) |
                                     reinterpret_cast<uintptr_t>(weight)) &
                                    15u) == 0;
  const uint32_t per_thread = (dim / 4 + d.block[0] - 1) / d.block[0]; /* float4 per thread */
  if (vec && per_thread <= 8) {
    if (per_thread <= 1) {
      FL_LLAMA_LAUNCH(rmsnorm_reg_kernel<1>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim, eps);
    } else if (per_thread <= 2) {
      FL_LLAMA_LAUNCH(rmsnorm_reg_kernel<2>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim, eps);
    } else if (per_thread <= 4) {
      FL_LLAMA_LAUNCH(rmsnorm_reg_kernel<4>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim, eps);
    } else {
      FL_LLAMA_LAUNCH(rmsnorm_reg_kernel<8>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim, eps);
    }
  } else if (vec) {
    FL_LLAMA_LAUNCH(rmsnorm_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim,
                       eps);
  } else {
    FL_LLAMA_LAUNCH(rmsnorm_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim,
                       eps);
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_rmsnorm(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_rmsnorm &a) {
  launch_rmsnorm(l.hstream, d[0], ptr<float>(a.out), ptr<const float>(a.x), ptr<const float>(a.weight), a.rows,
                 a.dim, a.eps);
}
