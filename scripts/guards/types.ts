/**
 * What a guard rail is: a small function an experiment can add, remove or
 * replace, run before every native call with the call and the runtime's
 * view of the device (allocation registry, race state, device limits).
 *
 *   const myRail: Rail = {
 *     name: "no_big_copies",
 *     mode: "warn",
 *     check(call) {
 *       return call.kind === "d2h" && call.scalars.bytes > 1 << 30
 *         ? [finding("no_big_copies", call, "D2H copies under 1 GiB", `${call.scalars.bytes} bytes`)]
 *         : NO_FINDINGS;
 *     },
 *   };
 *
 * Modes: "off" (not run), "warn" (findings are recorded and the call runs),
 * "enforce" (a finding blocks the call: GuardBlocked is thrown before the
 * native call, carrying the findings).
 */
import {
  type Allocation,
  describePointer,
  type NativeCall,
  type OnlineRaces,
  type PointerArg,
  type Registry,
} from "../../mod.ts";
import type { Finding } from "../../records.ts";

// The rails take Finding from here with the rest of the rail contract.
export type { Finding };

/** What a rail does with a finding: nothing (off), record it (warn), or block the call (enforce). */
export type RailMode = "off" | "warn" | "enforce";

/** Device limits the launch rail checks against (fl_device_props). */
export interface LaunchLimits {
  /** Most blocks per grid in x, y and z. */
  maxGrid: readonly [number, number, number];
  /** Most threads per block in x, y and z. */
  maxBlock: readonly [number, number, number];
  /** Most threads in one block. */
  maxThreadsPerBlock: number;
}

/** The limits of every NVIDIA GPU since sm_30 and of AMD CDNA (kernels/launch_config.h). */
export const DEFAULT_LIMITS: LaunchLimits = {
  maxGrid: [2147483647, 65535, 65535],
  maxBlock: [1024, 1024, 64],
  maxThreadsPerBlock: 1024,
};

/**
 * Counts declarations made at run time (invariants, launch geometry): an audit
 * session that runs its checks in a worker watches it, and runs them inline
 * from the first change on (the worker holds the declarations of its imports only).
 */
export const railDeclarations: { version: number } = { version: 0 };

/** What a rail sees besides the call. */
export interface GuardContext {
  /** The allocations pointers are resolved against. */
  registry: Registry;
  /**
   * The live allocation pointer argument k of `call` resolves to (its
   * redzones included), or null; resolved once per call for all the rails.
   * Without it, rails fall back to registry.lookup.
   */
  pointerAlloc?(call: NativeCall, k: number): Allocation | null;
  /** The same for every pointer argument at once, by position (read it before the next call). */
  pointerAllocs?(call: NativeCall): readonly (Allocation | null)[];
  /**
   * Whether the call's scalars equal those of the previous launch of the same
   * kernel; computed once per call and shared by the scalar-only rails.
   */
  repeats?(call: NativeCall): boolean;

  /** Online race state (the race rail uses it). */
  races?: OnlineRaces;
  /** The device's launch limits. */
  limits: LaunchLimits;
  /** The model's context length, for position checks (RoPE, KV cache). */
  contextLength?: number;
}

/** A guard rail: one rule checked before every native call. */
export interface Rail {
  /** The rail's name, as findings and reports show it. */
  readonly name: string;
  /** What it does with a finding. */
  mode: RailMode;
  /**
   * Runs before the native call. Returns NO_FINDINGS (or []) when all is well.
   * It keeps nothing of `call` by reference (findings copy its fields): the
   * runtime reuses call objects for later calls.
   */
  check(call: NativeCall, ctx: GuardContext): readonly Finding[];
  /**
   * A promise that the rail finds nothing when every pointer argument is
   * clean (pointersClean below): the session then skips it for such calls,
   * which checks all of them in one pass instead of one pass per rail.
   */
  readonly quietWhenPointersClean?: boolean;
}

/**
 * Every pointer argument of `call` non-null, inside a live allocation (from
 * its start, offset + bytes within its size) and aligned to its element.
 */
export function pointersClean(call: NativeCall, ctx: GuardContext): boolean {
  const ps = call.pointers;
  const res = ctx.pointerAllocs?.(call);
  for (let k = 0; k < ps.length; k++) {
    const p = ps[k];
    if (p.ptr === 0) return false;
    const a = res !== undefined ? res[k] : allocOf(ctx, call, k);
    if (a === null) return false;
    const off = p.ptr - a.ptr;
    if (off < 0 || off + p.bytes > a.bytes) return false;
    if (p.elem > 1 && p.ptr % p.elem !== 0) return false;
  }
  return true;
}

/** The live allocation holding pointer argument k of `call` (shared per call when the context memoizes it). */
export function allocOf(ctx: GuardContext, call: NativeCall, k: number): Allocation | null {
  return ctx.pointerAlloc !== undefined
    ? ctx.pointerAlloc(call, k)
    : ctx.registry.lookup(call.pointers[k].ptr);
}

/** The shared empty result (returning it allocates nothing). */
export const NO_FINDINGS: readonly Finding[] = Object.freeze([]);

/** Thrown before a native call that a rail in enforce mode found wrong. */
export class GuardBlocked extends Error {
  /** What the rails found. */
  readonly findings: readonly Finding[];
  /** The call that was blocked. */
  readonly call: NativeCall;
  /** The error for a blocked `call`; the first finding makes the message. */
  constructor(call: NativeCall, findings: readonly Finding[]) {
    const f = findings[0];
    super(
      `blocked ${call.kind} ${call.name} (op ${call.id}) by rail ${f.rail}: ${f.invariant}: ${f.detail}` +
        (findings.length > 1 ? ` (+${findings.length - 1} more)` : ""),
    );
    this.name = "GuardBlocked";
    this.findings = findings;
    this.call = call;
  }
}

/** A finding about `call`, with its place in the workload copied in. */
export function finding(
  rail: string,
  call: NativeCall,
  invariant: string,
  detail: string,
  extra: Partial<Finding> = {},
): Finding {
  const f: Finding = { rail, op: call.id, kind: call.kind, name: call.name, invariant, detail };
  const c = call.context;
  if (c.step !== undefined) f.step = c.step;
  if (c.layer !== undefined) f.layer = c.layer;
  if (c.op !== undefined) f.label = c.op;
  return Object.assign(f, extra);
}

/** The `allocation` field of a finding for pointer `p` resolved to `a` (or null). */
export function allocationField(p: PointerArg, a: Allocation | null): Finding["allocation"] {
  if (a === null) return null;
  const r = describePointer(a, p.ptr);
  return { id: a.id, name: a.name, offset: r.offset, bytes: p.bytes, size: a.bytes, state: a.state };
}

/** A finding about pointer argument `p` of `call`. */
export function pointerFinding(
  rail: string,
  call: NativeCall,
  p: PointerArg,
  a: Allocation | null,
  invariant: string,
  detail: string,
): Finding {
  return finding(rail, call, invariant, detail, {
    argument: p.arg,
    ptr: p.ptr,
    allocation: allocationField(p, a),
  });
}

/**
 * A rail that judges each pointer argument on its own: `inspect` returns the finding about pointer
 * `k` of the call, or null when it is fine. `kinds` limits it to calls of those kinds. It finds
 * nothing when every pointer is clean (quietWhenPointersClean) unless `cleanMayFail`: its rule is
 * one pointersClean does not check.
 */
export function pointerRail(
  name: string,
  mode: RailMode,
  inspect: (call: NativeCall, p: PointerArg, k: number, ctx: GuardContext) => Finding | null,
  opts: { kinds?: ReadonlySet<string>; cleanMayFail?: boolean } = {},
): Rail {
  const kinds = opts.kinds;
  return {
    name,
    mode,
    quietWhenPointersClean: !opts.cleanMayFail,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      if (kinds !== undefined && !kinds.has(call.kind)) return NO_FINDINGS;
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const f = inspect(call, ps[k], k, ctx);
        if (f !== null) (out ??= []).push(f);
      }
      return out ?? NO_FINDINGS;
    },
  };
}

/** `0x`-prefixed hexadecimal, for addresses in findings. */
export const hex = (n: number): string => `0x${n.toString(16)}`;
