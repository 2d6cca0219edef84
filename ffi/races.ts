/**
 * Stream race detection: a happens-before analysis over the order of native
 * calls, with vector clocks, that adds no synchronization of its own.
 *
 * Threads of the analysis: the host (index 0) and every stream of every
 * device. Each op enqueued on a stream ticks that stream's clock and is
 * ordered after everything the host had seen when it enqueued the op.
 * Ordering edges:
 * - event_record snapshots the stream's clock; stream_wait_event merges the
 *   snapshot into the waiting stream;
 * - host waits merge into the host clock: stream, event and device
 *   synchronize, a query that returned 0 (done), a synchronous copy or memset
 *   (it runs on the default stream, and the host waits for it), and free
 *   (it waits for the device, as cudaFree / hipFree do).
 * Streams are non-blocking (hip/gpu_runtime.cpp creates them so): the default
 * stream does not order them.
 *
 * Every device-memory access (pointer arguments with access r / w / rw, the
 * device side of copies and memsets) is checked against the earlier accesses
 * to overlapping bytes of the same allocation: two accesses from different
 * streams, at least one a write, neither ordered before the other, are a race.
 *
 * Online: `check(call)` before the native call (so a guard rail can block the
 * racing op), `commit(call, status)` after it. Offline: `findRaces(records)`
 * over a decoded journal.
 */
import type { Access, NativeCall, OpKind } from "./boundary.ts";
import type { JournalRecord } from "./journal.ts";
import type { Registry } from "./registry.ts";

/** One side of a race: the op and the bytes it touched. */
export interface RaceSide {
  op: number;
  kind: OpKind | "unknown";
  name: string;
  device: number;
  stream: number;
  arg: string;
  access: Access;
  /** Byte range [lo, hi) relative to the allocation's start. */
  lo: number;
  hi: number;
  step: number | null;
  layer: number | null;
}

export interface Race {
  alloc: { id: number; name: string; size: number };
  /** Overlapping byte range [lo, hi) of the two accesses. */
  lo: number;
  hi: number;
  /** The earlier access (already enqueued) and the later one (the call being made). */
  first: RaceSide;
  second: RaceSide;
  why: string;
}

interface Entry {
  lo: number;
  hi: number;
  /** Thread (stream) index and its clock at the access. */
  t: number;
  c: number;
  write: boolean;
  side: RaceSide;
}

export interface RaceOptions {
  /** Accesses kept per allocation (oldest dropped first). Default 256. */
  keepPerAllocation?: number;
}

const DEVICE_STRIDE = 2 ** 49; // stream handles are addresses below 2^48

const hex = (n: number) => `0x${n.toString(16)}`;

function describeSide(s: RaceSide): string {
  const verb = s.access === "r" ? "read" : s.access === "w" ? "written" : "read and written";
  const where = s.step !== null || s.layer !== null
    ? ` (step ${s.step ?? "-"}, layer ${s.layer ?? "-"})`
    : "";
  return `${verb} by ${s.kind} ${s.name} (op ${s.op}, argument ${s.arg}) on stream ${hex(s.stream)}${where}`;
}

/** The vector-clock state and the per-allocation access history. */
export class RaceDetector {
  #streams = new Map<number, number>(); // device * 2^49 + handle -> thread index
  #threadStream: number[] = [0]; // thread index -> stream handle (index 0: host)
  #threadDevice: number[] = [-1];
  #vc: number[][] = [[0]];
  #events = new Map<number, number[]>();
  #accesses = new Map<number, Entry[]>();
  #keep: number;
  /** Races found so far (online and offline). */
  readonly races: Race[] = [];

  constructor(opts: RaceOptions = {}) {
    this.#keep = opts.keepPerAllocation ?? 256;
  }

  #thread(device: number, stream: number): number {
    const key = device * DEVICE_STRIDE + stream;
    let t = this.#streams.get(key);
    if (t === undefined) {
      t = this.#vc.length;
      this.#streams.set(key, t);
      this.#vc.push([]);
      this.#threadStream.push(stream);
      this.#threadDevice.push(device);
    }
    return t;
  }

  /** Is an access by thread t at clock c ordered before the next op enqueued on thread s? */
  #ordered(t: number, c: number, s: number): boolean {
    if (t === s) return true;
    const vs = this.#vc[s][t] ?? 0;
    const vh = this.#vc[0][t] ?? 0;
    return c <= vs || c <= vh;
  }

  static #join(into: number[], from: number[]): void {
    for (let k = 0; k < from.length; k++) {
      const v = from[k];
      if (v !== undefined && v > (into[k] ?? 0)) into[k] = v;
    }
  }

  /**
   * Checks one access of an op about to be enqueued on (device, stream)
   * against the history; returns the races (empty array: none).
   */
  checkAccess(
    device: number,
    stream: number,
    allocId: number,
    lo: number,
    hi: number,
    access: Access,
    side: () => RaceSide,
    alloc: () => { name: string; size: number },
  ): Race[] {
    const list = this.#accesses.get(allocId);
    if (list === undefined || list.length === 0) return NO_RACES;
    const s = this.#thread(device, stream);
    const write = access !== "r";
    let out: Race[] | null = null;
    for (let k = 0; k < list.length; k++) {
      const e = list[k];
      if (e.hi <= lo || e.lo >= hi) continue;
      if (!write && !e.write) continue;
      if (this.#ordered(e.t, e.c, s)) continue;
      const second = side();
      const a = alloc();
      const olo = Math.max(lo, e.lo), ohi = Math.min(hi, e.hi);
      const race: Race = {
        alloc: { id: allocId, name: a.name, size: a.size },
        lo: olo,
        hi: ohi,
        first: e.side,
        second,
        why: `bytes [${olo}, ${ohi}) of ${a.name} (alloc ${allocId}) ${describeSide(e.side)} and ` +
          `${describeSide(second)}, with no event wait or synchronization ordering them`,
      };
      (out ??= []).push(race);
    }
    return out ?? NO_RACES;
  }

  /** Ticks the stream for one enqueued op; returns (thread, clock) for its accesses. */
  enqueue(device: number, stream: number): number {
    const s = this.#thread(device, stream);
    const vs = this.#vc[s];
    RaceDetector.#join(vs, this.#vc[0]);
    vs[s] = (vs[s] ?? 0) + 1;
    return s;
  }

  /** Records an access made by the op just enqueued on thread s. */
  recordAccess(s: number, allocId: number, lo: number, hi: number, access: Access, side: RaceSide): void {
    let list = this.#accesses.get(allocId);
    if (list === undefined) {
      list = [];
      this.#accesses.set(allocId, list);
    }
    const c = this.#vc[s][s];
    const write = access !== "r";
    // drop entries this access supersedes: covered, and ordered before it
    let j = 0;
    for (let k = 0; k < list.length; k++) {
      const e = list[k];
      const covered = e.lo >= lo && e.hi <= hi;
      const superseded = covered && (write ? this.#ordered(e.t, e.c, s) : (e.t === s && !e.write));
      if (!superseded) list[j++] = e;
    }
    list.length = j;
    list.push({ lo, hi, t: s, c, write, side });
    if (list.length > this.#keep) list.splice(0, list.length - this.#keep);
  }

  /** The host waits for a stream (stream synchronize, a finished query, a synchronous copy). */
  hostWaitsStream(device: number, stream: number): void {
    RaceDetector.#join(this.#vc[0], this.#vc[this.#thread(device, stream)]);
  }

  /** The host waits for every stream of a device (device synchronize, free). */
  hostWaitsDevice(device: number): void {
    for (let t = 1; t < this.#vc.length; t++) {
      if (this.#threadDevice[t] === device) RaceDetector.#join(this.#vc[0], this.#vc[t]);
    }
  }

  eventRecord(device: number, event: number, stream: number): void {
    const s = this.enqueue(device, stream);
    this.#events.set(device * DEVICE_STRIDE + event, this.#vc[s].slice());
  }

  streamWaitEvent(device: number, stream: number, event: number): void {
    const snap = this.#events.get(device * DEVICE_STRIDE + event);
    const s = this.#thread(device, stream);
    RaceDetector.#join(this.#vc[s], this.#vc[0]);
    if (snap !== undefined) RaceDetector.#join(this.#vc[s], snap);
  }

  hostWaitsEvent(device: number, event: number): void {
    const snap = this.#events.get(device * DEVICE_STRIDE + event);
    if (snap !== undefined) RaceDetector.#join(this.#vc[0], snap);
  }

  /** Forgets the accesses of a freed allocation. */
  forget(allocId: number): void {
    this.#accesses.delete(allocId);
  }

  /** Applies the ordering effects of an op that is not a memory access. Returns true when it was one of them. */
  ordering(
    kind: OpKind | "unknown",
    name: string,
    device: number,
    stream: number,
    event: number | undefined,
    status: number,
  ): boolean {
    switch (kind) {
      case "event_record":
        if (status === 0 && event !== undefined) this.eventRecord(device, event, stream);
        return true;
      case "event_wait":
        if (status === 0 && event !== undefined) this.streamWaitEvent(device, stream, event);
        return true;
      case "sync":
      case "query":
        if (status !== 0) return true;
        if (event !== undefined) this.hostWaitsEvent(device, event);
        else if (name.startsWith("device")) this.hostWaitsDevice(device);
        else this.hostWaitsStream(device, stream);
        return true;
      case "free":
        if (status === 0) this.hostWaitsDevice(device);
        return true;
      default:
        return false;
    }
  }
}

const NO_RACES: Race[] = [];
Object.freeze(NO_RACES);

const ACCESS_KINDS = new Set<string>(["launch", "h2d", "d2h", "d2d", "memset"]);

/**
 * Whether a copy or memset call is synchronous: `scalars.sync` when the
 * runtime sets it, otherwise a copy on the default stream is taken as the
 * synchronous fl_memcpy / fl_memset.
 */
export function isSynchronous(kind: string, stream: number, scalars: Record<string, number>): boolean {
  if (kind === "launch") return false;
  const s = scalars.sync;
  if (s !== undefined) return s !== 0;
  return stream === 0;
}

/** Online race detection over NativeCalls, resolving pointers through the registry. */
export class OnlineRaces {
  readonly detector: RaceDetector;
  readonly registry: Registry;

  constructor(registry: Registry, opts: RaceOptions = {}) {
    this.registry = registry;
    this.detector = new RaceDetector(opts);
  }

  /** The races `call` would create if it ran now (nothing is recorded). */
  check(call: NativeCall): Race[] {
    if (!ACCESS_KINDS.has(call.kind)) return NO_RACES;
    const ps = call.pointers;
    let out: Race[] = NO_RACES;
    for (let k = 0; k < ps.length; k++) {
      const p = ps[k];
      const a = this.registry.lookup(p.ptr);
      if (a === null) continue;
      const lo = p.ptr - a.ptr;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(a.bytes, lo + 1);
      const r = this.detector.checkAccess(
        call.device,
        call.stream,
        a.id,
        lo,
        hi,
        p.access,
        () => sideOf(call, p.arg, p.access, lo, hi),
        () => ({ name: a.name, size: a.bytes }),
      );
      if (r.length) out = out === NO_RACES ? r.slice() : out.concat(r);
    }
    return out;
  }

  /** Applies `call` (after it returned `status`) to the clocks and the history. */
  commit(call: NativeCall, status: number): void {
    const d = this.detector;
    if (d.ordering(call.kind, call.name, call.device, call.stream, call.event, status)) {
      if (call.kind === "free" && status === 0) {
        const base = call.scalars.ptr ?? 0;
        const a = this.registry.lookup(base) ?? this.registry.lookupFreed(base);
        if (a !== null) d.forget(a.id);
      }
      return;
    }
    if (!ACCESS_KINDS.has(call.kind) || status !== 0) return;
    const s = d.enqueue(call.device, call.stream);
    const ps = call.pointers;
    for (let k = 0; k < ps.length; k++) {
      const p = ps[k];
      const a = this.registry.lookup(p.ptr);
      if (a === null) continue;
      const lo = p.ptr - a.ptr;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(a.bytes, lo + 1);
      d.recordAccess(s, a.id, lo, hi, p.access, sideOf(call, p.arg, p.access, lo, hi));
    }
    if (isSynchronous(call.kind, call.stream, call.scalars)) d.hostWaitsStream(call.device, call.stream);
  }
}

function sideOf(call: NativeCall, arg: string, access: Access, lo: number, hi: number): RaceSide {
  return {
    op: call.id,
    kind: call.kind,
    name: call.name,
    device: call.device,
    stream: call.stream,
    arg,
    access,
    lo,
    hi,
    step: call.context.step ?? null,
    layer: call.context.layer ?? null,
  };
}

/**
 * Offline: the races in a decoded journal (records in the order they were
 * made). `allocations` (DecodedJournal.allocations) lets frees drop the
 * history of the allocation they release.
 */
export function findRaces(
  records: readonly JournalRecord[],
  opts: RaceOptions & { allocations?: readonly { id: number; freedAt: number | null }[] } = {},
): Race[] {
  const d = new RaceDetector(opts);
  const freedAt = new Map<number, number[]>();
  for (const a of opts.allocations ?? []) {
    if (a.freedAt !== null) freedAt.set(a.freedAt, [...(freedAt.get(a.freedAt) ?? []), a.id]);
  }
  for (const r of records) {
    const status = r.status ?? 0; // a call in flight was enqueued as far as anyone can tell
    if (d.ordering(r.kind, r.name, r.device, r.stream, r.event, status)) {
      if (r.kind === "free" && status === 0) { for (const id of freedAt.get(r.id) ?? []) d.forget(id); }
      continue;
    }
    if (!ACCESS_KINDS.has(r.kind) || status !== 0) continue;
    for (const p of r.pointers) {
      if (p.alloc === null || p.offset === undefined) continue;
      const lo = p.offset;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(p.size ?? 0, lo + 1);
      const info = { name: p.name ?? `alloc ${p.alloc}`, size: p.size ?? 0 };
      const side = recordSide(r, p.arg, p.access, lo, hi);
      const found = d.checkAccess(r.device, r.stream, p.alloc, lo, hi, p.access, () => side, () => info);
      for (const x of found) d.races.push(x);
    }
    const s = d.enqueue(r.device, r.stream);
    for (const p of r.pointers) {
      if (p.alloc === null || p.offset === undefined) continue;
      const lo = p.offset;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(p.size ?? 0, lo + 1);
      d.recordAccess(s, p.alloc, lo, hi, p.access, recordSide(r, p.arg, p.access, lo, hi));
    }
    if (isSynchronous(r.kind, r.stream, r.scalars)) d.hostWaitsStream(r.device, r.stream);
  }
  return d.races;
}

function recordSide(r: JournalRecord, arg: string, access: Access, lo: number, hi: number): RaceSide {
  return {
    op: r.id,
    kind: r.kind,
    name: r.name,
    device: r.device,
    stream: r.stream,
    arg,
    access,
    lo,
    hi,
    step: r.step,
    layer: r.layer,
  };
}
