/**
 * Child process for the kill test: journals calls in a loop, announces each
 * thousand on stdout, and after `--calls` records enters a call that never
 * returns (its intent is on disk), where the parent kills it.
 */
import { parseArgs } from "node:util";
import { JournalWriter } from "../../ffi/journal_native.ts";
import { journalLib } from "./journal_lib.ts";

const { values } = parseArgs({ options: { path: { type: "string" }, calls: { type: "string" } } });
const w = new JournalWriter({ path: values.path!, capacity: 1024, native: journalLib() });
const n = Number(values.calls ?? "5000");
let id = 1;
for (let k = 0; k < n; k++) {
  const c = {
    id: id++,
    kind: "launch" as const,
    name: k % 2 ? "tick" : "rope",
    device: 0,
    stream: 0,
    scalars: { k },
    pointers: [],
    context: { step: k, layer: k % 32 },
  };
  w.before(c);
  w.after(c, 0);
}
const last = {
  id: id++,
  kind: "sync" as const,
  name: "stream_synchronize",
  device: 0,
  stream: 0,
  scalars: {},
  pointers: [],
  context: { step: n },
};
w.before(last);
await Deno.stdout.write(new TextEncoder().encode(`inside ${last.id}\n`));
// "inside the native call": never returns
for (;;) await new Promise((r) => setTimeout(r, 1000));
