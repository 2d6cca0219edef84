/* State of the CPU emulation (vendor.h). */
#include "vendor.h"
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<> *emu_block_barrier;
thread_local std::barrier<> *emu_group_barrier;
thread_local uint64_t *emu_group_slots;
float4 *emu_dynamic_smem;
/* cuBLAS is not emulated: gemm_f16 runs its own kernel (kernels/llama/matmul.hip). */
#include "blas.h"
bool flgpu::blas_gemm_f16(int32_t, hipStream_t, float *, const __half *, const __half *, uint32_t, uint32_t, uint32_t) {
  return false;
}
