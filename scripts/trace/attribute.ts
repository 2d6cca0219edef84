/**
 * Attribution for a traced program: the forensics experiments use
 * (scripts/forensics/attribution.ts), with the program itself as the trial.
 * The fault is where a call of the faulting process first returned a sticky
 * error; the replay runs the program again (same arguments and environment)
 * with a sync after every launch, CUDA graphs and caching allocators switched
 * off where the program offers a switch, and the first launch whose sync
 * fails is the one that faulted. A bisection over sync points follows when
 * the fault does not come back that way.
 */
import {
  attribute,
  findSurfaced,
  rankedFindings,
  rootCauseOf,
  surfacedAt,
} from "../forensics/attribution.ts";
import { STICKY_FAULTS } from "../forensics/codes.ts";
import { opLabel } from "../forensics/journal_read.ts";
import type { Attribution, Finding, OpRecord, TrialEvidence, TrialOutcome } from "../../records.ts";
import { capturedBy, type ProcessJournal } from "./journals.ts";
import { SYNC_EVERY_LAUNCH, type TracePolicy } from "./policy.ts";
import type { TracedRun } from "./run.ts";

/** What attribution asks a replay for: a policy, and why. */
export type ReplayRequest = { policy: TracePolicy; purpose: string };

const sticky = (r: OpRecord) => r.status !== null && STICKY_FAULTS.has(r.status);

/**
 * The records as the forensics should weigh them: a query that answered "not ready" did not
 * fail, and in a program that exited cleanly a failure it handled (an allocation that ran out
 * of memory and was retried) is no fault. The journal itself keeps every status.
 */
export function forensicView(records: OpRecord[], programFailed: boolean): OpRecord[] {
  return records.map((r) => {
    if (r.status === null || r.status === 0) return r;
    const notReady = r.kind === "query" && r.status === 600;
    if (!notReady && (programFailed || sticky(r))) return r;
    return { ...r, status: 0, extra: { ...(r.extra ?? {}), handled_status: r.status } };
  });
}

export function programFailed(run: TracedRun): boolean {
  return run.exit.status !== 0;
}

/** The process a run's verdict is about: the first with a sticky fault, else the first that failed, else the first. */
export function mainProcess(run: TracedRun): ProcessJournal | null {
  const ps = run.processes;
  return ps.find((p) => p.records.some(sticky)) ??
    ps.find((p) => p.decoded.inFlight.length > 0 && p.pid === run.exit.pid) ??
    ps.find((p) => p.pid === run.exit.pid) ?? ps[0] ?? null;
}

const signature = (p: ProcessJournal) => JSON.stringify([p.notes.proc?.exe ?? "", p.notes.proc?.argv ?? []]);

/** The process of `other` that does what `p` did in its run (same program and arguments, same place among those). */
export function counterpart(p: ProcessJournal, run: TracedRun, other: TracedRun): ProcessJournal | null {
  const sig = signature(p);
  const k = run.processes.filter((q) => signature(q) === sig).indexOf(p);
  const same = other.processes.filter((q) => signature(q) === sig);
  return same[k] ?? same[0] ?? other.processes[0] ?? null;
}

/** A traced run as a trial outcome (how it ended, for the forensics). */
export function outcomeOf(run: TracedRun): TrialOutcome {
  const e = run.exit;
  return {
    spec: {
      experiment: "trace",
      mode: run.policy.sync ? "blocking" : "audit",
      iteration: 0,
      runDir: run.dir,
    },
    status: e.timedOut ? "HANG" : e.signal ? "CRASH" : "OK",
    code: e.signal ? null : e.status,
    signal: e.signal,
    result: null,
    stdoutTail: "",
    stderrTail: "",
    wallMs: e.wallMs,
    command: [],
    timedOut: e.timedOut,
  };
}

export function evidenceOf(run: TracedRun, p: ProcessJournal | null): TrialEvidence {
  return {
    outcome: outcomeOf(run),
    records: p ? forensicView(p.records, programFailed(run)) : [],
    findings: p?.findings ?? [],
    fault: null,
  };
}

/**
 * The launch a replay named, found in the original journal by its ordinal (the interposer's
 * count of the process's launches), which holds also where the journals' windows differ (a
 * ring that wrapped, the replay's extra sync records).
 */
function byOrdinal(a: Attribution, replay: ProcessJournal | null, original: TrialEvidence): void {
  const rc = a.rootCause;
  if (!rc || rc.replayOp === undefined || !replay) return;
  const ordinal = replay.records.find((r) => r.id === rc.replayOp)?.extra?.ordinal;
  if (typeof ordinal !== "number") return;
  const r = original.records.find((x) => x.kind === "launch" && x.extra?.ordinal === ordinal);
  if (!r || r.id === rc.op) return;
  a.rootCause = { ...rootCauseOf(r, original.findings), replayOp: rc.replayOp };
  a.evidence.push(`the replay's launch ${ordinal} is ${opLabel(r)} in the original run`);
}

/**
 * A replay names a graph launch when the fault is inside a graph (syncs cannot split one). The
 * launches captured into it were journaled when they were captured: one the rails flagged is
 * the launch to blame, and becomes the root cause.
 */
export function intoGraph(
  a: Attribution,
  main: ProcessJournal,
  records: OpRecord[],
  findings: Finding[],
): void {
  const rc = a.rootCause;
  if (!rc || rc.kind !== "launch") return;
  const launch = records.find((r) => r.id === rc.op);
  if (!launch) return;
  const captured = new Set(capturedBy(main, launch));
  const f = rankedFindings(findings).find((x) => captured.has(x.op));
  const r = f ? records.find((x) => x.id === f.op) : undefined;
  if (!f || !r) return;
  a.rootCause = { ...rootCauseOf(r, findings), replayOp: rc.replayOp };
  a.evidence.push(
    `the graph launched by ${opLabel(launch)} holds ${captured.size} captured launch(es); ` +
      `the rails flagged ${opLabel(r)} among them (${f.rail}: ${f.invariant})`,
  );
}

export interface TraceAttribution {
  attribution: Attribution;
  /** The replay process whose record named the root cause (its backtrace is there). */
  replayProcess: ProcessJournal | null;
}

/** Attributes the fault of `main` in `run`, replaying through `replay`. */
export async function attributeTrace(
  run: TracedRun,
  main: ProcessJournal,
  replay: (how: ReplayRequest) => Promise<TracedRun>,
): Promise<TraceAttribution> {
  let named: ProcessJournal | null = null;
  // the bisection names launches by their place among the journal's launch records; the
  // interposer counts every launch of the process (the ring may have lost the first ones)
  const ordinals = main.records.filter((r) => r.kind === "launch").map((r) => Number(r.extra?.ordinal));
  const original = evidenceOf(run, main);
  const attribution = await attribute(original, async (how) => {
    const real = (how.syncAfter ?? []).map((k) => ordinals[k]).filter((o) => Number.isFinite(o));
    const window = real.length > 0 ? { from: Math.min(...real), to: Math.max(...real) } : {};
    const policy = how.mode === "blocking" ? SYNC_EVERY_LAUNCH : { ...SYNC_EVERY_LAUNCH, ...window };
    const r = await replay({ policy, purpose: how.purpose });
    const p = counterpart(main, run, r);
    if (how.mode === "blocking") named = p;
    return evidenceOf(r, p);
  });
  byOrdinal(attribution, named, original);
  intoGraph(attribution, main, original.records, original.findings);
  return { attribution, replayProcess: named };
}

/** What can be said without replaying (--no-replay): where the fault surfaced, and the first finding. */
export function attributeWithoutReplay(run: TracedRun, main: ProcessJournal): TraceAttribution {
  const e = evidenceOf(run, main);
  const surfaced = findSurfaced(e.records, run.exit.signal !== null);
  const f = rankedFindings(e.findings)[0];
  const r = f ? e.records.find((x) => x.id === f.op) : undefined;
  const evidence = surfaced
    ? [`the fault surfaced at op #${surfaced.id} ${surfaced.kind} ${surfaced.name}`]
    : [];
  if (r) evidence.push(`guard rail ${f.rail} flagged op #${r.id} ${r.kind} ${r.name}: ${f.invariant}`);
  evidence.push("no replay was made (--no-replay): the launch behind the fault is not named");
  return {
    attribution: {
      method: r ? "finding" : "none",
      surfaced: surfaced ? surfacedAt(surfaced) : null,
      rootCause: r ? rootCauseOf(r, e.findings) : null,
      reproducedUnderBlocking: null,
      timingDependent: false,
      criticalSync: null,
      replays: 0,
      wallMs: 0,
      witness: null,
      evidence,
    },
    replayProcess: null,
  };
}
