/**
 * The per-call checks of an audit session, shared by its two places to run
 * them: inline on the launching thread (enforce mode, or asked for) and in
 * the audit worker (scripts/audit_worker.ts), which replays the journal ring.
 */
import { type Allocation, CallResolution, type NativeCall, OnlineRaces, Registry } from "../../mod.ts";
import {
  defaultRails,
  type GuardContext,
  type LaunchLimits,
  pointersClean,
  type Rail,
} from "../guards/index.ts";
import { scalarRepeats } from "../guards/memo.ts";
import type { Finding } from "../../records.ts";

/**
 * Runs `rails` on `call` before it is made: each finding gets its severity
 * (error from an enforcing rail, warn otherwise) and goes to `record`; returns
 * the enforcing rails' findings (null when none: the call may run).
 */
export function runRails(
  rs: readonly Rail[],
  call: NativeCall,
  ctx: GuardContext,
  record: (fs: readonly Finding[]) => void,
): Finding[] | null {
  let blocked: Finding[] | null = null;
  // one pass over the pointers (made for the first rail that needs it) stands in for every
  // rail that is quiet when they are clean
  let clean = call.pointers.length === 0 ? 1 : -1; // 1 clean, 0 not, -1 not known yet
  for (let k = 0; k < rs.length; k++) {
    const r = rs[k];
    if (r.mode === "off") continue;
    if (r.quietWhenPointersClean === true) {
      if (clean < 0) clean = pointersClean(call, ctx) ? 1 : 0;
      if (clean === 1) continue;
    }
    const fs = r.check(call, ctx);
    if (fs.length === 0) continue;
    const enforce = r.mode === "enforce";
    for (const f of fs) f.severity = enforce ? "error" : "warn";
    record(fs);
    if (enforce) (blocked ??= []).push(...fs);
  }
  return blocked;
}

/** The registry, pointer resolution and race state the rails share, and the context they see. */
export interface CheckState {
  registry: Registry;
  resolution: CallResolution;
  races: OnlineRaces | null;
  ctx: GuardContext;
}

export function checkState(
  opts: { registry?: Registry; races: boolean; limits: LaunchLimits; contextLength?: number },
): CheckState {
  const registry = opts.registry ?? new Registry();
  const resolution = new CallResolution(registry);
  const races = opts.races ? new OnlineRaces(registry, { resolution }) : null;
  const ctx: GuardContext = {
    registry,
    races: races ?? undefined,
    limits: opts.limits,
    contextLength: opts.contextLength,
    pointerAlloc(call: NativeCall, k: number): Allocation | null {
      return resolution.of(call)[k];
    },
    pointerAllocs(call: NativeCall): readonly (Allocation | null)[] {
      return resolution.of(call);
    },
    repeats: scalarRepeats(),
  };
  return { registry, resolution, races, ctx };
}

/** The default rails in warn mode (what the worker runs). */
export function warnRails(): readonly Rail[] {
  return defaultRails("warn").rails;
}
