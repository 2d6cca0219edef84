/**
 * Drops a buffer, a pinned buffer, a stream and an event without freeing them,
 * forces garbage collection (run with --v8-flags=--expose-gc) and lets the
 * leak warnings print; frees one buffer properly, which must not warn.
 */
import { runtime } from "../../mod.ts";

const dev = runtime().device(0);
const gc = (globalThis as unknown as { gc: () => void }).gc;

function leak(): void {
  dev.malloc(4096, { name: "leaked_weights" });
  dev.hostAlloc(4096, { name: "leaked_pinned" });
  dev.createStream();
  dev.createEvent();
  dev.malloc(4096, { name: "freed_ok" }).free();
}

leak();
for (let i = 0; i < 5; i++) {
  gc();
  await new Promise((r) => setTimeout(r, 20));
}
console.log(JSON.stringify({ done: true }));
