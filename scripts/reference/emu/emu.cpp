/* State of the CPU emulation (vendor.h). */
#include "vendor.h"
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
std::barrier<> *emu_block_barrier;
thread_local std::barrier<> *emu_group_barrier;
thread_local uint64_t *emu_group_slots;
float4 *emu_dynamic_smem;
