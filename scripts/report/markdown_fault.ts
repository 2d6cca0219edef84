/**
 * The sections of report.md about the fault: what happened in one paragraph,
 * the error as observed, the exact stage (surfacing op, root-cause op and its
 * arguments), the root cause with its evidence, and the other findings.
 */
import type { RunReport } from "../../records.ts";
import { compareSanitizer, describeSanitizer } from "../forensics/sanitizer.ts";
import { cell, code, surfacedName, where } from "./markdown_text.ts";

type RootCause = NonNullable<NonNullable<RunReport["attribution"]>["rootCause"]>;

/** The summary paragraph: where the fault surfaced and what caused it. */
export function summaryParagraph(run: RunReport): string[] {
  const L: string[] = [];
  const a = run.attribution;
  const rc = a?.rootCause ?? null;
  const s = a?.surfaced ?? null;
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
  } else if (rc && a!.method === "usage-error") {
    L.push(usageSentence(rc));
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
  return L;
}

/** A refused call: which, the rule it broke and the earlier op that made it wrong. */
function usageSentence(rc: RootCause): string {
  const w = where(rc.step, rc.layer);
  const c = rc.cause;
  const cause = c
    ? ` It was made wrong by op #${c.op} (${c.kind} ${code(c.name)}${
      where(c.step, c.layer) ? `, ${where(c.step, c.layer)}` : ""
    }).`
    : " No earlier op in the journal released what it needed.";
  return `The runtime refused **${rc.name}**${w ? ` (${w})` : ""} — ${rc.kind} ${code(rc.kernel)}` +
    (rc.argument ? `, argument ${code(rc.argument)}` : "") +
    ` — before it reached the device: it breaks "${rc.invariant}".` + cause;
}

/** The error as the failing call reported it. */
export function errorObserved(run: RunReport): string[] {
  const L: string[] = [];
  const s = run.attribution?.surfaced ?? null;
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

  return L;
}

/** The surfacing op, the root-cause op, its argument, invariant and scalars. */
export function exactStage(run: RunReport): string[] {
  const L: string[] = [];
  const a = run.attribution;
  const rc = a?.rootCause ?? null;
  const s = a?.surfaced ?? null;
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
    L.push(...argumentTable(rc));
    const sc = Object.entries(rc.scalars);
    if (sc.length) L.push(`**Scalars:** ${sc.map(([k, v]) => `${k}=${v}`).join(", ")}`, "");
  } else L.push("");

  return L;
}

/** The pointer arguments of the root-cause op, the one at fault marked. */
function argumentTable(rc: RootCause): string[] {
  const L: string[] = [];
  if (rc.args.length === 0) return L;
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
        `${p.alloc === null ? "**none**" : `${p.name ?? "?"} (#${p.alloc ?? "?"})`} | ${p.offset ?? "?"} | ` +
        `${p.bytes ?? "?"} | ${p.size ?? "?"} | ${p.state ?? "?"} | ${p.access ?? "?"} |`,
    );
  }
  L.push("");
  return L;
}

/** The most likely root cause, with the evidence that names it. */
export function rootCauseSection(run: RunReport): string[] {
  const L: string[] = [];
  const rc = run.attribution?.rootCause ?? null;
  L.push("## Most likely root cause", "");
  if (rc) {
    L.push(`### ${rc.name}${rc.invariant ? `: ${rc.invariant}` : ""}`, "");
  } else if (run.status === "OK") {
    L.push("### Not identified: the fault did not reproduce", "");
  } else {
    L.push("### Not identified", "");
  }
  L.push("**Evidence:**", "");
  const evidence = evidenceLines(run);
  evidence.forEach((e, i) => L.push(`${i + 1}. ${e}`));
  L.push("");

  return L;
}

/** The evidence for the root cause: the attribution's steps, the findings at its op, compute-sanitizer. */
function evidenceLines(run: RunReport): string[] {
  const rc = run.attribution?.rootCause ?? null;
  const evidence: string[] = [...(run.attribution?.evidence ?? [])];
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
  return evidence;
}

/** The findings at ops other than the root cause. */
export function otherFindings(run: RunReport): string[] {
  const L: string[] = [];
  const rc = run.attribution?.rootCause ?? null;
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

  return L;
}

const yesNo = (b: boolean | null) => (b === null ? "not comparable" : b ? "yes" : "**no**");

/** memcheck's first error beside faultline's root cause, and whether they agree. */
export function sanitizerSection(run: RunReport): string[] {
  const e = run.sanitizer;
  if (!e) return [];
  const rc = run.attribution?.rootCause ?? null;
  const arg = rc?.args.find((a) => a.arg === rc.argument);
  const ag = compareSanitizer(e, rc);
  const hex = (n: number | null | undefined) => (n === null || n === undefined ? "?" : `0x${n.toString(16)}`);
  const theirAlloc = e.allocation?.name
    ? `${e.allocation.name}${e.allocation.offset !== undefined ? `, offset ${e.allocation.offset}` : ""}`
    : e.nearest
    ? `none: ${e.nearest.distance} bytes ${e.nearest.side} the allocation at ${hex(e.nearest.address)}`
    : "not reported";
  const rows: [string, string, string][] = [
    [
      "Kernel",
      rc ? `${code(rc.kernel)} (op #${rc.op}, ${rc.name})` : "not named",
      e.kernel ? code(e.kernel) : "none (API error)",
    ],
    [
      "Access",
      rc?.argument ? `${arg?.access ?? "?"} through ${code(rc.argument)}` : "?",
      e.access ? `${e.access} of ${e.size} bytes` : "?",
    ],
    [
      "Address",
      arg?.ptr !== undefined ? hex(arg.ptr) : "?",
      `${hex(e.address)}${e.problem ? ` (${e.problem})` : ""}`,
    ],
    [
      "Allocation",
      arg ? `${arg.name ?? "none"}${arg.offset !== undefined ? `, offset ${arg.offset}` : ""}` : "?",
      theirAlloc,
    ],
  ];
  return [
    "## compute-sanitizer (memcheck)",
    "",
    `${e.headline}${e.errors !== null ? ` — ${e.errors} error(s) in all` : ""}.`,
    "",
    "| | faultline | compute-sanitizer |",
    "|---|-----------|-------------------|",
    ...rows.map(([k, a, b]) => `| ${k} | ${cell(a)} | ${cell(b)} |`),
    "",
    `**Agree:** kernel ${yesNo(ag.kernel)}, allocation ${yesNo(ag.allocation)}` +
    (ag.agrees === null ? "" : ag.agrees ? " — they name the same fault." : " — they DISAGREE."),
    "",
  ];
}
