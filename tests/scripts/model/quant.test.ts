/**
 * ggml block quantization in TypeScript (scripts/model/quant.ts): the block layouts read from
 * hand-built blocks (scales, signs, nibble order, Q4_K's 6-bit packing for every value at every
 * sub-block, Q6_K), the quantizers' round trip within each format's error, and synthetic GGUF files
 * of every quantized type read back byte for byte (types, the f16 fallback for rows that are not
 * whole blocks, the byte-fallback vocabulary).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { presetConfig } from "../../../scripts/model/config.ts";
import { f16BitsToF32, f32ToF16Bits } from "../../../scripts/model/f16.ts";
import { GgmlType, openLlamaGguf } from "../../../scripts/model/gguf.ts";
import {
  dequantize,
  QUANT_FORMATS,
  quantizeRows,
  type QuantType,
  scaleMinK4,
} from "../../../scripts/model/quant.ts";
import { synthGguf, synthWeights } from "../../../scripts/model/synth.ts";
import { rngFor } from "../../../scripts/reference/harness.ts";

function putHalf(b: Uint8Array, at: number, v: number) {
  const h = f32ToF16Bits(v);
  b[at] = h & 255;
  b[at + 1] = h >> 8;
}

Deno.test("quant: Q8_0 block = f16 d, then 32 signed bytes", () => {
  const b = new Uint8Array(34);
  putHalf(b, 0, 0.5);
  for (let j = 0; j < 32; j++) b[2 + j] = (j * 8 - 128) & 255; // -128 .. 120
  const v = dequantize(GgmlType.Q8_0, b, 32);
  for (let j = 0; j < 32; j++) assert.equal(v[j], 0.5 * (j * 8 - 128), `${j}`);
});

Deno.test("quant: Q4_0 block = f16 d, then 16 bytes: low nibbles weights 0..15, high 16..31, minus 8", () => {
  const b = new Uint8Array(18);
  putHalf(b, 0, -2);
  for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
  const v = dequantize(GgmlType.Q4_0, b, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(v[j], -2 * (j - 8));
    assert.equal(v[16 + j], -2 * (15 - j - 8));
  }
});

/** The 12 scale bytes of a Q4_K super-block, packed from ggml's description (quantize_row_q4_K_ref). */
function packK4(sc: number[], m: number[]): Uint8Array {
  const q = new Uint8Array(12);
  for (let j = 0; j < 4; j++) {
    q[j] = sc[j];
    q[j + 4] = m[j];
  }
  for (let j = 4; j < 8; j++) {
    q[j + 4] = (sc[j] & 15) | ((m[j] & 15) << 4);
    q[j - 4] |= (sc[j] >> 4) << 6;
    q[j] |= (m[j] >> 4) << 6;
  }
  return q;
}

Deno.test("quant: Q4_K 6-bit scales and mins unpack for every value at every sub-block", () => {
  for (let v = 0; v < 64; v++) {
    for (let j = 0; j < 8; j++) {
      const sc = Array.from({ length: 8 }, (_, i) => (i === j ? v : (v * 7 + i * 13) % 64));
      const m = Array.from({ length: 8 }, (_, i) => (i === j ? 63 - v : (v * 5 + i * 11) % 64));
      const q = packK4(sc, m);
      for (let i = 0; i < 8; i++) {
        assert.deepEqual(scaleMinK4(q, 0, i), [sc[i], m[i]], `v ${v} j ${j} i ${i}`);
      }
    }
  }
});

Deno.test("quant: Q4_K super-block: sub-block 2c+h is nibble h of quant bytes 32c..32c+31", () => {
  const b = new Uint8Array(144);
  putHalf(b, 0, 0.25);
  putHalf(b, 2, 0.125);
  const sc = [1, 2, 3, 4, 5, 33, 47, 63], m = [0, 1, 2, 3, 40, 50, 60, 63];
  b.set(packK4(sc, m), 4);
  for (let i = 0; i < 128; i++) b[16 + i] = (i % 16) | (((i * 3) % 16) << 4);
  const v = dequantize(GgmlType.Q4_K, b, 256);
  for (let s = 0; s < 8; s++) {
    for (let l = 0; l < 32; l++) {
      const byte = b[16 + 32 * (s >> 1) + l];
      const q = s % 2 === 0 ? byte & 15 : byte >> 4;
      assert.equal(v[32 * s + l], 0.25 * sc[s] * q - 0.125 * m[s], `sub-block ${s} weight ${l}`);
    }
  }
});

Deno.test("quant: Q6_K super-block (read only): ql, qh, int8 scales, then f16 d", () => {
  const b = new Uint8Array(210);
  for (let i = 0; i < 128; i++) b[i] = (i * 37) & 255; // ql
  for (let i = 0; i < 64; i++) b[128 + i] = (i * 91) & 255; // qh
  for (let i = 0; i < 16; i++) b[192 + i] = (i * 29 - 100) & 255; // scales, signed
  putHalf(b, 208, 0.01);
  const v = dequantize(GgmlType.Q6_K, b, 256);
  const d = f16BitsToF32(f32ToF16Bits(0.01));
  const scale = (i: number) => ((b[192 + i] << 24) >> 24);
  // weight 96 + l of the first half: high nibble of ql[32 + l], bits 6-7 of qh[l], scale 6 + l/16
  for (const l of [0, 17, 31]) {
    const q = ((b[32 + l] >> 4) | (((b[128 + l] >> 6) & 3) << 4)) - 32;
    assert.equal(v[96 + l], d * scale(6 + (l >> 4)) * q, `weight ${96 + l}`);
  }
  // weight 128 + l: the second half starts at ql[64], qh[32], scales[8]
  const q0 = ((b[64] & 15) | ((b[160] & 3) << 4)) - 32;
  assert.equal(v[128], d * scale(8) * q0);
});

const BOUND: Record<QuantType, number> = { q8_0: 0.01, q4_0: 0.12, q4_k: 0.12 };

for (const type of ["q8_0", "q4_0", "q4_k"] as const) {
  Deno.test(`quant: ${type} quantize -> dequantize stays within the format's error`, () => {
    const rng = rngFor(`quantize ${type}`);
    const rows = 8, cols = 1024;
    const x = rng.floats(rows * cols, -1, 1);
    const bytes = quantizeRows(type, x, cols);
    assert.equal(bytes.length, rows * (cols / QUANT_FORMATS[type].block) * QUANT_FORMATS[type].bytes);
    const y = dequantize(QUANT_FORMATS[type].ggml, bytes, rows * cols);
    let num = 0, den = 0;
    for (let i = 0; i < x.length; i++) {
      num += (y[i] - x[i]) ** 2;
      den += x[i] ** 2;
    }
    const rel = Math.sqrt(num / den);
    assert.ok(rel < BOUND[type], `${type}: relative RMS error ${rel}`);
    assert.ok(rel > 0, "quantization loses something");
    assert.throws(() => quantizeRows(type, x.subarray(0, 48), 48), /whole blocks/);
  });
}

for (const dtype of ["q8_0", "q4_0", "q4_k"] as const) {
  Deno.test(`gguf round trip: a synthetic ${dtype} model reads back byte for byte`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "faultline-quant-" });
    try {
      // dim 256 and ffn 512 are whole Q4_K super-blocks; vocab 300 rows are whole blocks too
      const cfg = presetConfig("tiny", { dim: 256, ffnDim: 512, vocabSize: 300, nHeads: 4, nKvHeads: 2 });
      const path = join(dir, `${dtype}.gguf`);
      await synthGguf(path, cfg, { seed: 3, dtype });
      const m = await openLlamaGguf(path);
      assert.equal(m.file.metadata["general.file_type"], { q8_0: 7, q4_0: 2, q4_k: 14 }[dtype]);
      for (const t of synthWeights(cfg, 3, { dtype })) {
        const info = m.file.tensor(t.name);
        assert.equal(info.type, t.layout.kind === "norm" ? GgmlType.F32 : QUANT_FORMATS[dtype].ggml, t.name);
        const bytes = await m.file.readTensorBytes(t.name);
        assert.deepEqual(bytes, new Uint8Array((t.data() as Uint8Array).buffer), t.name);
        if (t.layout.kind !== "norm") {
          const values = await m.file.readTensorF32(t.name);
          assert.deepEqual(values, Float32Array.from(dequantize(info.type, bytes, t.nElements)), t.name);
        }
      }
      const tokens = m.file.metadata["tokenizer.ggml.tokens"] as string[];
      assert.deepEqual([tokens[0], tokens[1], tokens[2], tokens[3], tokens[68], tokens[258]], [
        "<unk>",
        "<s>",
        "</s>",
        "<0x00>",
        "<0x41>",
        "<0xFF>",
      ]);
      assert.equal((m.file.metadata["tokenizer.ggml.token_type"] as number[])[100], 6); // BYTE
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("synth: a quantized type applies to whole-block rows only; the others are f16", () => {
  const cfg = presetConfig("tiny"); // dim 64, ffn 172: Q4_K needs 256-weight rows, Q8_0 32
  const types = (dtype: QuantType) =>
    new Map([...synthWeights(cfg, 1, { dtype })].map((t) => [t.name.replace(/^blk\.\d+\./, ""), t.dtype]));
  const q8 = types("q8_0"), q4k = types("q4_k");
  assert.equal(q8.get("attn_q.weight"), "q8_0"); // rows of 64
  assert.equal(q8.get("ffn_down.weight"), "f16"); // rows of 172
  assert.equal(q8.get("attn_norm.weight"), "f32");
  assert.equal(q4k.get("attn_q.weight"), "f16");
});
