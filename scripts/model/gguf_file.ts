/**
 * A GGUF file: its header (gguf_read.ts) in memory, tensor data read lazily, from disk or from bytes.
 *
 * Shapes: GGUF stores ne[] innermost first (ne[0] is contiguous). `dims` keeps that order; `shape` is
 * ne reversed, i.e. row-major outermost first, so a linear weight is [out, in] and token_embd is
 * [vocab, dim]. See config.ts for the full layout.
 */

import { bf16ArrayToF32, f16ArrayToF32 } from "./f16.ts";
import { GgufError } from "./gguf_error.ts";
import {
  bytesSource,
  fileSource,
  type GgufHeader,
  type GgufTensorInfo,
  type MetadataType,
  type MetadataValue,
  readGgufHeader,
} from "./gguf_read.ts";
import { ggmlBlock, GgmlType, isSupportedType, supportedTypeNames } from "./gguf_types.ts";
import { dequantize } from "./quant.ts";

/** A parsed GGUF file: header in memory, tensor data read lazily. */
export class GgufFile {
  /** The file's path (or the name it was given when parsed from bytes). */
  readonly path: string;
  /** The file's size in bytes. */
  readonly fileSize: number;
  /** The GGUF version. */
  readonly version: 2 | 3;
  /** The alignment of tensor data (general.alignment, 32 when absent). */
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  /** Byte ranges of the header's parts: metadata is [24, metadataEnd), tensor infos [metadataEnd, tensorInfoEnd). */
  readonly metadataEnd: number;
  /** End of the tensor infos (see metadataEnd). */
  readonly tensorInfoEnd: number;
  /** Metadata values by key (u64/i64 values are bigint, arrays are arrays). */
  readonly metadata: Record<string, MetadataValue>;
  /** The keys in file order. */
  readonly metadataKeys: string[];
  /** GGUF value type of each metadata key (and element type of arrays). */
  readonly metadataTypes: Record<string, MetadataType>;
  /** Tensor infos by name, in file order. */
  readonly tensors: Map<string, GgufTensorInfo>;
  /** The whole file, when it was parsed from bytes rather than opened from disk. */
  readonly #bytes: Uint8Array | null;

  private constructor(path: string, fileSize: number, h: GgufHeader, bytes: Uint8Array | null) {
    this.path = path;
    this.fileSize = fileSize;
    this.version = h.version;
    this.alignment = h.alignment;
    this.dataOffset = h.dataOffset;
    this.metadataEnd = h.metadataEnd;
    this.tensorInfoEnd = h.tensorInfoEnd;
    this.metadata = h.metadata;
    this.metadataKeys = h.metadataKeys;
    this.metadataTypes = h.metadataTypes;
    this.tensors = h.tensors;
    this.#bytes = bytes;
  }

  /** Parses a GGUF file's header and tensor infos and checks them against the file's size. */
  static async open(path: string): Promise<GgufFile> {
    const io = (e: unknown) =>
      new GgufError(path, "io", `cannot read: ${(e as Error).message}`, { cause: e });
    // Only a regular file: opening a FIFO or a device to read it could block or never end.
    const st = await Deno.stat(path).catch((e) => Promise.reject(io(e)));
    if (!st.isFile) throw new GgufError(path, "io", "not a regular file");
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { read: true });
    } catch (e) {
      throw io(e);
    }
    try {
      const size = (await f.stat()).size;
      return new GgufFile(path, size, readGgufHeader(fileSource(f, size), path), null);
    } catch (e) {
      if (e instanceof GgufError) throw e;
      throw io(e);
    } finally {
      f.close();
    }
  }

  /** Parses a GGUF file held in memory; `name` stands for its path in messages. */
  static fromBytes(bytes: Uint8Array, name = "<bytes>", windowBytes?: number): GgufFile {
    return new GgufFile(name, bytes.length, readGgufHeader(bytesSource(bytes), name, windowBytes), bytes);
  }

  /** A tensor's info; GgufError "missing-tensor" when absent. */
  tensor(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new GgufError(this.path, "missing-tensor", `no tensor named ${name}`);
    return t;
  }

  #supported(t: GgufTensorInfo): number {
    if (!isSupportedType(t.type)) throw unsupportedType(this.path, t);
    return t.nBytes;
  }

  /** A tensor's raw bytes (little-endian elements, or ggml blocks of a quantized type), read now. */
  async readTensorBytes(name: string): Promise<Uint8Array> {
    const t = this.tensor(name);
    const out = new Uint8Array(this.#supported(t));
    await this.#readAt(t.offset, out, name);
    return out;
  }

  /** A tensor's values as f32 (F16 and BF16 converted, quantized blocks dequantized). */
  async readTensorF32(name: string): Promise<Float32Array> {
    const t = this.tensor(name);
    const bytes = await this.readTensorBytes(name);
    if (t.type === GgmlType.F32) return new Float32Array(bytes.buffer, 0, t.nElements);
    if (t.type !== GgmlType.F16 && t.type !== GgmlType.BF16) {
      return Float32Array.from(dequantize(t.type, bytes, t.nElements));
    }
    const h = new Uint16Array(bytes.buffer, 0, t.nElements);
    return t.type === GgmlType.F16 ? f16ArrayToF32(h) : bf16ArrayToF32(h);
  }

  /**
   * A tensor's raw bytes in consecutive chunks of at most `chunkBytes` (rounded down to whole
   * elements, or whole blocks of a quantized type), for streaming into device memory without holding
   * the tensor on the host.
   */
  async *readTensorChunks(name: string, chunkBytes = 64 << 20): AsyncGenerator<Uint8Array> {
    const t = this.tensor(name);
    const total = this.#supported(t);
    const elt = ggmlBlock(t.type)!.bytes;
    const step = Math.max(elt, chunkBytes - (chunkBytes % elt));
    for (let done = 0; done < total;) {
      const buf = new Uint8Array(Math.min(step, total - done));
      await this.#readAt(t.offset + done, buf, name);
      done += buf.length;
      yield buf;
    }
  }

  /** Fills `out` from `offset`; a file that got shorter since it was opened is a "truncated" error. */
  async #readAt(offset: number, out: Uint8Array, tensor: string): Promise<void> {
    const short = (got: number) =>
      new GgufError(
        this.path,
        "truncated",
        `truncated tensor data: tensor ${tensor} ends early at byte ${offset + got}`,
      );
    if (this.#bytes) {
      const part = this.#bytes.subarray(offset, offset + out.length);
      out.set(part);
      if (part.length < out.length) throw short(part.length);
      return;
    }
    let f: Deno.FsFile;
    try {
      f = await Deno.open(this.path, { read: true });
    } catch (e) {
      throw new GgufError(this.path, "io", `cannot read: ${(e as Error).message}`, { cause: e });
    }
    try {
      await f.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < out.length) {
        const n = await f.read(out.subarray(got));
        if (n === null) break;
        got += n;
      }
      if (got < out.length) throw short(got);
    } finally {
      f.close();
    }
  }
}

export function unsupportedType(path: string, t: GgufTensorInfo): GgufError {
  return new GgufError(
    path,
    "bad-type",
    `tensor ${t.name} has type ${t.typeName} (${t.type}); faultline reads ${supportedTypeNames()}`,
  );
}
