/**
 * The D2H experiments on the default backend (tiny model on every backend):
 * the D2H audit, the model-compatibility guard rail and the D2H race matrix
 * (scaled down).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { experiment as d2hAudit } from "../../../scripts/experiments/d2h_audit.ts";
import { experiment as modelCompat } from "../../../scripts/experiments/model_compat.ts";
import { experiment as raceMatrix } from "../../../scripts/experiments/d2h_race_matrix.ts";
import { runExperiment } from "../../../scripts/trials/experiment.ts";

const reports = await Deno.makeTempDir({ prefix: "faultline-d2h-" });
const statusOf = (hs: { id: string; status: string }[]) =>
  Object.fromEntries(hs.map((h) => [h.id, h.status]));

Deno.test("d2h audit: every trace copy journaled; nothing reproduced on a clean decode", async () => {
  const res = await runExperiment(d2hAudit, {
    reportsDir: reports,
    runId: "audit-clean",
    print: false,
    params: { model: "tiny" },
  });
  assert.equal(res.report.status, "OK");
  const s = statusOf(res.report.hypotheses);
  assert.equal(s["use-after-free"], "NOT_REPRODUCED");
  assert.equal(s["byte-size-mismatch"], "NOT_REPRODUCED");
  assert.equal(s["staging-buffer-reuse"], "RULED_OUT");
  assert.equal(Object.values(s).filter((x) => x === "CONFIRMED").length, 0);
  const log = await Deno.readTextFile(join(res.dir, "d2h_audit.log"));
  assert.match(
    log,
    /^\[D2H_AUDIT_START\] op_id=\d+ ts=[\d.]+ stream=0x[0-9a-f]+ dev_ptr=0x[0-9a-f]+ host_ptr=0x/m,
  );
  assert.match(log, /\[D2H_AUDIT_END\] .* result=(hip|cuda)Success tensor=k_cache\.L0/);
  assert.match(await Deno.readTextFile(join(res.dir, "report.md")), /## D2H audit log/);
});

Deno.test("d2h audit: seq_len_used past the KV cache in the attention trace is named", async () => {
  const res = await runExperiment(d2hAudit, {
    reportsDir: reports,
    runId: "audit-kv",
    print: false,
    params: { model: "tiny", fault: "kv-overflow" },
  });
  const rc = res.report.attribution!.rootCause!;
  assert.equal(rc.name, "attention trace");
  assert.equal(rc.kind, "d2h");
  assert.equal(rc.kernel, "k_cache.L0");
  assert.equal(rc.argument, "src");
  assert.equal(rc.invariant, "copy within both ends");
  assert.equal(statusOf(res.report.hypotheses)["byte-size-mismatch"], "CONFIRMED");
});

Deno.test("model compat: the guard rail blocks the mismatched model; overridden, it runs", async () => {
  const res = await runExperiment(modelCompat, {
    reportsDir: reports,
    runId: "compat",
    print: false,
    params: { model: "tiny-ffn", engine: "tiny" },
  });
  assert.equal(res.report.status, "BLOCKED");
  const rc = res.report.attribution!.rootCause!;
  assert.equal(rc.argument, "ffnDim");
  assert.match(rc.invariant!, /ffnDim equals the engine build's/);
  assert.equal(statusOf(res.report.hypotheses)["config-mismatch"], "CONFIRMED");
  const rows = res.report.matrix!;
  assert.deepEqual(rows.map((r) => [r.name, r.errors]), [["guard on", 1], ["guard overridden", 0]]);
  assert.equal(rows[0].outcomes.BLOCKED, 1);
  const md = await Deno.readTextFile(join(res.dir, "report.md"));
  assert.match(md, /The guard rail works/);
  assert.match(md, /ran to the end/);
});

Deno.test("race matrix: baseline / audit / stress rows in isolated trials; a skipped event wait is caught", async () => {
  const res = await runExperiment(raceMatrix, {
    reportsDir: reports,
    runId: "matrix",
    print: false,
    scale: 0.04, // 2 / 2 / 4 trials
    params: { race: "skip-wait" },
  });
  const rows = res.report.matrix!;
  assert.deepEqual(rows.map((r) => [r.name, r.mode, r.iterations, r.errors, r.status]), [
    ["baseline", "off", 2, 0, "PASS"],
    ["audit", "audit", 2, 0, "PASS"],
    ["stress", "audit", 4, 0, "PASS"],
  ]);
  assert.equal(res.report.status, "OK");
  const rc = res.report.attribution!.rootCause!;
  assert.equal(rc.name, "logits D2H");
  assert.match(rc.invariant!, /ordered by an event wait or a sync/);
  assert.equal(statusOf(res.report.hypotheses)["missing-stream-sync"], "CONFIRMED");
  const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
  // one device: the trials ran one at a time, every one of them on device 0
  assert.deepEqual(v.matrix[2], {
    name: "stress",
    mode: "audit",
    iterations: 4,
    errors: 0,
    status: "PASS",
    devices: [{ device: "0", trials: 4, errors: 0 }],
  });
  assert.match(
    await Deno.readTextFile(join(res.dir, "report.md")),
    /\| \*\*Total\*\* \| - \| \*\*8\*\* \| \*\*0\*\* \| 0: 8 \| \*\*PASS\*\* \|/,
  );
});
