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
 * The host side of copies counts too (a D2H writes it, an H2D reads it, when
 * the stream gets there): two copies on different streams through the same
 * staging bytes race (a staging buffer reused while a copy through it is in flight).
 *
 * Online: `check(call)` before the native call (so a guard rail can block the
 * racing op), `commit(call, status)` after it. Offline: `findRaces(records)`
 * over a decoded journal.
 */
import type { NativeCall } from "./boundary.ts";
import { type Allocation, CallResolution, type Registry } from "./registry.ts";
import type { Access, JournalRecord, OpKind } from "../records.ts";

/** One side of a race: the op and the bytes it touched. */
export interface RaceSide {
  /** The op's id. */
  op: number;
  /** What the op did. */
  kind: OpKind | "unknown";
  /** Kernel or tensor name. */
  name: string;
  /** Device ordinal. */
  device: number;
  /** The stream the op was enqueued on. */
  stream: number;
  /** The argument through which it touched the bytes. */
  arg: string;
  /** Whether it read, wrote or both. */
  access: Access;
  /** Byte range [lo, hi) relative to the allocation's start. */
  lo: number;
  /** End of the byte range (exclusive). */
  hi: number;
  /** The workload's step of the op. */
  step: number | null;
  /** The model layer of the op. */
  layer: number | null;
}

/** Two accesses to overlapping bytes from different streams, at least one a write, neither ordered before the other. */
export interface Race {
  /** The allocation both touch. */
  alloc: { id: number; name: string; size: number };
  /** Overlapping byte range [lo, hi) of the two accesses. */
  lo: number;
  /** End of the overlap (exclusive). */
  hi: number;
  /** The earlier access (already enqueued) and the later one (the call being made). */
  first: RaceSide;
  /** The later access (the call being made). */
  second: RaceSide;
  /** The race in one sentence: who read or wrote what, on which streams, with no order between them. */
  why: string;
}

interface Entry {
  lo: number;
  hi: number;
  /** Thread (stream) index and its clock at the access. */
  t: number;
  c: number;
  write: boolean;
  /**
   * The op that made the access, copied from its call or journal record (the
   * history keeps no reference to either: calls are reused).
   */
  op: number;
  kind: OpKind | "unknown";
  name: string;
  device: number;
  stream: number;
  step: number | null;
  layer: number | null;
  arg: string;
  access: Access;
}

/** The op fields of an access's source: a NativeCall (step and layer in its context) or a journal record. */
function originOf(src: unknown, e: Entry): void {
  const o = src as {
    id: number;
    kind: OpKind | "unknown";
    name: string;
    device: number;
    stream: number;
    context?: { step?: number; layer?: number };
    step?: number | null;
    layer?: number | null;
  };
  e.op = o.id;
  e.kind = o.kind;
  e.name = o.name;
  e.device = o.device;
  e.stream = o.stream;
  const c = o.context;
  e.step = (c !== undefined ? c.step : o.step) ?? null;
  e.layer = (c !== undefined ? c.layer : o.layer) ?? null;
}

function entrySide(e: Entry): RaceSide {
  return {
    op: e.op,
    kind: e.kind,
    name: e.name,
    device: e.device,
    stream: e.stream,
    arg: e.arg,
    access: e.access,
    lo: e.lo,
    hi: e.hi,
    step: e.step,
    layer: e.layer,
  };
}

/** An object that carries an allocation's access history itself (the registry's Allocation does). */
export interface HistoryHolder {
  /** The race check's access history of the allocation, null until it has one. */
  raceHistory: unknown;
}

/** Builds the description of one side of a race from an access's source (a NativeCall or a journal record). */
export type SideBuilder = (src: unknown, arg: string, access: Access, lo: number, hi: number) => RaceSide;

/** Options of the race check. */
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

/**
 * The vector-clock state and the per-allocation access history. Steady state
 * allocates nothing: clocks are dense arrays, and an access that supersedes
 * an older one of the same range reuses its entry.
 */
export class RaceDetector {
  #streams = new Map<number, number>(); // device * 2^49 + handle -> thread index
  #threadDevice: number[] = [-1]; // thread index -> device (index 0: host)
  #vc: number[][] = [[0]];
  #events = new Map<number, number[]>();
  #accesses = new Map<number, Entry[]>();
  #keep: number;
  #side: SideBuilder;
  #lastKey = -1;
  #lastThread = 0;
  /** Races found so far (offline analysis collects here). */
  readonly races: Race[] = [];

  /** A detector whose race sides `side` describes. */
  constructor(side: SideBuilder, opts: RaceOptions = {}) {
    this.#side = side;
    this.#keep = opts.keepPerAllocation ?? 256;
  }

  /** The analysis thread of (device, stream). */
  thread(device: number, stream: number): number {
    const key = device * DEVICE_STRIDE + stream;
    if (key === this.#lastKey) return this.#lastThread;
    let t = this.#streams.get(key);
    if (t === undefined) {
      t = this.#vc.length;
      this.#streams.set(key, t);
      for (const v of this.#vc) v.push(0);
      this.#vc.push(new Array<number>(t + 1).fill(0));
      this.#threadDevice.push(device);
      for (const snap of this.#events.values()) snap.push(0);
    }
    this.#lastKey = key;
    this.#lastThread = t;
    return t;
  }

  /** Is an access by thread t at clock c ordered before the next op enqueued on thread s? */
  #ordered(t: number, c: number, s: number): boolean {
    return t === s || c <= this.#vc[s][t] || c <= this.#vc[0][t];
  }

  static #join(into: number[], from: readonly number[]): void {
    const n = from.length;
    for (let k = 0; k < n; k++) if (from[k] > into[k]) into[k] = from[k];
  }

  /**
   * Checks one access of an op about to be enqueued on thread s against the
   * history; returns the races (the shared empty array when none).
   */
  checkAccess(
    s: number,
    allocId: number,
    lo: number,
    hi: number,
    access: Access,
    src: unknown,
    arg: string,
    allocName: string,
    allocSize: number,
    holder?: HistoryHolder,
  ): Race[] {
    const list = holder !== undefined ? holder.raceHistory as Entry[] | null : this.#accesses.get(allocId);
    if (list === undefined || list === null) return NO_RACES;
    const write = access !== "r";
    let out: Race[] | null = null;
    for (let k = 0; k < list.length; k++) {
      const e = list[k];
      if (e.hi <= lo || e.lo >= hi) continue;
      if (!write && !e.write) continue;
      if (this.#ordered(e.t, e.c, s)) continue;
      const first = entrySide(e);
      const second = this.#side(src, arg, access, lo, hi);
      const olo = Math.max(lo, e.lo), ohi = Math.min(hi, e.hi);
      (out ??= []).push({
        alloc: { id: allocId, name: allocName, size: allocSize },
        lo: olo,
        hi: ohi,
        first,
        second,
        why: `bytes [${olo}, ${ohi}) of ${allocName} (alloc ${allocId}) ${describeSide(first)} and ` +
          `${describeSide(second)}, with no event wait or synchronization ordering them`,
      });
    }
    return out ?? NO_RACES;
  }

  /** Ticks the stream for one enqueued op; returns its thread index (its clock is vc[s][s]). */
  enqueue(device: number, stream: number): number {
    const s = this.thread(device, stream);
    const vs = this.#vc[s];
    RaceDetector.#join(vs, this.#vc[0]);
    vs[s]++;
    return s;
  }

  /** Records an access made by the op just enqueued on thread s. */
  recordAccess(
    s: number,
    allocId: number,
    lo: number,
    hi: number,
    access: Access,
    src: unknown,
    arg: string,
    holder?: HistoryHolder,
  ): void {
    let list: Entry[] | null | undefined = holder !== undefined
      ? holder.raceHistory as Entry[] | null
      : this.#accesses.get(allocId);
    if (list === undefined || list === null) {
      list = [];
      if (holder !== undefined) holder.raceHistory = list;
      else this.#accesses.set(allocId, list);
    }
    const c = this.#vc[s][s];
    const write = access !== "r";
    // drop the entries this access supersedes (covered, and ordered before it), reusing one for it;
    // in the steady state one entry is superseded and the list keeps its length (no resizing)
    let reuse: Entry | null = null;
    let j = 0;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const e = list[k];
      const superseded = e.lo >= lo && e.hi <= hi &&
        (write ? this.#ordered(e.t, e.c, s) : (e.t === s && !e.write));
      if (!superseded) {
        if (j !== k) list[j] = e;
        j++;
      } else if (reuse === null) reuse = e;
    }
    if (reuse === null) {
      reuse = {
        lo,
        hi,
        t: s,
        c,
        write,
        op: 0,
        kind: "unknown",
        name: "",
        device: 0,
        stream: 0,
        step: null,
        layer: null,
        arg,
        access,
      };
    } else {
      reuse.lo = lo;
      reuse.hi = hi;
      reuse.t = s;
      reuse.c = c;
      reuse.write = write;
      reuse.arg = arg;
      reuse.access = access;
    }
    originOf(src, reuse);
    if (j === n) list.push(reuse);
    else {
      list[j] = reuse;
      if (j + 1 !== n) list.length = j + 1;
    }
    if (list.length > this.#keep) list.splice(0, list.length - this.#keep);
  }

  /** The host waits for a stream (stream synchronize, a finished query, a synchronous copy). */
  hostWaitsStream(device: number, stream: number): void {
    RaceDetector.#join(this.#vc[0], this.#vc[this.thread(device, stream)]);
  }

  /** The host waits for every stream of a device (device synchronize, free). */
  hostWaitsDevice(device: number): void {
    for (let t = 1; t < this.#vc.length; t++) {
      if (this.#threadDevice[t] === device) RaceDetector.#join(this.#vc[0], this.#vc[t]);
    }
  }

  /** An event recorded on a stream: it captures the stream's clock. */
  eventRecord(device: number, event: number, stream: number): void {
    const s = this.enqueue(device, stream);
    this.#events.set(device * DEVICE_STRIDE + event, this.#vc[s].slice());
  }

  /** A stream waits for an event: what the event's stream did before it happens before what the stream does next. */
  streamWaitEvent(device: number, stream: number, event: number): void {
    const snap = this.#events.get(device * DEVICE_STRIDE + event);
    const s = this.thread(device, stream);
    RaceDetector.#join(this.#vc[s], this.#vc[0]);
    if (snap !== undefined) RaceDetector.#join(this.#vc[s], snap);
  }

  /** The host waits for an event: what its stream did before it happens before the host's next calls. */
  hostWaitsEvent(device: number, event: number): void {
    const snap = this.#events.get(device * DEVICE_STRIDE + event);
    if (snap !== undefined) RaceDetector.#join(this.#vc[0], snap);
  }

  /** Accesses held, per allocation id (for tests and diagnostics). */
  historySizes(): Map<number, number> {
    return new Map([...this.#accesses].map(([id, l]) => [id, l.length]));
  }

  /** Forgets the accesses of a freed allocation. */
  forget(allocId: number, holder?: HistoryHolder): void {
    if (holder !== undefined) holder.raceHistory = null;
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

/** Kinds that access device memory (launches first: the common case costs one comparison). */
const isAccess = (k: string) =>
  k === "launch" || k === "h2d" || k === "d2h" || k === "d2d" || k === "memset" || k === "p2p";

/**
 * Whether a copy or memset call is synchronous (fl_memcpy / fl_memset, the
 * host waits for it): the runtime sets `scalars.sync` to 1 for those and to 0
 * for the asynchronous ones on a stream (ffi/buffer.ts).
 */
export function isSynchronous(kind: string, _stream: number, scalars: Record<string, number>): boolean {
  if (kind === "launch") return false;
  const s = scalars.sync;
  return s !== undefined && s !== 0;
}

function callSide(src: unknown, arg: string, access: Access, lo: number, hi: number): RaceSide {
  const call = src as NativeCall;
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

/** Online race detection over NativeCalls, resolving pointers through the registry. */
export class OnlineRaces {
  /** The vector-clock state and the access history. */
  readonly detector: RaceDetector;
  /** The allocations pointers are resolved against. */
  readonly registry: Registry;

  /** `resolution`: a per-call pointer resolution shared with other checks (default: its own). */
  constructor(registry: Registry, opts: RaceOptions & { resolution?: CallResolution } = {}) {
    this.registry = registry;
    this.detector = new RaceDetector(callSide, opts);
    this.#resolution = opts.resolution ?? new CallResolution(registry);
  }

  #resolution: CallResolution;

  #resolve(call: NativeCall): (Allocation | null)[] {
    return this.#resolution.of(call);
  }

  /** The races `call` would create if it ran now (nothing is recorded). */
  check(call: NativeCall): Race[] {
    if (!isAccess(call.kind)) return NO_RACES;
    const ps = call.pointers;
    const res = this.#resolve(call);
    const s = this.detector.thread(call.device, call.stream);
    let out: Race[] = NO_RACES;
    for (let k = 0; k < ps.length; k++) {
      const a = res[k];
      if (a === null) continue;
      const p = ps[k];
      const lo = p.ptr - a.ptr;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(a.bytes, lo + 1);
      const r = this.detector.checkAccess(s, a.id, lo, hi, p.access, call, p.arg, a.name, a.bytes, a);
      if (r.length) out = out === NO_RACES ? r.slice() : out.concat(r);
    }
    if (call.host !== undefined && (call.kind === "d2h" || call.kind === "h2d")) {
      const bytes = call.scalars.bytes ?? 0;
      const h = this.registry.lookup(call.host);
      const access: Access = call.kind === "d2h" ? "w" : "r";
      const r = h !== null && h.host
        ? this.detector.checkAccess(
          s,
          h.id,
          call.host - h.ptr,
          call.host - h.ptr + bytes,
          access,
          call,
          "host",
          h.name,
          h.bytes,
          h,
        )
        : this.detector.checkAccess(
          s,
          -1,
          call.host,
          call.host + bytes,
          access,
          call,
          "host",
          "host memory",
          0,
          this.#hostMemory,
        );
      if (r.length) out = out === NO_RACES ? r.slice() : out.concat(r);
    }
    return out;
  }

  /** Host memory outside every pinned allocation: one history over absolute addresses. */
  #hostMemory: HistoryHolder = { raceHistory: null };

  /** Applies `call` (after it returned `status`) to the clocks and the history. */
  commit(call: NativeCall, status: number): void {
    const d = this.detector;
    const kind = call.kind;
    if (kind !== "launch") {
      if (d.ordering(kind, call.name, call.device, call.stream, call.event, status)) {
        if (kind === "free" && status === 0) {
          const base = call.scalars.ptr ?? 0;
          const a = this.registry.lookup(base) ?? this.registry.lookupFreed(base);
          if (a !== null) d.forget(a.id, a);
        }
        return;
      }
      if (!isAccess(kind)) return;
    }
    if (status !== 0) return;
    const s = d.enqueue(call.device, call.stream);
    const ps = call.pointers;
    const res = this.#resolve(call);
    for (let k = 0; k < ps.length; k++) {
      const a = res[k];
      if (a === null) continue;
      const p = ps[k];
      const lo = p.ptr - a.ptr;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(a.bytes, lo + 1);
      d.recordAccess(s, a.id, lo, hi, p.access, call, p.arg, a);
    }
    if (call.kind === "launch") return;
    if (call.host !== undefined && (call.kind === "d2h" || call.kind === "h2d")) {
      // the host side of a copy: written by a D2H, read by an H2D, until the stream gets there
      const bytes = call.scalars.bytes ?? 0;
      const h = this.registry.lookup(call.host);
      const access: Access = call.kind === "d2h" ? "w" : "r";
      if (h !== null && h.host) {
        d.recordAccess(s, h.id, call.host - h.ptr, call.host - h.ptr + bytes, access, call, "host", h);
      } else d.recordAccess(s, -1, call.host, call.host + bytes, access, call, "host", this.#hostMemory);
    }
    if (isSynchronous(call.kind, call.stream, call.scalars)) d.hostWaitsStream(call.device, call.stream);
  }
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
  const d = new RaceDetector(recordSide, opts);
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
    if (!isAccess(r.kind) || status !== 0) continue;
    const t = d.thread(r.device, r.stream);
    for (const p of r.pointers) {
      if (p.alloc === null || p.offset === undefined) continue;
      const lo = p.offset;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(p.size ?? 0, lo + 1);
      const found = d.checkAccess(
        t,
        p.alloc,
        lo,
        hi,
        p.access,
        r,
        p.arg,
        p.name ?? `alloc ${p.alloc}`,
        p.size ?? 0,
      );
      for (const x of found) d.races.push(x);
    }
    const hostSide = r.host !== undefined && (r.kind === "d2h" || r.kind === "h2d");
    const hostAccess: Access = r.kind === "d2h" ? "w" : "r";
    const hostBytes = r.scalars.bytes ?? 0;
    if (hostSide) {
      const found = d.checkAccess(
        t,
        -1,
        r.host!,
        r.host! + hostBytes,
        hostAccess,
        r,
        "host",
        "host memory",
        0,
      );
      for (const x of found) d.races.push(x);
    }
    const s = d.enqueue(r.device, r.stream);
    for (const p of r.pointers) {
      if (p.alloc === null || p.offset === undefined) continue;
      const lo = p.offset;
      const hi = p.bytes > 0 ? lo + p.bytes : Math.max(p.size ?? 0, lo + 1);
      d.recordAccess(s, p.alloc, lo, hi, p.access, r, p.arg);
    }
    if (hostSide) d.recordAccess(s, -1, r.host!, r.host! + hostBytes, hostAccess, r, "host");
    if (isSynchronous(r.kind, r.stream, r.scalars)) d.hostWaitsStream(r.device, r.stream);
  }
  return d.races;
}

function recordSide(src: unknown, arg: string, access: Access, lo: number, hi: number): RaceSide {
  const r = src as JournalRecord;
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
