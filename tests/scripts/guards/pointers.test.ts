import assert from "node:assert/strict";
import { launch } from "../../../ffi/kernels.ts";
import { faultFill, tick } from "../../../ffi/kernels_base.ts";
import { memcpy } from "../../../ffi/buffer.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import { GuardBlocked } from "../../../scripts/guards/index.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

/** The GuardBlocked error `f` throws; fails when it runs unblocked. */
function blocked(f: () => void): GuardBlocked {
  try {
    f();
  } catch (e) {
    if (e instanceof GuardBlocked) return e;
    throw e;
  }
  assert.fail("not blocked");
}

/** A D2H copy past the end of `buf` and an empty copy are both blocked by the copies rail. */
function copiesRailBlocks(device: ReturnType<typeof testDevice>, buf: { ptr: number }): void {
  const host = new Uint8Array(4096);
  const hostAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(host)));
  const copy = blocked(() => memcpy(device, hostAddr, buf.ptr + 512, 4096, 2, 0, true, "scratch", hostAddr));
  assert.equal(copy.findings[0].rail, "copies");
  assert.match(copy.findings[0].detail, /512 bytes past its end/);
  const empty = blocked(() => memcpy(device, hostAddr, buf.ptr, 0, 2, 0, true, "scratch", hostAddr));
  assert.equal(empty.findings[0].invariant, "copy size > 0");
}

Deno.test("guards: each pointer rail blocks its planted bug in enforce mode, before the native call", () => {
  const device = testDevice();
  const dir = reportDir();
  const audit = openAudit({ device, reportDir: dir, mode: "enforce" });
  // old_kv first: GPU allocators place the next allocation right after the
  // previous one, so a buffer freed after scratch would sit where scratch's
  // offset overflow lands (and that pointer would rightly be a use after free).
  const dead = device.malloc(1024, { name: "old_kv" });
  const buf = device.malloc(4096, { name: "scratch" });
  const deadPtr = dead.ptr;
  dead.free();
  try {
    const nul = blocked(() => launch(device, null, tick, { counter: 0 }));
    assert.equal(nul.findings[0].rail, "null_pointer");
    assert.equal(nul.findings[0].argument, "counter");

    const far = blocked(() => launch(device, null, tick, { counter: buf.ptr + 64 * 1024 * 1024 }));
    assert.equal(far.findings[0].rail, "unknown_pointer");
    assert.match(far.findings[0].detail, /outside every allocation/);

    const uaf = blocked(() => launch(device, null, tick, { counter: deadPtr + 16 }));
    const f = uaf.findings[0];
    assert.equal(f.rail, "use_after_free");
    assert.equal(f.allocation?.name, "old_kv");
    assert.equal(f.allocation?.offset, 16);
    assert.equal(f.allocation?.state, "freed");
    assert.match(f.detail, /freed by op \d+/);

    const over = blocked(() => launch(device, null, faultFill, { dst: buf, n: 1025, value: 1 }));
    assert.equal(over.findings[0].rail, "extent");
    assert.match(
      over.findings[0].detail,
      /byte-size mismatch: dst touches 4100 bytes from offset 0 .* 4 bytes past its end/,
    );

    const off = blocked(() => launch(device, null, tick, { counter: buf.ptr + 4096 }));
    assert.equal(off.findings[0].rail, "unknown_pointer");
    assert.match(
      off.findings[0].detail,
      /0 bytes past the end of scratch .* offset 4096 of scratch, an offset overflow/,
    );

    const mis = blocked(() => launch(device, null, tick, { counter: buf.ptr + 2 }));
    assert.equal(mis.findings[0].rail, "alignment");
    assert.equal(mis.findings[0].allocation?.offset, 2);

    copiesRailBlocks(device, buf);

    // every finding carries the op, its name and the argument; the context is copied in
    for (const x of audit.findings) {
      assert.ok(x.op > 0 && typeof x.name === "string" && x.severity === "error");
    }
    // the device is untouched: a clean launch still works
    launch(device, null, tick, { counter: buf });
    device.synchronize();
  } finally {
    buf.free();
    audit.close();
  }
  // blocked calls are in the journal with status -1 ("blocked")
  const lines = Deno.readTextFileSync(`${dir}/journal.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
  const blockedRecs = lines.filter((r) => r.result_name === "blocked");
  assert.equal(blockedRecs.length, 8);
  const findings = Deno.readTextFileSync(`${dir}/findings.jsonl`).trim().split("\n");
  assert.equal(findings.length, audit.findings.length);
});

Deno.test("guards: warn mode records the finding and lets the call run", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  const buf = device.malloc(4096, { name: "x" });
  try {
    launch(device, null, tick, { counter: buf.ptr + 8 });
    launch(device, null, faultFill, { dst: buf.at(8), n: 2, value: 0 });
    device.synchronize();
    assert.equal(audit.findings.length, 0);
    // broken but harmless on every backend: a fill of 0 elements writes nothing
    launch(device, null, faultFill, { dst: buf, n: 0, value: 0 });
    device.synchronize();
    assert.equal(audit.findings.length, 1);
    assert.equal(audit.findings[0].rail, "invariants");
    assert.equal(audit.findings[0].invariant, "n > 0");
    assert.equal(audit.findings[0].severity, "warn");
    const recs = audit.decode()!.records.filter((r) => r.kind === "launch");
    assert.equal(recs[recs.length - 1].status, 0); // it ran
  } finally {
    buf.free();
    audit.close();
  }
});

Deno.test("guards: a clean sequence of allocations, launches and copies finds nothing", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce" });
  const s = device.createStream();
  const ev = device.createEvent();
  const a = device.malloc(4096, { name: "a" });
  const host = new Float32Array(1024);
  try {
    a.upload(host);
    launch(device, s, faultFill, { dst: a, n: 1024, value: 2 });
    launch(device, s, tick, { counter: a.at(4092) });
    ev.record(s);
    device.defaultStream.waitEvent(ev);
    a.download(host);
    assert.equal(host[0], 2);
    assert.equal(audit.findings.length, 0, JSON.stringify(audit.findings));
  } finally {
    a.free();
    ev.destroy();
    s.destroy();
    audit.close();
  }
});
