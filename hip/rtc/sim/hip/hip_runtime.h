/* The GPU execution model on a CPU, for kernel sources loaded at run time on
 * the sim backend: a HIP-dialect source that includes <hip/hip_runtime.h>
 * compiles as C++ against this header into a sim module (hip/sim/sim_module.h).
 *
 * A launch runs its blocks one after another on the stream's worker thread.
 * Each GPU thread of a block is a fiber (ucontext) with its own stack;
 * __syncthreads and the warp operations suspend the fiber, and the block's
 * scheduler resumes fibers so that:
 *   - no thread leaves __syncthreads before every live thread of the block
 *     reached it (threads that returned no longer count, as on a GPU);
 *   - the 32 lanes of a warp meet at every shuffle and __syncwarp.
 * __shared__ memory is per worker thread (blocks of one launch run in turn).
 * Device memory is the sim's: a wild access faults and surfaces at the next
 * sync, like any sim kernel's.
 */
#ifndef FL_RTC_SIM_HIP_RUNTIME_H
#define FL_RTC_SIM_HIP_RUNTIME_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cmath>
#include <cstdio>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "modules.h"
#include "sim/sim_module.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __constant__ static
#define HIP_DYNAMIC_SHARED(type, var) type *var = reinterpret_cast<type *>(::flsim::dynamic_shared());
#define HIP_DYNAMIC_SHARED_ATTRIBUTE

struct dim3 {
  uint32_t x, y, z;
  constexpr dim3(uint32_t a = 1, uint32_t b = 1, uint32_t c = 1) : x(a), y(b), z(c) {}
};
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct int2 { int x, y; };
struct int4 { int x, y, z, w; };
struct uint2 { unsigned x, y; };
struct uint4 { unsigned x, y, z, w; };
inline float2 make_float2(float a, float b) { return {a, b}; }
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }

namespace flsim {

enum State { READY, AT_BARRIER, AT_WARP, DONE };

struct Fiber {
  ucontext_t ctx;
  dim3 tid;
  uint32_t linear;
  State state;
  char *stack;
};

constexpr size_t kStack = 64 * 1024;
constexpr size_t kGuard = 4096;

struct Block {
  dim3 grid, block, bid;
  std::vector<Fiber> fibers;
  std::vector<uint64_t> lanes; /* one exchange slot per thread, for the warp operations */
  std::vector<unsigned char> shared;
  ucontext_t sched;
  Fiber *cur = nullptr;
  void (*body)(void *) = nullptr;
  void *body_arg = nullptr;
  bool direct = false; /* one thread per block: run on the scheduler's stack, no fibers */
};

inline Block &block() {
  static thread_local Block b;
  return b;
}

inline void *dynamic_shared() { return block().shared.data(); }

inline void suspend(State s) {
  Block &b = block();
  if (b.direct) return; /* a block of one thread: nobody to wait for */
  Fiber *f = b.cur;
  f->state = s;
  swapcontext(&f->ctx, &b.sched);
}

inline void fiber_main() {
  Block &b = block();
  b.body(b.body_arg);
  b.cur->state = DONE; /* returning resumes the scheduler (uc_link) */
}

/* Stacks with a guard page below each, kept for the worker thread's later launches. */
inline void grow(Block &b, size_t n) {
  while (b.fibers.size() < n) {
    void *m = mmap(nullptr, kStack + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) abort();
    mprotect(m, kGuard, PROT_NONE);
    Fiber f{};
    f.stack = static_cast<char *>(m) + kGuard;
    b.fibers.push_back(f);
  }
  if (b.lanes.size() < n) b.lanes.resize(n);
}

/* Releases the fibers that may go on: a warp whose live lanes all wait at a
 * warp operation, else (when no warp can) the whole block at a barrier. */
inline bool release(Block &b, size_t n) {
  bool any = false;
  for (size_t w = 0; w < n; w += 32) {
    size_t end = w + 32 < n ? w + 32 : n;
    bool waiting = false, all = true;
    for (size_t i = w; i < end; i++) {
      if (b.fibers[i].state == AT_WARP) waiting = true;
      else if (b.fibers[i].state != DONE) all = false;
    }
    if (waiting && all) {
      for (size_t i = w; i < end; i++)
        if (b.fibers[i].state == AT_WARP) b.fibers[i].state = READY;
      any = true;
    }
  }
  if (any) return true;
  for (size_t i = 0; i < n; i++) {
    if (b.fibers[i].state == AT_BARRIER) b.fibers[i].state = READY, any = true;
    else if (b.fibers[i].state == AT_WARP) b.fibers[i].state = READY, any = true; /* divergent: let it run */
  }
  return any;
}

inline void run_block(size_t n) {
  Block &b = block();
  if (n == 1) {
    b.direct = true;
    b.cur = &b.fibers[0];
    b.cur->linear = 0;
    b.cur->tid = dim3(0, 0, 0);
    b.body(b.body_arg);
    b.direct = false;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    Fiber &f = b.fibers[i];
    f.linear = static_cast<uint32_t>(i);
    f.tid = dim3(static_cast<uint32_t>(i % b.block.x), static_cast<uint32_t>((i / b.block.x) % b.block.y),
                 static_cast<uint32_t>(i / (static_cast<size_t>(b.block.x) * b.block.y)));
    f.state = READY;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = &b.sched;
    makecontext(&f.ctx, fiber_main, 0);
  }
  do {
    for (size_t i = 0; i < n; i++) {
      if (b.fibers[i].state != READY) continue;
      b.cur = &b.fibers[i];
      swapcontext(&b.sched, &b.fibers[i].ctx);
    }
  } while (release(b, n));
}

inline void run_grid(const uint32_t dims[6], uint32_t shared_bytes, void (*body)(void *), void *arg) {
  Block &b = block();
  b.grid = dim3(dims[0], dims[1], dims[2]);
  b.block = dim3(dims[3], dims[4], dims[5]);
  size_t n = static_cast<size_t>(dims[3]) * dims[4] * dims[5];
  grow(b, n);
  b.shared.assign(shared_bytes, 0);
  b.body = body;
  b.body_arg = arg;
  b.direct = false;
  for (uint32_t z = 0; z < dims[2]; z++)
    for (uint32_t y = 0; y < dims[1]; y++)
      for (uint32_t x = 0; x < dims[0]; x++) {
        b.bid = dim3(x, y, z);
        run_block(n);
      }
}

/* The warp exchange behind every shuffle: publish `v`, meet the warp, read lane `src`'s, meet again. */
template <class T>
inline T exchange(T v, int src_lane) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  Block &b = block();
  const uint32_t me = b.cur->linear, base = me - me % 32;
  uint64_t slot = 0;
  memcpy(&slot, &v, sizeof(T));
  b.lanes[me] = slot;
  suspend(AT_WARP);
  size_t n = b.lanes.size() < static_cast<size_t>(b.block.x) * b.block.y * b.block.z
                 ? b.lanes.size()
                 : static_cast<size_t>(b.block.x) * b.block.y * b.block.z;
  const uint32_t src = base + static_cast<uint32_t>(src_lane);
  T out = v;
  if (src < n) memcpy(&out, &b.lanes[src], sizeof(T));
  suspend(AT_WARP);
  return out;
}

inline int lane() { return static_cast<int>(block().cur->linear % 32); }

/* Packs the parameters of `Fn` into the layout a GPU gives them (each at its alignment). */
template <class F>
struct Kernel;

template <class... P>
struct Kernel<void (*)(P...)> {
  static void describe(fl_sim_kernel &k) {
    static_assert(sizeof...(P) <= FL_SIM_MAX_PARAMS, "too many kernel parameters");
    uint32_t off = 0;
    int i = 0;
    ((off = (off + alignof(P) - 1) / alignof(P) * alignof(P), k.offset[i] = off, k.size[i] = sizeof(P),
      k.kind[i] = std::is_pointer<P>::value ? FL_PARAM_POINTER : FL_PARAM_VALUE, off += sizeof(P), i++),
     ...);
    k.nparams = i;
    k.args_bytes = off;
  }

  template <size_t... I>
  static void unpack(std::tuple<std::decay_t<P>...> &values, const void *args, const fl_sim_kernel &k,
                     std::index_sequence<I...>) {
    ((memcpy(&std::get<I>(values), static_cast<const char *>(args) + k.offset[I], sizeof(P))), ...);
  }

  template <auto Fn>
  static void run(const uint32_t dims[6], uint32_t shared_bytes, const void *args, const fl_sim_kernel &k) {
    std::tuple<std::decay_t<P>...> values;
    unpack(values, args, k, std::index_sequence_for<P...>{});
    run_grid(dims, shared_bytes,
             [](void *p) { std::apply(Fn, *static_cast<std::tuple<std::decay_t<P>...> *>(p)); }, &values);
  }
};

template <auto Fn>
struct Export {
  using K = Kernel<decltype(Fn)>;
  static fl_sim_kernel &entry() {
    static fl_sim_kernel k{};
    return k;
  }
  static void run(const uint32_t dims[6], uint32_t shared_bytes, const void *args) {
    K::template run<Fn>(dims, shared_bytes, args, entry());
  }
};

}  // namespace flsim

#define threadIdx (::flsim::block().cur->tid)
#define blockIdx (::flsim::block().bid)
#define blockDim (::flsim::block().block)
#define gridDim (::flsim::block().grid)
#define warpSize 32

inline void __syncthreads() { ::flsim::suspend(::flsim::AT_BARRIER); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::flsim::suspend(::flsim::AT_WARP); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T>
inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
  const int l = ::flsim::lane();
  return ::flsim::exchange(v, (l & ~(width - 1)) | (src & (width - 1)));
}
template <class T>
inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int l = ::flsim::lane();
  return ::flsim::exchange(v, (l & ~(width - 1)) | ((l ^ mask) & (width - 1)));
}
template <class T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int l = ::flsim::lane(), seg = l & ~(width - 1);
  const int src = l + static_cast<int>(delta);
  return ::flsim::exchange(v, src < seg + width ? src : l);
}
template <class T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int l = ::flsim::lane(), seg = l & ~(width - 1);
  const int src = l - static_cast<int>(delta);
  return ::flsim::exchange(v, src >= seg ? src : l);
}
template <class T>
inline T __shfl_xor(T v, int mask, int width = 32) { return __shfl_xor_sync(0xffffffffu, v, mask, width); }
template <class T>
inline T __shfl_down(T v, unsigned delta, int width = 32) { return __shfl_down_sync(0xffffffffu, v, delta, width); }
template <class T>
inline T __shfl(T v, int src, int width = 32) { return __shfl_sync(0xffffffffu, v, src, width); }

template <class T>
inline T atomicAdd(T *p, T v) {
  if constexpr (std::is_integral<T>::value) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
  } else {
    T old = *p, desired;
    do {
      desired = old + v;
    } while (!__atomic_compare_exchange(p, &old, &desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
  }
}
template <class T>
inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
template <class T>
inline T atomicCAS(T *p, T expected, T desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return expected;
}
template <class T>
inline T atomicMax(T *p, T v) {
  T old = *p;
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <class T>
inline T atomicMin(T *p, T v) {
  T old = *p;
  while (old > v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

using std::max;
using std::min;
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }
inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  memcpy(&i, &f, 4);
  return i;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  memcpy(&u, &f, 4);
  return u;
}

/* IEEE binary16 with the conversions kernels use. */
struct __half {
  uint16_t bits;
};
inline float __half2float(__half h) {
  uint32_t sign = (uint32_t)(h.bits & 0x8000u) << 16, exp = (h.bits >> 10) & 0x1fu, man = h.bits & 0x3ffu, b;
  float f;
  if (exp == 0) {
    f = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -f : f;
  }
  b = exp == 31 ? (sign | 0x7f800000u | (man << 13)) : (sign | ((exp + 112u) << 23) | (man << 13));
  memcpy(&f, &b, 4);
  return f;
}
inline __half __float2half(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  const int32_t e = static_cast<int32_t>((b >> 23) & 0xffu) - 127 + 15;
  uint32_t m = b & 0x7fffffu;
  if (((b >> 23) & 0xffu) == 0xffu) return {static_cast<uint16_t>(sign | 0x7c00u | (m ? 0x200u : 0u))};
  if (e >= 31) return {static_cast<uint16_t>(sign | 0x7c00u)};
  if (e <= 0) {
    if (e < -10) return {static_cast<uint16_t>(sign)};
    m |= 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - e), h = m >> shift, rest = m & ((1u << shift) - 1u),
                   half = 1u << (shift - 1);
    return {static_cast<uint16_t>(sign | (h + (rest > half || (rest == half && (h & 1u)))))};
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (m >> 13);
  const uint32_t rest = m & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return {static_cast<uint16_t>(h)};
}

/* One table entry per kernel the loader was asked for (ffi/kernel_loader.ts writes these). */
#define FL_SIM_EXPORT_KERNEL(fn)                                             \
  static const fl_sim_kernel *fl_sim_describe_##fn() {                       \
    fl_sim_kernel &k = ::flsim::Export<&fn>::entry();                        \
    k.name = #fn;                                                            \
    ::flsim::Export<&fn>::K::describe(k);                                    \
    k.run = ::flsim::Export<&fn>::run;                                       \
    return &k;                                                               \
  }

#endif
