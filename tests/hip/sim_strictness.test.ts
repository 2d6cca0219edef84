/**
 * The sim faults where a GPU would: a kernel given a host address, another
 * device's memory or a pointer misaligned for its elements, and a kernel
 * writing past an undersized scratch, each surface as a sticky fault at the
 * next sync, naming the kernel and the address; process memory is never
 * written. Pinned host memory stays reachable, as on a GPU.
 */
import assert from "node:assert/strict";
import { runChild } from "../helpers/child.ts";

async function run(which: string, env: Record<string, string> = {}) {
  const r = await runChild(
    "sim_strict_child.ts",
    { FAULTLINE_QUIET: "1", FAULTLINE_BACKEND: "sim", ...env },
    [which],
  );
  assert.ok(r.json, r.stdout + r.stderr);
  return r.json as {
    launchStatus: number;
    syncStatus: number;
    fault: { status: number; address: number; op: string } | null;
    hostAddr: number;
    hostUnchanged: boolean;
  };
}

Deno.test(
  { name: "sim strictness: a host address as a kernel's device pointer faults" },
  async () => {
    const r = await run("host-pointer");
    assert.equal(r.launchStatus, 0);
    assert.equal(r.syncStatus, 700);
    assert.deepEqual(r.fault, { status: 700, address: r.hostAddr, op: "fault_fill" });
    assert.ok(r.hostUnchanged, "the kernel wrote process memory");
  },
);

Deno.test({ name: "sim strictness: another device's memory faults" }, async () => {
  const r = await run("other-device", { FAULTLINE_SIM_DEVICES: "2" });
  assert.equal(r.syncStatus, 700);
  assert.equal(r.fault?.op, "fault_fill");
});

Deno.test({
  name: "sim strictness: a pointer misaligned for its f32 elements is a misaligned address",
}, async () => {
  const r = await run("misaligned");
  assert.equal(r.syncStatus, 716);
  assert.equal(r.fault?.status, 716);
  assert.equal(r.fault!.address % 4, 2);
});

Deno.test({
  name: "sim strictness: attention decode writes its whole scratch, so an undersized one faults",
}, async () => {
  const r = await run("scratch");
  assert.equal(r.syncStatus, 700);
  assert.equal(r.fault?.op, "attention_decode");
});

Deno.test(
  { name: "sim strictness: pinned host memory is reachable from a kernel" },
  async () => {
    const r = await run("pinned");
    assert.equal(r.syncStatus, 0);
    assert.equal(r.fault, null);
  },
);
