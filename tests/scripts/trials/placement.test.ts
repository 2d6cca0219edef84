/**
 * Placing trials, without children: --devices parsing and checking, slots of several devices, the
 * environment that shows a child its devices (composed with what the parent already hides), the pool
 * that hands slots out one trial at a time, the placement check, the matrix's per-device counts, and
 * where a fault's replays run.
 */
import assert from "node:assert/strict";
import { FaultlineUsageError } from "../../../mod.ts";
import {
  chooseDevices,
  DevicePool,
  type Inventory,
  parseDevices,
  placementEnv,
  placementProblem,
  slotsOf,
} from "../../../scripts/trials/devices.ts";
import { runMatrix } from "../../../scripts/trials/matrix.ts";
import { replayPlacement } from "../../../scripts/trials/replay_placement.ts";
import { makeSpec } from "../../../scripts/trials/runner.ts";
import type { TrialOutcome, TrialStatus } from "../../../records.ts";

const inv = (backend: string, n: number): Inventory => ({
  backend,
  devices: Array.from({ length: n }, (_, i) => ({ ordinal: i, id: i, busId: `${backend}:${i}`, name: "d" })),
});

function outcome(device: number[] | undefined, status: TrialStatus, iteration = 0): TrialOutcome {
  return {
    spec: makeSpec("x", "/tmp", "audit", { iteration, purpose: "matrix", devices: device }),
    status,
    code: 0,
    signal: null,
    result: null,
    stdoutTail: "",
    stderrTail: "",
    wallMs: 1,
    command: [],
    timedOut: false,
  };
}

Deno.test("placement: --devices lists, ranges and all; bad ones are usage errors", () => {
  assert.deepEqual(parseDevices("0,2"), [0, 2]);
  assert.deepEqual(parseDevices(" 1-3, 0 "), [1, 2, 3, 0]);
  assert.equal(parseDevices("all"), "all");
  for (const bad of ["", "x", "1,,2", "3-1", "-1", "1,1", "0-2,2"]) {
    assert.throws(() => parseDevices(bad), FaultlineUsageError, bad);
  }
  assert.deepEqual(chooseDevices("all", inv("sim", 3)), [0, 1, 2]);
  assert.deepEqual(chooseDevices([2, 0], inv("sim", 3)), [2, 0]);
  assert.throws(() => chooseDevices([1, 5], inv("cuda", 2)), /no device 5: the cuda backend has 2 \(0, 1\)/);
  assert.deepEqual(slotsOf([0, 1, 2, 3, 4], 2), [[0, 1], [2, 3]]);
  assert.throws(() => slotsOf([3], 2), /each trial uses 2 devices but 1 is given \(3\)/);
});

Deno.test("placement: a child is shown its devices through its backend's variable, within the parent's", () => {
  assert.deepEqual(placementEnv(inv("sim", 4), [2], {}), {
    FAULTLINE_SIM_VISIBLE_DEVICES: "2",
    FAULTLINE_DEVICE_IDS: "2",
  });
  assert.deepEqual(placementEnv(inv("cuda", 4), [1, 3], {}), {
    CUDA_VISIBLE_DEVICES: "1,3",
    FAULTLINE_DEVICE_IDS: "1,3",
  });
  // the parent sees GPUs 4 and 6 as its 0 and 1: its device 1 is GPU 6
  assert.deepEqual(placementEnv(inv("cuda", 2), [1], { CUDA_VISIBLE_DEVICES: "4,6" }), {
    CUDA_VISIBLE_DEVICES: "6",
    FAULTLINE_DEVICE_IDS: "1",
  });
  assert.deepEqual(placementEnv(inv("hip", 2), [0], {}), {
    HIP_VISIBLE_DEVICES: "0",
    FAULTLINE_DEVICE_IDS: "0",
  });
  // HIP reads CUDA_VISIBLE_DEVICES too: the one the parent set is the one narrowed
  assert.deepEqual(placementEnv(inv("hip", 2), [1], { CUDA_VISIBLE_DEVICES: "2,3" }), {
    CUDA_VISIBLE_DEVICES: "3",
    FAULTLINE_DEVICE_IDS: "1",
  });
  assert.throws(() => placementEnv(inv("sim", 2), [5], {}), /no device 5/);
});

Deno.test("placement: the pool hands each slot to one trial at a time; a pinned trial waits for its own", async () => {
  const pool = new DevicePool([[0], [1]]);
  const a = await pool.acquire(), b = await pool.acquire();
  assert.deepEqual([a, b], [[0], [1]]);
  const order: string[] = [];
  const anyone = pool.acquire().then((s) => order.push(`any:${s}`));
  const pinned = pool.acquire([0]).then((s) => order.push(`pinned:${s}`));
  pool.release(b); // device 1: the first waiter that can take it
  await anyone;
  pool.release(a);
  await pinned;
  assert.deepEqual(order, ["any:1", "pinned:0"]);
  assert.throws(() => pool.acquire([7]), /no slot of devices 7/);
});

Deno.test("placement: a trial that reports another device than its own is caught", () => {
  assert.equal(placementProblem(inv("sim", 4), [2], "sim:2"), null);
  assert.equal(placementProblem(inv("sim", 4), [2], undefined), null);
  assert.match(
    placementProblem(inv("sim", 4), [2], "sim:0")!,
    /placed on device 2 \(sim:2\) but ran on sim:0: the sim runtime did not honour/,
  );
});

Deno.test("matrix: trials of every row share the device slots; each row counts its trials by device", async () => {
  const free = [[0], [1], [2]];
  let running = 0, peak = 0;
  const { rows } = await runMatrix(
    [{ name: "a", mode: "audit", iterations: 5 }, { name: "b", mode: "off", iterations: 4 }],
    async (row, i) => {
      const slot = free.shift()!;
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5 + (i % 3) * 5));
      running--;
      free.push(slot);
      return outcome(slot, row.name === "a" && slot[0] === 2 ? "FAULT" : "OK", i);
    },
    { concurrency: 3, progress: false },
  );
  assert.equal(peak, 3);
  const count = (r: typeof rows[number]) => r.devices!.reduce((s, d) => s + d.trials, 0);
  assert.deepEqual(rows.map(count), [5, 4]);
  assert.equal(rows[0].errors, rows[0].devices!.find((d) => d.device === "2")?.errors ?? 0);
  assert.ok(rows[0].devices!.filter((d) => d.device !== "2").every((d) => d.errors === 0));
  assert.equal(rows[1].status, "PASS");
});

Deno.test("replays: kept on the device the matrix confined the fault to, else spread", () => {
  const main = outcome([2], "FAULT");
  const matrix = [main, outcome([2], "FAULT"), outcome([0], "OK"), outcome([1], "OK"), outcome([1], "OK")];
  const confined = replayPlacement(main, matrix);
  assert.deepEqual([confined.devices, confined.spread], [[2], false]);
  assert.match(
    confined.note!,
    /only from trials on device 2 \(2 of 2 there; none of the 3 on devices 0, 1\)/,
  );
  const everywhere = replayPlacement(main, [...matrix, outcome([0], "FAULT")]);
  assert.deepEqual([everywhere.devices, everywhere.spread, everywhere.note], [[2], true, null]);
  assert.deepEqual(replayPlacement(outcome(undefined, "FAULT"), []), { spread: true, note: null });
  // one device only: nothing shows the fault is the device's
  assert.equal(replayPlacement(main, [main, outcome([2], "OK")]).spread, true);
});
