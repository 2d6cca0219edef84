/* KV-cache append: k_cache[pos_offset + s] = k[s] and v_cache[pos_offset + s]
 * = v[s] for s < seq_len, a row being n_head_kv * head_dim floats (cache
 * layout [ctx, n_head_kv, head_dim]), stored as f32 or (the _f16 kernels)
 * rounded to f16. Rows whose position falls outside [0, ctx_len) are not
 * written. The position comes from the host or, in the _dpos form, from one
 * int32 in device memory (the decode path). Grid-stride over the elements
 * (VEC: four at a time when rows and pointers allow). */
#include "llama_common.h"
#include "fl_kernel_launchers.h"

static __device__ __forceinline__ void fl_store4(float *dst, const float4 &v) {
  *reinterpret_cast<float4 *>(dst) = v;
}

/* Four f16 (8 bytes at dst, 8-byte aligned), rounded to nearest even. */
static __device__ __forceinline__ void fl_store4(__half *dst, const float4 &v) {
  const __half2 a = __floats2half2_rn(v.x, v.y), b = __floats2half2_rn(v.z, v.w);
  __half2 *d = reinterpret_cast<__half2 *>(dst);
  d[0] = a;
  d[1] = b;
}

static __device__ __forceinline__ void fl_store1(float *dst, float v) { *dst = v; }
static __device__ __forceinline__ void fl_store1(__half *dst, float v) { *dst = __float2half_rn(v); }

template <typename C, bool VEC, bool DPOS>
__global__ void kv_append_kernel(C *k_cache, C *v_cache, const float *k, const float *v, uint32_t seq_len,
                                 uint64_t row, int32_t pos_offset, const int32_t *pos_ptr, uint32_t ctx_len) {
  FL_LLAMA_KERNEL_PROLOGUE();
  const int64_t pos0 = DPOS ? *pos_ptr : pos_offset;
  const uint32_t W = VEC ? 4 : 1;
  const uint64_t row_units = row / W;
  const uint64_t total = static_cast<uint64_t>(seq_len) * row_units;
  const uint64_t stride = static_cast<uint64_t>(blockDim.x) * gridDim.x;
  for (uint64_t e = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const uint64_t s = e / row_units, u = e % row_units;
    const int64_t pos = pos0 + static_cast<int64_t>(s);
    if (pos < 0 || pos >= static_cast<int64_t>(ctx_len)) continue;
    const uint64_t dst = (static_cast<uint64_t>(pos) * row_units + u) * W;
    if (VEC) {
      fl_store4(k_cache + dst, reinterpret_cast<const float4 *>(k)[e]);
      fl_store4(v_cache + dst, reinterpret_cast<const float4 *>(v)[e]);
    } else {
      fl_store1(k_cache + dst, k[e]);
      fl_store1(v_cache + dst, v[e]);
    }
  }
}

template <typename C>
static void launch_kv_append(hipStream_t stream, const fl_launch_dims &d, C *k_cache, C *v_cache, const float *k,
                             const float *v, uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim, int32_t pos_offset,
                             bool dpos, const int32_t *pos, uint32_t ctx_len) {
  const uint64_t row = static_cast<uint64_t>(n_head_kv) * head_dim;
  const uintptr_t cache_align = sizeof(C) == 4 ? 15u : 7u; /* one float4 of the row, as C */
  const bool vec = row % 4 == 0 &&
                   ((reinterpret_cast<uintptr_t>(k_cache) | reinterpret_cast<uintptr_t>(v_cache)) & cache_align) == 0 &&
                   ((reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) & 15u) == 0;
  if (vec && dpos) {
    FL_LLAMA_LAUNCH((kv_append_kernel<C, true, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, k_cache, v_cache,
                    k, v, seq_len, row, pos_offset, pos, ctx_len);
  } else if (vec) {
    FL_LLAMA_LAUNCH((kv_append_kernel<C, true, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, k_cache,
                    v_cache, k, v, seq_len, row, pos_offset, pos, ctx_len);
  } else if (dpos) {
    FL_LLAMA_LAUNCH((kv_append_kernel<C, false, true>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, k_cache,
                    v_cache, k, v, seq_len, row, pos_offset, pos, ctx_len);
  } else {
    FL_LLAMA_LAUNCH((kv_append_kernel<C, false, false>), FL_GRID_DIM3(d), FL_BLOCK_DIM3(d), 0, stream, k_cache,
                    v_cache, k, v, seq_len, row, pos_offset, pos, ctx_len);
  }
}

/* Launch exports call these (build/gen/fl_kernel_exports_gpu.cpp). */
using flgpu::ptr;

void fl_gpu_kv_append(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_kv_append &a) {
  launch_kv_append(l.hstream, d[0], ptr<float>(a.k_cache), ptr<float>(a.v_cache), ptr<const float>(a.k),
                   ptr<const float>(a.v), a.seq_len, a.n_head_kv, a.head_dim, a.pos_offset, false, nullptr,
                   a.ctx_len);
}

void fl_gpu_kv_append_dpos(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_kv_append_dpos &a) {
  launch_kv_append(l.hstream, d[0], ptr<float>(a.k_cache), ptr<float>(a.v_cache), ptr<const float>(a.k),
                   ptr<const float>(a.v), a.seq_len, a.n_head_kv, a.head_dim, 0, true, ptr<const int32_t>(a.pos),
                   a.ctx_len);
}

void fl_gpu_kv_append_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_kv_append_f16 &a) {
  launch_kv_append(l.hstream, d[0], ptr<__half>(a.k_cache), ptr<__half>(a.v_cache), ptr<const float>(a.k),
                   ptr<const float>(a.v), a.seq_len, a.n_head_kv, a.head_dim, a.pos_offset, false, nullptr,
                   a.ctx_len);
}

void fl_gpu_kv_append_dpos_f16(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_kv_append_dpos_f16 &a) {
  launch_kv_append(l.hstream, d[0], ptr<__half>(a.k_cache), ptr<__half>(a.v_cache), ptr<const float>(a.k),
                   ptr<const float>(a.v), a.seq_len, a.n_head_kv, a.head_dim, 0, true, ptr<const int32_t>(a.pos),
                   a.ctx_len);
}
