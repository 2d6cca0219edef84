/**
 * Redzone policy: when to check the guard bytes around allocations made with
 * redzones (ffi/redzones.ts), and how a damaged redzone becomes a finding.
 *
 * Default: at every host synchronization point (stream / device / event
 * synchronize, a synchronous copy or memset), check the trailing redzones of
 * the allocations written since their last clean check; every `fullEvery`-th
 * check (and on demand, and when the session closes) check both redzones of
 * every allocation. In enforce mode a damaged redzone throws RedzoneDamaged at
 * the sync that found it (the write itself cannot be blocked: it already ran).
 *
 * Pipelined (the default in warn mode): at a sync point the check is enqueued
 * (check kernel, results copied into pinned memory) and not waited for; its
 * result is read at the next sync point, when a check is asked for, or when
 * the session's findings are read or it closes. The findings are the same
 * (same window, same op that detected them); only the host no longer waits
 * for the check at the sync that enqueued it. Enforce mode checks and waits at
 * the sync itself.
 */
import {
  isSynchronous,
  type NativeCall,
  type RedzoneCheckResult,
  type Redzones,
  type RedzoneViolation,
  type RedzoneWriter,
} from "../../mod.ts";
import type { RailMode } from "./types.ts";
import type { Finding } from "../../records.ts";

/** A redzone found overwritten by a check in enforce mode; the findings name the writes that may have done it. */
export class RedzoneDamaged extends Error {
  /** One finding per damaged redzone. */
  readonly findings: Finding[];
  /** The error for `findings` (their details make the message). */
  constructor(findings: Finding[]) {
    super(findings.map((f) => f.detail).join("; "));
    this.name = "RedzoneDamaged";
    this.findings = findings;
  }
}

/** When and how the redzones are checked. */
export interface RedzonePolicyOptions {
  /** "warn" (default): record the damage; "enforce": throw RedzoneDamaged at the check; "off": no checks. */
  mode?: RailMode;
  /**
   * "sync" (default): check at host syncs; "write": after every call that writes a redzoned allocation
   * (its stream waited for first: slow, for a replay that pins a damaged redzone on one write); "manual":
   * only when asked.
   */
  when?: "sync" | "write" | "manual";
  /** Every n-th check is a full one (both redzones of every allocation). Default 0: never at syncs. */
  fullEvery?: number;
  /** Enqueue the check at a sync and read it at the next one (default: true unless mode is enforce). */
  pipelined?: boolean;
}

/** Decides when the redzones are checked and what a damaged one becomes. */
export interface RedzonePolicy {
  /** The policy's name, as findings and reports show it. */
  readonly name: string;
  /** What a damaged redzone becomes (warn: a finding; enforce: RedzoneDamaged). */
  mode: RailMode;
  /** After each call: checks when the call was a sync point; returns the findings. */
  afterCall(call: NativeCall, status: number, rz: Redzones): Finding[];
  /** A check now (full by default), e.g. on demand or at close. */
  checkNow(rz: Redzones, op: number, full?: boolean): Finding[];
  /** The findings of a check enqueued earlier and not read yet (waits for it). */
  collect(rz: Redzones): Finding[];
}

/** Whether the host waited for device work at this call. */
export function isSyncPoint(call: NativeCall): boolean {
  if (call.kind === "sync") return true;
  if (
    call.kind === "d2h" || call.kind === "h2d" || call.kind === "d2d" || call.kind === "p2p" ||
    call.kind === "memset"
  ) {
    return isSynchronous(call.kind, call.stream, call.scalars);
  }
  return false;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Whether a writer's declared extent reaches the overwritten bytes (offsets from the allocation's start). */
function reaches(w: RedzoneWriter, v: RedzoneViolation): boolean {
  return w.offset <= v.lastBad && w.offset + w.bytes > v.firstBad;
}

/**
 * The write that damaged the redzone, when the window proves it: a write whose declared extent reaches
 * the overwritten bytes, or the one write of a window that a check right after it closed (`afterEachWrite`).
 * A write whose declared extent stays inside the buffer is never blamed otherwise.
 */
export function redzoneCulprit(v: RedzoneViolation, afterEachWrite = false): RedzoneWriter | null {
  const reaching = v.writers.filter((w) => reaches(w, v));
  if (reaching.length > 0) return reaching[0];
  return afterEachWrite && v.writers.length === 1 ? v.writers[0] : null;
}

function writerText(w: RedzoneWriter): string {
  return `op ${w.op} ${w.kind} ${w.name} (${w.arg}, ${w.bytes} bytes from offset ${w.offset}` +
    `${w.step !== null ? `, step ${w.step}` : ""}${w.layer !== null ? `, layer ${w.layer}` : ""})`;
}

/** Which bytes were touched: "bytes 4000..4039 (0..39 past its end)". */
function touched(v: RedzoneViolation): string {
  const range = `bytes ${v.firstBad}..${v.lastBad}`;
  return v.side === "after"
    ? `${range} (${v.firstBad - v.alloc.bytes}..${v.lastBad - v.alloc.bytes} past its end)`
    : `${range} (${-v.lastBad}..${-v.firstBad} before its start)`;
}

function whoText(v: RedzoneViolation, culprit: RedzoneWriter | null): string {
  if (v.writers.length === 0) {
    return "; no journaled write to it in that window (a write through another allocation's pointer?)";
  }
  const all = `; writes to it in that window: ${v.writers.map(writerText).join(", ")}`;
  if (culprit !== null) return `${all}; made by op ${culprit.op}`;
  return `${all}; every declared extent stays inside it, so a replay with a check after each write decides which`;
}

/**
 * The finding for one damaged redzone: filed under the write that made it (redzoneCulprit), or, when the
 * window does not prove one, under the op that found it, with the window's writers as suspects.
 */
export function redzoneFinding(v: RedzoneViolation, detectedAt: number, afterEachWrite = false): Finding {
  const culprit = redzoneCulprit(v, afterEachWrite);
  const f: Finding = {
    rail: "redzone",
    op: culprit?.op ?? detectedAt,
    kind: culprit?.kind ?? "redzone",
    name: culprit?.name ?? v.alloc.name,
    argument: culprit?.arg,
    ptr: v.alloc.ptr + v.firstBad,
    allocation: {
      id: v.alloc.id,
      name: v.alloc.name,
      offset: v.firstBad,
      bytes: v.lastBad - v.firstBad + 1,
      size: v.alloc.bytes,
      state: "live",
    },
    invariant: "writes stay inside their allocation (redzone intact)",
    detail:
      `${v.badBytes} bytes of the ${
        v.side === "after" ? "trailing" : "leading"
      } redzone of ${v.alloc.name} ` +
      `(alloc ${v.alloc.id}, ${v.alloc.bytes} bytes at ${hex(v.alloc.ptr)}) overwritten: ${touched(v)}, ` +
      `between op ${v.window.fromOp} and op ${v.window.toOp}${whoText(v, culprit)}`,
    window: v.window,
    writers: v.writers,
    detected_at: detectedAt,
  };
  if (culprit === null && v.writers.length > 0) f.suspects = v.writers.map((w) => w.op);
  if (culprit?.step !== null && culprit?.step !== undefined) f.step = culprit.step;
  if (culprit?.layer !== null && culprit?.layer !== undefined) f.layer = culprit.layer;
  return f;
}

/** The redzone policy: checks at host syncs (or after every write, or only when asked). */
export function redzonePolicy(opts: RedzonePolicyOptions = {}): RedzonePolicy {
  const when = opts.when ?? "sync";
  const fullEvery = opts.fullEvery ?? 0;
  let checks = 0;
  const toFindings = (r: RedzoneCheckResult | null, op: number, mode: RailMode): Finding[] => {
    if (r === null || r.violations.length === 0) return [];
    const fs = r.violations.map((v) => {
      const f = redzoneFinding(v, v.window.toOp > 0 ? v.window.toOp : op, when === "write");
      f.severity = mode === "enforce" ? "error" : "warn";
      return f;
    });
    if (mode === "enforce") throw new RedzoneDamaged(fs);
    return fs;
  };
  const policy: RedzonePolicy = {
    name: "redzone",
    mode: opts.mode ?? "warn",
    afterCall(call, status, rz) {
      if (policy.mode === "off" || status !== 0) return [];
      if (when === "write") return toFindings(rz.checkAfterWrite(call), call.id, policy.mode);
      if (when !== "sync" || !isSyncPoint(call)) return [];
      checks++;
      const full = fullEvery > 0 && checks % fullEvery === 0;
      if (opts.pipelined ?? policy.mode !== "enforce") {
        // the check enqueued at the previous sync point is done by now; this one is read at the next
        const fs = toFindings(rz.collect(), call.id, policy.mode);
        rz.enqueue({ dirtyOnly: !full, op: call.id });
        return fs;
      }
      return toFindings(rz.check({ dirtyOnly: !full, op: call.id }), call.id, policy.mode);
    },
    checkNow(rz, op, full = true) {
      if (policy.mode === "off") return toFindings(rz.collect(), op, "warn");
      return toFindings(rz.check({ dirtyOnly: !full, op }), op, policy.mode);
    },
    collect(rz) {
      return toFindings(rz.collect(), 0, policy.mode === "enforce" ? "enforce" : "warn");
    },
  };
  return policy;
}
