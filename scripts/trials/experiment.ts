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
import { type Mode, MODES, type TrialSpec } from "../../records.ts";
import { choiceFlag, dirFlag, numberFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
import { runChild } from "./child.ts";
import type { Experiment } from "./definition.ts";
import { paramsUsage, parseParams } from "../cli/params.ts";
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
export {
  integerParam,
  orParam,
  type ParamCheck,
  type ParamRule,
  type ParamValue,
  parseParams,
} from "../cli/params.ts";
export { loadTrialEvidence, runExperiment, type RunOptions, type RunResult, summaryLines } from "./parent.ts";
// what an experiment's hypotheses are written with, so that one import serves a single-file experiment
export { confirmed, hypothesis, inconclusive, notReproduced, ruledOut } from "../forensics/hypotheses.ts";
export { STOCK_HYPOTHESES, stockHypotheses } from "../forensics/stock.ts";

/** The options every experiment's command line takes (the demo takes some of them). */
export const EXPERIMENT_OPTIONS = {
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
} as const;

/** The usage of an experiment file: its options, and its params with what each takes. */
export function experimentUsage(exp: Experiment, command = "deno run -A <experiment.ts>"): string {
  return `usage: ${command} [options]${exp.title ? `\n  ${exp.title}` : ""}
  --mode off|audit|enforce|blocking   mode of the main trial (default: the experiment's, else audit)
  --matrix                            run the matrix (the experiment's, else baseline 50 / audit 50 / stress 100)
  --scale X                           multiply matrix iterations by X (> 0)
  --param k=v                         a trial param (repeatable; JSON values parse)${paramLines(exp)}
  --debug-env NAME                    debug environment preset: none, hip, hip-quiet, cuda, all
  --sanitizer                         also run one trial under compute-sanitizer (NVIDIA)
  --no-attribute                      do not replay to attribute a fault
  --devices LIST                      devices to run trials on, one trial per device at a time:
                                      0,1,3 or 0-3 or all (default: all)
  --timeout S                         per-trial time limit in seconds (> 0)
  --reports DIR                       reports root (default reports/)`;
}

/** The experiment's params, one a line, indented under --param. */
export function paramLines(exp: Experiment, indent = 38): string {
  return paramsUsage(exp).map((l) => `\n${" ".repeat(indent)}${l}`).join("");
}

/**
 * The entry point of an experiment file: the child role with --trial, the
 * parent otherwise. Exits with 0 when the run is OK, 1 otherwise, 2 on bad usage
 * (one line and the usage on stderr: an unknown flag or param, a value of the wrong type).
 */
export async function main(exp: Experiment, args: string[] = Deno.args): Promise<void> {
  const k = args.indexOf("--trial");
  if (k >= 0) {
    const spec = JSON.parse(args[k + 1]) as TrialSpec;
    const result = await runChild(exp, spec);
    console.log(resultLine(result));
    Deno.exit(0);
  }
  const file = experimentFile(exp, {});
  const cli = {
    name: exp.name,
    usage: experimentUsage(exp, `deno run -A ${relative(Deno.cwd(), file)}`),
    options: EXPERIMENT_OPTIONS,
  };
  await runCli(cli, async () => {
    const { values } = parseCli(cli, args);
    const res = await runExperimentCli(exp, runOptions(exp, values, args));
    return res.report.status === "OK" ? 0 : 1;
  }, args);
}

/** runExperiment, with what it refuses before any trial (FaultlineUsageError) as a usage error. */
export async function runExperimentCli(
  exp: Experiment,
  opts: RunOptions,
): Promise<Awaited<ReturnType<typeof runExperiment>>> {
  try {
    return await runExperiment(exp, opts);
  } catch (e) {
    throw e instanceof FaultlineUsageError ? new UsageError(e.message) : e;
  }
}

/** `f()`, with a FaultlineUsageError it throws as the command line's usage error. */
function asUsageError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof FaultlineUsageError ? new UsageError(e.message) : e;
  }
}

/** The command line's values (node:util parseArgs over EXPERIMENT_OPTIONS). */
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
  const timeout = numberFlag(v.timeout, "timeout", { positive: true });
  return {
    mode: choiceFlag(v.mode, "mode", MODES) as Mode | undefined,
    matrix: v.matrix ? (exp.matrix && exp.matrix !== true ? exp.matrix : true) : undefined,
    scale: numberFlag(v.scale, "scale", { positive: true }),
    params: parseParams(v.param ?? []),
    debugEnv: v["debug-env"],
    sanitizer: v.sanitizer,
    attribute: v["no-attribute"] ? false : undefined,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    devices: v.devices !== undefined ? asUsageError(() => parseDevices(v.devices!)) : undefined,
    reportsDir: dirFlag(v.reports, "reports", { mayCreate: true }),
    command: `deno run -A ${relative(Deno.cwd(), experimentFile(exp, {}))}${
      args.length ? " " + args.join(" ") : ""
    }`,
  };
}
