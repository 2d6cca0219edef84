/**
 * Models in device memory for the scheduler: exact random weights equal synthWeights', the rotated
 * fill gives every tensor the right scale and a different start, GGUF uploads convert types as asked,
 * and a 7B-shaped f16 model with the rotated fill builds fast; the workload bench's decode runs.
 */
import assert from "node:assert/strict";
import { presetConfig } from "../../../scripts/model/config.ts";
import { f16ArrayToF32, f32ArrayToF16 } from "../../../scripts/model/f16.ts";
import { openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { gpuModel, uploadGguf } from "../../../scripts/model/gpu_model.ts";
import { ReferenceForward } from "../../../scripts/model/reference_forward.ts";
import { synthGguf, synthWeights } from "../../../scripts/model/synth.ts";
import { runDecodeBench } from "../../../scripts/bench/workload_bench.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";

function stats(a: Float32Array): { mean: number; std: number } {
  let s = 0, ss = 0;
  for (const v of a) {
    s += v;
    ss += v * v;
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(ss / a.length - mean * mean) };
}

Deno.test({ name: "gpu model: exact fill equals synthWeights, names and dtypes", ...ffiTest }, () => {
  const dev = testDevice();
  const config = presetConfig("tiny");
  using model = gpuModel(dev, config, 5, { dtype: "f16" });
  assert.match(model.source, /exact/);
  for (const t of synthWeights(config, 5, { dtype: "f16" })) {
    const w = model.weight(t.name);
    assert.equal(w.buffer.name, t.name);
    assert.equal(w.dtype, t.dtype);
    assert.deepEqual(w.shape, t.shape);
    const want = t.data();
    const got = model.readF32(t.name);
    assert.deepEqual(got, want instanceof Uint16Array ? f16ArrayToF32(want) : want, t.name);
  }
  assert.equal(model.outputWeight.name, "output.weight");
  assert.throws(() => model.weight("blk.9.attn_q.weight"), /no tensor/);
  model.free();
  assert.equal(model.freed, true);
});

Deno.test(
  { name: "gpu model: the rotated fill has each tensor's scale and its own start", ...ffiTest },
  () => {
    const dev = testDevice();
    const config = presetConfig("llama2-7b", {
      dim: 256,
      ffnDim: 688,
      nHeads: 4,
      nKvHeads: 4,
      nLayers: 2,
      vocabSize: 1000,
    });
    using model = gpuModel(dev, config, 9, { dtype: "f16", fill: "rotated", blockElements: 1 << 16 });
    assert.match(model.source, /rotated/);
    const byName = new Map([...synthWeights(config, 9, { dtype: "f16" })].map((t) => [t.name, t]));
    for (
      const name of ["token_embd.weight", "blk.0.attn_q.weight", "blk.1.ffn_down.weight", "output.weight"]
    ) {
      const s = stats(model.readF32(name));
      const want = byName.get(name)!;
      assert.ok(Math.abs(s.std / want.std - 1) < 0.05, `${name}: std ${s.std} vs ${want.std}`);
      assert.ok(Math.abs(s.mean) < 0.05 * want.std, `${name}: mean ${s.mean}`);
    }
    // norms are exact
    const norm = byName.get("blk.0.attn_norm.weight")!.data() as Float32Array;
    assert.deepEqual(model.readF32("blk.0.attn_norm.weight"), norm);
    // same scale, different starts
    const q0 = model.readF32("blk.0.attn_q.weight").subarray(0, 64);
    const k0 = model.readF32("blk.0.attn_k.weight").subarray(0, 64);
    assert.notDeepEqual(q0, k0);
  },
);

Deno.test({ name: "gpu model: GGUF upload keeps or converts types", ...ffiTest }, async () => {
  const dev = testDevice();
  const dir = await Deno.makeTempDir({ prefix: "faultline_gpumodel_" });
  try {
    const path = `${dir}/tiny32.gguf`;
    await synthGguf(path, presetConfig("tiny"), { seed: 2, dtype: "f32" });
    const gguf = await openLlamaGguf(path);
    {
      using m = await uploadGguf(dev, gguf);
      assert.equal(m.weight("blk.1.ffn_up.weight").dtype, "f32");
      assert.deepEqual(
        m.readF32("blk.1.ffn_up.weight"),
        await gguf.file.readTensorF32("blk.1.ffn_up.weight"),
      );
    }
    {
      using m = await uploadGguf(dev, gguf, { dtype: "f16", stagingBytes: 4096 });
      assert.equal(m.weight("blk.1.ffn_up.weight").dtype, "f16");
      assert.equal(m.weight("output_norm.weight").dtype, "f32");
      const f32 = await gguf.file.readTensorF32("blk.1.ffn_up.weight");
      assert.deepEqual(m.readF32("blk.1.ffn_up.weight"), f16ArrayToF32(f32ArrayToF16(f32)));
      assert.deepEqual(m.readF32("output_norm.weight"), await gguf.file.readTensorF32("output_norm.weight"));
    }
    // an engine created from the file owns (and frees) the uploaded model
    const engine = await LlamaEngine.create(dev, gguf, { maxContext: 16, dtype: "f16" });
    assert.equal(engine.model.weight("blk.0.attn_v.weight").dtype, "f16");
    engine.generate([1, 2], 3);
    engine.free();
    assert.equal(engine.model.freed, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  { name: "gpu model: a tied output reuses token_embd (and decodes as the reference)", ...ffiTest },
  async () => {
    const dev = testDevice();
    using model = gpuModel(dev, presetConfig("tiny"), 4, { tiedOutput: true });
    assert.equal(model.weights.has("output.weight"), false);
    assert.equal(model.outputWeight.name, "token_embd.weight");
    using engine = await LlamaEngine.create(dev, model, { maxContext: 16 });
    const got = engine.generate([3, 4], 8);
    assert.equal(engine.logits().length, 256);
    const ref = ReferenceForward.fromGpuModel(model, { maxContext: 16 });
    assert.deepEqual(got, ref.generate([3, 4], 8).tokens);
  },
);

Deno.test({ name: "workload bench: runDecodeBench with a setup and a teardown", ...ffiTest }, async () => {
  const dev = testDevice();
  const seen: string[] = [];
  const r = await runDecodeBench(dev, {
    config: presetConfig("tiny", { nLayers: 3 }),
    steps: 4,
    warmup: 1,
    mode: "audit",
    setup: (engine, mode) => {
      seen.push(`setup ${mode} ${engine.config.nLayers}`);
      return () => seen.push("teardown");
    },
  });
  assert.deepEqual(seen, ["setup audit 3", "teardown"]);
  assert.equal(r.steps, 4);
  assert.ok(r.tokensPerSecond > 0);
  assert.ok(r.stepBytes < r.weightBytes);
});
