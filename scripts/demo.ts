/**
 * `deno task demo`: the RoPE launch forensics (scripts/experiments/rope_forensics.ts)
 * on the default backend. A Llama decode in which "RoPE Q" at step 3, layer 0
 * gets a bad pointer; the illegal access surfaces later, at the logits copy
 * of that step. faultline replays the trial with a sync after every launch,
 * names the launch, its step, layer and argument, and writes the report.
 *
 * Prints where the fault surfaced, the root cause, the time it took and the
 * report's path. Extra arguments go to the experiment (`deno task demo --param
 * fault=zero-seq-len`, `--param model=llama2-7b`, `--debug-env cuda`).
 */
import { parseArgs } from "node:util";
import { relative } from "node:path";
import { experiment } from "./experiments/rope_forensics.ts";
import { parseParams, runExperiment } from "./trials/experiment.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    param: { type: "string", multiple: true },
    "debug-env": { type: "string" },
    sanitizer: { type: "boolean" },
    reports: { type: "string" },
  },
});
const params = parseParams(values.param ?? []);
console.log("faultline demo: a Llama decode whose RoPE Q launch (step 3, layer 0) gets a bad pointer");
const t0 = performance.now();
const res = await runExperiment(experiment, {
  params,
  debugEnv: values["debug-env"],
  sanitizer: values.sanitizer,
  reportsDir: values.reports,
  print: false,
  command: `deno task demo${Deno.args.length ? " " + Deno.args.join(" ") : ""}`,
});
const r = res.report;
const a = r.attribution;
console.log(`backend ${r.backend}, device: ${r.device}; model ${r.config.model}`);
console.log();
if (a?.surfaced) {
  const s = a.surfaced;
  console.log(
    `the fault surfaced at: op #${s.op} ${s.opName ?? s.kind} (${s.kind} ${s.name}, step ${s.step ?? "?"})`,
  );
  console.log(`  ${s.error}`);
} else console.log("no fault surfaced");
const rc = a?.rootCause;
if (rc) {
  console.log(
    `root cause: op #${rc.op} ${rc.name} — kernel ${rc.kernel}, step ${rc.step}, layer ${rc.layer}`,
  );
  if (rc.argument) {
    const arg = rc.args.find((x) => x.arg === rc.argument);
    console.log(`  argument ${rc.argument}: ${arg ? arg.text : ""}`);
  }
  if (rc.invariant) console.log(`  breaks: ${rc.invariant}${rc.detail ? ` (${rc.detail})` : ""}`);
  console.log(
    `named in ${a!.replays} replay(s), ${(a!.wallMs / 1000).toFixed(2)} s after the faulting run ended`,
  );
}
const confirmed = r.hypotheses.filter((h) => h.status === "CONFIRMED").map((h) => h.title);
if (confirmed.length) console.log(`confirmed: ${confirmed.join("; ")}`);
console.log();
console.log(
  `report: ${relative(Deno.cwd(), res.dir)}/report.md (total ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s)`,
);
const planted = params.fault === "none" ? null : "RoPE Q";
Deno.exit(planted === null ? (r.status === "OK" ? 0 : 1) : rc?.name === planted ? 0 : 1);
