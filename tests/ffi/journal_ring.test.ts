import assert from "node:assert/strict";
import { JournalWriter } from "../../ffi/journal_native.ts";
import { d2hAuditLines, decodeJournal } from "../../ffi/journal.ts";
import { journalLib } from "../helpers/journal_lib.ts";
import { alloc, call, free, ptr, resetIds } from "../helpers/calls.ts";

function tmp(): string {
  return `${Deno.makeTempDirSync({ prefix: "fl-journal-" })}/journal.bin`;
}

/** Journals an alloc, a launch, a failing D2H copy, the free and a launch that never returns; decodes it. */
function fiveCallJournal() {
  resetIds();
  const path = tmp();
  const w = new JournalWriter({ path, capacity: 64, native: journalLib() });
  const a = alloc("logits", 4096);
  w.before(a);
  w.after(a, 0, 0x10000);
  const k = call("launch", "rope", {
    stream: 7,
    scalars: { seq_len: 1, heads: 32, head_dim: 128, base: 10000 },
    pointers: [ptr("x", 0x10000 + 512, 1024, "rw", 4)],
    context: { step: 3, layer: 5, op: "RoPE Q" },
  });
  w.before(k);
  w.after(k, 0);
  const d = call("d2h", "logits", {
    stream: 7,
    scalars: { bytes: 4096 },
    pointers: [ptr("src", 0x10000, 4096, "r", 1)],
    host: 0x7f0000001000,
    context: { step: 3 },
  });
  w.before(d);
  w.after(d, 700);
  const f = free("logits", 0x10000, 4096);
  w.before(f);
  w.after(f, 0);
  const late = call("launch", "tick", { pointers: [ptr("counter", 0x10000, 4, "rw")] });
  w.before(late); // never returns
  w.close();

  return decodeJournal(path);
}

Deno.test("journal: intent and outcome round-trip, pointers resolved to allocations", () => {
  const j = fiveCallJournal();
  assert.equal(j.records.length, 5);
  assert.equal(j.overwritten, null);
  const [ra, rk, rd, rf, rl] = j.records;
  assert.equal(ra.kind, "alloc");
  assert.equal(ra.result, 0x10000);
  assert.equal(rk.name, "rope");
  assert.equal(rk.stream, 7);
  assert.deepEqual(rk.scalars, { seq_len: 1, heads: 32, head_dim: 128, base: 10000 });
  assert.equal(rk.step, 3);
  assert.equal(rk.layer, 5);
  assert.equal(rk.op, "RoPE Q");
  assert.equal(rk.status, 0);
  assert.equal(rk.result_name, "hipSuccess");
  assert.deepEqual(rk.pointers[0], {
    arg: "x",
    ptr: 0x10000 + 512,
    bytes: 1024,
    access: "rw",
    elem: 4,
    alloc: ra.id,
    name: "logits",
    offset: 512,
    size: 4096,
    state: "live",
    placement: "inside",
  });
  assert.equal(rk.pointers[0].access, "rw");
  assert.equal(rk.pointers[0].elem, 4);
  assert.equal(rd.status, 700);
  assert.equal(rd.result_name, "hipErrorIllegalAddress");
  assert.equal(rd.host, 0x7f0000001000);
  assert.equal(rd.layer, null);
  assert.equal(rf.kind, "free");
  // after the free the address resolves to the freed allocation
  assert.equal(rl.status, null);
  assert.equal(rl.result_name, "in flight");
  assert.equal(rl.pointers[0].state, "freed");
  assert.equal(rl.pointers[0].alloc, ra.id);
  assert.equal(j.inFlight[0].id, rl.id);
  assert.ok(rk.wall > Date.now() - 60_000 && rk.wall <= Date.now());
  assert.ok(rk.time >= 0 && rk.dur! >= 0 && rd.time >= rk.time);
});

Deno.test("journal: D2H audit lines of the decoded records", () => {
  const j = fiveCallJournal();
  const rd = j.records[2];
  const lines = d2hAuditLines(j.records);
  assert.equal(lines.length, 2);
  assert.match(
    lines[0],
    new RegExp(
      `^\\[D2H_AUDIT_START\\] op_id=${rd.id} ts=\\d+\\.\\d{6} stream=0x7 dev_ptr=0x10000 ` +
        `host_ptr=0x7f0000001000 bytes=4096 tensor=logits step=3 layer=-1$`,
    ),
  );
  assert.match(
    lines[1],
    new RegExp(
      `^\\[D2H_AUDIT_END\\] op_id=${rd.id} ts=\\d+\\.\\d{6} stream=0x7 result=hipErrorIllegalAddress tensor=logits$`,
    ),
  );
});

Deno.test("journal: wrap-around keeps the newest records and says which were overwritten", () => {
  resetIds();
  const path = tmp();
  const w = new JournalWriter({ path, capacity: 8, native: journalLib() });
  for (let n = 0; n < 21; n++) {
    const c = call("launch", `k${n}`);
    w.before(c);
    w.after(c, 0);
  }
  w.close();
  const j = decodeJournal(path);
  assert.equal(j.written, 21);
  assert.equal(j.records.length, 8);
  assert.deepEqual(j.overwritten, { count: 13, firstSeq: 1, lastSeq: 13 });
  assert.deepEqual(j.records.map((r) => r.name), ["k13", "k14", "k15", "k16", "k17", "k18", "k19", "k20"]);
  assert.equal(j.torn, null);
});

Deno.test("journal: a half-written record is reported as torn, never decoded as whole", async () => {
  resetIds();
  const path = tmp();
  const w = new JournalWriter({ path, capacity: 4, native: journalLib() });
  for (let n = 0; n < 6; n++) {
    const c = call("launch", `k${n}`);
    w.before(c);
    w.after(c, 0);
  }
  w.close();
  // simulate a process that died while overwriting the next slot: marker cleared, id stored, rest stale
  const f = await Deno.open(path, { read: true, write: true });
  const slot = 6 % 4;
  const base = 4096 + slot * 512;
  const buf = new Uint8Array(512);
  await f.seek(base, Deno.SeekMode.Start);
  await f.read(buf);
  const i32 = new Int32Array(buf.buffer);
  const f64 = new Float64Array(buf.buffer);
  i32[0] = 0;
  i32[1] = 0;
  f64[8] = 99;
  await f.seek(base, Deno.SeekMode.Start);
  await f.write(buf);
  f.close();
  const j = decodeJournal(path);
  assert.deepEqual(j.torn, { seq: 7, id: 99 });
  assert.deepEqual(j.records.map((r) => r.name), ["k3", "k4", "k5"]);
  assert.deepEqual(j.overwritten, { count: 3, firstSeq: 1, lastSeq: 3 });
});

Deno.test("journal: a blocked call and a nested call pair their outcomes correctly", () => {
  resetIds();
  const path = tmp();
  const w = new JournalWriter({ path, capacity: 16, native: journalLib() });
  const outer = call("d2h", "logits");
  w.before(outer);
  const nested = call("sync", "stream_synchronize");
  w.before(nested);
  w.after(nested, 0);
  const blocked = call("launch", "rope");
  w.before(blocked);
  w.blockedCall(blocked.id);
  w.after(outer, 0);
  w.close();
  const j = decodeJournal(path);
  assert.deepEqual(j.records.map((r) => [r.name, r.status, r.result_name]), [
    ["logits", 0, "hipSuccess"],
    ["stream_synchronize", 0, "hipSuccess"],
    ["rope", -1, "blocked"],
  ]);
});

Deno.test("journal: nonblocking calls finishing out of order each get their own outcome", () => {
  resetIds();
  const path = tmp();
  const w = new JournalWriter({ path, capacity: 16, native: journalLib() });
  const a = call("sync", "stream_synchronize", { stream: 1 });
  const b = call("sync", "stream_synchronize", { stream: 2 });
  w.before(a);
  w.before(b);
  const c = call("launch", "tick");
  w.before(c);
  w.after(c, 0);
  w.after(a, 0); // the older wait finishes first
  w.after(b, 700);
  w.close();
  const j = decodeJournal(path);
  assert.deepEqual(j.records.map((r) => [r.stream, r.name, r.status]), [
    [1, "stream_synchronize", 0],
    [2, "stream_synchronize", 700],
    [0, "tick", 0],
  ]);
  assert.deepEqual(j.inFlight, []);
});

Deno.test("journal: more pointer and scalar arguments than a record holds are flagged as truncated", () => {
  resetIds();
  const path = tmp();
  const w = new JournalWriter({ path, capacity: 4, native: journalLib() });
  const scalars: Record<string, number> = {};
  for (let k = 0; k < 12; k++) scalars[`s${k}`] = k;
  const c = call("launch", "wide", {
    scalars,
    pointers: Array.from({ length: 12 }, (_, k) => ptr(`p${k}`, 0x1000 * (k + 1), 4)),
  });
  w.before(c);
  w.after(c, 0);
  w.close();
  const r = decodeJournal(path).records[0];
  assert.equal(r.pointers.length, 10);
  assert.equal(Object.keys(r.scalars).length, 8);
  assert.deepEqual(r.truncated, ["pointers", "scalars"]);
});
