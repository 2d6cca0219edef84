import assert from "node:assert/strict";
import { decodeJournal } from "../../ffi/journal.ts";
import { journalLibPath } from "../helpers/journal_lib.ts";

Deno.test("journal: a child SIGKILLed inside a call leaves every record, the last one in flight", async () => {
  journalLibPath(); // build the mapping library before the child needs it
  const dir = Deno.makeTempDirSync({ prefix: "fl-journal-kill-" });
  const path = `${dir}/journal.bin`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../helpers/journal_child.ts", import.meta.url).pathname,
      "--path",
      path,
      "--calls",
      "3000",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const m = /inside (\d+)/.exec(text);
  assert.ok(m, `child said: ${text}`);
  child.kill("SIGKILL");
  const st = await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  assert.equal(st.signal, "SIGKILL");

  const j = decodeJournal(path);
  assert.equal(j.written, 3001);
  assert.equal(j.records.length, 1024);
  assert.deepEqual(j.overwritten, { count: 3001 - 1024, firstSeq: 1, lastSeq: 3001 - 1024 });
  const last = j.records[j.records.length - 1];
  assert.equal(last.id, Number(m[1]));
  assert.equal(last.name, "stream_synchronize");
  assert.equal(last.status, null);
  assert.equal(last.step, 3000);
  assert.deepEqual(j.inFlight.map((r) => r.id), [last.id]);
  // every record before it is whole
  for (const r of j.records.slice(0, -1)) assert.equal(r.status, 0);
  assert.equal(j.records[0].scalars.k, 3000 - 1023);
});
