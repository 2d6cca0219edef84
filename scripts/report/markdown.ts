/**
 * report.md: the human report, in the shape of the seed reports: summary,
 * observed error, hypothesis verdicts, exact stage of the fault, most likely
 * root cause with its evidence, timeline, matrix, next steps, configuration.
 */

import { describeBuild } from "../../ffi/build_info.ts";
import { envLine } from "../forensics/debugenv.ts";
import { tally } from "../forensics/hypotheses.ts";
import { describeSanitizer } from "../forensics/sanitizer.ts";
import { matrixTable } from "./matrix_table.ts";
import type { RunReport } from "../../records.ts";

const code = (s: string) => "`" + s.replaceAll("`", "'") + "`";
const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

function where(step: number | null | undefined, layer: number | null | undefined): string {
  const p: string[] = [];
  if (step !== null && step !== undefined) p.push(`step ${step}`);
  if (layer !== null && layer !== undefined) p.push(`layer ${layer}`);
  return p.join(", ");
}

/** "logits sync (sync `stream_synchronize`, step 3)" or "d2h `logits`". */
function surfacedName(s: NonNullable<RunReport["attribution"]>["surfaced"]): string {
  if (!s) return "";
  const w = where(s.step, s.layer);
  return s.opName
    ? `${s.opName} (${s.kind} ${code(s.name)}${w ? `, ${w}` : ""})`
    : `${s.kind} ${code(s.name)}${w ? ` (${w})` : ""}`;
}

/** The one-line outcome used in the summary, the CLI and the status server. */
export function headline(run: RunReport): string {
  const a = run.attribution;
  const rc = a?.rootCause;
  if (run.status === "OK" && !rc) {
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
  const a = run.attribution;
  const rc = a?.rootCause ?? null;
  const s = a?.surfaced ?? null;
  const L: string[] = [];
  L.push(`# ${run.experiment} — ${run.status}`, "");
  if (run.title) L.push(`_${run.title}_`, "");
  L.push(`**Date:** ${run.started}  `);
  L.push(`**Run:** ${code(run.runId)}  `);
  L.push(`**Backend:** ${run.backend} (${run.device})  `);
  L.push(`**Mode:** ${run.mode}`, "", "---", "");

  // Summary
  L.push("## Summary", "");
  if (rc && s) {
    const w = where(rc.step, rc.layer);
    L.push(
      `The run failed with ${code(s.error)} at op #${s.op}, ${surfacedName(s)}. ` +
        `That op did not cause the fault: it reported the sticky error of an earlier asynchronous launch. ` +
        (a!.method === "launch-status"
          ? `The launch itself was refused, so it is its own root cause.`
          : a!.timingDependent
          ? `With a sync after every launch the fault disappeared: it is timing-dependent.`
          : `faultline replayed the trial in a fresh process with a sync after every launch, and the first ` +
            `sync to fail came right after op #${rc.replayOp ?? rc.op} of the replay.`) +
        ` The root cause is **${rc.name}**${w ? ` (${w})` : ""} — op #${rc.op}, kernel ${code(rc.kernel)}` +
        (rc.argument ? `, argument ${code(rc.argument)}` : "") +
        (rc.invariant ? `, which breaks "${rc.invariant}"` : "") + ".",
    );
  } else if (rc) {
    L.push(
      `No fault surfaced, but a guard rail flagged **${rc.name}**${
        where(rc.step, rc.layer) ? ` (${where(rc.step, rc.layer)})` : ""
      }` +
        ` — op #${rc.op}${rc.argument ? `, argument ${code(rc.argument)}` : ""}` +
        (rc.invariant ? `, which breaks "${rc.invariant}"` : "") +
        (run.status === "BLOCKED"
          ? "; the call was blocked before it reached the device."
          : "; it ran unnoticed."),
    );
  } else if (s) {
    L.push(
      `The run failed with ${code(s.error)} at op #${s.op} (${s.kind} ${
        code(s.name)
      }), and no earlier op could be ` +
        `named as its cause.`,
    );
  } else if (run.status !== "OK") {
    L.push("The run ended with an error before any native call failed and no guard rail fired (see below).");
  } else {
    const n = run.matrix ? run.matrix.reduce((t, r) => t + r.iterations, 0) : run.trials.length;
    L.push(
      `The fault was **not reproduced**: ${n} trial(s) completed without an error and no guard rail fired.`,
    );
  }
  L.push("");
  for (const n of run.notes ?? []) L.push(n, "");
  L.push(`**Verdict:** ${headline(run)}  `);
  const timed = a !== null && (a.replays > 0 || a.method !== "none");
  L.push(`**Hypotheses:** ${tally(run.hypotheses)}${timed ? "  " : ""}`);
  if (timed) {
    L.push(
      `**Time to root cause:** ${(a!.wallMs / 1000).toFixed(2)} s, ${a!.replays} replay(s) (${a!.method})`,
    );
  }
  L.push("", "---", "");

  // Error observed
  if (s) {
    L.push(
      "## Error Observed",
      "",
      "```",
      `${s.opName ? `${s.opName}: ` : ""}${s.kind} ${s.name} failed: ${s.error}`,
      "```",
      "",
    );
  }

  // Hypotheses
  L.push("## Hypothesis verdicts", "");
  if (run.hypotheses.length === 0) L.push("_No hypotheses declared._");
  else {
    L.push("| Hypothesis | Status | Evidence |", "|------------|--------|----------|");
    for (const h of run.hypotheses) L.push(`| ${cell(h.title)} | **${h.status}** | ${cell(h.evidence)} |`);
  }
  L.push("");

  // Exact stage
  L.push("## Exact stage of the fault", "");
  if (!s && !rc) L.push("No op failed.", "");
  if (s) {
    L.push(
      `**Surfaced at:** op #${s.op}, ${surfacedName(s)} — ${s.error}  `,
    );
  }
  if (rc) {
    L.push(
      `**Root cause:** op #${rc.op}, ${rc.kind} ${code(rc.kernel)} — **${rc.name}**` +
        `${where(rc.step, rc.layer) ? `, ${where(rc.step, rc.layer)}` : ""}, stream 0x${
          rc.stream.toString(16)
        }  `,
    );
    L.push(`**Argument:** ${rc.argument ? code(rc.argument) : "not identified"}  `);
    L.push(`**Invariant broken:** ${rc.invariant ?? "not identified"}  `);
    if (rc.detail) L.push(`**Detail:** ${rc.detail}  `);
    L.push("");
    if (rc.args.length) {
      L.push(
        "| Argument | Address | Allocation | Offset | Bytes touched | Allocation size | State | Access |",
      );
      L.push(
        "|----------|---------|------------|--------|---------------|-----------------|-------|--------|",
      );
      for (const p of rc.args) {
        const mark = p.arg === rc.argument ? " ⟵" : "";
        L.push(
          `| ${code(p.arg)}${mark} | ${p.ptr !== undefined ? `0x${p.ptr.toString(16)}` : "?"} | ` +
            `${p.alloc === null ? "**none**" : `${p.name ?? "?"} (#${p.alloc ?? "?"})`} | ${
              p.offset ?? "?"
            } | ` +
            `${p.bytes ?? "?"} | ${p.size ?? "?"} | ${p.state ?? "?"} | ${p.access ?? "?"} |`,
        );
      }
      L.push("");
    }
    const sc = Object.entries(rc.scalars);
    if (sc.length) L.push(`**Scalars:** ${sc.map(([k, v]) => `${k}=${v}`).join(", ")}`, "");
  } else L.push("");

  // Root cause with evidence
  L.push("## Most likely root cause", "");
  if (rc) {
    L.push(`### ${rc.name}${rc.invariant ? `: ${rc.invariant}` : ""}`, "");
  } else if (run.status === "OK") {
    L.push("### Not identified: the fault did not reproduce", "");
  } else {
    L.push("### Not identified", "");
  }
  L.push("**Evidence:**", "");
  const evidence: string[] = [...(a?.evidence ?? [])];
  for (const f of rc?.findings ?? []) {
    evidence.push(
      `guard rail ${code(f.rail)}: ${
        f.argument ? `argument ${code(f.argument)} ` : ""
      }breaks "${f.invariant}"` +
        (f.allocation?.name
          ? ` (${f.allocation.name}+${f.allocation.offset ?? "?"} of ${f.allocation.bytes ?? "?"} B, ${
            f.allocation.state ?? "?"
          })`
          : "") +
        (f.detail ? ` — ${f.detail}` : ""),
    );
  }
  if (run.sanitizer) evidence.push(`compute-sanitizer: ${describeSanitizer(run.sanitizer)}`);
  if (run.findings.length && !rc?.findings.length) {
    evidence.push(`${run.findings.length} guard finding(s) in the run, none at the root-cause op`);
  }
  if (evidence.length === 0) evidence.push("no op failed and no guard rail fired");
  evidence.forEach((e, i) => L.push(`${i + 1}. ${e}`));
  L.push("");

  // Other findings
  const others = run.findings.filter((f) => f.op !== rc?.op);
  if (others.length) {
    L.push("### Other guard findings", "");
    L.push("| Op | Rail | Argument | Invariant | Detail |", "|----|------|----------|-----------|--------|");
    for (const f of others.slice(0, 30)) {
      L.push(
        `| #${f.op} ${cell(f.name ?? "")} | ${cell(f.rail)} | ${cell(f.argument ?? "")} | ${
          cell(f.invariant)
        } | ${cell(f.detail ?? "")} |`,
      );
    }
    if (others.length > 30) L.push(`| … | ${others.length - 30} more | | | |`);
    L.push("");
  }

  // D2H audit log
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

  // Timeline
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

  // Matrix
  if (run.matrix && run.matrix.length) {
    L.push("## Test results", "", matrixTable(run.matrix), "");
  }

  // Trials
  if (run.trials.length) {
    L.push(
      "## Trials",
      "",
      "| # | Purpose | Mode | Status | Wall | Detail |",
      "|---|---------|------|--------|------|--------|",
    );
    const shown = run.trials.filter((t) => t.purpose !== "matrix").slice(0, 20);
    shown.forEach((t, i) =>
      L.push(
        `| ${i + 1} | ${t.purpose} | ${t.mode} | ${t.status} | ${(t.wallMs / 1000).toFixed(2)} s | ${
          cell(t.detail)
        } |`,
      )
    );
    const m = run.trials.length - shown.length;
    if (m > 0) L.push(`| | matrix | | | | ${m} matrix trial(s), see Test results |`);
    L.push("");
  }

  // Next steps
  L.push("## Next steps", "");
  (run.nextSteps ?? defaultNextSteps(run)).forEach((n, i) => L.push(`${i + 1}. ${n}`));
  L.push("");

  // Configuration
  L.push("## Configuration", "", "| Key | Value |", "|-----|-------|");
  L.push(`| Experiment | ${cell(run.experiment)} |`);
  L.push(`| Backend | ${cell(run.backend)} |`);
  L.push(`| Device | ${cell(run.device)} |`);
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
  return L.join("\n") + "\n";
}
