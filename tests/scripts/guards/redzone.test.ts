import assert from "node:assert/strict";
import { launch } from "../../../ffi/kernels.ts";
import { faultFill, faultWriteAt } from "../../../ffi/kernels_base.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import { RedzoneDamaged, redzonePolicy } from "../../../scripts/guards/index.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

Deno.test("redzones: a kernel writing 4 bytes past a buffer (no fault) is caught at the next sync", () => {
  const device = testDevice();
  // redzones alone: every per-call rail removed
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit", redzones: 256, guards: [] });
  const other = device.malloc(4096, { name: "ffn_gate" });
  const buf = device.malloc(4000, { name: "attn_out" });
  try {
    assert.equal(buf.redzone, 256);
    launch(device, null, faultFill, { dst: buf, n: 1000, value: 1 });
    launch(device, null, faultFill, { dst: other, n: 1024, value: 2 });
    device.synchronize();
    assert.equal(audit.findings.length, 0);
    // the planted bug: one float stored just past the end; the memory is mapped, nothing faults
    launch(device, null, faultWriteAt, { addr: buf.ptr + buf.bytes, value: 3 });
    launch(device, null, faultFill, { dst: other, n: 1024, value: 4 });
    device.synchronize();
    assert.equal(audit.findings.length, 1, JSON.stringify(audit.findings));
    const f = audit.findings[0];
    assert.equal(f.rail, "redzone");
    assert.equal(f.allocation?.name, "attn_out");
    assert.equal(f.allocation?.offset, 4000);
    assert.equal(f.allocation?.bytes, 4);
    assert.equal(f.name, "fault_write_at");
    assert.equal(f.argument, "addr");
    const w = f.window as { fromOp: number; toOp: number };
    assert.ok(w.fromOp < f.op && f.op < w.toOp, JSON.stringify(w));
    assert.match(
      f.detail,
      /4 bytes of the trailing redzone of attn_out .* overwritten: bytes 4000\.\.4003 \(0\.\.3 past its end\)/,
    );
    // the redzone was restored: the next sync is clean
    launch(device, null, faultFill, { dst: buf, n: 1000, value: 1 });
    device.synchronize();
    assert.equal(audit.findings.length, 1);
  } finally {
    buf.free();
    other.free();
    audit.close();
  }
});

Deno.test("redzones: on-demand full checks find an underflow into the leading redzone", () => {
  const device = testDevice();
  const audit = openAudit({
    device,
    reportDir: reportDir(),
    mode: "audit",
    redzones: 256,
    guards: [],
    redzonePolicy: redzonePolicy({ when: "manual" }),
  });
  const buf = device.malloc(1024, { name: "k_cache" });
  try {
    launch(device, null, faultWriteAt, { addr: buf.ptr - 8, value: 1 });
    device.synchronize();
    assert.equal(audit.findings.length, 0); // manual: nothing checked at the sync
    const fs = audit.checkRedzones();
    assert.equal(fs.length, 1);
    assert.equal(fs[0].allocation?.offset, -8);
    assert.match(fs[0].detail, /leading redzone of k_cache .*: bytes -8\.\.-5 \(5\.\.8 before its start\)/);
  } finally {
    buf.free();
    audit.close();
  }
});

Deno.test("redzones: with the rails on, the extent rail names the same write before it runs", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit", redzones: 256 });
  const buf = device.malloc(4000, { name: "attn_out" });
  try {
    launch(device, null, faultFill, { dst: buf, n: 1001, value: 1 });
    device.synchronize();
    const rails = audit.findings.map((f) => f.rail).sort();
    assert.deepEqual(rails, ["extent", "redzone"]);
  } finally {
    buf.free();
    audit.close();
  }
});

Deno.test("redzones: enforce mode stops the run at the sync that finds the damage", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce", redzones: 256, guards: [] });
  const buf = device.malloc(4000, { name: "ffn_out" });
  try {
    launch(device, null, faultWriteAt, { addr: buf.ptr + buf.bytes + 4, value: 3 });
    assert.throws(() => device.synchronize(), (e: unknown) => {
      assert.ok(e instanceof RedzoneDamaged);
      assert.equal(e.findings[0].allocation?.name, "ffn_out");
      assert.equal(e.findings[0].allocation?.offset, 4004);
      assert.equal(e.findings[0].severity, "error");
      return true;
    });
  } finally {
    buf.free();
    audit.close();
  }
});
