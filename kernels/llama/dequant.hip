/* f16 operands of the prefill GEMM (matmul.hip's gemm_f16):
 *
 * dequant_<type>: out [rows, cols] f16 = W's weights, each computed in f32 (quant_blocks.h) and
 *   rounded to nearest even. A grid-stride loop gives each thread 32 weights (a Q8_0 or Q4_0 block,
 *   a Q4_K sub-block), stored as four 16-byte writes when out is 16-byte aligned.
 * convert_f16: out[i] = f16(x[i]), grid-stride, four at a time when both are aligned.
 */
#include "quant_blocks.h"
#include "fl_kernel_launchers.h"

/* f16 bits of a and b (round to nearest even) packed low, high. */
static __device__ __forceinline__ uint32_t fl_pack_half2(float a, float b) {
  const __half ha = __float2half_rn(a), hb = __float2half_rn(b);
  return static_cast<uint32_t>(__half_as_ushort(ha)) | (static_cast<uint32_t>(__half_as_ushort(hb)) << 16);
}

template <class F, bool VEC>
__global__ void dequant_kernel(__half *out, const uint8_t *w, uint32_t rows, uint32_t cols) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint32_t per_row = cols / FL_DEQUANT_GROUP;
  const uint64_t total = static_cast<uint64_t>(rows) * per_row;
  const uint64_t row_bytes = static_cast<uint64_t>(cols / F::BLOCK) * F::BYTES;
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t e = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const uint64_t r = e / per_row;
    const uint32_t g = static_cast<uint32_t>(e % per_row);
    float v[32];
    F::group(w + r * row_bytes, g, v);
    __half *o = out + r * cols + static_cast<uint64_t>(g) * FL_DEQUANT_GROUP;
    if (VEC) {
#pragma unroll
      for (uint32_t i = 0; i < 4; i++) {
        reinterpret_cast<uint4 *>(o)[i] =
            make_uint4(fl_pack_half2(v[8 * i], v[8 * i + 1]), fl_pack_half2(v[8 * i + 2], v[8 * i + 3]),
                       fl_pack_half2(v[8 * i + 4], v[8 * i + 5]), fl_pack_half2(v[8 * i + 6], v[8 * i + 7]));
      }
    } else {
#pragma unroll
      for (uint32_t i = 0; i < 32; i++) o[i] = __float2half_rn(v[i]);
    }
  }
}

template <bool VEC>
__global__ void convert_f16_kernel(__half *out, const float *x, uint32_t n) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  const uint64_t first = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (VEC) {
    for (uint64_t e = first; e < n / 4; e += stride) {
      const float4 v = reinterpret_cast<const float4 *>(x)[e];
      reinterpret_cast<uint2 *>(out)[e] = make_uint2(fl_pack_half2(v.x, v.y), fl_pack_half2(v.z, v.w));
    }
    for (uint64_t e = (n / 4) * 4 + first; e < n; e += stride) out[e] = __float2half_rn(x[e]);
  } else {
    for (uint64_t e = first; e < n; e += stride) out[e] = __float2half_rn(x[e]);
  }
}

template <class F>
static void launch_dequant(hipStream_t stream, const fl_launch_dims &d, __half *out, const uint8_t *w, uint32_t rows,
                           uint32_t cols) {
  if (fl_aligned16(out)) {
    FL_LLAMA_LAUNCH((dequant_kernel<F, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, w, rows, cols);
  } else {
    FL_LLAMA_LAUNCH((dequant_kernel<F, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, w, rows, cols);
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_dequant_q8_0(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_dequant_q8_0 &a) {
  launch_dequant<FlQ8_0>(l.hstream, d[0], ptr<__half>(a.out), ptr<const uint8_t>(a.w), a.rows, a.cols);
}

void fl_gpu_dequant_q4_0(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_dequant_q4_0 &a) {
  launch_dequant<FlQ4_0>(l.hstream, d[0], ptr<__half>(a.out), ptr<const uint8_t>(a.w), a.rows, a.cols);
}

void fl_gpu_dequant_q4_k(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_dequant_q4_k &a) {
  launch_dequant<FlQ4K>(l.hstream, d[0], ptr<__half>(a.out), ptr<const uint8_t>(a.w), a.rows, a.cols);
}

void fl_gpu_convert_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_convert_f16 &a) {
  __half *out = ptr<__half>(a.out);
  const float *x = ptr<const float>(a.x);
  if (fl_aligned16(x) && (reinterpret_cast<uintptr_t>(out) & 7u) == 0) {
    FL_LLAMA_LAUNCH(convert_f16_kernel<true>, FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream, out, x, a.n);
  } else {
    FL_LLAMA_LAUNCH(convert_f16_kernel<false>, FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream, out, x, a.n);
  }
}
