/**
 * The RoPE launch forensics on the block scheduler: a freed
 * buffer's address planted as RoPE Q's x at step 3, layer 0 surfaces at the
 * logits copy/sync of that step, and one blocking replay names RoPE Q, its
 * step, layer and argument. A zero seq_len is refused at the launch itself.
 * Runs on the default backend with the tiny model (the 7B-shaped run is the benchmark:
 * timeToRootCause in scripts/experiments/rope_forensics.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { experiment } from "../../../scripts/experiments/rope_forensics.ts";
import { runExperiment } from "../../../scripts/trials/experiment.ts";

const reports = await Deno.makeTempDir({ prefix: "faultline-rope-" });

Deno.test("rope forensics: a stale pointer in RoPE Q surfaces at the logits copy and is traced back in one replay", async () => {
  const res = await runExperiment(experiment, {
    reportsDir: reports,
    runId: "stale",
    print: false,
    params: { model: "tiny" },
  });
  const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
  assert.equal(v.status, "FAULT");
  assert.equal(v.root_cause.name, "RoPE Q");
  assert.equal(v.root_cause.step, 3);
  assert.equal(v.root_cause.layer, 0);
  assert.equal(v.root_cause.argument, "x");
  assert.match(v.root_cause.kernel, /^rope/);
  assert.ok(v.root_cause.invariant);
  // surfaced downstream: a logits copy or sync of the same step, after RoPE Q
  assert.ok(v.surfaced_at.op > v.root_cause.op);
  const surfaced = res.report.attribution!.surfaced!;
  assert.equal(surfaced.step, 3);
  assert.match(surfaced.opName ?? "", /logits|token/);
  assert.match(v.surfaced_at.error, /illegal memory access/);
  // the benchmark's goal: at most 2 replays (and the wall time is recorded)
  assert.ok(v.attribution.replays <= 2);
  assert.equal(typeof v.attribution.wall_s, "number");
  const byId = Object.fromEntries(v.hypotheses.map((h: { id: string; status: string }) => [h.id, h.status]));
  assert.equal(byId["rope-q-upstream"], "CONFIRMED");
  assert.equal(byId["d2h-copy-is-the-bug"], "RULED_OUT");
  assert.equal(byId["missing-stream-sync"], "RULED_OUT");
  assert.equal(byId["rope-pointer"], "CONFIRMED");
  assert.equal(byId["rope-dims"], "RULED_OUT");
  assert.equal(byId["rope-module"], "RULED_OUT");
  const md = await Deno.readTextFile(join(res.dir, "report.md"));
  assert.match(md, /\*\*Root cause:\*\* op #\d+, launch `rope[a-z_]*` — \*\*RoPE Q\*\*, step 3, layer 0/);
  const svg = await Deno.readTextFile(join(res.dir, "timeline.svg"));
  assert.match(svg, /root cause: #\d+ RoPE Q \(step 3 layer 0\)/);
});

Deno.test("rope forensics: a zero seq_len in RoPE Q at layer 1 is refused at its launch", async () => {
  const res = await runExperiment(experiment, {
    reportsDir: reports,
    runId: "zero",
    print: false,
    params: { model: "tiny", fault: "zero-seq-len", layer: 1 },
  });
  const rc = res.report.attribution!.rootCause!;
  assert.equal(rc.name, "RoPE Q");
  assert.equal(rc.layer, 1);
  assert.equal(rc.argument, "seq_len");
  assert.equal(rc.invariant, "seq_len > 0");
  assert.equal(res.report.attribution!.method, "launch-status");
  assert.equal(res.report.attribution!.replays, 0);
});

Deno.test("rope forensics: freq_base 0 does not fault; the invariant rail still names RoPE Q (its freq_base hypothesis is CONFIRMED)", async () => {
  const res = await runExperiment(experiment, {
    reportsDir: reports,
    runId: "base",
    print: false,
    params: { model: "tiny", fault: "zero-base" },
  });
  assert.equal(res.report.status, "OK");
  const rc = res.report.attribution!.rootCause!;
  assert.equal(rc.name, "RoPE Q");
  assert.equal(rc.argument, "freq_base");
  const s = Object.fromEntries(res.report.hypotheses.map((h) => [h.id, h.status]));
  assert.equal(s["rope-base"], "CONFIRMED");
  assert.equal(s["rope-pointer"], "RULED_OUT");
  assert.equal(s["rope-q-upstream"], "NOT_REPRODUCED");
});

Deno.test("rope forensics: the same decode without a fault is OK, with nothing CONFIRMED", async () => {
  const res = await runExperiment(experiment, {
    reportsDir: reports,
    runId: "clean",
    print: false,
    params: { model: "tiny", fault: "none" },
  });
  assert.equal(res.report.status, "OK");
  assert.deepEqual(res.report.findings, []);
  assert.deepEqual(res.report.hypotheses.filter((h) => h.status === "CONFIRMED"), []);
});
