/**
 * trace.json: the journal as Chrome trace events, one track per stream, which
 * Perfetto (ui.perfetto.dev) and chrome://tracing open. Times are the
 * journal's µs; a record without a duration gets 1 µs, and a journal without
 * times is laid out by op index (10 µs an op).
 */

import { describeStatus } from "../forensics/codes.ts";
import type { OpRecord, RunReport } from "../../records.ts";

export interface TraceEvent {
  name: string;
  cat: string;
  ph: "X" | "i" | "M";
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: "t" | "p" | "g";
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: "ms" | "ns";
  otherData?: Record<string, unknown>;
}

/** Stream handles in order of first use, the default stream first: lane index per stream. */
export function streamLanes(records: OpRecord[]): Map<number, number> {
  const lanes = new Map<number, number>([[0, 0]]);
  for (const r of records) if (!lanes.has(r.stream)) lanes.set(r.stream, lanes.size);
  return lanes;
}

export function laneName(stream: number, lane: number): string {
  return stream === 0 ? "default stream" : `stream ${lane} (0x${stream.toString(16)})`;
}

const hex = (n: number | undefined) => (n === undefined ? undefined : `0x${n.toString(16)}`);

const PID = 1;

export function buildTrace(run: RunReport): ChromeTrace {
  const recs = run.records;
  const lanes = streamLanes(recs);
  const timed = recs.some((r) => r.time !== undefined);
  const ev: TraceEvent[] = [
    {
      name: "process_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid: PID,
      tid: 0,
      args: { name: run.experiment },
    },
  ];
  for (const [stream, lane] of lanes) {
    ev.push({
      name: "thread_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid: PID,
      tid: lane,
      args: { name: laneName(stream, lane) },
    });
  }
  const marks = { surfaced: run.attribution?.surfaced?.op, root: run.attribution?.rootCause?.op };
  recs.forEach((r, i) =>
    ev.push(...opEvents(r, timed ? (r.time ?? 0) : i * 10, timed, lanes.get(r.stream) ?? 0, marks))
  );
  for (const f of run.findings) {
    const i = recs.findIndex((x) => x.id === f.op);
    if (i < 0) continue;
    const r = recs[i];
    ev.push({
      name: `finding: ${f.invariant}`,
      cat: "finding",
      ph: "i",
      ts: timed ? (r.time ?? 0) : i * 10,
      pid: PID,
      tid: lanes.get(r.stream) ?? 0,
      s: "t",
      args: { rail: f.rail, op: f.op, argument: f.argument ?? null, detail: f.detail ?? "" },
    });
  }
  return {
    traceEvents: ev,
    displayTimeUnit: "ms",
    otherData: { experiment: run.experiment, run_id: run.runId, backend: run.backend, timed },
  };
}

/** An op as a complete event on its lane, plus an instant marking it when it is the root cause or surfaced the fault. */
function opEvents(
  r: OpRecord,
  ts: number,
  timed: boolean,
  tid: number,
  marks: { surfaced?: number; root?: number },
): TraceEvent[] {
  const args = opArgs(r);
  if (r.id === marks.root) args.root_cause = true;
  if (r.id === marks.surfaced) args.surfaced = true;
  const name = r.op ? `${r.op} (${r.name})` : `${r.kind} ${r.name}`;
  const dur = Math.max(1, timed ? (r.dur ?? 1) : 8);
  const ev: TraceEvent[] = [{ name, cat: r.kind, ph: "X", ts, dur, pid: PID, tid, args }];
  if (r.id === marks.root || r.id === marks.surfaced) {
    const mark = r.id === marks.root ? "ROOT CAUSE" : "fault surfaced";
    ev.push({ name: mark, cat: "forensics", ph: "i", ts, pid: PID, tid, s: "t", args: { op: r.id } });
  }
  return ev;
}

/** An op's status, place in the workload, scalars and pointers (each resolved to its allocation). */
function opArgs(r: OpRecord): Record<string, unknown> {
  const args: Record<string, unknown> = {
    op: r.id,
    kind: r.kind,
    status: r.status === 0 ? "ok" : describeStatus(r.status, r.extra?.result_name),
  };
  if (r.step !== undefined) args.step = r.step;
  if (r.layer !== undefined) args.layer = r.layer;
  if (r.op) args.scheduler_op = r.op;
  for (const [k, v] of Object.entries(r.scalars)) args[k] = v;
  for (const p of r.pointers) {
    const where = p.alloc === null ? "no allocation" : `${p.name ?? "alloc " + p.alloc}+${p.offset ?? "?"}`;
    args[p.arg] = `${hex(p.ptr)} = ${where} (${p.bytes ?? "?"} B, ${p.access ?? "?"}${
      p.state ? ", " + p.state : ""
    })`;
  }
  return args;
}
