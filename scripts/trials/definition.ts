/**
 * What an experiment is: its definition (name, hypotheses, mode, the trial it
 * runs) and what its `run(ctx)` sees in the child. scripts/trials/experiment.ts
 * runs it.
 */
import type { Device, OpContext, Runtime } from "../../mod.ts";
import type { AuditSession, ExperimentAuditOptions } from "../audit/session.ts";
import type { Hypothesis, MatrixRow, Mode, RunReport, TrialSpec } from "../../records.ts";
import type { ParamRule } from "../cli/params.ts";

/** The FFI API as mod.ts exports it (loaded in the child only). */
export type FaultlineApi = typeof import("../../mod.ts");

/** What `run(ctx)` gets in the child. */
export interface TrialContext {
  /** What the parent asked this trial to run. */
  spec: TrialSpec;
  /** The trial's mode. */
  mode: Mode;
  /** Its iteration within its matrix row (0 outside a matrix). */
  iteration: number;
  /** The trial's params: the experiment's defaults, then the matrix row's, then --param. */
  params: Record<string, unknown>;
  /** The matrix row asked for extra load. */
  stress: boolean;
  /** The loaded runtime. */
  runtime: Runtime;
  /** The trial's device: the first it was placed on (device.id is its host id), else device 0. */
  device: Device;
  /** Every device the trial sees: those it was placed on (ExperimentDef.devices of them), else all. */
  devices: Device[];
  /** "sim", "cuda" or "hip". */
  backend: string;
  /** Everything mod.ts exports (launch, kernels, errors...). */
  ffi: FaultlineApi;
  /** Values returned to the parent (also what run() returns, merged). */
  values: Record<string, unknown>;
  /** Configuration to record in the report (model shapes...), merged over the experiment's. */
  config: Record<string, unknown>;
  /** The audit session of the trial (findings, registry, rails, sync policy, checkModel); null in mode off. */
  audit: AuditSession | null;
  /** Where in the workload the next ops run (step, layer, the scheduler's op name). */
  at(where: OpContext): void;
  /** Logs to stderr (stdout carries the result line). */
  log(...args: unknown[]): void;
}

/** What an experiment is: its name, what it suspects, the trials it runs and the trial itself. */
export interface ExperimentDef {
  /** Folder name under reports/. */
  name: string;
  /** One line: what the experiment looks for. */
  title?: string;
  /** Configuration to record in every report (the trial's ctx.config is merged over it). */
  config?: Record<string, unknown>;
  /** Hypotheses to decide (default: the stock set). */
  hypotheses?: Hypothesis[];
  /** Mode of the main trial (default "audit"). */
  mode?: Mode;
  /** Default params of every trial. */
  params?: Record<string, unknown>;
  /**
   * What each param accepts (scripts/cli/params.ts): the values it takes, or a check. A param
   * without a rule takes values of its default's type; a name in neither is refused before any trial.
   */
  paramRules?: Record<string, ParamRule>;
  /** Options of the trial's audit session (redzones, contextLength, guards...); an unknown one is an error. */
  audit?: ExperimentAuditOptions | ((spec: TrialSpec) => ExperimentAuditOptions);
  /** Run a matrix instead of one trial (true: the default matrix, baseline 50 / audit 50 / stress 100). */
  matrix?: MatrixRow[] | boolean;
  /** Debug environment preset (or variables) every trial runs under. */
  debugEnv?: string | Record<string, string>;
  /** Also run one trial under compute-sanitizer where it is installed (NVIDIA). */
  sanitizer?: boolean;
  /** Attribute a fault with replays (default true). */
  attribute?: boolean;
  /** Also write the D2H audit log (d2h_audit.log: a start and an end line per device-to-host copy) and put a sample of it in the report. */
  d2hAudit?: boolean;
  /** Most replays for the bisection (default 6). */
  maxReplays?: number;
  /** Per-trial time limit in ms (default 120 000). */
  timeoutMs?: number;
  /**
   * Devices each trial uses (default 1): placed trials get that many each (ctx.devices), and a run places
   * one trial per group of that many devices at a time.
   */
  devices?: number;
  /** Paragraphs for the report's summary, computed from the finished run. */
  notes?(run: RunReport): string[];
  /** Next steps for the report (default: generated from the verdict). */
  nextSteps?(run: RunReport): string[] | undefined;
  /** Runs once per trial, in the child. */
  run(ctx: TrialContext): Promise<void | Record<string, unknown>> | void | Record<string, unknown>;
}

/** An experiment as defineExperiment returns it. */
export interface Experiment extends ExperimentDef {
  /** Path of the experiment file (the child runs it with --trial). */
  file?: string;
}

/** The file that called defineExperiment, from the call stack (file:// URL), or undefined. */
function callerFile(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = /(file:\/\/[^\s)]+?):\d+:\d+\)?\s*$/.exec(line);
    if (m && m[1] !== import.meta.url) return m[1];
  }
  return undefined;
}

/**
 * Declares an experiment. The file that declares it is what the child runs;
 * it is taken from the call stack (pass `file: import.meta.url` to be explicit).
 */
export function defineExperiment(def: ExperimentDef & { file?: string }): Experiment {
  return { file: def.file ?? callerFile(), ...def };
}
