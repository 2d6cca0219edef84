// The GGUF reader is strict: exact offset arithmetic, every count checked against the file before it
// allocates, and inconsistent files (overlaps, duplicates, unused tensors, bad token ids) refused with
// a message that names the key or tensor.

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  GgmlType,
  GgufError,
  type GgufErrorCode,
  GgufFile,
  openLlamaGguf,
} from "../../../scripts/model/gguf.ts";
import { meta, type MetaEntry, type TensorSpec, writeGguf } from "../../../scripts/model/gguf_write.ts";
import { GgufValueType } from "../../../scripts/model/gguf_types.ts";
import { PRESETS } from "../../../scripts/model/config.ts";
import { llamaMetadata, llamaTensorSpecs } from "../../../scripts/model/synth.ts";

const dir = await Deno.makeTempDir({ prefix: "faultline-gguf-strict-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const cfg = PRESETS.tiny;
let n = 0;

async function tinyFile(edit: (m: [string, MetaEntry][], t: TensorSpec[]) => void): Promise<string> {
  const m = llamaMetadata(cfg);
  const t = llamaTensorSpecs(cfg, { seed: 1 });
  edit(m, t);
  const p = join(dir, `strict-${n++}.gguf`);
  await writeGguf(p, { metadata: m, tensors: t, unchecked: true });
  return p;
}

/** One F32 tensor of `elements` values and the given metadata: a small non-llama GGUF. */
async function smallFile(metadata: [string, MetaEntry][], elements = 16): Promise<string> {
  const p = join(dir, `small-${n++}.gguf`);
  await writeGguf(p, {
    metadata,
    tensors: [{ name: "x", shape: [elements], type: GgmlType.F32, data: new Float32Array(elements) }],
    unchecked: true,
  });
  return p;
}

/** Overwrites the bytes right after the first occurrence of `marker` (a key) plus `skip` bytes. */
async function patchAfter(path: string, marker: string, skip: number, bytes: Uint8Array): Promise<void> {
  const b = await Deno.readFile(path);
  const m = new TextEncoder().encode(marker);
  const at = b.findIndex((_, i) => m.every((x, k) => b[i + k] === x));
  assert.ok(at >= 0, `no ${marker} in ${path}`);
  b.set(bytes, at + m.length + skip);
  await Deno.writeFile(path, b);
}

const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
const u64 = (v: bigint) => new Uint8Array(new BigUint64Array([v]).buffer);

async function expectError(open: Promise<unknown>, code: GgufErrorCode, text: string | RegExp) {
  try {
    await open;
  } catch (e) {
    assert.ok(e instanceof GgufError, `expected GgufError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (typeof text === "string") assert.ok(e.message.includes(text), `"${e.message}" lacks "${text}"`);
    else assert.match(e.message, text);
    return e;
  }
  assert.fail(`no error, expected ${code}: ${text}`);
}

Deno.test("gguf alignment: 2^31 and above are exact, never wrapped through 32-bit bit operations", async () => {
  // general.alignment = 2^31 (a power of two that fits uint32): the data section starts at byte 2^31,
  // past the end of this small file.
  const p = await smallFile([["general.architecture", meta.str("test")], [
    "general.alignment",
    meta.u32(32),
  ]]);
  await patchAfter(p, "general.alignment", 4, u32(2 ** 31));
  await expectError(GgufFile.open(p), "truncated", "the tensor data starts at byte 2147483648");
  // 2^32 and 2^40 as uint64: beyond what GGUF's uint32 alignment can be.
  for (const a of [2n ** 32n, 2n ** 40n]) {
    const q = await smallFile([["general.architecture", meta.str("test")], [
      "general.alignment",
      meta.u64(32),
    ]]);
    await patchAfter(q, "general.alignment", 4, u64(a));
    await expectError(
      GgufFile.open(q),
      "bad-alignment",
      `general.alignment is ${a}; it must be a power of two`,
    );
  }
  for (
    const bad of [
      meta.u32(0),
      meta.u32(3),
      meta.u32(2 ** 31 + 1),
      meta.i32(-32),
      meta.f32(32),
      meta.str("32"),
    ]
  ) {
    // Written under another key (the writer itself refuses such alignments), then renamed.
    const q = await smallFile([["general.alignmenX", bad]]);
    await patchAfter(q, "general.alignmen", 0, new TextEncoder().encode("t"));
    await expectError(GgufFile.open(q), "bad-alignment", "general.alignment is ");
  }
  // A small power of two is fine.
  const ok = await smallFile([["general.alignment", meta.u32(8)]]);
  assert.equal((await GgufFile.open(ok)).alignment, 8);
});

Deno.test("gguf counts: every count and length is checked against the file before anything is allocated", async () => {
  // An array that claims 2^40 elements, a string that claims 2^40 bytes, 2^40 tensors, 2^40 entries.
  const arr = await smallFile([["general.architecture", meta.str("test")], [
    "big",
    meta.arr(GgufValueType.UINT8, [1, 2, 3]),
  ]]);
  await patchAfter(arr, "big", 4 + 4, u64(2n ** 40n));
  await expectError(
    GgufFile.open(arr),
    "truncated",
    /metadata big declares 1099511627776 UINT8 elements, more than the \d+ bytes left in the file/,
  );
  const str = await smallFile([["general.architecture", meta.str("test")], ["name", meta.str("abc")]]);
  await patchAfter(str, "name", 4, u64(2n ** 40n));
  await expectError(
    GgufFile.open(str),
    "truncated",
    /metadata name: a string of 1099511627776 bytes at byte \d+/,
  );
  const tensors = await smallFile([["general.architecture", meta.str("test")]]);
  const b = await Deno.readFile(tensors);
  b.set(u64(2n ** 40n), 8);
  await Deno.writeFile(tensors, b);
  await expectError(GgufFile.open(tensors), "truncated", "declares 1099511627776 tensors");
  b.set(u64(1n), 8);
  b.set(u64(2n ** 40n), 16);
  await Deno.writeFile(tensors, b);
  await expectError(GgufFile.open(tensors), "truncated", "declares 1099511627776 metadata entries");
});

Deno.test("gguf counts: a huge llama.block_count is refused from the tensor count, not expanded", async () => {
  const p = await tinyFile((m) => {
    m.find(([k]) => k === "llama.block_count")![1] = meta.u32(1_000_000_000);
  });
  await expectError(
    openLlamaGguf(p),
    "bad-metadata",
    `llama.block_count is 1000000000 but the file holds ${3 + 9 * cfg.nLayers} tensors`,
  );
});

Deno.test("gguf consistency: overlapping tensor data is refused, naming both tensors", async () => {
  const p = await tinyFile(() => {});
  const f = await GgufFile.open(p);
  const [first, second] = [...f.tensors.values()];
  // Point the second tensor's data at the first one's.
  await patchAfter(p, second.name, 4 + 8 * second.dims.length + 4, u64(0n));
  await expectError(
    GgufFile.open(p),
    "overlap",
    `tensors ${first.name} (bytes ${first.offset}..${
      first.offset + first.nBytes!
    }) and ${second.name} (bytes ${first.offset}..${first.offset + second.nBytes!}) overlap`,
  );
});

Deno.test("gguf consistency: duplicate keys and duplicate tensors are refused", async () => {
  const p = await tinyFile((m) => m.push(["llama.block_count", meta.u32(1)]));
  await expectError(GgufFile.open(p), "duplicate", "metadata key llama.block_count appears twice");
  const q = join(dir, `dup-${n++}.gguf`);
  await writeGguf(q, {
    metadata: [],
    tensors: [
      { name: "x", shape: [4], type: GgmlType.F32, data: new Float32Array(4) },
      { name: "y", shape: [4], type: GgmlType.F32, data: new Float32Array(4) },
    ],
  });
  // The header holds no other "y" (no metadata, zero data): rename the second tensor to "x".
  const bytes = await Deno.readFile(q);
  bytes[bytes.lastIndexOf(0x79)] = 0x78;
  await Deno.writeFile(q, bytes);
  await expectError(GgufFile.open(q), "duplicate", "tensor x appears twice");
});

Deno.test("gguf consistency: a tensor the llama model does not use is refused, naming it", async () => {
  const p = await tinyFile((_, t) =>
    t.push({ name: "rope_freqs.weight", shape: [8], type: GgmlType.F32, data: new Float32Array(8) })
  );
  await expectError(
    openLlamaGguf(p),
    "unused-tensor",
    "tensor rope_freqs.weight is not part of the llama model the metadata describes",
  );
  const q = await tinyFile((_, t) => {
    const extra = { ...t.find((x) => x.name === "blk.0.attn_norm.weight")!, name: "blk.2.attn_norm.weight" };
    t.push(extra);
  });
  await expectError(openLlamaGguf(q), "unused-tensor", `tensor blk.2.attn_norm.weight`);
});

Deno.test("gguf consistency: token ids outside the vocabulary (-1, 2^32-1, vocab) are refused", async () => {
  for (
    const [key, v, shown] of [
      ["tokenizer.ggml.bos_token_id", meta.i32(-1), "-1"],
      ["tokenizer.ggml.eos_token_id", meta.u32(2 ** 32 - 1), "4294967295"],
      ["tokenizer.ggml.padding_token_id", meta.u32(cfg.vocabSize), String(cfg.vocabSize)],
    ] as const
  ) {
    const p = await tinyFile((m) => {
      const at = m.findIndex(([k]) => k === key);
      if (at >= 0) m[at][1] = v;
      else m.push([key, v]);
    });
    await expectError(
      openLlamaGguf(p),
      "bad-metadata",
      `metadata ${key} is ${shown}; a token id must be in 0..${cfg.vocabSize - 1}`,
    );
  }
  const v = await tinyFile((m) => {
    m.find(([k]) => k === "llama.vocab_size")![1] = meta.u32(cfg.vocabSize + 1);
  });
  await expectError(
    openLlamaGguf(v),
    "bad-metadata",
    `llama.vocab_size is ${cfg.vocabSize + 1} but tokenizer.ggml.tokens has ${cfg.vocabSize} tokens`,
  );
  const w = await tinyFile((m) => {
    m.find(([k]) => k === "tokenizer.ggml.tokens")![1] = meta.arr(GgufValueType.UINT8, [1, 2]);
  });
  await expectError(openLlamaGguf(w), "bad-metadata", "tokenizer.ggml.tokens is an array of UINT8");
  const q = await tinyFile((m) => {
    m.find(([k]) => k === "tokenizer.ggml.scores")![1] = meta.arr(GgufValueType.FLOAT32, [0, 1]);
  });
  await expectError(
    openLlamaGguf(q),
    "bad-metadata",
    `metadata tokenizer.ggml.scores has 2 entries but the vocabulary has ${cfg.vocabSize} tokens`,
  );
});

Deno.test("gguf strictness: values read back exactly what the file holds, or are refused", async () => {
  // A key named __proto__ and a string that starts with a byte order mark survive as written.
  const p = await smallFile([["__proto__", meta.u32(7)], ["bom", meta.str("\ufeffhi")]]);
  const f = await GgufFile.open(p);
  assert.equal(f.metadata["__proto__"], 7);
  assert.equal(f.metadata["bom"], "\ufeffhi");
  // Invalid UTF-8 in a key, a bool that is neither 0 nor 1, an array of arrays, an unknown value type.
  const cases: [[string, MetaEntry][], string, number, Uint8Array, GgufErrorCode, string][] = [
    [[["keyA", meta.u8(1)]], "keyA", -1, new Uint8Array([0xff]), "malformed", "is not valid UTF-8"],
    [[["flag", meta.bool(true)]], "flag", 4, new Uint8Array([2]), "malformed", "metadata flag: BOOL value 2"],
    [
      [["list", meta.arr(GgufValueType.UINT8, [1])]],
      "list",
      4,
      u32(GgufValueType.ARRAY),
      "malformed",
      "arrays of arrays",
    ],
    [[["odd", meta.u8(1)]], "odd", 0, u32(99), "malformed", "metadata odd has unknown value type 99"],
  ];
  for (const [m, marker, skip, bytes, code, text] of cases) {
    const q = await smallFile(m);
    await patchAfter(q, marker, skip, bytes);
    await expectError(GgufFile.open(q), code, text);
  }
  // An unknown tensor type, and a quantized row that is not whole blocks.
  const r = join(dir, `types-${n++}.gguf`);
  await writeGguf(r, {
    metadata: [],
    tensors: [{ name: "q", shape: [4], type: 99, nBytes: 16 }],
    unchecked: true,
  });
  await expectError(GgufFile.open(r), "bad-type", "tensor q has unknown ggml type 99");
  const s = join(dir, `types-${n++}.gguf`);
  await writeGguf(s, {
    metadata: [],
    tensors: [{ name: "q4", shape: [64, 48], rawDims: [48, 64], type: 12, nBytes: 144 * 12 }],
    unchecked: true,
  });
  await expectError(
    GgufFile.open(s),
    "bad-dims",
    "tensor q4: ne[0] = 48 is not a multiple of Q4_K's block of 256",
  );
});
