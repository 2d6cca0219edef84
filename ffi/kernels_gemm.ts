/**
 * Declarations of the prefill GEMM path (kernels/llama/gemm.hip): activations rounded to f16, then
 * y = W x over f16 operands with f32 accumulation. On cuda the GEMM is cuBLAS (cublasGemmEx, tensor
 * cores; libcublas is loaded at run time, see hip/blas.h) when it can be loaded, else faultline's
 * own tiled kernel, as on hip; sim runs the reference. Either way it is one declared launch,
 * journaled and checked like any other.
 */
import type { KernelArgValues, KernelDescriptor } from "./kernel_spec.ts";

/** out[i] = f16(x[i]) (round to nearest even; overflow to infinity), n elements. */
export const convertF16 = {
  name: "convert_f16",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 2, extent: (a: KernelArgValues): number => a.n * 2 },
    { name: "x", type: "ptr", access: "r", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "n", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/**
 * Prefill y[t, o] = sum_i W[o, i] x[t, i]: W [out_dim, in_dim] f16 row-major, x [n_tokens, in_dim]
 * f16, y [n_tokens, out_dim] f32; f32 accumulation.
 */
export const gemmF16 = {
  name: "gemm_f16",
  args: [
    {
      name: "y",
      type: "ptr",
      access: "w",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_tokens * a.out_dim * 4,
    },
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => a.out_dim * a.in_dim * 2,
    },
    {
      name: "x",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => a.n_tokens * a.in_dim * 2,
    },
    { name: "n_tokens", type: "u32" },
    { name: "out_dim", type: "u32" },
    { name: "in_dim", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** The prefill GEMM path's kernels. */
export const gemmKernels = { convertF16, gemmF16 } as const;
