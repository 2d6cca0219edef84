/**
 * The journal as the forensics sees it: journal.jsonl records normalized to
 * one shape (ffi/journal.ts writes them; older or hand-written journals may
 * spell a field differently, and a record may appear twice, first as the
 * intent and then with its status). Everything here is pure TypeScript: the
 * parent process reads journals without loading the native library.
 */

import type { Finding, OpRecord, PointerRecord } from "../../records.ts";

const num = (v: unknown): number | undefined => {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function statusOf(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const l = v.toLowerCase();
    if (l === "pending" || l === "") return null;
    if (l === "ok" || l === "success") return 0;
    const n = Number(v);
    return Number.isFinite(n) ? n : -1;
  }
  if (typeof v === "object") {
    const c = num((v as Record<string, unknown>).code);
    return c ?? -1;
  }
  return -1;
}

function pointerOf(raw: unknown, fallbackArg: string): PointerRecord {
  const p = (raw ?? {}) as Record<string, unknown>;
  const allocObj = (p.allocation ?? null) as Record<string, unknown> | null;
  const allocId = p.alloc === null || p.alloc_id === null
    ? null
    : num(p.alloc) ?? num(p.alloc_id) ?? num(p.allocId) ?? (allocObj ? num(allocObj.id) : undefined);
  return {
    arg: str(p.arg) ?? str(p.argument) ?? fallbackArg,
    ptr: num(p.ptr) ?? num(p.addr) ?? num(p.address),
    alloc: allocId,
    name: str(p.name) ?? str(p.tensor) ?? (allocObj ? str(allocObj.name) : undefined),
    offset: num(p.offset) ?? (allocObj ? num(allocObj.offset) : undefined),
    bytes: num(p.bytes),
    size: num(p.size) ?? num(p.alloc_bytes) ??
      (allocObj ? num(allocObj.bytes) ?? num(allocObj.size) : undefined),
    access: str(p.access),
    state: str(p.state) ?? (allocObj ? str(allocObj.state) : undefined),
  };
}

const KNOWN = new Set([
  "id",
  "time",
  "t",
  "ts",
  "dur",
  "kind",
  "name",
  "device",
  "stream",
  "scalars",
  "pointers",
  "args",
  "host",
  "event",
  "step",
  "layer",
  "op",
  "status",
]);

/** Normalizes one raw journal record; null when it has no numeric id. */
export function normalizeRecord(raw: Record<string, unknown>): OpRecord | null {
  const id = num(raw.id);
  if (id === undefined) return null;
  const scalars: Record<string, number> = {};
  const rawScalars = (raw.scalars ?? (Array.isArray(raw.args) ? undefined : raw.args) ?? {}) as Record<
    string,
    unknown
  >;
  for (const [k, v] of Object.entries(rawScalars)) {
    const n = num(v);
    if (n !== undefined) scalars[k] = n;
  }
  let pointers: PointerRecord[] = [];
  const rp = raw.pointers;
  if (Array.isArray(rp)) pointers = rp.map((p, i) => pointerOf(p, `arg${i}`));
  else if (rp && typeof rp === "object") {
    pointers = Object.entries(rp as Record<string, unknown>).map(([k, v]) => pointerOf(v, k));
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!KNOWN.has(k)) extra[k] = v;
  const layer = num(raw.layer);
  const step = num(raw.step);
  return {
    id,
    time: num(raw.time) ?? num(raw.t) ?? num(raw.ts),
    dur: num(raw.dur),
    kind: str(raw.kind) ?? "?",
    name: str(raw.name) ?? "",
    device: num(raw.device),
    stream: num(raw.stream) ?? 0,
    scalars,
    pointers,
    host: num(raw.host),
    event: num(raw.event),
    step: step !== undefined && step >= 0 ? step : undefined,
    layer: layer !== undefined && layer >= 0 ? layer : undefined,
    op: str(raw.op),
    status: statusOf(raw.status),
    extra: Object.keys(extra).length ? extra : undefined,
  };
}

/**
 * Normalizes a journal: merges the intent and the result of a record (same
 * id; the later fields win) and sorts by id.
 */
export function normalizeJournal(raws: Iterable<Record<string, unknown>>): OpRecord[] {
  const byId = new Map<number, Record<string, unknown>>();
  for (const r of raws) {
    const id = num(r.id);
    if (id === undefined) continue;
    const prev = byId.get(id);
    byId.set(id, prev ? { ...prev, ...r } : r);
  }
  const out: OpRecord[] = [];
  for (const r of byId.values()) {
    const n = normalizeRecord(r);
    if (n) out.push(n);
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Parses journal.jsonl text; malformed and half-written lines are skipped. */
export function parseJournalText(text: string): OpRecord[] {
  const raws: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    try {
      const v = JSON.parse(t);
      if (v && typeof v === "object" && !Array.isArray(v)) raws.push(v);
    } catch {
      // half-written last line of a trial that died
    }
  }
  return normalizeJournal(raws);
}

/** Reads `<dir>/journal.jsonl`; [] when absent. */
export async function readJournalFile(path: string): Promise<OpRecord[]> {
  try {
    return parseJournalText(await Deno.readTextFile(path));
  } catch {
    return [];
  }
}

/** Parses findings.jsonl (one finding a line). */
export function parseFindingsText(text: string): Finding[] {
  const out: Finding[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t) continue;
    try {
      const v = JSON.parse(t);
      if (v && typeof v === "object" && typeof v.invariant === "string") out.push(v as Finding);
    } catch {
      // skip
    }
  }
  return out;
}

/** Serializes records back to journal.jsonl (one JSON object a line). */
export function journalText(records: OpRecord[]): string {
  return records.map((r) => {
    const { extra, ...rest } = r;
    return JSON.stringify({ ...rest, ...(extra ?? {}) });
  }).join("\n") + (records.length ? "\n" : "");
}

/** Copy kinds. */
export const COPY_KINDS = new Set(["h2d", "d2h", "d2d", "p2p", "h2h", "memset"]);

/** A short human name of an op: `#12 launch rope (step 3 layer 0 RoPE Q)`. */
export function opLabel(r: OpRecord): string {
  const where: string[] = [];
  if (r.step !== undefined) where.push(`step ${r.step}`);
  if (r.layer !== undefined) where.push(`layer ${r.layer}`);
  if (r.op) where.push(r.op);
  return `#${r.id} ${r.kind} ${r.name}${where.length ? ` (${where.join(" ")})` : ""}`;
}
