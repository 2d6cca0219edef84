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
 * file are converted to f32 (no kernel reads BF16), or to `dtype` when given.
 */
import type { Device, DeviceBuffer, PinnedBuffer, Stream } from "../../mod.ts";
import { configProblems, type LlamaConfig, llamaTensorLayout, type TensorLayout } from "./config.ts";
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToF16 } from "./f16.ts";
import { GgmlType, type LlamaGguf } from "./gguf.ts";
import { Rng, synthWeights } from "./synth.ts";

export type WeightDtype = "f32" | "f16";

export interface DeviceWeight {
  name: string;
  /** Row-major shape, outermost first ([out, in] for a linear weight). */
  shape: number[];
  dtype: WeightDtype;
  buffer: DeviceBuffer;
  layout: TensorLayout;
}

/** Allocates a device buffer for a tensor or an activation (experiments may add redzones here). */
export type Allocator = (bytes: number, name: string) => DeviceBuffer;

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

export interface UploadOptions {
  /** Convert the 2-D weights to this type (default: keep F32/F16 as stored, BF16 → f32). */
  dtype?: WeightDtype;
  /** Bytes of the pinned staging buffer (default 64 MiB, at most the largest tensor). */
  stagingBytes?: number;
  allocate?: Allocator;
}

/** A llama model whose tensors live in device memory. */
export class GpuModel {
  readonly device: Device;
  readonly config: LlamaConfig;
  readonly tiedOutput: boolean;
  /** Tensors by name, in llama.cpp's file order. */
  readonly weights: Map<string, DeviceWeight>;
  /** Where the weights came from ("gguf models/tiny.gguf", "synth seed 7 exact", ...). */
  readonly source: string;
  #freed = false;

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

  /** A tensor's values read back from the device as f32 (synchronous copy). */
  readF32(name: string): Float32Array {
    const w = this.weight(name);
    if (w.dtype === "f32") {
      const out = new Float32Array(w.buffer.bytes / 4);
      w.buffer.download(out);
      return out;
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
  const layout = llamaTensorLayout(config, { tiedOutput });
  let total = 0;
  for (const t of layout) {
    total += t.shape.reduce((a, b) => a * b, 1) * (t.kind === "norm" ? 4 : elemBytes(dtype));
  }
  const fill = opts.fill === undefined || opts.fill === "auto"
    ? (total <= 64 * MiB ? "exact" : "rotated")
    : opts.fill;
  const allocate = opts.allocate ?? defaultAllocator(device);
  const weights = new Map<string, DeviceWeight>();
  const stream = device.createStream();
  const stagingBytes = 16 * MiB;
  const staging = device.hostAlloc(stagingBytes, { name: "weights_staging" });
  const blocks = new Map<string, DeviceBuffer>();
  try {
    const blockElements = opts.blockElements ?? (4 << 20);
    let base: Float32Array | null = null;
    for (const t of synthWeights(config, seed, { dtype, tiedOutput })) {
      const buffer = allocate(t.nBytes, t.name);
      weights.set(t.name, { name: t.name, shape: t.shape, dtype: t.dtype, buffer, layout: t.layout });
      if (fill === "exact" || t.layout.kind === "norm") {
        let off = 0;
        for (const part of t.chunks(stagingBytes / 4)) {
          const b = bytesOf(part);
          stagedUpload(buffer, off, b, staging, stream);
          off += b.length;
        }
        continue;
      }
      // rotated: device-to-device copies of a per-(dtype, std) block, from a per-tensor offset
      const key = `${t.dtype}:${t.std}:${t.mean}`;
      let block = blocks.get(key);
      if (!block) {
        base ??= new Rng(seed, "gpu_model.block").fillNormal(new Float32Array(blockElements));
        const scaled = new Float32Array(base.length);
        for (let i = 0; i < base.length; i++) scaled[i] = base[i] * t.std + t.mean;
        const data = t.dtype === "f32" ? scaled : toF16(scaled);
        block = device.malloc(data.byteLength, { name: `synth_block.${blocks.size}` });
        stagedUpload(block, 0, bytesOf(data), staging, stream);
        blocks.set(key, block);
      }
      const eb = elemBytes(t.dtype);
      const blockBytes = block.bytes;
      let start = (hashName(t.name, seed) % blockElements) * eb;
      for (let done = 0; done < t.nBytes;) {
        const n = Math.min(blockBytes - start, t.nBytes - done);
        buffer.copyFrom(block, { srcOffset: start, dstOffset: done, bytes: n, stream });
        done += n;
        start = 0;
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
    for (const b of blocks.values()) if (!b.freed) b.free();
    if (!staging.freed) staging.free();
    if (!stream.destroyed) stream.destroy();
  }
  return new GpuModel(device, config, tiedOutput, weights, `synth seed ${seed} ${dtype} ${fill}`);
}

/** f32 -> f16 bits: the platform's Float16Array when present (same rounding, faster), else f16.ts. */
function toF16(f: Float32Array): Uint16Array {
  const F16 =
    (globalThis as { Float16Array?: new (a: Float32Array) => { buffer: ArrayBuffer } }).Float16Array;
  return F16 ? new Uint16Array(new F16(f).buffer) : f32ArrayToF16(f);
}

function hashName(name: string, seed: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return Math.imul(h ^ (h >>> 16), 2654435761) >>> 0;
}

/**
 * Uploads a GGUF model tensor by tensor: each tensor is read from disk in chunks, converted when
 * needed (norms and BF16 to f32, 2-D weights to `dtype` when given) and copied into its device buffer
 * through one pinned staging buffer.
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
      const dtype: WeightDtype = t.kind === "norm"
        ? "f32"
        : opts.dtype ?? (stored === GgmlType.F16 ? "f16" : "f32");
      const n = t.info.nElements;
      const buffer = allocate(n * elemBytes(dtype), t.name);
      weights.set(t.name, { name: t.name, shape: t.shape, dtype, buffer, layout: t });
      const inElem = stored === GgmlType.F32 ? 4 : 2;
      // read in whole elements, staging-sized after conversion
      const chunk = Math.max(inElem, Math.floor(stagingBytes / 4) * inElem);
      let off = 0;
      for await (const raw of gguf.file.readTensorChunks(t.name, chunk)) {
        const out = convert(raw, stored, dtype);
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

/** Raw little-endian tensor bytes of ggml type `stored` as `to` bytes. */
function convert(raw: Uint8Array, stored: number, to: WeightDtype): Uint8Array {
  const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  if (stored === GgmlType.F32) {
    if (to === "f32") return aligned;
    return bytesOf(f32ArrayToF16(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4)));
  }
  const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
  if (stored === GgmlType.F16) {
    if (to === "f16") return aligned;
    return bytesOf(f16ArrayToF32(bits));
  }
  // BF16
  const f = bf16ArrayToF32(bits);
  return to === "f32" ? bytesOf(f) : bytesOf(f32ArrayToF16(f));
}
