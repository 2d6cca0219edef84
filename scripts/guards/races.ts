/**
 * Rail: stream races. A buffer written on one stream and read or written on
 * another with no event wait or host sync between them (a stream not
 * synchronized, or overlapping async copies), found from the order of
 * the calls and their event edges (ffi/races.ts), without adding any sync.
 * In enforce mode the racing op is blocked before it is enqueued.
 */
import type { NativeCall, Race } from "../../mod.ts";
import { finding, type GuardContext, NO_FINDINGS, type Rail, type RailMode } from "./types.ts";
import type { Finding } from "../../records.ts";

/** The finding for a race, filed under the later of the two ops. */
export function raceFinding(call: NativeCall, r: Race): Finding {
  return finding("races", call, "accesses from two streams are ordered by an event wait or a sync", r.why, {
    argument: r.second.arg,
    allocation: {
      id: r.alloc.id,
      name: r.alloc.name,
      offset: r.lo,
      bytes: r.hi - r.lo,
      size: r.alloc.size,
      state: "live",
    },
    race: { first: r.first, second: r.second },
  });
}

/** The race rail in `mode`: an access that races an earlier one on another stream. */
export function racesRail(mode: RailMode = "warn"): Rail {
  return {
    name: "races",
    mode,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      if (ctx.races === undefined) return NO_FINDINGS;
      const found = ctx.races.check(call);
      if (found.length === 0) return NO_FINDINGS;
      return found.map((r) => raceFinding(call, r));
    },
  };
}
