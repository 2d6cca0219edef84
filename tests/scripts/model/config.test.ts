// Model configs: presets, tensor layout, and compatibility of a model with an engine build.

import assert from "node:assert/strict";
import {
  checkCompatible,
  configProblems,
  formatMismatches,
  llamaTensorLayout,
  parameterCount,
  presetConfig,
  PRESETS,
} from "../../../scripts/model/config.ts";

Deno.test("checkCompatible: a Llama-3-8B model in a Llama-2-7B build", () => {
  const ms = checkCompatible(PRESETS["llama3-8b"], PRESETS["llama2-7b"]);
  assert.deepEqual(ms, [
    { key: "ffnDim", model: 14336, engine: 11008 },
    { key: "nKvHeads", model: 8, engine: 32 },
    { key: "vocabSize", model: 128256, engine: 32000 },
    { key: "contextLength", model: 8192, engine: 4096 },
    { key: "ropeBase", model: 500000, engine: 10000 },
  ]);
  assert.match(formatMismatches(ms), /^ffnDim: model 14336, engine 11008\n/);
});

Deno.test("checkCompatible: only the keys the engine names; f32-rounded floats match", () => {
  const model = { ...PRESETS["llama2-7b"], normEps: Math.fround(1e-5) };
  assert.deepEqual(checkCompatible(model, PRESETS["llama2-7b"]), []);
  assert.deepEqual(checkCompatible(PRESETS["llama3-8b"], { dim: 4096, ffnDim: 11008 }), [
    { key: "ffnDim", model: 14336, engine: 11008 },
  ]);
  assert.deepEqual(checkCompatible(presetConfig("llama2-7b", { nLayers: 2 }), { nLayers: 32 }), [
    { key: "nLayers", model: 2, engine: 32 },
  ]);
});

Deno.test("presets: consistent, with the published sizes", () => {
  for (const [name, c] of Object.entries(PRESETS)) assert.deepEqual(configProblems(c), [], name);
  assert.equal(PRESETS.tiny.nKvHeads < PRESETS.tiny.nHeads, true); // tiny exercises GQA
  assert.equal(Math.round(parameterCount(PRESETS["llama2-7b"]) / 1e6), 6738);
  assert.equal(Math.round(parameterCount(PRESETS["llama3-8b"]) / 1e6), 8030);
  assert.deepEqual(configProblems(presetConfig("tiny", { nHeads: 5 })), [
    "dim 64 is not a multiple of nHeads 5",
    "nHeads 5 is not a multiple of nKvHeads 2",
  ]);
});

Deno.test("layout: row-major [out, in] shapes", () => {
  const l = llamaTensorLayout(PRESETS["llama3-8b"]);
  const get = (n: string) => l.find((t) => t.name === n)!.shape;
  assert.deepEqual(get("token_embd.weight"), [128256, 4096]);
  assert.deepEqual(get("blk.0.attn_q.weight"), [4096, 4096]);
  assert.deepEqual(get("blk.0.attn_k.weight"), [1024, 4096]);
  assert.deepEqual(get("blk.31.ffn_gate.weight"), [14336, 4096]);
  assert.deepEqual(get("blk.31.ffn_down.weight"), [4096, 14336]);
  assert.equal(l.length, 3 + 32 * 9);
  assert.equal(
    llamaTensorLayout(PRESETS.tiny, { tiedOutput: true }).some((t) => t.name === "output.weight"),
    false,
  );
});
