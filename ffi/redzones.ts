/**
 * Redzones: guard bytes around device allocations (Device.malloc({redzone})),
 * filled with a pattern when the allocation is made and checked later, so a
 * silent out-of-bounds write (one that lands inside mapped memory and never
 * faults) is found, with the allocation it hit and the window of ops since
 * that allocation's last clean check.
 *
 * Mechanism only: when to check is policy (scripts/guards/redzone.ts). The
 * fills and checks use the raw native functions, so they are not journaled
 * and the guard rails never see them.
 *
 * Cost: a check is one kernel on the device (fl_launch_redzone_check,
 * kernels/redzone.hip) over every guard range it covers, which writes one
 * result per range (the first byte that is not the pattern, or -1); the host
 * uploads the ranges and downloads the results with one copy each, on the
 * default stream, and waits once. Only a damaged range is downloaded whole,
 * to describe the damage. `dirtyOnly` checks only the trailing redzones of
 * allocations written since their last clean check (an overrun past the end
 * is what hits first); a full check covers both redzones of every allocation.
 */
import type { CallObserver, NativeCall } from "./boundary.ts";
import { hostDeviceId } from "./call.ts";
import type { NativeSymbols } from "./symbols.ts";
import type { Allocation, Registry } from "./registry.ts";

/** The byte redzones are filled with (0xa5), unlikely to be written by a kernel's own data. */
export const REDZONE_PATTERN = 0xa5;

/** A write to an allocation since its last clean check. */
export interface RedzoneWriter {
  /** The writing op's id. */
  op: number;
  /** What the op did (launch, h2d, d2d, memset). */
  kind: string;
  /** Kernel or tensor name. */
  name: string;
  /** The argument it wrote through. */
  arg: string;
  /** The declared extent of the write: offset of the pointer from the allocation's start, and bytes from there. */
  offset: number;
  /** Bytes the write declares from that offset on. */
  bytes: number;
  /** The stream it was enqueued on. */
  stream: number;
  /** The workload's step of the op. */
  step: number | null;
  /** The model layer of the op. */
  layer: number | null;
}

/** A redzone found overwritten: which allocation, which side, which bytes, and the writes that may have done it. */
export interface RedzoneViolation {
  /** The allocation whose redzone was damaged. */
  alloc: { id: number; name: string; ptr: number; bytes: number; redzone: number };
  /** The redzone before the allocation or after its end. */
  side: "before" | "after";
  /** First and last overwritten byte, as offsets from the allocation's start (negative: before it). */
  firstBad: number;
  /** Last overwritten byte, as an offset from the allocation's start. */
  lastBad: number;
  /** Overwritten bytes in that redzone. */
  badBytes: number;
  /** The values found at the first overwritten bytes (up to 16). */
  found: number[];
  /** Ops since the last clean check of this allocation: (fromOp, toOp]. */
  window: { fromOp: number; toOp: number };
  /** Writes to this allocation in the window (the likely culprits), oldest first. */
  writers: RedzoneWriter[];
}

/** What one redzone check found. */
export interface RedzoneCheckResult {
  /** Allocations checked and bytes downloaded. */
  checked: number;
  /** Bytes downloaded to compare. */
  bytes: number;
  /** Redzones found overwritten. */
  violations: RedzoneViolation[];
  /** Non-zero when a native copy failed (e.g. 700 on a poisoned context): nothing was compared. */
  status: number;
}

interface Tracked {
  a: Allocation;
  lastClean: number;
  dirty: boolean;
  writers: RedzoneWriter[];
}

/** Options of the redzone checks. */
export interface RedzoneOptions {
  /** The fill byte (default REDZONE_PATTERN). */
  pattern?: number;
  /** Writers kept per allocation between checks (oldest dropped). Default 64. */
  keepWriters?: number;
}

/** The raw native functions the checks use (addresses as numbers; the library takes u64). */
interface RawOps {
  fl_memset_async(dev: number, dst: number, value: number, bytes: number, stream: number): number;
  fl_memcpy_async(dev: number, dst: number, src: number, bytes: number, kind: number, stream: number): number;
  fl_stream_synchronize(dev: number, stream: number): number;
  fl_host_malloc(dev: number, bytes: bigint, out: BigUint64Array): number;
  fl_host_free(dev: number, ptr: number): number;
  fl_malloc(dev: number, bytes: bigint, out: BigUint64Array): number;
  fl_free(dev: number, ptr: bigint): number;
  fl_launch_redzone_check(
    dev: number,
    stream: bigint,
    table: bigint,
    n: number,
    pattern: number,
    out: bigint,
  ): number;
}

/** Bytes per range: the table's {address, bytes} (16) and its result (8). */
const RANGE_TABLE_BYTES = 16, RANGE_RESULT_BYTES = 8;

/** A check enqueued and not collected yet: its ranges and the windows it closed. */
interface Pending {
  op: number;
  n: number;
  tableBytes: number;
  total: number;
  list: Tracked[];
  windows: { lastClean: number; writers: RedzoneWriter[] }[];
  rangeOf: Tracked[];
  rangeBefore: boolean[];
}

function merge(a: RedzoneCheckResult, b: RedzoneCheckResult): RedzoneCheckResult {
  return {
    checked: a.checked + b.checked,
    bytes: a.bytes + b.bytes,
    violations: [...a.violations, ...b.violations],
    status: a.status !== 0 ? a.status : b.status,
  };
}

const isWrite = (k: string) => k === "launch" || k === "h2d" || k === "d2d" || k === "memset" || k === "p2p";

/** Redzones of one device's allocations: filled at allocation, checked after writes, each damage put on the writes that may have made it. */
export class Redzones {
  /** The fill byte. */
  readonly pattern: number;
  #sym: RawOps;
  #dev: number;
  /** The device's host id: what its allocations and calls name (ffi/call.ts). */
  #id: number;
  #registry: Registry;
  #tracked = new Map<number, Tracked>(); // alloc id
  #dirty: Tracked[] = [];
  #staging = 0;
  #stagingBytes = 0;
  #stagingView: Uint8Array = new Uint8Array(0);
  #stagingU32: Uint32Array = new Uint32Array(0);
  #stagingI32: Int32Array = new Int32Array(0);
  // device memory of the check: the range table, then the results
  #dtable = 0;
  #dtableRanges = 0;
  // the ranges of the check being made: their allocation and side (reused between checks)
  #rangeOf: Tracked[] = [];
  #rangeBefore: boolean[] = [];
  #keepWriters: number;
  #lastOp = 0;
  #pending: Pending | null = null;
  #carried: RedzoneCheckResult | null = null;
  #u64 = new BigUint64Array(1);

  /** Checks the redzones of `device`'s allocations the registry knows. */
  constructor(
    device: { symbols: NativeSymbols; ordinal: number },
    registry: Registry,
    opts: RedzoneOptions = {},
  ) {
    this.#sym = device.symbols as unknown as RawOps;
    this.#dev = device.ordinal;
    this.#id = hostDeviceId(device.ordinal);
    this.#registry = registry;
    this.pattern = (opts.pattern ?? REDZONE_PATTERN) & 0xff;
    this.#keepWriters = opts.keepWriters ?? 64;
  }

  /** Allocations with redzones being tracked. */
  get tracked(): number {
    return this.#tracked.size;
  }

  /** Fills the redzones of a new allocation (async, default stream) and starts tracking it. */
  track(a: Allocation, op: number): number {
    if (a.redzone <= 0 || a.host || a.device !== this.#id) return 0;
    const s = this.#sym;
    let st = s.fl_memset_async(this.#dev, a.base, this.pattern, a.redzone, 0);
    const tail = a.ptr + a.bytes;
    const tailBytes = a.base + a.allocBytes - tail;
    if (st === 0 && tailBytes > 0) st = s.fl_memset_async(this.#dev, tail, this.pattern, tailBytes, 0);
    if (st !== 0) return st;
    this.#tracked.set(a.id, { a, lastClean: op, dirty: false, writers: [] });
    return 0;
  }

  /** Stops tracking an allocation (it was freed). */
  untrack(id: number): void {
    const t = this.#tracked.get(id);
    if (t === undefined) return;
    this.#tracked.delete(id);
    t.dirty = false;
  }

  /** Notes the writes of a call (after it was enqueued). */
  noteCall(call: NativeCall): void {
    this.#lastOp = call.id;
    if (!isWrite(call.kind)) return;
    const ps = call.pointers;
    for (let k = 0; k < ps.length; k++) {
      const p = ps[k];
      if (p.access === "r") continue;
      const a = this.#registry.lookup(p.ptr);
      if (a === null || a.redzone === 0) continue;
      const t = this.#tracked.get(a.id);
      if (t === undefined) continue;
      if (!t.dirty) {
        t.dirty = true;
        this.#dirty.push(t);
      }
      if (t.writers.length >= this.#keepWriters) t.writers.shift();
      t.writers.push({
        op: call.id,
        kind: call.kind,
        name: call.name,
        arg: p.arg,
        offset: p.ptr - a.ptr,
        bytes: p.bytes,
        stream: call.stream,
        step: call.context.step ?? null,
        layer: call.context.layer ?? null,
      });
    }
  }

  /**
   * After a call that wrote a tracked allocation: waits for the call's stream (raw, not journaled) and
   * checks the trailing redzones written since their last clean check, so that a violation's window holds
   * that call alone. Null when the call wrote no tracked allocation.
   */
  checkAfterWrite(call: NativeCall): RedzoneCheckResult | null {
    if (!isWrite(call.kind) || this.#dirty.length === 0 || call.device !== this.#id) return null;
    const st = this.#sym.fl_stream_synchronize(this.#dev, call.stream);
    if (st !== 0) return { checked: 0, bytes: 0, violations: [], status: st };
    return this.check({ dirtyOnly: true, op: call.id });
  }

  /** Keeps the tracking in step with allocs, frees and writes (attach after the registry's observer). */
  observer(): CallObserver {
    return {
      // a pending check reads its allocations' redzones: collect it before one is freed
      before: (call: NativeCall) => {
        if (call.kind === "free" && this.#pending !== null) {
          const r = this.collect();
          if (r !== null) this.#carried = r;
        }
      },
      after: (call: NativeCall, status: number, result?: number) => {
        if (status !== 0) return;
        if (call.kind === "alloc") {
          if ((call.scalars.redzone ?? 0) > 0 && result !== undefined) {
            const a = this.#registry.lookup(result);
            if (a !== null && a.id === call.id) this.track(a, call.id);
          }
        } else if (call.kind === "free") {
          const base = call.scalars.ptr ?? 0;
          const a = this.#registry.lookup(base) ?? this.#registry.lookupFreed(base);
          if (a !== null) this.untrack(a.id);
        } else this.noteCall(call);
      },
    };
  }

  #ensureStaging(bytes: number): number {
    if (bytes <= this.#stagingBytes) return 0;
    const s = this.#sym;
    if (this.#staging !== 0) s.fl_host_free(this.#dev, this.#staging);
    const size = Math.max(bytes, this.#stagingBytes * 2, 1 << 16);
    const st = s.fl_host_malloc(this.#dev, BigInt(size), this.#u64);
    if (st !== 0) {
      this.#staging = 0;
      this.#stagingBytes = 0;
      return st;
    }
    this.#staging = Number(this.#u64[0]);
    this.#stagingBytes = size;
    const ab = Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(this.#u64[0])!, size);
    this.#stagingView = new Uint8Array(ab);
    this.#stagingU32 = new Uint32Array(ab, 0, size >> 2);
    this.#stagingI32 = new Int32Array(ab, 0, size >> 2);
    return 0;
  }

  /** Device memory for the table and results of `ranges` ranges. */
  #ensureDevice(ranges: number): number {
    if (ranges <= this.#dtableRanges) return 0;
    const s = this.#sym;
    const n = Math.max(ranges, this.#dtableRanges * 2, 256);
    if (this.#dtable !== 0) s.fl_free(this.#dev, BigInt(this.#dtable));
    this.#dtable = 0;
    this.#dtableRanges = 0;
    const st = s.fl_malloc(this.#dev, BigInt(n * (RANGE_TABLE_BYTES + RANGE_RESULT_BYTES)), this.#u64);
    if (st !== 0) return st;
    this.#dtable = Number(this.#u64[0]);
    this.#dtableRanges = n;
    return 0;
  }

  /** Adds range k (address, bytes) to the staged table. */
  #stageRange(k: number, addr: number, bytes: number, t: Tracked, before: boolean): void {
    const u = this.#stagingU32;
    const w = k * 4;
    u[w] = addr % 0x100000000;
    u[w + 1] = Math.floor(addr / 0x100000000);
    u[w + 2] = bytes % 0x100000000;
    u[w + 3] = Math.floor(bytes / 0x100000000);
    this.#rangeOf[k] = t;
    this.#rangeBefore[k] = before;
  }

  /**
   * Checks redzones now. `dirtyOnly`: the trailing redzones of allocations
   * written since their last clean check; otherwise both redzones of every
   * tracked allocation. `op` closes the window (default: the last op seen).
   * Call it where the writers' streams are known to be done (after a sync).
   * A check still pending (enqueue) is collected first; its violations come
   * first in the result.
   */
  check(opts: { dirtyOnly?: boolean; op?: number } = {}): RedzoneCheckResult {
    const prev = this.collect();
    const st = this.enqueue(opts);
    const cur = st !== 0 ? { checked: 0, bytes: 0, violations: [], status: st } : this.collect() ??
      { checked: 0, bytes: 0, violations: [], status: 0 };
    if (prev === null) return cur;
    return {
      checked: prev.checked + cur.checked,
      bytes: prev.bytes + cur.bytes,
      violations: [...prev.violations, ...cur.violations],
      status: prev.status !== 0 ? prev.status : cur.status,
    };
  }

  /** Whether a check was enqueued and not collected yet. */
  get pending(): boolean {
    return this.#pending !== null || this.#carried !== null;
  }

  /**
   * Enqueues a check (the same ranges and window as check()) without waiting:
   * the table upload, the check kernel and the copy of its results into
   * pinned memory go on the default stream, and collect() reads them later
   * (at the next sync point). The allocations' windows close at `op` now: a
   * write after it belongs to the next check. A check still pending is
   * collected first (its result is kept for the next collect()).
   */
  enqueue(opts: { dirtyOnly?: boolean; op?: number } = {}): number {
    if (this.#pending !== null) {
      const r = this.collect();
      if (r !== null) this.#carried = this.#carried === null ? r : merge(this.#carried, r);
    }
    const op = opts.op ?? this.#lastOp;
    const list: Tracked[] = opts.dirtyOnly ? this.#dirty : [...this.#tracked.values()];
    const both = !opts.dirtyOnly;
    if (list.length === 0) return 0;
    // the ranges: (leading redzone,) trailing redzone of each allocation, in list order
    const maxRanges = both ? 2 * list.length : list.length;
    let st = this.#ensureStaging(maxRanges * (RANGE_TABLE_BYTES + RANGE_RESULT_BYTES));
    if (st === 0) st = this.#ensureDevice(maxRanges);
    if (st !== 0) return st;
    let n = 0, total = 0;
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      const a = t.a;
      if (both && a.redzone > 0) {
        this.#stageRange(n++, a.base, a.redzone, t, true);
        total += a.redzone;
      }
      const tail = a.ptr + a.bytes;
      const tailBytes = a.base + a.allocBytes - tail;
      if (tailBytes > 0) {
        this.#stageRange(n++, tail, tailBytes, t, false);
        total += tailBytes;
      }
    }
    const s = this.#sym;
    const dev = this.#dev;
    const tableBytes = n * RANGE_TABLE_BYTES;
    const results = this.#dtable + this.#dtableRanges * RANGE_TABLE_BYTES;
    const hostResults = this.#staging + tableBytes;
    if (n > 0) {
      st = s.fl_memcpy_async(dev, this.#dtable, this.#staging, tableBytes, 1, 0);
      if (st === 0) {
        st = s.fl_launch_redzone_check(dev, 0n, BigInt(this.#dtable), n, this.pattern, BigInt(results));
      }
      if (st === 0) st = s.fl_memcpy_async(dev, hostResults, results, n * RANGE_RESULT_BYTES, 2, 0);
      if (st !== 0) return st;
    }
    // the windows close here: each allocation's writers so far go with this check
    const windows: { lastClean: number; writers: RedzoneWriter[] }[] = [];
    for (const t of list) {
      windows.push({ lastClean: t.lastClean, writers: t.writers });
      t.dirty = false;
      t.lastClean = op;
      t.writers = [];
    }
    this.#dirty = this.#dirty.filter((t) => t.dirty);
    this.#pending = {
      op,
      n,
      tableBytes,
      total,
      list: list.slice(),
      windows,
      rangeOf: this.#rangeOf.slice(0, n),
      rangeBefore: this.#rangeBefore.slice(0, n),
    };
    return 0;
  }

  /**
   * Waits for the pending check (usually done by then: it was enqueued at an
   * earlier sync point) and describes what it found; null when none is
   * pending and none was carried.
   */
  collect(): RedzoneCheckResult | null {
    const carried = this.#carried;
    this.#carried = null;
    const p = this.#pending;
    if (p === null) return carried;
    this.#pending = null;
    const r = this.#resolve(p);
    return carried === null ? r : merge(carried, r);
  }

  #resolve(p: Pending): RedzoneCheckResult {
    const s = this.#sym;
    const dev = this.#dev;
    const { n, tableBytes, op } = p;
    let st = n > 0 ? s.fl_stream_synchronize(dev, 0) : 0;
    if (st !== 0) return { checked: 0, bytes: 0, violations: [], status: st };
    const windowOf = new Map<Tracked, { lastClean: number; writers: RedzoneWriter[] }>();
    for (let i = 0; i < p.list.length; i++) windowOf.set(p.list[i], p.windows[i]);
    const violations: RedzoneViolation[] = [];
    const res = this.#stagingI32;
    const r0 = tableBytes >> 2;
    let bad: number[] | null = null;
    for (let k = 0; k < n; k++) {
      if (res[r0 + 2 * k + 1] < 0) continue; // -1: the whole range holds the pattern
      (bad ??= []).push(k);
    }
    if (bad !== null) {
      // describe each damaged range from its bytes (the rest of the staging buffer is free now)
      const ranges = bad.map((k) => ({ t: p.rangeOf[k], before: p.rangeBefore[k] }));
      for (const { t, before } of ranges) {
        if (!this.#tracked.has(t.a.id)) continue; // freed since: collect() before a free to keep it
        const a = t.a;
        const addr = before ? a.base : a.ptr + a.bytes;
        const len = before ? a.redzone : a.base + a.allocBytes - addr;
        st = this.#ensureStaging(len);
        if (st === 0) st = s.fl_memcpy_async(dev, this.#staging, addr, len, 2, 0);
        if (st === 0) st = s.fl_stream_synchronize(dev, 0);
        if (st !== 0) return { checked: 0, bytes: 0, violations: [], status: st };
        const v = scan(this.#stagingView, 0, len, this.pattern);
        if (v === null) continue;
        const w = windowOf.get(t)!;
        violations.push(
          before
            ? this.#violation(t, w, "before", -a.redzone + v.first, -a.redzone + v.last, v, op)
            : this.#violation(t, w, "after", a.bytes + v.first, a.bytes + v.last, v, op),
        );
      }
    }
    // a damaged redzone is restored so later overruns are seen as new ones
    for (const v of violations) this.#refill(v);
    return { checked: p.list.length, bytes: p.total, violations, status: 0 };
  }

  #violation(
    t: Tracked,
    w: { lastClean: number; writers: RedzoneWriter[] },
    side: "before" | "after",
    firstBad: number,
    lastBad: number,
    v: { count: number; found: number[] },
    op: number,
  ): RedzoneViolation {
    const a = t.a;
    const res: RedzoneViolation = {
      alloc: { id: a.id, name: a.name, ptr: a.ptr, bytes: a.bytes, redzone: a.redzone },
      side,
      firstBad,
      lastBad,
      badBytes: v.count,
      found: v.found,
      window: { fromOp: w.lastClean, toOp: op },
      writers: w.writers.slice(),
    };
    return res;
  }

  #refill(v: RedzoneViolation): void {
    const t = this.#tracked.get(v.alloc.id);
    if (t === undefined) return;
    const a = t.a;
    if (v.side === "before") this.#sym.fl_memset_async(this.#dev, a.base, this.pattern, a.redzone, 0);
    else {
      const tail = a.ptr + a.bytes;
      this.#sym.fl_memset_async(this.#dev, tail, this.pattern, a.base + a.allocBytes - tail, 0);
    }
  }

  /** Frees the staging buffer (a pending check is dropped: collect() it first). */
  close(): void {
    this.#pending = null;
    this.#carried = null;
    if (this.#staging !== 0) this.#sym.fl_host_free(this.#dev, this.#staging);
    if (this.#dtable !== 0) this.#sym.fl_free(this.#dev, BigInt(this.#dtable));
    this.#staging = 0;
    this.#stagingBytes = 0;
    this.#stagingView = new Uint8Array(0);
    this.#stagingU32 = new Uint32Array(0);
    this.#stagingI32 = new Int32Array(0);
    this.#dtable = 0;
    this.#dtableRanges = 0;
  }
}

function scan(
  view: Uint8Array,
  off: number,
  n: number,
  pat: number,
): { first: number; last: number; count: number; found: number[] } | null {
  let first = -1, last = -1, count = 0;
  const found: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = view[off + i];
    if (b === pat) continue;
    if (first < 0) first = i;
    last = i;
    count++;
    if (found.length < 16) found.push(b);
  }
  return first < 0 ? null : { first, last, count, found };
}
