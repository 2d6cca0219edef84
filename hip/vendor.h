/* The vendor runtime behind the HIP API names.
 *
 * The GPU sources (hip/gpu_*.cpp and the .hip files under kernels/) are
 * written in HIP. Built with hipcc they use HIP itself. Built with nvcc (-DFL_BACKEND_CUDA) this header
 * maps every HIP name the project uses onto the CUDA runtime, as llama.cpp's
 * ggml-cuda shares one source between vendors (there in the other direction).
 * The HIP-on-NVIDIA headers of older HIP releases do not compile against
 * CUDA 13, so the CUDA build never includes any HIP header.
 *
 * A HIP name missing below fails to compile in the cuda build only: add its
 * mapping here.
 */
#ifndef FAULTLINE_VENDOR_H
#define FAULTLINE_VENDOR_H

#include <stdint.h>

#if defined(FL_BACKEND_CUDA)

#include <cuda_runtime.h>
#include <cuda_fp16.h>

#define FL_VENDOR_NAME "cuda"

/* Errors */
#define hipError_t cudaError_t
#define hipSuccess cudaSuccess
#define hipErrorInvalidValue cudaErrorInvalidValue
#define hipErrorNotReady cudaErrorNotReady
#define hipErrorIllegalAddress cudaErrorIllegalAddress
#define hipErrorLaunchFailure cudaErrorLaunchFailure
#define hipErrorInvalidDevice cudaErrorInvalidDevice
#define hipErrorNoDevice cudaErrorNoDevice
#define hipErrorInvalidMemcpyDirection cudaErrorInvalidMemcpyDirection
#define hipGetLastError cudaGetLastError
#define hipPeekAtLastError cudaPeekAtLastError
#define hipGetErrorName cudaGetErrorName
#define hipGetErrorString cudaGetErrorString

/* Devices */
#define hipGetDeviceCount cudaGetDeviceCount
#define hipSetDevice cudaSetDevice
#define hipGetDevice cudaGetDevice
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipDeviceProp_t cudaDeviceProp
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipDeviceAttribute_t cudaDeviceAttr
#define hipDeviceGetAttribute cudaDeviceGetAttribute
#define hipDeviceAttributeMaxGridDimX cudaDevAttrMaxGridDimX
#define hipDeviceAttributeMaxGridDimY cudaDevAttrMaxGridDimY
#define hipDeviceAttributeMaxGridDimZ cudaDevAttrMaxGridDimZ
#define hipDeviceAttributeMaxBlockDimX cudaDevAttrMaxBlockDimX
#define hipDeviceAttributeMaxBlockDimY cudaDevAttrMaxBlockDimY
#define hipDeviceAttributeMaxBlockDimZ cudaDevAttrMaxBlockDimZ
#define hipDeviceAttributeMaxThreadsPerBlock cudaDevAttrMaxThreadsPerBlock
#define hipDeviceAttributeWarpSize cudaDevAttrWarpSize
#define hipDeviceAttributeMultiprocessorCount cudaDevAttrMultiProcessorCount
#define hipDeviceAttributeComputeCapabilityMajor cudaDevAttrComputeCapabilityMajor
#define hipDeviceAttributeComputeCapabilityMinor cudaDevAttrComputeCapabilityMinor
#define hipDeviceAttributeMaxSharedMemoryPerBlock cudaDevAttrMaxSharedMemoryPerBlock
#define hipMemGetInfo cudaMemGetInfo
#define hipDeviceGetPCIBusId cudaDeviceGetPCIBusId

/* Memory */
#define hipMalloc cudaMalloc
#define hipFree cudaFree
#define hipHostMalloc cudaHostAlloc
#define hipHostFree cudaFreeHost
#define hipHostMallocDefault cudaHostAllocDefault
#define hipHostMallocPortable cudaHostAllocPortable
#define hipHostMallocMapped cudaHostAllocMapped
#define hipHostGetDevicePointer cudaHostGetDevicePointer
#define hipMemcpy cudaMemcpy
#define hipMemcpyAsync cudaMemcpyAsync
#define hipMemcpyPeer cudaMemcpyPeer
#define hipMemcpyPeerAsync cudaMemcpyPeerAsync
#define hipMemset cudaMemset
#define hipMemsetAsync cudaMemsetAsync
#define hipMemcpyKind cudaMemcpyKind
#define hipMemcpyHostToHost cudaMemcpyHostToHost
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipMemcpyDefault cudaMemcpyDefault

/* Streams */
#define hipStream_t cudaStream_t
#define hipStreamCreate cudaStreamCreate
#define hipStreamCreateWithFlags cudaStreamCreateWithFlags
#define hipStreamDefault cudaStreamDefault
#define hipStreamNonBlocking cudaStreamNonBlocking
#define hipStreamDestroy cudaStreamDestroy
#define hipStreamSynchronize cudaStreamSynchronize
#define hipStreamQuery cudaStreamQuery
#define hipStreamWaitEvent cudaStreamWaitEvent

/* Events */
#define hipEvent_t cudaEvent_t
#define hipEventCreate cudaEventCreate
#define hipEventCreateWithFlags cudaEventCreateWithFlags
#define hipEventDefault cudaEventDefault
#define hipEventDisableTiming cudaEventDisableTiming
#define hipEventBlockingSync cudaEventBlockingSync
#define hipEventDestroy cudaEventDestroy
#define hipEventRecord cudaEventRecord
#define hipEventSynchronize cudaEventSynchronize
#define hipEventQuery cudaEventQuery
#define hipEventElapsedTime cudaEventElapsedTime

/* Launches: hipLaunchKernelGGL(kernel, grid, block, shared_bytes, stream, args...) */
#define hipLaunchKernelGGL(kernel, grid, block, shmem, stream, ...) \
  kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
/* A template kernel's name, which holds commas: hipLaunchKernelGGL(HIP_KERNEL_NAME(k<T, 4>), ...). */
#define HIP_KERNEL_NAME(...) __VA_ARGS__

/* Device code: CUDA's warp intrinsics are the spelling used in kernels. */
#define FL_WARP_SIZE 32
#define FL_FULL_MASK 0xffffffffu

#else /* HIP */

#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>

#define FL_VENDOR_NAME "hip"

/* Kernels use CUDA's *_sync warp shuffles (one spelling for both vendors);
 * on AMD every lane of the wavefront takes part, so the mask is dropped, as
 * llama.cpp's ggml-cuda vendors/hip.h does. */
#define __shfl_sync(mask, var, lane, width) __shfl(var, lane, width)
#define __shfl_xor_sync(mask, var, lane_mask, width) __shfl_xor(var, lane_mask, width)
#define __shfl_up_sync(mask, var, delta, width) __shfl_up(var, delta, width)
#define __shfl_down_sync(mask, var, delta, width) __shfl_down(var, delta, width)

/* Wavefront size: 64 on CDNA (gfx9), 32 on RDNA. Device code sees the target's
 * value; the host pass of hipcc has none and assumes 64 (gfx90a). Host code
 * should use fl_device_props.warp_size instead. */
#if defined(__AMDGCN_WAVEFRONT_SIZE__)
#define FL_WARP_SIZE __AMDGCN_WAVEFRONT_SIZE__
#elif defined(__AMDGCN_WAVEFRONT_SIZE)
#define FL_WARP_SIZE __AMDGCN_WAVEFRONT_SIZE
#else
#define FL_WARP_SIZE 64
#endif
#define FL_FULL_MASK 0xffffffffu

#endif /* FL_BACKEND_CUDA */

/* dim3 of an fl_launch_dims (kernels/launch_config.h). */
#define FL_GRID_DIM3(d) dim3((d).grid[0], (d).grid[1], (d).grid[2])
#define FL_BLOCK_DIM3(d) dim3((d).block[0], (d).block[1], (d).block[2])

/* Half precision: __half on both vendors. */
typedef __half fl_half;

/* The breadcrumb: one host-mapped pinned slot per device (hip/gpu_runtime.cpp).
 * A kernel that knows the address it is about to touch writes it here first,
 * with the launch's sequence number, and fences, so the host can read the
 * faulting address after the context has died. */
typedef struct fl_breadcrumb {
  uint64_t address; /* device address about to be accessed */
  uint64_t seq;     /* sequence number of the launch that wrote it */
  uint32_t access;  /* 1 read, 2 write */
  uint32_t reserved;
} fl_breadcrumb;

#if defined(__CUDACC__) || defined(__HIPCC__)
/* Leaves the breadcrumb, then makes it visible to the host before the access
 * that may fault. `crumb` may be null (no slot: nothing is written). */
static __device__ __forceinline__ void fl_breadcrumb_leave(fl_breadcrumb *crumb, uint64_t seq,
                                                           uint64_t address, uint32_t access) {
  if (crumb == nullptr) return;
  volatile fl_breadcrumb *c = crumb;
  c->address = address;
  c->access = access;
  c->seq = seq;
  __threadfence_system();
}
#endif

#endif /* FAULTLINE_VENDOR_H */
