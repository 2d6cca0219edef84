/**
 * verdict.json's JSON Schema (scripts/report/verdict.schema.json): it accepts
 * the verdicts the writer makes and rejects what drifts from it. Real verdicts
 * of every catalogue case are checked in tests/scripts/experiments/.
 */
import assert from "node:assert/strict";
import { attribute } from "../../../scripts/forensics/attribution.ts";
import { buildVerdict } from "../../../scripts/report/verdict.ts";
import { ropeFault, ropeFindings, ropeJournal } from "../../fixtures/report_records.ts";
import { verdictProblems } from "../../helpers/verdict_schema.ts";
import type { RunReport } from "../../../records.ts";

async function run(): Promise<RunReport> {
  const original = { outcome: null, records: ropeJournal(), findings: ropeFindings, fault: ropeFault };
  const attribution = await attribute(
    original,
    () => Promise.resolve({ ...original, records: ropeJournal({ syncs: true }) }),
  );
  return {
    experiment: "rope",
    runId: "r1",
    status: "FAULT",
    backend: "sim",
    device: "cpu",
    config: {},
    mode: "audit",
    debugEnv: null,
    command: "deno run -A x.ts",
    started: new Date().toISOString(),
    finished: new Date().toISOString(),
    records: original.records,
    findings: ropeFindings,
    attribution,
    hypotheses: [{ id: "h", title: "H", status: "CONFIRMED", evidence: "e" }],
    matrix: null,
    fault: ropeFault,
    sanitizer: null,
    trials: [],
  };
}

Deno.test("verdict schema: a fault's verdict with its root cause and findings conforms", async () => {
  const v = buildVerdict(await run());
  assert.ok(v.findings.length > 0 && v.root_cause !== null);
  assert.deepEqual(verdictProblems(JSON.parse(JSON.stringify(v))), []);
});

Deno.test("verdict schema: a missing field, an unknown one, a wrong type or status are each refused", async () => {
  const v = JSON.parse(JSON.stringify(buildVerdict(await run())));
  const broken = (f: (x: Record<string, unknown>) => void) => {
    const x = structuredClone(v);
    f(x);
    return verdictProblems(x);
  };
  assert.match(broken((x) => delete x.findings).join("; "), /must have required property 'findings'/);
  assert.match(broken((x) => (x.root_cuase = null)).join("; "), /must NOT have additional properties/);
  assert.match(broken((x) => ((x.root_cause as { step: unknown }).step = "3")).join("; "), /\/root_cause/);
  assert.match(
    broken((x) => (x.status = "CRASHED")).join("; "),
    /\/status must be equal to one of the allowed values/,
  );
  assert.match(
    broken((x) => ((x.findings as { rail?: unknown }[])[0].rail = 7)).join("; "),
    /\/findings\/0\/rail/,
  );
});
