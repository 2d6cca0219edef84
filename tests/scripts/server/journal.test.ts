/** Journal parsing and tailing for the status server. */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  JournalTail,
  LineParser,
  mergeById,
  opState,
  parseJournal,
} from "../../../scripts/server/journal.ts";

const enc = new TextEncoder();

Deno.test("parseJournal counts malformed lines and a half-written tail, keeps the rest", () => {
  const { records, counts } = parseJournal(
    '{"id":1,"kind":"alloc"}\n\nnot json\n[1]\n{"kind":"no id"}\n{"id":"2","status":0}\n{"id":3,"ki',
  );
  assert.deepEqual(records.map((r) => r.id), [1, "2"]);
  assert.deepEqual(counts, { records: 2, malformed: 3, partial: 1 });
  // A last line without newline that parses is a record.
  assert.deepEqual(parseJournal('{"id":1}\n{"id":2}').counts, { records: 2, malformed: 0, partial: 0 });
  // CRLF line ends.
  assert.equal(parseJournal('{"id":1}\r\n{"id":2}\r\n').records.length, 2);
});

Deno.test("LineParser keeps lines and multi-byte characters whole across chunk boundaries", () => {
  const text = '{"id":1,"name":"µ-kernel ✓"}\n{"id":2,"name":"日本"}\n';
  const bytes = enc.encode(text);
  for (let cut = 1; cut < bytes.length; cut++) {
    const p = new LineParser();
    const recs = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
    assert.deepEqual(recs.map((r) => r.name), ["µ-kernel ✓", "日本"], `cut at ${cut}`);
    assert.equal(p.pendingBytes, 0);
  }
  const p = new LineParser();
  for (const b of bytes) p.push(new Uint8Array([b]));
  assert.equal(p.counts.records, 2);
});

Deno.test("mergeById keeps the first position and the latest fields", () => {
  const merged = mergeById([
    { id: 1, status: null, name: "a" },
    { id: 2, status: 0 },
    { id: 1, status: 700 },
  ]);
  assert.deepEqual(merged, [{ id: 1, status: 700, name: "a" }, { id: 2, status: 0 }]);
});

Deno.test("opState reads pending, ok and error statuses", () => {
  const s = (status: unknown) => opState({ id: 1, status });
  assert.equal(s(undefined), "pending");
  assert.equal(s(null), "pending");
  assert.equal(s("pending"), "pending");
  assert.equal(s(0), "ok");
  assert.equal(s("OK"), "ok");
  assert.equal(s({ code: 0 }), "ok");
  assert.equal(s(700), "error");
  assert.equal(s("hipErrorIllegalAddress"), "error");
  assert.equal(s({ code: 700 }), "error");
});

Deno.test("JournalTail follows appends, partial lines, truncation, replacement and deletion", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "journal.jsonl");
  try {
    const tail = new JournalTail(path);
    let r = await tail.poll();
    assert.deepEqual(r, { reset: false, missing: true, records: [] });

    await Deno.writeTextFile(path, '{"id":1}\n{"id":2,"na');
    r = await tail.poll();
    assert.deepEqual(r.records.map((x) => x.id), [1]);
    assert.equal(tail.position, 9);
    assert.equal(tail.counts.partial, 1);

    await Deno.writeTextFile(path, 'me":"x"}\n', { append: true });
    r = await tail.poll();
    assert.deepEqual(r.records, [{ id: 2, name: "x" }]);
    assert.equal(r.reset, false);
    assert.equal((await tail.poll()).records.length, 0, "nothing new");

    // Truncated to shorter content.
    await Deno.writeTextFile(path, '{"id":9}\n');
    r = await tail.poll();
    assert.equal(r.reset, true);
    assert.deepEqual(r.records.map((x) => x.id), [9]);

    // Rewritten in place with longer, different content.
    await Deno.writeTextFile(path, '{"id":7}\n{"id":8}\n{"id":10}\n');
    r = await tail.poll();
    assert.equal(r.reset, true);
    assert.deepEqual(r.records.map((x) => x.id), [7, 8, 10]);

    // Deleted, then recreated.
    await Deno.remove(path);
    r = await tail.poll();
    assert.equal(r.missing, true);
    assert.equal(r.reset, true);
    await Deno.writeTextFile(path, '{"id":1}\n');
    r = await tail.poll();
    assert.deepEqual(r.records.map((x) => x.id), [1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JournalTail resumes after a newline and starts over from a mid-line or too-large offset", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "journal.jsonl");
  try {
    await Deno.writeTextFile(path, '{"id":1}\n{"id":2}\n');
    assert.deepEqual((await new JournalTail(path, 9).poll()).records.map((x) => x.id), [2]);
    assert.deepEqual((await new JournalTail(path, 4).poll()).records.map((x) => x.id), [1, 2]);
    const far = await new JournalTail(path, 1000).poll();
    assert.equal(far.reset, true);
    assert.deepEqual(far.records.map((x) => x.id), [1, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JournalTail notices a rewrite that keeps the first bytes (results filled in by a decoder)", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "journal.jsonl");
  const line = (id: number, status: number | null) =>
    JSON.stringify({ id, kind: "launch", name: "a_kernel_with_a_long_name_to_pass_the_head", status }) + "\n";
  try {
    await Deno.writeTextFile(path, line(1, 0) + line(2, null) + line(3, null));
    const tail = new JournalTail(path);
    assert.equal((await tail.poll()).records.length, 3);
    // Rewritten whole: op 2 and 3 completed, op 4 added; the first line is unchanged.
    await Deno.writeTextFile(path, line(1, 0) + line(2, 0) + line(3, 700) + line(4, null));
    const r = await tail.poll();
    assert.equal(r.reset, true);
    assert.deepEqual(r.records.map((x) => [x.id, x.status]), [[1, 0], [2, 0], [3, 700], [4, null]]);
    assert.equal(tail.counts.malformed, 0);
    // A plain append after that is not a rewrite.
    await Deno.writeTextFile(path, line(5, 0), { append: true });
    const a = await tail.poll();
    assert.equal(a.reset, false);
    assert.deepEqual(a.records.map((x) => x.id), [5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
