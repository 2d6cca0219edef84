/**
 * Where a fault's replays run. A replay that must bring the fault back (the
 * blocking replay, the redzone replay, the journaled rerun, the sanitizer
 * trial) runs on the device(s) of the trial where it surfaced. A bisection's
 * replays (a timing-dependent fault replayed with different syncs) run side by
 * side on every device, unless the matrix showed the fault confined to that
 * trial's device: then they stay there, one at a time, since elsewhere the
 * fault would disappear for another reason than the syncs.
 */
import type { TrialOutcome } from "../../records.ts";
import { slotLabel } from "./devices.ts";
import { isError } from "./matrix.ts";

export interface ReplayPlacement {
  /** The devices of the faulting trial (undefined: it was not placed). */
  devices?: number[];
  /** Whether a bisection's replays may run on every device. */
  spread: boolean;
  /** What the report says about it, null when nothing needs saying. */
  note: string | null;
}

/** The device label of each matrix outcome, failing and passing. */
function byDevice(outcomes: TrialOutcome[]): { failing: Set<string>; passing: Map<string, number> } {
  const failing = new Set<string>();
  const passing = new Map<string, number>();
  for (const o of outcomes) {
    const d = slotLabel(o.spec.devices);
    if (isError(o.status)) failing.add(d);
    else passing.set(d, (passing.get(d) ?? 0) + 1);
  }
  return { failing, passing };
}

/** Where the replays of `main`'s fault run, from the matrix trials that came before (if any). */
export function replayPlacement(main: TrialOutcome, matrix: TrialOutcome[]): ReplayPlacement {
  const devices = main.spec.devices;
  if (devices === undefined) return { spread: true, note: null };
  const here = slotLabel(devices);
  const placed = matrix.filter((o) => o.spec.devices !== undefined);
  const { failing, passing } = byDevice(placed);
  const others = [...passing.keys()].filter((d) => d !== here)
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  if (failing.size !== 1 || !failing.has(here) || others.length === 0) {
    return { devices, spread: true, note: null };
  }
  const failed = placed.filter((o) => slotLabel(o.spec.devices) === here && isError(o.status)).length;
  const there = placed.filter((o) => slotLabel(o.spec.devices) === here).length;
  const clean = others.reduce((s, d) => s + passing.get(d)!, 0);
  return {
    devices,
    spread: false,
    note: `The fault came only from trials on device ${here} (${failed} of ${there} there; none of the ` +
      `${clean} on device${others.length > 1 ? "s" : ""} ${
        others.join(", ")
      }): its replays ran on device ${here}.`,
  };
}
