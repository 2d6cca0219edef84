/**
 * One traced run of the program, into a folder of its own: the sync policy
 * table, the interposer's journals (one per process) and, for a replay, the
 * program's captured output. The journals are followed while the program
 * runs; when it ends, each is decoded with the findings the rails made on it.
 */
import type { NativeCall } from "../../ffi/boundary.ts";
import { TraceWatch } from "./follow.ts";
import { type ProcessJournal, readProcessJournal } from "./journals.ts";
import { PolicyTable, type TracePolicy } from "./policy.ts";
import { type ProgramRun, type ResolvedProgram, runProgram } from "./program.ts";
import { type TraceBackend, traceEnv } from "./setup.ts";

export interface RunRequest {
  program: ResolvedProgram;
  args: string[];
  backend: TraceBackend;
  /** The run's folder (made here). */
  dir: string;
  policy: TracePolicy;
  /** Variables on top of the trace's own (a replay's switches). */
  env?: Record<string, string>;
  /** Capture the program's output into the folder (replays) instead of passing it through. */
  capture?: boolean;
  timeoutMs?: number;
  capacity?: number;
  /** A policy script's hook: sees each call as it is followed, and may change the policy. */
  onCall?: (call: NativeCall, journal: string, table: PolicyTable) => void;
}

export interface TracedRun {
  dir: string;
  exit: ProgramRun;
  /** One per process that journaled, the first to do so first. */
  processes: ProcessJournal[];
  policy: TracePolicy;
}

export async function tracedRun(r: RunRequest): Promise<TracedRun> {
  Deno.mkdirSync(r.dir, { recursive: true });
  const table = new PolicyTable(`${r.dir}/policy.bin`, r.policy);
  const env = traceEnv({
    backend: r.backend,
    journalDir: r.dir,
    policyPath: table.path,
    capacity: r.capacity,
    extra: r.env,
  });
  const onCall = r.onCall;
  const watch = new TraceWatch(r.dir, onCall ? (call, journal) => onCall(call, journal, table) : undefined);
  let exit: ProgramRun;
  try {
    exit = await runProgram({
      program: r.program,
      args: r.args,
      env,
      capture: r.capture ? { stdout: `${r.dir}/stdout.txt`, stderr: `${r.dir}/stderr.txt` } : undefined,
      tick: () => watch.poll(),
      timeoutMs: r.timeoutMs,
    });
    watch.drain();
  } finally {
    watch.close();
  }
  const processes = [...watch.journals.values()]
    .sort((a, b) => order(a.path) - order(b.path) || a.path.localeCompare(b.path))
    .flatMap((j) => {
      try {
        return [readProcessJournal(j.path, j.check.findings, j.follower.lost)];
      } catch (e) {
        console.error(`faultline trace: cannot read ${j.path}: ${(e as Error).message}`);
        return [];
      }
    });
  return { dir: r.dir, exit, processes, policy: table.policy };
}

/** journal.bin (the first process to journal) sorts first. */
const order = (path: string) => (path.endsWith("/journal.bin") ? 0 : 1);
