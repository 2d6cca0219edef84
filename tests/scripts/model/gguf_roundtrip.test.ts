// Round trips through the GGUF writer and reader: values, shapes, metadata, layout details.

import assert from "node:assert/strict";
import { join } from "node:path";
import { GgmlType, GgufFile, GgufValueType, openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { meta, writeGguf } from "../../../scripts/model/gguf_write.ts";
import { presetConfig, PRESETS } from "../../../scripts/model/config.ts";
import { f16ArrayToF32, synthGguf, synthWeights } from "../../../scripts/model/synth.ts";

async function withTmp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "faultline-gguf-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const dtype of ["f32", "f16"] as const) {
  Deno.test(`gguf round trip: tiny ${dtype} values, shapes, metadata`, () =>
    withTmp(async (dir) => {
      const path = join(dir, `tiny-${dtype}.gguf`);
      const cfg = PRESETS.tiny;
      const res = await synthGguf(path, cfg, { seed: 7, dtype });
      const m = await openLlamaGguf(path);
      assert.equal(m.file.fileSize, res.bytes);
      assert.equal(m.file.version, 3);
      assert.equal(m.file.alignment, 32);
      assert.equal(m.tiedOutput, false);
      assert.deepEqual(m.config, { ...cfg, normEps: Math.fround(cfg.normEps) });
      assert.equal(m.file.metadata["general.architecture"], "llama");
      assert.equal(m.file.metadata["general.file_type"], dtype === "f16" ? 1 : 0);
      assert.equal(m.file.metadataTypes["llama.embedding_length"].type, GgufValueType.UINT32);
      assert.equal(m.file.metadataTypes["llama.rope.freq_base"].type, GgufValueType.FLOAT32);
      assert.deepEqual(m.file.metadataTypes["tokenizer.ggml.tokens"], {
        type: GgufValueType.ARRAY,
        itemType: GgufValueType.STRING,
      });
      const tokens = m.file.metadata["tokenizer.ggml.tokens"] as string[];
      assert.equal(tokens.length, cfg.vocabSize);
      assert.equal(tokens[1], "<s>");

      const expected = [...synthWeights(cfg, 7, { dtype })];
      assert.equal(m.layout.length, expected.length);
      assert.deepEqual([...m.file.tensors.keys()], expected.map((t) => t.name));
      for (const t of expected) {
        const info = m.file.tensor(t.name);
        assert.deepEqual(info.shape, t.shape, t.name);
        assert.deepEqual(info.dims, [...t.shape].reverse(), t.name);
        assert.equal(info.type, t.ggmlType, t.name);
        assert.equal(info.nBytes, t.nBytes, t.name);
        assert.equal(info.offset, res.offsets.get(t.name), t.name);
        assert.equal(info.offset % 32, 0, t.name);
        const want = t.data();
        const got = await m.file.readTensorF32(t.name);
        if (want instanceof Float32Array) {
          assert.deepEqual(got, want, t.name);
        } else {
          assert.deepEqual(new Uint16Array((await m.file.readTensorBytes(t.name)).buffer), want, t.name);
          assert.deepEqual(got, f16ArrayToF32(want as Uint16Array), t.name);
        }
      }
      // Norm weights stay F32 in an f16 model, as llama.cpp stores them.
      assert.equal(m.file.tensor("blk.0.attn_norm.weight").type, GgmlType.F32);
      assert.equal(m.file.tensor("blk.0.attn_q.weight").type, dtype === "f16" ? GgmlType.F16 : GgmlType.F32);
    }));
}

Deno.test("gguf: chunked tensor reads equal the whole read", () =>
  withTmp(async (dir) => {
    const path = join(dir, "tiny.gguf");
    await synthGguf(path, PRESETS.tiny, { dtype: "f16" });
    const f = await GgufFile.open(path);
    const whole = await f.readTensorBytes("token_embd.weight");
    const parts: Uint8Array[] = [];
    for await (const c of f.readTensorChunks("token_embd.weight", 1001)) {
      assert.ok(c.length <= 1001 && c.length % 2 === 0);
      parts.push(c);
    }
    const joined = new Uint8Array(parts.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of parts) joined.set(c, (o += c.length) - c.length);
    assert.deepEqual(joined, whole);
  }));

Deno.test("gguf layout: general.alignment 64, v2 files, tied output", () =>
  withTmp(async (dir) => {
    const cfg = presetConfig("tiny", { nLayers: 1 });
    const a = join(dir, "a64.gguf");
    await synthGguf(a, cfg, { alignment: 64, version: 2, tiedOutput: true, seed: 3 });
    const m = await openLlamaGguf(a);
    assert.equal(m.file.version, 2);
    assert.equal(m.file.alignment, 64);
    assert.equal(m.file.metadata["general.alignment"], 64);
    assert.equal(m.file.dataOffset % 64, 0);
    assert.ok(m.file.dataOffset >= m.file.tensorInfoEnd && m.file.dataOffset - m.file.tensorInfoEnd < 64);
    for (const t of m.file.tensors.values()) assert.equal(t.offset % 64, 0, t.name);
    // Tensors are packed in order, each padded to the alignment, and the file ends padded.
    const infos = [...m.file.tensors.values()];
    for (let i = 1; i < infos.length; i++) {
      assert.equal(infos[i].offset, Math.ceil((infos[i - 1].offset + infos[i - 1].nBytes!) / 64) * 64);
    }
    const last = infos[infos.length - 1];
    assert.equal(m.file.fileSize, Math.ceil((last.offset + last.nBytes!) / 64) * 64);
    assert.equal(m.tiedOutput, true);
    assert.ok(!m.file.tensors.has("output.weight"));
    assert.equal(m.layout.length, 2 + 9);
    // Same seed, same values, whatever the layout.
    const w = [...synthWeights(cfg, 3, { tiedOutput: true })].find((t) =>
      t.name === "blk.0.ffn_down.weight"
    )!;
    assert.deepEqual(await m.file.readTensorF32("blk.0.ffn_down.weight"), w.data());
  }));

Deno.test("gguf: BF16 tensors read as f32; other metadata types round trip", () =>
  withTmp(async (dir) => {
    const path = join(dir, "bf16.gguf");
    const bits = new Uint16Array([0x3f80, 0xc000, 0x0000, 0x8000, 0x7f80, 0x3e20]);
    await writeGguf(path, {
      metadata: [
        ["general.architecture", meta.str("test")],
        ["u8", meta.u8(200)],
        ["i8", meta.i8(-5)],
        ["u16", meta.u16(60000)],
        ["i16", meta.i16(-3000)],
        ["i32", meta.i32(-7)],
        ["f64", meta.f64(0.1)],
        ["u64", meta.u64(2n ** 40n)],
        ["i64", meta.i64(-(2n ** 40n))],
        ["bool", meta.bool(true)],
        ["ints", meta.arr(GgufValueType.INT32, [1, -2, 3])],
      ],
      tensors: [{ name: "x", shape: [2, 3], type: GgmlType.BF16, data: bits }],
    });
    const f = await GgufFile.open(path);
    assert.deepEqual(
      { ...f.metadata },
      {
        "general.architecture": "test",
        u8: 200,
        i8: -5,
        u16: 60000,
        i16: -3000,
        i32: -7,
        f64: 0.1,
        u64: 2n ** 40n,
        i64: -(2n ** 40n),
        bool: true,
        ints: [1, -2, 3],
      },
    );
    assert.equal(f.tensor("x").typeName, "BF16");
    assert.deepEqual([...(await f.readTensorF32("x"))], [1, -2, 0, -0, Infinity, 0.15625]);
  }));
