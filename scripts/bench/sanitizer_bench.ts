/**
 * "sanitizer" (where compute-sanitizer is installed, i.e. NVIDIA): every
 * fault catalogue case run with one extra trial under compute-sanitizer
 * memcheck, its first error folded beside faultline's root cause. Prints the
 * comparison table (case, faultline's kernel and argument, memcheck's kernel
 * and access, whether they agree) and counts the cases each one names. Long
 * (a sanitizer trial per case): runs only with `--only sanitizer`.
 */
import { CASES, experiment } from "../experiments/fault_catalogue.ts";
import { runExperiment } from "../trials/experiment.ts";
import { onPath } from "../../ffi/files.ts";
import type { Verdict } from "../../records.ts";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

interface Row {
  name: string;
  planted: boolean;
  faultline: string;
  sanitizer: string;
  agrees: string;
}

function sanitizerPath(): string | null {
  const env = Deno.env.get("FAULTLINE_SANITIZER");
  if (env) return env;
  return onPath("compute-sanitizer") ??
    ["/usr/local/cuda/bin/compute-sanitizer"].find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    }) ?? null;
}

async function compareCase(name: string, reports: string): Promise<Row> {
  const planted = CASES[name].expect !== null;
  try {
    const res = await runExperiment(experiment, {
      params: { case: name },
      reportsDir: reports,
      runId: name,
      print: false,
      sanitizer: true,
    });
    const v = JSON.parse(await Deno.readTextFile(`${res.dir}/verdict.json`)) as Verdict;
    const rc = v.root_cause;
    const f = v.findings[0];
    const faultline = rc
      ? `${rc.kernel ?? rc.kind} ${rc.argument ?? ""} (${rc.invariant})`
      : f
      ? `finding: ${f.name ?? f.kind} ${f.argument ?? ""} (${f.rail})`
      : "nothing";
    const s = v.sanitizer;
    const sanitizer = s?.kernel
      ? `${s.kernel} ${s.access ?? ""} ${s.allocation?.name ?? "?"}+${s.allocation?.offset ?? "?"}`
      : s
      ? s.headline
      : "no error";
    const agrees = s?.agreement.agrees === true ? "yes" : s?.agreement.agrees === false ? "no" : "—";
    return { name, planted, faultline, sanitizer, agrees };
  } catch (e) {
    return { name, planted, faultline: `run failed: ${(e as Error).message}`, sanitizer: "—", agrees: "—" };
  }
}

async function sanitizer(_ctx: BenchContext): Promise<BenchRow[]> {
  const tool = sanitizerPath();
  if (tool === null) {
    console.log("sanitizer: compute-sanitizer not found; skipped");
    return [];
  }
  const reports = await Deno.makeTempDir({ prefix: "faultline-sanitizer-" });
  const rows: Row[] = [];
  try {
    // $FAULTLINE_SANITIZER_CASES (comma-separated) narrows the run: a sanitizer trial takes seconds
    const only = Deno.env.get("FAULTLINE_SANITIZER_CASES")?.split(",").map((c) => c.trim()).filter(Boolean);
    for (const name of Object.keys(CASES).filter((n) => !only?.length || only.includes(n))) {
      rows.push(await compareCase(name, reports));
    }
  } finally {
    await Deno.remove(reports, { recursive: true }).catch(() => {});
  }
  console.log("| case | faultline | memcheck's first error | agree |\n| --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.name} | ${r.faultline} | ${r.sanitizer} | ${r.agrees} |`);
  const planted = rows.filter((r) => r.planted);
  const byFaultline = planted.filter((r) =>
    r.faultline !== "nothing" && !r.faultline.startsWith("run failed")
  );
  const bySanitizer = planted.filter((r) => !["no error", "—"].includes(r.sanitizer));
  const note = `${planted.length} planted faults, ${rows.length - planted.length} clean runs; ${tool}`;
  return [
    {
      section: "sanitizer",
      metric: "planted faults named by faultline",
      value: byFaultline.length,
      unit: "cases",
      note,
    },
    {
      section: "sanitizer",
      metric: "planted faults reported by memcheck",
      value: bySanitizer.length,
      unit: "cases",
      note,
    },
    {
      section: "sanitizer",
      metric: "cases where both name the same kernel and allocation",
      value: rows.filter((r) => r.agrees === "yes").length,
      unit: "cases",
      note,
    },
  ];
}

export const sections: BenchSection[] = [{ name: "sanitizer", run: sanitizer, onlyWhenAsked: true }];
