/** Audit options are typed and checked: an unknown one (a typo) is an error that lists the valid ones. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FaultlineUsageError } from "../../../mod.ts";
import { AUDIT_OPTIONS, openAudit } from "../../../scripts/audit/session.ts";
import { defineExperiment, type ExperimentDef, runExperiment } from "../../../scripts/trials/experiment.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

Deno.test("audit options: an unknown option is refused, naming it and every valid one", () => {
  const device = testDevice();
  const opts = { device, reportDir: reportDir(), mode: "audit", redzone: 256 };
  assert.throws(
    () => openAudit(opts as unknown as Parameters<typeof openAudit>[0]),
    (e: Error) => {
      assert.ok(e instanceof FaultlineUsageError);
      assert.match(e.message, /unknown option redzone \(valid: /);
      for (const k of AUDIT_OPTIONS) assert.ok(e.message.includes(k), k);
      return true;
    },
  );
  // the device was not touched: a correct session still opens and closes
  openAudit({ device, reportDir: reportDir(), mode: "audit", redzones: 256 }).close();
});

Deno.test("audit options: an experiment with an unknown audit option stops before any trial", async () => {
  const reports = await Deno.makeTempDir({ prefix: "faultline-options-" });
  const exp = defineExperiment({
    name: "typo",
    audit: { contextLenght: 64 } as unknown as ExperimentDef["audit"],
    run() {},
  });
  await assert.rejects(
    () => runExperiment(exp, { reportsDir: reports, runId: "r", print: false }),
    /unknown option contextLenght \(valid: .*contextLength/,
  );
  await assert.rejects(() => Deno.stat(join(reports, "typo", "r", "trials")), Deno.errors.NotFound);
});
