/**
 * The sim's several devices: FAULTLINE_SIM_VISIBLE_DEVICES shows a process some of the
 * FAULTLINE_SIM_DEVICES simulated devices, in its order, as CUDA reads CUDA_VISIBLE_DEVICES (the list
 * ends at the first entry that is not a device or repeats one); each device's bus id names the
 * simulated device it is. Peer copies move the bytes between two devices' ranges, sync and async, and
 * refuse a source or destination outside the right device's allocations.
 */
import assert from "node:assert/strict";
import { runChild } from "../helpers/child.ts";

async function run(which: string, env: Record<string, string | undefined>) {
  const r = await runChild(
    "sim_devices_child.ts",
    { FAULTLINE_QUIET: "1", FAULTLINE_BACKEND: "sim", FAULTLINE_DEVICE_IDS: undefined, ...env },
    [which],
  );
  assert.ok(r.json, r.stdout + r.stderr);
  return r.json as Record<string, unknown>;
}

Deno.test("sim devices: FAULTLINE_SIM_VISIBLE_DEVICES shows the devices it lists, in its order", async () => {
  const cases: [string | undefined, string[]][] = [
    [undefined, ["sim:0", "sim:1", "sim:2", "sim:3"]],
    ["2", ["sim:2"]],
    ["3,0", ["sim:3", "sim:0"]],
    [" 1 , 2 ", ["sim:1", "sim:2"]],
    ["1,9,2", ["sim:1"]], // 9 is no device: the list ends there
    ["1,1,2", ["sim:1"]], // a repeat ends it too
    ["", []],
  ];
  for (const [visible, busIds] of cases) {
    const r = await run("visible", { FAULTLINE_SIM_DEVICES: "4", FAULTLINE_SIM_VISIBLE_DEVICES: visible });
    assert.deepEqual(r, { count: busIds.length, busIds }, `FAULTLINE_SIM_VISIBLE_DEVICES=${visible}`);
  }
});

Deno.test("sim devices: peer copies between devices, sync and async, and what they refuse", async () => {
  const r = await run("peer", { FAULTLINE_SIM_DEVICES: "4", FAULTLINE_SIM_VISIBLE_DEVICES: undefined });
  assert.equal(r.syncCopied, true);
  assert.equal(r.asyncCopied, true);
  assert.deepEqual(r.status, {
    upload: 0,
    sync: 0,
    async: 0,
    streamSync: 0,
    srcOnWrongDevice: 1,
    pastTheEnd: 1,
    badStream: 400,
    badDevice: 101,
    device0: 0,
    device1: 0,
  });
});
