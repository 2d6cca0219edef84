/**
 * The fault catalogue: one experiment, one planted fault per case (param
 * `case`, the cases in catalogue/), each on direct launches of the fault and
 * llama kernels, copies and two streams. The suite runs every case and checks
 * that the forensics names the planted op, its kernel, argument, rule, step
 * and layer; the clean cases must end OK with no finding. `deno task bench`
 * scores the catalogue (diagnosis accuracy).
 *
 *   deno run -A scripts/experiments/fault_catalogue.ts --param case=use-after-free
 *
 * Each case marks its planted op with ctx.at({ op: "plant" }) the way the
 * block scheduler names its ops, so the report reads "root cause: plant (...)".
 */

import { stockHypotheses } from "../forensics/stock.ts";
import { defineExperiment, main, type TrialContext } from "../trials/experiment.ts";
import { type Bench, F32 } from "./catalogue/case.ts";
import { CASES } from "./catalogue/index.ts";

export { CASES };
export type { CatalogueCase, Expectation } from "./catalogue/case.ts";

function caseOf(name: string) {
  const c = CASES[name];
  if (!c) throw new Error(`unknown case ${name} (${Object.keys(CASES).join(", ")})`);
  return c;
}

/** The buffers every case starts from, filled (the "prepare" op). */
function prepare(ctx: TrialContext): Bench {
  const d = ctx.device;
  const b: Bench = {
    ctx,
    ffi: ctx.ffi,
    d,
    s: d.createStream(),
    x: d.malloc(64 * 1024, { name: "x" }),
    logits: d.malloc(32 * 1024, { name: "logits" }),
    counter: d.malloc(256, { name: "counter" }),
  };
  ctx.at({ step: 0, op: "prepare" });
  b.ffi.launch(d, b.s, b.ffi.faultFill, { dst: b.x, n: b.x.bytes / F32, value: 1 });
  b.ffi.launch(d, b.s, b.ffi.faultFill, { dst: b.logits, n: b.logits.bytes / F32, value: 2 });
  b.counter.fill(0);
  b.s.synchronize();
  return b;
}

/** Work after the plant, as a decode step would continue: a launch, then the logits read back. */
function aftermath(b: Bench): void {
  b.ctx.at({ step: 9, layer: 9, op: "after" });
  b.ffi.launch(b.d, b.s, b.ffi.tick, { counter: b.counter });
  b.ctx.at({ step: 9, op: "logits D2H" });
  b.logits.download(new Float32Array(b.logits.bytes / F32), { stream: b.s });
  b.s.synchronize();
}

export const experiment = defineExperiment({
  name: "fault_catalogue",
  title: "A planted fault per case; the forensics must name the planted op and its invariant",
  params: { case: "use-after-free" },
  paramRules: { case: Object.keys(CASES) },
  hypotheses: stockHypotheses(),
  audit: (spec) => caseOf(String(spec.params?.case)).audit ?? {},
  run(ctx) {
    const which = String(ctx.params.case);
    const c = caseOf(which);
    ctx.config.case = which;
    const b = prepare(ctx);
    ctx.at({ step: c.expect?.step ?? 1, layer: c.expect?.layer ?? 0, op: "plant" });
    c.plant(b);
    aftermath(b);
    return { case: which };
  },
});

if (import.meta.main) await main(experiment);
