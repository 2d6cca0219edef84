/**
 * The fault catalogue: every planted fault is attributed to the planted op
 * with the right invariant, and a clean run yields no finding and no
 * hypothesis CONFIRMED. Runs on the default backend (sim in CI; the GPU
 * backends where built: FAULTLINE_BACKEND=cuda).
 *
 * On GPU backends a write through a small freed allocation need not fault
 * (the driver may keep the page mapped): there the guard finding alone must
 * name the op, so "surfaces later" is relaxed to "surfaces later or not at all"; likewise a
 * copy past its buffer may read neighbouring memory without an error ("self" or not at all).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CASES, experiment } from "../../../scripts/experiments/fault_catalogue.ts";
import { runExperiment } from "../../../scripts/trials/experiment.ts";

const reports = await Deno.makeTempDir({ prefix: "faultline-catalogue-" });

for (const [name, expect] of Object.entries(CASES)) {
  Deno.test(`catalogue: ${name}${expect ? ` → ${expect.rail}: ${expect.invariant}` : " → no finding"}`, async () => {
    const res = await runExperiment(experiment, {
      params: { case: name },
      reportsDir: reports,
      runId: name,
      print: false,
      timeoutMs: 60_000,
    });
    const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
    const confirmed = v.hypotheses.filter((h: { status: string }) => h.status === "CONFIRMED").map((
      h: { id: string },
    ) => h.id);
    const sim = res.report.backend === "sim";
    if (expect === null) {
      assert.equal(v.status, "OK");
      assert.equal(v.root_cause, null);
      assert.equal(v.surfaced_at, null);
      assert.deepEqual(res.report.findings, []);
      assert.deepEqual(confirmed, []);
      return;
    }
    const rc = v.root_cause;
    assert.ok(rc, `a root cause for ${name}: ${res.report.attribution?.evidence.join("; ")}`);
    assert.equal(rc.name, expect.op);
    assert.equal(rc.kind, expect.kind);
    assert.equal(rc.kernel, expect.name);
    assert.equal(rc.step, 1);
    assert.equal(rc.layer, 0);
    assert.equal(rc.invariant, expect.invariant);
    const rootFindings = res.report.attribution!.rootCause!.findings;
    assert.ok(rootFindings.some((f) => f.rail === expect.rail), `rail ${expect.rail} at the root op`);
    assert.ok(confirmed.includes(expect.hypothesis), `${expect.hypothesis} CONFIRMED (got ${confirmed})`);
    const surf = v.surfaced_at;
    if (expect.surfaces === "none") {
      assert.equal(surf, null);
      assert.equal(v.status, "OK");
    } else if (expect.surfaces === "self" && (sim || surf)) {
      assert.equal(surf?.op, rc.op);
      assert.equal(v.status, "FAULT");
      assert.equal(v.attribution.replays <= 1, true);
    } else if (sim || surf) {
      assert.ok(surf && surf.op > rc.op, "the fault surfaces after the planted op");
      assert.equal(v.status, "FAULT");
      assert.equal(v.attribution.replays, 1);
      assert.equal(v.attribution.method, "blocking-replay");
      assert.match(surf.error, /illegal memory access|700/);
    }
    for (const f of ["report.md", "trace.json", "timeline.svg", "journal.jsonl"]) {
      assert.ok((await Deno.stat(join(res.dir, f))).size > 0, f);
    }
  });
}
