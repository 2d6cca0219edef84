/**
 * What the synthetic weights are drawn and stored with, shared by synth.ts, synth_rotated.ts and
 * gpu_model.ts: the seeded PRNG, and the bytes of a tensor of each storage type.
 */
import { quantRowBytes, type QuantType } from "./quant.ts";

/** A synthetic tensor's data: Float32Array (f32), Uint16Array of f16 bits (f16), ggml blocks (quantized). */
export type SynthData = Float32Array | Uint16Array | Uint8Array;

/** A seeded PRNG (sfc32) with a normal sampler (Box-Muller). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = NaN;

  constructor(seed: number, stream = "") {
    // Mix seed and stream name into 128 bits of state (cyrb128-style).
    let h1 = 1779033703 ^ seed,
      h2 = 3144134277 ^ Math.floor(seed / 2 ** 32),
      h3 = 1013904242,
      h4 = 2773480762;
    const s = `${stream}#${seed}`;
    for (let i = 0; i < s.length; i++) {
      const k = s.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    this.a = (h1 ^ h2 ^ h3 ^ h4) >>> 0;
    this.b = (h2 ^ h1) >>> 0;
    this.c = (h3 ^ h1) >>> 0;
    this.d = (h4 ^ h1) >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in (0, 1]. */
  uniform(): number {
    return (this.u32() + 1) / 4294967296;
  }

  /** Fill `out` with normal(mean, std) samples (Marsaglia's polar method). */
  fillNormal(out: Float32Array, std = 1, mean = 0): Float32Array {
    let i = 0;
    if (!Number.isNaN(this.spare) && out.length > 0) {
      out[i++] = this.spare * std + mean;
      this.spare = NaN;
    }
    while (i < out.length) {
      let u, v, s;
      do {
        u = this.u32() / 2147483648 - 1;
        v = this.u32() / 2147483648 - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const k = Math.sqrt((-2 * Math.log(s)) / s);
      out[i++] = u * k * std + mean;
      if (i < out.length) out[i++] = v * k * std + mean;
      else this.spare = v * k;
    }
    return out;
  }
}

/** Bytes of `n` elements (rows of `rowLen`) stored as `dtype`. */
export function dtypeBytes(dtype: "f32" | "f16" | QuantType, n: number, rowLen: number): number {
  if (dtype === "f32") return n * 4;
  if (dtype === "f16") return n * 2;
  return (n / rowLen) * quantRowBytes(dtype, rowLen);
}

/** A tensor's offset into a rotated block: a hash of its name and the seed (FNV-1a, then mixed). */
export function hashName(name: string, seed: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return Math.imul(h ^ (h >>> 16), 2654435761) >>> 0;
}
