/* The runtime's redzone check (ffi/redzones.ts): one launch compares every
 * guard range written since the last check with the fill pattern and writes
 * one result per range, so the host copies back n results instead of every
 * guard byte. C reference version: hip/sim/sim_kernels.c. */
#include <stdint.h>

#include "fl_kernel_launchers.h"

/* table: n pairs {address, bytes}; out[e]: offset of range e's first byte that is not the
 * pattern, or -1. One block per range (grid-stride over the ranges). */
__global__ void redzone_check_kernel(const uint64_t *table, uint32_t n, uint32_t pattern, int64_t *out) {
  __shared__ unsigned long long first;
  const uint8_t pat = static_cast<uint8_t>(pattern);
  for (uint32_t e = blockIdx.x; e < n; e += gridDim.x) {
    const uint8_t *r = reinterpret_cast<const uint8_t *>(static_cast<uintptr_t>(table[2 * e]));
    const uint64_t bytes = table[2 * e + 1];
    if (threadIdx.x == 0) first = ~0ull;
    __syncthreads();
    for (uint64_t i = threadIdx.x; i < bytes; i += blockDim.x) {
      if (r[i] != pat) {
        // a thread's first mismatch is its smallest: the block's minimum is the range's first
        atomicMin(&first, static_cast<unsigned long long>(i));
        break;
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) out[e] = first == ~0ull ? -1 : static_cast<int64_t>(first);
    __syncthreads();
  }
}

void fl_gpu_redzone_check(flgpu::Launch &l, const fl_launch_dims *d, const fl_args_redzone_check &a) {
  hipLaunchKernelGGL(redzone_check_kernel, FL_GRID_DIM3(d[0]), FL_BLOCK_DIM3(d[0]), 0, l.hstream,
                     flgpu::ptr<const uint64_t>(a.table), a.n, a.pattern, flgpu::ptr<int64_t>(a.out));
}
