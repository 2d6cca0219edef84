/**
 * The model-compatibility guard rail: a
 * model whose shapes differ from the engine build's (a Llama-3-8B, FFN 14336,
 * loaded into a Llama-2-7B build, 11008) is blocked before anything is
 * allocated; overridden, it runs, and the override is recorded.
 *
 * Two trials: "guard on" (blocked: BLOCKED) and
 * "guard overridden" (runs a few decode steps).
 *
 *   deno run -A scripts/experiments/model_compat.ts
 *   deno run -A scripts/experiments/model_compat.ts --param model=llama3-8b --param engine=llama2-7b
 *
 * Params: model / engine: tiny-ffn (default on sim: the tiny preset with a
 * wider FFN) or a preset name (llama2-7b, llama3-8b: the full-size pair, on a GPU);
 * steps: decode steps when it runs (default 4).
 */

import { stockHypotheses } from "../forensics/stock.ts";
import { MODEL_PARAM } from "../model/params.ts";
import { defineExperiment, integerParam, main } from "../trials/experiment.ts";

export const experiment = defineExperiment({
  name: "model_compat",
  title: "A model whose shapes differ from the engine build's is blocked at load",
  params: { model: "auto", engine: "auto", steps: 4 },
  paramRules: {
    model: [...MODEL_PARAM, "tiny-ffn"],
    engine: [...MODEL_PARAM, "tiny-ffn"],
    steps: integerParam(1, 28), // a 3-token prompt and the decode in a 32-token context
  },
  matrix: [
    { name: "guard on", mode: "audit", iterations: 1 },
    { name: "guard overridden", mode: "audit", iterations: 1, params: { override: true } },
  ],
  hypotheses: stockHypotheses(),
  async run(ctx) {
    const { presetConfig, isPresetName } = await import("../model/config.ts");
    const { gpuModel } = await import("../model/gpu_model.ts");
    const { LlamaEngine } = await import("../scheduler/mod.ts");
    const sim = ctx.backend === "sim";
    const pick = (v: unknown, simDefault: string, gpuDefault: string) =>
      v === "auto" || v === undefined ? (sim ? simDefault : gpuDefault) : String(v);
    const modelName = pick(ctx.params.model, "tiny-ffn", "llama3-8b");
    const engineName = pick(ctx.params.engine, "tiny", "llama2-7b");
    const config = (name: string) => {
      if (name === "tiny-ffn") return presetConfig("tiny", { ffnDim: 224 });
      if (!isPresetName(name)) throw new Error(`unknown preset ${name}`);
      return presetConfig(name);
    };
    const modelCfg = config(modelName);
    const engineCfg = config(engineName);
    const override = ctx.params.override === true;
    Object.assign(ctx.config, {
      model: `${modelName} (dim ${modelCfg.dim}, ffn ${modelCfg.ffnDim}, vocab ${modelCfg.vocabSize})`,
      engine:
        `${engineName} build (dim ${engineCfg.dim}, ffn ${engineCfg.ffnDim}, vocab ${engineCfg.vocabSize})`,
    });
    const audit = ctx.audit;
    const check = (m: typeof modelCfg, e: Partial<typeof modelCfg>) =>
      audit?.checkModel(m, e, {
        modelName,
        override: override
          ? "the experiment runs the incompatible model on purpose (guard disabled)"
          : undefined,
      });
    const dev = ctx.device;
    // The check runs before the model's weights are allocated, as a loader would.
    check(modelCfg, { ffnDim: engineCfg.ffnDim, dim: engineCfg.dim, nLayers: engineCfg.nLayers });
    const model = gpuModel(dev, modelCfg, 1, { dtype: sim ? "f32" : "f16" });
    const engine = await LlamaEngine.create(dev, model, {
      maxContext: 32,
      engineConfig: {},
      modelCheck: null,
    });
    const tokens = engine.generate([1, 5, 9], Number(ctx.params.steps ?? 4));
    return { tokens, override };
  },
  nextSteps(run) {
    const f = run.findings.filter((x) => x.rail === "model_compat" && x.status !== "overridden");
    if (f.length === 0) return undefined;
    return [
      `Load a model built for this engine, or rebuild the engine for the model's shapes (${
        f.map((x) => x.detail).join("; ")
      }).`,
      "Keep the guard rail on in production: it blocks the mismatch before any weight is allocated.",
      "An override (as in the second trial) is for experiments only; it is recorded in the findings.",
    ];
  },
  notes(run) {
    const rows = run.matrix ?? [];
    const on = rows.find((r) => r.name === "guard on");
    const off = rows.find((r) => r.name === "guard overridden");
    const out: string[] = [];
    if (on) {
      out.push(
        on.outcomes.BLOCKED
          ? "The guard rail works: the incompatible model was blocked before any weight was allocated."
          : "The guard rail did NOT block the model.",
      );
    }
    if (off) {
      out.push(
        off.errors === 0
          ? "With the guard overridden the model ran to the end (the mismatch does not fault by itself)."
          : `With the guard overridden the run failed (${off.firstError?.detail ?? "error"}).`,
      );
    }
    return out;
  },
});

if (import.meta.main) await main(experiment);
