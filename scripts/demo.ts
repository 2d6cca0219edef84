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
import { relative } from "node:path";
import { dirFlag, parseCli, runCli } from "./cli/flags.ts";
import { experiment } from "./experiments/rope_forensics.ts";
import type { RunResult } from "./trials/experiment.ts";
import { EXPERIMENT_OPTIONS, paramLines, parseParams, runExperimentCli } from "./trials/experiment.ts";

const { param, "debug-env": debugEnv, sanitizer, reports } = EXPERIMENT_OPTIONS;
const CLI = {
  name: "demo",
  usage: `usage: deno task demo [--param k=v]... [--debug-env NAME] [--sanitizer] [--reports DIR]
  RoPE launch forensics (scripts/experiments/rope_forensics.ts): a Llama decode whose RoPE Q launch
  (step 3, layer 0) gets a bad pointer; prints where the fault surfaced, the root cause and the report.
  --param k=v        a param of the experiment (repeatable):${paramLines(experiment, 21)}
  --debug-env NAME   vendor debug variables for every trial: none, hip, hip-quiet, cuda, all
  --sanitizer        also run one trial under compute-sanitizer (NVIDIA)
  --reports DIR      reports root (default reports/)`,
  options: { param, "debug-env": debugEnv, sanitizer, reports },
} as const;

await runCli(CLI, async (args) => {
  const { values } = parseCli(CLI, args);
  const params = parseParams(values.param ?? []);
  console.log("faultline demo: a Llama decode whose RoPE Q launch (step 3, layer 0) gets a bad pointer");
  const t0 = performance.now();
  const res = await runExperimentCli(experiment, {
    params,
    debugEnv: values["debug-env"],
    sanitizer: values.sanitizer,
    reportsDir: dirFlag(values.reports, "reports", { mayCreate: true }),
    print: false,
    command: `deno task demo${args.length ? " " + args.join(" ") : ""}`,
  });
  printOutcome(res, t0);
  const planted = params.fault === "none" ? null : "RoPE Q";
  const rc = res.report.attribution?.rootCause;
  return planted === null ? (res.report.status === "OK" ? 0 : 1) : rc?.name === planted ? 0 : 1;
});

/** Where the fault surfaced, the root cause, what was confirmed and the report's path. */
function printOutcome(res: RunResult, t0: number): void {
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
}
