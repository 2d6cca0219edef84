/**
 * The journal decoder: turns the binary ring written by ./journal_native.ts
 * (plus its side file of strings and allocations) into journal records as
 * DESIGN.md describes them: id, time, kind, stream, name, scalars, each
 * pointer resolved to {alloc id, name, offset, bytes, access}, step, layer,
 * status. Runs in the process that wrote the ring (at syncs and at exit) or in
 * a parent after the child died, reading only the files.
 *
 * Also prints device-to-host records as audit lines, a start and an end per copy:
 *   [D2H_AUDIT_START] op_id=… ts=… stream=0x… dev_ptr=0x… host_ptr=0x… bytes=… tensor=… step=… layer=…
 *   [D2H_AUDIT_END] op_id=… ts=… stream=0x… result=hipSuccess tensor=…
 */
import { statusName } from "./errors.ts";
import {
  ACCESS_CODES,
  F_EVENT,
  F_HOST,
  F_ID,
  F_ORDINAL,
  F_PTR,
  F_RESULT,
  F_SCALAR,
  F_STREAM,
  F_T_AFTER,
  F_T_BEFORE,
  FLAG_BLOCKED,
  FLAG_EVENT,
  FLAG_GEOMETRY,
  FLAG_HOST,
  FLAG_ORDINAL,
  FLAG_PTR_TRUNCATED,
  FLAG_RESULT,
  FLAG_SCALAR_TRUNCATED,
  H_CAPACITY,
  H_MAGIC,
  H_PID,
  H_RECORD_BYTES,
  H_START_NOW,
  H_TIME_ORIGIN,
  H_VERSION,
  HEADER_BYTES,
  JOURNAL_MAGIC,
  JOURNAL_VERSION,
  KINDS,
  MAX_POINTERS,
  MAX_SCALARS,
  NONE,
  R_DEVICE,
  R_DONE,
  R_FLAGS,
  R_GEOMETRY,
  R_INTENT,
  R_KIND,
  R_LAYER,
  R_NAME,
  R_NPTR,
  R_NSCALAR,
  R_OP,
  R_PTR_META,
  R_SCALAR_NAME,
  R_STATUS,
  R_STEP,
  readGeometry,
  RECORD_BYTES,
  STATUS_BLOCKED,
} from "./journal_native.ts";
import { Registry } from "./registry.ts";
import type { AllocationInfo, JournalPointer, JournalRecord } from "../records.ts";

/** A journal ring decoded: its records in op order, what was lost or left half-written, and the allocations. */
export interface DecodedJournal {
  /** The process that wrote the ring. */
  pid: number;
  /** Slots in the ring. */
  capacity: number;
  /** Records written in all (the last sequence number). */
  written: number;
  /** The records still in the ring, in op-id order. */
  records: JournalRecord[];
  /** Records lost to ring wrap-around: sequence numbers first..last (null when none). */
  overwritten: { count: number; firstSeq: number; lastSeq: number } | null;
  /** A slot found half-written (the process died while writing it): its op id if that much was written. */
  torn: { seq: number; id: number | null } | null;
  /** Records whose call never returned (last one first): where a dead process was. */
  inFlight: JournalRecord[];
  /** Every allocation the side file names, with the op id that freed it (null: still live). */
  allocations: (AllocationInfo & { freedAt: number | null })[];
  /** Slots whose counts cannot be a record's (a damaged or crafted file): set aside, not decoded. */
  corrupt: { seq: number; slot: number; why: string }[];
}

/** A ring that is not one this decoder reads: wrong magic, version, record size or capacity, or too short. */
export class JournalFormatError extends Error {
  /** A refusal naming what is wrong with the ring. */
  constructor(message: string) {
    super(message);
    this.name = "JournalFormatError";
  }
}

interface SideData {
  strings: string[];
  allocs: AllocationInfo[];
  frees: Map<number, number>; // alloc id -> free op id
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function readSide(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function parseSide(text: string): SideData {
  const strings: string[] = [""];
  const allocs: AllocationInfo[] = [];
  const frees = new Map<number, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a line cut short by the process dying
    }
    if (e === null || typeof e !== "object") continue;
    if (Number.isSafeInteger(e.s) && (e.s as number) >= 0) strings[e.s as number] = String(e.v);
    else if (isAllocation(e)) allocs.push(e);
    else if (Number.isSafeInteger(e.f) && Number.isFinite(Number(e.op))) {
      frees.set(e.f as number, Number(e.op));
    }
  }
  return { strings, allocs, frees };
}

/** An allocation line of the side file: numbers where the registry needs numbers (anything else is skipped). */
function isAllocation(e: Record<string, unknown>): e is AllocationInfo & Record<string, unknown> {
  const num = (k: string) => typeof e[k] === "number" && Number.isFinite(e[k]);
  return Number.isSafeInteger(e.a) && num("id") && num("ptr") && num("bytes") && num("base") &&
    num("allocBytes") && num("redzone") && typeof e.name === "string";
}

/** Decodes the ring at `path` (and `${path}.side`). Reads the files only. */
export function decodeJournal(path: string): DecodedJournal {
  return decodeJournalBytes(Deno.readFileSync(path), readSide(`${path}.side`));
}

/** Decodes a ring's bytes and its side file's text, read by the caller. */
export function decodeJournalBytes(ring: Uint8Array, side: string): DecodedJournal {
  const buf = ring.buffer.slice(ring.byteOffset, ring.byteOffset + ring.byteLength) as ArrayBuffer;
  return decodeJournalBuffer(buf, parseSide(side));
}

/**
 * The header's record size and capacity, checked: every loop below is bounded
 * by the slots the file really holds, whatever the header says.
 */
function ringShape(i32: Int32Array, bytes: number): { capacity: number; slotsInFile: number } {
  if (bytes < HEADER_BYTES) {
    throw new JournalFormatError(`${bytes} bytes; a journal ring starts with a ${HEADER_BYTES}-byte header`);
  }
  if (i32[H_MAGIC] !== JOURNAL_MAGIC) throw new JournalFormatError("not a faultline journal (bad magic)");
  if (i32[H_VERSION] !== JOURNAL_VERSION) {
    throw new JournalFormatError(`journal version ${i32[H_VERSION]} is not supported`);
  }
  const recBytes = i32[H_RECORD_BYTES];
  if (recBytes !== RECORD_BYTES) {
    throw new JournalFormatError(`record size ${recBytes}; this decoder reads ${RECORD_BYTES}-byte records`);
  }
  const capacity = i32[H_CAPACITY];
  if (capacity < 1) throw new JournalFormatError(`capacity ${capacity}; a ring holds at least one record`);
  return { capacity, slotsInFile: Math.min(capacity, Math.floor((bytes - HEADER_BYTES) / RECORD_BYTES)) };
}

/** Why a slot's counts cannot be a record's, or null when they can. */
function corruptCounts(i32: Int32Array, bi: number): string | null {
  const np = i32[bi + R_NPTR], ns = i32[bi + R_NSCALAR];
  if (!(np >= 0 && np <= MAX_POINTERS)) return `${np} pointers (a record holds 0 to ${MAX_POINTERS})`;
  if (!(ns >= 0 && ns <= MAX_SCALARS)) return `${ns} scalars (a record holds 0 to ${MAX_SCALARS})`;
  return null;
}

/**
 * The slots a ring really holds, in write order, and its newest sequence
 * number. A valid ring's records all lie in one window of `capacity`
 * sequence numbers, so the window that holds the most is taken (the earliest
 * on a tie): a slot whose damaged sequence number lies outside it is set
 * aside in `corrupt`, and it cannot make older records look overwritten.
 */
function ringWindow(
  sorted: { seq: number; slot: number }[],
  capacity: number,
  corrupt: DecodedJournal["corrupt"],
): { slots: { seq: number; slot: number }[]; newest: number } {
  let best = 0, newest = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j].seq - sorted[i].seq >= capacity) i++;
    if (j - i + 1 > best) [best, newest] = [j - i + 1, sorted[j].seq];
  }
  const slots = sorted.filter((s) => {
    if (s.seq > newest - capacity && s.seq <= newest) return true;
    corrupt.push({ ...s, why: `sequence number ${s.seq} lies outside the ring's window (newest ${newest})` });
    return false;
  });
  return { slots, newest };
}

/** The ring as 32- and 64-bit words, its shape and its clocks. */
interface RingView {
  i32: Int32Array;
  f64: Float64Array;
  capacity: number;
  slotsInFile: number;
  /** Wall-clock ms of the writer's time origin, and its clock when the journal was opened. */
  origin: number;
  start: number;
}

const slotWord = (slot: number) => (HEADER_BYTES + slot * RECORD_BYTES) >> 2;

/** The slots holding a record with sound counts, in sequence order; the others set aside in `corrupt`. */
function soundSlots(v: RingView, corrupt: DecodedJournal["corrupt"]): { seq: number; slot: number }[] {
  const candidates: { seq: number; slot: number }[] = [];
  for (let slot = 0; slot < v.slotsInFile; slot++) {
    const bi = slotWord(slot);
    const seq = v.i32[bi + R_INTENT];
    if (seq > 0 && (seq - 1) % v.capacity === slot) {
      const why = corruptCounts(v.i32, bi);
      if (why === null) candidates.push({ seq, slot });
      else corrupt.push({ seq, slot, why });
    }
  }
  return candidates.sort((a, b) => a.seq - b.seq);
}

/** The slot after the last whole record: a cleared intent marker there is a torn write. */
function tornSlot(
  v: RingView,
  slots: { seq: number; slot: number }[],
  maxSeq: number,
): DecodedJournal["torn"] {
  const bi = slotWord(maxSeq % v.capacity);
  if (bi + (RECORD_BYTES >> 2) > v.i32.length || v.i32[bi + R_INTENT] !== 0) return null;
  const last = slots.length ? slots[slots.length - 1].slot : -1;
  const lastId = last < 0 ? 0 : v.f64[(slotWord(last) >> 1) + F_ID];
  const id = v.f64[(bi >> 1) + F_ID];
  // wrapped: the slot held a whole record before, so a cleared marker means a write was cut short;
  // not wrapped: the slot was zero, so any id there was being written
  if (maxSeq >= v.capacity) return { seq: maxSeq + 1, id: id > lastId ? id : null };
  return id !== 0 ? { seq: maxSeq + 1, id } : null;
}

/** The side file's allocations and frees replayed in op-id order, so that each record's pointers resolve as they did. */
class AllocationTimeline {
  readonly registry = new Registry();
  #allocs: AllocationInfo[];
  #frees: { alloc: number; op: number }[];
  #ai = 0;
  #fi = 0;

  constructor(side: SideData) {
    this.#allocs = [...side.allocs].sort((a, b) => a.id - b.id);
    this.#frees = [...side.frees.entries()].map(([alloc, op]) => ({ alloc, op })).sort((a, b) => a.op - b.op);
  }

  /** Applies the allocations and frees made before op `id`. */
  before(id: number): void {
    for (;;) {
      const na = this.#ai < this.#allocs.length && this.#allocs[this.#ai].id < id
        ? this.#allocs[this.#ai]
        : null;
      const nf = this.#fi < this.#frees.length && this.#frees[this.#fi].op < id
        ? this.#frees[this.#fi]
        : null;
      if (na === null && nf === null) return;
      if (na !== null && (nf === null || na.id < nf.op)) {
        this.registry.add(na);
        this.#ai++;
      } else if (nf !== null) {
        const a = this.registry.byId(nf.alloc);
        if (a !== undefined && a.state === "live") this.registry.free(a.base, nf.op);
        this.#fi++;
      }
    }
  }
}

function decodePointers(
  v: RingView,
  bi: number,
  str: (id: number) => string,
  reg: Registry,
): JournalPointer[] {
  const { i32, f64 } = v;
  const bf = bi >> 1;
  const pointers: JournalPointer[] = [];
  for (let k = 0; k < i32[bi + R_NPTR]; k++) {
    const ptr = f64[bf + F_PTR + 2 * k];
    const meta = i32[bi + R_PTR_META + 2 * k + 1];
    const r = reg.resolve(ptr);
    const p: JournalPointer = {
      arg: str(i32[bi + R_PTR_META + 2 * k]),
      ptr,
      bytes: f64[bf + F_PTR + 2 * k + 1],
      access: ACCESS_CODES[meta & 3] ?? "rw",
      elem: meta >> 2,
      alloc: r === null ? null : r.id,
    };
    if (r !== null) {
      p.name = r.name;
      p.offset = r.offset;
      p.size = r.size;
      p.state = r.state;
      p.placement = r.placement;
    }
    pointers.push(p);
  }
  return pointers;
}

/** The record in the slot at word `bi` (op `id`, sequence number `seq`), its pointers resolved against `reg`. */
function decodeRecord(
  v: RingView,
  bi: number,
  at: { seq: number; id: number },
  str: (id: number) => string,
  reg: Registry,
): JournalRecord {
  const { i32, f64 } = v;
  const bf = bi >> 1;
  const flags = i32[bi + R_FLAGS];
  const done = i32[bi + R_DONE] === at.seq;
  const step = i32[bi + R_STEP], layer = i32[bi + R_LAYER], op = i32[bi + R_OP];
  const scalars: Record<string, number> = {};
  for (let k = 0; k < i32[bi + R_NSCALAR]; k++) {
    scalars[str(i32[bi + R_SCALAR_NAME + k])] = f64[bf + F_SCALAR + k];
  }
  const blocked = (flags & FLAG_BLOCKED) !== 0;
  const status = done ? i32[bi + R_STATUS] : null;
  const rec: JournalRecord = {
    id: at.id,
    seq: at.seq,
    time: round3((f64[bf + F_T_BEFORE] - v.start) * 1000),
    dur: done ? round3((f64[bf + F_T_AFTER] - f64[bf + F_T_BEFORE]) * 1000) : null,
    wall: v.origin + f64[bf + F_T_BEFORE],
    kind: KINDS[i32[bi + R_KIND]] ?? "unknown",
    device: i32[bi + R_DEVICE],
    stream: f64[bf + F_STREAM],
    name: str(i32[bi + R_NAME]),
    scalars,
    pointers: decodePointers(v, bi, str, reg),
    step: step === NONE ? null : step,
    layer: layer === NONE ? null : layer,
    op: op === 0 ? null : str(op),
    status,
    result_name: status === null
      ? "in flight"
      : blocked || status === STATUS_BLOCKED
      ? "blocked"
      : statusName(status),
  };
  if (flags & FLAG_HOST) rec.host = f64[bf + F_HOST];
  if (flags & FLAG_EVENT) rec.event = f64[bf + F_EVENT];
  if (flags & FLAG_GEOMETRY) rec.geometry = readGeometry(i32, bi + R_GEOMETRY);
  if (flags & FLAG_ORDINAL) rec.ordinal = f64[bf + F_ORDINAL];
  if (done && (flags & FLAG_RESULT)) rec.result = f64[bf + F_RESULT];
  if (flags & (FLAG_PTR_TRUNCATED | FLAG_SCALAR_TRUNCATED)) {
    rec.truncated = [];
    if (flags & FLAG_PTR_TRUNCATED) rec.truncated.push("pointers");
    if (flags & FLAG_SCALAR_TRUNCATED) rec.truncated.push("scalars");
  }
  return rec;
}

function decodeJournalBuffer(buf: ArrayBuffer, side: SideData): DecodedJournal {
  const i32 = new Int32Array(buf, 0, buf.byteLength >> 2);
  const f64 = new Float64Array(buf, 0, buf.byteLength >> 3);
  const v: RingView = {
    i32,
    f64,
    ...ringShape(i32, buf.byteLength),
    origin: f64[H_TIME_ORIGIN],
    start: f64[H_START_NOW],
  };
  const corrupt: DecodedJournal["corrupt"] = [];
  const { slots, newest: maxSeq } = ringWindow(soundSlots(v, corrupt), v.capacity, corrupt);
  const torn = tornSlot(v, slots, maxSeq);
  // a torn slot held the oldest record before: that one is lost too
  const firstSeq = Math.max(1, maxSeq - v.capacity + (torn !== null && maxSeq >= v.capacity ? 2 : 1));
  const overwritten = firstSeq > 1 ? { count: firstSeq - 1, firstSeq: 1, lastSeq: firstSeq - 1 } : null;
  // Pointers are resolved in op-id order (the allocation timeline's order), whatever order the records
  // were written in: a record's resolution depends on its own id only, not on its neighbours'.
  const byId = slots.filter((s) => s.seq >= firstSeq).map((s) => ({
    ...s,
    id: f64[(slotWord(s.slot) >> 1) + F_ID],
  }))
    .sort((a, b) => (Number.isNaN(a.id) ? Infinity : a.id) - (Number.isNaN(b.id) ? Infinity : b.id));
  const str = (id: number) => side.strings[id] ?? `#${id}`;
  const timeline = new AllocationTimeline(side);
  const records: JournalRecord[] = [];
  for (const at of byId) {
    timeline.before(at.id);
    records.push(decodeRecord(v, slotWord(at.slot), at, str, timeline.registry));
  }
  records.sort((a, b) => a.seq - b.seq);
  return {
    pid: i32[H_PID],
    capacity: v.capacity,
    written: maxSeq,
    records,
    overwritten,
    torn,
    inFlight: records.filter((r) => r.status === null).reverse(),
    allocations: side.allocs.map((a) => ({ ...a, freedAt: side.frees.get(a.id) ?? null })),
    corrupt,
  };
}

/** The records as JSON lines (journal.jsonl). */
export function journalJsonl(records: readonly JournalRecord[]): string {
  let out = "";
  for (const r of records) out += JSON.stringify(r) + "\n";
  return out;
}

/** Decodes the ring at `ringPath` and writes `outPath` (journal.jsonl). Returns the decoded journal. */
export function writeJournalJsonl(ringPath: string, outPath: string): DecodedJournal {
  const d = decodeJournal(ringPath);
  Deno.writeTextFileSync(outPath, journalJsonl(d.records));
  return d;
}

const hex = (n: number | undefined) => `0x${Math.max(0, n ?? 0).toString(16)}`;
const seconds = (ms: number) => (ms / 1000).toFixed(6);

/** The `[D2H_AUDIT_START]` / `[D2H_AUDIT_END]` lines of every device-to-host record. */
export function d2hAuditLines(records: readonly JournalRecord[]): string[] {
  const lines: string[] = [];
  for (const r of records) {
    if (r.kind !== "d2h") continue;
    const src = r.pointers.find((p) => p.arg === "src") ?? r.pointers[0];
    const tensor = r.name || "?";
    lines.push(
      `[D2H_AUDIT_START] op_id=${r.id} ts=${seconds(r.wall)} stream=${hex(r.stream)} dev_ptr=${
        hex(src?.ptr)
      } ` +
        `host_ptr=${hex(r.host)} bytes=${r.scalars.bytes ?? src?.bytes ?? 0} tensor=${tensor} ` +
        `step=${r.step ?? -1} layer=${r.layer ?? -1}`,
    );
    if (r.dur !== null) {
      lines.push(
        `[D2H_AUDIT_END] op_id=${r.id} ts=${seconds(r.wall + r.dur / 1000)} stream=${
          hex(r.stream)
        } result=${r.result_name} ` +
          `tensor=${tensor}`,
      );
    }
  }
  return lines;
}
