/* CPU emulation of the GPU execution model, standing in for hip/vendor.h so
 * that the llama kernels (kernels/llama/ .hip files, compiled as C++) run on a
 * machine with no GPU: blocks run one at a time, each GPU thread is a
 * std::thread, __syncthreads is a block-wide barrier and the width-32 shuffles
 * go through a per-group barrier. Threads that return arrive-and-drop, as
 * exited threads stop counting on a GPU. Used by check.cpp (run.sh). */
#ifndef EMU_VENDOR_H
#define EMU_VENDOR_H
/* hip/gpu_common.h includes hip/vendor.h by its own directory: this stands in for it. */
#define FAULTLINE_VENDOR_H
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#include <algorithm>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define FL_DYNAMIC_SHARED(type, name) type *name = reinterpret_cast<type *>(emu_dynamic_smem)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct float4 { float x, y, z, w; };
struct float2 { float x, y; };
struct uint4 { unsigned x, y, z, w; };
struct uint2 { unsigned x, y; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline float2 make_float2(float a, float b) { return {a, b}; }
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
inline uint2 make_uint2(unsigned a, unsigned b) { return {a, b}; }
/* CUDA's __byte_perm: result byte i is byte s_i (nibble i of s, low 3 bits) of the 8 bytes y:x. */
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  const uint64_t v = ((uint64_t)y << 32) | x;
  unsigned r = 0;
  for (int i = 0; i < 4; i++) r |= (unsigned)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}

struct __half { uint16_t bits; };
struct __half2 { __half x, y; };
inline float __half2float(__half h) {
  uint32_t sign = (uint32_t)(h.bits & 0x8000u) << 16, exp = (h.bits >> 10) & 0x1f, man = h.bits & 0x3ff, bits;
  float f;
  if (exp == 0) { f = man * 5.9604644775390625e-8f; return sign ? -f : f; }
  if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
  else bits = sign | ((exp + 112u) << 23) | (man << 13);
  memcpy(&f, &bits, 4);
  return f;
}
inline float2 __half22float2(__half2 h) { return {__half2float(h.x), __half2float(h.y)}; }
/* f32 -> f16, round to nearest even (subnormals kept, overflow to infinity). */
inline __half __float2half_rn(float f) {
  uint32_t b; memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u, exp = (b >> 23) & 0xffu; uint32_t man = b & 0x7fffffu;
  if (exp == 0xff) return {(uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0u))};
  const int e = (int)exp - 127 + 15;
  if (e >= 31) return {(uint16_t)(sign | 0x7c00u)};
  if (e <= 0) {
    if (e < -10) return {(uint16_t)sign};
    man |= 0x800000u;
    const uint32_t shift = 14 - e, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    uint32_t h = man >> shift;
    if (rem > half || (rem == half && (h & 1))) h++;
    return {(uint16_t)(sign | h)};
  }
  uint32_t h = ((uint32_t)e << 10) | (man >> 13); const uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return {(uint16_t)(sign | h)};
}
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }
inline unsigned short __half_as_ushort(__half h) { return h.bits; }
inline __half __ushort_as_half(unsigned short u) { return {u}; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline void sincospif(float x, float *s, float *c) {
  *s = (float)sin(3.14159265358979323846 * x);
  *c = (float)cos(3.14159265358979323846 * x);
}
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
using std::min; using std::max;
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }

typedef void *hipStream_t;
typedef void *hipEvent_t;
struct fl_breadcrumb; /* the fault kernels' slot (hip/vendor.h); the llama kernels leave none */
typedef int hipError_t;
#define hipSuccess 0
inline int hipPeekAtLastError() { return 0; }
#define FL_WARP_SIZE 32
#define FL_FULL_MASK 0xffffffffu
#define FL_GRID_DIM3(d) dim3((d).grid[0], (d).grid[1], (d).grid[2])
#define FL_BLOCK_DIM3(d) dim3((d).block[0], (d).block[1], (d).block[2])
typedef __half fl_half;

extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
extern std::barrier<> *emu_block_barrier;
extern thread_local std::barrier<> *emu_group_barrier;
extern thread_local uint64_t *emu_group_slots;
extern float4 *emu_dynamic_smem;

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }

template <class T>
inline T __shfl_xor_sync(unsigned, T v, int m, int width) {
  const unsigned lane = threadIdx.x % 32;
  uint64_t s = 0;
  memcpy(&s, &v, sizeof v);
  emu_group_slots[lane] = s;
  emu_group_barrier->arrive_and_wait();
  uint64_t o = emu_group_slots[(lane ^ (unsigned)m) % (unsigned)width + (lane / width) * width];
  emu_group_barrier->arrive_and_wait();
  T r;
  memcpy(&r, &o, sizeof r);
  return r;
}

template <class T>
inline T __shfl_sync(unsigned, T v, int src, int width) {
  const unsigned lane = threadIdx.x % 32;
  uint64_t s = 0;
  memcpy(&s, &v, sizeof v);
  emu_group_slots[lane] = s;
  emu_group_barrier->arrive_and_wait();
  uint64_t o = emu_group_slots[(unsigned)src % (unsigned)width + (lane / width) * width];
  emu_group_barrier->arrive_and_wait();
  T r;
  memcpy(&r, &o, sizeof r);
  return r;
}

template <class F>
void emu_run(dim3 grid, dim3 block, size_t shmem, F f) {
  blockDim = block;
  gridDim = grid;
  std::vector<float4> dyn(shmem / 16 + 1);
  emu_dynamic_smem = dyn.data();
  const unsigned n = block.x * block.y * block.z;
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        std::barrier<> bb(n);
        emu_block_barrier = &bb;
        const unsigned ng = (n + 31) / 32;
        std::vector<std::unique_ptr<std::barrier<>>> gb;
        std::vector<uint64_t> slots(ng * 32);
        for (unsigned g = 0; g < ng; g++) gb.emplace_back(new std::barrier<>(std::min(32u, n - g * 32)));
        std::vector<std::thread> th;
        for (unsigned t = 0; t < n; t++) {
          th.emplace_back([&, t, bx, by, bz] {
            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            blockIdx = dim3(bx, by, bz);
            emu_group_barrier = gb[t / 32].get();
            emu_group_slots = &slots[(t / 32) * 32];
            f();
            emu_group_barrier->arrive_and_drop();
            emu_block_barrier->arrive_and_drop();
          });
        }
        for (auto &t : th) t.join();
      }
}
#define hipLaunchKernelGGL(kernel, grid, block, shmem, stream, ...) \
  emu_run((grid), (block), (shmem), [&] { kernel(__VA_ARGS__); })
#endif
