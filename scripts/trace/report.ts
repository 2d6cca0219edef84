/**
 * A trace's records, in the files every run writes (scripts/report/:
 * verdict.json, report.md, trace.json, timeline.svg, journal.jsonl) under
 * reports/trace/<run-id>/, plus what only a trace has: the program's exit,
 * every process it journaled (processes/<pid>.jsonl, tied together by pid
 * and parent pid), the named launch with its host backtrace, and the entry
 * points passed through unwrapped. verdict.json carries them as `trace`.
 */
import { join } from "node:path";
import { journalJsonl } from "../../ffi/journal.ts";
import type {
  Attribution,
  HypothesisResult,
  OpRecord,
  RunReport,
  RunStatus,
  TrialSummary,
  VerdictTrace,
  VerdictTraceLaunch,
  VerdictTraceProcess,
} from "../../records.ts";
import { opLabel } from "../forensics/journal_read.ts";
import { writeReport } from "../report/write.ts";
import { forensicView, programFailed } from "./attribute.ts";
import { capturedBy, type ProcessJournal } from "./journals.ts";
import { describePolicy } from "./policy.ts";
import { describeExit } from "./program.ts";
import type { TracedRun } from "./run.ts";
import { demangle, symbolize } from "./symbolize.ts";

export interface TraceOutcome {
  runId: string;
  command: string;
  backend: string;
  started: string;
  /** The first run (the program as the user ran it). */
  run: TracedRun;
  main: ProcessJournal | null;
  attribution: Attribution | null;
  /** The replay's process that named the launch (its backtrace). */
  replayProcess: ProcessJournal | null;
  replays: TracedRun[];
  hypotheses: HypothesisResult[];
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The named launch, as the verdict's trace.launch and the report say it. */
export type LaunchDetail = VerdictTraceLaunch;

function geometryOf(r: OpRecord): { grid: number[]; block: number[]; sharedBytes: number } | null {
  const g = r.extra?.geometry as { grid: number[]; block: number[]; sharedBytes: number } | undefined;
  return g ?? null;
}

const ordinalOf = (r: OpRecord) => (typeof r.extra?.ordinal === "number" ? r.extra.ordinal as number : null);

export function launchDetail(o: TraceOutcome): LaunchDetail | null {
  const rc = o.attribution?.rootCause;
  const main = o.main;
  if (!rc || rc.kind !== "launch" || !main) return null;
  const r = main.records.find((x) => x.id === rc.op);
  if (!r) return null;
  const g = geometryOf(r);
  const captured = capturedBy(main, r).map((op) => main.records.find((x) => x.id === op)).filter((x) =>
    x !== undefined
  ).map((x) => ({ op: x!.id, kernel: demangle(x!.name), ordinal: ordinalOf(x!) }));
  const frames = rc.replayOp !== undefined ? o.replayProcess?.notes.backtraces.get(rc.replayOp) : undefined;
  return {
    op: r.id,
    ordinal: ordinalOf(r),
    kernel: demangle(r.name),
    grid: g?.grid ?? null,
    block: g?.block ?? null,
    shared_bytes: g?.sharedBytes ?? null,
    stream: hex(r.stream),
    arguments: [
      ...rc.args.map((a) => a.text),
      ...Object.entries(r.scalars).map(([k, v]) => `${k} = ${v}`),
    ],
    captured,
    backtrace: frames ? symbolize(frames) : [],
  };
}

function processSummary(p: ProcessJournal, dir: string): VerdictTraceProcess {
  const d = p.decoded;
  const failure = p.records.find((r) => r.status !== null && r.status !== 0);
  return {
    pid: p.pid,
    ppid: p.notes.proc?.ppid ?? null,
    exe: p.notes.proc?.exe ?? null,
    argv: p.notes.proc?.argv ?? [],
    device: p.notes.device?.name ?? null,
    journal: p.path.startsWith(dir) ? p.path.slice(dir.length + 1) : p.path,
    records: d.written,
    launches: p.records.filter((r) => r.kind === "launch").length,
    findings: p.findings.length,
    lost_while_following: p.lost,
    overwritten: d.overwritten?.count ?? 0,
    in_flight: d.inFlight.map((r) => `#${r.id} ${r.kind} ${r.name}`),
    first_failure: failure ? `${opLabel(failure)}: status ${failure.status}` : null,
    unhooked: p.notes.unhooked.filter((u) => u.found).map((u) => u.name),
  };
}

const launchCount = (o: TraceOutcome) =>
  o.run.processes.reduce((n, p) => n + p.records.filter((r) => r.kind === "launch").length, 0);

function statusOf(o: TraceOutcome): RunStatus {
  const a = o.attribution;
  if (a?.surfaced || o.run.exit.signal !== null) return "FAULT";
  return "OK";
}

function launchNote(l: LaunchDetail): string {
  const geo = l.grid
    ? ` grid [${l.grid.join(", ")}], block [${l.block!.join(", ")}], ${l.shared_bytes} B shared,`
    : "";
  const lines = [
    `The launch: ${
      l.ordinal !== null ? `launch ${l.ordinal} of the process (op #${l.op})` : `op #${l.op}`
    }, ` +
    `kernel \`${l.kernel}\`,${geo} stream ${l.stream}. Arguments:`,
    ...l.arguments.map((a) => `- ${a}`),
  ];
  if (l.captured.length) {
    lines.push(
      `It replays a CUDA graph of ${l.captured.length} captured launch(es); syncs cannot split a graph, so the ` +
        `culprit is one of: ${
          l.captured.map((c) => `\`${c.kernel}\` (op #${c.op})`).join(", ")
        }. Run with the ` +
        `program's switch to disable graphs (llama.cpp: GGML_CUDA_DISABLE_GRAPHS=1) to name it.`,
    );
  }
  if (l.backtrace.length) {
    lines.push(
      "",
      "Host backtrace of the launch (replay):",
      ...l.backtrace.map((b) => `- ${b}`),
    );
  }
  return lines.join("\n");
}

function processNotes(o: TraceOutcome): string[] {
  const run = o.run;
  const notes: string[] = [];
  const launches = run.processes.reduce((n, p) => n + p.records.filter((r) => r.kind === "launch").length, 0);
  notes.push(
    `\`${o.command}\` ${describeExit(run.exit)} after ${(run.exit.wallMs / 1000).toFixed(2)} s; ` +
      `${run.processes.length} process(es) journaled, ${launches} launch(es).`,
  );
  if (run.processes.length === 0) notes.push("The program made no GPU call that the interposer journals.");
  if (run.processes.length > 1) {
    notes.push(
      "Processes: " + run.processes.map((p) =>
        `pid ${p.pid} (parent ${p.notes.proc?.ppid ?? "?"}, ${
          p.notes.proc?.exe ?? "?"
        }, ${p.records.length} records)`
      ).join("; ") + ".",
    );
  }
  if (run.exit.signal) {
    const inflight = o.main?.decoded.inFlight[0];
    notes.push(
      `The program was killed by ${run.exit.signal}. Its journal is intact` +
        (inflight
          ? `; it died inside ${opLabel(inflight as unknown as OpRecord)}.`
          : ": every journaled call returned."),
    );
  }
  for (const p of run.processes) {
    const over = p.decoded.overwritten?.count ?? 0;
    if (over > 0 || p.lost > 0) {
      notes.push(
        `pid ${p.pid}: the journal ring wrapped (${over} record(s) overwritten, ${p.lost} not seen live); ` +
          `raise --capacity to keep more.`,
      );
    }
    const passed = p.notes.unhooked.filter((u) => u.found);
    if (passed.length) {
      notes.push(
        `pid ${p.pid}: ${passed.length} entry point(s) reached through cuGetProcAddress are not wrapped and ran ` +
          `untraced: ${passed.slice(0, 12).map((u) => u.name).join(", ")}${
            passed.length > 12 ? ", ..." : ""
          }.`,
      );
    }
    const untraced = passed.filter((u) => /Launch|Memcpy|Memset|Alloc|Free/.test(u.name)).map((u) => u.name);
    if (untraced.length) {
      notes.push(
        `pid ${p.pid}: among them ${
          untraced.join(", ")
        }: the calls made through them are not in the journal, ` +
          `so a fault they caused is blamed on the journaled call nearest to it. The driver answered with an ` +
          `entry point the interposer could not identify (FAULTLINE_TRACE_GPA_STRICT=1 makes it wrap only exact ` +
          `matches).`,
      );
    }
  }
  return notes;
}

function replayNote(o: TraceOutcome): string | null {
  const a = o.attribution;
  if (!a || a.reproducedUnderBlocking !== false) return null;
  return "The fault did NOT reproduce with a sync after every launch. That matters: the op where it surfaced " +
    "and the launches just before it are then not enough to blame; the fault depends on timing (work on one " +
    "stream using memory another stream has not finished with, or the host reusing a buffer a copy still reads). " +
    "The bisection over sync points below narrows it to the launch after which one sync hides it.";
}

function nextSteps(o: TraceOutcome, detail: LaunchDetail | null): string[] {
  const rc = o.attribution?.rootCause;
  const again =
    `Re-run \`deno task trace -- ${o.command}\` after the fix: the verdict must be OK with no finding.`;
  if (!rc) {
    if (o.attribution?.surfaced) {
      return [
        "No launch was named: run the trace again without --no-replay, or with --sync launch to see which sync fails.",
        again,
      ];
    }
    return o.run.exit.signal
      ? [
        `The program died of ${o.run.exit.signal} outside any GPU call: debug it on the host (gdb, a core dump).`,
      ]
      : ["Nothing to fix on the GPU side: no call faulted and the rails found nothing."];
  }
  const where = detail?.ordinal !== null && detail
    ? `launch ${detail.ordinal} (op #${rc.op})`
    : `op #${rc.op}`;
  const steps = [
    `Fix ${rc.argument ? `the argument \`${rc.argument}\` of ` : ""}kernel \`${rc.kernel}\`, ${where}` +
    (rc.invariant ? `, so that "${rc.invariant}" holds` : "") +
    (o.attribution?.surfaced && o.attribution.surfaced.op !== rc.op
      ? `; the call where the fault surfaced (#${o.attribution.surfaced.op} ${o.attribution.surfaced.name}) is not the bug.`
      : "."),
  ];
  if (detail?.backtrace.length) steps.push(`The launch is made at ${detail.backtrace[0]}.`);
  if (o.attribution?.timingDependent) {
    steps.push("Add the missing sync or event between that launch and the work that uses its output.");
  }
  steps.push(again);
  return steps;
}

/** The RunReport of a trace (records, findings and attribution of its main process). */
export function buildTraceReport(o: TraceOutcome, finished: string): RunReport {
  const main = o.main;
  const detail = launchDetail(o);
  const rc = o.attribution?.rootCause;
  if (rc && detail?.ordinal !== null && detail !== null) {
    rc.name = `${demangle(rc.kernel)} launch ${detail.ordinal}`;
  }
  const notes = processNotes(o);
  const rn = replayNote(o);
  if (rn) notes.push(rn);
  if (detail) notes.push(launchNote(detail));
  const trials: TrialSummary[] = [o.run, ...o.replays].map((r, k) => ({
    purpose: k === 0 ? "run" : "replay",
    mode: r.policy.sync ? "blocking" : "audit",
    status: r.exit.signal ? "CRASH" : r.exit.timedOut ? "HANG" : r.exit.status === 0 ? "OK" : "ERROR",
    wallMs: r.exit.wallMs,
    detail: `${describeExit(r.exit)}; ${describePolicy(r.policy)}`,
    dir: r.dir,
  }));
  return {
    experiment: "trace",
    runId: o.runId,
    title: `trace of ${o.command}`,
    cleanHeadline: `OK: no GPU fault and no finding in ${launchCount(o)} launch(es); the program ${
      describeExit(o.run.exit)
    }`,
    status: statusOf(o),
    backend: o.backend,
    device: main?.notes.device?.name ?? "unknown (no journaled call)",
    config: { program: o.command, backend: o.backend, processes: o.run.processes.length },
    mode: "audit",
    debugEnv: null,
    command: `deno task trace -- ${o.command}`,
    started: o.started,
    finished,
    records: main ? forensicView(main.records, programFailed(o.run)) : [],
    findings: main?.findings ?? [],
    attribution: o.attribution,
    hypotheses: o.hypotheses,
    matrix: null,
    fault: null,
    sanitizer: null,
    trials,
    notes,
    nextSteps: nextSteps(o, detail),
    values: { exit_status: o.run.exit.status },
  };
}

/** Writes the report files; returns the folder. */
export async function writeTraceReport(dir: string, o: TraceOutcome, report: RunReport): Promise<string> {
  await writeReport(dir, report, { journal: false });
  // the journal as written, every status as the program saw it
  await Deno.writeTextFile(join(dir, "journal.jsonl"), o.main ? journalJsonl(o.main.decoded.records) : "");
  await Deno.mkdir(join(dir, "processes"), { recursive: true });
  for (const p of o.run.processes) {
    await Deno.writeTextFile(join(dir, "processes", `${p.pid}.jsonl`), journalJsonl(p.decoded.records));
  }
  const verdictPath = join(dir, "verdict.json");
  const verdict = JSON.parse(await Deno.readTextFile(verdictPath));
  const trace: VerdictTrace = {
    argv: o.command,
    exit_status: o.run.exit.status,
    signal: o.run.exit.signal,
    policy: describePolicy(o.run.policy),
    main_pid: o.main?.pid ?? null,
    processes: o.run.processes.map((p) => processSummary(p, dir)),
    launch: launchDetail(o),
    replays: o.replays.map((r) => ({
      dir: r.dir,
      exit: describeExit(r.exit),
      policy: describePolicy(r.policy),
    })),
  };
  await Deno.writeTextFile(verdictPath, JSON.stringify({ ...verdict, trace }, null, 2) + "\n");
  return dir;
}
