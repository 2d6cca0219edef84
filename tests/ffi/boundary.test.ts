/** The instrumented boundary: what observers see for each kind of call, and blocking a call. */
import assert from "node:assert/strict";
import { boundary, faultFill, launch, type NativeCall, tick } from "../../mod.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

interface Seen {
  call: NativeCall;
  status?: number;
  result?: number;
}

function observe(fn: () => void): Seen[] {
  const seen: Seen[] = [];
  const detach = boundary.attach({
    before: (call) => void seen.push({ call }),
    after: (call, status, result) => {
      const s = seen.find((x) => x.call === call)!;
      s.status = status;
      s.result = result;
    },
  });
  try {
    fn();
  } finally {
    detach();
  }
  return seen;
}

/** One call of every kind the boundary describes, on a buffer with redzones; the buffer's address and base. */
function callEveryKind(
  dev: ReturnType<typeof testDevice>,
  host: Float32Array,
): { ptr: number; base: number } {
  const n = host.length;
  const s = dev.createStream();
  const e = dev.createEvent();
  const buf = dev.malloc(n * 4, { name: "x", redzone: 256 });
  const where = { ptr: buf.ptr, base: buf.base };
  buf.upload(host, { stream: s });
  launch(dev, s, faultFill, { dst: buf.at(64), n: 16, value: 2 });
  e.record(s);
  s.waitEvent(e);
  s.synchronize();
  buf.download(new Float32Array(n));
  buf.fill(0, { stream: s });
  s.query();
  e.synchronize();
  dev.synchronize();
  buf.free();
  e.destroy();
  s.destroy();
  return where;
}

Deno.test({ name: "boundary: every device call is described before and after", ...ffiTest }, () => {
  const dev = testDevice();
  const n = 1024;
  const host = new Float32Array(n).map((_, i) => i + 0.5);
  let bufPtr = 0;
  let bufBase = 0;
  boundary.context = { step: 3, layer: 7, op: "test op" };
  const seen = observe(() => {
    ({ ptr: bufPtr, base: bufBase } = callEveryKind(dev, host));
  });
  boundary.context = {};
  const kinds = seen.map((s) => s.call.kind);
  assert.deepEqual(kinds, [
    "stream_create",
    "event_create",
    "alloc",
    "h2d",
    "launch",
    "event_record",
    "event_wait",
    "sync",
    "d2h",
    "memset",
    "query",
    "sync",
    "sync",
    "free",
    "event_destroy",
    "stream_destroy",
  ]);
  const ids = seen.map((s) => s.call.id);
  assert.ok(ids.every((id, i) => i === 0 || id === ids[i - 1] + 1), "ids increase by one");
  // every call succeeded; a query may also answer 600 (not ready: the memset may still run)
  const failed = seen.filter((s) => s.status !== 0 && !(s.call.kind === "query" && s.status === 600));
  assert.deepEqual(failed.map((s) => `${s.call.kind} ${s.call.name}: ${s.status}`), []);
  for (const s of seen) assert.deepEqual(s.call.context, { step: 3, layer: 7, op: "test op" });

  const [sc, ec, alloc, h2d, kl, rec, wait, , d2h, memset] = seen;
  const stream = sc.result!;
  assert.ok(stream > 0);
  assert.ok(ec.result! > 0);
  assert.equal(alloc.call.name, "x");
  assert.deepEqual(alloc.call.scalars, { bytes: n * 4, redzone: 256, allocBytes: 256 + n * 4 + 256 });
  assert.equal(alloc.result, bufBase, "alloc reports the native allocation's base");
  assert.equal(bufPtr, bufBase + 256);

  assert.equal(h2d.call.stream, stream);
  assert.deepEqual(h2d.call.pointers, [{ arg: "dst", ptr: bufPtr, bytes: n * 4, access: "w", elem: 1 }]);
  assert.ok(h2d.call.host! > 0);

  assert.equal(kl.call.name, "fault_fill");
  assert.equal(kl.call.stream, stream);
  assert.deepEqual(kl.call.scalars, { n: 16, value: 2 });
  assert.deepEqual(kl.call.pointers, [{ arg: "dst", ptr: bufPtr + 64, bytes: 64, access: "w", elem: 4 }]);

  assert.equal(rec.call.event, ec.result);
  assert.equal(wait.call.event, ec.result);
  assert.equal(wait.call.stream, stream);
  assert.deepEqual(d2h.call.pointers, [{ arg: "src", ptr: bufPtr, bytes: n * 4, access: "r", elem: 1 }]);
  assert.equal(d2h.call.stream, 0);
  assert.deepEqual(memset.call.scalars, { value: 0, bytes: n * 4, sync: 0 });
  assert.equal(seen[13].call.scalars.ptr, bufBase, "free names the base it frees");
});

Deno.test({ name: "boundary: an observer that throws blocks the native call", ...ffiTest }, () => {
  const dev = testDevice();
  using counter = dev.malloc(4, { name: "blocked-counter" });
  counter.fill(0);
  const after: number[] = [];
  const detach = boundary.attach({
    before: (c) => {
      if (c.kind === "launch") throw new Error(`blocked ${c.name}`);
    },
    after: (c) => void after.push(c.id),
  });
  try {
    assert.throws(() => launch(dev, null, tick, { counter }), /blocked tick/);
  } finally {
    detach();
  }
  assert.deepEqual(after, [], "a blocked call has no after");
  const out = new Uint32Array(1);
  counter.download(out);
  assert.equal(out[0], 0, "the kernel never ran");
  assert.equal(boundary.active, false);
});

Deno.test({ name: "boundary: failed calls report their status", ...ffiTest }, () => {
  const dev = testDevice();
  // an impossible allocation fails on every backend (sim caps memory; a GPU has no 1 PiB)
  const seen = observe(() =>
    assert.throws(() => dev.malloc(2 ** 50, { name: "huge" }), { name: "FaultlineError" })
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0].call.kind, "alloc");
  assert.equal(seen[0].status, 2);
  assert.equal(seen[0].result, undefined);
});
