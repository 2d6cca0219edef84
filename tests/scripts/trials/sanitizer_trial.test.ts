/**
 * --sanitizer end to end on a machine without a GPU: the trial runs under a
 * stand-in for compute-sanitizer (tests/helpers/fake_sanitizer.sh) that writes
 * a recorded memcheck report; its first error is folded into verdict.json and
 * report.md beside faultline's own root cause, with whether they agree.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { experiment } from "../../../scripts/experiments/fault_catalogue.ts";
import { runExperiment } from "../../../scripts/trials/experiment.ts";
import type { Verdict } from "../../../records.ts";
import { verdictProblems } from "../../helpers/verdict_schema.ts";

const here = (p: string) => decodeURIComponent(new URL(p, import.meta.url).pathname);
const reports = await Deno.makeTempDir({ prefix: "faultline-sanitizer-" });

async function underSanitizer(report: string, runId: string) {
  Deno.env.set("FAULTLINE_SANITIZER", here("../../helpers/fake_sanitizer.sh"));
  Deno.env.set("FAKE_SANITIZER_REPORT", here(`../../fixtures/sanitizer/${report}`));
  try {
    const res = await runExperiment(experiment, {
      params: { case: "oob-offset" },
      sanitizer: true,
      reportsDir: reports,
      runId,
      print: false,
    });
    const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json"))) as Verdict;
    assert.deepEqual(verdictProblems(v), [], "verdict.json conforms to its schema");
    return { res, v, md: await Deno.readTextFile(join(res.dir, "report.md")) };
  } finally {
    Deno.env.delete("FAULTLINE_SANITIZER");
    Deno.env.delete("FAKE_SANITIZER_REPORT");
  }
}

Deno.test("sanitizer trial: memcheck's first error is in verdict.json and report.md, agreeing on the kernel", async () => {
  const { res, v, md } = await underSanitizer("memcheck_fault_fill.txt", "agree");
  assert.ok(res.report.trials.some((t) => t.purpose === "sanitizer"));
  assert.equal(v.root_cause?.kernel, "fault_fill");
  assert.equal(v.sanitizer?.kernel, "fault_fill_kernel");
  assert.equal(v.sanitizer?.access, "write");
  assert.equal(v.sanitizer?.size, 4);
  assert.equal(v.sanitizer?.errors, 2);
  assert.deepEqual(v.sanitizer?.nearest, {
    distance: 0,
    side: "after",
    address: 0x7f3a5c000000,
    size: 65536,
  });
  assert.equal(v.sanitizer?.agreement.kernel, true);
  assert.equal(v.sanitizer?.agreement.agrees, true);
  assert.match(md, /## compute-sanitizer \(memcheck\)/);
  assert.match(md, /\| Kernel \| `fault_fill` \(op #\d+, plant\) \| `fault_fill_kernel` \|/);
  assert.match(md, /\*\*Agree:\*\* kernel yes/);
});

Deno.test("sanitizer trial: a report naming another kernel is shown as a disagreement", async () => {
  const { v, md } = await underSanitizer("memcheck_other_kernel.txt", "disagree");
  assert.equal(v.sanitizer?.kernel, "rope_kernel");
  assert.equal(v.sanitizer?.agreement.kernel, false);
  assert.equal(v.sanitizer?.agreement.agrees, false);
  assert.match(md, /they DISAGREE/);
  assert.equal(v.root_cause?.kernel, "fault_fill", "faultline's own root cause is unchanged");
});

Deno.test("sanitizer trial: a clean memcheck report leaves no sanitizer block and says so", async () => {
  const { res, v } = await underSanitizer("memcheck_clean.txt", "clean");
  assert.equal(v.sanitizer, null);
  assert.ok(res.report.notes?.some((n) => /reported no error/.test(n)), res.report.notes?.join("; "));
});
