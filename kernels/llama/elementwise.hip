/* Elementwise kernels over n floats, grid-stride: silu_mul (out = silu(gate) *
 * up, silu(g) = g / (1 + exp(-g))) and add (out = a + b; out may equal a or
 * b). VEC: float4 over the first n - n % 4 elements when every pointer is
 * 16-byte aligned, then the tail one by one. */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

struct SiluMulOp {
  static __device__ __forceinline__ float apply(float g, float u) { return g / (1.0f + expf(-g)) * u; }
};
struct AddOp {
  static __device__ __forceinline__ float apply(float a, float b) { return a + b; }
};

template <class Op, bool VEC>
__global__ void binary_kernel(float *out, const float *a, const float *b, uint32_t n) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  const uint64_t first = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  uint64_t done = 0;
  if (VEC) {
    const uint64_t n4 = n / 4;
    const float4 *a4 = reinterpret_cast<const float4 *>(a);
    const float4 *b4 = reinterpret_cast<const float4 *>(b);
    float4 *o4 = reinterpret_cast<float4 *>(out);
    for (uint64_t i = first; i < n4; i += stride) {
      const float4 x = a4[i], y = b4[i];
      o4[i] = make_float4(Op::apply(x.x, y.x), Op::apply(x.y, y.y), Op::apply(x.z, y.z), Op::apply(x.w, y.w));
    }
    done = n4 * 4;
  }
  for (uint64_t i = done + first; i < n; i += stride) out[i] = Op::apply(a[i], b[i]);
}

template <class Op>
static void launch_binary(hipStream_t stream, const fl_launch_dims &d, float *out, const float *a, const float *b,
                          uint32_t n) {
  const bool vec = ((reinterpret_cast<uintptr_t>(out) | reinterpret_cast<uintptr_t>(a) |
                     reinterpret_cast<uintptr_t>(b)) &
                    15u) == 0;
  if (vec) {
    FL_LLAMA_LAUNCH((binary_kernel<Op, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, a, b, n);
  } else {
    FL_LLAMA_LAUNCH((binary_kernel<Op, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, out, a, b, n);
  }
}

static void launch_silu_mul(hipStream_t stream, const fl_launch_dims &d, float *out, const float *gate, const float *up,
                     uint32_t n) {
  launch_binary<SiluMulOp>(stream, d, out, gate, up, n);
}

static void launch_add(hipStream_t stream, const fl_launch_dims &d, float *out, const float *a, const float *b,
                uint32_t n) {
  launch_binary<AddOp>(stream, d, out, a, b, n);
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_silu_mul(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_silu_mul &a) {
  launch_silu_mul(l.hstream, d[0], ptr<float>(a.out), ptr<const float>(a.gate), ptr<const float>(a.up), a.n);
}

void fl_gpu_add(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_add &a) {
  launch_add(l.hstream, d[0], ptr<float>(a.out), ptr<const float>(a.a), ptr<const float>(a.b), a.n);
}
