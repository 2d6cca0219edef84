/**
 * Sync policy: the safe D2H wrapper: synchronize the stream
 * before a device-to-host copy (so the data it reads is complete, and an
 * earlier fault surfaces before the copy, not inside it) and after it (so the
 * host data is complete).
 */
import type { SyncPolicy } from "./types.ts";

/** The policy: a stream sync before and after every device-to-host copy. */
export function syncAroundD2H(): SyncPolicy {
  return {
    name: "around-d2h",
    before: (call) => (call.kind === "d2h" ? "stream" : "none"),
    after: (call) => (call.kind === "d2h" ? "stream" : "none"),
  };
}
