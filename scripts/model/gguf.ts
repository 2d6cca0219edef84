/**
 * GGUF reader for llama-architecture models (GGUF v2 and v3, little-endian).
 *
 * Parser choice: the header (metadata and tensor infos) is parsed by the npm package
 * `@huggingface/gguf` (`gguf(path, { allowLocalFile: true })`). It runs under Deno through the
 * `node:fs` compatibility layer, needs no network for a local path, reads the header in 2 MB ranges
 * (never the tensor data), and returns each tensor's name, ne[], type and relative offset plus the
 * absolute start of the data section (honouring general.alignment). What this module adds on top:
 * - Truncation detection. The package zero-fills reads past the end of the file instead of failing,
 *   so a truncated header parses as garbage; we compare where it stopped reading with the file size
 *   and check every tensor's data range against it.
 * - Errors that name the file and the problem (GgufError, with a code), the version and endianness
 *   checks, dimension, offset and alignment checks, and the llama-specific validation (required
 *   metadata keys and tensors, supported tensor types, shapes consistent with the config).
 * - Lazy tensor reads with Deno.open + seek/read: whole tensors, f32-converted, or in chunks.
 *
 * Shapes: GGUF stores ne[] innermost first (ne[0] is contiguous). `dims` keeps that order; `shape` is
 * ne reversed, i.e. row-major outermost first, so a linear weight is [out, in] and token_embd is
 * [vocab, dim]. See config.ts for the full layout.
 */

import { gguf as parseGgufHeader } from "@huggingface/gguf";
import { configProblems, kvDim, type LlamaConfig, llamaTensorLayout, type TensorLayout } from "./config.ts";
import { bf16ArrayToF32, f16ArrayToF32 } from "./f16.ts";
import {
  ggmlByteSize,
  GgmlType,
  ggmlTypeName,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  isSupportedType,
} from "./gguf_types.ts";

export { GgmlType, ggmlTypeName, GgufValueType } from "./gguf_types.ts";

export type GgufErrorCode =
  | "io" // cannot open or read the file
  | "bad-magic"
  | "bad-version"
  | "truncated" // header, metadata, tensor info or tensor data past the end of the file
  | "malformed" // the header does not parse
  | "bad-alignment"
  | "bad-dims" // zero, negative, overflowing, more than 4, or absurdly many elements
  | "bad-offset" // tensor offset not aligned
  | "bad-type" // tensor type faultline does not read
  | "not-llama"
  | "missing-key"
  | "bad-metadata" // a metadata value of the wrong type or an inconsistent config
  | "missing-tensor"
  | "bad-shape"; // a tensor's shape disagrees with the config

/** A problem with a GGUF file; the message starts with the file's path. */
export class GgufError extends Error {
  readonly file: string;
  readonly code: GgufErrorCode;
  /** The message without the file's path. */
  readonly problem: string;
  constructor(file: string, code: GgufErrorCode, problem: string, options?: ErrorOptions) {
    super(`${file}: ${problem}`, options);
    this.name = "GgufError";
    this.file = file;
    this.code = code;
    this.problem = problem;
  }
}

export type MetadataValue = number | bigint | string | boolean | MetadataValue[];

export interface GgufTensorInfo {
  name: string;
  /** GGUF ne[], innermost (contiguous) first. */
  dims: number[];
  /** Row-major shape, outermost first: dims reversed ([out, in] for a linear weight). */
  shape: number[];
  /** ggml type number. */
  type: number;
  /** ggml type name: F32, F16, BF16, Q4_K, ... */
  typeName: string;
  nElements: number;
  /** Byte size of the data; undefined for a type whose block size is unknown. */
  nBytes: number | undefined;
  /** Absolute offset of the data in the file. */
  offset: number;
}

const HEADER_BYTES = 24; // magic, version, tensor count (u64), metadata count (u64)
const ELEMENTS_LIMIT = 2n ** 53n;

function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  return (async () => {
    let off = 0;
    while (off < buf.length) {
      const n = await f.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return off;
  })();
}

function describeMagic(b: Uint8Array): string {
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  const txt = [...b].map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join("");
  return `"${txt}" (${hex})`;
}

/** A parsed GGUF file: header in memory, tensor data read lazily from disk. */
export class GgufFile {
  readonly path: string;
  readonly fileSize: number;
  readonly version: 2 | 3;
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  /** Byte ranges of the header's parts: metadata is [24, metadataEnd), tensor infos [metadataEnd, tensorInfoEnd). */
  readonly metadataEnd: number;
  readonly tensorInfoEnd: number;
  /** Metadata values by key, in file order (u64/i64 values are bigint, arrays are arrays). */
  readonly metadata: Record<string, MetadataValue>;
  /** GGUF value type of each metadata key (and element type of arrays). */
  readonly metadataTypes: Record<string, { type: number; itemType?: number }>;
  /** Tensor infos by name, in file order. */
  readonly tensors: Map<string, GgufTensorInfo>;

  private constructor(init: {
    path: string;
    fileSize: number;
    version: 2 | 3;
    alignment: number;
    dataOffset: number;
    metadataEnd: number;
    tensorInfoEnd: number;
    metadata: Record<string, MetadataValue>;
    metadataTypes: Record<string, { type: number; itemType?: number }>;
    tensors: Map<string, GgufTensorInfo>;
  }) {
    this.path = init.path;
    this.fileSize = init.fileSize;
    this.version = init.version;
    this.alignment = init.alignment;
    this.dataOffset = init.dataOffset;
    this.metadataEnd = init.metadataEnd;
    this.tensorInfoEnd = init.tensorInfoEnd;
    this.metadata = init.metadata;
    this.metadataTypes = init.metadataTypes;
    this.tensors = init.tensors;
  }

  /** Parse a GGUF file's header and tensor infos and check them against the file's size. */
  static async open(path: string): Promise<GgufFile> {
    const err = (code: GgufErrorCode, problem: string, cause?: unknown) =>
      new GgufError(path, code, problem, cause === undefined ? undefined : { cause });
    let fileSize: number;
    const head = new Uint8Array(HEADER_BYTES);
    let got: number;
    try {
      const st = await Deno.stat(path);
      if (!st.isFile) throw err("io", "not a regular file");
      fileSize = st.size;
      const f = await Deno.open(path, { read: true });
      try {
        got = await readFull(f, head);
      } finally {
        f.close();
      }
    } catch (e) {
      if (e instanceof GgufError) throw e;
      throw err("io", `cannot read: ${(e as Error).message}`, e);
    }
    const hv = new DataView(head.buffer);
    if (got < 4) {
      throw err(
        "truncated",
        `truncated header: the file has ${fileSize} bytes, a GGUF header needs ${HEADER_BYTES}`,
      );
    }
    if (hv.getUint32(0, true) !== GGUF_MAGIC) {
      throw err(
        "bad-magic",
        `not a GGUF file: magic is ${describeMagic(head.subarray(0, 4))}, expected "GGUF"`,
      );
    }
    if (got < 8) {
      throw err(
        "truncated",
        `truncated header: the file has ${fileSize} bytes, a GGUF header needs ${HEADER_BYTES}`,
      );
    }
    const rawVersion = hv.getUint32(4, true);
    if ((rawVersion & 0xffff) === 0 && rawVersion !== 0) {
      throw err(
        "bad-version",
        `big-endian GGUF (version ${
          hv.getUint32(4, false)
        }) is not supported; faultline reads little-endian v2 and v3`,
      );
    }
    if (rawVersion !== 2 && rawVersion !== 3) {
      throw err("bad-version", `unsupported GGUF version ${rawVersion}; faultline reads v2 and v3`);
    }
    const version = rawVersion as 2 | 3;
    if (got < HEADER_BYTES) {
      throw err(
        "truncated",
        `truncated header: the file has ${fileSize} bytes, a GGUF header needs ${HEADER_BYTES}`,
      );
    }
    const tensorCount = hv.getBigUint64(8, true);
    const kvCount = hv.getBigUint64(16, true);
    const rest = BigInt(fileSize - HEADER_BYTES);
    // Smallest possible entries: a metadata entry is 8 (key length) + 4 (type) + 1 bytes, a tensor
    // info 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
    if (kvCount * 13n + tensorCount * 24n > rest) {
      throw err(
        "truncated",
        `truncated metadata: the header declares ${kvCount} metadata entries and ${tensorCount} tensors, more than the file can hold (the file has ${fileSize} bytes)`,
      );
    }

    let parsed;
    try {
      parsed = await parseGgufHeader(path, { allowLocalFile: true, typedMetadata: true });
    } catch (e) {
      const msg = (e as Error).message;
      if (/dimension|n_dims/i.test(msg)) throw err("bad-dims", `bad tensor dimensions: ${msg}`, e);
      throw err("malformed", `malformed GGUF header: ${msg}`, e);
    }
    const [metaEnd, infoEnd] = parsed.tensorInfoByteRange;
    if (metaEnd > fileSize) {
      throw err(
        "truncated",
        `truncated metadata: the metadata runs past the end of the file (the file has ${fileSize} bytes)`,
      );
    }
    if (infoEnd > fileSize) {
      throw err(
        "truncated",
        `truncated tensor info: the tensor infos run past the end of the file (the file has ${fileSize} bytes)`,
      );
    }
    if (!parsed.littleEndian) throw err("bad-version", "big-endian GGUF is not supported");

    const metadata: Record<string, MetadataValue> = {};
    const metadataTypes: Record<string, { type: number; itemType?: number }> = {};
    const typed = parsed.typedMetadata as Record<string, { value: unknown; type: number; subType?: number }>;
    for (const [k, v] of Object.entries(typed)) {
      if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
      metadata[k] = v.value as MetadataValue;
      metadataTypes[k] = v.subType === undefined ? { type: v.type } : { type: v.type, itemType: v.subType };
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    if ("general.alignment" in metadata) {
      const a = metadata["general.alignment"];
      const n = typeof a === "bigint" ? Number(a) : a;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0 || (n & (n - 1)) !== 0) {
        throw err("bad-alignment", `general.alignment is ${String(a)}; it must be a power of two`);
      }
      alignment = n;
    }
    const dataOffset = Number(parsed.tensorDataOffset);
    if (parsed.tensorInfos.length > 0 && dataOffset > fileSize) {
      throw err(
        "truncated",
        `truncated: the tensor data starts at byte ${dataOffset}, past the end of the file (${fileSize} bytes)`,
      );
    }

    const tensors = new Map<string, GgufTensorInfo>();
    for (const ti of parsed.tensorInfos) {
      const name = ti.name;
      if (tensors.has(name)) throw err("malformed", `tensor ${name} appears twice`);
      const nd = ti.shape.length;
      if (nd < 1 || nd > 4) {
        throw err("bad-dims", `tensor ${name} has ${nd} dimensions; GGUF tensors have 1 to 4`);
      }
      let n = 1n;
      for (let i = 0; i < nd; i++) {
        const d = ti.shape[i];
        if (d >= 2n ** 63n) {
          throw err("bad-dims", `tensor ${name} has a negative dimension ne[${i}] = ${BigInt.asIntN(64, d)}`);
        }
        if (d === 0n) {
          throw err(
            "bad-dims",
            `tensor ${name} has a zero dimension ne[${i}] (ne = [${ti.shape.join(", ")}])`,
          );
        }
        n *= d;
      }
      if (n > ELEMENTS_LIMIT) {
        throw err(
          "bad-dims",
          `tensor ${name} has an absurd size: ne = [${ti.shape.join(", ")}] is ${n} elements`,
        );
      }
      const dims = ti.shape.map(Number);
      const rel = ti.offset;
      if (rel % BigInt(alignment) !== 0n) {
        throw err(
          "bad-offset",
          `tensor ${name} has offset ${rel}, not a multiple of the alignment ${alignment}`,
        );
      }
      const offset = dataOffset + Number(rel);
      const size = ggmlByteSize(ti.dtype, n);
      const nBytes = size === undefined ? undefined : Number(size);
      if (nBytes !== undefined && offset + nBytes > fileSize) {
        throw err(
          "truncated",
          `truncated tensor data: tensor ${name} needs bytes ${offset}..${
            offset + nBytes
          } but the file has ${fileSize} bytes`,
        );
      }
      tensors.set(name, {
        name,
        dims,
        shape: [...dims].reverse(),
        type: ti.dtype,
        typeName: ggmlTypeName(ti.dtype),
        nElements: Number(n),
        nBytes,
        offset,
      });
    }
    return new GgufFile({
      path,
      fileSize,
      version,
      alignment,
      dataOffset,
      metadataEnd: metaEnd,
      tensorInfoEnd: infoEnd,
      metadata,
      metadataTypes,
      tensors,
    });
  }

  /** A tensor's info; GgufError "missing-tensor" when absent. */
  tensor(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new GgufError(this.path, "missing-tensor", `no tensor named ${name}`);
    return t;
  }

  private supported(t: GgufTensorInfo): number {
    if (!isSupportedType(t.type) || t.nBytes === undefined) throw unsupportedType(this.path, t);
    return t.nBytes;
  }

  /** A tensor's raw bytes (little-endian F32, F16 or BF16 elements), read from disk now. */
  async readTensorBytes(name: string): Promise<Uint8Array> {
    const t = this.tensor(name);
    const out = new Uint8Array(this.supported(t));
    await this.readAt(t.offset, out, name);
    return out;
  }

  /** A tensor's values as f32 (F16 and BF16 converted). */
  async readTensorF32(name: string): Promise<Float32Array> {
    const t = this.tensor(name);
    const bytes = await this.readTensorBytes(name);
    if (t.type === GgmlType.F32) return new Float32Array(bytes.buffer, 0, t.nElements);
    const h = new Uint16Array(bytes.buffer, 0, t.nElements);
    return t.type === GgmlType.F16 ? f16ArrayToF32(h) : bf16ArrayToF32(h);
  }

  /**
   * A tensor's raw bytes in consecutive chunks of at most `chunkBytes` (rounded down to whole
   * elements), for streaming into device memory without holding the tensor on the host.
   */
  async *readTensorChunks(name: string, chunkBytes = 64 << 20): AsyncGenerator<Uint8Array> {
    const t = this.tensor(name);
    const total = this.supported(t);
    const elt = t.type === GgmlType.F32 ? 4 : 2;
    const step = Math.max(elt, chunkBytes - (chunkBytes % elt));
    const f = await this.openFile();
    try {
      await f.seek(t.offset, Deno.SeekMode.Start);
      for (let done = 0; done < total;) {
        const buf = new Uint8Array(Math.min(step, total - done));
        const n = await readFull(f, buf);
        if (n < buf.length) {
          throw new GgufError(
            this.path,
            "truncated",
            `truncated tensor data: tensor ${name} ends early at byte ${t.offset + done + n}`,
          );
        }
        done += n;
        yield buf;
      }
    } finally {
      f.close();
    }
  }

  private async openFile(): Promise<Deno.FsFile> {
    try {
      return await Deno.open(this.path, { read: true });
    } catch (e) {
      throw new GgufError(this.path, "io", `cannot read: ${(e as Error).message}`, { cause: e });
    }
  }

  private async readAt(offset: number, out: Uint8Array, what: string): Promise<void> {
    const f = await this.openFile();
    try {
      await f.seek(offset, Deno.SeekMode.Start);
      const n = await readFull(f, out);
      if (n < out.length) {
        throw new GgufError(
          this.path,
          "truncated",
          `truncated tensor data: tensor ${what} ends early at byte ${offset + n}`,
        );
      }
    } finally {
      f.close();
    }
  }
}

function unsupportedType(path: string, t: GgufTensorInfo): GgufError {
  return new GgufError(
    path,
    "bad-type",
    `tensor ${t.name} has type ${t.typeName} (${t.type}); faultline reads F32, F16, BF16`,
  );
}

/** A llama model in a GGUF file: the validated config and the file for lazy tensor reads. */
export interface LlamaGguf {
  file: GgufFile;
  config: LlamaConfig;
  /** True when the file has no output.weight and the output projection reuses token_embd.weight. */
  tiedOutput: boolean;
  /** Every tensor of the model in layout order, with its expected shape and its info in the file. */
  layout: (TensorLayout & { info: GgufTensorInfo })[];
}

const REQUIRED_INT_KEYS: [keyof LlamaConfig, string][] = [
  ["dim", "llama.embedding_length"],
  ["ffnDim", "llama.feed_forward_length"],
  ["nLayers", "llama.block_count"],
  ["nHeads", "llama.attention.head_count"],
  ["contextLength", "llama.context_length"],
];

function typeName(file: GgufFile, key: string): string {
  const t = file.metadataTypes[key]?.type;
  const names = Object.entries(GgufValueType).find(([, v]) => v === t);
  return names ? names[0] : `type ${t}`;
}

function metaInt(file: GgufFile, key: string, required: boolean): number | undefined {
  const v = file.metadata[key];
  if (v === undefined) {
    if (required) throw new GgufError(file.path, "missing-key", `missing required metadata key ${key}`);
    return undefined;
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
    throw new GgufError(
      file.path,
      "bad-metadata",
      `metadata ${key} is ${typeName(file, key)} ${
        JSON.stringify(String(v)).slice(0, 60)
      }; expected a positive integer`,
    );
  }
  return n;
}

function metaFloat(file: GgufFile, key: string, required: boolean): number | undefined {
  const v = file.metadata[key];
  if (v === undefined) {
    if (required) throw new GgufError(file.path, "missing-key", `missing required metadata key ${key}`);
    return undefined;
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) {
    throw new GgufError(
      file.path,
      "bad-metadata",
      `metadata ${key} is ${typeName(file, key)} ${
        JSON.stringify(String(v)).slice(0, 60)
      }; expected a positive number`,
    );
  }
  return n;
}

/** The LlamaConfig a GGUF file's metadata describes (vocabulary falls back to token_embd's shape). */
export function llamaConfigOf(file: GgufFile): LlamaConfig {
  const arch = file.metadata["general.architecture"];
  if (arch === undefined) {
    throw new GgufError(file.path, "missing-key", "missing required metadata key general.architecture");
  }
  if (arch !== "llama") {
    throw new GgufError(
      file.path,
      "not-llama",
      `architecture is ${JSON.stringify(arch)}; faultline loads llama`,
    );
  }
  const c: Partial<LlamaConfig> = {};
  for (const [k, key] of REQUIRED_INT_KEYS) c[k] = metaInt(file, key, true);
  c.nKvHeads = metaInt(file, "llama.attention.head_count_kv", false) ?? c.nHeads;
  c.normEps = metaFloat(file, "llama.attention.layer_norm_rms_epsilon", true);
  c.ropeBase = metaFloat(file, "llama.rope.freq_base", false) ?? 10000;
  c.headDim = c.dim! / c.nHeads!;
  const tokens = file.metadata["tokenizer.ggml.tokens"];
  const embd = file.tensors.get("token_embd.weight");
  if (Array.isArray(tokens)) c.vocabSize = tokens.length;
  else {c.vocabSize = metaInt(file, "llama.vocab_size", false) ??
      (embd && embd.dims.length === 2 ? embd.dims[1] : undefined);}
  if (c.vocabSize === undefined) {
    throw new GgufError(
      file.path,
      "missing-key",
      "cannot tell the vocabulary size: no tokenizer.ggml.tokens, llama.vocab_size or token_embd.weight",
    );
  }
  const cfg = c as LlamaConfig;
  const problems = configProblems(cfg);
  if (problems.length) {
    throw new GgufError(file.path, "bad-metadata", `inconsistent llama config: ${problems.join("; ")}`);
  }
  // Optional keys that, when present, must agree with the head size faultline's llama assumes.
  for (
    const key of ["llama.rope.dimension_count", "llama.attention.key_length", "llama.attention.value_length"]
  ) {
    const v = metaInt(file, key, false);
    if (v !== undefined && v !== cfg.headDim) {
      throw new GgufError(
        file.path,
        "bad-metadata",
        `metadata ${key} is ${v} but the head size (embedding_length / head_count) is ${cfg.headDim}; faultline's llama needs them equal`,
      );
    }
  }
  return cfg;
}

function fmt(a: readonly number[]) {
  return `[${a.join(", ")}]`;
}

const SHAPE_EXPLAIN: Record<string, (c: LlamaConfig) => string> = {
  token_embd: (c) => `[vocab, dim] = [${c.vocabSize}, ${c.dim}]`,
  output: (c) => `[vocab, dim] = [${c.vocabSize}, ${c.dim}]`,
  attn_q: (c) => `[heads*headDim, dim] = [${c.nHeads * c.headDim}, ${c.dim}]`,
  attn_k: (c) => `[kvHeads*headDim, dim] = [${kvDim(c)}, ${c.dim}]`,
  attn_v: (c) => `[kvHeads*headDim, dim] = [${kvDim(c)}, ${c.dim}]`,
  attn_output: (c) => `[dim, heads*headDim] = [${c.dim}, ${c.nHeads * c.headDim}]`,
  ffn_gate: (c) => `[ffn, dim] = [${c.ffnDim}, ${c.dim}]`,
  ffn_up: (c) => `[ffn, dim] = [${c.ffnDim}, ${c.dim}]`,
  ffn_down: (c) => `[dim, ffn] = [${c.dim}, ${c.ffnDim}]`,
};

/**
 * Open and validate a llama GGUF file: metadata → LlamaConfig, every required tensor present, of type
 * F32/F16/BF16, and shaped as the config says. Reads only the header; tensor data stays on disk.
 */
export async function openLlamaGguf(path: string): Promise<LlamaGguf> {
  const file = await GgufFile.open(path);
  const config = llamaConfigOf(file);
  const tiedOutput = !file.tensors.has("output.weight");
  const layout = llamaTensorLayout(config, { tiedOutput });
  const missing = layout.filter((t) => !file.tensors.has(t.name)).map((t) => t.name);
  if (missing.length) {
    const list = missing.slice(0, 8).join(", ") +
      (missing.length > 8 ? `, ... (${missing.length} in all)` : "");
    throw new GgufError(
      path,
      "missing-tensor",
      `missing required tensor${missing.length > 1 ? "s" : ""}: ${list}`,
    );
  }
  const out: LlamaGguf["layout"] = [];
  for (const t of layout) {
    const info = file.tensors.get(t.name)!;
    if (!isSupportedType(info.type)) throw unsupportedType(path, info);
    if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
      const short = t.name.replace(/^blk\.\d+\./, "").replace(/\.weight$/, "");
      const want = SHAPE_EXPLAIN[short]?.(config) ?? `[dim] = [${config.dim}]`;
      throw new GgufError(
        path,
        "bad-shape",
        `tensor ${t.name} has shape ${fmt(info.shape)} (GGUF ne ${
          fmt(info.dims)
        }); the config expects ${want}`,
      );
    }
    out.push({ ...t, info });
  }
  return { file, config, tiedOutput, layout: out };
}
