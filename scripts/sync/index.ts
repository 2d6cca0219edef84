/** Sync policies: none, after every launch, around D2H copies, every N ops, user-written and per-op ones. */
export { DEVICE_WORK, type SyncAction, type SyncPolicy } from "./types.ts";
export { noSync } from "./none.ts";
export { syncAfterEveryLaunch } from "./after_launch.ts";
export { syncAroundD2H } from "./around_d2h.ts";
export { syncEveryN } from "./every_n.ts";
export { customSync, perOp, type PerOpRules } from "./custom.ts";

import { syncAfterEveryLaunch } from "./after_launch.ts";
import { syncAroundD2H } from "./around_d2h.ts";
import { syncEveryN } from "./every_n.ts";
import { noSync } from "./none.ts";
import type { SyncPolicy } from "./types.ts";

/** A policy by name, as a command line gives it: none | launch | d2h | every:N. */
export function syncPolicyByName(name: string): SyncPolicy {
  if (name === "none") return noSync();
  if (name === "launch" || name === "after-every-launch") return syncAfterEveryLaunch();
  if (name === "d2h" || name === "around-d2h") return syncAroundD2H();
  const m = /^every[:-](\d+)$/.exec(name);
  if (m) return syncEveryN(Number(m[1]));
  throw new RangeError(`unknown sync policy ${name} (none | launch | d2h | every:N)`);
}
