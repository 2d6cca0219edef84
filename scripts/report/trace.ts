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

export function buildTrace(run: RunReport): ChromeTrace {
  const recs = run.records;
  const lanes = streamLanes(recs);
  const timed = recs.some((r) => r.time !== undefined);
  const pid = 1;
  const ev: TraceEvent[] = [
    { name: "process_name", cat: "__metadata", ph: "M", ts: 0, pid, tid: 0, args: { name: run.experiment } },
  ];
  for (const [stream, lane] of lanes) {
    ev.push({
      name: "thread_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid,
      tid: lane,
      args: { name: laneName(stream, lane) },
    });
  }
  const surfaced = run.attribution?.surfaced?.op;
  const root = run.attribution?.rootCause?.op;
  recs.forEach((r, i) => {
    const ts = timed ? (r.time ?? 0) : i * 10;
    const dur = Math.max(1, timed ? (r.dur ?? 1) : 8);
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
      args[p.arg] =
        `${hex(p.ptr)} = ${
          p.alloc === null ? "no allocation" : `${p.name ?? "alloc " + p.alloc}+${p.offset ?? "?"}`
        }` +
        ` (${p.bytes ?? "?"} B, ${p.access ?? "?"}${p.state ? ", " + p.state : ""})`;
    }
    if (r.id === root) args.root_cause = true;
    if (r.id === surfaced) args.surfaced = true;
    ev.push({
      name: r.op ? `${r.op} (${r.name})` : `${r.kind} ${r.name}`,
      cat: r.kind,
      ph: "X",
      ts,
      dur,
      pid,
      tid: lanes.get(r.stream) ?? 0,
      args,
    });
    if (r.id === root || r.id === surfaced) {
      ev.push({
        name: r.id === root ? "ROOT CAUSE" : "fault surfaced",
        cat: "forensics",
        ph: "i",
        ts,
        pid,
        tid: lanes.get(r.stream) ?? 0,
        s: "t",
        args: { op: r.id },
      });
    }
  });
  for (const f of run.findings) {
    const r = recs.find((x) => x.id === f.op);
    if (!r) continue;
    const i = recs.indexOf(r);
    ev.push({
      name: `finding: ${f.invariant}`,
      cat: "finding",
      ph: "i",
      ts: timed ? (r.time ?? 0) : i * 10,
      pid,
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
