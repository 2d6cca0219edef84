import assert from "node:assert/strict";
import { Registry } from "../../ffi/registry.ts";
import { findRaces, OnlineRaces } from "../../ffi/races.ts";
import { JournalWriter } from "../../ffi/journal_native.ts";
import { decodeJournal } from "../../ffi/journal.ts";
import type { NativeCall } from "../../ffi/boundary.ts";
import { alloc, call, free, ptr, resetIds } from "../helpers/calls.ts";
import { journalLib } from "../helpers/journal_lib.ts";

const COMPUTE = 0x1000, COPY = 0x2000, EV = 0x3000;
const LOGITS = 0x100000;

/** The decode's pattern: the compute stream writes logits, the copy stream downloads them. */
function logitsCopy(withWait: boolean): NativeCall[] {
  resetIds();
  const calls: NativeCall[] = [];
  const a = alloc("logits", 4096);
  calls.push(a);
  calls.push(call("launch", "fault_fill", {
    stream: COMPUTE,
    scalars: { n: 1024, value: 1 },
    pointers: [ptr("dst", LOGITS, 4096, "w")],
    context: { step: 0, layer: 31, op: "lm_head" },
  }));
  calls.push(call("event_record", "event_record", { stream: COMPUTE, event: EV }));
  if (withWait) calls.push(call("event_wait", "stream_wait_event", { stream: COPY, event: EV }));
  calls.push(call("d2h", "logits", {
    stream: COPY,
    scalars: { bytes: 4096, sync: 0 },
    pointers: [ptr("src", LOGITS, 4096, "r", 1)],
    host: 0x7f0000000000,
    context: { step: 0, op: "logits D2H" },
  }));
  calls.push(call("sync", "stream_synchronize", { stream: COPY }));
  return calls;
}

function runOnline(calls: NativeCall[]) {
  const reg = new Registry();
  const races = new OnlineRaces(reg);
  const regObs = reg.observer();
  const found = [];
  for (const c of calls) {
    found.push(...races.check(c));
    regObs.after!(c, 0, c.kind === "alloc" ? LOGITS : undefined);
    races.commit(c, 0);
  }
  return found;
}

Deno.test("races: a logits copy that skips its event wait races with the kernel writing logits", () => {
  const found = runOnline(logitsCopy(false));
  assert.equal(found.length, 1);
  const r = found[0];
  assert.equal(r.alloc.name, "logits");
  assert.equal(r.first.name, "fault_fill");
  assert.equal(r.first.access, "w");
  assert.equal(r.first.stream, COMPUTE);
  assert.equal(r.second.kind, "d2h");
  assert.equal(r.second.arg, "src");
  assert.equal(r.second.stream, COPY);
  assert.equal(r.second.step, 0);
  assert.deepEqual([r.lo, r.hi], [0, 4096]);
  assert.match(r.why, /no event wait or synchronization/);
});

Deno.test("races: silent when the copy stream waits for the event", () => {
  assert.deepEqual(runOnline(logitsCopy(true)), []);
});

Deno.test("races: a host stream synchronize orders the streams too", () => {
  const calls = logitsCopy(false);
  // synchronize the compute stream before the copy
  const k = calls.findIndex((c) => c.kind === "d2h");
  calls.splice(k, 0, call("sync", "stream_synchronize", { stream: COMPUTE }));
  assert.deepEqual(runOnline(calls), []);
});

Deno.test("races: overlapping async copies on two streams race; disjoint ranges do not", () => {
  resetIds();
  const a = alloc("hidden", 8192);
  const up = call("h2d", "hidden", {
    stream: COMPUTE,
    scalars: { bytes: 4096, sync: 0 },
    pointers: [ptr("dst", LOGITS, 4096, "w", 1)],
  });
  const down = call("d2h", "hidden", {
    stream: COPY,
    scalars: { bytes: 4096, sync: 0 },
    pointers: [ptr("src", LOGITS + 2048, 4096, "r", 1)],
  });
  const disjoint = call("d2h", "hidden", {
    stream: COPY,
    scalars: { bytes: 1024, sync: 0 },
    pointers: [ptr("src", LOGITS + 4096 + 2048, 1024, "r", 1)],
  });
  const found = runOnline([a, up, down, disjoint]);
  assert.equal(found.length, 1);
  assert.deepEqual([found[0].lo, found[0].hi], [2048, 4096]);
  // two reads on different streams never race
  resetIds();
  const a2 = alloc("w", 4096);
  const r1 = call("launch", "k1", { stream: COMPUTE, pointers: [ptr("x", LOGITS, 4096, "r")] });
  const r2 = call("launch", "k2", { stream: COPY, pointers: [ptr("x", LOGITS, 4096, "r")] });
  assert.deepEqual(runOnline([a2, r1, r2]), []);
});

Deno.test("races: a synchronous copy and a device synchronize order the host", () => {
  resetIds();
  const a = alloc("x", 4096);
  const w = call("launch", "k", { stream: COMPUTE, pointers: [ptr("x", LOGITS, 4096, "w")] });
  const sync = call("sync", "device_synchronize", {});
  const r = call("launch", "k2", { stream: COPY, pointers: [ptr("x", LOGITS, 4096, "r")] });
  assert.deepEqual(runOnline([a, w, sync, r]), []);
  // the copy stream's read, then a compute-stream write without ordering: a race (write after read)
  resetIds();
  const b = alloc("x", 4096);
  const rd = call("launch", "k2", { stream: COPY, pointers: [ptr("x", LOGITS, 4096, "r")] });
  const wr = call("launch", "k", { stream: COMPUTE, pointers: [ptr("x", LOGITS, 4096, "w")] });
  const found = runOnline([b, rd, wr]);
  assert.equal(found.length, 1);
  assert.equal(found[0].first.access, "r");
  assert.equal(found[0].second.access, "w");
});

Deno.test("races: offline over a decoded journal finds the same race", () => {
  for (const withWait of [false, true]) {
    const path = `${Deno.makeTempDirSync({ prefix: "fl-race-" })}/journal.bin`;
    const w = new JournalWriter({ path, capacity: 64, native: journalLib() });
    for (const c of logitsCopy(withWait)) {
      w.before(c);
      w.after(c, 0, c.kind === "alloc" ? LOGITS : undefined);
    }
    const f = free("logits", LOGITS, 4096);
    w.before(f);
    w.after(f, 0);
    w.close();
    const j = decodeJournal(path);
    const races = findRaces(j.records, { allocations: j.allocations });
    if (withWait) assert.deepEqual(races, []);
    else {
      assert.equal(races.length, 1);
      assert.equal(races[0].first.name, "fault_fill");
      assert.equal(races[0].second.name, "logits");
      assert.equal(races[0].alloc.name, "logits");
    }
  }
});
