/**
 * The multi-GPU proof, on a machine with two GPUs or more (scripts/gpu_check.sh's `multi` stage):
 *
 * 1. speed-up: the device_isolation matrix on every GPU against GPU 0 alone; passes at >= 0.9·N;
 * 2. isolation: the same matrix with a fault planted on the last GPU's trials; passes when every trial
 *    there FAULTs, every trial on the other GPUs is PASS, and the root cause is the planted write,
 *    attributed from a trial of that GPU;
 * 3. peer copies: peer_gather's trials (two GPUs each) gather a shard with a peer copy and check it (the
 *    p2p record names both GPUs), and a launch given the peer GPU's memory is named by the device rail
 *    (and is the root cause where the GPU faults on it).
 *
 *   deno run -A scripts/ci/multi_gpu_check.ts [--out DIR] [--quick]
 *
 * On sim (a dry run) FAULTLINE_SIM_DEVICES=N gives N simulated devices; the speed-up there measures the
 * runner on the machine's cores and is reported, not judged. Writes multi.json to --out; exit 0 when both
 * parts pass, 1 when one fails, 2 when there are fewer than two devices.
 */
import { dirFlag, parseCli, runCli } from "../cli/flags.ts";
import { join } from "node:path";
import { devicesMatrix, matrixWall } from "../bench/devices_bench.ts";
import { experiment } from "../experiments/device_isolation.ts";
import { experiment as peerGather } from "../experiments/peer_gather.ts";
import { probeDevices } from "../trials/device_probe.ts";
import { runExperiment } from "../trials/experiment.ts";
import type { Inventory } from "../trials/devices.ts";

interface Part {
  pass: boolean;
  lines: string[];
  data: Record<string, unknown>;
}

async function speedUp(inv: Inventory, quick: boolean, reports: string): Promise<Part> {
  const sim = inv.backend === "sim";
  const ids = inv.devices.map((d) => d.id);
  const o = devicesMatrix(sim, ids.length, quick, reports);
  const one = await matrixWall([ids[0]], o);
  const all = await matrixWall(ids, o);
  const ratio = one / all, goal = 0.9 * ids.length;
  return {
    pass: sim || ratio >= goal,
    lines: [
      `speed-up: ${o.iterations} trials: ${(one / 1000).toFixed(2)} s on device ${ids[0]}, ` +
      `${(all / 1000).toFixed(2)} s on ${ids.length} devices: ${ratio.toFixed(2)}x (goal >= ${
        goal.toFixed(1)
      }` +
      `${sim ? "; not judged on sim" : ""})`,
    ],
    data: { trials: o.iterations, oneS: one / 1000, allS: all / 1000, ratio, goal },
  };
}

async function isolation(inv: Inventory, quick: boolean, reports: string): Promise<Part> {
  const ids = inv.devices.map((d) => d.id);
  const bad = ids[ids.length - 1];
  const o = devicesMatrix(inv.backend === "sim", ids.length, quick, reports);
  const res = await runExperiment(experiment, {
    matrix: [{ name: "audit", mode: "audit", iterations: o.iterations }],
    devices: ids,
    params: { ...o.params, fault_device: bad },
    env: o.env,
    reportsDir: reports,
    runId: "isolation",
    print: false,
  });
  const rows = res.report.matrix?.[0].devices ?? [];
  const problems: string[] = [];
  for (const id of ids) {
    const r = rows.find((d) => d.device === String(id));
    if (!r || r.trials === 0) problems.push(`no trial ran on device ${id}`);
    else if (id === bad && r.errors !== r.trials) {
      problems.push(`device ${id}: ${r.errors} of ${r.trials} faulted`);
    } else if (id !== bad && r.errors > 0) {
      problems.push(`device ${id}: ${r.errors} of ${r.trials} trials failed`);
    }
  }
  const rc = res.report.attribution?.rootCause;
  if (rc?.kernel !== "fault_write_at" || rc.name !== "plant") {
    problems.push(`root cause ${rc ? `${rc.kernel} ${rc.name}` : "none"}, not the planted write`);
  }
  if (res.report.deviceId !== bad) problems.push(`attributed from device ${res.report.deviceId}, not ${bad}`);
  const by = rows.map((d) => `${d.device}: ${d.errors}/${d.trials} failed`).join(", ");
  return {
    pass: problems.length === 0,
    lines: [
      `isolation: fault planted on device ${bad}; ${by}; ${problems.length ? problems.join("; ") : "ok"}`,
    ],
    data: { faultDevice: bad, devices: rows, rootCause: rc ?? null, deviceId: res.report.deviceId, problems },
  };
}

async function peerCopies(inv: Inventory, reports: string): Promise<Part> {
  const ids = inv.devices.map((d) => d.id).slice(0, 2);
  const env: Record<string, string> = inv.backend === "sim"
    ? { FAULTLINE_SIM_DEVICES: String(inv.devices.length) }
    : {};
  const run = (wrong: boolean) =>
    runExperiment(peerGather, { devices: ids, params: { wrong }, env, reportsDir: reports, print: false });
  const ok = await run(false);
  const problems: string[] = [];
  const p2p = ok.report.records.find((r) => r.kind === "p2p");
  if (ok.report.status !== "OK") problems.push(`the clean gather ended ${ok.report.status}`);
  if (p2p?.device !== ids[0] || p2p.scalars.src_device !== ids[1]) {
    problems.push(`the p2p record names devices ${p2p?.device} <- ${p2p?.scalars.src_device}`);
  }
  if (ok.report.findings.length) {
    problems.push(`the clean gather has ${ok.report.findings.length} finding(s)`);
  }
  const bad = await run(true);
  const named = bad.report.findings.find((f) => f.rail === "device" && f.label === "scale");
  if (!named) problems.push("no device finding for the launch given the peer's memory");
  const rc = bad.report.attribution?.rootCause;
  if (bad.report.status === "FAULT" && rc?.name !== "scale") {
    problems.push(`root cause ${rc?.name}, not scale`);
  }
  return {
    pass: problems.length === 0,
    lines: [
      `peer copies: gather ${ok.report.status}; a launch given device ${
        ids[1]
      }'s memory: ${bad.report.status}, ` +
      `${named ? "named by the device rail" : "not named"}; ${problems.length ? problems.join("; ") : "ok"}`,
    ],
    data: { gather: ok.report.status, wrong: bad.report.status, finding: named ?? null, problems },
  };
}

const CLI = {
  name: "multi_gpu_check",
  usage: `usage: deno run -A scripts/ci/multi_gpu_check.ts [--out DIR] [--quick]
  the multi-GPU proof (speed-up, isolation, peer copies) on every device; writes DIR/multi.json
  --out DIR   where multi.json goes (default build/gpu_check)
  --quick     smaller matrices`,
  options: {
    out: { type: "string", default: "build/gpu_check" },
    quick: { type: "boolean", default: false },
  },
} as const;

async function main(args: string[]): Promise<number> {
  const { values } = parseCli(CLI, args);
  const out = dirFlag(values.out, "out", { mayCreate: true })!;
  const inv = await probeDevices();
  console.log(`${inv.backend}: ${inv.devices.map((d) => `${d.id} ${d.name} (${d.busId})`).join("; ")}`);
  if (inv.devices.length < 2) {
    console.error(
      `multi-GPU check: needs at least 2 devices, the ${inv.backend} backend has ${inv.devices.length}`,
    );
    return 2;
  }
  const reports = await Deno.makeTempDir({ prefix: "faultline-multi-" });
  const parts = {
    speedUp: await speedUp(inv, values.quick, reports),
    isolation: await isolation(inv, values.quick, reports),
    peerCopies: await peerCopies(inv, reports),
  };
  for (const p of Object.values(parts)) {
    for (const l of p.lines) console.log(`${p.pass ? "PASS" : "FAIL"} ${l}`);
  }
  await Deno.mkdir(out, { recursive: true });
  const summary = { backend: inv.backend, devices: inv.devices, ...parts, reports };
  await Deno.writeTextFile(join(out, "multi.json"), JSON.stringify(summary, null, 2) + "\n");
  return Object.values(parts).every((p) => p.pass) ? 0 : 1;
}

if (import.meta.main) await runCli(CLI, main);
