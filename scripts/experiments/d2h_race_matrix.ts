/**
 * The D2H race matrix: the same decode run as many isolated trials in three
 * configurations, baseline (no instrumentation) 50, audit 50 and stress 100,
 * with a progress bar and a results table. Each trial is a child process, so a
 * crash or a hang would end one trial and be counted, never end the matrix.
 *
 * A race that never faults would read NOT_REPRODUCED from the matrix alone, so
 * the audited trials also run the race check: with `--param race=skip-wait` (the logits copy no longer
 * waits for the compute stream's event) no trial faults, yet the race check
 * names the copy and the launch it races.
 *
 *   deno run -A scripts/experiments/d2h_race_matrix.ts
 *   deno run -A scripts/experiments/d2h_race_matrix.ts --scale 0.1 --param race=skip-wait
 *
 * Params: model (default tiny: 200 trials each build their model; llama2-7b on a GPU
 * for the full shapes); race none | skip-wait; steps (default 4, stress doubles it and adds a
 * second host copy of the logits on a third stream); safe (the safe D2H
 * wrapper: a stream sync before and after every device-to-host copy).
 */

import { stockHypotheses } from "../forensics/stock.ts";
import { DEFAULT_MATRIX } from "../trials/matrix.ts";
import { PRESETS } from "../model/config.ts";
import { defineExperiment, integerParam, main } from "../trials/experiment.ts";

export const experiment = defineExperiment({
  name: "d2h_race_matrix",
  title: "Device-to-host copies racing the compute stream: baseline 50, audit 50, stress 100 isolated trials",
  params: { race: "none", steps: 4, safe: false, model: "tiny" },
  paramRules: {
    race: ["none", "skip-wait"],
    steps: integerParam(1, 30), // stress doubles it: a 3-token prompt and 60 steps in a 64-token context
    model: Object.keys(PRESETS),
  },
  matrix: DEFAULT_MATRIX,
  hypotheses: stockHypotheses(),
  d2hAudit: true,
  timeoutMs: 60_000,
  async run(ctx) {
    const { presetConfig } = await import("../model/config.ts");
    const { gpuModel } = await import("../model/gpu_model.ts");
    const { LlamaEngine } = await import("../scheduler/mod.ts");
    const { isPresetName } = await import("../model/config.ts");
    const sim = ctx.backend === "sim";
    const preset = String(ctx.params.model ?? "tiny");
    if (!isPresetName(preset)) throw new Error(`unknown model preset ${preset}`);
    const cfg = presetConfig(preset);
    const race = String(ctx.params.race ?? "none");
    const steps = Number(ctx.params.steps ?? 4) * (ctx.stress ? 2 : 1);
    Object.assign(ctx.config, {
      model: `${preset} (dim ${cfg.dim}, ${cfg.nLayers} layers)`,
      race,
      steps,
      safe_wrapper: ctx.params.safe === true,
    });
    if (ctx.params.safe === true && ctx.audit && "sync" in ctx.audit) {
      const { syncAroundD2H } = await import("../sync/index.ts");
      ctx.audit.sync = syncAroundD2H();
    }
    const dev = ctx.device;
    const model = gpuModel(dev, cfg, 1, { dtype: sim ? "f32" : "f16" });
    const engine = await LlamaEngine.create(dev, model, { maxContext: 64 });
    if (race === "skip-wait") engine.hooks.replace({ name: "logits wait", phase: "decode" }, () => {});
    const extra = ctx.stress ? dev.createStream() : null;
    const extraHost = new Float32Array(cfg.vocabSize);
    if (extra) {
      // stress: a second copy of the logits on a third stream, ordered by the engine's event
      engine.hooks.after({ name: "logits sync", phase: "decode" }, () => {
        extra.waitEvent(engine.logitsReady);
        engine.buffer("logits").download(extraHost, { stream: extra });
        extra.synchronize();
      });
    }
    const tokens: number[] = [];
    let t = engine.prefill([1, 5, 9]);
    tokens.push(t);
    for (let i = 0; i < steps; i++) tokens.push(t = engine.decodeStep(t));
    return { tokens };
  },
});

if (import.meta.main) await main(experiment);
