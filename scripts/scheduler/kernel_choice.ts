/**
 * Which kernel the scheduler launches for a weight's storage type and the KV cache's element type,
 * and the engine's numerics, which the float64 reference (scripts/model/reference_forward.ts) follows:
 *
 * - decode projections: the mat-vec of the weight's type (f32, f16, Q8_0, Q4_0, Q4_K), f32 x;
 * - prefill projections: matmul_f32 for f32 weights; otherwise the GEMM path: the input rounded to
 *   f16 (convert_f16), quantized weights dequantized to f16 (dequant_<type>), then gemm_f16 (cuBLAS
 *   on cuda), f32 accumulation;
 * - the KV cache: f16 (default; appends round to nearest even) or f32.
 */
import { llamaKernels as K } from "../../mod.ts";
import type { KernelDescriptor } from "../../mod.ts";
import type { WeightDtype } from "../model/gpu_model.ts";
import type { KvCacheType } from "../model/numerics.ts";

export { DEFAULT_NUMERICS, type EngineNumerics, type KvCacheType } from "../model/numerics.ts";

const MATVEC: Record<WeightDtype, KernelDescriptor> = {
  f32: K.matvecF32,
  f16: K.matvecF16,
  q8_0: K.matvecQ8_0,
  q4_0: K.matvecQ4_0,
  q4_k: K.matvecQ4K,
};

const DEQUANT: Partial<Record<WeightDtype, KernelDescriptor>> = {
  q8_0: K.dequantQ8_0,
  q4_0: K.dequantQ4_0,
  q4_k: K.dequantQ4K,
};

/** The decode mat-vec of weights stored as `dtype`. */
export function matvecKernel(dtype: WeightDtype): KernelDescriptor {
  return MATVEC[dtype];
}

/** The dequantization to f16 of quantized weights, or null for float weights. */
export function dequantKernel(dtype: WeightDtype): KernelDescriptor | null {
  return DEQUANT[dtype] ?? null;
}

/** Whether prefill runs weights of `dtype` through the GEMM path (f16 operands). */
export function prefillGemm(dtype: WeightDtype): boolean {
  return dtype !== "f32";
}

/** The append and attention kernels over a KV cache of `kv` elements. */
export function kvKernels(kv: KvCacheType) {
  return kv === "f16"
    ? {
      append: K.kvAppendF16,
      appendDpos: K.kvAppendDposF16,
      prefill: K.attentionPrefillF16,
      decode: K.attentionDecodeF16,
    }
    : {
      append: K.kvAppend,
      appendDpos: K.kvAppendDpos,
      prefill: K.attentionPrefill,
      decode: K.attentionDecode,
    };
}

/** Bytes of one KV-cache element. */
export function kvElementBytes(kv: KvCacheType): number {
  return kv === "f16" ? 2 : 4;
}
