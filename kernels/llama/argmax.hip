/* Greedy sampling: out[r] = the first index of the largest value of row r of
 * x [rows, n]; NaN is ignored, and a row of NaN gives -1. One block per row;
 * each thread scans its elements in increasing index order, then the
 * (value, index) pairs are reduced, ties going to the lower index. */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

/* (v, i) with i == -1 meaning "nothing yet". True when (v2, i2) beats (v1, i1). */
static __device__ __forceinline__ bool beats(float v2, int32_t i2, float v1, int32_t i1) {
  if (i2 < 0) return false;
  if (i1 < 0) return true;
  return v2 > v1 || (v2 == v1 && i2 < i1);
}

template <bool VEC>
__global__ void argmax_kernel(int32_t *out, const float *x, uint32_t n) {
  FL_LLAMA_KERNEL_PROLOGUE();
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float *row = x + static_cast<uint64_t>(blockIdx.x) * n;
  float bv = 0.0f;
  int32_t bi = -1;
  if (VEC) {
    const float4 *r4 = reinterpret_cast<const float4 *>(row);
    for (uint32_t u = threadIdx.x; u < n / 4; u += blockDim.x) {
      const float4 v = r4[u];
      const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int k = 0; k < 4; k++) {
        if (e[k] == e[k] && (bi < 0 || e[k] > bv)) bv = e[k], bi = static_cast<int32_t>(4 * u + k);
      }
    }
  } else {
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float e = row[i];
      if (e == e && (bi < 0 || e > bv)) bv = e, bi = static_cast<int32_t>(i);
    }
  }
#pragma unroll
  for (int m = FL_LLAMA_GROUP / 2; m > 0; m >>= 1) {
    const float ov = __shfl_xor_sync(FL_FULL_MASK, bv, m, FL_LLAMA_GROUP);
    const int32_t oi = __shfl_xor_sync(FL_FULL_MASK, bi, m, FL_LLAMA_GROUP);
    if (beats(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  const uint32_t lane = threadIdx.x % FL_LLAMA_GROUP, group = threadIdx.x / FL_LLAMA_GROUP;
  if (lane == 0) sv[group] = bv, si[group] = bi;
  __syncthreads();
  if (group == 0) {
    const uint32_t groups = blockDim.x / FL_LLAMA_GROUP;
    bv = lane < groups ? sv[lane] : 0.0f;
    bi = lane < groups ? si[lane] : -1;
#pragma unroll
    for (int m = FL_LLAMA_GROUP / 2; m > 0; m >>= 1) {
      const float ov = __shfl_xor_sync(FL_FULL_MASK, bv, m, FL_LLAMA_GROUP);
      const int32_t oi = __shfl_xor_sync(FL_FULL_MASK, bi, m, FL_LLAMA_GROUP);
      if (beats(ov, oi, bv, bi)) bv = ov, bi = oi;
    }
    if (lane == 0) out[blockIdx.x] = bi;
  }
}

static void launch_argmax(hipStream_t stream, const fl_launch_dims &d, int32_t *out, const float *x, uint32_t rows,
                   uint32_t n) {
  (void)rows;
  const bool vec = n % 4 == 0 && (reinterpret_cast<uintptr_t>(x) & 15u) == 0;
  if (vec) {
    FL_LLAMA_LAUNCH(argmax_kernel<true>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, n);
  } else {
    FL_LLAMA_LAUNCH(argmax_kernel<false>, FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, x, n);
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_argmax(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_argmax &a) {
  launch_argmax(l.hstream, d[0], ptr<int32_t>(a.out), ptr<const float>(a.x), a.rows, a.n);
}
