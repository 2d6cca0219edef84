/**
 * RoPE launch forensics: a Llama
 * decode where, at one step and layer, the "RoPE Q" launch gets a bad
 * pointer (a freed buffer's address, or one far past every allocation) or a
 * zero seq_len. The launch
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
 *   fault     auto (stale-pointer on sim, wild-pointer elsewhere) |
 *             stale-pointer (x = a freed buffer's address: unmapped on sim; GPU allocators
 *             usually keep freed memory mapped, so there it reads stale data without faulting
 *             and only the guard rail names it) |
 *             wild-pointer (x = 1 TiB past a live buffer: faults on every GPU; on sim, whose
 *             device range is smaller, the freed buffer's unmapped address) |
 *             zero-seq-len | odd-head-dim | zero-base (freq_base 0: no fault, NaN angles) | none
 *   step      decode step of the fault (default 3); layer (default 0)
 *   backlog   fills queued ahead of the planted launch so the queue is deep when it faults (the
 *             fault then surfaces at the logits copy, as it does on a busy GPU, rather than at the next
 *             launch): auto (1 on sim, 16 elsewhere) | N
 */

import type { OpContext } from "../../mod.ts";
import { layerParam, MODEL_PARAM } from "../model/params.ts";
import { stockHypotheses } from "../forensics/stock.ts";
import { confirmed, hypothesis, inconclusive, notReproduced, ruledOut } from "../forensics/hypotheses.ts";
import { defineExperiment, integerParam, main, orParam } from "../trials/experiment.ts";
import type { Evidence } from "../../records.ts";

const MiB = 1 << 20;

/** The faults this experiment plants in RoPE Q (the params' doc above says what each does). */
const FAULTS = ["stale-pointer", "wild-pointer", "zero-seq-len", "odd-head-dim", "zero-base"] as const;

/** The decode runs a 4-token prefill (step 0) and step + 2 decode steps in a 64-token context. */
const MAX_STEP = 58;

/** Where the error surfaced versus where it was caused, next to the stock set. */
const ropeHypotheses = [
  hypothesis({
    id: "d2h-copy-is-the-bug",
    title: "The D2H copy that reported the error is itself the faulty op",
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
    title: "The RoPE Q launch faults upstream of the copy",
    test(ev) {
      const rc = ev.attribution?.rootCause;
      if (!ev.reproduced) {
        return {
          status: "NOT_REPRODUCED",
          evidence: rc
            ? `nothing faulted, though a guard rail flags ${rc.name}: ${rc.invariant}`
            : "no trial faulted",
        };
      }
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

/** RoPE launch records of a journal. */
const ropeLaunches = (ev: Evidence) =>
  ev.records.filter((r) => r.kind === "launch" && r.name.startsWith("rope"));
const ropeRoot = (ev: Evidence) => {
  const rc = ev.attribution?.rootCause;
  return rc && rc.kernel.startsWith("rope") ? rc : null;
};
const POINTER_RAILS = new Set(["null_pointer", "unknown_pointer", "use_after_free", "alignment", "extent"]);

/** What can be wrong with a RoPE launch, one hypothesis each, decided from the evidence. */
const planHypotheses = [
  hypothesis({
    id: "rope-pointer",
    title: "A RoPE pointer argument (x, pos) is null or outside every live allocation",
    test(ev) {
      const rc = ropeRoot(ev);
      const f = rc?.findings.find((x) => POINTER_RAILS.has(x.rail));
      if (rc && f) {
        return confirmed(
          `${rc.name} (step ${rc.step}, layer ${rc.layer}): ${f.argument} — ${f.detail ?? f.invariant}`,
        );
      }
      const n = ropeLaunches(ev).length;
      if (!ev.reproduced && !rc) {
        return notReproduced(`no trial faulted; ${n} RoPE launches checked by the pointer rails`);
      }
      return ruledOut(`every pointer of the ${n} RoPE launches lies in a live allocation`);
    },
  }),
  hypothesis({
    id: "rope-dims",
    title: "A RoPE launch has invalid dimensions (seq_len 0, heads 0, odd head_dim)",
    test(ev) {
      const rc = ropeRoot(ev);
      const f = rc?.findings.find((x) =>
        x.rail === "invariants" && /seq_len|heads|head_dim/.test(x.invariant)
      );
      if (rc && f) {
        return confirmed(`${rc.name} (step ${rc.step}, layer ${rc.layer}): ${f.detail ?? f.invariant}`);
      }
      const r = ropeLaunches(ev)[0];
      const dims = r
        ? `seq_len=${r.scalars.seq_len} heads=${r.scalars.heads} head_dim=${r.scalars.head_dim}`
        : "";
      if (!ev.reproduced && !rc) return notReproduced(`no trial faulted${dims ? `; ${dims}` : ""}`);
      return ruledOut(`the RoPE launches' dimensions hold their invariants${dims ? ` (${dims})` : ""}`);
    },
  }),
  hypothesis({
    id: "rope-base",
    title: "A RoPE launch has freq_base zero or invalid",
    test(ev) {
      const f = ev.findings.find((x) => x.argument === "freq_base");
      if (f) {
        return confirmed(
          `op #${f.op} ${f.label ?? f.name}: ${
            f.detail ?? f.invariant
          } (no fault: the angles become NaN or inf)`,
        );
      }
      const bases = [...new Set(ropeLaunches(ev).map((r) => r.scalars.freq_base))];
      return ruledOut(`freq_base = ${bases.join(", ") || "?"} in every RoPE launch`);
    },
  }),
  hypothesis({
    id: "rope-module",
    title: "The RoPE kernel failed to load",
    test(ev) {
      const ok = ropeLaunches(ev).filter((r) => r.status === 0).length;
      return ok > 0
        ? ruledOut(`the kernels are linked into the library; ${ok} RoPE launches were accepted`)
        : inconclusive("no RoPE launch was accepted in this trial");
    },
  }),
  hypothesis({
    id: "rope-grid",
    title: "A RoPE launch's grid or block is over the device limits",
    test(ev) {
      const rc = ropeRoot(ev);
      const limit = rc?.findings.find((x) => x.rail === "launch_limits");
      const own = rc?.findings.find((x) => x.rail === "invariants");
      if (rc && limit && !own) return confirmed(`${rc.name}: ${limit.detail ?? limit.invariant}`);
      if (rc && limit && own) {
        return ruledOut(
          `the launch geometry is refused only because of ${own.invariant} (${own.detail ?? ""})`,
        );
      }
      return ruledOut("every RoPE launch's grid and block fit the device's limits");
    },
  }),
];

export const experiment = defineExperiment({
  name: "rope_forensics",
  title: "A D2H failure whose real cause is the RoPE Q launch upstream",
  params: { model: "auto", dtype: "auto", fault: "auto", step: 3, layer: 0, backlog: "auto" },
  paramRules: {
    model: MODEL_PARAM,
    layers: integerParam(1, 1024),
    dtype: ["auto", "f32", "f16"],
    fault: ["auto", ...FAULTS, "none"],
    step: integerParam(0, MAX_STEP),
    layer: layerParam(),
    backlog: orParam(["auto"], integerParam(0, 256)),
  },
  hypotheses: [...ropeHypotheses, ...planHypotheses, ...stockHypotheses()],
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
    if (Number(p.layer ?? 0) >= cfg.nLayers) {
      throw new Error(`layer ${p.layer}: ${preset} has ${cfg.nLayers} layers`);
    }
    const dtype = p.dtype === "auto" || p.dtype === undefined
      ? (sim ? "f32" : "f16")
      : p.dtype as "f32" | "f16";
    const step = Number(p.step ?? 3);
    const layer = Number(p.layer ?? 0);
    const asked = String(p.fault ?? "auto");
    const fault = asked === "auto" ? (sim ? "stale-pointer" : "wild-pointer") : asked;
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
    const TiB = 2 ** 40;
    const wildAddr = sim ? staleAddr : model.weight("token_embd.weight").buffer.ptr + TiB;
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
    const plants: Record<(typeof FAULTS)[number], Record<string, unknown>> = {
      "stale-pointer": { x: staleAddr },
      "wild-pointer": { x: wildAddr },
      "zero-seq-len": { seq_len: 0 },
      "odd-head-dim": { head_dim: cfg.headDim - 1 },
      "zero-base": { freq_base: 0 },
    };
    if (fault !== "none") engine.hooks.replace(at, (_op, run) => run(plants[fault as keyof typeof plants]));

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
