// Every kind of bad GGUF input yields a GgufError that names the file and the problem.

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
import { PRESETS } from "../../../scripts/model/config.ts";
import { llamaMetadata, llamaTensorSpecs, synthGguf } from "../../../scripts/model/synth.ts";

const dir = await Deno.makeTempDir({ prefix: "faultline-gguf-bad-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const cfg = PRESETS.tiny;
const good = join(dir, "good.gguf");
await synthGguf(good, cfg, { seed: 1 });
const goodBytes = await Deno.readFile(good);
const goodFile = await GgufFile.open(good);

let n = 0;
async function bytesFile(bytes: Uint8Array): Promise<string> {
  const p = join(dir, `bad-${n++}.gguf`);
  await Deno.writeFile(p, bytes);
  return p;
}

async function tinyFile(
  edit: (m: [string, MetaEntry][], t: TensorSpec[]) => void,
): Promise<string> {
  const m = llamaMetadata(cfg);
  const t = llamaTensorSpecs(cfg, { seed: 1 });
  edit(m, t);
  const p = join(dir, `bad-${n++}.gguf`);
  await writeGguf(p, { metadata: m, tensors: t, unchecked: true });
  return p;
}

async function expectError(
  open: Promise<unknown>,
  path: string,
  code: GgufErrorCode,
  text: string | RegExp,
): Promise<GgufError> {
  try {
    await open;
  } catch (e) {
    assert.ok(e instanceof GgufError, `expected GgufError, got ${e}`);
    assert.equal(e.file, path);
    assert.ok(e.message.startsWith(`${path}: `), e.message);
    assert.equal(e.code, code, e.message);
    if (typeof text === "string") assert.ok(e.message.includes(text), `"${e.message}" lacks "${text}"`);
    else assert.match(e.message, text);
    return e;
  }
  assert.fail(`${path}: no error, expected ${code}`);
}

Deno.test("gguf error: missing file", async () => {
  const p = join(dir, "nope.gguf");
  await expectError(GgufFile.open(p), p, "io", "cannot read");
});

Deno.test("gguf error: wrong magic", async () => {
  const b = goodBytes.slice(0, 4096);
  b.set(new TextEncoder().encode("GGML"), 0);
  const p = await bytesFile(b);
  await expectError(GgufFile.open(p), p, "bad-magic", `not a GGUF file: magic is "GGML"`);
  const q = await bytesFile(new TextEncoder().encode('{"not": "a model"}'));
  await expectError(GgufFile.open(q), q, "bad-magic", "not a GGUF file");
});

Deno.test("gguf error: unsupported versions", async () => {
  for (const [v, text] of [[1, "unsupported GGUF version 1"], [4, "unsupported GGUF version 4"]] as const) {
    const b = goodBytes.slice(0, 4096);
    new DataView(b.buffer).setUint32(4, v, true);
    const p = await bytesFile(b);
    await expectError(GgufFile.open(p), p, "bad-version", text);
  }
  const b = goodBytes.slice(0, 4096);
  new DataView(b.buffer).setUint32(4, 3, false);
  const p = await bytesFile(b);
  await expectError(GgufFile.open(p), p, "bad-version", "big-endian GGUF (version 3)");
});

Deno.test("gguf error: truncated at every part of the file", async () => {
  const f = goodFile;
  const last = [...f.tensors.values()].at(-1)!;
  const cuts: [number, string][] = [
    [0, "truncated header"],
    [2, "truncated header"],
    [6, "truncated header"],
    [20, "truncated header"],
    [24, "truncated metadata"],
    [40, "truncated metadata"],
    [Math.floor((24 + f.metadataEnd) / 2), "truncated metadata"],
    [f.metadataEnd - 3, "truncated metadata"],
    [f.metadataEnd + 5, "truncated tensor info"],
    [Math.floor((f.metadataEnd + f.tensorInfoEnd) / 2), "truncated tensor info"],
    [f.tensorInfoEnd - 1, "truncated tensor info"],
    [f.tensorInfoEnd, "truncated"],
    [f.dataOffset, "truncated tensor data: tensor token_embd.weight"],
    [f.dataOffset + 1000, "truncated tensor data: tensor token_embd.weight"],
    [last.offset + 10, `truncated tensor data: tensor ${last.name} needs bytes`],
    [last.offset + last.nBytes! - 1, `truncated tensor data: tensor ${last.name}`],
  ];
  for (const [cut, text] of cuts) {
    const p = await bytesFile(goodBytes.slice(0, cut));
    const e = await expectError(GgufFile.open(p), p, "truncated", text);
    assert.ok(e.message.includes(`${cut} bytes`), `${cut}: ${e.message}`);
  }
  // Exactly the tensor data, without the final padding: still readable.
  const p = await bytesFile(goodBytes.slice(0, last.offset + last.nBytes!));
  await openLlamaGguf(p);
});

Deno.test("gguf error: unsupported tensor type names the tensor and the type", async () => {
  const p = await tinyFile((_, t) => {
    const q = t.find((x) => x.name === "blk.0.attn_q.weight")!;
    q.type = 6; // Q5_0: 32 elements in 22 bytes, a type faultline does not read
    q.nBytes = (64 * 64 / 32) * 22;
    q.data = new Uint8Array(q.nBytes);
  });
  const e = await expectError(
    openLlamaGguf(p),
    p,
    "bad-type",
    "tensor blk.0.attn_q.weight has type Q5_0 (6); faultline reads F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16",
  );
  assert.equal(
    e.problem,
    "tensor blk.0.attn_q.weight has type Q5_0 (6); faultline reads F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16",
  );
  // The header itself parses; only reading that tensor fails.
  const f = await GgufFile.open(p);
  assert.equal(f.tensor("blk.0.attn_q.weight").typeName, "Q5_0");
  await expectError(f.readTensorBytes("blk.0.attn_q.weight"), p, "bad-type", "has type Q5_0 (6)");
  assert.equal((await f.readTensorF32("blk.0.attn_k.weight")).length, 32 * 64);
});

Deno.test("gguf error: absurd dimensions", async () => {
  const cases: [(number | bigint)[], string][] = [
    [[64, 0], "zero dimension ne[1]"],
    [[2n ** 64n - 5n], "has a negative dimension ne[0] = -5"],
    [[1, 1, 1, 1, 64], "has 5 dimensions"],
    [[], "has 0 dimensions"],
    [[2 ** 32, 2 ** 32, 16], "absurd size"],
  ];
  for (const [dims, text] of cases) {
    const p = join(dir, `dims-${n++}.gguf`);
    await writeGguf(p, {
      metadata: [["general.architecture", meta.str("llama")]],
      tensors: [{ name: "blk.0.attn_q.weight", shape: [1], rawDims: dims, type: GgmlType.F32, nBytes: 64 }],
      unchecked: true,
    });
    await expectError(GgufFile.open(p), p, "bad-dims", text);
  }
});

Deno.test("gguf error: bad alignment and unaligned offsets", async () => {
  const p = await tinyFile((m) => m.push(["general.alignment", meta.u32(24)]));
  await expectError(GgufFile.open(p), p, "bad-alignment", "general.alignment is 24");
  // Move the last tensor's recorded offset by 4 bytes.
  const b = goodBytes.slice();
  const dv = new DataView(b.buffer);
  const off = goodFile.tensorInfoEnd - 8;
  dv.setBigUint64(off, dv.getBigUint64(off, true) + 4n, true);
  const q = await bytesFile(b);
  await expectError(GgufFile.open(q), q, "bad-offset", "not a multiple of the alignment 32");
});

Deno.test("gguf error: missing required tensors", async () => {
  for (
    const name of ["token_embd.weight", "output_norm.weight", "blk.1.ffn_down.weight", "blk.0.attn_v.weight"]
  ) {
    const p = await tinyFile((_, t) => t.splice(t.findIndex((x) => x.name === name), 1));
    await expectError(openLlamaGguf(p), p, "missing-tensor", `missing required tensor: ${name}`);
  }
  const p = await tinyFile((_, t) => t.splice(t.findIndex((x) => x.name === "blk.1.attn_norm.weight")));
  await expectError(
    openLlamaGguf(p),
    p,
    "missing-tensor",
    "missing required tensors: blk.1.attn_norm.weight, ",
  );
});

Deno.test("gguf error: missing or mistyped metadata", async () => {
  for (
    const key of [
      "general.architecture",
      "llama.embedding_length",
      "llama.feed_forward_length",
      "llama.block_count",
      "llama.attention.head_count",
      "llama.attention.layer_norm_rms_epsilon",
      "llama.context_length",
    ]
  ) {
    const p = await tinyFile((m) => m.splice(m.findIndex(([k]) => k === key), 1));
    await expectError(openLlamaGguf(p), p, "missing-key", `missing required metadata key ${key}`);
  }
  const p = await tinyFile((m) => {
    m.find(([k]) => k === "llama.block_count")![1] = meta.str("two");
  });
  await expectError(openLlamaGguf(p), p, "bad-metadata", "metadata llama.block_count is STRING");
  const q = await tinyFile((m) => {
    m.find(([k]) => k === "general.architecture")![1] = meta.str("qwen2");
  });
  await expectError(openLlamaGguf(q), q, "not-llama", `architecture is "qwen2"; faultline loads llama`);
  const r = await tinyFile((m) => {
    m.find(([k]) => k === "llama.attention.head_count_kv")![1] = meta.u32(3);
  });
  await expectError(openLlamaGguf(r), r, "bad-metadata", "nHeads 4 is not a multiple of nKvHeads 3");
});

Deno.test("gguf error: malformed header and head-size metadata", async () => {
  // The first metadata entry's value type (after the 20-character key general.architecture) set to 99.
  const b = goodBytes.slice();
  new DataView(b.buffer).setUint32(24 + 8 + 20, 99, true);
  const p = await bytesFile(b);
  await expectError(
    GgufFile.open(p),
    p,
    "malformed",
    "metadata general.architecture has unknown value type 99",
  );
  const q = await tinyFile((m) => {
    m.find(([k]) => k === "llama.rope.dimension_count")![1] = meta.u32(8);
  });
  await expectError(openLlamaGguf(q), q, "bad-metadata", "llama.rope.dimension_count is 8 but the head size");
});

Deno.test("gguf: optional metadata falls back to llama.cpp's defaults", async () => {
  const p = await tinyFile((m) => {
    for (const key of ["llama.rope.freq_base", "tokenizer.ggml.tokens", "llama.vocab_size"]) {
      m.splice(m.findIndex(([k]) => k === key), 1);
    }
  });
  const g = await openLlamaGguf(p);
  assert.equal(g.config.ropeBase, 10000);
  assert.equal(g.config.vocabSize, cfg.vocabSize); // from token_embd's shape
});

Deno.test("gguf error: shapes inconsistent with the config", async () => {
  const cases: [string, number[], string][] = [
    [
      "blk.0.attn_q.weight",
      [64, 32],
      "tensor blk.0.attn_q.weight has shape [64, 32] (GGUF ne [32, 64]); the config expects [heads*headDim, dim] = [64, 64]",
    ],
    ["blk.1.attn_k.weight", [64, 64], "expects [kvHeads*headDim, dim] = [32, 64]"],
    ["blk.0.ffn_down.weight", [172, 64], "expects [dim, ffn] = [64, 172]"],
    ["token_embd.weight", [255, 64], "expects [vocab, dim] = [256, 64]"],
    ["output_norm.weight", [64, 1], "expects [dim] = [64]"],
  ];
  for (const [name, shape, text] of cases) {
    const p = await tinyFile((_, t) => {
      const x = t.find((s) => s.name === name)!;
      x.shape = shape;
      x.data = undefined;
      x.nBytes = shape.reduce((a, b) => a * b) * 4;
    });
    await expectError(openLlamaGguf(p), p, "bad-shape", text);
  }
});
