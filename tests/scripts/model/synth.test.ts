// Synthetic models: f16/bf16 conversion, seeded weights, stable activations, 7B-shaped headers, CLI.

import assert from "node:assert/strict";
import { join } from "node:path";
import { openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { type LlamaConfig, parameterCount, presetConfig } from "../../../scripts/model/config.ts";
import {
  bf16BitsToF32,
  f16ArrayToF32,
  f16BitsToF32,
  f32ArrayToF16,
  f32ToBf16Bits,
  f32ToF16Bits,
  main,
  synthGguf,
  synthWeights,
} from "../../../scripts/model/synth.ts";

Deno.test("f16: every bit pattern decodes to its IEEE binary16 value and encodes back to itself", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const values = f16ArrayToF32(all);
  const back = f32ArrayToF16(values);
  for (let i = 0; i < 65536; i++) {
    const e = (i >>> 10) & 0x1f, m = i & 0x3ff, s = i & 0x8000 ? -1 : 1;
    const want = e === 31
      ? (m ? NaN : s * Infinity)
      : e === 0
      ? s * m * 2 ** -24
      : s * (1 + m / 1024) * 2 ** (e - 15);
    const hex = `0x${i.toString(16)}`;
    if (Number.isNaN(want)) {
      assert.ok(Number.isNaN(values[i]) && Number.isNaN(f16BitsToF32(i)), hex);
      assert.equal(back[i] & 0x7c00, 0x7c00, hex);
      assert.notEqual(back[i] & 0x3ff, 0, hex);
      continue;
    }
    assert.ok(Object.is(values[i], want), `${hex}: ${values[i]} vs ${want}`);
    assert.ok(Object.is(f16BitsToF32(i), want), hex);
    assert.equal(back[i], i, hex);
    assert.equal(f32ToF16Bits(want), i, hex);
  }
});

Deno.test("f16: f32 -> f16 rounds to nearest even, with subnormals, overflow, inf and nan", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff], // largest finite
    [65519.99, 0x7bff], // rounds down below the halfway point to infinity
    [65520, 0x7c00], // halfway: ties to even = infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to the smallest subnormal: ties to even = 0
    [2 ** -25 * 1.0001, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 ulp: ties to even = 2
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and next: even
    [1 + 3 * 2 ** -11, 0x3c02],
    [2 ** -14 - 2 ** -25, 0x0400], // subnormal rounding up into the normals
    // rounded to f32 first: 1 + 2^-11 + 2^-40 is 1 + 2^-11 in f32, a tie that stays even
    [1 + 2 ** -11 + 2 ** -40, 0x3c00],
  ];
  for (const [x, bits] of cases) assert.equal(f32ToF16Bits(x), bits, `${x}`);
  const arr = f32ArrayToF16(cases.map(([x]) => x));
  cases.forEach(([x, bits], i) => assert.equal(arr[i], bits, `array ${x}`));
  assert.equal(f32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
});

Deno.test("f16: array conversion honours the views' offsets and refuses a short output", () => {
  const backing = new Uint16Array(8).fill(0xffff);
  const out = backing.subarray(3, 6);
  f32ArrayToF16(new Float32Array([1, -2, 0.5]), out);
  assert.deepEqual([...backing], [0xffff, 0xffff, 0xffff, 0x3c00, 0xc000, 0x3800, 0xffff, 0xffff]);
  const wide = new Float32Array(5).fill(7);
  f16ArrayToF32(backing.subarray(3, 6), wide.subarray(1, 4));
  assert.deepEqual([...wide], [7, 1, -2, 0.5, 7]);
  assert.throws(() => f32ArrayToF16([1, 2, 3], new Uint16Array(2)), RangeError);
  assert.throws(() => f16ArrayToF32(new Uint16Array(3), new Float32Array(2)), RangeError);
});

Deno.test("bf16: round to nearest even, specials", () => {
  const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
  const fromBits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0];
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(f32ToBf16Bits(fromBits(0x3f808000)), 0x3f80); // tie, even stays
  assert.equal(f32ToBf16Bits(fromBits(0x3f818000)), 0x3f82); // tie, odd rounds up
  assert.equal(f32ToBf16Bits(fromBits(0x3f808001)), 0x3f81);
  assert.equal(f32ToBf16Bits(Infinity), 0x7f80);
  assert.equal(f32ToBf16Bits(-0), 0x8000);
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
  assert.equal(bf16BitsToF32(0xc040), -3);
  assert.equal(bits(bf16BitsToF32(0x3f81)), 0x3f810000);
});

Deno.test("synthWeights: seeded, order-independent, chunking-independent, scaled like an init", () => {
  const cfg = presetConfig("tiny");
  const a = [...synthWeights(cfg, 5)];
  const b = [...synthWeights(cfg, 5)].reverse();
  const c = [...synthWeights(cfg, 6)];
  assert.equal(a.length, 2 + 1 + 9 * cfg.nLayers);
  for (const t of a) {
    const same = b.find((x) => x.name === t.name)!;
    const d = t.data() as Float32Array;
    assert.deepEqual(same.data(), d);
    assert.notDeepEqual(c.find((x) => x.name === t.name)!.data(), d);
    // Chunks of whole rows, concatenated, equal the whole tensor (odd sizes cross Box-Muller pairs).
    const rowLen = t.shape[t.shape.length - 1];
    const parts = [...t.chunks(3 * rowLen + 1)];
    assert.ok(parts.every((p) => p.length % rowLen === 0 && p.length <= Math.max(rowLen, 3 * rowLen + 1)));
    assert.deepEqual(Float32Array.from(parts.flatMap((p) => [...p])), d);
    // Statistics match the initialisation.
    let s = 0, s2 = 0;
    for (const v of d) (s += v), (s2 += v * v);
    const mean = s / d.length, std = Math.sqrt(s2 / d.length - mean * mean);
    assert.ok(Math.abs(mean - t.mean) < 4 * t.std / Math.sqrt(d.length) + 1e-9, `${t.name} mean ${mean}`);
    assert.ok(Math.abs(std / t.std - 1) < 5 / Math.sqrt(2 * d.length), `${t.name} std ${std} vs ${t.std}`);
  }
  const f16 = [...synthWeights(cfg, 5, { dtype: "f16" })];
  for (const t of f16) {
    const f = a.find((x) => x.name === t.name)!;
    if (t.layout.kind === "norm") assert.equal(t.dtype, "f32");
    else assert.deepEqual(t.data(), f32ArrayToF16(f.data() as Float32Array));
  }
});

/** A one-token llama forward pass (attention over one position returns V) through many layers. */
function forwardOneToken(
  cfg: LlamaConfig,
  seed: number,
  token: number,
): { residualRms: number[]; logits: Float32Array } {
  const w = new Map([...synthWeights(cfg, seed)].map((t) => [t.name, t.data() as Float32Array]));
  const matvec = (m: Float32Array, x: Float32Array, rows: number) => {
    const cols = x.length, y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += m[r * cols + c] * x[c];
      y[r] = s;
    }
    return y;
  };
  const rmsnorm = (x: Float32Array, g: Float32Array) => {
    let s = 0;
    for (const v of x) s += v * v;
    const k = 1 / Math.sqrt(s / x.length + cfg.normEps);
    return x.map((v, i) => v * k * g[i]);
  };
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
  const x = w.get("token_embd.weight")!.slice(token * cfg.dim, (token + 1) * cfg.dim);
  const residualRms = [rms(x)];
  const kv = cfg.nKvHeads * cfg.headDim, group = cfg.nHeads / cfg.nKvHeads;
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}.`;
    const h = rmsnorm(x, w.get(`${p}attn_norm.weight`)!);
    const v = matvec(w.get(`${p}attn_v.weight`)!, h, kv);
    const att = new Float32Array(cfg.dim).map((_, i) =>
      v[Math.floor(Math.floor(i / cfg.headDim) / group) * cfg.headDim + (i % cfg.headDim)]
    );
    const o = matvec(w.get(`${p}attn_output.weight`)!, att, cfg.dim);
    for (let i = 0; i < cfg.dim; i++) x[i] += o[i];
    const h2 = rmsnorm(x, w.get(`${p}ffn_norm.weight`)!);
    const g = matvec(w.get(`${p}ffn_gate.weight`)!, h2, cfg.ffnDim);
    const u = matvec(w.get(`${p}ffn_up.weight`)!, h2, cfg.ffnDim);
    const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
    const d = matvec(w.get(`${p}ffn_down.weight`)!, a, cfg.dim);
    for (let i = 0; i < cfg.dim; i++) x[i] += d[i];
    residualRms.push(rms(x));
  }
  const logits = matvec(w.get("output.weight")!, rmsnorm(x, w.get("output_norm.weight")!), cfg.vocabSize);
  return { residualRms, logits };
}

Deno.test("synthWeights: activations stay finite and bounded over 48 layers", () => {
  const cfg = presetConfig("tiny", { nLayers: 48 });
  for (const token of [0, 17, 255]) {
    const { residualRms, logits } = forwardOneToken(cfg, 1, token);
    assert.ok(residualRms.every((r) => Number.isFinite(r) && r < 4), `residual rms ${residualRms.at(-1)}`);
    assert.ok(logits.every(Number.isFinite));
    const lr = Math.sqrt(logits.reduce((a, v) => a + v * v, 0) / logits.length);
    assert.ok(lr > 0.3 && lr < 3, `logit rms ${lr}`);
  }
});

Deno.test("7B-shaped 2-layer files: metadata and tensor infos without reading the weights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faultline-7b-" });
  try {
    for (const preset of ["llama2-7b", "llama3-8b"] as const) {
      const cfg = presetConfig(preset, { nLayers: 2 });
      const path = join(dir, `${preset}.gguf`);
      // Tensor data is left as a hole: a sparse multi-GB file written in milliseconds.
      const res = await synthGguf(path, cfg, { dtype: "f16", noData: true });
      const m = await openLlamaGguf(path);
      assert.deepEqual(m.config, { ...cfg, normEps: Math.fround(1e-5) });
      assert.equal(m.file.fileSize, res.bytes);
      // f16 matrices, f32 norms: 2 bytes a parameter plus 2 more for each norm weight.
      const bytes = parameterCount(cfg) * 2 + (2 * cfg.nLayers + 1) * cfg.dim * 2;
      const last = [...m.file.tensors.values()].at(-1)!;
      assert.equal(last.offset + last.nBytes! - m.file.dataOffset, bytes);
      assert.equal(m.file.fileSize, m.file.dataOffset + bytes);
      assert.deepEqual(m.file.tensor("token_embd.weight").shape, [cfg.vocabSize, 4096]);
      assert.deepEqual(m.file.tensor("token_embd.weight").dims, [4096, cfg.vocabSize]);
      assert.deepEqual(m.file.tensor("blk.1.attn_k.weight").shape, [cfg.nKvHeads * 128, 4096]);
      assert.deepEqual(m.file.tensor("blk.1.ffn_down.weight").shape, [4096, cfg.ffnDim]);
      assert.equal(m.file.tensor("blk.1.ffn_up.weight").typeName, "F16");
      assert.equal(m.file.tensor("blk.1.ffn_norm.weight").typeName, "F32");
      const norm = await m.file.readTensorF32("blk.1.ffn_norm.weight");
      assert.equal(norm.length, 4096);
    }
    const l3 = await openLlamaGguf(join(dir, "llama3-8b.gguf"));
    assert.equal(l3.config.ffnDim, 14336);
    assert.equal(l3.config.ropeBase, 500000);
    assert.equal((l3.file.metadata["tokenizer.ggml.tokens"] as string[]).length, 128256);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("synth CLI: writes a tiny model with the flags' shapes and seed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faultline-cli-" });
  const log = console.log, err = console.error;
  const out: string[] = [];
  console.log = (...a) => out.push(a.join(" "));
  console.error = (...a) => out.push(a.join(" "));
  try {
    const path = join(dir, "t.gguf");
    assert.equal(
      await main([
        "--preset",
        "tiny",
        "--out",
        path,
        "--dtype",
        "f16",
        "--layers",
        "3",
        "--ffn",
        "96",
        "--seed",
        "9",
      ]),
      0,
    );
    const m = await openLlamaGguf(path);
    assert.equal(m.config.nLayers, 3);
    assert.equal(m.config.ffnDim, 96);
    assert.equal(m.file.tensor("blk.2.ffn_up.weight").typeName, "F16");
    const w = [...synthWeights(m.config, 9, { dtype: "f16" })].find((t) => t.name === "blk.2.ffn_up.weight")!;
    assert.deepEqual(
      await m.file.readTensorF32("blk.2.ffn_up.weight"),
      f16ArrayToF32(w.data() as Uint16Array),
    );
  } finally {
    console.log = log;
    console.error = err;
    await Deno.remove(dir, { recursive: true });
  }
});
