/** Streams and events: in-order execution, cross-stream ordering, queries, elapsed time, async waits. */
import assert from "node:assert/strict";
import { faultFill, launch, tick } from "../../mod.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

Deno.test({ name: "stream: work on one stream runs in order", ...ffiTest }, () => {
  const dev = testDevice();
  using s = dev.createStream();
  assert.ok(s.handle !== 0);
  assert.equal(s.isDefault, false);
  using counter = dev.malloc(4, { name: "counter" });
  counter.fill(0, { stream: s });
  for (let i = 0; i < 1000; i++) launch(dev, s, tick, { counter });
  const out = new Uint32Array([0xdeadbeef]);
  counter.download(out, { stream: s });
  s.synchronize();
  assert.equal(out[0], 1000);
  assert.equal(s.query(), true, "an idle stream reports done");
});

Deno.test({ name: "stream: default stream launches and sync copies", ...ffiTest }, () => {
  const dev = testDevice();
  assert.equal(dev.defaultStream.handle, 0);
  assert.equal(dev.defaultStream.isDefault, true);
  using counter = dev.malloc(4, { name: "counter0" });
  counter.fill(0);
  for (let i = 0; i < 10; i++) launch(dev, null, tick, { counter });
  launch(dev, dev.defaultStream, tick, { counter });
  const out = new Uint32Array(1);
  counter.download(out);
  assert.equal(out[0], 11);
  dev.synchronize();
  assert.throws(() => dev.defaultStream.destroy(), { name: "FaultlineUsageError" });
});

Deno.test({ name: "event: waitEvent orders work across streams", ...ffiTest }, () => {
  const dev = testDevice();
  using a = dev.createStream();
  using b = dev.createStream();
  using ev = dev.createEvent();
  const n = 1 << 22; // 16 MiB of floats: long enough that b would overtake without the wait
  using src = dev.malloc(n * 4, { name: "src" });
  using dst = dev.malloc(n * 4, { name: "dst" });
  src.fill(0, { stream: a });
  launch(dev, a, faultFill, { dst: src, n, value: 3.25 });
  ev.record(a);
  b.waitEvent(ev);
  dst.copyFrom(src, { stream: b });
  b.synchronize();
  const out = new Float32Array(n);
  dst.download(out);
  assert.equal(out[0], 3.25);
  assert.equal(out[n - 1], 3.25);
  assert.ok(out.every((v) => v === 3.25));
  assert.equal(ev.query(), true);
});

Deno.test({ name: "event: elapsed time between two events", ...ffiTest }, () => {
  const dev = testDevice();
  using s = dev.createStream();
  using start = dev.createEvent();
  using end = dev.createEvent();
  const n = 1 << 22;
  using buf = dev.malloc(n * 4, { name: "timed" });
  start.record(s);
  for (let i = 0; i < 4; i++) launch(dev, s, faultFill, { dst: buf, n, value: i + 0.5 });
  end.record(s);
  end.synchronize();
  assert.equal(end.query(), true);
  const ms = end.elapsedMs(start);
  assert.ok(Number.isFinite(ms) && ms >= 0, `elapsed ${ms}`);
  assert.ok(ms < 60_000, `elapsed ${ms}`);
  const back = end.elapsedMs(end);
  assert.ok(Math.abs(back) < 1e-3 || back === 0);
});

Deno.test({ name: "event: record on the default stream", ...ffiTest }, () => {
  const dev = testDevice();
  using ev = dev.createEvent();
  ev.record();
  ev.synchronize();
  assert.equal(ev.query(), true);
});

Deno.test({ name: "async waits: stream, event and device", ...ffiTest }, async () => {
  const dev = testDevice();
  using s = dev.createStream();
  using ev = dev.createEvent();
  using counter = dev.malloc(4, { name: "async-counter" });
  counter.fill(0, { stream: s });
  for (let i = 0; i < 100; i++) launch(dev, s, tick, { counter });
  ev.record(s);
  await ev.synchronizeAsync();
  await s.synchronizeAsync();
  await dev.synchronizeAsync();
  const out = new Uint32Array(1);
  counter.download(out);
  assert.equal(out[0], 100);
});

Deno.test({ name: "stream/event: destroy and dispose", ...ffiTest }, () => {
  const dev = testDevice();
  const s = dev.createStream();
  const e = dev.createEvent();
  s.destroy();
  e.destroy();
  assert.equal(s.destroyed, true);
  assert.equal(e.destroyed, true);
  s[Symbol.dispose]();
  e[Symbol.dispose]();
});
