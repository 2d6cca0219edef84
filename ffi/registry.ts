/**
 * The allocation registry: every device (and pinned host) allocation with its
 * name, size, alignment, redzones and state (live or freed). Freed ranges are
 * kept, so that a pointer into one is diagnosed as a use after free; any
 * address resolves to (allocation, offset).
 *
 * Resolution is the hot path (every pointer argument of every call in audit
 * mode): a direct-mapped cache of recent hits, then a binary search over the live allocations
 * sorted by base address. Nothing is allocated per lookup.
 *
 * Allocation ids are the op ids of the alloc calls that made them, so the
 * registry rebuilt from a journal after a crash gives the same ids.
 */
import type { CallObserver, NativeCall } from "./boundary.ts";
import { allocationOf } from "./journal_native.ts";
import type { AllocationInfo, AllocationState, Placement } from "../records.ts";

/** An allocation the registry knows, live or freed. */
export interface Allocation extends AllocationInfo {
  /** Live, or freed (and kept for use-after-free diagnosis). */
  state: AllocationState;
  /** Op id of the free call, once freed. */
  freedAt: number;
  /** base + allocBytes (at least base + 1): the end of what resolves to this allocation. */
  end: number;
  /** The race check's access history of this allocation (ffi/races.ts), null until it has one. */
  raceHistory: unknown;
}

/** A pointer resolved for a finding or a journal record. */
export interface ResolvedPointer {
  /** The allocation id. */
  id: number;
  /** The allocation's name. */
  name: string;
  /** Offset of the address from the allocation's start (the caller's address); negative in a leading redzone. */
  offset: number;
  /** Size of the allocation (as asked for). */
  size: number;
  /** Whether the allocation is live or freed. */
  state: AllocationState;
  /** Where the address falls: inside, in a redzone, or outside. */
  placement: Placement;
}

/** Options of a Registry. */
export interface RegistryOptions {
  /** Freed allocations kept for use-after-free diagnosis (oldest dropped first). Default 65536. */
  keepFreed?: number;
}

const CACHE_SLOTS = 4096; // 2^12: slotOf keeps a hash's top 12 bits
/**
 * The cache slot of an address: a multiplicative hash of its 256-byte granule (ToInt32 keeps the
 * granule's low 32 bits), so that allocations aligned to large powers of two spread over the slots.
 */
const slotOf = (ptr: number) => Math.imul((ptr / 256) | 0, 0x9e3779b1) >>> 20;

/** The allocations of a process (live, and recently freed), by address: what every pointer argument is resolved against. */
export class Registry {
  // live allocations sorted by base address, in parallel arrays
  #bases: number[] = [];
  #ends: number[] = [];
  #live: Allocation[] = [];
  #freed: Allocation[] = [];
  #byId = new Map<number, Allocation>();
  // a direct-mapped cache of hits, by the address's 256-byte granule: a decode step touches a few
  // hundred allocations, always the same ones, so after the first step nearly every lookup hits
  #cache: (Allocation | null)[] = new Array<Allocation | null>(CACHE_SLOTS).fill(null);
  #keepFreed: number;

  /** An empty registry. */
  constructor(opts: RegistryOptions = {}) {
    this.#keepFreed = opts.keepFreed ?? 65536;
  }

  /** Number of live allocations. */
  get size(): number {
    return this.#live.length;
  }

  /** Live allocations in address order. */
  live(): readonly Allocation[] {
    return this.#live;
  }

  /** Freed allocations kept, oldest first. */
  freed(): readonly Allocation[] {
    return this.#freed;
  }

  /** The allocation with op id `id`, live or kept freed. */
  byId(id: number): Allocation | undefined {
    return this.#byId.get(id);
  }

  /** Registers an allocation; a live one overlapping it (a missed free) is retired as freed. */
  add(info: AllocationInfo): Allocation {
    const end = info.base + Math.max(info.allocBytes, 1);
    const a: Allocation = { ...info, state: "live", freedAt: 0, end, raceHistory: null };
    // retire stale live entries overlapping the new range (the backend reused it)
    for (;;) {
      const k = this.#find(a.base, end);
      if (k < 0) break;
      this.#retire(k, a.id);
    }
    let lo = 0, hi = this.#bases.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#bases[mid] < a.base) lo = mid + 1;
      else hi = mid;
    }
    this.#bases.splice(lo, 0, a.base);
    this.#ends.splice(lo, 0, end);
    this.#live.splice(lo, 0, a);
    this.#byId.set(a.id, a);
    return a;
  }

  /** Marks the live allocation whose caller address (or base) is `ptr` as freed by op `op`. */
  free(ptr: number, op: number): Allocation | undefined {
    const k = this.#indexOf(ptr);
    if (k < 0) return undefined;
    const a = this.#live[k];
    if (a.ptr !== ptr && a.base !== ptr) return undefined;
    this.#retire(k, op);
    return a;
  }

  #retire(k: number, op: number): void {
    const a = this.#live[k];
    this.#bases.splice(k, 1);
    this.#ends.splice(k, 1);
    this.#live.splice(k, 1);
    a.state = "freed";
    a.freedAt = op;
    this.#freed.push(a);
    if (this.#freed.length > this.#keepFreed) {
      const old = this.#freed.splice(0, this.#freed.length - this.#keepFreed);
      for (const o of old) this.#byId.delete(o.id);
    }
  }

  /** Index of a live allocation overlapping [lo, hi), or -1. */
  #find(lo: number, hi: number): number {
    const k = this.#indexOf(lo);
    if (k >= 0) return k;
    // first base >= lo
    let a = 0, b = this.#bases.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.#bases[mid] < lo) a = mid + 1;
      else b = mid;
    }
    return a < this.#bases.length && this.#bases[a] < hi ? a : -1;
  }

  /** Index of the live allocation with the highest base at or below `ptr`, or -1. */
  #below(ptr: number): number {
    const bases = this.#bases;
    let lo = 0, hi = bases.length - 1, k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (bases[mid] <= ptr) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return k;
  }

  /** Index of the live allocation whose [base, base + allocBytes) holds `ptr`, or -1. */
  #indexOf(ptr: number): number {
    const k = this.#below(ptr);
    return k >= 0 && ptr < this.#ends[k] ? k : -1;
  }

  /**
   * The live allocation holding `ptr` (its redzones included), or null.
   * The hot path: no allocation, a direct-mapped cache before the binary search.
   */
  lookup(ptr: number): Allocation | null {
    const slot = slotOf(ptr);
    const c = this.#cache[slot];
    // a slot may still hold an allocation freed since: it no longer counts
    if (c !== null && ptr >= c.base && ptr < c.end && c.state === "live") return c;
    const k = this.#indexOf(ptr);
    if (k < 0) return null;
    const a = this.#live[k];
    this.#cache[slot] = a;
    return a;
  }

  /** The most recently freed allocation that held `ptr`, or null (slow path: misses only). */
  lookupFreed(ptr: number): Allocation | null {
    const f = this.#freed;
    for (let k = f.length - 1; k >= 0; k--) {
      const a = f[k];
      if (ptr >= a.base && ptr < a.end) return a;
    }
    return null;
  }

  /** The live allocation nearest below `ptr` (for "outside every allocation" findings), or null. */
  nearestBelow(ptr: number): Allocation | null {
    const k = this.#below(ptr);
    return k >= 0 ? this.#live[k] : null;
  }

  /** Resolves `ptr` to (allocation, offset): live first, then freed; null when it is in neither. */
  resolve(ptr: number): ResolvedPointer | null {
    const a = this.lookup(ptr) ?? this.lookupFreed(ptr);
    return a === null ? null : describe(a, ptr);
  }

  /** A CallObserver that keeps the registry in step with alloc and free calls. */
  observer(): CallObserver {
    return {
      after: (call: NativeCall, status: number, result?: number) => {
        if (call.kind === "alloc" || call.kind === "host_alloc") {
          if (status !== 0) return;
          const info = allocationOf(call, result);
          if (info !== null) this.add(info);
        } else if (call.kind === "free" || call.kind === "host_free") {
          if (status === 0) this.free(freedPointer(call), call.id);
        }
      },
    };
  }
}

/** The address a free call releases. */
export function freedPointer(call: NativeCall): number {
  return call.scalars.ptr ?? call.host ?? (call.pointers.length > 0 ? call.pointers[0].ptr : 0);
}

/** The (allocation, offset) description of `ptr` against `a`. */
export function describe(a: Allocation, ptr: number): ResolvedPointer {
  const offset = ptr - a.ptr;
  const placement: Placement = offset < 0
    ? (ptr >= a.base ? "redzone_before" : "outside")
    : offset < a.bytes
    ? "inside"
    : (ptr < a.base + a.allocBytes ? "redzone_after" : "outside");
  return { id: a.id, name: a.name, offset, size: a.bytes, state: a.state, placement };
}

/**
 * The allocations each pointer argument of a call resolves to, looked up once
 * per call and shared by everything that checks that call (rails, race check).
 */
export class CallResolution {
  /** The allocations the pointers are resolved against. */
  readonly registry: Registry;
  #id = -1;
  #res: (Allocation | null)[] = new Array<Allocation | null>(16).fill(null);

  /** A resolution over `registry`. */
  constructor(registry: Registry) {
    this.registry = registry;
  }

  /** The live allocation of each pointer argument of `call` (by position), or null. */
  of(call: NativeCall): (Allocation | null)[] {
    let r = this.#res;
    if (this.#id === call.id) return r;
    const ps = call.pointers;
    if (ps.length > r.length) r = this.#res = new Array<Allocation | null>(ps.length * 2).fill(null);
    for (let k = 0; k < ps.length; k++) r[k] = this.registry.lookup(ps[k].ptr);
    this.#id = call.id;
    return r;
  }

  /** Forgets the memo (the registry changed under the same call id). */
  reset(): void {
    this.#id = -1;
  }
}
