/**
 * The quarantine of freed device memory: frees held past the allocator,
 * released oldest first past the byte or count budget and all at close; a
 * stale pointer into a held range is a use after free that names the free.
 */
import assert from "node:assert/strict";
import { faultFill, launch, type NativeCall } from "../../../mod.ts";
import { Quarantine } from "../../../scripts/audit/quarantine.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

const free = (id: number, bytes: number) =>
  ({ id, kind: "free", scalars: { bytes } }) as unknown as NativeCall;

Deno.test("quarantine: oldest released first past the count or byte budget; too big is never held", () => {
  const released: number[] = [];
  const q = new Quarantine({ count: 2, bytes: 1000 });
  const hold = (id: number, bytes: number) => q.hold(free(id, bytes), () => (released.push(id), 0));
  assert.ok(hold(1, 100) && hold(2, 100));
  assert.deepEqual(released, []);
  assert.ok(hold(3, 100));
  assert.deepEqual(released, [1], "count budget: the oldest goes");
  assert.ok(hold(4, 850));
  assert.deepEqual(released, [1, 2], "byte budget: 100 + 100 + 850 > 1000, the oldest goes");
  assert.ok(hold(6, 900));
  assert.deepEqual(released, [1, 2, 3, 4], "as many of the oldest as it takes");
  assert.equal(hold(5, 1001), false, "larger than the whole budget: freed at once");
  assert.deepEqual([q.heldCount, q.heldBytes], [1, 900]);
  q.releaseAll();
  assert.deepEqual(released, [1, 2, 3, 4, 6]);
  assert.equal(q.heldCount, 0);
});

Deno.test("quarantine: a failed release (a poisoned context) is remembered, not thrown", () => {
  const q = new Quarantine({ count: 0 });
  assert.equal(q.hold(free(1, 8), () => 0), false, "count 0: nothing is held");
  const r = new Quarantine({ count: 1 });
  r.hold(free(1, 8), () => 700);
  r.releaseAll();
  assert.equal(r.lastError, 700);
});

Deno.test("quarantine: in a session, held frees keep their memory until released; a stale use names the free", () => {
  const device = testDevice();
  const MiB = 1 << 26; // 64 MiB buffers: other allocations of the process are noise next to them
  const near = (got: number, want: number, what: string) =>
    assert.ok(Math.abs(got - want) < MiB / 8, `${what}: ${got}`);
  const before = device.memInfo().free;
  const audit = openAudit({
    device,
    reportDir: reportDir(),
    mode: "audit",
    quarantine: { count: 2, onSim: true },
  });
  const bufs = [0, 1, 2].map((i) => device.malloc(MiB, { name: `b${i}` }));
  const stale = bufs[1].ptr;
  for (const b of bufs) b.free();
  assert.equal(audit.quarantine?.heldCount, 2);
  near(before - device.memInfo().free, 2 * MiB, "b1 and b2 still allocated; b0 released");
  launch(device, null, faultFill, { dst: stale, n: 4, value: 1 });
  const f = audit.findings.find((x) => x.rail === "use_after_free");
  assert.ok(f, JSON.stringify(audit.findings));
  assert.equal(f.allocation?.name, "b1");
  assert.match(f.detail, /freed by op \d+/);
  audit.close();
  near(before - device.memInfo().free, 0, "every held free released at close");
});

Deno.test("quarantine: on by default on GPUs, off on sim unless asked (its allocator keeps freed ranges unmapped)", async () => {
  const { runtime } = await import("../../../mod.ts");
  const device = testDevice();
  const sim = runtime().backend === "sim";
  const byDefault = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  assert.equal(byDefault.quarantine === null, sim);
  byDefault.close();
  const off = openAudit({ device, reportDir: reportDir(), mode: "audit", quarantine: false });
  assert.equal(off.quarantine, null);
  off.close();
});
