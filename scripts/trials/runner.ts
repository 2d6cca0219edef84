/**
 * Runs one trial in a child process and classifies how it ended.
 *
 * The child is `deno run -A <file> --trial <spec>` (optionally under a wrapper
 * such as compute-sanitizer), in its own process group. A time limit kills the
 * group (HANG); a signal other than ours is a CRASH; otherwise the child's own
 * result line decides, and a child that exits without one is an ERROR. When
 * the child ends, whatever it left running in its group is killed too. Nothing
 * the child does can take the parent down: the parent never loads the native
 * library.
 */

import { parseResult } from "./spec.ts";
import type { Mode, TrialOutcome, TrialSpec, TrialStatus } from "../../records.ts";
import { inOwnGroup, killGroup } from "./process_group.ts";

/** After the child exits, how long its output pipes may stay open (held by a process that left its group). */
const DRAIN_GRACE_MS = 2000;

export interface RunTrialOptions {
  /** Time limit in milliseconds (default 60 000); past it the child is killed and the trial is a HANG. */
  timeoutMs?: number;
  /** Extra environment for the child (debug presets...). */
  env?: Record<string, string>;
  /** Command prefix, e.g. ["compute-sanitizer", "--tool", "memcheck"]. The deno command follows it. */
  wrap?: string[];
  /** Extra arguments to `deno run` before the file (default ["-A"]). */
  denoArgs?: string[];
  /** Working directory of the child. */
  cwd?: string;
  /** How many characters of stdout/stderr to keep (default 8000). */
  tail?: number;
  /** Receives the child's stderr lines as they come (a live view); default: kept, not printed. */
  onStderr?: (text: string) => void;
}

/** The child command line for a trial (executable first). */
export function trialCommand(file: string, spec: TrialSpec, opts: RunTrialOptions = {}): string[] {
  return [
    ...(opts.wrap ?? []),
    Deno.execPath(),
    "run",
    ...(opts.denoArgs ?? ["-A"]),
    file,
    "--trial",
    JSON.stringify(spec),
  ];
}

function tailOf(s: string, n: number): string {
  return s.length <= n ? s : s.slice(s.length - n);
}

/** Reads a child's output to its end, keeping the tail; `stop` cancels the read (a pipe nobody will close). */
async function drain(
  stream: ReadableStream<Uint8Array>,
  keep: number,
  stop: AbortSignal,
  onText?: (t: string) => void,
): Promise<string> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  stop.addEventListener("abort", cancel, { once: true });
  let text = "";
  try {
    // The result is the last line, so the tail is what matters.
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      const t = dec.decode(r.value, { stream: true });
      onText?.(t);
      text += t;
      if (text.length > keep * 4) text = text.slice(text.length - keep * 2);
    }
  } catch {
    // Cancelled, or the pipe broke: keep what came.
  } finally {
    stop.removeEventListener("abort", cancel);
  }
  return text + dec.decode();
}

/** Runs one trial; never throws for anything the child does. */
export async function runTrial(
  file: string,
  spec: TrialSpec,
  opts: RunTrialOptions = {},
): Promise<TrialOutcome> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const keep = opts.tail ?? 8000;
  const command = trialCommand(file, spec, opts);
  const t0 = performance.now();
  let child: Deno.ChildProcess;
  try {
    const started = inOwnGroup(command);
    child = new Deno.Command(started[0], {
      args: started.slice(1),
      cwd: opts.cwd,
      env: { NO_COLOR: "1", FAULTLINE_TRIAL: "1", ...(opts.env ?? {}) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    return {
      spec,
      status: "ERROR",
      code: null,
      signal: null,
      result: null,
      stdoutTail: "",
      stderrTail: `could not start the trial: ${(e as Error).message}`,
      wallMs: performance.now() - t0,
      command,
      timedOut: false,
    };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  const stop = new AbortController();
  const output = Promise.all([
    drain(child.stdout, keep, stop.signal),
    drain(child.stderr, keep, stop.signal, opts.onStderr),
  ]);
  const status = await child.status;
  clearTimeout(timer);
  killGroup(child);
  const grace = setTimeout(() => stop.abort(), DRAIN_GRACE_MS);
  const [out, err] = await output;
  clearTimeout(grace);
  const wallMs = performance.now() - t0;
  const result = parseResult(out);
  let st: TrialStatus;
  if (timedOut) st = "HANG";
  else if (status.signal) st = "CRASH";
  else if (result) st = result.status;
  else st = "ERROR";
  return {
    spec,
    status: st,
    code: status.signal ? null : status.code,
    signal: status.signal ?? null,
    result: timedOut ? null : result,
    stdoutTail: tailOf(out, keep),
    stderrTail: tailOf(err, keep),
    wallMs,
    command,
    timedOut,
  };
}

/** One line saying how a trial ended, for logs and reports. */
export function describeOutcome(o: TrialOutcome): string {
  const ms = `${(o.wallMs / 1000).toFixed(2)} s`;
  switch (o.status) {
    case "HANG":
      return `HANG: killed at the time limit after ${ms}`;
    case "CRASH":
      return `CRASH: terminated by ${o.signal} after ${ms}`;
    case "ERROR":
      return o.result?.error
        ? `ERROR: ${o.result.error.message} (${ms})`
        : `ERROR: exited with code ${o.code} and no result (${ms})`;
    default: {
      const e = o.result?.error;
      return e
        ? `${o.status}: ${e.name ?? ""}${e.name ? " " : ""}${e.message} (${ms})`
        : `${o.status} (${ms})`;
    }
  }
}

/** Builds a spec with defaults filled in. */
export function makeSpec(
  experiment: string,
  runDir: string,
  mode: Mode,
  extra: Partial<TrialSpec> = {},
): TrialSpec {
  return { experiment, mode, iteration: 0, runDir, purpose: "run", ...extra };
}
