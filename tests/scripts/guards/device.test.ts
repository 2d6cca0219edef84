/**
 * The device rail: a pointer into one device's memory given to a launch or a copy on another (a peer
 * copy's source given as another device's) is a finding naming the argument, the allocation and both
 * devices; pinned host memory and pointers of the right device are clean. Planted through the public API
 * on 4 simulated devices: warned in audit mode (the launch runs), blocked before the native call in
 * enforce mode.
 */
import assert from "node:assert/strict";
import { Registry } from "../../../mod.ts";
import { deviceRail } from "../../../scripts/guards/index.ts";
import { call, ptr } from "../../helpers/calls.ts";
import { runChild } from "../../helpers/child.ts";
import type { Finding } from "../../../records.ts";

function registry(): Registry {
  const r = new Registry();
  const add = (id: number, name: string, base: number, device: number, host = false) =>
    r.add({ id, ptr: base, bytes: 4096, name, align: 256, device, base, allocBytes: 4096, redzone: 0, host });
  add(1, "w0", 0x10000, 0);
  add(2, "w1", 0x20000, 1);
  add(3, "pinned", 0x30000, 0, true);
  return r;
}

Deno.test("device rail: another device's pointer is named with both devices; the right device's is clean", () => {
  const rail = deviceRail();
  const ctx = {
    registry: registry(),
    limits: { maxGrid: [1, 1, 1], maxBlock: [1, 1, 1], maxThreadsPerBlock: 1 },
  } as const;
  const check = (c: ReturnType<typeof call>) => rail.check(c, ctx as never) as Finding[];
  const launch = call("launch", "rope", {
    device: 0,
    pointers: [ptr("x", 0x10000, 64, "rw"), ptr("pos", 0x20040, 4, "r"), ptr("h", 0x30000, 4, "r")],
  });
  const [f, ...more] = check(launch);
  assert.equal(more.length, 0);
  assert.equal(f.rail, "device");
  assert.equal(f.argument, "pos");
  assert.equal(f.device, 0);
  assert.equal(f.pointer_device, 1);
  assert.deepEqual(f.allocation, { id: 2, name: "w1", offset: 64, bytes: 4, size: 4096, state: "live" });
  assert.match(
    f.detail,
    /pos=0x20040 is in w1 \(alloc 2\) of device 1, but the launch rope runs on device 0/,
  );
  // the same launch on device 1 has x wrong instead
  assert.deepEqual(check({ ...launch, device: 1 }).map((g) => g.argument), ["x"]);
  // a peer copy: src on its source device, dst on the destination
  const peer = (src: number, dst: number) =>
    call("p2p", "gathered", {
      device: 0,
      scalars: { bytes: 64, sync: 1, src_device: 1 },
      pointers: [ptr("src", src, 64, "r", 1), ptr("dst", dst, 64, "w", 1)],
    });
  assert.deepEqual(check(peer(0x20000, 0x10000)), []);
  const wrong = check(peer(0x10000, 0x20000));
  assert.deepEqual(wrong.map((g) => [g.argument, g.device, g.pointer_device]), [["src", 1, 0], [
    "dst",
    0,
    1,
  ]]);
  assert.match(wrong[0].detail, /the peer copy reads from device 1/);
  assert.match(wrong[1].detail, /the peer copy writes to device 0/);
  // a copy on device 0 whose destination is device 1's memory
  const d2d = call("d2d", "kv", {
    device: 0,
    scalars: { bytes: 64, sync: 1 },
    pointers: [ptr("src", 0x10000, 64, "r", 1), ptr("dst", 0x20000, 64, "w", 1)],
  });
  const [copy] = check(d2d);
  assert.deepEqual([copy.kind, copy.argument, copy.device, copy.pointer_device], ["d2d", "dst", 0, 1]);
  assert.match(copy.detail, /dst=0x20000 is in w1 \(alloc 2\) of device 1, but the d2d kv runs on device 0/);
  // pointers in no allocation are another rail's
  assert.deepEqual(check(call("launch", "k", { pointers: [ptr("p", 0x90000, 4)] })), []);
});

async function planted(mode: string) {
  const r = await runChild("peer_child.ts", {
    FAULTLINE_QUIET: "1",
    FAULTLINE_BACKEND: "sim",
    FAULTLINE_SIM_DEVICES: "4",
    FAULTLINE_SIM_VISIBLE_DEVICES: undefined,
    FAULTLINE_DEVICE_IDS: undefined,
  }, ["mismatch", mode]);
  assert.ok(r.json, r.stdout + r.stderr);
  return r.json as { outcome: Record<string, string>; findings: Finding[]; launchStatus: number | null };
}

function assertNamed(findings: Finding[], severity: string) {
  const launch = findings.find((f) => f.rail === "device" && f.kind === "launch")!;
  const peer = findings.find((f) => f.rail === "device" && f.kind === "p2p")!;
  assert.equal(findings.filter((f) => f.rail === "device").length, 2);
  assert.equal(launch.kind, "launch");
  assert.equal(launch.name, "fault_fill");
  assert.equal(launch.argument, "dst");
  assert.equal(launch.allocation?.name, "on_device_1");
  assert.equal(launch.allocation?.offset, 256);
  assert.deepEqual([launch.device, launch.pointer_device, launch.severity], [0, 1, severity]);
  assert.equal(peer.kind, "p2p");
  assert.equal(peer.argument, "src");
  assert.equal(peer.allocation?.name, "on_device_0");
  assert.deepEqual([peer.device, peer.pointer_device], [1, 0]);
}

Deno.test("device rail: planted on 4 sim devices, audit mode warns and the launch runs", async () => {
  const r = await planted("audit");
  assertNamed(r.findings, "warn");
  assert.equal(r.outcome.launch, "not refused");
  assert.equal(r.launchStatus, 0);
  // the sim refuses a peer copy whose source is not the source device's memory, as hipMemcpyPeer does
  assert.match(r.outcome.peer, /fl_memcpy_peer failed: invalid argument/);
});

Deno.test("device rail: enforce mode blocks both calls before they reach the device", async () => {
  const r = await planted("enforce");
  assertNamed(r.findings, "error");
  assert.match(r.outcome.launch, /^GuardBlocked: blocked launch fault_fill .* by rail device/);
  assert.match(r.outcome.peer, /^GuardBlocked: blocked p2p wrong src .* by rail device/);
  assert.equal(r.launchStatus, -1);
});
