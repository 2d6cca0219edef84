/* <hip/hip_runtime.h> for kernel sources compiled at run time for the cuda
 * backend (NVRTC or nvcc): CUDA has the HIP dialect's built-ins under the
 * same names (threadIdx, __syncthreads, __shfl_xor_sync, atomicAdd, ...);
 * this adds the HIP-only spellings a kernel source may use. */
#ifndef FL_RTC_CUDA_HIP_RUNTIME_H
#define FL_RTC_CUDA_HIP_RUNTIME_H

#if !defined(__CUDACC_RTC__)
#include <cuda_runtime.h>
#endif
#if defined(__has_include)
#if __has_include(<cuda_fp16.h>)
#include <cuda_fp16.h>
#endif
#endif

#define HIP_DYNAMIC_SHARED(type, var) extern __shared__ type var[];
#define HIP_DYNAMIC_SHARED_ATTRIBUTE

template <class T>
__device__ inline T __shfl_xor(T v, int mask, int width = 32) {
  return __shfl_xor_sync(0xffffffffu, v, mask, width);
}
template <class T>
__device__ inline T __shfl_down(T v, unsigned delta, int width = 32) {
  return __shfl_down_sync(0xffffffffu, v, delta, width);
}
template <class T>
__device__ inline T __shfl(T v, int src, int width = 32) {
  return __shfl_sync(0xffffffffu, v, src, width);
}

#endif
