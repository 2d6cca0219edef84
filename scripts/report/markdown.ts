/**
 * report.md: the human report, in the shape of a hand-written forensics report: summary,
 * observed error, hypothesis verdicts, exact stage of the fault, most likely
 * root cause with its evidence, timeline, matrix, next steps, configuration.
 */

import { describeBuild } from "../../mod.ts";
import { envLine } from "../forensics/debugenv.ts";
import { tally } from "../forensics/hypotheses.ts";
import { deviceTable, matrixTable } from "./matrix_table.ts";
import type { RunReport } from "../../records.ts";
import {
  errorObserved,
  exactStage,
  otherFindings,
  rootCauseSection,
  sanitizerSection,
  summaryParagraph,
} from "./markdown_fault.ts";
import { cell, code, where } from "./markdown_text.ts";

/** The one-line outcome used in the summary, the CLI and the status server. */
export function headline(run: RunReport): string {
  const a = run.attribution;
  const rc = a?.rootCause;
  if (run.status === "OK" && !rc) {
    if (run.cleanHeadline) return run.cleanHeadline;
    const n = run.matrix ? run.matrix.reduce((s, r) => s + r.iterations, 0) : run.trials.length;
    return `no fault in ${n} trial(s): NOT REPRODUCED`;
  }
  if (!rc) {
    return `${run.status}: the fault surfaced at ${
      a?.surfaced?.label ?? "an unknown op"
    }; no root cause named`;
  }
  const w = where(rc.step, rc.layer);
  return `${run.status}: ${rc.name}${w ? ` (${w})` : ""} is the root cause` +
    (rc.argument ? `, argument ${rc.argument}` : "") + (rc.invariant ? `, breaking "${rc.invariant}"` : "");
}

function defaultNextSteps(run: RunReport): string[] {
  const a = run.attribution;
  const rc = a?.rootCause;
  const steps: string[] = [];
  if (rc) {
    const w = where(rc.step, rc.layer);
    const s = a?.surfaced;
    steps.push(
      `Fix ${rc.argument ? `the argument ${code(rc.argument)} of ` : ""}${rc.name}${w ? ` (${w})` : ""}` +
        `${rc.invariant ? ` so that "${rc.invariant}" holds` : ""}` +
        (s && s.op !== rc.op
          ? `; the op where the fault surfaced (#${s.op} ${s.kind} ${s.name}) is not the bug.`
          : "."),
    );
    if (a?.timingDependent) {
      steps.push(
        `Add the missing sync or event after ${a.criticalSync?.label ?? "the op the bisection named"} ` +
          `before anything on another stream reads its output.`,
      );
    }
    steps.push(
      `Run this experiment in ${code("enforce")} mode: the guard rail that flags this op then blocks it ` +
        `before it reaches the GPU.`,
    );
    steps.push(`Re-run this experiment after the fix; the verdict must be OK with no hypothesis CONFIRMED.`);
  } else if (run.status === "OK") {
    steps.push(
      "Get the exact context of the original error (inputs, model, build) and encode it in the experiment.",
    );
    steps.push(
      "Run the matrix with more iterations and under the debug environment preset (serialized kernels).",
    );
    steps.push("Run one trial under compute-sanitizer (NVIDIA) to catch accesses that do not fault.");
  } else {
    steps.push("Re-run with a sync after every launch (mode blocking) and under compute-sanitizer.");
    steps.push(
      "Add the scheduler op names (step, layer) to the launches so the journal can place the fault.",
    );
  }
  return steps;
}

export function buildMarkdown(run: RunReport): string {
  const sections = [
    header(run),
    summaryParagraph(run),
    verdictLines(run),
    errorObserved(run),
    hypothesisTable(run),
    exactStage(run),
    rootCauseSection(run),
    sanitizerSection(run),
    otherFindings(run),
    d2hLog(run),
    timelineSection(run),
    matrixSection(run),
    trialTable(run),
    nextSteps(run),
    configuration(run),
    closingLines(run),
  ];
  return sections.flat().join("\n") + "\n";
}

/** Title, date, run id, backend and mode. */
function header(run: RunReport): string[] {
  const L: string[] = [];
  L.push(`# ${run.experiment} — ${run.status}`, "");
  if (run.title) L.push(`_${run.title}_`, "");
  L.push(`**Date:** ${run.started}  `);
  L.push(`**Run:** ${code(run.runId)}  `);
  L.push(`**Backend:** ${run.backend} (${run.device})  `);
  L.push(`**Mode:** ${run.mode}`, "", "---", "");

  return L;
}

/** The experiment's notes, the verdict, the hypothesis tally and the time to root cause. */
function verdictLines(run: RunReport): string[] {
  const L: string[] = [];
  for (const n of run.notes ?? []) L.push(n, "");
  L.push(`**Verdict:** ${headline(run)}  `);
  const a = run.attribution;
  const timed = a !== null && (a.replays > 0 || a.method !== "none");
  L.push(`**Hypotheses:** ${tally(run.hypotheses)}${timed ? "  " : ""}`);
  if (timed) {
    L.push(
      `**Time to root cause:** ${(a!.wallMs / 1000).toFixed(2)} s, ${a!.replays} replay(s) (${a!.method})`,
    );
  }
  L.push("", "---", "");

  return L;
}

/** Each hypothesis with its verdict and evidence. */
function hypothesisTable(run: RunReport): string[] {
  const L: string[] = [];
  L.push("## Hypothesis verdicts", "");
  if (run.hypotheses.length === 0) L.push("_No hypotheses declared._");
  else {
    L.push("| Hypothesis | Status | Evidence |", "|------------|--------|----------|");
    for (const h of run.hypotheses) L.push(`| ${cell(h.title)} | **${h.status}** | ${cell(h.evidence)} |`);
  }
  L.push("");

  return L;
}

/** A sample of the D2H audit log, when the experiment asked for it. */
function d2hLog(run: RunReport): string[] {
  const L: string[] = [];
  if (run.auditLog && run.auditLog.length) {
    const d2h = run.records.filter((r) => r.kind === "d2h");
    const failed = d2h.filter((r) => r.status !== 0 && r.status !== null).length;
    L.push(
      "## D2H audit log",
      "",
      `${d2h.length} device-to-host copies, ${failed} failed; the full log is in ${code("d2h_audit.log")}.`,
      "",
      "```",
      ...run.auditLog.slice(0, 12),
      ...(run.auditLog.length > 12 ? [`... (${run.auditLog.length - 12} more lines)`] : []),
      "```",
      "",
    );
  }

  return L;
}

/** The timeline image and where the journal and trace are. */
function timelineSection(run: RunReport): string[] {
  const L: string[] = [];
  L.push(
    "## Timeline",
    "",
    "![timeline: a lane per stream, root cause and surfacing op marked](timeline.svg)",
    "",
  );
  L.push(
    `The journal (${run.records.length} ops) is in ${code("journal.jsonl")}; ${
      code("trace.json")
    } opens in Perfetto.`,
    "",
  );

  return L;
}

/** The matrix table, when a matrix ran, and the matrix by device when its trials were placed. */
function matrixSection(run: RunReport): string[] {
  const L: string[] = [];
  if (run.matrix && run.matrix.length) {
    L.push("## Test results", "", matrixTable(run.matrix), "");
    const byDevice = deviceTable(run.matrix);
    if (byDevice) {
      L.push(
        "Each trial ran in its own process on the device it was placed on, one trial per device at a time.",
        "",
        byDevice,
        "",
      );
    }
  }

  return L;
}

/** The trials the run made (matrix trials summed up in one row). */
function trialTable(run: RunReport): string[] {
  const L: string[] = [];
  if (run.trials.length) {
    L.push(
      "## Trials",
      "",
      "| # | Purpose | Mode | Device | Status | Wall | Detail |",
      "|---|---------|------|--------|--------|------|--------|",
    );
    const shown = run.trials.filter((t) => t.purpose !== "matrix").slice(0, 20);
    shown.forEach((t, i) =>
      L.push(
        `| ${i + 1} | ${t.purpose} | ${t.mode} | ${t.devices ? t.devices.join("+") : "-"} | ${t.status} | ${
          (t.wallMs / 1000).toFixed(2)
        } s | ${cell(t.detail)} |`,
      )
    );
    const m = run.trials.length - shown.length;
    if (m > 0) L.push(`| | matrix | | | | | ${m} matrix trial(s), see Test results |`);
    L.push("");
  }

  return L;
}

/** The experiment's next steps, or generated ones. */
function nextSteps(run: RunReport): string[] {
  const L: string[] = [];
  L.push("## Next steps", "");
  (run.nextSteps ?? defaultNextSteps(run)).forEach((n, i) => L.push(`${i + 1}. ${n}`));
  L.push("");

  return L;
}

/** Experiment, backend, device, mode, debug environment, config, command and times. */
function configuration(run: RunReport): string[] {
  const L: string[] = [];
  L.push("## Configuration", "", "| Key | Value |", "|-----|-------|");
  L.push(`| Experiment | ${cell(run.experiment)} |`);
  L.push(`| Backend | ${cell(run.backend)} |`);
  L.push(`| Device | ${cell(run.device)}${run.deviceId != null ? ` (device ${run.deviceId})` : ""} |`);
  L.push(`| Build targets | ${cell(describeBuild(run.build ?? null))} |`);
  L.push(`| Mode | ${run.mode} |`);
  L.push(
    `| Debug environment | ${
      cell(run.debugEnv ? `${run.debugEnv.name}: ${envLine(run.debugEnv)}` : "(none)")
    } |`,
  );
  for (const [k, v] of Object.entries(run.config)) {
    L.push(`| ${cell(k)} | ${cell(typeof v === "string" ? v : JSON.stringify(v))} |`);
  }
  L.push(`| Command | ${code(run.command)} |`);
  L.push(`| Started | ${run.started} |`, `| Finished | ${run.finished} |`, "");
  return L;
}

/** The status and root cause, last. */
function closingLines(run: RunReport): string[] {
  const L: string[] = [];
  const rc = run.attribution?.rootCause ?? null;
  L.push("---", "");
  L.push(`**Status:** ${run.status}  `);
  L.push(
    `**Root cause:** ${
      rc
        ? `${rc.name}${where(rc.step, rc.layer) ? ` (${where(rc.step, rc.layer)})` : ""}, op #${rc.op}`
        : run.status === "OK"
        ? "NOT REPRODUCED"
        : "not identified"
    }`,
  );
  return L;
}
