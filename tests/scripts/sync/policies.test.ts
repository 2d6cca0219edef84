import assert from "node:assert/strict";
import { launch } from "../../../ffi/kernels.ts";
import { faultFill, tick } from "../../../ffi/kernels_base.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import {
  customSync,
  noSync,
  perOp,
  syncAfterEveryLaunch,
  syncAroundD2H,
  syncEveryN,
  type SyncPolicy,
  syncPolicyByName,
} from "../../../scripts/sync/index.ts";
import { boundary } from "../../../ffi/boundary.ts";
import { reportDir, runChild, testDevice } from "../../helpers/audit_device.ts";
import { STICKY_FAULTS } from "../../../scripts/forensics/codes.ts";
import type { JournalRecord } from "../../../records.ts";

/** A small workload on a created stream; returns the journal as "kind:name" strings, policy syncs marked "+". */
function workload(sync: SyncPolicy | undefined, mode: "audit" | "blocking" = "audit"): string[] {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode, sync });
  const s = device.createStream();
  const x = device.malloc(4096, { name: "x" });
  const host = device.hostAlloc(4096, { name: "x_host" });
  let recs: JournalRecord[] = [];
  try {
    boundary.context = { op: "fill" };
    launch(device, s, faultFill, { dst: x, n: 1024, value: 1 });
    boundary.context = { op: "tick" };
    launch(device, s, tick, { counter: x });
    boundary.context = { op: "logits D2H" };
    x.download(host, { stream: s });
    boundary.context = {};
    s.synchronize();
    recs = audit.decode()!.records;
  } finally {
    boundary.context = {};
    host.free();
    x.free();
    s.destroy();
    audit.close();
  }
  const first = recs.findIndex((r) => r.kind === "launch");
  return recs.slice(first, recs.findIndex((r, i) => i > first && r.kind === "sync" && !r.scalars.policy) + 1)
    .map((r) => r.kind === "sync" ? (r.scalars.policy ? "+sync" : "sync") : `${r.kind}:${r.name}`);
}

Deno.test("sync: none adds nothing", () => {
  assert.deepEqual(workload(noSync()), ["launch:fault_fill", "launch:tick", "d2h:x", "sync"]);
  assert.deepEqual(workload(undefined), ["launch:fault_fill", "launch:tick", "d2h:x", "sync"]);
});

Deno.test("sync: after every launch (blocking mode's policy, like HIP_LAUNCH_BLOCKING)", () => {
  const want = ["launch:fault_fill", "+sync", "launch:tick", "+sync", "d2h:x", "sync"];
  assert.deepEqual(workload(syncAfterEveryLaunch()), want);
  assert.deepEqual(workload(undefined, "blocking"), want);
});

Deno.test("sync: around device-to-host copies (the safe D2H wrapper)", () => {
  assert.deepEqual(workload(syncAroundD2H()), [
    "launch:fault_fill",
    "launch:tick",
    "+sync",
    "d2h:x",
    "+sync",
    "sync",
  ]);
});

Deno.test("sync: every N ops, per op and custom policies", () => {
  assert.deepEqual(workload(syncEveryN(2)), ["launch:fault_fill", "launch:tick", "+sync", "d2h:x", "sync"]);
  assert.deepEqual(
    workload(perOp({ byOp: { "tick": syncAfterEveryLaunch() }, byKind: { d2h: syncAroundD2H() } })),
    ["launch:fault_fill", "launch:tick", "+sync", "+sync", "d2h:x", "+sync", "sync"],
  );
  assert.deepEqual(
    workload(
      customSync("after-tick", (c, phase) => (phase === "after" && c.name === "tick" ? "device" : "none")),
    ),
    ["launch:fault_fill", "launch:tick", "+sync", "d2h:x", "sync"],
  );
  assert.equal(syncPolicyByName("every:8").name, "every-8-ops");
  assert.equal(syncPolicyByName("d2h").name, "around-d2h");
  assert.throws(() => syncPolicyByName("sometimes"), RangeError);
});

Deno.test("sync: a policy can be changed in the middle of a run", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  const x = device.malloc(4, { name: "c" });
  try {
    launch(device, null, tick, { counter: x });
    audit.sync = syncAfterEveryLaunch();
    launch(device, null, tick, { counter: x });
    audit.sync = noSync();
    launch(device, null, tick, { counter: x });
    const recs = audit.decode()!.records.filter((r) => r.kind === "launch" || r.kind === "sync");
    assert.deepEqual(recs.map((r) => r.kind), ["launch", "launch", "sync", "launch"]);
  } finally {
    x.free();
    audit.close();
  }
});

Deno.test("sync: in blocking mode the fault surfaces at the launch that caused it", async () => {
  const dir = reportDir("fl-fault-");
  const r = await runChild("audit_fault_child.ts", ["--dir", dir, "--mode", "blocking"]);
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(seen.surfaced, "launch");
  assert.ok(STICKY_FAULTS.has(seen.status), `status ${seen.status}`);
  assert.match(seen.call, /sync policy after-every-launch, after op (\d+) fault_write_at/);
  const op = Number(/after op (\d+)/.exec(seen.call)![1]);
  assert.equal(seen.tag, op);
  const recs = Deno.readTextFileSync(`${dir}/journal.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
  // no D2H was ever attempted
  assert.equal(recs.filter((x) => x.kind === "d2h").length, 0);
  const sync = recs.find((x) => x.kind === "sync" && x.status === seen.status);
  assert.equal(sync.scalars.policy, 1);
});
