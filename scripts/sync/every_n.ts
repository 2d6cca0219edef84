/** Sync policy: a device synchronize after every `n` ops that enqueue device work. */
import { DEVICE_WORK, type SyncPolicy } from "./types.ts";

/** The policy: a device sync after every `n` ops that enqueue device work (n an integer >= 1). */
export function syncEveryN(n: number): SyncPolicy {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`syncEveryN: n must be an integer >= 1, got ${n}`);
  let count = 0;
  return {
    name: `every-${n}-ops`,
    after: (call) => {
      if (!DEVICE_WORK.has(call.kind)) return "none";
      if (++count < n) return "none";
      count = 0;
      return "device";
    },
  };
}
