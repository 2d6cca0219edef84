/**
 * GGUF writer (v3 by default, v2 on request; little-endian). The header is built in memory; tensor
 * data is streamed from each tensor's `data` source chunk by chunk, so a multi-GB file never sits in
 * memory. Tensors are laid out in the order given, each at an offset aligned to `alignment`
 * (general.alignment, default 32), with zero padding between them.
 *
 * Shapes are row-major (outermost first, `[out, in]` for a linear weight); the writer stores GGUF's
 * `ne[]` as the reverse, so ne[0] is the contiguous dimension.
 */

import { alignUp, ggmlByteSize, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType } from "./gguf_types.ts";

export type MetaScalar = number | bigint | boolean | string;
export interface MetaEntry {
  type: GgufValueType;
  value: MetaScalar | MetaScalar[];
  /** Element type of an ARRAY value. */
  itemType?: GgufValueType;
}

/** Constructors for typed metadata values. */
export const meta = {
  u8: (v: number): MetaEntry => ({ type: GgufValueType.UINT8, value: v }),
  i8: (v: number): MetaEntry => ({ type: GgufValueType.INT8, value: v }),
  u16: (v: number): MetaEntry => ({ type: GgufValueType.UINT16, value: v }),
  i16: (v: number): MetaEntry => ({ type: GgufValueType.INT16, value: v }),
  u32: (v: number): MetaEntry => ({ type: GgufValueType.UINT32, value: v }),
  i32: (v: number): MetaEntry => ({ type: GgufValueType.INT32, value: v }),
  f32: (v: number): MetaEntry => ({ type: GgufValueType.FLOAT32, value: v }),
  f64: (v: number): MetaEntry => ({ type: GgufValueType.FLOAT64, value: v }),
  u64: (v: number | bigint): MetaEntry => ({ type: GgufValueType.UINT64, value: BigInt(v) }),
  i64: (v: number | bigint): MetaEntry => ({ type: GgufValueType.INT64, value: BigInt(v) }),
  bool: (v: boolean): MetaEntry => ({ type: GgufValueType.BOOL, value: v }),
  str: (v: string): MetaEntry => ({ type: GgufValueType.STRING, value: v }),
  arr: (itemType: GgufValueType, v: MetaScalar[]): MetaEntry => ({
    type: GgufValueType.ARRAY,
    itemType,
    value: v,
  }),
};

export type TensorChunk = Uint8Array | Float32Array | Uint16Array;
export type TensorData =
  | TensorChunk
  | Iterable<TensorChunk>
  | AsyncIterable<TensorChunk>
  | (() => TensorChunk | Iterable<TensorChunk> | AsyncIterable<TensorChunk>);

export interface TensorSpec {
  name: string;
  /** Row-major shape, outermost first. Written as ne = shape reversed. */
  shape: readonly number[];
  /** ggml type number (GgmlType.F32, GgmlType.F16, ... or any other for raw data). */
  type: number;
  /** The tensor's bytes, in chunks. Absent: the region is left as a hole (reads as zeros). */
  data?: TensorData;
  /** Byte size, for types whose size the writer does not know. */
  nBytes?: number;
  /** GGUF ne[] to write instead of the reversed shape (only with `unchecked`, to build malformed files). */
  rawDims?: readonly (number | bigint)[];
}

export interface WriteOptions {
  /** GGUF version: 3 (default) or 2. Both have the same little-endian layout. */
  version?: 2 | 3;
  /** Tensor data alignment; written as general.alignment unless already in metadata. Default 32. */
  alignment?: number;
  /** Ordered metadata (general.architecture first, as llama.cpp writes it). */
  metadata: [string, MetaEntry][];
  tensors: TensorSpec[];
  /** Skip shape validation (for building malformed files in tests). */
  unchecked?: boolean;
}

/** What writeGguf wrote. */
export interface WriteResult {
  /** The file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  /** Absolute offset of each tensor's data. */
  offsets: Map<string, number>;
}

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

class ByteSink {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  len = 0;
  private grow(n: number) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number) {
    this.grow(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }
  u32(v: number) {
    this.grow(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }
  u64(v: number | bigint) {
    this.grow(8);
    this.view.setBigUint64(this.len, BigInt.asUintN(64, BigInt(v)), true);
    this.len += 8;
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  pad(alignment: number) {
    const n = alignUp(this.len, alignment) - this.len;
    this.grow(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }
  value(type: number, v: MetaScalar | MetaScalar[], itemType?: number) {
    const num = () => {
      if (typeof v !== "number") throw new TypeError(`metadata value ${String(v)} is not a number`);
      return v;
    };
    this.grow(8);
    const d = this.view;
    const o = this.len;
    switch (type) {
      case GgufValueType.UINT8:
        d.setUint8(o, num());
        this.len += 1;
        return;
      case GgufValueType.INT8:
        d.setInt8(o, num());
        this.len += 1;
        return;
      case GgufValueType.UINT16:
        d.setUint16(o, num(), true);
        this.len += 2;
        return;
      case GgufValueType.INT16:
        d.setInt16(o, num(), true);
        this.len += 2;
        return;
      case GgufValueType.UINT32:
        d.setUint32(o, num(), true);
        this.len += 4;
        return;
      case GgufValueType.INT32:
        d.setInt32(o, num(), true);
        this.len += 4;
        return;
      case GgufValueType.FLOAT32:
        d.setFloat32(o, num(), true);
        this.len += 4;
        return;
      case GgufValueType.FLOAT64:
        d.setFloat64(o, num(), true);
        this.len += 8;
        return;
      case GgufValueType.BOOL:
        d.setUint8(o, v ? 1 : 0);
        this.len += 1;
        return;
      case GgufValueType.UINT64:
        d.setBigUint64(o, BigInt(v as number | bigint), true);
        this.len += 8;
        return;
      case GgufValueType.INT64:
        d.setBigInt64(o, BigInt(v as number | bigint), true);
        this.len += 8;
        return;
      case GgufValueType.STRING:
        if (typeof v !== "string") throw new TypeError(`metadata value ${String(v)} is not a string`);
        this.str(v);
        return;
      case GgufValueType.ARRAY: {
        if (!Array.isArray(v) || itemType === undefined) {
          throw new TypeError("ARRAY value needs an array and itemType");
        }
        if (itemType === GgufValueType.ARRAY) throw new TypeError("nested arrays are not written");
        this.u32(itemType);
        this.u64(v.length);
        for (const x of v) this.value(itemType, x);
        return;
      }
      default:
        throw new TypeError(`unknown metadata value type ${type}`);
    }
  }
}

function chunkBytes(c: TensorChunk): Uint8Array {
  return c instanceof Uint8Array ? c : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
}

async function* chunksOf(data: TensorData): AsyncIterable<Uint8Array> {
  const d = typeof data === "function" ? data() : data;
  if (d instanceof Uint8Array || d instanceof Float32Array || d instanceof Uint16Array) {
    yield chunkBytes(d);
    return;
  }
  for await (const c of d as AsyncIterable<TensorChunk>) yield chunkBytes(c);
}

async function writeAll(f: Deno.FsFile, b: Uint8Array) {
  let off = 0;
  while (off < b.length) off += await f.write(b.subarray(off));
}

/** Expected byte size of a tensor spec. */
export function tensorSpecBytes(t: TensorSpec): number {
  if (t.nBytes !== undefined) return t.nBytes;
  const n = t.shape.reduce((a, b) => a * b, 1);
  const size = ggmlByteSize(t.type, BigInt(n));
  if (size === undefined) throw new TypeError(`tensor ${t.name}: give nBytes for ggml type ${t.type}`);
  return Number(size);
}

/** A malformed spec's size: what it says, else what its shape and type give, else 0. */
function uncheckedBytes(t: TensorSpec): number {
  try {
    return tensorSpecBytes(t);
  } catch {
    return 0;
  }
}

/** Write a GGUF file. Tensor data comes from each spec's `data`, streamed in order. */
export async function writeGguf(path: string, opts: WriteOptions): Promise<WriteResult> {
  if (!LE) throw new Error("writeGguf: big-endian hosts are not supported");
  const version = opts.version ?? 3;
  const metadata = [...opts.metadata];
  const alignEntry = metadata.find(([k]) => k === "general.alignment");
  const alignment = alignEntry ? Number(alignEntry[1].value) : (opts.alignment ?? GGUF_DEFAULT_ALIGNMENT);
  if (!alignEntry && opts.alignment !== undefined) metadata.push(["general.alignment", meta.u32(alignment)]);
  if (!Number.isInteger(alignment) || alignment <= 0) throw new RangeError(`bad alignment ${alignment}`);
  const names = new Set<string>();
  for (const t of opts.tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    names.add(t.name);
    if (!opts.unchecked) {
      if (t.shape.length < 1 || t.shape.length > 4) throw new RangeError(`tensor ${t.name}: 1 to 4 dims`);
      for (const d of t.shape) {
        if (!Number.isSafeInteger(d) || d <= 0) throw new RangeError(`tensor ${t.name}: bad dim ${d}`);
      }
    }
  }

  const h = new ByteSink();
  h.u32(GGUF_MAGIC);
  h.u32(version);
  h.u64(opts.tensors.length);
  h.u64(metadata.length);
  for (const [k, v] of metadata) {
    h.str(k);
    h.u32(v.type);
    h.value(v.type, v.value, v.itemType);
  }
  const offsets = new Map<string, number>();
  const sizes: number[] = [];
  let rel = 0;
  for (const t of opts.tensors) {
    const dims = t.rawDims ?? [...t.shape].reverse();
    h.str(t.name);
    h.u32(dims.length);
    for (const d of dims) h.u64(d);
    h.u32(t.type);
    h.u64(rel);
    offsets.set(t.name, rel);
    const size = opts.unchecked ? uncheckedBytes(t) : tensorSpecBytes(t);
    sizes.push(size);
    rel = alignUp(rel + size, alignment);
  }
  h.pad(alignment);
  const dataOffset = h.len;
  for (const [k, v] of offsets) offsets.set(k, v + dataOffset);

  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await writeAll(f, h.buf.subarray(0, h.len));
    let pos = dataOffset;
    const zeros = new Uint8Array(alignment);
    for (let i = 0; i < opts.tensors.length; i++) {
      const t = opts.tensors[i];
      const start = offsets.get(t.name)!;
      if (pos !== start) {
        if (start - pos <= alignment) await writeAll(f, zeros.subarray(0, start - pos));
        else await f.seek(start, Deno.SeekMode.Start);
        pos = start;
      }
      if (t.data === undefined) continue; // hole
      let written = 0;
      for await (const c of chunksOf(t.data)) {
        if (!opts.unchecked && written + c.length > sizes[i]) {
          throw new RangeError(`tensor ${t.name}: data exceeds ${sizes[i]} bytes`);
        }
        await writeAll(f, c);
        written += c.length;
      }
      if (!opts.unchecked && written !== sizes[i]) {
        throw new RangeError(`tensor ${t.name}: got ${written} bytes of data, expected ${sizes[i]}`);
      }
      pos += written;
    }
    const total = Math.max(pos, dataOffset + rel);
    if (total > pos) await f.truncate(total);
    return { path, bytes: total, dataOffset, offsets };
  } finally {
    f.close();
  }
}
