import assert from "node:assert/strict";
import { launch } from "../../../ffi/kernels.ts";
import { faultFill } from "../../../ffi/kernels_base.ts";
import { findRaces } from "../../../ffi/races.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import { GuardBlocked } from "../../../scripts/guards/index.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

/** The compute stream writes logits, the copy stream downloads them, with or without waiting for the event. */
function logitsStep(mode: "audit" | "enforce", wait: boolean) {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode, keepRing: true });
  const compute = device.createStream();
  const copy = device.createStream();
  const ready = device.createEvent();
  const logits = device.malloc(4096, { name: "logits" });
  const host = device.hostAlloc(4096, { name: "logits_host" });
  let error: unknown = null;
  try {
    launch(device, compute, faultFill, { dst: logits, n: 1024, value: 1 });
    ready.record(compute);
    if (wait) copy.waitEvent(ready);
    logits.download(host, { stream: copy });
    copy.synchronize();
  } catch (e) {
    error = e;
  } finally {
    device.synchronize();
    host.free();
    logits.free();
    ready.destroy();
    copy.destroy();
    compute.destroy();
  }
  const journal = audit.decode()!;
  audit.close();
  return { findings: audit.findings, error, journal };
}

Deno.test("races: a logits copy that skips its event wait is found (no sync added)", () => {
  const { findings, error, journal } = logitsStep("audit", false);
  assert.equal(error, null);
  const races = findings.filter((f) => f.rail === "races");
  assert.equal(races.length, 1);
  const f = races[0];
  assert.equal(f.kind, "d2h");
  assert.equal(f.name, "logits");
  assert.equal(f.argument, "src");
  assert.equal(f.allocation?.name, "logits");
  assert.deepEqual([f.allocation?.offset, f.allocation?.bytes], [0, 4096]);
  assert.match(f.detail, /written by launch fault_fill \(op \d+, argument dst\) on stream 0x[0-9a-f]+/);
  // the audit added no synchronization: no sync record between the launch and the copy
  const ids = journal.records.map((r) => r.kind);
  const k = ids.indexOf("launch"), d = ids.indexOf("d2h");
  assert.ok(!ids.slice(k, d).includes("sync"));
  // the offline analysis of the journal finds the same race
  const offline = findRaces(journal.records, { allocations: journal.allocations });
  assert.equal(offline.length, 1);
  assert.equal(offline[0].second.op, f.op);
});

Deno.test("races: silent when the copy stream waits for the event", () => {
  const { findings, error, journal } = logitsStep("audit", true);
  assert.equal(error, null);
  assert.deepEqual(findings.filter((f) => f.rail === "races"), []);
  assert.deepEqual(findRaces(journal.records, { allocations: journal.allocations }), []);
});

Deno.test("races: enforce mode blocks the racing copy before it is enqueued", () => {
  const { findings, error } = logitsStep("enforce", false);
  assert.ok(error instanceof GuardBlocked);
  assert.equal(error.findings[0].rail, "races");
  assert.equal(findings[0].severity, "error");
});

Deno.test("races: two async copies through the same pinned staging buffer on two streams race (host side)", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  const s1 = device.createStream();
  const s2 = device.createStream();
  const ev = device.createEvent();
  const a = device.malloc(4096, { name: "attn_out" });
  const b = device.malloc(4096, { name: "wo_out" });
  const staging = device.hostAlloc(4096, { name: "staging" });
  try {
    a.download(staging, { stream: s1 });
    b.download(staging, { stream: s2 }); // a staging buffer reused, unordered
    s1.synchronize();
    s2.synchronize();
    const races = audit.findings.filter((f) => f.rail === "races");
    assert.equal(races.length, 1);
    assert.equal(races[0].argument, "host");
    assert.equal(races[0].allocation?.name, "staging");
    assert.match(races[0].detail, /written by d2h attn_out .* and written by d2h wo_out/);
    // ordered by an event: silent
    a.download(staging, { stream: s1 });
    ev.record(s1);
    s2.waitEvent(ev);
    b.download(staging, { stream: s2 });
    s2.synchronize();
    assert.equal(audit.findings.filter((f) => f.rail === "races").length, 1);
  } finally {
    device.synchronize();
    staging.free();
    b.free();
    a.free();
    ev.destroy();
    s2.destroy();
    s1.destroy();
    audit.close();
  }
});
