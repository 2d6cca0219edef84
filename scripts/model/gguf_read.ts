/**
 * Strict GGUF header reader (v2 and v3, little-endian): metadata and tensor infos, from a file or bytes.
 *
 * Why faultline reads GGUF itself rather than through npm:@huggingface/gguf: that package zero-fills
 * reads past the end of the file (a truncated header parses as plausible garbage), computes alignment
 * and offsets with 32-bit bit operations (an alignment of 2^31 or more decodes silently wrong),
 * allocates whatever a count says before checking it against the file (a few bytes can ask for
 * gigabytes; a 48 MB header took 44 s), keeps either copy of a duplicated key, and pulls in about
 * 5.6 MB of @huggingface/tasks. faultline reads models on the worst day, often broken ones, and the
 * format is small, so this reader:
 * - does exact integer arithmetic: u64 fields stay bigint until the file's size bounds them;
 * - checks every count and length against the bytes left in the file before it allocates or loops;
 * - never reads past the end: a short read is a "truncated" error naming where and what;
 * - refuses duplicate keys and tensor names, unknown value and tensor types, nested arrays, bools
 *   other than 0 and 1, invalid UTF-8, partial quantization blocks, unaligned and overlapping tensor
 *   data, each with a message that names the key or tensor.
 * Values keep exactly what the file says: a key "__proto__" is an ordinary key, a leading byte order
 * mark stays in its string. The writer is gguf_write.ts; what a llama model needs is in gguf.ts.
 */

import { GgufError, type GgufErrorCode } from "./gguf_error.ts";
import {
  ggmlBlock,
  ggmlByteSize,
  ggmlTypeName,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  ggufValueSize,
  GgufValueType,
  ggufValueTypeName,
} from "./gguf_types.ts";

/** A GGUF metadata value (u64/i64 as bigint, arrays as arrays). */
export type MetadataValue = number | bigint | string | boolean | MetadataValue[];
/** A metadata key's GGUF value type. */
export interface MetadataType {
  /** The GGUF value type number. */
  type: number;
  /** Element type of an ARRAY value. */
  itemType?: number;
}

/** One tensor's entry in a GGUF header. */
export interface GgufTensorInfo {
  /** The tensor's name. */
  name: string;
  /** GGUF ne[], innermost (contiguous) first. */
  dims: number[];
  /** Row-major shape, outermost first: dims reversed ([out, in] for a linear weight). */
  shape: number[];
  /** ggml type number. */
  type: number;
  /** ggml type name: F32, F16, BF16, Q4_K, ... */
  typeName: string;
  /** Elements in the tensor. */
  nElements: number;
  /** Byte size of the data. */
  nBytes: number;
  /** Absolute offset of the data in the file. */
  offset: number;
}

export interface GgufHeader {
  version: 2 | 3;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  /** Metadata is [24, metadataEnd), tensor infos [metadataEnd, tensorInfoEnd). */
  metadataEnd: number;
  tensorInfoEnd: number;
  /** Metadata values by key (u64/i64 values are bigint); an object with no prototype. */
  metadata: Record<string, MetadataValue>;
  /** The keys in file order (an object lists keys like "7" first, whatever their place). */
  metadataKeys: string[];
  metadataTypes: Record<string, MetadataType>;
  /** Tensor infos by name, in file order. */
  tensors: Map<string, GgufTensorInfo>;
}

/** Random access to the bytes of a file: `read` returns up to `length` bytes at `offset` (fewer only at the end). */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (o, n) => bytes.subarray(o, Math.min(bytes.length, o + n)) };
}

/** A source over an open file of `size` bytes (its size when it was opened: a file that shrinks reads short). */
export function fileSource(file: Deno.FsFile, size: number): ByteSource {
  return {
    size,
    read(offset, length) {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < buf.length) {
        const n = file.readSync(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buf.subarray(0, got);
    },
  };
}

const HEADER_BYTES = 24; // magic, version, tensor count (u64), metadata count (u64)
/** Smallest metadata entry: key length (8), a 1-byte key, value type (4), a 1-byte value. */
const MIN_ENTRY_BYTES = 14n;
/** Smallest tensor info: name length (8), a 1-byte name, n_dims (4), one dim (8), type (4), offset (8). */
const MIN_TENSOR_BYTES = 33n;
const MAX_NAME_BYTES = 64;
const MAX_DIMS = 4;
const MAX_ALIGNMENT = 2n ** 31n;
const ELEMENTS_LIMIT = 2n ** 53n;
/** How much of the file one read brings in (tests make it tiny so every field crosses a window edge). */
export const WINDOW_BYTES = 1 << 20;
const INTEGER_TYPES: ReadonlySet<number> = new Set([0, 1, 2, 3, 4, 5, 10, 11]);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

type Fail = (code: GgufErrorCode, problem: string) => GgufError;

/** What is being read, for messages; a function when building the text for every element would cost. */
type Label = string | (() => string);
const label = (l: Label) => typeof l === "string" ? l : l();

/** Strings up to this long are built directly when they are ASCII (a vocabulary is millions of them). */
const SHORT_STRING = 64;

/** The bytes as a string when they are all ASCII (faster than a decoder call for short strings), else null. */
function asciiString(b: Uint8Array): string | null {
  let s = "";
  for (let k = 0; k < b.length; k++) {
    if (b[k] >= 0x80) return null;
    s += String.fromCharCode(b[k]);
  }
  return s;
}

/** Reads forward through a source in windows; every read is checked against the end of the file. */
class Cursor {
  pos = 0;
  /** Which part of the header is being read, for truncation messages ("metadata", "tensor info"). */
  region = "header";
  #win: Uint8Array = new Uint8Array(0);
  #winAt = 0;
  #view: DataView = new DataView(new ArrayBuffer(0));

  constructor(readonly src: ByteSource, readonly fail: Fail, readonly windowBytes: number) {}

  get left(): number {
    return this.src.size - this.pos;
  }

  truncated(what: Label): GgufError {
    return this.fail(
      "truncated",
      `truncated ${this.region}: ${
        label(what)
      } at byte ${this.pos} runs past the end of the file (the file has ${this.src.size} bytes)`,
    );
  }

  /** Makes [pos, pos + n) readable and advances past it; returns its offset in the window. */
  #need(n: number, what: Label): number {
    if (n > this.left) throw this.truncated(what);
    if (this.pos < this.#winAt || this.pos + n > this.#winAt + this.#win.length) {
      const win = this.src.read(this.pos, Math.max(n, this.windowBytes));
      if (win.length < n) throw this.truncated(what); // the file shrank under us
      this.#win = win;
      this.#winAt = this.pos;
      this.#view = new DataView(win.buffer, win.byteOffset, win.byteLength);
    }
    const at = this.pos - this.#winAt;
    this.pos += n;
    return at;
  }

  bytes(n: number, what: Label): Uint8Array {
    const at = this.#need(n, what);
    return this.#win.subarray(at, at + n);
  }

  /** `n` bytes as a DataView (for decoding a run of fixed-size values). */
  view(n: number, what: Label): DataView {
    const at = this.#need(n, what);
    return new DataView(this.#view.buffer, this.#view.byteOffset + at, n);
  }

  // #need may move the window, so it runs before #view is read.
  u32(what: Label): number {
    const at = this.#need(4, what);
    return this.#view.getUint32(at, true);
  }

  u64(what: Label): bigint {
    const at = this.#need(8, what);
    return this.#view.getBigUint64(at, true);
  }

  /** A GGUF string: u64 byte length, then UTF-8. */
  str(what: Label): string {
    // The length as two u32 halves: no bigint for each of the millions of short strings of a vocabulary.
    const at = this.#need(8, what);
    const lo = this.#view.getUint32(at, true), hi = this.#view.getUint32(at + 4, true);
    const len = hi * 2 ** 32 + lo;
    if (hi !== 0 || len > this.left) {
      throw this.truncated(() => `${label(what)}: a string of ${(BigInt(hi) << 32n) | BigInt(lo)} bytes`);
    }
    const start = this.pos;
    const raw = this.bytes(len, what);
    if (raw.length <= SHORT_STRING) {
      const ascii = asciiString(raw);
      if (ascii !== null) return ascii;
    }
    try {
      return utf8.decode(raw);
    } catch {
      throw this.fail("malformed", `${label(what)} (a string at byte ${start}) is not valid UTF-8`);
    }
  }
}

/** One fixed-size value at `at` in `v`. */
function fixedValue(
  v: DataView,
  at: number,
  type: number,
  what: Label,
  fail: Fail,
): number | bigint | boolean {
  switch (type) {
    case GgufValueType.UINT8:
      return v.getUint8(at);
    case GgufValueType.INT8:
      return v.getInt8(at);
    case GgufValueType.UINT16:
      return v.getUint16(at, true);
    case GgufValueType.INT16:
      return v.getInt16(at, true);
    case GgufValueType.UINT32:
      return v.getUint32(at, true);
    case GgufValueType.INT32:
      return v.getInt32(at, true);
    case GgufValueType.FLOAT32:
      return v.getFloat32(at, true);
    case GgufValueType.FLOAT64:
      return v.getFloat64(at, true);
    case GgufValueType.UINT64:
      return v.getBigUint64(at, true);
    case GgufValueType.INT64:
      return v.getBigInt64(at, true);
    case GgufValueType.BOOL: {
      const b = v.getUint8(at);
      if (b > 1) throw fail("malformed", `${label(what)}: BOOL value ${b} is neither 0 nor 1`);
      return b === 1;
    }
  }
  throw fail("malformed", `${label(what)} has unknown value type ${type}`);
}

function readArray(c: Cursor, what: string): { value: MetadataValue[]; itemType: number } {
  const itemType = c.u32(`${what}: element type`);
  if (itemType === GgufValueType.ARRAY) {
    throw c.fail("malformed", `${what}: arrays of arrays are not supported`);
  }
  const size = itemType === GgufValueType.STRING ? 8 : ggufValueSize(itemType);
  if (size === undefined) throw c.fail("malformed", `${what} has unknown element type ${itemType}`);
  const count = c.u64(`${what}: element count`);
  if (count * BigInt(size) > BigInt(c.left)) {
    throw c.fail(
      "truncated",
      `truncated ${c.region}: ${what} declares ${count} ${ggufValueTypeName(itemType)} elements, ` +
        `more than the ${c.left} bytes left in the file (the file has ${c.src.size} bytes)`,
    );
  }
  const n = Number(count);
  const value: MetadataValue[] = new Array(n);
  if (itemType === GgufValueType.STRING) {
    for (let k = 0; k < n; k++) value[k] = c.str(() => `${what}[${k}]`);
  } else {
    const v = c.view(n * size, `${what}: ${n} elements`);
    for (let k = 0; k < n; k++) value[k] = fixedValue(v, k * size, itemType, () => `${what}[${k}]`, c.fail);
  }
  return { value, itemType };
}

function readValue(c: Cursor, type: number, what: string): { value: MetadataValue; itemType?: number } {
  if (type === GgufValueType.STRING) return { value: c.str(what) };
  if (type === GgufValueType.ARRAY) return readArray(c, what);
  const size = ggufValueSize(type);
  if (size === undefined) throw c.fail("malformed", `${what} has unknown value type ${type}`);
  return { value: fixedValue(c.view(size, what), 0, type, what, c.fail) };
}

function readMetadata(
  c: Cursor,
  count: bigint,
): Pick<GgufHeader, "metadata" | "metadataKeys" | "metadataTypes"> {
  const metadata: Record<string, MetadataValue> = Object.create(null);
  const metadataKeys: string[] = [];
  const metadataTypes: Record<string, MetadataType> = Object.create(null);
  c.region = "metadata";
  for (let i = 0n; i < count; i++) {
    const key = c.str(`the key of metadata entry ${i}`);
    if (key === "") throw c.fail("malformed", `metadata entry ${i} has an empty key`);
    if (Object.hasOwn(metadata, key)) throw c.fail("duplicate", `metadata key ${key} appears twice`);
    const type = c.u32(`metadata ${key}: value type`);
    const { value, itemType } = readValue(c, type, `metadata ${key}`);
    metadata[key] = value;
    metadataKeys.push(key);
    metadataTypes[key] = itemType === undefined ? { type } : { type, itemType };
  }
  return { metadata, metadataKeys, metadataTypes };
}

/** general.alignment: an integer power of two from 1 to 2^31 (GGUF stores it as uint32); 32 when absent. */
function alignmentOf(h: Pick<GgufHeader, "metadata" | "metadataTypes">, fail: Fail): number {
  if (!Object.hasOwn(h.metadata, "general.alignment")) return GGUF_DEFAULT_ALIGNMENT;
  const v = h.metadata["general.alignment"];
  const type = h.metadataTypes["general.alignment"].type;
  const rule = "it must be a power of two from 1 to 2^31";
  if (!INTEGER_TYPES.has(type) || (typeof v !== "number" && typeof v !== "bigint")) {
    throw fail(
      "bad-alignment",
      `general.alignment is ${ggufValueTypeName(type)} ${JSON.stringify(String(v))}; ${rule}`,
    );
  }
  const a = BigInt(v);
  if (a < 1n || a > MAX_ALIGNMENT || (a & (a - 1n)) !== 0n) {
    throw fail("bad-alignment", `general.alignment is ${a}; ${rule}`);
  }
  return Number(a);
}

interface RawTensor {
  name: string;
  dims: bigint[];
  type: number;
  elements: bigint;
  rel: bigint;
}

function readDims(c: Cursor, name: string): { dims: bigint[]; elements: bigint } {
  const nd = c.u32(`tensor ${name}: n_dims`);
  if (nd < 1 || nd > MAX_DIMS) {
    throw c.fail("bad-dims", `tensor ${name} has ${nd} dimensions; GGUF tensors have 1 to ${MAX_DIMS}`);
  }
  const dims: bigint[] = [];
  let elements = 1n;
  for (let k = 0; k < nd; k++) {
    const d = c.u64(`tensor ${name}: ne[${k}]`);
    if (d >= 2n ** 63n) {
      throw c.fail("bad-dims", `tensor ${name} has a negative dimension ne[${k}] = ${BigInt.asIntN(64, d)}`);
    }
    if (d === 0n) throw c.fail("bad-dims", `tensor ${name} has a zero dimension ne[${k}]`);
    dims.push(d);
    elements *= d;
  }
  if (elements > ELEMENTS_LIMIT) {
    throw c.fail(
      "bad-dims",
      `tensor ${name} has an absurd size: ne = [${dims.join(", ")}] is ${elements} elements`,
    );
  }
  return { dims, elements };
}

function readTensorInfo(c: Cursor, i: bigint, seen: Set<string>): RawTensor {
  const name = c.str(`the name of tensor ${i}`);
  if (name === "") throw c.fail("malformed", `tensor ${i} has an empty name`);
  const nameBytes = new TextEncoder().encode(name).length;
  if (nameBytes > MAX_NAME_BYTES) {
    throw c.fail(
      "malformed",
      `tensor ${i}'s name is ${nameBytes} bytes; GGUF names have at most ${MAX_NAME_BYTES}`,
    );
  }
  if (seen.has(name)) throw c.fail("duplicate", `tensor ${name} appears twice`);
  seen.add(name);
  const { dims, elements } = readDims(c, name);
  const type = c.u32(`tensor ${name}: type`);
  const block = ggmlBlock(type);
  if (!block) {
    throw c.fail("bad-type", `tensor ${name} has unknown ggml type ${type}; its size cannot be known`);
  }
  if (dims[0] % BigInt(block.elements) !== 0n) {
    throw c.fail(
      "bad-dims",
      `tensor ${name}: ne[0] = ${dims[0]} is not a multiple of ${
        ggmlTypeName(type)
      }'s block of ${block.elements}`,
    );
  }
  const rel = c.u64(`tensor ${name}: offset`);
  return { name, dims, type, elements, rel };
}

/** Places each tensor in the file: aligned, inside it, and sharing no byte with another. */
function placeTensors(raw: RawTensor[], dataOffset: bigint, alignment: number, size: number, fail: Fail) {
  if (raw.length > 0 && dataOffset > BigInt(size)) {
    throw fail(
      "truncated",
      `truncated: the tensor data starts at byte ${dataOffset}, past the end of the file (${size} bytes)`,
    );
  }
  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of raw) {
    if (t.rel % BigInt(alignment) !== 0n) {
      throw fail(
        "bad-offset",
        `tensor ${t.name} has offset ${t.rel}, not a multiple of the alignment ${alignment}`,
      );
    }
    const start = dataOffset + t.rel;
    const bytes = ggmlByteSize(t.type, t.elements)!;
    if (start + bytes > BigInt(size)) {
      throw fail(
        "truncated",
        `truncated tensor data: tensor ${t.name} needs bytes ${start}..${
          start + bytes
        } but the file has ${size} bytes`,
      );
    }
    const dims = t.dims.map(Number);
    tensors.set(t.name, {
      name: t.name,
      dims,
      shape: [...dims].reverse(),
      type: t.type,
      typeName: ggmlTypeName(t.type),
      nElements: Number(t.elements),
      nBytes: Number(bytes),
      offset: Number(start),
    });
  }
  checkOverlaps([...tensors.values()], fail);
  return tensors;
}

function checkOverlaps(tensors: GgufTensorInfo[], fail: Fail): void {
  const byStart = [...tensors].sort((a, b) => a.offset - b.offset);
  let reach: GgufTensorInfo | null = null; // the tensor whose data ends furthest so far
  const range = (t: GgufTensorInfo) => `bytes ${t.offset}..${t.offset + t.nBytes}`;
  for (const t of byStart) {
    if (reach && t.offset < reach.offset + reach.nBytes) {
      throw fail("overlap", `tensors ${reach.name} (${range(reach)}) and ${t.name} (${range(t)}) overlap`);
    }
    if (!reach || t.offset + t.nBytes > reach.offset + reach.nBytes) reach = t;
  }
}

function readVersion(c: Cursor): 2 | 3 {
  const short = () =>
    c.fail(
      "truncated",
      `truncated header: the file has ${c.src.size} bytes, a GGUF header needs ${HEADER_BYTES}`,
    );
  if (c.left < 4) throw short();
  const magic = c.bytes(4, "magic");
  if (new DataView(magic.buffer, magic.byteOffset, 4).getUint32(0, true) !== GGUF_MAGIC) {
    throw c.fail("bad-magic", `not a GGUF file: magic is ${describeMagic(magic)}, expected "GGUF"`);
  }
  if (c.left < 4) throw short();
  const raw = c.u32("version");
  if ((raw & 0xffff) === 0 && raw !== 0) {
    const be = ((raw >>> 24) | ((raw >>> 8) & 0xff00)) >>> 0;
    throw c.fail(
      "bad-version",
      `big-endian GGUF (version ${be}) is not supported; faultline reads little-endian v2 and v3`,
    );
  }
  if (raw !== 2 && raw !== 3) {
    throw c.fail("bad-version", `unsupported GGUF version ${raw}; faultline reads v2 and v3`);
  }
  if (c.left < HEADER_BYTES - 8) throw short();
  return raw;
}

function describeMagic(b: Uint8Array): string {
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  const txt = [...b].map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join("");
  return `"${txt}" (${hex})`;
}

/** Refuses counts the rest of the file cannot hold, before any entry is read. */
function checkCounts(c: Cursor, tensorCount: bigint, kvCount: bigint): void {
  const rest = BigInt(c.left);
  const over = (what: string) =>
    c.fail(
      "truncated",
      `truncated metadata: the header declares ${what}, more than the file can hold (the file has ${c.src.size} bytes)`,
    );
  if (kvCount * MIN_ENTRY_BYTES > rest) throw over(`${kvCount} metadata entries`);
  if (tensorCount * MIN_TENSOR_BYTES > rest) throw over(`${tensorCount} tensors`);
  if (kvCount * MIN_ENTRY_BYTES + tensorCount * MIN_TENSOR_BYTES > rest) {
    throw over(`${kvCount} metadata entries and ${tensorCount} tensors`);
  }
}

/** Parses and checks a GGUF header. `name` (the file's path) starts every error message. */
export function readGgufHeader(src: ByteSource, name: string, windowBytes = WINDOW_BYTES): GgufHeader {
  const fail: Fail = (code, problem) => new GgufError(name, code, problem);
  const c = new Cursor(src, fail, Math.max(1, windowBytes));
  const version = readVersion(c);
  const tensorCount = c.u64("tensor count");
  const kvCount = c.u64("metadata count");
  checkCounts(c, tensorCount, kvCount);
  const meta = readMetadata(c, kvCount);
  const metadataEnd = c.pos;
  const alignment = alignmentOf(meta, fail);
  c.region = "tensor info";
  const raw: RawTensor[] = [];
  const seen = new Set<string>();
  for (let i = 0n; i < tensorCount; i++) raw.push(readTensorInfo(c, i, seen));
  const tensorInfoEnd = c.pos;
  const a = BigInt(alignment);
  const dataOffset = ((BigInt(tensorInfoEnd) + a - 1n) / a) * a;
  const tensors = placeTensors(raw, dataOffset, alignment, src.size, fail);
  return {
    version,
    alignment,
    dataOffset: Number(dataOffset), // exact: below tensorInfoEnd + 2^31
    metadataEnd,
    tensorInfoEnd,
    ...meta,
    tensors,
  };
}
