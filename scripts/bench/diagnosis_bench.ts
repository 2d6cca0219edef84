/**
 * "diagnosis" (every backend): runs every case of the fault catalogue
 * (scripts/experiments/catalogue/) as a user would, in child trials on the
 * backend the bench runs on, and scores the forensics: a case is diagnosed
 * when its verdict names the planted op, kernel, argument, rule, step and
 * layer with the expected status (a clean case: nothing found). Prints
 * `diagnosis accuracy: N/M` with the misses named.
 */
import { caseProblems } from "../experiments/catalogue/check.ts";
import { CASES, experiment } from "../experiments/fault_catalogue.ts";
import { runExperiment } from "../trials/experiment.ts";
import type { Verdict } from "../../records.ts";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

/** The problems with one case's diagnosis ([] when right). */
async function diagnose(name: string, reports: string): Promise<string[]> {
  try {
    const res = await runExperiment(experiment, {
      params: { case: name },
      reportsDir: reports,
      runId: name,
      print: false,
    });
    const v = JSON.parse(await Deno.readTextFile(`${res.dir}/verdict.json`)) as Verdict;
    return caseProblems(CASES[name].expect, v, res.report);
  } catch (e) {
    return [`the run failed: ${(e as Error).message}`];
  }
}

async function diagnosis(_ctx: BenchContext): Promise<BenchRow[]> {
  const reports = await Deno.makeTempDir({ prefix: "faultline-diagnosis-" });
  const names = Object.keys(CASES);
  const problems = new Map<string, string[]>();
  const t0 = performance.now();
  try {
    // a few at once: each case is a handful of short child processes
    const width = Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 1));
    for (let i = 0; i < names.length; i += width) {
      const batch = names.slice(i, i + width);
      const got = await Promise.all(batch.map((n) => diagnose(n, reports)));
      batch.forEach((n, k) => problems.set(n, got[k]));
    }
  } finally {
    await Deno.remove(reports, { recursive: true }).catch(() => {});
  }
  const misses = names.filter((n) => problems.get(n)!.length > 0);
  const right = names.length - misses.length;
  console.log(
    `diagnosis accuracy: ${right}/${names.length}${misses.length ? `; missed: ${misses.join(", ")}` : ""}`,
  );
  for (const n of misses) console.log(`  ${n}: ${problems.get(n)!.join("; ")}`);
  return [{
    section: "diagnosis",
    metric: "diagnosis accuracy (fault catalogue)",
    value: right / names.length,
    unit: "ratio",
    note: `${right}/${names.length} cases named right (op, kernel, argument, rule, step, layer, status)` +
      `${misses.length ? `; missed: ${misses.join(", ")}` : ""}; ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
  }];
}

export const sections: BenchSection[] = [{ name: "diagnosis", run: diagnosis }];
