/**
 * Peer copies and devices through the public API, in a process with several sim devices (argv[0] names
 * the case). Prints one JSON line.
 *   copies     copyFromPeer sync and async, the data, the journal's p2p records and the findings (none)
 *   usage      what copyFrom / copyFromPeer refuse before any native call
 *   mismatch   a raw pointer of device 1 given to a launch and to a peer copy on device 0 (mode audit or
 *              enforce, argv[1]): the findings, and whether the launch ran
 *   ids        the host ids a placed process names its devices by
 */
import { faultFill, FaultlineUsageError, launch, memcpyPeer, runtime } from "../../mod.ts";
import { openAudit } from "../../scripts/audit/session.ts";
import type { Mode } from "../../records.ts";
import { randomFloats } from "./random.ts";

const rt = runtime();
const dir = Deno.makeTempDirSync({ prefix: "fl-peer-" });

function journal(): Record<string, unknown>[] {
  return Deno.readTextFileSync(`${dir}/journal.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
}

function copies() {
  const [d0, d1] = [rt.device(0), rt.device(1)];
  const audit = openAudit({ device: d0, reportDir: dir, mode: "audit" });
  const data = randomFloats(4096);
  const src = d1.malloc(data.byteLength, { name: "shard1" });
  const dst = d0.malloc(data.byteLength, { name: "gathered" });
  src.upload(data);
  dst.copyFromPeer(src);
  const s = d0.createStream();
  dst.copyFromPeer(src, { srcOffset: 4096, dstOffset: 8192, bytes: 4096, stream: s });
  s.synchronize();
  const got = new Float32Array(4096);
  dst.download(got);
  const want = data.slice();
  want.set(data.subarray(1024, 2048), 2048);
  audit.close();
  const p2p = journal().filter((r) => r.kind === "p2p");
  return { same: got.every((v, i) => v === want[i]), p2p, findings: audit.findings, ids: [d0.id, d1.id] };
}

function refused(f: () => void): string {
  try {
    f();
    return "not refused";
  } catch (e) {
    return e instanceof FaultlineUsageError ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
  }
}

function usage() {
  const [d0, d1] = [rt.device(0), rt.device(1)];
  const a = d1.malloc(1024, { name: "a" }), b = d0.malloc(1024, { name: "b" });
  const s1 = d1.createStream();
  const freed = d1.malloc(64, { name: "freed" });
  freed.free();
  return {
    copyFrom: refused(() => b.copyFrom(a)),
    stream: refused(() => b.copyFromPeer(a, { stream: s1 })),
    past: refused(() => b.copyFromPeer(a, { srcOffset: 512, bytes: 1024 })),
    freed: refused(() => b.copyFromPeer(freed)),
    raw: refused(() => memcpyPeer({ dstDevice: d0, dst: -1, srcDevice: d1, src: a.ptr, bytes: 8 })),
  };
}

function mismatch(mode: Mode) {
  const [d0, d1] = [rt.device(0), rt.device(1)];
  const audit = openAudit({ device: d0, reportDir: dir, mode });
  const other = d1.malloc(4096, { name: "on_device_1" });
  const mine = d0.malloc(4096, { name: "on_device_0" });
  const outcome: Record<string, string> = {};
  // the copy first: the launch's fault (the sim faults on another device's memory) is sticky
  outcome.peer = refused(() =>
    memcpyPeer({ dstDevice: d0, dst: mine.ptr, srcDevice: d1, src: mine.ptr, bytes: 64, name: "wrong src" })
  );
  outcome.launch = refused(() => launch(d0, null, faultFill, { dst: other.ptr + 256, n: 16, value: 1 }));
  audit.close();
  const launched = journal().find((r) => r.kind === "launch");
  return { outcome, findings: audit.findings, launchStatus: launched?.status ?? null };
}

function ids() {
  const d = rt.devices();
  const dst = d[0].malloc(256, { name: "dst" }), src = d[1].malloc(256, { name: "src" });
  const audit = openAudit({ device: d[0], reportDir: dir, mode: "audit" });
  dst.copyFromPeer(src);
  audit.close();
  return {
    ids: d.map((x) => x.id),
    busIds: d.map((x) => x.busId),
    records: journal().map((r) => ({ kind: r.kind, device: r.device, scalars: r.scalars })),
    message: refused(() => dst.copyFrom(src)),
  };
}

const which = Deno.args[0];
const out = which === "copies"
  ? copies()
  : which === "usage"
  ? usage()
  : which === "mismatch"
  ? mismatch((Deno.args[1] ?? "audit") as Mode)
  : ids();
console.log(JSON.stringify(out));
