/** Sync policy: never add a synchronization (what the experiment does is all there is). */
import type { SyncPolicy } from "./types.ts";

/** The policy that adds no sync. */
export function noSync(): SyncPolicy {
  return { name: "none" };
}
