/**
 * RoPE launch forensics (the seeds' B3.64, reports 000 and 003): a Llama
 * decode where, at one step and layer, the "RoPE Q" launch gets a bad
 * pointer (the address of a freed buffer) or a zero seq_len. The launch
 * itself succeeds; the illegal access surfaces later, at the logits copy of
 * that step, as `hipMemcpy D2H failed: an illegal memory access`. The report
 * must name the RoPE Q launch, its layer and step, and the argument.
 *
 *   deno run -A scripts/experiments/rope_forensics.ts
 *   deno run -A scripts/experiments/rope_forensics.ts --param fault=zero-seq-len --param layer=5
 *   deno run -A scripts/experiments/rope_forensics.ts --param model=llama2-7b --param dtype=f16
 *
 * Params:
 *   model     auto (tiny on sim, llama2-7b elsewhere) | tiny | llama2-7b | llama3-8b
 *   layers    override the preset's layer count (a 7B-shaped model with fewer layers)
 *   dtype     auto (f32 on sim, f16 elsewhere) | f32 | f16
 *   fault     stale-pointer (x = a freed buffer's address) | zero-seq-len | none
 *   step      decode step of the fault (default 3); layer (default 0)
 *   backlog   fills queued ahead of the planted launch so the queue is deep when it faults (the
 *             fault then surfaces at the logits copy, as in the seeds, rather than at the next
 *             launch): auto (1 on sim, 16 elsewhere) | N
 */

import type { OpContext } from "../../ffi/boundary.ts";
import { stockHypotheses } from "../forensics/stock.ts";
import { hypothesis } from "../forensics/hypotheses.ts";
import { defineExperiment, main } from "../trials/experiment.ts";

const MiB = 1 << 20;

/** The seeds' own RoPE hypotheses (report 003), next to the stock set. */
const ropeHypotheses = [
  hypothesis({
    id: "d2h-copy-is-the-bug",
    title: "The D2H copy itself is faulty (seeds 001/004)",
    test(ev) {
      const a = ev.attribution;
      if (!ev.reproduced) return { status: "NOT_REPRODUCED", evidence: "no trial faulted" };
      if (!a?.rootCause || !a.surfaced) return { status: "INCONCLUSIVE", evidence: "no root cause named" };
      if (a.rootCause.op === a.surfaced.op) {
        return a.rootCause.kind === "d2h"
          ? {
            status: "CONFIRMED",
            evidence: `the copy that failed, #${a.surfaced.op}, is its own root cause`,
          }
          : {
            status: "RULED_OUT",
            evidence: `no copy is involved: #${a.surfaced.op} ${a.rootCause.name} (${a.rootCause.kind}) ` +
              `failed by itself (${a.surfaced.error})`,
          };
      }
      return {
        status: "RULED_OUT",
        evidence: `the error surfaced at #${a.surfaced.op} ${a.surfaced.kind} ${a.surfaced.name}, but the ` +
          `first op to fail with a sync after every launch is #${a.rootCause.op} ${a.rootCause.name} upstream`,
      };
    },
  }),
  hypothesis({
    id: "rope-q-upstream",
    title: "The RoPE Q launch faults upstream (seed 000)",
    test(ev) {
      const rc = ev.attribution?.rootCause;
      if (!ev.reproduced && !rc) return { status: "NOT_REPRODUCED", evidence: "no trial faulted" };
      if (!rc) return { status: "INCONCLUSIVE", evidence: "no root cause named" };
      const where = `step ${rc.step}, layer ${rc.layer}`;
      return rc.name === "RoPE Q"
        ? {
          status: "CONFIRMED",
          evidence:
            `op #${rc.op} (${rc.kernel}, ${where})${rc.argument ? `, argument ${rc.argument}` : ""}: ` +
            `${rc.invariant ?? "faulted"}`,
        }
        : { status: "RULED_OUT", evidence: `the root cause is ${rc.name} (${where}), not RoPE Q` };
    },
  }),
];

export const experiment = defineExperiment({
  name: "rope_forensics",
  title: "A D2H failure whose real cause is the RoPE Q launch upstream (seeds 000, 003)",
  params: { model: "auto", dtype: "auto", fault: "stale-pointer", step: 3, layer: 0, backlog: "auto" },
  hypotheses: [...ropeHypotheses, ...stockHypotheses()],
  async run(ctx) {
    const { presetConfig, isPresetName } = await import("../model/config.ts");
    const { gpuModel } = await import("../model/gpu_model.ts");
    const { LlamaEngine } = await import("../scheduler/mod.ts");
    const { launch, faultFill, boundary } = ctx.ffi;
    const p = ctx.params;
    const sim = ctx.backend === "sim";
    const preset = p.model === "auto" || p.model === undefined
      ? (sim ? "tiny" : "llama2-7b")
      : String(p.model);
    if (!isPresetName(preset)) throw new Error(`unknown model preset ${preset}`);
    const cfg = presetConfig(preset, p.layers ? { nLayers: Number(p.layers) } : {});
    const dtype = p.dtype === "auto" || p.dtype === undefined
      ? (sim ? "f32" : "f16")
      : p.dtype as "f32" | "f16";
    const step = Number(p.step ?? 3);
    const layer = Number(p.layer ?? 0);
    const fault = String(p.fault ?? "stale-pointer");
    const backlog = p.backlog === "auto" || p.backlog === undefined ? (sim ? 1 : 16) : Number(p.backlog);
    Object.assign(ctx.config, {
      model: `${preset}${p.layers ? ` (${cfg.nLayers} layers)` : ""}`,
      shapes:
        `dim ${cfg.dim}, ffn ${cfg.ffnDim}, ${cfg.nLayers} layers, ${cfg.nHeads} heads (${cfg.nKvHeads} kv), ` +
        `head_dim ${cfg.headDim}, vocab ${cfg.vocabSize}`,
      dtype,
      fault: fault === "none" ? "none" : `${fault} in RoPE Q at step ${step}, layer ${layer}`,
      backlog: `${backlog} fill(s) queued ahead of the planted launch`,
    });

    const dev = ctx.device;
    const model = gpuModel(dev, cfg, 1, { dtype });
    const engine = await LlamaEngine.create(dev, model, { maxContext: 64 });
    const stale = dev.malloc(16 * MiB, { name: "stale_q" });
    const staleAddr = stale.ptr;
    stale.free();
    const fillBytes = sim ? 64 * MiB : 4096 * MiB;
    const backlogBuf = backlog > 0 && fault !== "none" ? dev.malloc(fillBytes, { name: "backlog" }) : null;
    const at = { step, layer, name: "RoPE Q" as const };
    if (backlogBuf) {
      engine.hooks.before(at, (op) => {
        const prev = boundary.context;
        boundary.context = { step, layer, op: "backlog" } as OpContext;
        try {
          for (let i = 0; i < backlog; i++) {
            launch(dev, op.stream, faultFill, { dst: backlogBuf, n: fillBytes / 4, value: 0 });
          }
        } finally {
          boundary.context = prev;
        }
      });
    }
    if (fault === "stale-pointer") engine.hooks.replace(at, (_op, run) => run({ x: staleAddr }));
    else if (fault === "zero-seq-len") engine.hooks.replace(at, (_op, run) => run({ seq_len: 0 }));
    else if (fault !== "none") throw new Error(`unknown fault ${fault} (stale-pointer, zero-seq-len, none)`);

    const tokens: number[] = [];
    let t = engine.prefill([1, 5, 9, 13]);
    tokens.push(t);
    for (let i = 0; i < step + 2; i++) tokens.push(t = engine.decodeStep(t));
    return { tokens };
  },
  nextSteps(run) {
    const rc = run.attribution?.rootCause;
    if (!rc) return undefined;
    return [
      `Fix the caller of ${rc.name} at step ${rc.step}, layer ${rc.layer}: ${
        rc.argument ? `argument ${rc.argument} ` : ""
      }must satisfy "${rc.invariant ?? "its invariant"}" (the launch site in the block scheduler).`,
      "Keep the D2H wrappers, but stop hunting there: the copy only reported the sticky error.",
      "Run this experiment with --mode enforce: the guard rail blocks the bad launch before it reaches the GPU.",
      "Re-run after the fix: the verdict must be OK with no hypothesis CONFIRMED.",
    ];
  },
});

if (import.meta.main) await main(experiment);

/** One measurement of the benchmark, in the shape of scripts/bench/main.ts's BenchRow. */
export interface ForensicsBenchRow {
  section: string;
  metric: string;
  value: number;
  unit: string;
  note?: string;
}

/**
 * The issue's benchmark: time from a faulting run to the named root cause
 * (wall seconds and replays) for this experiment, on the 7B-shaped decode
 * (Llama-2-7B shapes, f16) where a GPU backend is loaded and on the tiny model
 * on sim. Goal: at most 2 replays and 10 s. Runs the experiment's trials in
 * child processes, like the command line does.
 */
export async function timeToRootCause(opts: { backend: string; reportsDir?: string } = { backend: "sim" }) {
  const { runExperiment } = await import("../trials/experiment.ts");
  const sim = opts.backend === "sim";
  const params = sim ? { model: "tiny" } : { model: "llama2-7b", dtype: "f16" };
  const t0 = performance.now();
  const res = await runExperiment(experiment, { params, reportsDir: opts.reportsDir, print: false });
  const total = (performance.now() - t0) / 1000;
  const a = res.report.attribution;
  const rc = a?.rootCause;
  const run = res.report.trials.find((t) => t.purpose === "run");
  const named = rc?.name === "RoPE Q" && rc.step === 3 && rc.layer === 0;
  const note = `${params.model}${sim ? "" : " f16"}; ${
    named ? `named RoPE Q (step 3, layer 0) by ${a!.method}` : `WRONG: named ${rc?.name ?? "nothing"}`
  }; report ${res.dir}`;
  const rows: ForensicsBenchRow[] = [
    { section: "forensics", metric: "faulting run", value: (run?.wallMs ?? NaN) / 1000, unit: "s", note },
    {
      section: "forensics",
      metric: "fault to named root cause",
      value: named ? a!.wallMs / 1000 : NaN,
      unit: "s",
      note: "goal <= 10 s: replays, journal decoding and attribution after the faulting run ended",
    },
    { section: "forensics", metric: "replays", value: a?.replays ?? NaN, unit: "trials", note: "goal <= 2" },
    {
      section: "forensics",
      metric: "whole experiment",
      value: total,
      unit: "s",
      note: "run, replay, report",
    },
  ];
  return rows;
}
