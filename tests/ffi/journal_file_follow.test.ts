/**
 * ffi/journal_file_follow.ts: following a ring another process writes, when the writer laps the
 * reader (the records it overwrote are counted lost, following resumes at the oldest one left)
 * and when an outcome never comes (a later event on disk means it never will: it is skipped).
 */
import assert from "node:assert/strict";
import type { NativeCall } from "../../ffi/boundary.ts";
import { JournalFileFollower } from "../../ffi/journal_file_follow.ts";
import { JournalWriter } from "../../ffi/journal_native.ts";
import { alloc, call, ptr, resetIds } from "../helpers/calls.ts";
import { journalLib } from "../helpers/journal_lib.ts";

Deno.test("journal file follower: a lapped follower resumes at the oldest record, and skips an outcome that never came", () => {
  const path = `${Deno.makeTempDirSync()}/journal.bin`;
  const w = new JournalWriter({ path, capacity: 8, native: journalLib() });
  const f = new JournalFileFollower(path);
  const ids: number[] = [];
  const h = { intent: (c: NativeCall) => ids.push(c.id), done: () => {} };
  resetIds();
  const write = (n: number) => {
    for (let k = 0; k < n; k++) {
      const c = call("launch", "k", { pointers: [ptr("x", 4096, 4)] });
      w.done(w.intent(c), 0);
    }
  };
  write(5);
  assert.equal(f.poll(h), 10);
  write(30); // laps the reader: records 6..27 are gone
  f.poll(h);
  assert.equal(f.lost, 22);
  assert.deepEqual(ids.slice(5), [28, 29, 30, 31, 32, 33, 34, 35]);
  const dying = alloc("x", 64);
  w.intent(dying); // its outcome never comes
  write(2);
  f.poll(h);
  assert.deepEqual(ids.slice(-3), [dying.id, dying.id + 1, dying.id + 2]);
  assert.equal(f.openCalls, 1, "the call in flight stays open");
  w.close();
  f.close();
});
