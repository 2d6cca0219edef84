/**
 * Single-file experiments. An experiment file declares what to run and what
 * to suspect, and hands itself to `main`:
 *
 *   import { defineExperiment, main } from "../trials/experiment.ts";
 *   import { stockHypotheses } from "../forensics/stock.ts";
 *
 *   export const experiment = defineExperiment({
 *     name: "my_experiment",
 *     config: { n: 1024 },
 *     hypotheses: stockHypotheses(),
 *     async run(ctx) {
 *       const { faultWriteAt, launch } = ctx.ffi;
 *       const buf = ctx.device.malloc(4096, { name: "x" });
 *       ...
 *     },
 *   });
 *   if (import.meta.main) await main(experiment);
 *
 * `main` plays both roles. Run by the user it is the parent: it runs the
 * experiment's trials in child processes (`--trial <spec>`), attributes a
 * fault (a blocking replay, a bisection over sync points), optionally runs a
 * trial under compute-sanitizer, evaluates the hypotheses and writes
 * reports/<experiment>/<run-id>/. Run with `--trial` it is the child: it
 * loads the native library, instruments the trial for its mode, runs
 * `run(ctx)` once and prints its result line.
 *
 * The parent never loads the native library: the FFI layer is imported
 * dynamically, in the child only.
 */

import { relative } from "node:path";
import { parseArgs } from "node:util";
import { type Mode, MODES, type TrialSpec } from "../../records.ts";
import { runChild } from "./child.ts";
import type { Experiment } from "./definition.ts";
import { experimentFile, runExperiment, type RunOptions } from "./parent.ts";
import { FaultlineUsageError } from "../../mod.ts";
import { resultLine } from "./spec.ts";
import { parseDevices } from "./devices.ts";

export { runChild } from "./child.ts";
export {
  defineExperiment,
  type Experiment,
  type ExperimentDef,
  type FaultlineApi,
  type TrialContext,
} from "./definition.ts";
export { loadTrialEvidence, runExperiment, type RunOptions, type RunResult, summaryLines } from "./parent.ts";

/** Parses `k=v` params: numbers and booleans as such, JSON when it parses, strings otherwise. */
export function parseParams(list: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i < 0) {
      out[kv] = true;
      continue;
    }
    const k = kv.slice(0, i);
    const v = kv.slice(i + 1);
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

const USAGE = `usage: deno run -A <experiment.ts> [options]
  --mode off|audit|enforce|blocking   mode of the main trial (default: the experiment's, else audit)
  --matrix                            run the matrix (the experiment's, else baseline 50 / audit 50 / stress 100)
  --scale X                           multiply matrix iterations by X
  --param k=v                         a trial param (repeatable)
  --debug-env NAME                    debug environment preset: none, hip, hip-quiet, cuda, all
  --sanitizer                         also run one trial under compute-sanitizer (NVIDIA)
  --no-attribute                      do not replay to attribute a fault
  --devices LIST                      devices to run trials on, one trial per device at a time:
                                      0,1,3 or 0-3 or all (default: all)
  --timeout S                         per-trial time limit in seconds
  --reports DIR                       reports root (default reports/)`;

/**
 * The entry point of an experiment file: the child role with --trial, the
 * parent otherwise. Exits with 0 when the run is OK, 1 otherwise, 2 on bad usage.
 */
export async function main(exp: Experiment, args: string[] = Deno.args): Promise<void> {
  const k = args.indexOf("--trial");
  if (k >= 0) {
    const spec = JSON.parse(args[k + 1]) as TrialSpec;
    const result = await runChild(exp, spec);
    console.log(resultLine(result));
    Deno.exit(0);
  }
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        mode: { type: "string" },
        matrix: { type: "boolean" },
        scale: { type: "string" },
        param: { type: "string", multiple: true },
        "debug-env": { type: "string" },
        sanitizer: { type: "boolean" },
        "no-attribute": { type: "boolean" },
        timeout: { type: "string" },
        devices: { type: "string" },
        reports: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if (v.mode && !MODES.includes(v.mode as Mode)) {
    console.error(`unknown mode ${v.mode}\n${USAGE}`);
    Deno.exit(2);
  }
  let res;
  try {
    res = await runExperiment(exp, runOptions(exp, v, args));
  } catch (e) {
    // an experiment that cannot run as declared (an unknown audit option...): one line, no stack trace
    if (!(e instanceof FaultlineUsageError)) throw e;
    console.error(`${exp.name}: ${e.message}`);
    Deno.exit(2);
  }
  Deno.exit(res.report.status === "OK" ? 0 : 1);
}

/** The command line's values (node:util parseArgs over main's options). */
interface CliValues {
  mode?: string;
  matrix?: boolean;
  scale?: string;
  param?: string[];
  "debug-env"?: string;
  sanitizer?: boolean;
  "no-attribute"?: boolean;
  timeout?: string;
  devices?: string;
  reports?: string;
}

function runOptions(exp: Experiment, v: CliValues, args: string[]): RunOptions {
  return {
    mode: v.mode as Mode | undefined,
    matrix: v.matrix ? (exp.matrix && exp.matrix !== true ? exp.matrix : true) : undefined,
    scale: v.scale ? Number(v.scale) : undefined,
    params: parseParams(v.param ?? []),
    debugEnv: v["debug-env"],
    sanitizer: v.sanitizer,
    attribute: v["no-attribute"] ? false : undefined,
    timeoutMs: v.timeout ? Number(v.timeout) * 1000 : undefined,
    devices: v.devices !== undefined ? parseDevices(v.devices) : undefined,
    reportsDir: v.reports,
    command: `deno run -A ${relative(Deno.cwd(), experimentFile(exp, {}))}${
      args.length ? " " + args.join(" ") : ""
    }`,
  };
}
