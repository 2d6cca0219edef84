/**
 * The scheduler's kernels by weight type and KV-cache type: decode mat-vecs of each weight type;
 * prefill through the GEMM path for non-f32 weights (inputs rounded to f16 once per group of
 * projections that read them, quantized weights dequantized into one f16 scratch before each GEMM);
 * f32 weights keep matmul_f32; the KV cache's element type picks the append and attention kernels.
 */
import assert from "node:assert/strict";
import { boundary, type NativeCall } from "../../../mod.ts";
import { presetConfig } from "../../../scripts/model/config.ts";
import { gpuModel, type WeightDtype } from "../../../scripts/model/gpu_model.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";

const CONFIG = presetConfig("tiny", {
  dim: 256,
  ffnDim: 512,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 300,
  nLayers: 1,
});

function prefillLaunches(engine: LlamaEngine): NativeCall[] {
  const calls: NativeCall[] = [];
  const detach = boundary.attach({ before: (c) => void (c.kind === "launch" && calls.push(c)) });
  try {
    engine.prefill([1, 2, 3]);
  } finally {
    detach();
  }
  return calls;
}

const layer = (calls: NativeCall[]) =>
  calls.filter((c) => c.context.layer === 0).map((c) => `${c.context.op}: ${c.name}`);

Deno.test({ name: "scheduler: kernels by weight type, prefill and decode", ...ffiTest }, async () => {
  const dev = testDevice();
  const cases: [WeightDtype, string[]][] = [
    ["f32", ["Q proj: matmul_f32", "K proj: matmul_f32", "V proj: matmul_f32"]],
    ["f16", ["QKV in f16: convert_f16", "Q proj: gemm_f16", "K proj: gemm_f16", "V proj: gemm_f16"]],
    ["q4_k", [
      "QKV in f16: convert_f16",
      "Q dequant: dequant_q4_k",
      "Q proj: gemm_f16",
      "K dequant: dequant_q4_k",
      "K proj: gemm_f16",
      "V dequant: dequant_q4_k",
      "V proj: gemm_f16",
    ]],
  ];
  for (const [dtype, qkv] of cases) {
    using model = gpuModel(dev, CONFIG, 5, { dtype, fill: "exact" });
    using engine = await LlamaEngine.create(dev, model, { maxContext: 16 });
    const ops = layer(prefillLaunches(engine));
    assert.deepEqual(ops.slice(1, 1 + qkv.length), qkv, dtype);
    const gemm = dtype !== "f32";
    assert.equal(ops.includes("down in f16: convert_f16"), gemm, dtype);
    assert.equal(engine.buffers.has("x16"), gemm, dtype);
    assert.equal(engine.buffers.has("w16"), dtype === "q4_k", dtype);
    if (dtype === "q4_k") assert.equal(engine.buffer("w16").bytes, 512 * 256 * 2); // the largest weight, f16
    const mv = engine.decodeOps.find((o) => o.name === "down proj")!;
    assert.equal(mv.kernel?.name, `matvec_${dtype}`);
    assert.equal(engine.decodeOps.find((o) => o.name === "logits proj")!.kernel?.name, `matvec_${dtype}`);
  }
});

Deno.test(
  { name: "scheduler: the KV cache's type picks the append and attention kernels", ...ffiTest },
  async () => {
    const dev = testDevice();
    using model = gpuModel(dev, CONFIG, 5, { dtype: "f16", fill: "exact" });
    for (const kv of ["f16", "f32"] as const) {
      using engine = await LlamaEngine.create(dev, model, { maxContext: 16, kvCache: kv });
      assert.deepEqual(engine.numerics, { kv, prefillF16: true });
      const suffix = kv === "f16" ? "_f16" : "";
      const ops = layer(prefillLaunches(engine));
      assert.ok(ops.includes(`KV append: kv_append${suffix}`), ops.join("\n"));
      assert.ok(ops.includes(`attention: attention_prefill${suffix}`), ops.join("\n"));
      assert.equal(
        engine.decodeOps.find((o) => o.name === "attention")!.kernel?.name,
        `attention_decode${suffix}`,
      );
      assert.equal(
        engine.decodeOps.find((o) => o.name === "KV append")!.kernel?.name,
        `kv_append_dpos${suffix}`,
      );
    }
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => LlamaEngine.create(dev, model, { maxContext: 16, kvCache: "bf16" as any }),
      /kvCache must be f16 or f32, got bf16/,
    );
  },
);
