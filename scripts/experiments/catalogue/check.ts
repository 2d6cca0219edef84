/**
 * Whether a catalogue run was diagnosed right: the problems with its verdict
 * against the case's expectation (empty: right). The suite asserts there are
 * none; the bench counts the cases that have none.
 */
import type { RunReport, Verdict } from "../../../records.ts";
import type { Expectation } from "./case.ts";

/** On GPU backends a write through a freed or wild address may not fault, and a bad copy may read neighbours. */
function surfacing(expect: Expectation, v: Verdict, sim: boolean): string[] {
  const rc = v.root_cause!;
  const surf = v.surfaced_at;
  const p: string[] = [];
  if (expect.surfaces === "none") {
    // a GPU may fault where the sim's mapped pages let a stray access through, but never before the planted op
    if (surf !== null && (sim || surf.op < rc.op)) p.push(`surfaced at op ${surf.op}, expected no fault`);
  } else if (expect.surfaces === "self" && (sim || surf)) {
    if (surf?.op !== rc.op) p.push(`surfaced at ${surf?.op ?? "no op"}, expected the planted op ${rc.op}`);
    if ((v.attribution?.replays ?? 0) > 1) {
      p.push(`${v.attribution?.replays} replays for a fault at its own op`);
    }
  } else if (sim || surf) {
    if (!surf || surf.op <= rc.op) p.push(`surfaced at ${surf?.op ?? "no op"}, expected after op ${rc.op}`);
    if (v.attribution?.method !== "blocking-replay") {
      p.push(`named by ${v.attribution?.method}, expected blocking-replay`);
    }
    if (surf && !/illegal memory access|misaligned address|\b(700|716|717)\b/.test(surf.error)) {
      p.push(`surfaced with ${surf.error}`);
    }
  }
  return p;
}

/**
 * A GPU's allocator keeps freed and neighbouring memory mapped: a planted
 * write that faults on the sim may pass silently there, the finding alone
 * naming it (the run is then OK, with its root cause from the finding).
 */
function gpuQuiet(expect: Expectation, v: Verdict, report: RunReport): boolean {
  return report.backend !== "sim" && v.surfaced_at === null && expectedStatus(expect) === "FAULT";
}

function expectedStatus(expect: Expectation): string {
  return expect.status ?? (expect.surfaces === "none" ? "OK" : "FAULT");
}

/** The problems with a clean run: anything found, named or confirmed. */
function cleanProblems(v: Verdict, report: RunReport): string[] {
  const p: string[] = [];
  if (v.status !== "OK") p.push(`status ${v.status}, expected OK`);
  if (v.root_cause !== null) {
    p.push(`root cause ${v.root_cause.name} (${v.root_cause.kernel}) named on a clean run`);
  }
  if (v.surfaced_at !== null) p.push(`a fault surfaced at op ${v.surfaced_at.op}`);
  for (const f of report.findings) p.push(`finding on a clean run: [${f.rail}] op ${f.op}: ${f.invariant}`);
  const confirmed = v.hypotheses.filter((h) => h.status === "CONFIRMED").map((h) => h.id);
  if (confirmed.length) p.push(`CONFIRMED on a clean run: ${confirmed.join(", ")}`);
  return p;
}

export function caseProblems(expect: Expectation | null, v: Verdict, report: RunReport): string[] {
  if (expect === null) return cleanProblems(v, report);
  const rc = v.root_cause;
  if (!rc) return [`no root cause (${report.attribution?.evidence.join("; ") ?? "no attribution"})`];
  const p: string[] = [];
  const want: [string, unknown, unknown][] = [
    ["op", rc.name, expect.op],
    ["kind", rc.kind, expect.kind],
    ["kernel", rc.kernel, expect.name],
    ["argument", rc.argument, expect.argument],
    ["invariant", rc.invariant, expect.invariant],
    ["step", rc.step, expect.step ?? 1],
    ["layer", rc.layer, expect.layer ?? 0],
    ["status", v.status, gpuQuiet(expect, v, report) ? "OK" : expectedStatus(expect)],
  ];
  // a GPU may fault where the sim does not (see surfacing)
  if (report.backend !== "sim" && v.surfaced_at !== null && expect.surfaces === "none") want.pop();
  for (const [what, got, exp] of want) {
    if (got !== exp) p.push(`${what} ${JSON.stringify(got)}, expected ${JSON.stringify(exp)}`);
  }
  const rails = report.attribution?.rootCause?.findings.map((f) => f.rail) ?? [];
  if (!rails.includes(expect.rail)) {
    p.push(`rail ${expect.rail} not among the root op's findings (${rails.join(", ")})`);
  }
  const confirmed = v.hypotheses.filter((h) => h.status === "CONFIRMED").map((h) => h.id);
  if (!confirmed.includes(expect.hypothesis)) {
    p.push(`${expect.hypothesis} not CONFIRMED (${confirmed.join(", ")})`);
  }
  if (expect.detail && !expect.detail.test(rc.detail)) {
    p.push(`detail "${rc.detail}" does not match ${expect.detail}`);
  }
  p.push(...surfacing(expect, v, report.backend === "sim"));
  return p;
}
