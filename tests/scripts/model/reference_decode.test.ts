/**
 * Full decode of the tiny model through the block scheduler against the float64 TypeScript reference
 * forward pass, token for token (greedy), for 24 tokens: f32 and f16 weights built on the device, a
 * GGUF file uploaded by the engine, and a prompt longer than one prefill chunk.
 *
 * Runs on whatever backend the runtime loads (sim by default; FAULTLINE_BACKEND=cuda on a GPU).
 * A disagreement where the reference's top two logits are within 1e-4 relative is reported as a tie,
 * not a failure; the seeds are chosen so that none occurs. Margins are printed.
 */
import assert from "node:assert/strict";
import { presetConfig } from "../../../scripts/model/config.ts";
import { openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { gpuModel } from "../../../scripts/model/gpu_model.ts";
import { ReferenceForward, topTwo } from "../../../scripts/model/reference_forward.ts";
import { synthGguf } from "../../../scripts/model/synth.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { ffiTest, testDevice, testRuntime } from "../../helpers/env.ts";

const TOKENS = 24;
const TIE = 1e-4;
const SEED = 11;
const PROMPT = [1, 72, 101, 108, 108, 111];

interface Outcome {
  matched: number;
  ties: number;
  minMargin: number;
  maxLogitErr: number;
}

function compare(
  what: string,
  engine: LlamaEngine,
  ref: ReferenceForward,
  prompt: number[],
  n: number,
): Outcome {
  const got: number[] = [];
  const engLogits: Float32Array[] = [];
  let t = engine.prefill(prompt);
  got.push(t);
  engLogits.push(engine.logits());
  while (got.length < n) {
    t = engine.decodeStep(t);
    got.push(t);
    engLogits.push(engine.logits());
  }
  const want = ref.generate(prompt, n);
  let ties = 0, minMargin = Infinity, maxLogitErr = 0, matched = 0;
  const margins: string[] = [];
  for (let i = 0; i < n; i++) {
    const top = topTwo(want.logits[i]);
    minMargin = Math.min(minMargin, top.relMargin);
    margins.push(top.relMargin.toExponential(1));
    const scale = Math.max(1e-6, ...Array.from(want.logits[i], Math.abs));
    for (let j = 0; j < want.logits[i].length; j++) {
      maxLogitErr = Math.max(maxLogitErr, Math.abs(engLogits[i][j] - want.logits[i][j]) / scale);
    }
    if (got[i] === want.tokens[i]) {
      matched++;
      continue;
    }
    if (top.relMargin < TIE) {
      ties++;
      console.log(
        `${what}: token ${i}: tie (reference top two ${top.best}/${top.second}, rel margin ${top.relMargin})`,
      );
      break; // the sequences diverge legitimately from here
    }
    assert.fail(
      `${what}: token ${i}: engine ${got[i]}, reference ${want.tokens[i]} ` +
        `(reference margin ${top.relMargin.toExponential(2)}; engine ${got.join(",")}; reference ${
          want.tokens.join(",")
        })`,
    );
  }
  console.log(
    `${what} [${testRuntime().backend}]: ${matched}/${n} tokens match, ${ties} ties; ` +
      `min rel margin ${minMargin.toExponential(2)}, max logit err ${
        maxLogitErr.toExponential(2)
      } (rel to max |logit|)\n` +
      `  tokens ${got.join(" ")}\n  rel margins ${margins.join(" ")}`,
  );
  return { matched, ties, minMargin, maxLogitErr };
}

for (const dtype of ["f32", "f16"] as const) {
  Deno.test(
    { name: `decode: tiny ${dtype} model on the device matches the float64 reference`, ...ffiTest },
    async () => {
      const dev = testDevice();
      using model = gpuModel(dev, presetConfig("tiny"), SEED, { dtype, fill: "exact" });
      using engine = await LlamaEngine.create(dev, model, { maxContext: 64 });
      const ref = ReferenceForward.fromGpuModel(model, { maxContext: 64 });
      const r = compare(`tiny ${dtype}`, engine, ref, PROMPT, TOKENS);
      assert.equal(r.ties, 0, "the seed is chosen so that no tie occurs");
      assert.equal(r.matched, TOKENS);
      assert.ok(r.maxLogitErr < (dtype === "f32" ? 1e-4 : 1e-3), `logits error ${r.maxLogitErr}`);
    },
  );
}

Deno.test({
  name: "decode: the device weights equal synthWeights (reference built from the host)",
  ...ffiTest,
}, () => {
  const dev = testDevice();
  using model = gpuModel(dev, presetConfig("tiny"), SEED, { dtype: "f16", fill: "exact" });
  const fromDevice = ReferenceForward.fromGpuModel(model, { maxContext: 32 });
  const fromHost = ReferenceForward.fromSynth(presetConfig("tiny"), SEED, { dtype: "f16", maxContext: 32 });
  const a = fromDevice.generate(PROMPT, 8);
  const b = fromHost.generate(PROMPT, 8);
  assert.deepEqual(a.tokens, b.tokens);
  assert.deepEqual(a.logits, b.logits);
});

Deno.test({
  name: "decode: a GGUF file uploaded by the engine, chunked prefill, matches the reference",
  ...ffiTest,
}, async () => {
  const dev = testDevice();
  const dir = await Deno.makeTempDir({ prefix: "faultline_decode_" });
  try {
    const path = `${dir}/tiny.gguf`;
    await synthGguf(path, presetConfig("tiny"), { seed: SEED + 1, dtype: "f16" });
    const gguf = await openLlamaGguf(path);
    // maxPrefill 4: the 6-token prompt runs as two prefill passes (steps 0 and 1)
    using engine = await LlamaEngine.create(dev, gguf, { maxContext: 48, maxPrefill: 4 });
    assert.equal(engine.model.weight("blk.0.attn_q.weight").dtype, "f16");
    assert.equal(engine.model.weight("blk.0.attn_norm.weight").dtype, "f32");
    const ref = await ReferenceForward.fromGguf(gguf, { maxContext: 48 });
    const r = compare("tiny gguf f16, chunked prefill", engine, ref, PROMPT, TOKENS);
    assert.equal(r.ties, 0);
    assert.equal(engine.step, 2 + TOKENS - 1);
    assert.equal(engine.position, PROMPT.length + TOKENS - 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "decode: long context (100-token prompt in 4 prefill passes, decode across attention chunks)",
  ...ffiTest,
}, async () => {
  const dev = testDevice();
  // 100 prompt tokens + 40 generated: positions up to 139, over three 64-key chunks of the decode attention
  const prompt = Array.from({ length: 100 }, (_, i) => (i * 37 + 11) % 256);
  using model = gpuModel(dev, presetConfig("tiny"), SEED, { dtype: "f16", fill: "exact" });
  using engine = await LlamaEngine.create(dev, model, { maxContext: 160, maxPrefill: 32 });
  const ref = ReferenceForward.fromGpuModel(model, { maxContext: 160 });
  const r = compare("tiny f16, long context", engine, ref, prompt, 40);
  assert.equal(r.ties, 0);
  assert.equal(r.matched, 40);
  assert.equal(engine.step, 4 + 39);
});

Deno.test(
  { name: "decode: head_dim 128 shape (dim 512, GQA 4/2, vocab 2048), f16", ...ffiTest },
  async () => {
    const dev = testDevice();
    const config = presetConfig("tiny", {
      dim: 512,
      ffnDim: 1376,
      nHeads: 4,
      nKvHeads: 2,
      vocabSize: 2048,
      nLayers: 2,
    });
    using model = gpuModel(dev, config, SEED, { dtype: "f16", fill: "exact" });
    using engine = await LlamaEngine.create(dev, model, { maxContext: 48 });
    const ref = ReferenceForward.fromGpuModel(model, { maxContext: 48 });
    const r = compare("dim 512 head_dim 128 f16", engine, ref, PROMPT, TOKENS);
    assert.equal(r.ties, 0);
    assert.equal(r.matched, TOKENS);
    assert.ok(r.maxLogitErr < 1e-3, `logits error ${r.maxLogitErr}`);
  },
);
