/**
 * Uses a pinned buffer's views after free(): the views must be detached (no
 * access reaches the freed memory) and passing one to a copy must be refused.
 * Prints one JSON line; a crash shows as a missing line and a signal exit.
 */
import { FaultlineUsageError, runtime } from "../../mod.ts";

const dev = runtime().device(0);
const pin = dev.hostAlloc(1 << 20, { name: "pin" });
const bytes = pin.view;
const floats = new Float32Array(pin.buffer);
bytes[0] = 7;
floats[1000] = 2.5;
pin.free();
bytes[0] = 1;
floats[1000] = 3;
const read = [bytes[0], floats[1000]];
using dst = dev.malloc(64, { name: "dst" });
const refusals: string[] = [];
for (const view of [bytes, floats]) {
  try {
    dst.upload(view);
    refusals.push("no error");
  } catch (e) {
    refusals.push(
      e instanceof FaultlineUsageError ? e.message : `${(e as Error).name}: ${(e as Error).message}`,
    );
  }
}
let viewAfter = "";
try {
  void pin.view;
} catch (e) {
  viewAfter = e instanceof FaultlineUsageError ? e.message : String(e);
}
console.log(JSON.stringify({ lengths: [bytes.length, floats.length], read, refusals, viewAfter }));
