/** Plain-text formatting of journal records and verdict values, shared by pages and the live stream. */

import { opState } from "./journal.ts";
import type { JournalRecord, OpState } from "./journal.ts";

export const OP_COLUMNS = [
  "id",
  "time",
  "dur",
  "kind",
  "device",
  "stream",
  "name",
  "step",
  "layer",
  "pointers",
  "scalars",
  "status",
];

/** Any value as short text: strings as they are, the rest as compact JSON. */
export function text(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Wall-clock time of day from ms since the epoch. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/**
 * The op's time: its wall-clock time when the record has one (`wall`, ms since
 * the epoch), else `time` (µs since the trial started, as ffi/journal.ts
 * writes it; epoch milliseconds and ISO strings are also understood).
 */
function time(r: JournalRecord): string {
  if (typeof r.wall === "number" && r.wall > 1e12) return clock(r.wall);
  const v = r.time;
  if (typeof v === "number") return v > 1e12 ? clock(v) : `+${(v / 1000).toFixed(3)} ms`;
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)) return v.slice(11, 23);
  return text(v);
}

/** Duration in µs, as ffi/journal.ts writes it. */
function duration(v: unknown): string {
  if (typeof v !== "number") return text(v);
  return v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`;
}

function pointers(v: unknown): string {
  if (!Array.isArray(v)) return text(v);
  return v.map((p) => {
    if (p === null || typeof p !== "object") return text(p);
    const o = p as Record<string, unknown>;
    const target = o.alloc === null && o.name === undefined ? "(no allocation)" : text(o.name ?? o.alloc);
    let s = `${text(o.arg)}→${target}`;
    if (o.offset !== undefined && o.offset !== 0) s += `+${text(o.offset)}`;
    if (o.bytes !== undefined) s += `[${text(o.bytes)}]`;
    if (o.access !== undefined) s += ` ${text(o.access)}`;
    if (o.state === "freed") s += " (freed)";
    if (typeof o.placement === "string" && o.placement !== "inside") s += ` (${o.placement})`;
    return s;
  }).join(", ");
}

function scalars(v: unknown): string {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return text(v);
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${text(x)}`).join(" ");
}

function status(r: JournalRecord): string {
  const s = r.status;
  const name = typeof r.result_name === "string" && r.result_name !== "" ? r.result_name : null;
  if (s === undefined || s === null) return name ?? "pending";
  if (name && typeof s === "number" && s !== 0 && s !== -1) return `${name} (${s})`;
  return name ?? text(s);
}

function name(r: JournalRecord): string {
  const n = text(r.name);
  return typeof r.op === "string" && r.op !== "" && r.op !== n ? `${n} (${r.op})` : n;
}

export interface OpRow {
  id: string;
  state: OpState;
  cells: string[];
}

/** One journal record as the cells of a table row, in OP_COLUMNS order. */
export function opRow(r: JournalRecord): OpRow {
  return {
    id: String(r.id),
    state: opState(r),
    cells: [
      String(r.id),
      time(r),
      duration(r.dur),
      text(r.kind),
      text(r.device),
      text(r.stream),
      name(r),
      text(r.step),
      text(r.layer),
      pointers(r.pointers),
      scalars(r.scalars),
      status(r),
    ],
  };
}

/** A run's length: "850 ms", "4.0 s", "2 min 5 s", "1 h 3 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
