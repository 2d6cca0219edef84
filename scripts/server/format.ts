/** Plain-text formatting of journal records and verdict values, shared by pages and the live stream. */

import { opState } from "./journal.ts";
import type { JournalRecord, OpState } from "./journal.ts";

export const OP_COLUMNS = [
  "id",
  "time",
  "kind",
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

function time(v: unknown): string {
  if (typeof v === "number") {
    // Seconds or milliseconds since the epoch, or a relative time in ms.
    if (v > 1e12) return new Date(v).toISOString().slice(11, 23);
    if (v > 1e9) return new Date(v * 1000).toISOString().slice(11, 23);
    return v.toFixed(3);
  }
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)) return v.slice(11, 23);
  return text(v);
}

function pointers(v: unknown): string {
  if (!Array.isArray(v)) return text(v);
  return v.map((p) => {
    if (p === null || typeof p !== "object") return text(p);
    const o = p as Record<string, unknown>;
    let s = `${text(o.arg)}→${text(o.name ?? o.alloc)}`;
    if (o.offset !== undefined && o.offset !== 0) s += `+${text(o.offset)}`;
    if (o.bytes !== undefined) s += `[${text(o.bytes)}]`;
    if (o.access !== undefined) s += ` ${text(o.access)}`;
    return s;
  }).join(", ");
}

function scalars(v: unknown): string {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return text(v);
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${text(x)}`).join(" ");
}

function status(r: JournalRecord): string {
  const s = r.status;
  if (s === undefined || s === null) return "pending";
  return text(s);
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
      time(r.time),
      text(r.kind),
      text(r.stream),
      text(r.name),
      text(r.step),
      text(r.layer),
      pointers(r.pointers),
      scalars(r.scalars),
      status(r),
    ],
  };
}
