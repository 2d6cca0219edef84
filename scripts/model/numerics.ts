/**
 * Where the engine computes below f32 (scripts/scheduler/kernel_choice.ts picks the kernels), so
 * that the float64 reference (reference_forward.ts) can round at the same places.
 */

/** KV-cache element type. */
export type KvCacheType = "f16" | "f32";

/** Where the engine computes below f32, so that the reference rounds at the same places. */
export interface EngineNumerics {
  /** KV-cache elements: f16 rounds every appended K and V value to nearest even. */
  kv: KvCacheType;
  /** Prefill projections over non-f32 weights round their input and weights to f16 (the GEMM path). */
  prefillF16: boolean;
}

/** The engine's defaults. */
export const DEFAULT_NUMERICS: Readonly<EngineNumerics> = { kv: "f16", prefillF16: true };
