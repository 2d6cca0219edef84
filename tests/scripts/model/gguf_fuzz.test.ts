// Fuzzing the GGUF reader: 12 000 mutated files a run (seeded; see tests/helpers/fuzz.ts). Every file
// is either refused with a GgufError naming it, or read back exactly: the header re-encodes to the
// file's own bytes, offsets are aligned and inside the file, tensors do not overlap, tensor reads
// return the file's bytes, and the reader gives the same answer whatever its read window.

import assert from "node:assert/strict";
import { checkLlama, GgmlType, GgufError, GgufFile } from "../../../scripts/model/gguf.ts";
import { meta, writeGguf } from "../../../scripts/model/gguf_write.ts";
import { ggmlBlock, GgufValueType, isSupportedType } from "../../../scripts/model/gguf_types.ts";
import type { MetadataValue } from "../../../scripts/model/gguf_read.ts";
import { type LlamaConfig, presetConfig } from "../../../scripts/model/config.ts";
import { llamaMetadata, llamaTensorSpecs } from "../../../scripts/model/synth.ts";
import { type Field, fuzz, fuzzCases, type Prng } from "../../helpers/fuzz.ts";

const NAME = "fuzz.gguf";
const MICRO: LlamaConfig = presetConfig("tiny", {
  dim: 8,
  ffnDim: 16,
  nLayers: 1,
  nHeads: 2,
  nKvHeads: 1,
  vocabSize: 16,
  contextLength: 32,
  headDim: 4,
});

async function bytesOf(write: (path: string) => Promise<unknown>): Promise<Uint8Array> {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await write(path);
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(path);
  }
}

/** The corpus: a micro llama (v3, f32), the same in f16 (v2, alignment 64), and every metadata type. */
async function corpus(): Promise<Uint8Array[]> {
  const llama = await bytesOf((p) =>
    writeGguf(p, { metadata: llamaMetadata(MICRO), tensors: llamaTensorSpecs(MICRO, { seed: 3 }) })
  );
  const f16 = await bytesOf((p) =>
    writeGguf(p, {
      version: 2,
      alignment: 64,
      metadata: llamaMetadata(MICRO, { dtype: "f16" }),
      tensors: llamaTensorSpecs(MICRO, { seed: 4, dtype: "f16" }),
    })
  );
  const types = await bytesOf((p) =>
    writeGguf(p, {
      metadata: [
        ["general.architecture", meta.str("test")],
        ["u8", meta.u8(200)],
        ["i8", meta.i8(-5)],
        ["u16", meta.u16(60000)],
        ["i16", meta.i16(-3000)],
        ["u32", meta.u32(7)],
        ["i32", meta.i32(-7)],
        ["f32", meta.f32(0.5)],
        ["f64", meta.f64(0.1)],
        ["u64", meta.u64(2n ** 40n)],
        ["i64", meta.i64(-(2n ** 40n))],
        ["bool", meta.bool(true)],
        ["s", meta.str("héllo")],
        ["ints", meta.arr(GgufValueType.INT32, [1, -2, 3])],
        ["floats", meta.arr(GgufValueType.FLOAT32, [1.5, -2])],
        ["strs", meta.arr(GgufValueType.STRING, ["a", "bc", ""])],
        ["bools", meta.arr(GgufValueType.BOOL, [true, false])],
      ],
      tensors: [
        { name: "bf", shape: [2, 3], type: GgmlType.BF16, data: new Uint16Array([1, 2, 3, 4, 5, 6]) },
        { name: "q8", shape: [32], type: 8, nBytes: 34, data: new Uint8Array(34).fill(7) },
        { name: "f", shape: [4], type: GgmlType.F32, data: new Float32Array([1, 2, 3, 4]) },
      ],
    })
  );
  return [llama, f16, types];
}

/** The positions of a valid file's counts, lengths, types, dims and offsets, walked independently of the reader. */
function fieldsOf(b: Uint8Array): Field[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: Field[] = [{ at: 4, size: 4 }, { at: 8, size: 8 }, { at: 16, size: 8 }];
  let at = 24;
  const str = () => {
    fields.push({ at, size: 8 });
    at += 8 + Number(dv.getBigUint64(at, true));
  };
  const size: Record<number, number> = {
    0: 1,
    1: 1,
    2: 2,
    3: 2,
    4: 4,
    5: 4,
    6: 4,
    7: 1,
    10: 8,
    11: 8,
    12: 8,
  };
  const value = (type: number) => {
    if (type === GgufValueType.STRING) return str();
    if (type !== GgufValueType.ARRAY) {
      if (size[type] === 4 || size[type] === 8) fields.push({ at, size: size[type] as 4 | 8 });
      at += size[type];
      return;
    }
    const item = dv.getUint32(at, true);
    fields.push({ at, size: 4 }, { at: at + 4, size: 8 });
    const n = Number(dv.getBigUint64(at + 4, true));
    at += 12;
    for (let k = 0; k < n; k++) value(item);
  };
  for (let i = 0, n = Number(dv.getBigUint64(16, true)); i < n; i++) {
    str();
    fields.push({ at, size: 4 });
    at += 4;
    value(dv.getUint32(at - 4, true));
  }
  for (let i = 0, n = Number(dv.getBigUint64(8, true)); i < n; i++) {
    str();
    const nd = dv.getUint32(at, true);
    fields.push({ at, size: 4 });
    at += 4;
    for (let k = 0; k < nd; k++, at += 8) fields.push({ at, size: 8 });
    fields.push({ at, size: 4 }, { at: at + 4, size: 8 });
    at += 12;
  }
  return fields;
}

/** Writes a header field by field, checking each against the input as it goes. */
class Reencoder {
  at = 0;
  constructor(readonly input: Uint8Array) {}
  #put(bytes: Uint8Array, what: string) {
    const got = this.input.subarray(this.at, this.at + bytes.length);
    assert.deepEqual(got, bytes, `${what} at byte ${this.at} does not read back as the file holds it`);
    this.at += bytes.length;
  }
  u32(v: number, what: string) {
    this.#put(new Uint8Array(new Uint32Array([v]).buffer), what);
  }
  u64(v: bigint, what: string) {
    this.#put(new Uint8Array(new BigUint64Array([BigInt.asUintN(64, v)]).buffer), what);
  }
  str(s: string, what: string) {
    const b = new TextEncoder().encode(s);
    this.u64(BigInt(b.length), `${what} length`);
    this.#put(b, what);
  }
  value(type: number, v: MetadataValue, what: string, item?: number) {
    const buf = new ArrayBuffer(8);
    const dv = new DataView(buf);
    const fixed = (n: number) => this.#put(new Uint8Array(buf, 0, n), what);
    // A NaN reads back as a NaN, whatever its payload: the file's own bytes stand in for it.
    const nan = (n: number) => (this.at += n);
    switch (type) {
      case GgufValueType.UINT8:
        return dv.setUint8(0, v as number), fixed(1);
      case GgufValueType.INT8:
        return dv.setInt8(0, v as number), fixed(1);
      case GgufValueType.UINT16:
        return dv.setUint16(0, v as number, true), fixed(2);
      case GgufValueType.INT16:
        return dv.setInt16(0, v as number, true), fixed(2);
      case GgufValueType.UINT32:
        return dv.setUint32(0, v as number, true), fixed(4);
      case GgufValueType.INT32:
        return dv.setInt32(0, v as number, true), fixed(4);
      case GgufValueType.FLOAT32:
        return Number.isNaN(v) ? nan(4) : (dv.setFloat32(0, v as number, true), fixed(4));
      case GgufValueType.FLOAT64:
        return Number.isNaN(v) ? nan(8) : (dv.setFloat64(0, v as number, true), fixed(8));
      case GgufValueType.BOOL:
        assert.equal(typeof v, "boolean", what);
        return dv.setUint8(0, v ? 1 : 0), fixed(1);
      case GgufValueType.UINT64:
      case GgufValueType.INT64:
        assert.equal(typeof v, "bigint", what);
        return this.u64(v as bigint, what);
      case GgufValueType.STRING:
        return this.str(v as string, what);
      case GgufValueType.ARRAY: {
        assert.ok(Array.isArray(v) && item !== undefined, what);
        this.u32(item!, `${what} element type`);
        this.u64(BigInt(v.length), `${what} count`);
        v.forEach((x, k) => this.value(item!, x, `${what}[${k}]`));
        return;
      }
    }
    assert.fail(`${what}: type ${type} was accepted`);
  }
}

/** A file the reader accepted: it must say exactly what the bytes say. */
async function checkAccepted(f: GgufFile, input: Uint8Array) {
  const e = new Reencoder(input);
  e.u32(0x46554747, "magic");
  e.u32(f.version, "version");
  e.u64(BigInt(f.tensors.size), "tensor count");
  e.u64(BigInt(f.metadataKeys.length), "metadata count");
  for (const k of f.metadataKeys) {
    e.str(k, `key ${k}`);
    const t = f.metadataTypes[k];
    e.u32(t.type, `${k} type`);
    e.value(t.type, f.metadata[k], k, t.itemType);
  }
  assert.equal(e.at, f.metadataEnd, "metadataEnd");
  const a = BigInt(f.alignment);
  assert.ok(a > 0n && (a & (a - 1n)) === 0n && a <= 2n ** 31n, `alignment ${a}`);
  const data = ((BigInt(f.tensorInfoEnd) + a - 1n) / a) * a;
  assert.equal(BigInt(f.dataOffset), data, "data offset");
  const spans: [number, number, string][] = [];
  for (const t of f.tensors.values()) {
    e.str(t.name, `tensor ${t.name}`);
    e.u32(t.dims.length, `${t.name} n_dims`);
    for (const d of t.dims) e.u64(BigInt(d), `${t.name} dim`);
    e.u32(t.type, `${t.name} type`);
    e.u64(BigInt(t.offset) - data, `${t.name} offset`);
    const block = ggmlBlock(t.type)!;
    assert.equal(t.nElements, t.dims.reduce((x, y) => x * y, 1), `${t.name} elements`);
    assert.equal(t.nBytes, (t.nElements / block.elements) * block.bytes, `${t.name} bytes`);
    assert.equal(t.offset % f.alignment, f.dataOffset % f.alignment, `${t.name} aligned`);
    assert.ok(t.offset + t.nBytes <= input.length, `${t.name} inside the file`);
    spans.push([t.offset, t.offset + t.nBytes, t.name]);
  }
  assert.equal(e.at, f.tensorInfoEnd, "tensorInfoEnd");
  spans.sort((x, y) => x[0] - y[0]);
  for (let k = 1; k < spans.length; k++) assert.ok(spans[k][0] >= spans[k - 1][1], `${spans[k][2]} overlaps`);
  for (const t of f.tensors.values()) {
    if (!isSupportedType(t.type)) continue;
    assert.deepEqual(await f.readTensorBytes(t.name), input.subarray(t.offset, t.offset + t.nBytes), t.name);
  }
}

function refusedWell(e: unknown): boolean {
  return e instanceof GgufError && e.file === NAME && e.message === `${NAME}: ${e.problem}` &&
    e.problem !== "";
}

function parse(input: Uint8Array, window?: number): GgufFile | GgufError {
  try {
    return GgufFile.fromBytes(input, NAME, window);
  } catch (e) {
    if (refusedWell(e)) return e as GgufError;
    throw e;
  }
}

async function check(input: Uint8Array, rng: Prng) {
  const f = parse(input);
  // The answer does not depend on how the file is read in.
  const windowed = parse(input, 1 + rng.below(40));
  if (f instanceof GgufError) {
    assert.ok(windowed instanceof GgufError, "a small read window accepts what the default refuses");
    assert.equal(windowed.message, f.message);
    return;
  }
  assert.ok(windowed instanceof GgufFile, `a small read window refuses: ${(windowed as Error).message}`);
  assert.deepEqual(windowed.metadataKeys, f.metadataKeys);
  await checkAccepted(f, input);
  try {
    checkLlama(f);
  } catch (e) {
    if (!refusedWell(e)) throw e;
  }
}

Deno.test("gguf fuzz: 12 000 mutated files are each refused with a clear error or read back exactly", async () => {
  const inputs = await corpus();
  const stats = await fuzz({
    kind: "gguf",
    ext: ".gguf",
    cases: fuzzCases(12_000),
    corpus: inputs.map((bytes) => ({ bytes, fields: fieldsOf(bytes) })),
    check,
  });
  assert.equal(stats.cases, fuzzCases(12_000));
});
