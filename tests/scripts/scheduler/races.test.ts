/**
 * The scheduler under the online race detector (ffi/races.ts): a clean prefill and decode has no
 * race; skipping the event wait before the logits copy (a hook, no scheduler edit) gives a
 * race: the copy stream's "logits D2H" against the compute stream's "logits proj".
 */
import assert from "node:assert/strict";
import { boundary } from "../../../mod.ts";
import { OnlineRaces, type Race } from "../../../ffi/races.ts";
import { Registry } from "../../../ffi/registry.ts";
import { presetConfig } from "../../../scripts/model/config.ts";
import { gpuModel } from "../../../scripts/model/gpu_model.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";

Deno.test(
  { name: "scheduler races: clean decode has none; a skipped logits wait races", ...ffiTest },
  async () => {
    const dev = testDevice();
    const registry = new Registry();
    const races = new OnlineRaces(registry);
    const regObs = registry.observer();
    const found: Race[] = [];
    const detach = boundary.attach({
      before: (c) => void found.push(...races.check(c)),
      after: (c, status, result) => {
        regObs.after!(c, status, result);
        races.commit(c, status);
      },
    });
    try {
      using model = gpuModel(dev, presetConfig("tiny"), 3);
      using engine = await LlamaEngine.create(dev, model, { maxContext: 32, maxPrefill: 2 });
      const clean = engine.generate([1, 5, 9, 13], 6); // two prefill passes, five decode steps
      assert.equal(found.length, 0, found.map((r) => r.why).join("\n"));

      engine.hooks.replace({ name: "logits wait", phase: "decode" }, () => {});
      engine.decodeStep(clean[5]);
      const byBuffer = new Map(found.map((r) => [r.alloc.name, r]));
      const logits = byBuffer.get("logits");
      assert.ok(logits, `a race on logits: ${found.map((r) => r.why).join("\n")}`);
      assert.equal(logits.second.step, 7); // steps 0-1 prefill, 2-6 decode, then this one
      assert.equal(logits.second.stream, engine.copy.handle);
      assert.equal(logits.first.stream, engine.compute.handle);
      assert.ok(byBuffer.has("next_token"), "and on the sampled token");
      engine.hooks.clear();
    } finally {
      detach();
    }
  },
);
