/**
 * `deno task trace -- PROGRAM ARGS`: runs an unmodified CUDA (or HIP)
 * program under the interposer, follows its journal and runs the guard rails
 * on it; when a call returns a sticky fault, replays the program with a sync
 * after every launch to name the launch that faulted; writes
 * reports/trace/<run-id>/. The program's stdin, stdout and stderr are its
 * own; the trace speaks on stderr, and exits with the program's status.
 */
import { join } from "node:path";
import type { NativeCall } from "../../ffi/boundary.ts";
import { emptyEvidence, evaluate } from "../forensics/hypotheses.ts";
import { STOCK_HYPOTHESES } from "../forensics/stock.ts";
import { summaryLines } from "../trials/experiment.ts";
import {
  attributeTrace,
  attributeWithoutReplay,
  evidenceOf,
  mainProcess,
  type ReplayRequest,
} from "./attribute.ts";
import { checkPolicy, NO_SYNC, type PolicyTable, type TracePolicy } from "./policy.ts";
import { ProgramNotRunnable, type ResolvedProgram, resolveProgram } from "./program.ts";
import { buildTraceReport, type TraceOutcome, writeTraceReport } from "./report.ts";
import { type TracedRun, tracedRun } from "./run.ts";
import { chooseBackend, programApi, REPLAY_ENV, SetupError, type TraceBackend } from "./setup.ts";
import { useProgramStatusNames } from "./status_names.ts";

export interface TraceOptions {
  program: string;
  args: string[];
  backend?: string;
  /** The sync policy of the first run (default: none). */
  policy?: TracePolicy;
  /** A policy script: a module exporting `policy` and/or `onCall(call, control)`. */
  policyScript?: string;
  /** Replay to name the faulting launch (default true). */
  replay?: boolean;
  reportsDir?: string;
  runId?: string;
  /** Journal ring capacity per process, in records. */
  capacity?: number;
  /** Each replay's time limit (default: 10x the first run, at least 60 s). */
  replayTimeoutMs?: number;
  /** Print nothing but errors. */
  quiet?: boolean;
  /** Write the program's stdout and stderr into the run's folder instead of passing them through. */
  capture?: boolean;
}

export interface TraceResult {
  /** What `deno task trace` exits with: the program's status. */
  status: number;
  dir: string;
  outcome: TraceOutcome | null;
}

/** What a policy script may export. */
export interface PolicyScript {
  policy?: TracePolicy | string;
  /** Sees each call as the journal is followed; `control.set` changes the policy for later launches. */
  onCall?: (call: NativeCall, control: { set(p: TracePolicy | string): void; journal: string }) => void;
}

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

function newRunId(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  const rand = [...crypto.getRandomValues(new Uint8Array(2))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${
    p(d.getUTCMinutes())
  }${p(d.getUTCSeconds())}-${rand}`;
}

const shellWord = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

async function loadPolicyScript(path: string): Promise<PolicyScript> {
  const url = path.startsWith("file:")
    ? path
    : `file://${path.startsWith("/") ? path : join(Deno.cwd(), path)}`;
  const mod = await import(url);
  return { policy: mod.policy ?? mod.default?.policy, onCall: mod.onCall ?? mod.default?.onCall };
}

/** Runs the trace; never throws for anything the program does. */
export async function runTrace(o: TraceOptions): Promise<TraceResult> {
  const started = new Date().toISOString();
  const runId = o.runId ?? newRunId();
  const dir = join(
    o.reportsDir ?? Deno.env.get("FAULTLINE_REPORTS") ?? join(REPO, "reports"),
    "trace",
    runId,
  );
  const command = [o.program, ...o.args].map(shellWord).join(" ");
  const backend: TraceBackend = chooseBackend(o.backend);
  useProgramStatusNames(programApi(backend));
  try {
    Deno.mkdirSync(join(dir, "trials"), { recursive: true });
  } catch (e) {
    throw new SetupError(`cannot make the report folder ${dir}: ${(e as Error).message}`);
  }
  let program: ResolvedProgram;
  try {
    program = resolveProgram(o.program);
  } catch (e) {
    if (!(e instanceof ProgramNotRunnable)) throw e;
    await writeNotRunnable(dir, runId, command, backend, started, e);
    return { status: e.status, dir, outcome: null };
  }
  const script = o.policyScript ? await loadPolicyScript(o.policyScript) : {};
  const policy = checkPolicy(script.policy ?? o.policy ?? NO_SYNC);
  const onCall = script.onCall
    ? (call: NativeCall, journal: string, table: PolicyTable) =>
      script.onCall!(call, { set: (p) => table.set(p), journal })
    : undefined;
  let n = 0;
  const trialDir = (purpose: string) => join(dir, "trials", `${String(++n).padStart(3, "0")}-${purpose}`);
  const run = await tracedRun({
    program,
    args: o.args,
    backend,
    dir: trialDir("run"),
    policy,
    capacity: o.capacity,
    capture: o.capture,
    onCall,
  });
  const replays: TracedRun[] = [];
  const replay = async (how: ReplayRequest) => {
    const r = await tracedRun({
      program,
      args: o.args,
      backend,
      dir: trialDir(how.purpose),
      policy: how.policy,
      env: REPLAY_ENV,
      capture: true,
      capacity: o.capacity,
      timeoutMs: o.replayTimeoutMs ?? Math.max(60_000, 10 * run.exit.wallMs),
    });
    replays.push(r);
    return r;
  };
  const outcome = await analyse(run, replay, replays, o.replay !== false, {
    runId,
    command,
    backend,
    started,
  });
  const report = buildTraceReport(outcome, new Date().toISOString());
  try {
    await writeTraceReport(dir, outcome, report);
  } catch (e) {
    // the program ran: its status stands, whatever became of the report
    console.error(`faultline trace: cannot write the report to ${dir}: ${(e as Error).message}`);
    return { status: run.exit.status, dir, outcome };
  }
  if (!o.quiet) console.error(`faultline ${summaryLines(report, dir).join("\n")}`);
  return { status: run.exit.status, dir, outcome };
}

async function analyse(
  run: TracedRun,
  replay: (how: ReplayRequest) => Promise<TracedRun>,
  replays: TracedRun[],
  wantReplay: boolean,
  meta: { runId: string; command: string; backend: string; started: string },
): Promise<TraceOutcome> {
  const main = mainProcess(run);
  const outcome: TraceOutcome = {
    ...meta,
    run,
    main,
    attribution: null,
    replayProcess: null,
    replays,
    hypotheses: [],
  };
  const original = evidenceOf(run, main);
  const faulted = run.exit.signal !== null ||
    original.records.some((r) => r.status !== null && r.status !== 0);
  if (main && (faulted || original.findings.length > 0)) {
    const t = wantReplay ? await attributeTrace(run, main, replay) : attributeWithoutReplay(run, main);
    outcome.attribution = t.attribution;
    outcome.replayProcess = t.replayProcess;
  }
  outcome.hypotheses = evaluate(
    [...STOCK_HYPOTHESES],
    emptyEvidence("trace", {
      records: original.records,
      findings: original.findings,
      attribution: outcome.attribution,
      faulted,
      reproduced: faulted,
    }),
  );
  return outcome;
}

/** The report of a program that could not start: the shell's one line, and nothing traced. */
async function writeNotRunnable(
  dir: string,
  runId: string,
  command: string,
  backend: string,
  started: string,
  e: ProgramNotRunnable,
): Promise<void> {
  const run: TracedRun = {
    dir,
    exit: { status: e.status, signal: null, pid: 0, wallMs: 0, timedOut: false },
    processes: [],
    policy: NO_SYNC,
  };
  const outcome: TraceOutcome = {
    runId,
    command,
    backend,
    started,
    run,
    main: null,
    attribution: null,
    replayProcess: null,
    replays: [],
    hypotheses: [],
  };
  const report = buildTraceReport(outcome, new Date().toISOString());
  report.notes = [`The program did not start: ${e.message} (exit ${e.status}, as a shell would).`];
  await writeTraceReport(dir, outcome, report);
  console.error(`faultline trace: ${e.message}`);
}
