/* Device helpers shared by the llama decode kernels (kernels/llama/ .hip files).
 *
 * Every kernel cooperates in groups of 32 lanes (FL_LLAMA_LANES): a warp on
 * NVIDIA, half a wavefront on AMD CDNA (64 wide), so one geometry is right
 * on both. Shuffles are given width 32 and lane masks below 32, so they never
 * leave the group. A group either runs a shuffle with all its 32 lanes or
 * not at all (no lane of a group returns early alone).
 */
#ifndef FAULTLINE_LLAMA_COMMON_H
#define FAULTLINE_LLAMA_COMMON_H

#include <stdint.h>

#include "launch_config_llama.h"
#include "vendor.h"

#define FL_LLAMA_GROUP 32

/* Declares the block's dynamic shared memory as `type name[]`. (A CPU
 * emulation of the execution model, scripts/reference/emu/, defines its own
 * before this header.) */
#ifndef FL_DYNAMIC_SHARED
#define FL_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

/* __launch_bounds__ where the compiler has it (not in the CPU emulation). */
#if defined(__launch_bounds__)
#define FL_LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads, blocks)
#else
#define FL_LAUNCH_BOUNDS(threads, blocks)
#endif

/* Programmatic dependent launch (CUDA, sm_90 and later). On cuda every llama
 * kernel is launched by FL_LLAMA_LAUNCH with programmatic stream
 * serialization allowed: its blocks may start while the kernel before it in
 * the stream is still running, so each kernel's first statement is
 * fl_grid_dependency_wait(), which returns once every earlier kernel of the
 * stream has completed and its writes are visible (nothing before it touches
 * memory). fl_grid_dependents_launch() then lets the next kernel's blocks be
 * scheduled onto free multiprocessors, where they wait in turn. Elsewhere
 * (hip, older NVIDIA targets, the CPU emulation) both are no-ops and
 * FL_LLAMA_LAUNCH launches with hipLaunchKernelGGL: plainly serialized. */
static __device__ __forceinline__ void fl_grid_dependency_wait() {
#if defined(FL_BACKEND_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

static __device__ __forceinline__ void fl_grid_dependents_launch() {
#if defined(FL_BACKEND_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/* Both, at the start of every llama kernel. */
#define FL_LLAMA_KERNEL_PROLOGUE() \
  do {                              \
    fl_grid_dependency_wait();      \
    fl_grid_dependents_launch();    \
  } while (0)

#if defined(FL_BACKEND_CUDA)
/* Whether FL_LLAMA_LAUNCH may launch with programmatic serialization: not on
 * the legacy default stream (0), which synchronizes with every other stream.
 * (Refused configurations never get here: the exports return 9 before any
 * launch, build/gen/fl_kernel_exports_gpu.cpp.) */
static inline bool fl_llama_pdl(hipStream_t stream) { return stream != nullptr; }

template <typename... P, typename... A>
static inline void fl_llama_launch_pdl(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                                       hipStream_t stream, A... args) {
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  (void)cudaLaunchKernelEx(&cfg, kernel, static_cast<P>(args)...); /* status: hipGetLastError() */
}

/* hipLaunchKernelGGL's arguments. */
#define FL_LLAMA_LAUNCH(kernel, grid, block, shmem, stream, ...)                         \
  do {                                                                                   \
    if (fl_llama_pdl(stream)) {                                                          \
      fl_llama_launch_pdl(kernel, grid, block, shmem, stream, __VA_ARGS__);              \
    } else {                                                                             \
      hipLaunchKernelGGL(kernel, grid, block, shmem, stream, __VA_ARGS__);               \
    }                                                                                    \
  } while (0)
#else
#define FL_LLAMA_LAUNCH(kernel, grid, block, shmem, stream, ...) \
  hipLaunchKernelGGL(kernel, grid, block, shmem, stream, __VA_ARGS__)
#endif

static __device__ __forceinline__ float fl_group_sum(float v) {
#pragma unroll
  for (int m = FL_LLAMA_GROUP / 2; m > 0; m >>= 1) v += __shfl_xor_sync(FL_FULL_MASK, v, m, FL_LLAMA_GROUP);
  return v;
}

static __device__ __forceinline__ float fl_group_max(float v) {
#pragma unroll
  for (int m = FL_LLAMA_GROUP / 2; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(FL_FULL_MASK, v, m, FL_LLAMA_GROUP));
  return v;
}

/* Sums four values (v[k], one partial per lane for each of 4 keys) over the
 * group with 6 shuffles instead of 4 x 5: the set of keys is halved at each
 * of the first two steps (lanes with bit 4 set keep keys 2 and 3, then bit 3
 * picks one of the pair), then the remaining key is summed over the 8-lane
 * subgroup. Returns the full sum of key `fl_group_sum4_key()`; lane 8k holds
 * key k. */
static __device__ __forceinline__ float fl_group_sum4_scatter(const float v[4]) {
  const unsigned lane = threadIdx.x % FL_LLAMA_GROUP;
  const bool hi = (lane & 16) != 0, mid = (lane & 8) != 0;
  const float r0 = __shfl_xor_sync(FL_FULL_MASK, hi ? v[0] : v[2], 16, FL_LLAMA_GROUP);
  const float r1 = __shfl_xor_sync(FL_FULL_MASK, hi ? v[1] : v[3], 16, FL_LLAMA_GROUP);
  const float k0 = (hi ? v[2] : v[0]) + r0, k1 = (hi ? v[3] : v[1]) + r1;
  float kept = (mid ? k1 : k0) + __shfl_xor_sync(FL_FULL_MASK, mid ? k0 : k1, 8, FL_LLAMA_GROUP);
  kept += __shfl_xor_sync(FL_FULL_MASK, kept, 4, FL_LLAMA_GROUP);
  kept += __shfl_xor_sync(FL_FULL_MASK, kept, 2, FL_LLAMA_GROUP);
  kept += __shfl_xor_sync(FL_FULL_MASK, kept, 1, FL_LLAMA_GROUP);
  return kept;
}

/* The key whose sum fl_group_sum4_scatter leaves in this lane. */
static __device__ __forceinline__ unsigned fl_group_sum4_key() {
  const unsigned lane = threadIdx.x % FL_LLAMA_GROUP;
  return ((lane >> 4) & 1u) * 2u + ((lane >> 3) & 1u);
}

/* The four sums in every lane: the scatter, then 4 broadcasts (10 shuffles). */
static __device__ __forceinline__ void fl_group_sum4(const float v[4], float out[4]) {
  const float kept = fl_group_sum4_scatter(v);
#pragma unroll
  for (int k = 0; k < 4; k++) out[k] = __shfl_sync(FL_FULL_MASK, kept, 8 * k, FL_LLAMA_GROUP);
}

/* Sum over the whole block (blockDim.x a multiple of 32, at most 1024);
 * every thread gets the result. `scratch` holds 32 floats of shared memory.
 * Contains __syncthreads: every thread of the block must call it. */
static __device__ __forceinline__ float fl_block_sum(float v, float *scratch) {
  const int lane = threadIdx.x % FL_LLAMA_GROUP, group = threadIdx.x / FL_LLAMA_GROUP;
  const int groups = blockDim.x / FL_LLAMA_GROUP;
  v = fl_group_sum(v);
  __syncthreads(); /* scratch may still be read by an earlier call */
  if (lane == 0) scratch[group] = v;
  __syncthreads();
  v = lane < groups ? scratch[lane] : 0.0f;
  return fl_group_sum(v);
}

/* Max over the whole block, as fl_block_sum. */
static __device__ __forceinline__ float fl_block_max(float v, float *scratch) {
  const int lane = threadIdx.x % FL_LLAMA_GROUP, group = threadIdx.x / FL_LLAMA_GROUP;
  const int groups = blockDim.x / FL_LLAMA_GROUP;
  v = fl_group_max(v);
  __syncthreads();
  if (lane == 0) scratch[group] = v;
  __syncthreads();
  v = lane < groups ? scratch[lane] : -INFINITY;
  return fl_group_max(v);
}

static __host__ __device__ __forceinline__ bool fl_aligned16(const void *p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

/* 8 halves (16 bytes) to floats. */
static __device__ __forceinline__ void fl_half8_to_float(const uint4 &u, float *f) {
  const __half2 *h = reinterpret_cast<const __half2 *>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 t = __half22float2(h[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}

/* One 8-byte store of (a, b) at p (8-byte aligned). A float2 store is split
 * into two 4-byte stores by some compilers; a 64-bit integer store is not. */
static __device__ __forceinline__ void fl_store_float2(float *p, float a, float b) {
  *reinterpret_cast<unsigned long long *>(p) =
      (static_cast<unsigned long long>(__float_as_uint(b)) << 32) | __float_as_uint(a);
}

/* Elements 4u .. 4u+3 of `row` as floats: one 16-byte load of f32, one 8-byte load of f16 (row
 * aligned for it). */
static __device__ __forceinline__ float4 fl_load4(const float *row, uint32_t u) {
  return reinterpret_cast<const float4 *>(row)[u];
}
static __device__ __forceinline__ float4 fl_load4(const __half *row, uint32_t u) {
  const uint2 w = reinterpret_cast<const uint2 *>(row)[u];
  const float2 a = __half22float2(*reinterpret_cast<const __half2 *>(&w.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2 *>(&w.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

static __device__ __forceinline__ float fl_nanf() { return __int_as_float(0x7fc00000); }

static __device__ __forceinline__ float fl_to_float(float x) { return x; }
static __device__ __forceinline__ float fl_to_float(__half x) { return __half2float(x); }

#endif
