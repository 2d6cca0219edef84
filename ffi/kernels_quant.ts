/**
 * Declarations of the kernels over ggml block-quantized weights (kernels/llama/matvec_quant.hip,
 * kernels/llama/dequant.hip): decode mat-vecs that dequantize inside the dot product, and the
 * dequantization to f16 that feeds the prefill GEMM. Weights are row-major [rows, cols] in ggml's own
 * blocks along each row (scripts/model/quant.ts has the layouts): Q8_0 and Q4_0 blocks hold 32
 * weights in 34 and 18 bytes, Q4_K super-blocks 256 in 144. A row of `cols` weights is whole blocks
 * (a partial block is refused with 9); the weights' pointers need the 2-byte alignment of the f16
 * scales.
 */
import { defineKernel, type KernelArgSpec } from "./kernel_spec.ts";

/** Weights and bytes per block of each quantized type the kernels read. */
export const QUANT_BLOCKS = {
  q8_0: { weights: 32, bytes: 34 },
  q4_0: { weights: 32, bytes: 18 },
  q4_k: { weights: 256, bytes: 144 },
} as const;

export type QuantKernelType = keyof typeof QUANT_BLOCKS;

/** Bytes of `rows` rows of `cols` quantized weights (whole blocks; a partial block counts as none). */
export function quantBytes(type: QuantKernelType, rows: number, cols: number): number {
  const b = QUANT_BLOCKS[type];
  return rows * Math.floor(cols / b.weights) * b.bytes;
}

const matvecArgs = (type: QuantKernelType) =>
  [
    { name: "y", type: "ptr", access: "w", elem: 4, extent: (a) => a.out_dim * 4 },
    { name: "w", type: "ptr", access: "r", elem: 2, extent: (a) => quantBytes(type, a.out_dim, a.in_dim) },
    { name: "x", type: "ptr", access: "r", elem: 4, extent: (a) => a.in_dim * 4 },
    { name: "out_dim", type: "u32" },
    { name: "in_dim", type: "u32" },
  ] as const satisfies readonly KernelArgSpec[];

/** Decode y = W x, W [out_dim, in_dim] in Q8_0 blocks, f32 x and accumulation. */
export const matvecQ8_0 = defineKernel({ name: "matvec_q8_0", args: matvecArgs("q8_0") });
/** Decode y = W x, W in Q4_0 blocks. */
export const matvecQ4_0 = defineKernel({ name: "matvec_q4_0", args: matvecArgs("q4_0") });
/** Decode y = W x, W in Q4_K super-blocks. */
export const matvecQ4K = defineKernel({ name: "matvec_q4_k", args: matvecArgs("q4_k") });

const dequantArgs = (type: QuantKernelType) =>
  [
    { name: "out", type: "ptr", access: "w", elem: 2, extent: (a) => a.rows * a.cols * 2 },
    { name: "w", type: "ptr", access: "r", elem: 2, extent: (a) => quantBytes(type, a.rows, a.cols) },
    { name: "rows", type: "u32" },
    { name: "cols", type: "u32" },
  ] as const satisfies readonly KernelArgSpec[];

/** out = f16(dequantized W), [rows, cols] row-major; each weight computed in f32, rounded to nearest even. */
export const dequantQ8_0 = defineKernel({ name: "dequant_q8_0", args: dequantArgs("q8_0") });
export const dequantQ4_0 = defineKernel({ name: "dequant_q4_0", args: dequantArgs("q4_0") });
export const dequantQ4K = defineKernel({ name: "dequant_q4_k", args: dequantArgs("q4_k") });

export const quantKernels = {
  matvecQ8_0,
  matvecQ4_0,
  matvecQ4K,
  dequantQ8_0,
  dequantQ4_0,
  dequantQ4K,
} as const;

/** The decode mat-vec and the dequantization kernel of each quantized type. */
export const QUANT_KERNELS = {
  q8_0: { matvec: matvecQ8_0, dequant: dequantQ8_0 },
  q4_0: { matvec: matvecQ4_0, dequant: dequantQ4_0 },
  q4_k: { matvec: matvecQ4K, dequant: dequantQ4K },
} as const;
