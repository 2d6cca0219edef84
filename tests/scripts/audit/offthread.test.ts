import assert from "node:assert/strict";
import { memcpy } from "../../../ffi/buffer.ts";
import { FaultlineError } from "../../../ffi/errors.ts";
import { launch } from "../../../ffi/kernels.ts";
import { faultFill, faultWriteAt } from "../../../ffi/kernels_base.ts";
import { type AuditSession, openAudit } from "../../../scripts/audit/session.ts";
import { declareInvariants, positive, setInvariants } from "../../../scripts/guards/index.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";
import type { Finding } from "../../../records.ts";

/**
 * One planted bug of each kind a rail or the race check finds in audit mode,
 * then a redzone overrun; returns the findings (as findings.jsonl has them),
 * op ids and addresses counted from the session's first op and buffer.
 */
function plantedBugs(
  offThread: boolean,
  redzones: number,
  stillOffThread = offThread,
): { findings: unknown[]; dir: string } {
  const device = testDevice();
  const dir = reportDir("fl-offthread-");
  const audit: AuditSession = openAudit({ device, reportDir: dir, mode: "audit", offThread, redzones });
  const buf = device.malloc(4000, { name: "scratch" });
  const ptrBase = buf.ptr;
  const compute = device.createStream();
  const copy = device.createStream();
  const ready = device.createEvent();
  const logits = device.malloc(4096, { name: "logits" });
  const host = device.hostAlloc(4096, { name: "logits_host" });
  try {
    for (let step = 0; step < 3; step++) {
      launch(device, compute, faultFill, { dst: logits, n: 1024, value: step });
      ready.record(compute);
      if (step !== 1) copy.waitEvent(ready); // step 1 skips the wait: a race
      logits.download(host, { stream: copy });
      copy.synchronize();
    }
    // bugs that run without faulting (warn mode lets them run)
    launch(device, null, faultFill, { dst: buf, n: 0, value: 1 }); // invariant n > 0
    launch(device, null, faultFill, { dst: buf, n: 1001, value: 1 }); // 4 bytes past the end
    device.synchronize();
    const hostArr = new Uint8Array(4096);
    const hostAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(hostArr)));
    try {
      memcpy(device, hostAddr, buf.ptr + 512, 3584, 2, 0, true, "scratch", hostAddr); // 96 bytes past
    } catch (e) {
      // the library may refuse the copy itself (sim: invalid value); the rail saw it either way
      if (!(e instanceof FaultlineError) || e.code !== 1) throw e;
    }
    // read in the middle of the run: the findings so far, complete
    const mid = audit.findings.length;
    assert.equal(audit.offThread, stillOffThread);
    assert.ok(mid >= 4, `${mid} findings in the middle of the run`);
    launch(device, null, faultWriteAt, { addr: buf.ptr + buf.bytes + 8, value: 3 }); // silent overrun
    device.synchronize();
    launch(device, null, faultFill, { dst: buf, n: 1000, value: 2 });
    device.synchronize();
  } finally {
    host.free();
    logits.free();
    buf.free();
    ready.destroy();
    copy.destroy();
    compute.destroy();
    audit.close();
  }
  const lines = Deno.readTextFileSync(`${dir}/findings.jsonl`).trim().split("\n").filter((l) => l !== "");
  assert.equal(lines.length, audit.findings.length);
  const opBase = JSON.parse(Deno.readTextFileSync(`${dir}/journal.jsonl`).split("\n")[0]).id;
  return { findings: lines.map((l) => rebase(JSON.parse(l), opBase, ptrBase)), dir };
}

const OP_KEYS = new Set(["op", "detected_at", "fromOp", "toOp", "id"]);

/** A finding with op ids counted from the session's first op and addresses from the first buffer's. */
function rebase(x: unknown, opBase: number, ptrBase: number, key = ""): unknown {
  if (typeof x === "number") {
    if (OP_KEYS.has(key)) return x - opBase;
    if (key === "stream") return "stream"; // handles differ between sessions
    return x >= 2 ** 32 ? x - ptrBase : x;
  }
  if (typeof x === "string") {
    return x
      .replace(/stream 0x[0-9a-f]+/g, "stream S") // handles differ between sessions
      .replace(/0x[0-9a-f]+/g, (h) => `@${parseInt(h, 16) - ptrBase}`)
      .replace(/\b(op|alloc|ops) (\d+)/g, (_m, w, n) => `${w} ${Number(n) - opBase}`);
  }
  if (Array.isArray(x)) return x.map((v) => rebase(v, opBase, ptrBase));
  if (x !== null && typeof x === "object") {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, rebase(v, opBase, ptrBase, k)]));
  }
  return x;
}

Deno.test("audit off the launching thread: the same findings as the inline checks, in the same order", () => {
  for (const rz of [0, 256]) {
    const inline = plantedBugs(false, rz);
    const worker = plantedBugs(true, rz);
    const rails = (fs: unknown[]) => fs.map((f) => (f as Finding).rail);
    assert.ok(rails(inline.findings).includes("races"), JSON.stringify(rails(inline.findings)));
    assert.ok(rails(inline.findings).includes("extent"));
    assert.ok(rails(inline.findings).includes("copies"));
    assert.ok(rails(inline.findings).includes("invariants"));
    if (rz > 0) assert.ok(rails(inline.findings).includes("redzone"));
    assert.deepEqual(worker.findings, inline.findings);
    // the worker's findings file is gone after close
    assert.throws(() => Deno.statSync(`${worker.dir}/findings.worker.jsonl`));
  }
});

Deno.test("audit off the launching thread: a rail change or a run-time invariant moves the checks inline", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  const c = device.malloc(4, { name: "counter" });
  const s1 = device.createStream();
  const s2 = device.createStream();
  assert.equal(audit.offThread, true);
  try {
    launch(device, s1, faultFill, { dst: c, n: 1, value: 1 });
    declareInvariants("fault_fill", positive("value"));
    // the race check's history before the switch is kept: s2 writes c unordered with s1's write
    launch(device, s2, faultFill, { dst: c, n: 1, value: -1 });
    device.synchronize();
    const fs = audit.findings;
    assert.ok(fs.some((f) => f.rail === "invariants" && f.invariant === "value > 0"), JSON.stringify(fs));
    assert.ok(fs.some((f) => f.rail === "races"), JSON.stringify(fs.map((f) => f.rail)));
    assert.equal(audit.offThread, false);
    audit.rails.setMode("invariants", "off");
    launch(device, null, faultFill, { dst: c, n: 1, value: -1 });
    device.synchronize();
    assert.equal(audit.findings.filter((f) => f.invariant === "value > 0").length, 1);
  } finally {
    setInvariants("fault_fill", [positive("n")]);
    s1.destroy();
    s2.destroy();
    c.free();
    audit.close();
  }
});

Deno.test("audit off the launching thread: a worker that fails leaves the checks to the session, findings complete", () => {
  const inline = plantedBugs(false, 0);
  Deno.env.set("FAULTLINE_AUDIT_WORKER_FAIL_AT", "9");
  try {
    const failed = plantedBugs(true, 0, false);
    assert.deepEqual(failed.findings, inline.findings);
  } finally {
    Deno.env.delete("FAULTLINE_AUDIT_WORKER_FAIL_AT");
  }
});
