import assert from "node:assert/strict";
import { Registry } from "../../ffi/registry.ts";
import { memcpy } from "../../ffi/buffer.ts";
import { openAudit } from "../../scripts/audit/session.ts";
import { GuardBlocked } from "../../scripts/guards/index.ts";
import { reportDir, testDevice } from "../helpers/audit_device.ts";
import type { AllocationInfo } from "../../records.ts";

function info(id: number, base: number, bytes: number, redzone = 0, name = `a${id}`): AllocationInfo {
  const allocBytes = redzone ? redzone + Math.ceil(bytes / 256) * 256 + redzone : bytes;
  return {
    id,
    ptr: base + redzone,
    bytes,
    name,
    align: 256,
    device: 0,
    base,
    allocBytes,
    redzone,
    host: false,
  };
}

Deno.test("registry: any address resolves to (allocation, offset); freed ranges are kept", () => {
  const r = new Registry();
  r.add(info(1, 0x1000, 0x100));
  r.add(info(2, 0x3000, 0x100, 256, "kv"));
  r.add(info(3, 0x2000, 0x80));
  assert.deepEqual(r.live().map((a) => a.id), [1, 3, 2]); // address order
  assert.deepEqual(r.resolve(0x1010), {
    id: 1,
    name: "a1",
    offset: 0x10,
    size: 0x100,
    state: "live",
    placement: "inside",
  });
  assert.equal(r.resolve(0x1100), null); // one past the end of a1, no redzone
  assert.equal(r.resolve(0x3000)?.placement, "redzone_before");
  assert.equal(r.resolve(0x3000)?.offset, -256);
  assert.equal(r.resolve(0x3000 + 256 + 0x100)?.placement, "redzone_after");
  assert.equal(r.nearestBelow(0x1200)?.id, 1);
  // free, then a use after free resolves to the freed allocation
  assert.equal(r.free(0x2000, 9)?.id, 3);
  assert.equal(r.lookup(0x2010), null);
  assert.equal(r.lookupFreed(0x2010)?.freedAt, 9);
  assert.equal(r.resolve(0x2010)?.state, "freed");
  // the backend reuses the range: the new live allocation wins, the old one stays freed
  r.add(info(10, 0x2000, 0x40));
  assert.equal(r.resolve(0x2010)?.id, 10);
  assert.equal(r.resolve(0x2050)?.state, "freed");
  // a missed free: a new allocation over a live one retires the old
  r.add(info(11, 0x1000, 0x100));
  assert.equal(r.byId(1)?.state, "freed");
  assert.equal(r.resolve(0x1010)?.id, 11);
});

Deno.test("registry: the freed list is bounded, oldest dropped first", () => {
  const r = new Registry({ keepFreed: 2 });
  for (let i = 0; i < 4; i++) {
    r.add(info(i + 1, 0x10000 * (i + 1), 16));
    r.free(0x10000 * (i + 1), 100 + i);
  }
  assert.deepEqual(r.freed().map((a) => a.id), [3, 4]);
  assert.equal(r.lookupFreed(0x10000), null);
  assert.equal(r.byId(1), undefined);
});

Deno.test("guards: the copies rail checks the host end of a copy into a pinned buffer", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce" });
  const dev = device.malloc(8192, { name: "hidden" });
  const pinned = device.hostAlloc(4096, { name: "hidden_host" });
  try {
    let err: unknown = null;
    try {
      memcpy(device, pinned.ptr, dev.ptr, 8192, 2, 0, true, "hidden", pinned.ptr);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof GuardBlocked, String(err));
    const f = err.findings.find((x) => x.argument === "host")!;
    assert.equal(f.rail, "copies");
    assert.equal(f.allocation?.name, "hidden_host");
    assert.match(f.detail, /run 4096 bytes past its end/);
    // within both ends: fine
    memcpy(device, pinned.ptr, dev.ptr, 4096, 2, 0, true, "hidden", pinned.ptr);
  } finally {
    pinned.free();
    dev.free();
    audit.close();
  }
});

Deno.test("journal: pointers into redzones are recorded with their placement", () => {
  const device = testDevice();
  const dir = reportDir();
  const audit = openAudit({ device, reportDir: dir, mode: "audit", redzones: 256, guards: [] });
  const buf = device.malloc(1000, { name: "q" });
  try {
    buf.fill(0);
    const j = audit.decode()!;
    const alloc = j.records.find((r) => r.kind === "alloc")!;
    assert.equal(alloc.scalars.redzone, 256);
    assert.equal(alloc.result, buf.base);
    const a = j.allocations.find((x) => x.id === alloc.id)!;
    assert.equal(a.ptr, buf.ptr);
    assert.equal(a.redzone, 256);
    const memset = j.records.find((r) => r.kind === "memset")!;
    assert.equal(memset.pointers[0].placement, "inside");
    assert.equal(memset.pointers[0].offset, 0);
  } finally {
    buf.free();
    audit.close();
  }
});
