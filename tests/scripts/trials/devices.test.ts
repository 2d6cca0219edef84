/**
 * Trials placed on 4 simulated devices (FAULTLINE_SIM_DEVICES=4), with real children: each trial runs
 * on the device it was given (its runtime's bus id, its journal, its result say so), one at a time per
 * device and side by side across devices; a fault planted on one device's trials leaves every trial on
 * the other devices PASS and is attributed from a trial of that device; --devices restricts the run and
 * refuses devices there are not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { experiment } from "../../../scripts/experiments/device_isolation.ts";
import { loadTrialEvidence, runExperiment } from "../../../scripts/trials/experiment.ts";
import { RunTrials } from "../../../scripts/trials/run_trials.ts";
import { verdictProblems } from "../../helpers/verdict_schema.ts";

const FOUR = { FAULTLINE_SIM_DEVICES: "4", FAULTLINE_BACKEND: "sim" };
const file = decodeURIComponent(new URL(experiment.file!).pathname);
const repo = decodeURIComponent(new URL("../../../", import.meta.url).pathname);
const small = { dim: 64, work: 8 };

interface Span {
  device: number;
  from: number;
  to: number;
}

/** One trial per device at a time, and trials on different devices side by side. */
function assertSpans(spans: Span[]): void {
  const overlap = (a: Span, b: Span) => a.from < b.to && b.from < a.to;
  const pairs = spans.flatMap((a, i) => spans.slice(i + 1).map((b) => [a, b]));
  assert.ok(pairs.every(([a, b]) => a.device !== b.device || !overlap(a, b)), "two trials shared a device");
  assert.ok(pairs.some(([a, b]) => a.device !== b.device && overlap(a, b)), "no two trials ran side by side");
}

Deno.test("placement: each trial runs on the device it was given, one trial per device at a time", async () => {
  const dir = await Deno.makeTempDir();
  const trials = new RunTrials(experiment, file, dir, small, null, {
    timeoutMs: 60_000,
    env: FOUR,
    cwd: repo,
  });
  await trials.place();
  assert.equal(trials.width, 4);
  assert.deepEqual(trials.devices, [0, 1, 2, 3]);
  const specs = Array.from({ length: 8 }, (_, i) => trials.spec("audit", "matrix", { iteration: i }));
  const outcomes = await Promise.all(specs.map((s) => trials.run(s)));
  assert.deepEqual([...new Set(outcomes.map((o) => o.spec.devices![0]))].sort(), [0, 1, 2, 3]);
  const spans: Span[] = [];
  for (const o of outcomes) {
    const d = o.spec.devices![0];
    assert.equal(o.status, "OK", o.stderrTail);
    assert.equal(o.result?.busId, `sim:${d}`, "the runtime's own bus id names the simulated device");
    assert.equal(o.result?.deviceId, d);
    assert.equal(o.result?.values?.device, d);
    const { records } = await loadTrialEvidence(o.spec.runDir, o);
    assert.ok(records.length > 8);
    assert.ok(
      records.every((r) => r.device === d),
      `a record of trial ${o.spec.runDir} names another device`,
    );
    // the runner writes trial.json just before it starts the child; the child writes its journal at exit
    const from = (await Deno.stat(join(o.spec.runDir, "trial.json"))).mtime!.getTime();
    const to = (await Deno.stat(join(o.spec.runDir, "journal.jsonl"))).mtime!.getTime();
    spans.push({ device: d, from, to });
    const spec = JSON.parse(await Deno.readTextFile(join(o.spec.runDir, "trial.json")));
    assert.deepEqual(spec.devices, [d]);
  }
  assertSpans(spans);
});

Deno.test("isolation: a fault planted on device 2's trials leaves the other devices' trials PASS", async () => {
  const res = await runExperiment(experiment, {
    matrix: [{ name: "audit", mode: "audit", iterations: 8 }],
    params: { ...small, fault_device: 2 },
    env: FOUR,
    reportsDir: await Deno.makeTempDir(),
    print: false,
  });
  const row = res.report.matrix![0];
  // which device takes the next trial depends on which is free first: every one gets some
  assert.deepEqual(row.devices!.map((d) => d.device), ["0", "1", "2", "3"]);
  assert.equal(row.devices!.reduce((s, d) => s + d.trials, 0), 8);
  for (const d of row.devices!) {
    assert.ok(d.trials > 0);
    assert.equal(d.errors, d.device === "2" ? d.trials : 0, `device ${d.device}: ${d.errors} errors`);
  }
  const two = row.devices![2].trials;
  assert.equal(row.errors, two);
  assert.equal(res.report.status, "FAULT");
  assert.equal(res.report.deviceId, 2);
  const rc = res.report.attribution!.rootCause!;
  assert.deepEqual([rc.kernel, rc.name, rc.argument], ["fault_write_at", "plant", "addr"]);
  // the replay that named it ran where the fault lives
  const replays = res.report.trials.filter((t) => t.purpose === "replay");
  assert.ok(replays.length > 0 && replays.every((t) => t.devices?.[0] === 2 && t.status === "FAULT"));
  const note = `only from trials on device 2 (${two} of ${two} there; none of the ${
    8 - two
  } on devices 0, 1, 3)`;
  assert.ok(res.report.notes!.some((n) => n.includes(note)), res.report.notes!.join("\n"));
  assert.ok(res.report.records.every((r) => r.device === 2));
  const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
  assert.deepEqual(verdictProblems(v), []);
  assert.equal(v.device_id, 2);
  assert.deepEqual(v.matrix[0].devices, row.devices);
  const md = await Deno.readTextFile(join(res.dir, "report.md"));
  assert.ok(md.includes(`| 2 | ${two} | ${two} | FAIL |`), md);
  assert.match(md, /\| 0 \| \d+ \| 0 \| PASS \|/);
});

async function cli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file, ...args, "--reports", await Deno.makeTempDir()],
    env: { ...FOUR, FAULTLINE_QUIET: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("--devices: the run uses only the devices listed; ones there are not are refused", async () => {
  const r = await cli([
    "--matrix",
    "--scale",
    "0.25",
    "--devices",
    "1,3",
    "--param",
    "dim=64",
    "--param",
    "work=8",
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\| A \| audit \| 4 \| 0 \| 1: \d, 3: \d \| PASS \|/);
  const missing = await cli(["--devices", "1,7"]);
  assert.equal(missing.code, 2);
  const [first, usage] = missing.stderr.split("\n");
  assert.equal(first, "device_isolation: --devices: no device 7: the sim backend has 4 (0, 1, 2, 3)");
  assert.match(usage, /^usage: /);
  const bad = await cli(["--devices", "one"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--devices: "one" is not a device number or range/);
});

Deno.test("two devices a trial: slots of two, a peer copy inside each; a launch given the peer's memory is named", async () => {
  const { experiment: gather } = await import("../../../scripts/experiments/peer_gather.ts");
  const run = (wrong: boolean) =>
    runExperiment(gather, {
      matrix: [{ name: "audit", mode: "audit", iterations: 4 }],
      params: { wrong },
      env: FOUR,
      reportsDir: reports,
      print: false,
    });
  const reports = await Deno.makeTempDir();
  const ok = await run(false);
  assert.equal(ok.report.status, "OK");
  assert.deepEqual(ok.report.matrix![0].devices!.map((d) => [d.device, d.errors]), [["0+1", 0], ["2+3", 0]]);
  const [home, peer] = ok.report.values!.ids as number[];
  assert.deepEqual(ok.report.values!.busIds, [`sim:${home}`, `sim:${peer}`]);
  assert.ok([[0, 1], [2, 3]].some(([a, b]) => a === home && b === peer));
  const p2p = ok.report.records.filter((r) => r.kind === "p2p");
  assert.deepEqual(p2p.map((r) => [r.device, r.scalars.src_device]), [[home, peer]]);
  assert.deepEqual(ok.report.findings, []);

  const bad = await run(true);
  assert.equal(bad.report.status, "FAULT");
  const rc = bad.report.attribution!.rootCause!;
  assert.deepEqual([rc.kernel, rc.name, rc.argument], ["fault_fill", "scale", "dst"]);
  assert.equal(rc.invariant, "device pointers are in memory of the device the call uses them on");
  const f = rc.findings.find((x) => x.rail === "device")!;
  assert.equal(f.allocation?.name, "shard");
  assert.deepEqual([f.device, f.pointer_device], [bad.report.deviceId, bad.report.deviceId! + 1]);
  const confirmed = bad.report.hypotheses.filter((h) => h.status === "CONFIRMED").map((h) => h.id);
  assert.deepEqual(confirmed, ["misaligned-pointer"]);
});

Deno.test("two devices a trial: refused before any trial where there are fewer, or a count that is none", async () => {
  const { experiment: gather } = await import("../../../scripts/experiments/peer_gather.ts");
  const reports = await Deno.makeTempDir();
  await assert.rejects(
    () =>
      runExperiment(gather, {
        env: { ...FOUR, FAULTLINE_SIM_DEVICES: "1" },
        reportsDir: reports,
        print: false,
      }),
    /each trial uses 2 devices but 1 is given \(0\)/,
  );
  await assert.rejects(
    () => runExperiment({ ...gather, devices: 0 }, { env: FOUR, reportsDir: reports, print: false }),
    /devices \(per trial\) must be a positive integer, got 0/,
  );
});
