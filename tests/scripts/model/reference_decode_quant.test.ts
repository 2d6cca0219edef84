/**
 * Full decodes of quantized models (Q8_0, Q4_0, Q4_K weights dequantized in the kernels) through the
 * block scheduler against the float64 reference of the same dequantized weights, token for token:
 * models built on the device, a Q4_K GGUF file uploaded by the engine (its embedding table
 * dequantized to f16 on upload), and the f32 KV cache against the default f16 one. The reference
 * rounds where the engine does (f16 KV cache, the prefill GEMM path's f16 operands).
 */
import assert from "node:assert/strict";
import { presetConfig } from "../../../scripts/model/config.ts";
import { f32ToF16Bits } from "../../../scripts/model/f16.ts";
import { GgmlType, openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { writeGguf } from "../../../scripts/model/gguf_write.ts";
import { gpuModel } from "../../../scripts/model/gpu_model.ts";
import { ReferenceForward } from "../../../scripts/model/reference_forward.ts";
import { llamaMetadata, llamaTensorSpecs, synthGguf } from "../../../scripts/model/synth.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { compareDecode } from "../../helpers/decode_compare.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";

// Every projection's rows are whole Q4_K super-blocks (256); head_dim 64 takes the flash prefill.
const CONFIG = presetConfig("tiny", { dim: 256, ffnDim: 512, nHeads: 4, nKvHeads: 2, vocabSize: 300 });
const PROMPT = [1, 72, 101, 108, 108, 111, 44, 32, 119];
const TOKENS = 16;

for (const dtype of ["q8_0", "q4_0", "q4_k"] as const) {
  Deno.test(
    { name: `decode: ${dtype} model on the device matches the float64 reference`, ...ffiTest },
    async () => {
      const dev = testDevice();
      using model = gpuModel(dev, CONFIG, 21, { dtype, fill: "exact" });
      assert.equal(model.weight("blk.0.ffn_down.weight").dtype, dtype);
      assert.equal(model.weight("token_embd.weight").dtype, "f16");
      using engine = await LlamaEngine.create(dev, model, { maxContext: 64, maxPrefill: 8 });
      const ref = ReferenceForward.fromGpuModel(model, { maxContext: 64 });
      const r = compareDecode(`${dtype} (prefill in 2 passes)`, engine, ref, PROMPT, TOKENS);
      assert.equal(r.ties, 0, "the seed is chosen so that no tie occurs");
      assert.equal(r.matched, TOKENS);
      assert.ok(r.maxLogitErr < 1e-3, `logits error ${r.maxLogitErr}`); // f16 roundings near a tie of two f16 values
    },
  );
}

Deno.test(
  { name: "decode: a Q4_K GGUF file uploaded by the engine matches the reference", ...ffiTest },
  async () => {
    const dev = testDevice();
    const dir = await Deno.makeTempDir({ prefix: "faultline_decode_q4k_" });
    try {
      const path = `${dir}/q4k.gguf`;
      await synthGguf(path, CONFIG, { seed: 22, dtype: "q4_k" });
      const gguf = await openLlamaGguf(path);
      using engine = await LlamaEngine.create(dev, gguf, { maxContext: 48 });
      assert.equal(engine.model.weight("blk.1.attn_q.weight").dtype, "q4_k");
      assert.equal(engine.model.weight("token_embd.weight").dtype, "f16");
      const ref = await ReferenceForward.fromGguf(gguf, { maxContext: 48 });
      const r = compareDecode("q4_k gguf", engine, ref, PROMPT, TOKENS);
      assert.equal(r.ties, 0);
      assert.equal(r.matched, TOKENS);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test({ name: "decode: f32 and f16 KV caches each match their reference", ...ffiTest }, async () => {
  const dev = testDevice();
  using model = gpuModel(dev, CONFIG, 23, { dtype: "f16", fill: "exact" });
  for (const kv of ["f32", "f16"] as const) {
    using engine = await LlamaEngine.create(dev, model, { maxContext: 64, kvCache: kv });
    assert.equal(engine.buffer("k_cache.L0").bytes, 64 * 2 * 64 * (kv === "f16" ? 2 : 4));
    const ref = ReferenceForward.fromGpuModel(model, { maxContext: 64, numerics: { kv } });
    const r = compareDecode(`f16 weights, ${kv} KV cache`, engine, ref, PROMPT, TOKENS);
    assert.equal(r.matched, TOKENS);
    assert.ok(r.maxLogitErr < 1e-3, `logits error ${r.maxLogitErr}`); // f16 roundings near a tie of two f16 values
  }
});

/** Random Q6_K super-blocks of `rows` x `cols` weights (f16 d small enough for weights of about 0.01). */
function randomQ6K(seed: number, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * (cols / 256) * 210);
  let x = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  const d = f32ToF16Bits(2e-6 + (seed % 7) * 1e-6);
  for (let b = 0; b < out.length / 210; b++) [out[b * 210 + 208], out[b * 210 + 209]] = [d & 255, d >> 8];
  return out;
}

Deno.test(
  { name: "decode: a Q4_K_M-like mix (Q6_K output and ffn_down) matches the reference", ...ffiTest },
  async () => {
    const dev = testDevice();
    const dir = await Deno.makeTempDir({ prefix: "faultline_decode_q4km_" });
    try {
      const path = `${dir}/q4km.gguf`;
      const specs = llamaTensorSpecs(CONFIG, { seed: 24, dtype: "q4_k" });
      for (const [name, seed] of [["output.weight", 1], ["blk.0.ffn_down.weight", 2]] as const) {
        const t = specs.find((s) => s.name === name)!;
        Object.assign(t, { type: GgmlType.Q6_K, data: randomQ6K(seed, t.shape[0], t.shape[1]) });
      }
      await writeGguf(path, { metadata: llamaMetadata(CONFIG, { dtype: "q4_k" }), tensors: specs });
      const gguf = await openLlamaGguf(path);
      using engine = await LlamaEngine.create(dev, gguf, { maxContext: 48 });
      assert.equal(engine.model.weight("output.weight").dtype, "f16"); // Q6_K: dequantized on upload
      assert.equal(engine.model.weight("blk.0.ffn_down.weight").dtype, "f16");
      assert.equal(engine.model.weight("blk.1.ffn_down.weight").dtype, "q4_k");
      const ref = await ReferenceForward.fromGguf(gguf, { maxContext: 48 });
      const r = compareDecode("q4_k with q6_k tensors", engine, ref, PROMPT, TOKENS);
      assert.equal(r.matched, TOKENS);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
