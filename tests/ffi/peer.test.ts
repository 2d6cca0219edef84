/**
 * Peer copies through the public API on 4 simulated devices: copyFromPeer moves the bytes (sync, and
 * async at offsets on a stream of the destination), is journaled as p2p on the destination device with
 * its source device and both pointers resolved to their allocations, and finds nothing when it is right;
 * what it refuses before any native call; a placed process names its devices by their host ids.
 */
import assert from "node:assert/strict";
import { runChild } from "../helpers/child.ts";

async function run(which: string, env: Record<string, string | undefined> = {}) {
  const r = await runChild("peer_child.ts", {
    FAULTLINE_QUIET: "1",
    FAULTLINE_BACKEND: "sim",
    FAULTLINE_SIM_DEVICES: "4",
    FAULTLINE_SIM_VISIBLE_DEVICES: undefined,
    FAULTLINE_DEVICE_IDS: undefined,
    ...env,
  }, [which]);
  assert.ok(r.json, r.stdout + r.stderr);
  return r.json as Record<string, unknown>;
}

interface P2p {
  device: number;
  stream: number;
  name: string;
  scalars: Record<string, number>;
  pointers: { arg: string; name: string; offset: number; bytes: number; access: string; state: string }[];
  status: number;
}

Deno.test("peer copy: the bytes arrive, journaled as p2p on the destination with both ends resolved", async () => {
  const r = await run("copies");
  assert.equal(r.same, true, "the copied floats differ from the source's");
  assert.deepEqual(r.findings, []);
  const [sync, async] = r.p2p as P2p[];
  assert.equal(sync.device, 0);
  assert.equal(sync.name, "gathered");
  assert.deepEqual(sync.scalars, { bytes: 16384, sync: 1, src_device: 1 });
  assert.equal(sync.status, 0);
  const ends = (p: P2p) => p.pointers.map((x) => [x.arg, x.name, x.offset, x.bytes, x.access, x.state]);
  assert.deepEqual(ends(sync), [
    ["src", "shard1", 0, 16384, "r", "live"],
    ["dst", "gathered", 0, 16384, "w", "live"],
  ]);
  assert.notEqual(async.stream, 0);
  assert.deepEqual(async.scalars, { bytes: 4096, sync: 0, src_device: 1 });
  assert.deepEqual(ends(async), [
    ["src", "shard1", 4096, 4096, "r", "live"],
    ["dst", "gathered", 8192, 4096, "w", "live"],
  ]);
});

Deno.test("peer copy: refused before any native call, each with what was wrong", async () => {
  const r = await run("usage") as Record<string, string>;
  assert.match(
    r.copyFrom,
    /"a" .* is on device 1, the destination on device 0: copy between devices with copyFromPeer/,
  );
  assert.match(r.stream, /stream belongs to device 1; a peer copy runs on its destination, device 0/);
  assert.match(r.past, /source "a" .*: 1024 bytes at offset 512 run past its end \(1024 bytes\)/);
  assert.match(r.freed, /device buffer "freed" .* was already freed/);
  assert.match(r.raw, /memcpyPeer: dst must be a device address/);
});

Deno.test("device ids: a process shown devices 2 and 3 names them 2 and 3 in calls, journal and messages", async () => {
  const r = await run("ids", { FAULTLINE_SIM_VISIBLE_DEVICES: "2,3", FAULTLINE_DEVICE_IDS: "2,3" });
  assert.deepEqual(r.ids, [2, 3]);
  assert.deepEqual(r.busIds, ["sim:2", "sim:3"]);
  assert.deepEqual(r.records, [{ kind: "p2p", device: 2, scalars: { bytes: 256, sync: 1, src_device: 3 } }]);
  assert.match(r.message as string, /is on device 3, the destination on device 2/);
});

Deno.test("device ids: FAULTLINE_DEVICE_IDS that does not match what the backend shows is refused", async () => {
  for (
    const [ids, why] of [
      ["2", /names 1 device\(s\) \(2\) but the sim backend sees 2: FAULTLINE_SIM_VISIBLE_DEVICES/],
      ["2,x", /must list distinct device numbers/],
      ["3,3", /must list distinct device numbers/],
    ] as const
  ) {
    const r = await runChild("load_child.ts", {
      FAULTLINE_QUIET: "1",
      FAULTLINE_BACKEND: "sim",
      FAULTLINE_SIM_DEVICES: "4",
      FAULTLINE_SIM_VISIBLE_DEVICES: "2,3",
      FAULTLINE_DEVICE_IDS: ids,
    });
    assert.match(r.stdout + r.stderr, why, `FAULTLINE_DEVICE_IDS=${ids}: ${r.stdout}${r.stderr}`);
  }
});
