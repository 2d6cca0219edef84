/**
 * Real trials on the default backend (sim in CI): the child loads the
 * library, audits the trial and leaves its journal; the sync points of a
 * bisection land after the launches they name; a fault in a child is only a
 * trial's status.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Backend, describeBuild, libraryPath, readBuildInfo } from "../../../mod.ts";
import { experiment } from "../../../scripts/experiments/fault_catalogue.ts";
import { loadTrialEvidence } from "../../../scripts/trials/experiment.ts";
import { makeSpec, runTrial } from "../../../scripts/trials/runner.ts";

const file = decodeURIComponent(new URL(experiment.file!).pathname);

Deno.test("trial on the device: audit journal, findings and fault info come back from the child", async () => {
  const dir = join(await Deno.makeTempDir(), "t");
  const o = await runTrial(
    file,
    makeSpec("fault_catalogue", dir, "audit", { params: { case: "use-after-free" } }),
    {
      timeoutMs: 60_000,
    },
  );
  const ev = await loadTrialEvidence(dir, o);
  if (o.result?.backend === "sim" || o.status === "FAULT") {
    assert.equal(o.status, "FAULT");
    assert.equal(o.result?.error?.code, 700);
  } else {
    // GPU allocators usually keep freed memory mapped: the write lands without
    // a fault, and only the guard rail (checked below) names it.
    assert.equal(o.status, "OK");
  }
  assert.ok(ev.records.length > 5);
  assert.ok(ev.findings.some((f) => f.rail === "use_after_free"));
  const planted = ev.records.find((r) => r.op === "plant" && r.kind === "launch")!;
  assert.equal(planted.name, "fault_write_at");
  if (o.result?.backend === "sim") {
    assert.equal(ev.fault?.tag, planted.id); // the backend's witness names the same op
    assert.equal(ev.fault?.op, "fault_write_at");
  }
});

Deno.test("trial on the device: sync points land after the launch ordinals a bisection asks for", async () => {
  const dir = join(await Deno.makeTempDir(), "t");
  const o = await runTrial(
    file,
    makeSpec("fault_catalogue", dir, "audit", {
      params: { case: "none" },
      syncAfter: [0, 2],
      purpose: "bisect",
    }),
    { timeoutMs: 60_000 },
  );
  assert.equal(o.status, "OK");
  const { records } = await loadTrialEvidence(dir, o);
  const launches = records.filter((r) => r.kind === "launch");
  const next = (id: number) => records[records.findIndex((r) => r.id === id) + 1];
  const policySync = (id: number) => next(id)?.kind === "sync" && next(id)?.scalars.policy === 1;
  assert.ok(policySync(launches[0].id), "a sync after launch 0");
  assert.ok(!policySync(launches[1].id), "none after launch 1");
  assert.ok(policySync(launches[2].id), "a sync after launch 2");
  assert.ok(!policySync(launches[3].id), "none after launch 3");
});

Deno.test("trial on the device: blocking mode syncs after every launch and stops at the faulting one", async () => {
  const dir = join(await Deno.makeTempDir(), "t");
  const o = await runTrial(
    file,
    makeSpec("fault_catalogue", dir, "blocking", { params: { case: "null-pointer" }, purpose: "replay" }),
    { timeoutMs: 60_000 },
  );
  assert.equal(o.status, "FAULT");
  const { records } = await loadTrialEvidence(dir, o);
  const failed = records.find((r) => r.status !== null && r.status !== 0)!;
  const before = records[records.indexOf(failed) - 1];
  assert.equal(before.kind, "launch");
  assert.equal(before.op, "plant");
  assert.equal(before.name, "fault_write_at");
});

Deno.test("experiment: the debug environment preset reaches the report; a sanitizer request is answered", async () => {
  const { runExperiment } = await import("../../../scripts/trials/experiment.ts");
  const reports = await Deno.makeTempDir();
  const res = await runExperiment(experiment, {
    params: { case: "none" },
    debugEnv: "hip",
    sanitizer: true,
    reportsDir: reports,
    print: false,
  });
  const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
  assert.equal(v.debug_env.AMD_SERIALIZE_KERNEL, "3");
  assert.equal(v.debug_env.HSA_ENABLE_SDMA, "0");
  const md = await Deno.readTextFile(join(res.dir, "report.md"));
  assert.match(
    md,
    /\| Debug environment \| hip: HIP_LAUNCH_BLOCKING=1 AMD_SERIALIZE_KERNEL=3 AMD_SERIALIZE_COPY=3/,
  );
  if (res.report.backend !== "cuda") assert.match(md, /compute-sanitizer was requested but/);
  // The library's build info (its targets) reaches both records.
  const built = readBuildInfo(libraryPath(res.report.backend as Backend));
  assert.ok(built && built.targets.length > 0, "the loaded library has its build info");
  assert.deepEqual(v.build, { targets: built.targets, chosen_by: built.chosen_by });
  assert.ok(md.includes(`| Build targets | ${describeBuild(built)} |`), "report.md names the targets");
});

Deno.test("experiment: a child that segfaults mid-run is a CRASH; its journal is recovered from the ring", async () => {
  const { runExperiment } = await import("../../../scripts/trials/experiment.ts");
  const dir = await Deno.makeTempDir();
  const file = join(dir, "crash_exp.ts");
  const framework = new URL("../../../scripts/trials/experiment.ts", import.meta.url).href;
  await Deno.writeTextFile(
    file,
    `import { defineExperiment, main } from ${JSON.stringify(framework)};
export const experiment = defineExperiment({
  name: "crash_probe",
  run(ctx) {
    const { launch, faultFill } = ctx.ffi;
    const x = ctx.device.malloc(4096, { name: "x" });
    ctx.at({ step: 0, op: "fill x" });
    launch(ctx.device, null, faultFill, { dst: x, n: 1024, value: 1 });
    ctx.device.synchronize();
    // a host segfault inside a native call that is not the library's
    Deno.dlopen("libc.so.6", { strlen: { parameters: ["pointer"], result: "usize" } })
      .symbols.strlen(Deno.UnsafePointer.create(16n));
  },
});
if (import.meta.main) await main(experiment);
`,
  );
  const { experiment: exp } = await import(new URL(`file://${file}`).href);
  const res = await runExperiment(exp, { reportsDir: dir, print: false, attribute: false });
  assert.equal(res.report.status, "FAULT");
  assert.equal(res.report.trials[0].status, "CRASH");
  assert.match(res.report.trials[0].detail, /SIGSEGV/);
  // the child died before writing journal.jsonl: the parent decoded journal.bin
  assert.ok(res.report.records.some((r) => r.kind === "launch" && r.op === "fill x"));
  assert.match(await Deno.readTextFile(join(res.dir, "report.md")), /ended as CRASH/);
});

Deno.test("experiment: a fault in an uninstrumented trial is re-run audited, then attributed", async () => {
  const { runExperiment } = await import("../../../scripts/trials/experiment.ts");
  const res = await runExperiment(experiment, {
    mode: "off",
    params: { case: "null-pointer" },
    reportsDir: await Deno.makeTempDir(),
    print: false,
  });
  assert.equal(res.report.status, "FAULT");
  assert.deepEqual(res.report.trials.map((t) => [t.purpose, t.mode]), [
    ["run", "off"],
    ["journal", "audit"],
    ["replay", "blocking"],
  ]);
  const a = res.report.attribution!;
  assert.equal(a.replays, 2);
  assert.equal(a.rootCause?.name, "plant");
  assert.equal(a.rootCause?.invariant, "pointer arguments are not null");
});
