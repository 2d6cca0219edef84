/**
 * Sync policy: wait for the stream after every launch, like
 * HIP_LAUNCH_BLOCKING=1 / CUDA_LAUNCH_BLOCKING=1: a fault surfaces at the
 * launch that caused it. It changes timing and hides races.
 */
import type { SyncPolicy } from "./types.ts";

/** The policy: a stream sync after every launch. */
export function syncAfterEveryLaunch(): SyncPolicy {
  return { name: "after-every-launch", after: (call) => (call.kind === "launch" ? "stream" : "none") };
}
