/* RMSNorm: out[r, i] = x[r, i] / sqrt(mean_i(x[r, :]^2) + eps) * weight[i].
 * One block per row; out may equal x (each element is read before it is
 * written, by the same thread, and the block-wide sum lies between). */
#include "llama_common.h"
#include "llama_launchers.h"

/* VEC: float4 loads and stores (dim % 4 == 0, out, x and weight 16-byte aligned). */
template <bool VEC>
__global__ void rmsnorm_kernel(float *out, const float *x, const float *weight, uint32_t dim, float eps) {
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

void launch_rmsnorm(hipStream_t stream, const fl_launch_dims &d, float *out, const float *x, const float *weight,
                    uint32_t rows, uint32_t dim, float eps) {
  (void)rows;
  const bool vec = dim % 4 == 0 && ((reinterpret_cast<uintptr_t>(out) | reinterpret_cast<uintptr_t>(x) |
                                     reinterpret_cast<uintptr_t>(weight)) &
                                    15u) == 0;
  if (vec) {
    hipLaunchKernelGGL(rmsnorm_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim,
                       eps);
  } else {
    hipLaunchKernelGGL(rmsnorm_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, weight, dim,
                       eps);
  }
}
