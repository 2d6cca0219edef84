/**
 * The guard rails on one traced process, as its journal is followed: every
 * intent is checked by the rails in warn mode (pointer arguments inside a
 * live allocation, freed, or in none; copy sizes against allocations; launch
 * limits; races along the stream and event edges), and every outcome
 * updates the allocation registry and the race state, in the order the
 * program made the calls, the way an audit session's worker does.
 */
import type { NativeCall } from "../../ffi/boundary.ts";
import type { FollowHandlers } from "../../ffi/journal_follow.ts";
import { checkState, runRails } from "../audit/checks.ts";
import { DEFAULT_LIMITS, defaultRails, type Finding, type Rail } from "../guards/index.ts";
import { LegacyStream } from "./legacy_stream.ts";

/**
 * The rails a trace runs: the defaults in warn mode, but not the kernel invariants, which
 * faultline declares for its own kernels by name (a program's kernel called "add" is not
 * faultline's).
 */
export function traceRails(): readonly Rail[] {
  return defaultRails("warn").remove("invariants").rails;
}

export interface ProcessCheck extends FollowHandlers {
  readonly findings: Finding[];
  /** Calls whose intent was seen, and launches among them. */
  readonly counts: { calls: number; launches: number };
}

/**
 * A race between two launches is not reported: a traced launch's arguments say where it points,
 * not whether it writes there, and kernels on two streams reading the same weights are no race.
 * A launch against a copy or memset is (a D2H of a buffer a kernel on another stream may still
 * be writing).
 */
function launchesOnly(f: Finding): boolean {
  const r = f.race as { first?: { kind?: string }; second?: { kind?: string } } | undefined;
  return f.rail === "races" && r?.first?.kind === "launch" && r?.second?.kind === "launch";
}

/** A checker for one process; `watch` sees every call too (a policy script's hook). */
export function processCheck(watch?: (call: NativeCall) => void): ProcessCheck {
  const st = checkState({ races: true, limits: DEFAULT_LIMITS });
  const registry = st.registry.observer();
  const rails = traceRails();
  const legacy = new LegacyStream();
  const findings: Finding[] = [];
  const counts = { calls: 0, launches: 0 };
  const record = (fs: readonly Finding[]) => {
    for (const f of fs) if (!launchesOnly(f)) findings.push(f);
  };
  const edges = (calls: NativeCall[]) => {
    for (const c of calls) st.races?.commit(c, 0);
  };
  return {
    findings,
    counts,
    intent(call: NativeCall): void {
      counts.calls++;
      if (call.kind === "launch") counts.launches++;
      edges(legacy.before(call));
      runRails(rails, call, st.ctx, record);
      watch?.(call);
    },
    done(call: NativeCall, status: number, result: number | undefined, blocked: boolean): void {
      if (blocked) return;
      registry.after!(call, status, result);
      if (st.races !== null) st.races.commit(call, status);
      legacy.created(call, status, result);
      if (status === 0) legacy.destroyed(call);
      edges(legacy.after(call));
    },
  };
}
