/**
 * Declarations of the kernels over ggml block-quantized weights (kernels/llama/matvec_quant.hip,
 * kernels/llama/dequant.hip): decode mat-vecs that dequantize inside the dot product, and the
 * dequantization to f16 that feeds the prefill GEMM. Weights are row-major [rows, cols] in ggml's own
 * blocks along each row (scripts/model/quant.ts has the layouts): Q8_0 and Q4_0 blocks hold 32
 * weights in 34 and 18 bytes, Q4_K super-blocks 256 in 144. A row of `cols` weights is whole blocks
 * (a partial block is refused with 9); the weights' pointers need the 2-byte alignment of the f16
 * scales.
 */
import type { KernelArgValues, KernelDescriptor } from "./kernel_spec.ts";
import { matvecDims, matvecX, matvecY } from "./kernels_shapes.ts";

/** Weights and bytes per block of each quantized type the kernels read. */
export const QUANT_BLOCKS = {
  q8_0: { weights: 32, bytes: 34 },
  q4_0: { weights: 32, bytes: 18 },
  q4_k: { weights: 256, bytes: 144 },
} as const;

/** A quantized weight type the kernels read. */
export type QuantKernelType = keyof typeof QUANT_BLOCKS;

/** Bytes of `rows` rows of `cols` quantized weights (whole blocks; a partial block counts as none). */
export function quantBytes(type: QuantKernelType, rows: number, cols: number): number {
  const b = QUANT_BLOCKS[type];
  return rows * Math.floor(cols / b.weights) * b.bytes;
}

// the three types' kernels differ only in the bytes of the weight (quantBytes of their type)

/** The weight of a quantized y = W x, [out_dim, in_dim] in `type`'s blocks. */
const quantW = {
  q8_0: {
    name: "w",
    type: "ptr",
    access: "r",
    elem: 2,
    extent: (a: KernelArgValues): number => quantBytes("q8_0", a.out_dim, a.in_dim),
  },
  q4_0: {
    name: "w",
    type: "ptr",
    access: "r",
    elem: 2,
    extent: (a: KernelArgValues): number => quantBytes("q4_0", a.out_dim, a.in_dim),
  },
  q4_k: {
    name: "w",
    type: "ptr",
    access: "r",
    elem: 2,
    extent: (a: KernelArgValues): number => quantBytes("q4_k", a.out_dim, a.in_dim),
  },
} as const;

/** Decode y = W x, W [out_dim, in_dim] in Q8_0 blocks, f32 x and accumulation. */
export const matvecQ8_0 = {
  name: "matvec_q8_0",
  args: [matvecY, quantW.q8_0, matvecX, ...matvecDims],
} as const satisfies KernelDescriptor;
/** Decode y = W x, W in Q4_0 blocks. */
export const matvecQ4_0 = {
  name: "matvec_q4_0",
  args: [matvecY, quantW.q4_0, matvecX, ...matvecDims],
} as const satisfies KernelDescriptor;
/** Decode y = W x, W in Q4_K super-blocks. */
export const matvecQ4K = {
  name: "matvec_q4_k",
  args: [matvecY, quantW.q4_k, matvecX, ...matvecDims],
} as const satisfies KernelDescriptor;

/** out [rows, cols] f16 of a dequantization. */
const dequantOut = {
  name: "out",
  type: "ptr",
  access: "w",
  elem: 2,
  extent: (a: KernelArgValues): number => a.rows * a.cols * 2,
} as const;
const dequantDims = [{ name: "rows", type: "u32" }, { name: "cols", type: "u32" }] as const;

/** out = f16(dequantized W), [rows, cols] row-major; each weight computed in f32, rounded to nearest even. */
export const dequantQ8_0 = {
  name: "dequant_q8_0",
  args: [
    dequantOut,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => quantBytes("q8_0", a.rows, a.cols),
    },
    ...dequantDims,
  ],
} as const satisfies KernelDescriptor;
/** dequant_q8_0 for Q4_0 blocks. */
export const dequantQ4_0 = {
  name: "dequant_q4_0",
  args: [
    dequantOut,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => quantBytes("q4_0", a.rows, a.cols),
    },
    ...dequantDims,
  ],
} as const satisfies KernelDescriptor;
/** dequant_q8_0 for Q4_K super-blocks. */
export const dequantQ4K = {
  name: "dequant_q4_k",
  args: [
    dequantOut,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => quantBytes("q4_k", a.rows, a.cols),
    },
    ...dequantDims,
  ],
} as const satisfies KernelDescriptor;

/** The quantized-weight kernels, by their TypeScript names. */
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
