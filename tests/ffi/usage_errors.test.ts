/**
 * Bad input is refused in TypeScript with a FaultlineUsageError before any
 * native call: an observer on the boundary sees no call for any of these.
 */
import assert from "node:assert/strict";
import {
  boundary,
  Device,
  faultFill,
  FaultlineUsageError,
  faultWriteAt,
  launch,
  type NativeCall,
  tick,
} from "../../mod.ts";
import { ffiTest, testDevice, testRuntime } from "../helpers/env.ts";
import { runChild } from "../helpers/child.ts";

/** Runs fn, expects a FaultlineUsageError matching `re`, and checks no native call was attempted. */
function refused(fn: () => unknown, re: RegExp): void {
  const seen: NativeCall[] = [];
  const detach = boundary.attach({ before: (c) => void seen.push(c) });
  try {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof FaultlineUsageError, `expected FaultlineUsageError, got ${e}`);
      assert.match((e as Error).message, re);
      return true;
    });
  } finally {
    detach();
  }
  assert.deepEqual(seen.map((c) => `${c.kind} ${c.name}`), [], "no native call before a usage error");
}

/** A device that is not device 0: the real device 1 where there is one, else a stand-in ordinal. */
function otherDevice(): Device {
  const rt = testRuntime();
  return rt.deviceCount > 1 ? rt.device(1) : new Device(rt.symbols, 1);
}

const BAD_SIZES: [unknown, string][] = [
  [-1, "negative"],
  [NaN, "NaN"],
  [1.5, "non-integer"],
  [2 ** 53, "2^53"],
  [2 ** 60, "above 2^53"],
  [Infinity, "Infinity"],
  ["16", "a string"],
  [16n, "a bigint"],
];

Deno.test({ name: "usage: bad sizes and offsets", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(4096, { name: "sizes" });
  const host = new Uint8Array(16);
  for (const [v, what] of BAD_SIZES) {
    const n = v as number;
    refused(() => dev.malloc(n), /malloc: bytes must be a non-negative integer below 2\^53/);
    refused(() => dev.hostAlloc(n), /hostAlloc: bytes must be/);
    refused(() => dev.malloc(16, { redzone: n }), /redzone must be/);
    refused(() => buf.upload(host, { offset: n }), /offset must be/);
    refused(() => buf.download(host, { offset: n }), /offset must be/);
    refused(() => buf.upload(host, { bytes: n }), /bytes must be/);
    refused(() => buf.copyFrom(buf, { bytes: n }), /bytes must be/);
    refused(() => buf.copyFrom(buf, { srcOffset: n }), /srcOffset must be/);
    refused(() => buf.copyFrom(buf, { dstOffset: n }), /dstOffset must be/);
    refused(() => buf.fill(1, { offset: n }), /offset must be/);
    refused(() => buf.fill(1, { bytes: n }), /bytes must be/);
    refused(() => buf.at(n), /offset must be/);
    assert.ok(what);
  }
  refused(() => buf.fill(256), /value must be a byte/);
  refused(() => buf.fill(-1), /value must be a byte/);
  refused(() => buf.fill(0.5), /value must be a byte/);
});

Deno.test({ name: "usage: copies past either side's end", ...ffiTest }, () => {
  const dev = testDevice();
  using a = dev.malloc(1000, { name: "a" });
  using b = dev.malloc(500, { name: "b" });
  refused(
    () => a.upload(new Uint8Array(1001)),
    /upload to a: device buffer "a".*1001 bytes at offset 0 run past its end \(1000 bytes\)/,
  );
  refused(() => a.upload(new Uint8Array(100), { offset: 901 }), /100 bytes at offset 901 run past its end/);
  refused(() => a.upload(new Uint8Array(100), { bytes: 101 }), /host source/);
  refused(() => a.download(new Uint8Array(1001)), /download from a: device buffer/);
  refused(() => a.download(new Uint8Array(10), { offset: 995 }), /run past its end/);
  refused(() => a.download(new Uint8Array(10), { bytes: 11 }), /host destination/);
  refused(() => b.copyFrom(a), /destination "b"/); // 1000 bytes into 500
  refused(() => a.copyFrom(b, { srcOffset: 100, bytes: 401 }), /source "b"/);
  refused(() => a.copyFrom(b, { srcOffset: 501 }), /source "b"/);
  refused(() => a.copyFrom(b, { dstOffset: 600 }), /destination "a"/);
  refused(() => a.fill(1, { offset: 900, bytes: 101 }), /run past its end/);
  refused(() => a.at(1001), /run past its end/);
  const pin = dev.hostAlloc(64);
  refused(() => a.upload(pin, { bytes: 65 }), /host source/);
  refused(() => dev.copyHost(new Uint8Array(10), new Uint8Array(11)), /copyHost: destination/);
  refused(() => dev.copyHost(new Uint8Array(10), new Uint8Array(5), { bytes: 6 }), /copyHost: source/);
  pin.free();
  refused(() => a.upload("abc" as unknown as Uint8Array), /must be an ArrayBufferView or a PinnedBuffer/);
  refused(() => a.copyFrom(new Uint8Array(4) as unknown as typeof a), /source must be a DeviceBuffer/);
});

Deno.test({ name: "usage: freed buffers, destroyed streams and events", ...ffiTest }, () => {
  const dev = testDevice();
  const gone = dev.malloc(256, { name: "gone" });
  using live = dev.malloc(256, { name: "live" });
  gone.free();
  const host = new Uint8Array(16);
  refused(() => gone.upload(host), /device buffer "gone".* was already freed/);
  refused(() => gone.download(host), /already freed/);
  refused(() => gone.fill(0), /already freed/);
  refused(() => gone.at(0), /already freed/);
  refused(() => gone.free(), /already freed/);
  refused(() => live.copyFrom(gone), /"gone".*already freed/);
  refused(() => gone.copyFrom(live), /"gone".*already freed/);
  refused(
    () => launch(dev, null, tick, { counter: gone }),
    /launch tick: argument counter: device buffer "gone".*already freed/,
  );
  const slice = live.at(16);
  live.free();
  refused(() => launch(dev, null, tick, { counter: slice }), /already freed/);

  const pin = dev.hostAlloc(64, { name: "pin" });
  pin.free();
  refused(() => pin.free(), /pinned buffer "pin".*already freed/);
  using other = dev.malloc(64);
  refused(() => other.upload(pin), /pinned buffer "pin".*already freed/);

  const s = dev.createStream();
  s.destroy();
  using buf = dev.malloc(64, { name: "buf" });
  refused(() => s.synchronize(), /stream \d+ was already destroyed/);
  refused(() => s.query(), /already destroyed/);
  refused(() => s.destroy(), /already destroyed/);
  refused(() => buf.upload(host, { stream: s }), /already destroyed/);
  refused(() => buf.fill(0, { stream: s }), /already destroyed/);
  refused(() => launch(dev, s, tick, { counter: buf }), /already destroyed/);

  const e = dev.createEvent();
  e.destroy();
  using s2 = dev.createStream();
  using e2 = dev.createEvent();
  refused(() => e.record(s2), /event \d+ was already destroyed/);
  refused(() => e.synchronize(), /already destroyed/);
  refused(() => e.query(), /already destroyed/);
  refused(() => s2.waitEvent(e), /already destroyed/);
  refused(() => e2.elapsedMs(e), /already destroyed/);
  refused(() => e.destroy(), /already destroyed/);
  refused(() => e2.record(s), /stream \d+ was already destroyed/);
});

Deno.test({ name: "usage: objects of another device", ...ffiTest }, () => {
  const dev = testDevice();
  const dev1 = otherDevice();
  using buf = dev.malloc(64, { name: "on0" });
  using s = dev.createStream();
  using e = dev.createEvent();
  // objects of device 0 passed to device 1's calls, and a device-1 stand-in stream
  refused(() => launch(dev1, null, tick, { counter: buf }), /belongs to device 0, not device 1/);
  refused(
    () => launch(dev1, s, faultWriteAt, { addr: 0x1000, value: 1 }),
    /stream belongs to device 0, not device 1/,
  );
  refused(() => dev1.copyHost(new Uint8Array(4), new Uint8Array(4), { stream: s }), /belongs to device 0/);
  if (testRuntime().deviceCount > 1) {
    using buf1 = dev1.malloc(64, { name: "on1" });
    using s1 = dev1.createStream();
    using e1 = dev1.createEvent();
    refused(() => buf.copyFrom(buf1), /"on1".*belongs to device 1, not device 0/);
    refused(() => buf.upload(new Uint8Array(4), { stream: s1 }), /belongs to device 1, not device 0/);
    refused(() => s.waitEvent(e1), /belongs to device 1, not device 0/);
    refused(() => e.elapsedMs(e1), /belongs to device 1, not device 0/);
    refused(() => e1.record(s), /belongs to device 0, not device 1/);
  }
});

Deno.test({ name: "usage: kernel arguments", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(64, { name: "k" });
  // deliberately ill-typed arguments, as untyped callers could pass them
  // deno-lint-ignore no-explicit-any
  const bad = (a: Record<string, unknown>) => a as any;
  refused(
    () => launch(dev, null, faultFill, bad({ dst: buf, n: 16 })),
    /launch fault_fill: missing argument value/,
  );
  refused(() => launch(dev, null, faultFill, bad({ n: 16, value: 1 })), /missing argument dst/);
  refused(
    () => launch(dev, null, faultFill, bad({ dst: buf, n: -1, value: 1 })),
    /argument n must be a non-negative integer/,
  );
  refused(() => launch(dev, null, faultFill, bad({ dst: buf, n: 1.5, value: 1 })), /argument n must be/);
  refused(
    () => launch(dev, null, faultFill, bad({ dst: buf, n: 16, value: "1" })),
    /argument value must be a number/,
  );
  refused(
    () => launch(dev, null, faultFill, bad({ dst: "buf", n: 16, value: 1 })),
    /argument dst must be a DeviceBuffer/,
  );
  refused(() => launch(dev, null, faultFill, bad({ dst: -4, n: 16, value: 1 })), /argument dst must be/);
  refused(() => launch(dev, null, faultFill, bad({ dst: NaN, n: 16, value: 1 })), /argument dst must be/);
  refused(() => launch(dev, null, faultWriteAt, bad({ addr: 2 ** 53, value: 1 })), /argument addr must be/);
  refused(() => testRuntime().device(99), /no device 99/);
});

Deno.test("usage: a pinned buffer's views are detached by free(); using one is refused, not a crash", async () => {
  const r = await runChild("pinned_child.ts", { FAULTLINE_QUIET: "1" });
  assert.equal(r.code, 0, `child exited ${r.code}: ${r.stderr}`);
  assert.ok(r.json, r.stdout);
  assert.deepEqual(r.json.lengths, [0, 0]);
  assert.deepEqual(r.json.read, [null, null]);
  for (const m of r.json.refusals as string[]) {
    assert.match(m, /upload to dst: source: its memory was freed \(the view's ArrayBuffer is detached\)/);
  }
  assert.match(String(r.json.viewAfter), /pinned buffer "pin".*was already freed/);
});

Deno.test({ name: "usage: arguments of the wrong type are usage errors, not TypeErrors", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(64, { name: "typed" });
  using s = dev.createStream();
  using e = dev.createEvent();
  const host = new Uint8Array(4);
  // deliberately ill-typed arguments, as untyped callers could pass them
  // deno-lint-ignore no-explicit-any
  const bad = (v: unknown) => v as any;
  refused(() => dev.malloc(8, bad(null)), /malloc: options must be an object, got null/);
  refused(() => dev.malloc(8, bad(5)), /malloc: options must be an object, got 5/);
  refused(() => dev.malloc(8, bad({ name: 5 })), /malloc: name must be a string, got 5/);
  refused(() => dev.hostAlloc(8, bad(null)), /hostAlloc: options must be an object/);
  refused(() => dev.hostAlloc(8, bad({ name: {} })), /hostAlloc: name must be a string, got an Object/);
  refused(() => buf.upload(host, bad(null)), /upload to typed: options must be an object/);
  refused(() => buf.download(host, bad(5)), /download from typed: options must be an object/);
  refused(() => buf.copyFrom(buf, bad(null)), /options must be an object/);
  refused(() => buf.fill(0, bad(null)), /fill typed: options must be an object/);
  refused(() => dev.copyHost(host, host, bad(null)), /copyHost: options must be an object/);
  refused(() => buf.upload(host, { stream: bad("s") }), /upload to typed: stream must be a Stream, got "s"/);
  refused(() => buf.upload(host, { stream: bad({}) }), /stream must be a Stream, got an Object/);
  refused(() => buf.fill(0, { stream: bad(buf) }), /stream must be a Stream, got a DeviceBuffer/);
  refused(() => launch(dev, bad("s"), tick, { counter: buf }), /launch tick: stream must be a Stream/);
  refused(() => launch(dev, bad(buf), tick, { counter: buf }), /stream must be a Stream, got a DeviceBuffer/);
  refused(() => s.waitEvent(bad(42)), /stream waitEvent: event must be an Event, got 42/);
  refused(() => s.waitEvent(bad(null)), /event must be an Event, got null/);
  refused(() => e.record(bad("x")), /event record: stream must be a Stream, got "x"/);
  refused(() => e.record(bad({})), /stream must be a Stream/);
  refused(() => e.elapsedMs(bad(null)), /event elapsedMs: since must be an Event, got null/);
  refused(() => e.elapsedMs(bad(buf)), /since must be an Event, got a DeviceBuffer/);
  refused(() => buf.copyFrom(bad({ ptr: 0, bytes: 64, name: "fake" })), /source must be a DeviceBuffer/);
  refused(() => buf.upload(bad({ ptr: 0, bytes: 64 })), /must be an ArrayBufferView or a PinnedBuffer/);
});
