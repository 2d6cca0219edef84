/** Devices, memory and copies: props, round trips in all four directions, sync and async, pinned and pageable. */
import assert from "node:assert/strict";
import { DeviceBuffer, MemcpyKind } from "../../mod.ts";
import { ffiTest, testDevice, testRuntime } from "../helpers/env.ts";
import { equalBytes, randomBytes, randomFloats } from "../helpers/random.ts";

const MiB = 1 << 20;

Deno.test({ name: "runtime: backend and device count", ...ffiTest }, () => {
  const rt = testRuntime();
  assert.ok(["sim", "cuda", "hip"].includes(rt.backend), rt.backend);
  assert.ok(rt.deviceCount >= 1);
  assert.equal(rt.device(0), rt.device(0), "devices are cached");
  assert.equal(rt.devices().length, rt.deviceCount);
});

Deno.test({ name: "device: props are sane", ...ffiTest }, () => {
  const p = testDevice().props;
  assert.equal(typeof p.name, "string");
  assert.ok(p.name.length > 0);
  assert.ok(p.totalMem >= 64 * MiB, `totalMem ${p.totalMem}`);
  assert.ok(p.maxThreadsPerBlock >= 256 && p.maxThreadsPerBlock <= 4096);
  assert.ok([32, 64].includes(p.warpSize), `warpSize ${p.warpSize}`);
  assert.ok(p.multiprocessorCount >= 1);
  assert.ok(p.maxGrid[0] >= 65535 && p.maxGrid[1] >= 1 && p.maxGrid[2] >= 1);
  assert.ok(p.maxBlock[0] >= 256 && p.maxBlock[0] <= p.maxThreadsPerBlock);
  assert.ok(p.major >= 0 && p.minor >= 0);
});

Deno.test({ name: "device: memInfo tracks an allocation", ...ffiTest }, () => {
  const dev = testDevice();
  const before = dev.memInfo();
  assert.ok(before.total > 0 && before.free <= before.total);
  using buf = dev.malloc(64 * MiB, { name: "meminfo" });
  const during = dev.memInfo();
  assert.equal(during.total, before.total);
  assert.ok(during.free <= during.total);
  if (testRuntime().backend === "sim") {
    // sim's device is this process's own; a GPU is shared with the other test processes
    assert.ok(before.free - during.free >= 64 * MiB, `free ${before.free} -> ${during.free}`);
  }
  assert.ok(buf.ptr > 0);
});

Deno.test({ name: "memory: upload/download round trip (pageable, sync)", ...ffiTest }, () => {
  const dev = testDevice();
  const data = randomBytes(3 * MiB + 123);
  using buf = dev.malloc(data.byteLength, { name: "roundtrip" });
  assert.equal(buf.bytes, data.byteLength);
  assert.equal(buf.name, "roundtrip");
  assert.equal(buf.device, dev);
  buf.upload(data);
  const back = new Uint8Array(data.byteLength);
  buf.download(back);
  assert.ok(equalBytes(back, data));
});

Deno.test({ name: "memory: typed arrays, offsets and partial copies", ...ffiTest }, () => {
  const dev = testDevice();
  const f = randomFloats(4096);
  using buf = dev.malloc(f.byteLength * 2, { name: "floats" });
  buf.upload(f, { offset: f.byteLength });
  const back = new Float32Array(4096);
  buf.download(back, { offset: f.byteLength });
  assert.deepEqual(back, f);
  // a view with a byteOffset into a larger ArrayBuffer
  const big = randomBytes(10000);
  const view = big.subarray(1000, 9000);
  buf.upload(view, { offset: 4 });
  const out = new Uint8Array(8000);
  buf.download(out, { offset: 4 });
  assert.ok(equalBytes(out, view));
  // bytes: copy only a prefix
  const part = new Uint8Array(100).fill(0xee);
  buf.download(part, { offset: 4, bytes: 50 });
  assert.ok(equalBytes(part.subarray(0, 50), view.subarray(0, 50)));
  assert.ok(part.subarray(50).every((b) => b === 0xee));
});

Deno.test(
  { name: "memory: all four copy directions, sync and async, pinned and pageable", ...ffiTest },
  () => {
    const dev = testDevice();
    const n = 2 * MiB + 4096;
    using stream = dev.createStream();
    for (const mode of ["sync", "async"] as const) {
      const opts = mode === "async" ? { stream } : {};
      const sync = () => mode === "async" && stream.synchronize();
      // H2D from pageable, D2H to pinned
      const a = randomBytes(n);
      using d1 = dev.malloc(n, { name: `d1-${mode}` });
      d1.upload(a, opts);
      sync();
      using pin = dev.hostAlloc(n);
      pin.view.fill(0);
      d1.download(pin, opts);
      sync();
      assert.ok(equalBytes(pin.view, a), `H2D pageable -> D2H pinned (${mode})`);
      // H2D from pinned, D2H to pageable
      const b = randomBytes(n);
      pin.view.set(b);
      d1.upload(pin, opts);
      sync();
      const back = new Uint8Array(n);
      d1.download(back, opts);
      sync();
      assert.ok(equalBytes(back, b), `H2D pinned -> D2H pageable (${mode})`);
      // D2D
      using d2 = dev.malloc(n, { name: `d2-${mode}` });
      d2.copyFrom(d1, opts);
      sync();
      const back2 = new Uint8Array(n);
      d2.download(back2);
      assert.ok(equalBytes(back2, b), `D2D (${mode})`);
      // D2D with offsets
      d2.copyFrom(d1, { ...opts, srcOffset: 100, dstOffset: 7, bytes: 5000 });
      sync();
      const win = new Uint8Array(5000);
      d2.download(win, { offset: 7 });
      assert.ok(equalBytes(win, b.subarray(100, 5100)), `D2D with offsets (${mode})`);
      // H2H, pageable and pinned
      const c = randomBytes(n);
      dev.copyHost(pin, c, opts);
      sync();
      assert.ok(equalBytes(pin.view, c), `H2H pageable -> pinned (${mode})`);
      const d = new Uint8Array(n);
      dev.copyHost(d, pin, opts);
      sync();
      assert.ok(equalBytes(d, c), `H2H pinned -> pageable (${mode})`);
    }
    assert.deepEqual(MemcpyKind, { H2H: 0, H2D: 1, D2H: 2, D2D: 3 });
  },
);

Deno.test({ name: "memory: pinned buffer view and free", ...ffiTest }, () => {
  const dev = testDevice();
  const pin = dev.hostAlloc(8192, { name: "pin" });
  assert.equal(pin.view.byteLength, 8192);
  assert.equal(pin.buffer.byteLength, 8192);
  const r = randomBytes(8192);
  pin.view.set(r);
  assert.ok(equalBytes(new Uint8Array(pin.buffer), r));
  pin.free();
  assert.ok(pin.freed);
  assert.throws(() => pin.view, { name: "FaultlineUsageError" });
});

Deno.test({ name: "memory: fill (memset), sync and on a stream, whole and partial", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(1 * MiB + 17, { name: "fill" });
  buf.upload(randomBytes(buf.bytes));
  buf.fill(0xab);
  const out = new Uint8Array(buf.bytes);
  buf.download(out);
  assert.ok(out.every((b) => b === 0xab));
  using s = dev.createStream();
  buf.fill(0x5c, { stream: s, offset: 1000, bytes: 3000 });
  s.synchronize();
  buf.download(out);
  assert.ok(out.subarray(0, 1000).every((b) => b === 0xab));
  assert.ok(out.subarray(1000, 4000).every((b) => b === 0x5c));
  assert.ok(out.subarray(4000).every((b) => b === 0xab));
});

Deno.test({ name: "memory: at() gives sub-range pointers", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(4096, { name: "slices" });
  const s = buf.at(1024);
  assert.equal(s.ptr, buf.ptr + 1024);
  assert.equal(s.bytes, 3072);
  assert.equal(s.buffer, buf);
  assert.equal(buf.at(4096).bytes, 0);
});

Deno.test({ name: "memory: redzones around a buffer", ...ffiTest }, () => {
  const dev = testDevice();
  const buf = dev.malloc(1000, { name: "guarded", redzone: 4096 });
  assert.equal(buf.redzone, 4096);
  assert.equal(buf.ptr, buf.base + 4096);
  assert.equal(buf.allocBytes, 4096 + 1024 + 4096);
  assert.equal(buf.bytes, 1000);
  const data = randomBytes(1000);
  buf.upload(data);
  const back = new Uint8Array(1000);
  buf.download(back);
  assert.ok(equalBytes(back, data));
  assert.throws(() => buf.upload(new Uint8Array(1001)), { name: "FaultlineUsageError" });
  // odd redzones round up to 256 so ptr keeps its alignment
  using odd = dev.malloc(10, { redzone: 100 });
  assert.equal(odd.redzone, 256);
  assert.equal(odd.allocBytes, 256 + 256 + 256);
  assert.equal(odd.ptr % 256, buf.ptr % 256);
  buf.free();
  assert.ok(buf.freed);
  // a plain buffer has no redzone
  using plain = dev.malloc(1000);
  assert.equal(plain.base, plain.ptr);
  assert.equal(plain.redzone, 0);
  assert.equal(plain.allocBytes, 1000);
  assert.ok(plain instanceof DeviceBuffer);
});

Deno.test({ name: "memory: free and dispose", ...ffiTest }, () => {
  const dev = testDevice();
  const buf = dev.malloc(4096, { name: "freed" });
  assert.equal(buf.freed, false);
  buf.free();
  assert.equal(buf.freed, true);
  {
    using b2 = dev.malloc(4096, { name: "scoped" });
    assert.equal(b2.freed, false);
  }
  // dispose after an explicit free is a no-op
  const b3 = dev.malloc(16);
  b3.free();
  b3[Symbol.dispose]();
});
