/**
 * The contract between an experiment's parent process and its trials.
 *
 * A trial is one run of an experiment in a child process:
 * `deno run -A <experiment file> --trial '<TrialSpec as JSON>'`. The child runs
 * the experiment once in the given mode, writes its records under
 * `spec.runDir`, and prints a TrialResult as the last line of its stdout. The
 * parent never loads the native library, so a sticky GPU error, a segfault or
 * a hang ends one trial and never the run.
 */

import type { BuildInfo } from "../../ffi/build_info.ts";

/** Instrumentation modes (DESIGN.md vocabulary). */
export type Mode = "off" | "audit" | "enforce" | "blocking";

export const MODES: readonly Mode[] = ["off", "audit", "enforce", "blocking"];

export interface TrialSpec {
  /** Experiment name (the folder under reports/). */
  experiment: string;
  mode: Mode;
  /** Iteration number within its matrix row (0 outside a matrix). */
  iteration: number;
  /** Folder the child writes its journal and records to. */
  runDir: string;
  /** Why the parent runs this trial: "run", "replay", "bisect", "matrix", "sanitizer". */
  purpose?: string;
  /** The experiment's own knobs for this trial (fault case, stress level...). */
  params?: Record<string, unknown>;
  /**
   * Launch ordinals (0-based, in journal order) after which the runtime
   * synchronizes the launch's stream: the bisection over sync points. Absent:
   * the mode's own sync policy decides.
   */
  syncAfter?: number[];
  /** Name of the debug environment preset the trial runs under, recorded in the report. */
  debugEnv?: string;
}

/** Native fault information (fl_fault_info_get), where the backend has it. */
export interface FaultInfo {
  status: number;
  device?: number;
  /** Faulting device address, 0 when unknown. */
  address?: number;
  stream?: number;
  /** The journal op id in force when the faulting op was enqueued. */
  tag?: number;
  /** Kernel name, or "memcpy"/"memset". */
  op?: string;
  access?: "read" | "write" | "unknown";
}

/** One guard-rail finding, as scripts/guards/ reports it. */
export interface Finding {
  rail: string;
  /** Journal op id the finding is about. */
  op: number;
  kind?: string;
  name?: string;
  step?: number;
  layer?: number;
  /** The scheduler's name for the op ("RoPE Q"). */
  label?: string;
  argument?: string;
  ptr?: number;
  allocation?: {
    id?: number;
    name?: string;
    offset?: number;
    bytes?: number;
    size?: number;
    state?: string;
  } | null;
  invariant: string;
  detail?: string;
  /** "error" blocks in enforce mode; "warn" never blocks. */
  severity?: string;
  /** "overridden" when an experiment let a blocked call through on purpose. */
  status?: string;
  [key: string]: unknown;
}

/** What the child prints as the last line of its stdout. */
export interface TrialResult {
  status: "OK" | "FAULT" | "BLOCKED" | "ERROR";
  /** The error that ended the trial, if one did. */
  error?: { code?: number; name?: string; message: string; op?: number } | null;
  fault?: FaultInfo | null;
  findings?: Finding[];
  /** Backend and device the trial ran on. */
  backend?: string;
  device?: string;
  /** What the loaded library was built for (GPU targets), null when unknown. */
  build?: BuildInfo | null;
  /** Number of journal records written. */
  ops?: number;
  /** Free-form values the experiment returns (numbers, checksums, timings). */
  values?: Record<string, unknown>;
}

/** How a trial ended, as the parent saw it. */
export type TrialStatus = "OK" | "FAULT" | "BLOCKED" | "ERROR" | "CRASH" | "HANG";

export interface TrialOutcome {
  spec: TrialSpec;
  status: TrialStatus;
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  /** Terminating signal ("SIGSEGV", "SIGKILL"...), null when it exited. */
  signal: string | null;
  /** The child's TrialResult, when its last stdout line was one. */
  result: TrialResult | null;
  stdoutTail: string;
  stderrTail: string;
  wallMs: number;
  /** The child's command line. */
  command: string[];
  /** The trial was killed at its time limit. */
  timedOut: boolean;
}

/** Marker prefix of the result line, so a stray last line of output is never mistaken for one. */
export const RESULT_PREFIX = "@@faultline-trial ";

/** Formats a TrialResult as the child's last stdout line. */
export function resultLine(result: TrialResult): string {
  return RESULT_PREFIX + JSON.stringify(result);
}

/** Finds the last result line in a child's stdout. */
export function parseResult(stdout: string): TrialResult | null {
  const lines = stdout.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (!line.startsWith(RESULT_PREFIX)) continue;
    try {
      const v = JSON.parse(line.slice(RESULT_PREFIX.length));
      if (v && typeof v === "object" && typeof v.status === "string") return v as TrialResult;
    } catch {
      return null;
    }
    return null;
  }
  return null;
}
