/**
 * The journal writer: a binary ring of fixed-size records in a file mapped
 * MAP_SHARED (fl_journal_map, hip/host.h), written from TypeScript with one
 * typed-array store per field: no system call, no JSON and no allocation per
 * native call. Because the mapping is the page cache itself, every record
 * already stored survives the process dying inside the next native call
 * (segfault, SIGKILL, a sticky GPU error).
 *
 * Each call writes its intent before the native call (all fields, then the
 * intent marker) and its status after it (status, end time, then the done
 * marker). A slot being overwritten has its markers cleared first, so a record
 * half-written when the process died is never read as a whole one.
 *
 * Strings (kernel, tensor, argument and op names) are interned: each new
 * string is appended once to a side file (`<journal>.side`, JSON lines) with
 * Deno.writeSync, and records carry its id. Allocations and frees are appended
 * there too, so that pointers can be resolved after the ring has wrapped.
 * ffi/journal.ts decodes the ring and the side file into journal.jsonl.
 */
import type { CallObserver, NativeCall, PointerArg } from "./boundary.ts";
import type { AllocationInfo, LaunchGeometry, OpKind } from "../records.ts";

// ---- file format (shared with the decoder in ./journal.ts) ----

export const JOURNAL_MAGIC = 0x4c4a4c46; // "FLJL"
export const JOURNAL_VERSION = 1;
/** Bytes before the first record (one page). */
export const HEADER_BYTES = 4096;
export const RECORD_BYTES = 512;
/** Pointer arguments a record holds; more set a truncation flag. */
export const MAX_POINTERS = 10;
/** Scalar arguments a record holds; more set a truncation flag. */
export const MAX_SCALARS = 8;

/** Header fields: Int32 indexes. */
export const H_MAGIC = 0, H_VERSION = 1, H_RECORD_BYTES = 2, H_CAPACITY = 3, H_PID = 4;
/** Header fields: Float64 indexes. */
export const H_TIME_ORIGIN = 4, H_START_NOW = 5;

/** Record fields: Int32 indexes from the record's start. */
export const R_INTENT = 0, // record sequence number, written last on the way in (0: none)
  R_DONE = 1, // the same number, written last on the way out
  R_KIND = 2,
  R_NAME = 3,
  R_DEVICE = 4,
  R_STATUS = 5,
  R_STEP = 6,
  R_LAYER = 7,
  R_OP = 8,
  R_NPTR = 9,
  R_NSCALAR = 10,
  R_FLAGS = 11,
  R_PTR_META = 72, // 2 per pointer: argument name id, access | elem << 2
  R_SCALAR_NAME = 108, // 1 per scalar: name id
  R_EV_INTENT = 116, // the writer's event number of the intent (intents and outcomes share one count)
  R_EV_DONE = 117, // the event number of the outcome (written before the done marker)
  R_GEOMETRY = 118; // 7 when FLAG_GEOMETRY: grid x, y, z, block x, y, z, dynamic shared bytes (uint32)
/** Record fields: Float64 indexes from the record's start. */
export const F_ID = 8,
  F_T_BEFORE = 9,
  F_T_AFTER = 10,
  F_STREAM = 11,
  F_HOST = 12,
  F_EVENT = 13,
  F_RESULT = 14,
  F_ORDINAL = 15, // when FLAG_ORDINAL: the launch's position among the process's launches, from 0 (traced programs)
  F_PTR = 16, // 2 per pointer: address, bytes
  F_SCALAR = 46; // 1 per scalar: value

export const FLAG_HOST = 1,
  FLAG_EVENT = 2,
  FLAG_RESULT = 4,
  FLAG_PTR_TRUNCATED = 8,
  FLAG_SCALAR_TRUNCATED = 16,
  FLAG_BLOCKED = 32,
  FLAG_GEOMETRY = 64,
  FLAG_ORDINAL = 128;

/** Step / layer value meaning "not set". */
export const NONE = -2147483648;
/** Status written for a call a guard rail blocked (it never reached the library). */
export const STATUS_BLOCKED: number = -1;

/** Stores a launch geometry at `at` (R_GEOMETRY) as 7 uint32 in an Int32Array. */
export function writeGeometry(i: Int32Array, at: number, g: LaunchGeometry): void {
  i[at] = g.grid[0];
  i[at + 1] = g.grid[1];
  i[at + 2] = g.grid[2];
  i[at + 3] = g.block[0];
  i[at + 4] = g.block[1];
  i[at + 5] = g.block[2];
  i[at + 6] = g.sharedBytes;
}

/** The launch geometry stored at `at` (R_GEOMETRY). */
export function readGeometry(i: Int32Array, at: number): LaunchGeometry {
  const u = (k: number) => i[at + k] >>> 0;
  return { grid: [u(0), u(1), u(2)], block: [u(3), u(4), u(5)], sharedBytes: u(6) };
}

export const KINDS: readonly OpKind[] = [
  "alloc",
  "free",
  "host_alloc",
  "host_free",
  "h2d",
  "d2h",
  "d2d",
  "h2h",
  "memset",
  "launch",
  "sync",
  "query",
  "event_record",
  "event_wait",
  "stream_create",
  "stream_destroy",
  "event_create",
  "event_destroy",
  "vmm", // traced programs: virtual memory management (reserve, create, release); name is the call
  "capture", // traced programs: stream capture begins or ends on `stream`; name is the call
  "p2p",
];
const KIND_CODE: Record<string, number> = Object.fromEntries(KINDS.map((k, i) => [k, i]));
const K_LAUNCH = KIND_CODE.launch,
  K_EVENT_RECORD = KIND_CODE.event_record,
  K_EVENT_WAIT = KIND_CODE.event_wait;
export const ACCESS_CODES = ["r", "w", "rw"] as const;

/**
 * The allocation an alloc call made, from its NativeCall and result: scalars
 * `bytes` (asked for), optional `align`, `redzone` (guard bytes each side) and
 * `allocBytes`; the result is the address the backend returned (the caller's
 * address is result + redzone).
 */
export function allocationOf(call: NativeCall, result?: number): AllocationInfo | null {
  if (result === undefined || result === 0) return null;
  const sc = call.scalars;
  const redzone = sc.redzone ?? 0;
  const bytes = sc.bytes ?? 0;
  const host = call.kind === "host_alloc";
  return {
    id: call.id,
    ptr: result + redzone,
    bytes,
    name: call.name,
    align: sc.align ?? (host ? 64 : 256),
    device: call.device,
    base: result,
    allocBytes: sc.allocBytes ?? sc.alloc_bytes ?? bytes + 2 * redzone,
    redzone,
    host,
  };
}

/** The two exports of hip/host.h the writer needs (any library that has them). */
export interface JournalMapSymbols {
  /** Maps `bytes` of the file at `path` (NUL-terminated) MAP_SHARED; the address goes to `out`. */
  fl_journal_map(path: BufferSource, bytes: number | bigint, out: BufferSource): number;
  /** Unmaps a ring mapped by fl_journal_map. */
  fl_journal_unmap(addr: number | bigint, bytes: number | bigint): number;
}

/** The symbol definitions, for a Deno.dlopen of a library holding hip/host/journal_map.c. */
export const journalMapSymbols = {
  fl_journal_map: { parameters: ["buffer", "u64", "buffer"], result: "i32" },
  fl_journal_unmap: { parameters: ["u64", "u64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Options of a JournalWriter. */
export interface JournalWriterOptions {
  /** Path of the ring file; the side file is `${path}.side`. */
  path: string;
  /** Records the ring holds before it wraps (default 65536: 32 MiB). */
  capacity?: number;
  /** The library exporting fl_journal_map / fl_journal_unmap. */
  native: JournalMapSymbols;
  /**
   * The clock, in ms on performance.now()'s time line (default performance.now).
   * A cheaper one (a native monotonic clock) cuts the cost per call.
   */
  clock?: () => number;
  /**
   * Launches in a row read the clock every n-th time and the others reuse the
   * last reading (default 8; 1: every launch). Every other call reads it.
   */
  launchClockEvery?: number;
}

export class JournalMapError extends Error {
  constructor(readonly status: number, path: string) {
    super(`fl_journal_map(${path}) failed with status ${status}`);
    this.name = "JournalMapError";
  }
}

/** The string ids of a call name and of its arguments and scalars, by position. */
interface NameIds {
  nameId: number;
  args: string[];
  argIds: number[];
  keys: string[];
  keyIds: number[];
}

/**
 * Writes NativeCalls into the mapped ring. Use it as a CallObserver
 * (`boundary.attach(writer)`) or call intent()/done() directly.
 */
export class JournalWriter implements CallObserver {
  /** Path of the ring file. */
  readonly path: string;
  /** Path of the side file (strings and allocations): `${path}.side`. */
  readonly sidePath: string;
  /** Records the ring holds before it wraps. */
  readonly capacity: number;
  /** Size of the mapped ring in bytes (header and records). */
  readonly bytes: number;
  #native: JournalMapSymbols;
  #addr = 0;
  #i32: Int32Array;
  #f64: Float64Array;
  #seq = 0;
  #events = 0;
  #side: Deno.FsFile;
  #enc = new TextEncoder();
  #strings = new Map<string, number>();
  #byName = new Map<string, NameIds>();
  // calls in flight (before() seen, after() not yet): nested calls nest.
  #stackId = new Float64Array(64);
  #stackSeq = new Int32Array(64);
  #depth = 0;
  #closed = false;
  #now: () => number;
  #lastClock = 0;
  #launchRun = 0;
  #launchClockEvery: number;

  /** Creates (or truncates) the ring and its side file and maps the ring. */
  constructor(opts: JournalWriterOptions) {
    this.#now = opts.clock ?? (() => performance.now());
    this.#launchClockEvery = Math.max(1, Math.floor(opts.launchClockEvery ?? 8));
    this.path = opts.path;
    this.sidePath = `${opts.path}.side`;
    this.capacity = Math.max(1, Math.floor(opts.capacity ?? 65536));
    this.bytes = HEADER_BYTES + this.capacity * RECORD_BYTES;
    this.#native = opts.native;
    const out = new BigUint64Array(1);
    const st = this.#native.fl_journal_map(this.#enc.encode(opts.path + "\0"), BigInt(this.bytes), out);
    if (st !== 0) throw new JournalMapError(st, opts.path);
    this.#addr = Number(out[0]);
    const ptr = Deno.UnsafePointer.create(out[0]);
    if (ptr === null) throw new JournalMapError(999, opts.path);
    const buf = Deno.UnsafePointerView.getArrayBuffer(ptr, this.bytes);
    this.#i32 = new Int32Array(buf);
    this.#f64 = new Float64Array(buf);
    this.#side = Deno.openSync(this.sidePath, { write: true, create: true, truncate: true });
    const i = this.#i32, f = this.#f64;
    i[H_VERSION] = JOURNAL_VERSION;
    i[H_RECORD_BYTES] = RECORD_BYTES;
    i[H_CAPACITY] = this.capacity;
    i[H_PID] = Deno.pid;
    f[H_TIME_ORIGIN] = performance.timeOrigin;
    f[H_START_NOW] = this.#now();
    i[H_MAGIC] = JOURNAL_MAGIC;
  }

  /** Records written so far (including overwritten ones). */
  get written(): number {
    return this.#seq;
  }

  /**
   * Intents and outcomes written so far: each record's intent and outcome
   * carry their number in this one count (R_EV_INTENT, R_EV_DONE), so a
   * reader can replay them in the order they happened (a nonblocking call's
   * outcome comes after the intents of the calls made while it waited).
   */
  get events(): number {
    return this.#events;
  }

  /** The ring's address in this process (a worker of the same process can view it). */
  get address(): bigint {
    return BigInt(this.#addr);
  }

  /** The string's id, appending it to the side file the first time it is seen. */
  intern(s: string): number {
    let id = this.#strings.get(s);
    if (id === undefined) {
      id = this.#strings.size + 1;
      this.#strings.set(s, id);
      this.#appendSide({ s: id, v: s });
    }
    return id;
  }

  #appendSide(entry: unknown): void {
    if (this.#closed) return;
    const bytes = this.#enc.encode(JSON.stringify(entry) + "\n");
    let off = 0;
    while (off < bytes.length) off += this.#side.writeSync(bytes.subarray(off));
  }

  /** Records an allocation in the side file (kept whatever the ring overwrites). */
  noteAlloc(a: AllocationInfo): void {
    this.#appendSide({ a: a.id, ...a });
  }

  /** Records a free (of the allocation made by op `allocId`) in the side file. */
  noteFree(allocId: number, op: number): void {
    this.#appendSide({ f: allocId, op });
  }

  /** Writes the intent record of `call`; returns its sequence number. */
  intent(call: NativeCall): number {
    const seq = ++this.#seq;
    const slot = (seq - 1) % this.capacity;
    const i = this.#i32, f = this.#f64;
    const bi = (HEADER_BYTES + slot * RECORD_BYTES) >> 2;
    const bf = bi >> 1;
    i[bi + R_INTENT] = 0;
    i[bi + R_DONE] = 0;
    f[bf + F_ID] = call.id;
    const kind = call.kind === "launch" ? K_LAUNCH : (KIND_CODE[call.kind] ?? -1);
    // launches in a row read the clock every launchClockEvery-th time (their host enqueue time;
    // the device runs them later anyway); every other call reads it
    if (kind !== K_LAUNCH || ++this.#launchRun >= this.#launchClockEvery) {
      this.#lastClock = this.#now();
      this.#launchRun = 0;
    }
    f[bf + F_T_BEFORE] = this.#lastClock;
    f[bf + F_T_AFTER] = 0;
    i[bi + R_KIND] = kind;
    // the string ids of this name's arguments and scalars, by position (one map look-up a call)
    let nc = this.#byName.get(call.name);
    if (nc === undefined) {
      nc = { nameId: this.intern(call.name), args: [], argIds: [], keys: [], keyIds: [] };
      this.#byName.set(call.name, nc);
    }
    i[bi + R_NAME] = nc.nameId;
    i[bi + R_DEVICE] = call.device;
    i[bi + R_STATUS] = 0;
    f[bf + F_STREAM] = call.stream;
    let flags = 0;
    if (call.host !== undefined) {
      f[bf + F_HOST] = call.host;
      flags |= FLAG_HOST;
    }
    if (call.event !== undefined) {
      f[bf + F_EVENT] = call.event;
      flags |= FLAG_EVENT;
    }
    const g = call.geometry;
    if (g !== undefined) {
      writeGeometry(i, bi + R_GEOMETRY, g);
      flags |= FLAG_GEOMETRY;
    }
    const ctx = call.context;
    i[bi + R_STEP] = ctx.step ?? NONE;
    i[bi + R_LAYER] = ctx.layer ?? NONE;
    const op = ctx.op;
    i[bi + R_OP] = op === undefined ? 0 : (this.#strings.get(op) ?? this.intern(op));
    flags |= this.#writePointers(bi, call.pointers, nc);
    flags |= this.#writeScalars(bi, call.scalars, nc);
    i[bi + R_FLAGS] = flags;
    i[bi + R_EV_INTENT] = ++this.#events;
    i[bi + R_EV_DONE] = 0;
    i[bi + R_INTENT] = seq; // commit: the intent is whole
    return seq;
  }

  /** The pointer arguments of the record at word `bi`; FLAG_PTR_TRUNCATED when they do not all fit. */
  #writePointers(bi: number, ps: readonly PointerArg[], nc: NameIds): number {
    const i = this.#i32, f = this.#f64;
    const bf = bi >> 1;
    let flags = 0;
    let np = ps.length;
    if (np > MAX_POINTERS) {
      np = MAX_POINTERS;
      flags |= FLAG_PTR_TRUNCATED;
    }
    for (let k = 0; k < np; k++) {
      const p = ps[k];
      f[bf + F_PTR + 2 * k] = p.ptr;
      f[bf + F_PTR + 2 * k + 1] = p.bytes;
      const arg = p.arg;
      if (nc.args[k] !== arg) {
        nc.args[k] = arg;
        nc.argIds[k] = this.intern(arg);
      }
      i[bi + R_PTR_META + 2 * k] = nc.argIds[k];
      i[bi + R_PTR_META + 2 * k + 1] = (p.access === "r" ? 0 : p.access === "w" ? 1 : 2) | (p.elem << 2);
    }
    i[bi + R_NPTR] = np;
    return flags;
  }

  /** The scalar arguments of the record at word `bi`; FLAG_SCALAR_TRUNCATED when they do not all fit. */
  #writeScalars(bi: number, sc: Record<string, number>, nc: NameIds): number {
    const i = this.#i32, f = this.#f64;
    const bf = bi >> 1;
    let flags = 0;
    let ns = 0;
    for (const key in sc) {
      if (ns === MAX_SCALARS) {
        flags |= FLAG_SCALAR_TRUNCATED;
        break;
      }
      f[bf + F_SCALAR + ns] = sc[key];
      if (nc.keys[ns] !== key) {
        nc.keys[ns] = key;
        nc.keyIds[ns] = this.intern(key);
      }
      i[bi + R_SCALAR_NAME + ns] = nc.keyIds[ns];
      ns++;
    }
    i[bi + R_NSCALAR] = ns;
    return flags;
  }

  /** Writes the outcome of the record `seq` (status, end time, result). */
  done(seq: number, status: number, result?: number): void {
    if (seq <= this.#seq - this.capacity) return; // already overwritten
    const slot = (seq - 1) % this.capacity;
    const bi = (HEADER_BYTES + slot * RECORD_BYTES) >> 2;
    const bf = bi >> 1;
    const i = this.#i32, f = this.#f64;
    // an asynchronous enqueue returns at once: its end time is not worth a clock read
    const k = i[bi + R_KIND];
    f[bf + F_T_AFTER] = k === K_LAUNCH || k === K_EVENT_RECORD || k === K_EVENT_WAIT
      ? f[bf + F_T_BEFORE]
      : this.#now();
    i[bi + R_STATUS] = status;
    if (result !== undefined) {
      f[bf + F_RESULT] = result;
      i[bi + R_FLAGS] |= FLAG_RESULT;
    }
    i[bi + R_EV_DONE] = ++this.#events;
    i[bi + R_DONE] = seq; // commit: the outcome is whole
  }

  /** Marks the record `seq` as blocked by a guard rail (the call never ran). */
  blocked(seq: number): void {
    if (seq <= this.#seq - this.capacity) return;
    const slot = (seq - 1) % this.capacity;
    const bi = (HEADER_BYTES + slot * RECORD_BYTES) >> 2;
    this.#i32[bi + R_FLAGS] |= FLAG_BLOCKED;
    this.done(seq, STATUS_BLOCKED);
  }

  // ---- CallObserver ----

  // Calls in flight (before() seen, after() not yet), newest last. Synchronous calls nest;
  // nonblocking ones may finish in any order; a call blocked after before() never comes back
  // (blocked() drops it; past 64 entries the oldest is dropped).
  #push(id: number, seq: number): void {
    let d = this.#depth;
    if (d === 64) {
      this.#stackId.copyWithin(0, 1);
      this.#stackSeq.copyWithin(0, 1);
      d = 63;
    }
    this.#stackId[d] = id;
    this.#stackSeq[d] = seq;
    this.#depth = d + 1;
  }

  /** Removes call `id` from the in-flight entries; returns its sequence number, or 0. */
  #take(id: number): number {
    const ids = this.#stackId;
    for (let d = this.#depth - 1; d >= 0; d--) {
      if (ids[d] !== id) continue;
      const seq = this.#stackSeq[d];
      const last = this.#depth - 1;
      if (d !== last) {
        ids.copyWithin(d, d + 1, last + 1);
        this.#stackSeq.copyWithin(d, d + 1, last + 1);
      }
      this.#depth = last;
      return seq;
    }
    return 0;
  }

  before(call: NativeCall): void {
    if (this.#closed) return;
    this.#push(call.id, this.intent(call));
  }

  after(call: NativeCall, status: number, result?: number): void {
    if (this.#closed) return;
    const seq = this.#take(call.id);
    if (seq !== 0) this.done(seq, status, result);
    if (status !== 0) return;
    if (call.kind === "alloc" || call.kind === "host_alloc") this.#alloc(call, result);
    else if (call.kind === "free" || call.kind === "host_free") this.#free(call);
  }

  /** Marks the in-flight call `id` as blocked by a guard rail (it never ran) and forgets it. */
  blockedCall(id: number): void {
    const seq = this.#take(id);
    if (seq !== 0) this.blocked(seq);
  }

  #live = new Map<number, number>(); // base address -> allocation id

  #alloc(call: NativeCall, result?: number): void {
    const a = allocationOf(call, result);
    if (a === null) return;
    this.#live.set(a.base, a.id);
    this.noteAlloc(a);
  }

  #free(call: NativeCall): void {
    const ptr = call.scalars.ptr ?? call.host ?? (call.pointers.length > 0 ? call.pointers[0].ptr : 0);
    const id = this.#live.get(ptr);
    if (id === undefined) return;
    this.#live.delete(ptr);
    this.noteFree(id, call.id);
  }

  /** The sequence number of the in-flight record of call `id`, or 0. */
  seqOf(id: number): number {
    for (let d = this.#depth - 1; d >= 0; d--) {
      if (this.#stackId[d] === id) return this.#stackSeq[d];
    }
    return 0;
  }

  /** Unmaps the ring and closes the side file (the files stay). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#side.close();
    } catch { /* already closed */ }
    this.#native.fl_journal_unmap(BigInt(this.#addr), BigInt(this.bytes));
    this.#i32 = new Int32Array(0);
    this.#f64 = new Float64Array(0);
  }
}
