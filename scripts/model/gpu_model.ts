/**
 * A llama model in device memory: one named DeviceBuffer per tensor ("blk.3.attn_q.weight"), built
 * from a GGUF file (tensor by tensor through a pinned staging buffer) or directly on the device with
 * random weights (no file).
 *
 *   const model = gpuModel(device, presetConfig("tiny"), 7);                 // exact synthWeights values
 *   const big = gpuModel(device, PRESETS["llama2-7b"], 1, { dtype: "f16" }); // rotated block, seconds
 *   const fromFile = await uploadGguf(device, await openLlamaGguf("models/tiny.gguf"));
 *
 * Random weights come in two fills:
 * - "exact": every tensor is synthWeights(config, seed)'s, generated on the host chunk by chunk and
 *   uploaded; the same values a synthGguf file of that config and seed holds. For small models and
 *   correctness tests.
 * - "rotated": for large models (the 7B shape is 13 GB in f16; drawing that many normals on the host
 *   takes minutes). One block of normal(0, 1) values (4M elements by default) is drawn once, scaled to
 *   each tensor family's init (std 1/sqrt(fan_in) and so on, as synthWeights) and uploaded once per
 *   (dtype, std); every tensor is then filled on the device by device-to-device copies of that block,
 *   starting at a per-tensor offset and wrapping around. Weights are random-looking and have the right
 *   scale, but are not independent between tensors: fine for bandwidth benchmarks, not for numerics.
 *   Norm weights (small) are always exact.
 * "auto" (the default) picks exact up to 64 MiB of weights, rotated above.
 *
 * Norm weights are always f32 on the device (the RMSNorm kernel reads f32); BF16 tensors of a GGUF
 * file are converted to f32 (no kernel reads BF16), or to `dtype` when given. Q8_0, Q4_0 and Q4_K
 * weights stay in their ggml blocks (the quantized mat-vec kernels read them); Q6_K tensors (the
 * Q4_K_M mix holds some) and a quantized embedding table (the embedding kernels read floats) are
 * dequantized on the host to f16.
 */
import type { Device, DeviceBuffer, PinnedBuffer, Stream } from "../../mod.ts";
import { configProblems, type LlamaConfig, llamaTensorLayout, type TensorLayout } from "./config.ts";
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToF16 } from "./f16.ts";
import { GgmlType, type LlamaGguf } from "./gguf.ts";
import { ggmlBlock } from "./gguf_types.ts";
import {
  dequantize,
  isQuantType,
  QUANT_FORMATS,
  quantizeRows,
  type QuantType,
  quantTypeOfGgml,
} from "./quant.ts";
import { dtypeBytes, hashName, Rng, type SynthData } from "./rng.ts";
import { synthWeights } from "./synth.ts";

/** How a weight is stored on the device: floats, or ggml blocks (scripts/model/quant.ts). */
export type WeightDtype = "f32" | "f16" | QuantType;

/** One weight tensor in device memory. */
export interface DeviceWeight {
  /** The GGUF tensor name. */
  name: string;
  /** Row-major shape, outermost first ([out, in] for a linear weight). */
  shape: number[];
  /** Its element type on the device. */
  dtype: WeightDtype;
  /** The device buffer holding it. */
  buffer: DeviceBuffer;
  /** Its place in the model's layout. */
  layout: TensorLayout;
}

/** Allocates a device buffer for a tensor or an activation (experiments may add redzones here). */
export type Allocator = (bytes: number, name: string) => DeviceBuffer;

/** Options of gpuModel. */
export interface GpuModelOptions {
  /** Element type of the 2-D weights (norms stay f32). Default f32. */
  dtype?: WeightDtype;
  /** No output.weight: the logits projection reuses token_embd. Default false. */
  tiedOutput?: boolean;
  /** "exact" (synthWeights values), "rotated" (one block reused, fast), "auto" (default). */
  fill?: "exact" | "rotated" | "auto";
  /** Elements of the rotated block (default 4M). */
  blockElements?: number;
  /** Allocation of the weight buffers (default: device.malloc with the tensor's name). */
  allocate?: Allocator;
}

/** Options of uploadGguf. */
export interface UploadOptions {
  /** Convert the 2-D weights to f32 or f16 (default: keep F32, F16 and Q8_0/Q4_0/Q4_K as stored, BF16 → f32). */
  dtype?: "f32" | "f16";
  /** Bytes of the pinned staging buffer (default 64 MiB, at most the largest tensor). */
  stagingBytes?: number;
  /** Allocation of the weight buffers (default: device.malloc with the tensor's name). */
  allocate?: Allocator;
}

/** A llama model whose tensors live in device memory. */
export class GpuModel {
  /** The device the weights live on. */
  readonly device: Device;
  /** The model's configuration. */
  readonly config: LlamaConfig;
  /** Whether the logits projection reuses token_embd.weight (no output.weight). */
  readonly tiedOutput: boolean;
  /** Tensors by name, in llama.cpp's file order. */
  readonly weights: Map<string, DeviceWeight>;
  /** Where the weights came from ("gguf models/tiny.gguf", "synth seed 7 exact", ...). */
  readonly source: string;
  #freed = false;

  /** A model over weights already on `device` (gpuModel and uploadGguf build one). */
  constructor(
    device: Device,
    config: LlamaConfig,
    tiedOutput: boolean,
    weights: Map<string, DeviceWeight>,
    source: string,
  ) {
    this.device = device;
    this.config = config;
    this.tiedOutput = tiedOutput;
    this.weights = weights;
    this.source = source;
  }

  /** Total bytes of the weights on the device. */
  get weightBytes(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.buffer.bytes;
    return n;
  }

  /** Whether free() was called. */
  get freed(): boolean {
    return this.#freed;
  }

  /** A tensor by name; throws when the model has none. */
  weight(name: string): DeviceWeight {
    const w = this.weights.get(name);
    if (!w) throw new Error(`model has no tensor ${name}`);
    return w;
  }

  /** The weight of the logits projection: output.weight, or token_embd.weight when tied. */
  get outputWeight(): DeviceWeight {
    return this.weight(this.tiedOutput ? "token_embd.weight" : "output.weight");
  }

  /** A tensor's values read back from the device as f32, quantized blocks dequantized (synchronous copy). */
  readF32(name: string): Float32Array {
    const w = this.weight(name);
    if (w.dtype === "f32") {
      const out = new Float32Array(w.buffer.bytes / 4);
      w.buffer.download(out);
      return out;
    }
    if (isQuantType(w.dtype)) {
      const raw = new Uint8Array(w.buffer.bytes);
      w.buffer.download(raw);
      const n = w.shape.reduce((a, b) => a * b, 1);
      return Float32Array.from(dequantize(QUANT_FORMATS[w.dtype].ggml, raw, n));
    }
    const bits = new Uint16Array(w.buffer.bytes / 2);
    w.buffer.download(bits);
    return f16ArrayToF32(bits);
  }

  /** Frees every weight buffer (all are attempted; the first error is thrown after). */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    freeAll(this.weights);
  }

  /** Frees the weights (`using model = gpuModel(...)`). */
  [Symbol.dispose](): void {
    this.free();
  }
}

const MiB = 1 << 20;
const elemBytes = (d: WeightDtype) => (d === "f32" ? 4 : 2);

function defaultAllocator(device: Device): Allocator {
  return (bytes, name) => device.malloc(bytes, { name });
}

/** Copies `data` into pinned staging and uploads it into `dst` at `offset`, piece by piece. */
function stagedUpload(
  dst: DeviceBuffer,
  offset: number,
  data: Uint8Array,
  staging: PinnedBuffer,
  stream: Stream,
): void {
  const view = staging.view;
  for (let done = 0; done < data.length;) {
    const n = Math.min(staging.bytes, data.length - done);
    stream.synchronize(); // the previous piece has left the staging buffer
    view.set(data.subarray(done, done + n));
    dst.upload(staging, { offset: offset + done, bytes: n, stream });
    done += n;
  }
}

function bytesOf(a: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function freeAll(weights: Map<string, DeviceWeight>): void {
  let first: unknown = null;
  for (const w of weights.values()) {
    if (w.buffer.freed) continue;
    try {
      w.buffer.free();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== null) throw first;
}

/** Builds a model with random weights directly in device memory (see the file comment for the fills). */
export function gpuModel(
  device: Device,
  config: LlamaConfig,
  seed = 0,
  opts: GpuModelOptions = {},
): GpuModel {
  const problems = configProblems(config);
  if (problems.length) throw new RangeError(`bad llama config: ${problems.join("; ")}`);
  const dtype = opts.dtype ?? "f32";
  const tiedOutput = opts.tiedOutput ?? false;
  let total = 0;
  for (const t of llamaTensorLayout(config, { tiedOutput })) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    total += t.kind === "norm" ? n * 4 : n * (isQuantType(dtype) ? 1 : elemBytes(dtype));
  }
  const fill = opts.fill === undefined || opts.fill === "auto"
    ? (total <= 64 * MiB ? "exact" : "rotated")
    : opts.fill;
  const allocate = opts.allocate ?? defaultAllocator(device);
  const weights = new Map<string, DeviceWeight>();
  const stream = device.createStream();
  const staging = device.hostAlloc(16 * MiB, { name: "weights_staging" });
  const rotated = new RotatedBlocks(device, seed, opts.blockElements ?? (4 << 20), staging, stream);
  try {
    for (const t of synthWeights(config, seed, { dtype, tiedOutput })) {
      // the embedding kernels read floats: a quantized table is dequantized to f16, as uploadGguf does
      const onDevice = t.layout.kind === "embedding" && isQuantType(t.dtype) ? "f16" : t.dtype;
      const rowLen = t.shape[t.shape.length - 1];
      const nBytes = dtypeBytes(onDevice, t.nElements, rowLen);
      const buffer = allocate(nBytes, t.name);
      weights.set(t.name, { name: t.name, shape: t.shape, dtype: onDevice, buffer, layout: t.layout });
      if (fill === "exact" || t.layout.kind === "norm") {
        let off = 0;
        for (const part of t.chunks(staging.bytes / 4)) {
          const b = onDevice === t.dtype
            ? bytesOf(part)
            : convert(bytesOf(part), QUANT_FORMATS[t.dtype as QuantType].ggml, "f16");
          stagedUpload(buffer, off, b, staging, stream);
          off += b.length;
        }
      } else {
        rotated.fill(buffer, { ...t, dtype: onDevice, nBytes });
      }
    }
    stream.synchronize();
  } catch (e) {
    try {
      stream.synchronize();
    } catch { /* the original error matters */ }
    freeAll(weights);
    throw e;
  } finally {
    rotated.free();
    if (!staging.freed) staging.free();
    if (!stream.destroyed) stream.destroy();
  }
  return new GpuModel(device, config, tiedOutput, weights, `synth seed ${seed} ${dtype} ${fill}`);
}

/**
 * The "rotated" fill: one block of normal(0, 1) values, scaled per (dtype, std, mean), encoded (f16,
 * or ggml blocks over rows of 256) and uploaded once; each tensor is then device-to-device copies of
 * it from a per-tensor offset (whole 256-weight groups when quantized), wrapping around.
 */
class RotatedBlocks {
  #blocks = new Map<string, DeviceBuffer>();
  #base: Float32Array | null = null;
  constructor(
    readonly device: Device,
    readonly seed: number,
    readonly elements: number,
    readonly staging: PinnedBuffer,
    readonly stream: Stream,
  ) {}

  fill(
    buffer: DeviceBuffer,
    t: { name: string; dtype: WeightDtype; std: number; mean: number; nBytes: number },
  ) {
    const block = this.#block(t.dtype, t.std, t.mean);
    const unit = isQuantType(t.dtype) ? 256 : 1;
    const unitBytes = dtypeBytes(t.dtype, unit, unit);
    let start = (hashName(t.name, this.seed) % (this.elements / unit)) * unitBytes;
    for (let done = 0; done < t.nBytes;) {
      const n = Math.min(block.bytes - start, t.nBytes - done);
      buffer.copyFrom(block, { srcOffset: start, dstOffset: done, bytes: n, stream: this.stream });
      done += n;
      start = 0;
    }
  }

  #block(dtype: WeightDtype, std: number, mean: number): DeviceBuffer {
    const key = `${dtype}:${std}:${mean}`;
    let block = this.#blocks.get(key);
    if (block) return block;
    this.#base ??= new Rng(this.seed, "gpu_model.block").fillNormal(new Float32Array(this.elements));
    const scaled = new Float32Array(this.#base.length);
    for (let i = 0; i < scaled.length; i++) scaled[i] = this.#base[i] * std + mean;
    const data: SynthData = dtype === "f32"
      ? scaled
      : dtype === "f16"
      ? f32ArrayToF16(scaled)
      : quantizeRows(dtype, scaled, 256);
    block = this.device.malloc(data.byteLength, { name: `synth_block.${this.#blocks.size}` });
    stagedUpload(block, 0, bytesOf(data), this.staging, this.stream);
    this.#blocks.set(key, block);
    return block;
  }

  free(): void {
    for (const b of this.#blocks.values()) if (!b.freed) b.free();
  }
}

/**
 * Uploads a GGUF model tensor by tensor: each tensor is read from disk in chunks, converted when
 * needed (norms and BF16 to f32, Q6_K and a quantized embedding table to f16, 2-D weights to `dtype`
 * when given) and copied into its device buffer through one pinned staging buffer.
 */
export async function uploadGguf(
  device: Device,
  gguf: LlamaGguf,
  opts: UploadOptions = {},
): Promise<GpuModel> {
  const allocate = opts.allocate ?? defaultAllocator(device);
  let largest = 0;
  for (const t of gguf.layout) largest = Math.max(largest, t.info.nElements * 4);
  const stagingBytes = Math.min(opts.stagingBytes ?? 64 * MiB, largest);
  const staging = device.hostAlloc(stagingBytes, { name: "weights_staging" });
  const stream = device.createStream();
  const weights = new Map<string, DeviceWeight>();
  try {
    for (const t of gguf.layout) {
      const stored = t.info.type;
      const dtype = deviceDtype(t.kind, stored, opts.dtype);
      const buffer = allocate(dtypeBytes(dtype, t.info.nElements, t.shape[t.shape.length - 1]), t.name);
      weights.set(t.name, { name: t.name, shape: t.shape, dtype, buffer, layout: t });
      const raw = quantTypeOfGgml(stored) === dtype || (stored === GgmlType.F32 && dtype === "f32") ||
        (stored === GgmlType.F16 && dtype === "f16");
      // converted chunks may grow up to 8 times (4.5-bit blocks to f32): read an eighth of the staging
      const chunk = raw ? stagingBytes : Math.max(1, Math.floor(stagingBytes / 8));
      let off = 0;
      for await (const bytes of gguf.file.readTensorChunks(t.name, chunk)) {
        const out = raw ? bytes : convert(bytes, stored, dtype as "f32" | "f16");
        stagedUpload(buffer, off, out, staging, stream);
        off += out.length;
      }
    }
    stream.synchronize();
  } catch (e) {
    try {
      stream.synchronize();
    } catch { /* the original error matters */ }
    freeAll(weights);
    throw e;
  } finally {
    if (!staging.freed) staging.free();
    if (!stream.destroyed) stream.destroy();
  }
  return new GpuModel(device, gguf.config, gguf.tiedOutput, weights, `gguf ${gguf.file.path}`);
}

/** How a tensor of ggml type `stored` lives on the device (see the file comment). */
export function deviceDtype(
  kind: TensorLayout["kind"],
  stored: number,
  asked: "f32" | "f16" | undefined,
): WeightDtype {
  if (kind === "norm") return "f32";
  if (asked) return asked;
  const q = quantTypeOfGgml(stored);
  if (q) return kind === "embedding" ? "f16" : q;
  return stored === GgmlType.F16 || stored === GgmlType.Q6_K ? "f16" : "f32";
}

/** Raw little-endian tensor bytes of ggml type `stored` (floats or whole blocks) as `to` bytes. */
function convert(raw: Uint8Array, stored: number, to: "f32" | "f16"): Uint8Array {
  const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  if (stored === GgmlType.F32) {
    if (to === "f32") return aligned;
    return bytesOf(f32ArrayToF16(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4)));
  }
  const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length >> 1);
  if (stored === GgmlType.F16) {
    if (to === "f16") return aligned;
    return bytesOf(f16ArrayToF32(bits));
  }
  let f: Float32Array;
  if (stored === GgmlType.BF16) f = bf16ArrayToF32(bits);
  else {
    const block = ggmlBlock(stored)!;
    f = Float32Array.from(dequantize(stored, raw, (raw.length / block.bytes) * block.elements));
  }
  return to === "f32" ? bytesOf(f) : bytesOf(f32ArrayToF16(f));
}
