/**
 * Usage errors as findings: every message the runtime's lifetime checks give
 * (real errors, from the device) parses into the refused call, the object and
 * its rule; the journal names the op that released the object.
 */
import assert from "node:assert/strict";
import { faultFill, FaultlineUsageError, launch } from "../../../mod.ts";
import { parseUsage, RULES, usageCause, usageFinding } from "../../../scripts/forensics/usage.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";
import type { OpRecord } from "../../../records.ts";

function refused(f: () => void): FaultlineUsageError {
  try {
    f();
  } catch (e) {
    if (e instanceof FaultlineUsageError) return e;
    throw e;
  }
  assert.fail("not refused");
}

Deno.test(
  { name: "usage: each lifetime message names the call, the object and its rule", ...ffiTest },
  () => {
    const d = testDevice();
    const buf = d.malloc(1024, { name: "kv cache" });
    buf.free();
    const s = d.createStream();
    s.destroy();
    const e = d.createEvent();
    e.destroy();
    const pinned = d.hostAlloc(64, { name: "staging" });
    pinned.free();
    const cases: [() => void, string, string, string, string][] = [
      [() => buf.free(), "free", "kv cache", "kv cache", RULES.buffer],
      [() => buf.upload(new Uint8Array(16)), "h2d", "kv cache", "kv cache", RULES.buffer],
      [() => buf.fill(0), "memset", "kv cache", "kv cache", RULES.buffer],
      [
        () => launch(d, null, faultFill, { dst: buf, n: 4, value: 1 }),
        "launch",
        "fault_fill",
        "dst",
        RULES.buffer,
      ],
      [
        () => launch(d, s, faultFill, { dst: 0, n: 4, value: 1 }),
        "launch",
        "fault_fill",
        "stream",
        RULES.stream,
      ],
      [() => d.defaultStream.waitEvent(e), "event_wait", "stream_wait_event", "event", RULES.event],
      [() => e.record(), "event_record", "event_record", "event", RULES.event],
      [() => s.synchronize(), "sync", "stream_synchronize", "stream", RULES.stream],
      [() => pinned.free(), "host_free", "staging", "staging", RULES.pinned],
    ];
    for (const [call, kind, name, argument, rule] of cases) {
      const err = refused(call);
      const f = usageFinding(err.message, err.context, 99);
      assert.deepEqual(
        { kind: f.kind, name: f.name, argument: f.argument, invariant: f.invariant },
        { kind, name, argument, invariant: rule },
        err.message,
      );
    }
  },
);

Deno.test({ name: "usage: the error keeps the op context it was made in", ...ffiTest }, async () => {
  const { boundary } = await import("../../../mod.ts");
  const d = testDevice();
  const buf = d.malloc(64, { name: "x" });
  buf.free();
  boundary.context = { step: 4, layer: 2, op: "RoPE Q" };
  const err = refused(() => buf.free());
  boundary.context = {};
  const f = usageFinding(err.message, err.context, 7);
  assert.deepEqual([f.op, f.step, f.layer, f.label], [7, 4, 2, "RoPE Q"]);
});

Deno.test("usage: a bad value has the generic rule; the cause is the last release before the refused op", () => {
  const v = parseUsage("malloc: bytes must be a non-negative integer below 2^53, got -1");
  assert.equal(v.object.kind, "value");
  const rec = (id: number, kind: string, name: string, extra: Partial<OpRecord> = {}): OpRecord => ({
    id,
    kind,
    name,
    stream: 0,
    scalars: {},
    pointers: [],
    status: 0,
    ...extra,
  });
  const journal = [
    rec(1, "alloc", "x"),
    rec(2, "free", "x", { step: 1 }),
    rec(3, "alloc", "x"),
    rec(4, "free", "x", { step: 2 }),
    rec(5, "stream_destroy", "stream_destroy", { stream: 9 }),
  ];
  const f = usageFinding('free x: device buffer "x" (4 bytes at 0x10, device 0) was already freed', {}, 6);
  assert.equal(usageCause(f, journal)?.id, 4);
  const g = usageFinding("launch k: stream 9 was already destroyed", {}, 6);
  assert.equal(usageCause(g, journal)?.id, 5);
  assert.equal(usageCause({ ...f, op: 2 }, journal), null, "nothing released it before op 2");
});
