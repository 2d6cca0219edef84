/** Sync policy: never add a synchronization (what the experiment does is all there is). */
import type { SyncPolicy } from "./types.ts";

export function noSync(): SyncPolicy {
  return { name: "none" };
}
