/**
 * The fault catalogue: every planted fault is attributed to the planted op
 * with the right kernel, argument, rule, step and layer, and each clean case
 * yields no finding and no hypothesis CONFIRMED; every verdict.json conforms
 * to scripts/report/verdict.schema.json. Runs on the default backend
 * (sim in CI; FAULTLINE_BACKEND=cuda on a GPU, where catalogue/check.ts relaxes
 * where a fault surfaces: a write through a freed or wild address need not fault there).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CASES, experiment } from "../../../scripts/experiments/fault_catalogue.ts";
import { caseProblems } from "../../../scripts/experiments/catalogue/check.ts";
import { runExperiment } from "../../../scripts/trials/experiment.ts";
import type { Verdict } from "../../../records.ts";
import { verdictProblems } from "../../helpers/verdict_schema.ts";

const reports = await Deno.makeTempDir({ prefix: "faultline-catalogue-" });

Deno.test("catalogue: at least 30 planted faults and a clean run of each class", () => {
  const planted = Object.values(CASES).filter((c) => c.expect !== null);
  assert.ok(planted.length >= 30, `${planted.length} planted faults`);
  assert.ok(Object.values(CASES).filter((c) => c.expect === null).length >= 4);
});

for (const [name, c] of Object.entries(CASES)) {
  const e = c.expect;
  Deno.test(`catalogue: ${name}${e ? ` → ${e.rail}: ${e.invariant}` : " → no finding"}`, async () => {
    const res = await runExperiment(experiment, {
      params: { case: name },
      reportsDir: reports,
      runId: name,
      print: false,
      timeoutMs: 60_000,
    });
    const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json"))) as Verdict;
    assert.deepEqual(caseProblems(e, v, res.report), []);
    assert.deepEqual(verdictProblems(v), [], "verdict.json conforms to its schema");
    assert.equal(v.findings.length, res.report.findings.length, "verdict.json lists every finding");
    for (const f of ["report.md", "trace.json", "timeline.svg", "journal.jsonl"]) {
      assert.ok((await Deno.stat(join(res.dir, f))).size > 0, f);
    }
  });
}
