/**
 * The "rotated" fill of synthetic GGUF files, for benchmark-sized models (drawing 7 billion normals on
 * the host takes minutes; writing a 13 GB file takes seconds): one block of normal(0, 1) values is
 * drawn once, scaled to each tensor family's init (std and mean, as synthWeights) and encoded once per
 * (type, std, mean) (f16, or ggml blocks); each tensor's data is that encoded block from a per-tensor
 * offset (whole quantization blocks), wrapping around. The weights have the right scale and are valid
 * blocks, but tensors are not independent of each other: for speed measurements, not numerics. Norm
 * weights stay exact (synth.ts writes them as they are).
 */
import { isQuantType, QUANT_FORMATS, quantizeRows, type QuantType } from "./quant.ts";
import { dtypeBytes, hashName, Rng, type SynthData } from "./rng.ts";
import { f32ArrayToF16 } from "./f16.ts";

/** What the fill needs of a tensor (synth.ts's SynthTensor has it). */
export interface RotatedTensor {
  name: string;
  dtype: "f32" | "f16" | QuantType;
  std: number;
  mean: number;
  nBytes: number;
}

export class RotatedFill {
  readonly #seed: number;
  readonly #elements: number;
  #base: Float32Array | null = null;
  readonly #encoded = new Map<string, Uint8Array>();

  /** `elements`: the block's size (a multiple of 256). */
  constructor(seed: number, elements = 4 << 20) {
    this.#seed = seed;
    this.#elements = elements;
  }

  /** The tensor's bytes, in chunks of at most about `chunkBytes`. */
  *chunks(t: RotatedTensor, chunkBytes = 16 << 20): Generator<Uint8Array> {
    const block = this.#block(t);
    const unit = isQuantType(t.dtype) ? QUANT_FORMATS[t.dtype].block : 1;
    const unitBytes = dtypeBytes(t.dtype, unit, unit);
    let start = (hashName(t.name, this.#seed) % (this.#elements / unit)) * unitBytes;
    for (let done = 0; done < t.nBytes;) {
      const n = Math.min(block.length - start, t.nBytes - done, Math.max(unitBytes, chunkBytes));
      yield block.subarray(start, start + n);
      done += n;
      start = (start + n) % block.length;
    }
  }

  #block(t: RotatedTensor): Uint8Array {
    const key = `${t.dtype}:${t.std}:${t.mean}`;
    const cached = this.#encoded.get(key);
    if (cached) return cached;
    this.#base ??= new Rng(this.#seed, "synth.rotated").fillNormal(new Float32Array(this.#elements));
    const scaled = new Float32Array(this.#elements);
    for (let i = 0; i < scaled.length; i++) scaled[i] = this.#base[i] * t.std + t.mean;
    const data: SynthData = t.dtype === "f32"
      ? scaled
      : t.dtype === "f16"
      ? f32ArrayToF16(scaled)
      : quantizeRows(t.dtype, scaled, QUANT_FORMATS[t.dtype].block);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#encoded.set(key, bytes);
    return bytes;
  }
}
