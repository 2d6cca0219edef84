/**
 * Single-file experiments. An experiment file declares what to run and what
 * to suspect, and hands itself to `main`:
 *
 *   import { defineExperiment, main } from "../trials/experiment.ts";
 *   import { stockHypotheses } from "../forensics/stock.ts";
 *
 *   export const experiment = defineExperiment({
 *     name: "my_experiment",
 *     config: { n: 1024 },
 *     hypotheses: stockHypotheses(),
 *     async run(ctx) {
 *       const { faultWriteAt, launch } = ctx.ffi;
 *       const buf = ctx.device.malloc(4096, { name: "x" });
 *       ...
 *     },
 *   });
 *   if (import.meta.main) await main(experiment);
 *
 * `main` plays both roles. Run by the user it is the parent: it runs the
 * experiment's trials in child processes (`--trial <spec>`), attributes a
 * fault (a blocking replay, a bisection over sync points), optionally runs a
 * trial under compute-sanitizer, evaluates the hypotheses and writes
 * reports/<experiment>/<run-id>/. Run with `--trial` it is the child: it
 * loads the native library, instruments the trial for its mode, runs
 * `run(ctx)` once and prints its result line.
 *
 * The parent never loads the native library: the FFI layer is imported
 * dynamically, in the child only.
 */

import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Device, OpContext, Runtime } from "../../mod.ts";
import { attribute, findSurfaced } from "../forensics/attribution.ts";
import { envLine, resolveDebugEnv } from "../forensics/debugenv.ts";
import { evaluate } from "../forensics/hypotheses.ts";
import { parseFindingsText, parseJournalText } from "../forensics/journal_read.ts";
import { foldSanitizer, parseSanitizer, sanitizerWrap } from "../forensics/sanitizer.ts";
import { STOCK_HYPOTHESES } from "../forensics/stock.ts";
import { headline } from "../report/markdown.ts";
import { writeReport } from "../report/write.ts";
import { matrixTable } from "../report/matrix_table.ts";
import { runMatrix, SEED_MATRIX } from "./matrix.ts";
import { describeOutcome, runTrial, type RunTrialOptions } from "./runner.ts";
import { resultLine } from "./spec.ts";
import {
  type Attribution,
  type DebugEnv,
  type Evidence,
  type FaultInfo,
  type Finding,
  type Hypothesis,
  type MatrixResult,
  type MatrixRow,
  type Mode,
  MODES,
  type RunReport,
  type RunStatus,
  type SanitizerError,
  type TrialEvidence,
  type TrialOutcome,
  type TrialResult,
  type TrialSpec,
  type TrialSummary,
} from "../../records.ts";

/** The FFI API as mod.ts exports it (loaded in the child only). */
export type FaultlineApi = typeof import("../../mod.ts");

/** What `run(ctx)` gets in the child. */
export interface TrialContext {
  spec: TrialSpec;
  mode: Mode;
  iteration: number;
  /** The trial's params: the experiment's defaults, then the matrix row's, then --param. */
  params: Record<string, unknown>;
  /** The matrix row asked for extra load. */
  stress: boolean;
  runtime: Runtime;
  device: Device;
  backend: string;
  /** Everything mod.ts exports (launch, kernels, errors...). */
  ffi: FaultlineApi;
  /** Values returned to the parent (also what run() returns, merged). */
  values: Record<string, unknown>;
  /** Configuration to record in the report (model shapes...), merged over the experiment's. */
  config: Record<string, unknown>;
  /**
   * The audit session of the trial (scripts/audit/session.ts: findings, registry, rails, sync policy,
   * checkModel), null in mode off or without the forensics core.
   */
  audit: Record<string, unknown> | null;
  /** Where in the workload the next ops run (step, layer, the scheduler's op name). */
  at(where: OpContext): void;
  /** Logs to stderr (stdout carries the result line). */
  log(...args: unknown[]): void;
}

export interface ExperimentDef {
  /** Folder name under reports/. */
  name: string;
  /** One line: what the experiment looks for. */
  title?: string;
  config?: Record<string, unknown>;
  /** Hypotheses to decide (default: the stock set). */
  hypotheses?: Hypothesis[];
  /** Mode of the main trial (default "audit"). */
  mode?: Mode;
  /** Default params of every trial. */
  params?: Record<string, unknown>;
  /** Extra options for the trial's audit session (redzones, contextLength, guards...). */
  audit?: Record<string, unknown> | ((spec: TrialSpec) => Record<string, unknown>);
  /** Run a matrix instead of one trial (true: the seeds' B3.63 matrix). */
  matrix?: MatrixRow[] | boolean;
  /** Debug environment preset (or variables) every trial runs under. */
  debugEnv?: string | Record<string, string>;
  /** Also run one trial under compute-sanitizer where it is installed (NVIDIA). */
  sanitizer?: boolean;
  /** Attribute a fault with replays (default true). */
  attribute?: boolean;
  /** Also write the seeds' D2H audit log (d2h_audit.log) and put a sample of it in the report. */
  d2hAudit?: boolean;
  /** Most replays for the bisection (default 6). */
  maxReplays?: number;
  /** Per-trial time limit in ms (default 120 000). */
  timeoutMs?: number;
  /** Paragraphs for the report's summary, computed from the finished run. */
  notes?(run: RunReport): string[];
  /** Next steps for the report (default: generated from the verdict). */
  nextSteps?(run: RunReport): string[] | undefined;
  /** Runs once per trial, in the child. */
  run(ctx: TrialContext): Promise<void | Record<string, unknown>> | void | Record<string, unknown>;
}

export interface Experiment extends ExperimentDef {
  /** Path of the experiment file (the child runs it with --trial). */
  file?: string;
}

/** The file that called defineExperiment, from the call stack (file:// URL), or undefined. */
function callerFile(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = /(file:\/\/[^\s)]+?):\d+:\d+\)?\s*$/.exec(line);
    if (m && m[1] !== import.meta.url) return m[1];
  }
  return undefined;
}

/**
 * Declares an experiment. The file that declares it is what the child runs;
 * it is taken from the call stack (pass `file: import.meta.url` to be explicit).
 */
export function defineExperiment(def: ExperimentDef & { file?: string }): Experiment {
  return { file: def.file ?? callerFile(), ...def };
}

// ---------------------------------------------------------------- child

function errorResult(e: unknown): Pick<TrialResult, "status" | "error"> {
  const err = e as { name?: string; message?: string; code?: number; codeName?: string; findings?: unknown };
  if (err?.name === "GuardBlocked" || err?.name === "ModelIncompatible") {
    return { status: "BLOCKED", error: { name: err.name, message: String(err.message) } };
  }
  if (err?.name === "FaultlineError" && typeof err.code === "number") {
    return { status: "FAULT", error: { code: err.code, name: err.codeName, message: String(err.message) } };
  }
  return { status: "ERROR", error: { name: err?.name ?? "Error", message: String(err?.message ?? e) } };
}

/** The child role: one trial, its result on the last stdout line. */
export async function runChild(exp: Experiment, spec: TrialSpec): Promise<TrialResult> {
  const ffi: FaultlineApi = await import("../../mod.ts");
  const { instrument } = await import("./instrument.ts");
  const values: Record<string, unknown> = {};
  const config: Record<string, unknown> = {};
  let result: TrialResult = { status: "OK" };
  let device: Device | null = null;
  let inst: Awaited<ReturnType<typeof instrument>> | null = null;
  let blockedFindings: Finding[] = [];
  try {
    const rt = ffi.runtime();
    device = rt.device(0);
    result.backend = rt.backend;
    result.build = rt.build;
    try {
      result.device = device.props.name;
    } catch {
      result.device = "";
    }
    inst = await instrument(device, spec, typeof exp.audit === "function" ? exp.audit(spec) : exp.audit);
    const params = { ...(exp.params ?? {}), ...(spec.params ?? {}) };
    const ctx: TrialContext = {
      spec,
      mode: spec.mode,
      iteration: spec.iteration,
      params,
      stress: params.stress === true,
      runtime: rt,
      device,
      backend: rt.backend,
      ffi,
      values,
      config,
      audit: inst.session ?? null,
      at(where) {
        ffi.boundary.context = { ...where };
      },
      log(...args) {
        console.error(...args);
      },
    };
    const ret = await exp.run(ctx);
    if (ret && typeof ret === "object") Object.assign(values, ret);
    ffi.boundary.context = {};
    device.synchronize(); // the end of a trial is a sync point: a latent fault surfaces here
  } catch (e) {
    result = { ...result, ...errorResult(e) };
    const f = (e as { findings?: Finding[] }).findings;
    if (Array.isArray(f)) blockedFindings = f;
  }
  try {
    result.fault = device ? device.faultInfo() as FaultInfo | null : null;
  } catch {
    result.fault = null;
  }
  if (result.status === "OK" && result.fault) result.status = "FAULT";
  try {
    await inst?.close();
  } catch (e) {
    console.error(`faultline: closing the journal failed: ${e}`);
  }
  const findings = inst ? inst.findings() : [];
  for (const f of blockedFindings) {
    if (!findings.some((g) => g.op === f.op && g.rail === f.rail)) findings.push(f);
  }
  result.findings = findings;
  result.values = values;
  if (Object.keys(config).length) (result as TrialResult & { config?: unknown }).config = config;
  return result;
}

// ---------------------------------------------------------------- parent

/** Reads what a trial left in its folder: journal (jsonl, or the binary ring decoded), findings, fault info. */
export async function loadTrialEvidence(dir: string, outcome: TrialOutcome | null): Promise<TrialEvidence> {
  let records = [] as TrialEvidence["records"];
  try {
    records = parseJournalText(await Deno.readTextFile(join(dir, "journal.jsonl")));
  } catch {
    // no jsonl: the child died before decoding its ring; decode it here (files only, no native library)
    const ring = await findRing(dir);
    if (ring) {
      try {
        const { decodeJournal, journalJsonl } = await import("../../mod.ts");
        const d = decodeJournal(ring);
        const text = journalJsonl(d.records);
        await Deno.writeTextFile(join(dir, "journal.jsonl"), text);
        records = parseJournalText(text);
      } catch (e) {
        console.error(`faultline: could not decode ${ring}: ${e}`);
      }
    }
  }
  let findings = outcome?.result?.findings ?? [];
  if (findings.length === 0) {
    try {
      findings = parseFindingsText(await Deno.readTextFile(join(dir, "findings.jsonl")));
    } catch {
      // none written
    }
  }
  return { outcome, records, findings, fault: outcome?.result?.fault ?? null };
}

async function findRing(dir: string): Promise<string | null> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".side")) return join(dir, e.name.slice(0, -".side".length));
    }
  } catch {
    // no folder
  }
  return null;
}

export interface RunOptions {
  /** The experiment file (default: exp.file, else Deno.mainModule). */
  file?: string;
  /** reports/ root (default $FAULTLINE_REPORTS or <repo>/reports). */
  reportsDir?: string;
  runId?: string;
  mode?: Mode;
  matrix?: MatrixRow[] | boolean;
  /** Multiplies matrix iterations (a quick look: 0.1). */
  scale?: number;
  params?: Record<string, unknown>;
  debugEnv?: string | Record<string, string> | null;
  sanitizer?: boolean;
  attribute?: boolean;
  timeoutMs?: number;
  /** The command line to record. */
  command?: string;
  /** Print the summary to stdout (default true). */
  print?: boolean;
  /** Extra environment for every trial. */
  env?: Record<string, string>;
}

export interface RunResult {
  report: RunReport;
  dir: string;
  files: string[];
}

const REPO = new URL("../../", import.meta.url);

function defaultReports(): string {
  return Deno.env.get("FAULTLINE_REPORTS") ?? decodeURIComponent(new URL("reports/", REPO).pathname);
}

function newRunId(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const rand = crypto.getRandomValues(new Uint8Array(2));
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${
    p(d.getUTCMinutes())
  }${p(d.getUTCSeconds())}-${[...rand].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function experimentFile(exp: Experiment, opts: RunOptions): string {
  const f = opts.file ?? exp.file ?? Deno.mainModule;
  return f.startsWith("file://") ? decodeURIComponent(new URL(f).pathname) : resolve(f);
}

function summarize(o: TrialOutcome): TrialSummary {
  return {
    purpose: o.spec.purpose ?? "run",
    mode: o.spec.mode,
    status: o.status,
    wallMs: o.wallMs,
    detail: describeOutcome(o),
    dir: o.spec.runDir,
  };
}

function faultedOutcome(o: TrialOutcome): boolean {
  return o.status !== "OK" && o.status !== "BLOCKED";
}

/** The parent role: runs the experiment's trials, attributes, decides, writes the report. */
export async function runExperiment(exp: Experiment, opts: RunOptions = {}): Promise<RunResult> {
  const file = experimentFile(exp, opts);
  const started = new Date().toISOString();
  const runId = opts.runId ?? newRunId();
  const dir = join(opts.reportsDir ?? defaultReports(), exp.name, runId);
  const trialsDir = join(dir, "trials");
  await Deno.mkdir(trialsDir, { recursive: true });
  const debugEnv: DebugEnv | null = resolveDebugEnv(
    opts.debugEnv === undefined ? exp.debugEnv : opts.debugEnv,
  );
  const env = { ...(debugEnv?.vars ?? {}), ...(opts.env ?? {}) };
  const mode: Mode = opts.mode ?? exp.mode ?? "audit";
  const timeoutMs = opts.timeoutMs ?? exp.timeoutMs ?? 120_000;
  const params = { ...(exp.params ?? {}), ...(opts.params ?? {}) };
  const trialOpts: RunTrialOptions = { timeoutMs, env, cwd: decodeURIComponent(REPO.pathname) };
  const trials: TrialOutcome[] = [];
  let n = 0;
  const trialDir = (purpose: string) => join(trialsDir, `${String(++n).padStart(3, "0")}-${purpose}`);
  const baseSpec = (m: Mode, purpose: string, extra: Partial<TrialSpec> = {}): TrialSpec => ({
    experiment: exp.name,
    mode: m,
    iteration: 0,
    runDir: trialDir(purpose),
    purpose,
    params,
    debugEnv: debugEnv?.name,
    ...extra,
  });

  // 1. The main trial, or the matrix.
  let main: TrialOutcome;
  let matrix: MatrixResult[] | null = null;
  const rows0 = opts.matrix ?? exp.matrix;
  const rows = rows0 === true ? SEED_MATRIX : Array.isArray(rows0) ? rows0 : null;
  if (rows) {
    const scale = opts.scale ?? 1;
    const scaled = rows.map((r) => ({ ...r, iterations: Math.max(1, Math.round(r.iterations * scale)) }));
    const res = await runMatrix(scaled, async (row, i) => {
      const spec = baseSpec(row.mode, "matrix", {
        iteration: i,
        params: { ...params, ...(row.params ?? {}) },
      });
      const o = await runTrial(file, spec, trialOpts);
      trials.push(o);
      if (o.status === "OK") await Deno.remove(spec.runDir, { recursive: true }).catch(() => {});
      return o;
    }, { progress: opts.print === false ? false : undefined });
    matrix = res.rows;
    const failing = res.outcomes.find(faultedOutcome) ?? res.outcomes.find((o) => o.status === "BLOCKED");
    if (failing) main = failing;
    else {
      // a clean matrix: one more audited trial gives the report its journal
      main = await runTrial(file, baseSpec(mode, "run"), trialOpts);
      trials.push(main);
    }
  } else {
    main = await runTrial(file, baseSpec(mode, "run"), trialOpts);
    trials.push(main);
  }
  const faultEnd = performance.now();
  let original = await loadTrialEvidence(main.spec.runDir, main);
  const notes: string[] = [];
  let extraReplays = 0;
  const wantAttr0 = opts.attribute ?? exp.attribute ?? true;
  if (wantAttr0 && faultedOutcome(main) && original.records.length === 0 && main.spec.mode === "off") {
    // A fault in an uninstrumented trial (a baseline matrix row): run it again with the journal on.
    const spec = baseSpec("audit", "journal", { iteration: main.spec.iteration, params: main.spec.params });
    const o = await runTrial(file, spec, trialOpts);
    trials.push(o);
    extraReplays++;
    if (faultedOutcome(o)) {
      notes.push(
        `The fault first surfaced in an uninstrumented (${main.spec.mode}) trial; it came back in an audited ` +
          `trial, whose journal this report analyses.`,
      );
      main = o;
      original = await loadTrialEvidence(spec.runDir, o);
    } else {
      notes.push(
        `The fault surfaced in an uninstrumented (${main.spec.mode}) trial and did not come back with the ` +
          `journal on: it is timing-dependent or rare; run the matrix again in audit mode.`,
      );
    }
  }

  // 2. Attribution.
  let attribution: Attribution | null = null;
  const wantAttr = opts.attribute ?? exp.attribute ?? true;
  const died = main.status === "CRASH" || main.status === "HANG";
  if (
    wantAttr && (faultedOutcome(main) || findSurfaced(original.records, died) || original.findings.length)
  ) {
    attribution = await attribute(original, async (how) => {
      const spec = baseSpec(how.mode, how.purpose, {
        syncAfter: how.syncAfter,
        iteration: main.spec.iteration,
        params: main.spec.params,
      });
      const o = await runTrial(file, spec, trialOpts);
      trials.push(o);
      return loadTrialEvidence(spec.runDir, o);
    }, { maxReplays: exp.maxReplays ?? 6, startedAt: faultEnd });
    attribution.replays += extraReplays;
  }

  // 3. compute-sanitizer.
  let sanitizer: SanitizerError | null = null;
  if (opts.sanitizer ?? exp.sanitizer) {
    const backend = main.result?.backend ?? "";
    const wrap = backend === "cuda" ? await sanitizerWrap() : null;
    if (wrap) {
      // audited, so that the sanitizer's addresses resolve against this trial's own journal
      const spec = baseSpec("audit", "sanitizer", {
        iteration: main.spec.iteration,
        params: main.spec.params,
      });
      const o = await runTrial(file, spec, { ...trialOpts, wrap, timeoutMs: timeoutMs * 4 });
      trials.push(o);
      const err = parseSanitizer(`${o.stdoutTail}\n${o.stderrTail}`);
      const own = err ? await loadTrialEvidence(spec.runDir, o) : null;
      sanitizer = err ? foldSanitizer(err, own && own.records.length ? own.records : original.records) : null;
      if (!err) notes.push("compute-sanitizer (memcheck) reported no error in its trial.");
    } else {
      notes.push(
        `compute-sanitizer was requested but ${
          backend === "cuda" ? "is not installed" : `does not apply to the ${backend || "unknown"} backend`
        }; no sanitizer trial ran.`,
      );
    }
  }

  // 4. Hypotheses.
  const reproduced = trials.some((o) => faultedOutcome(o) && o.spec.purpose !== "sanitizer") ||
    findSurfaced(original.records) !== null;
  const values = original.outcome?.result?.values ?? {};
  const childConfig = (main.result as (TrialResult & { config?: Record<string, unknown> }) | null)?.config ??
    {};
  const config = { ...(exp.config ?? {}), ...childConfig };
  const evidence: Evidence = {
    experiment: exp.name,
    records: original.records,
    findings: original.findings,
    attribution,
    faulted: faultedOutcome(main),
    reproduced,
    matrix,
    trials,
    fault: original.fault,
    sanitizer,
    config,
    values,
  };
  const hypotheses = evaluate(exp.hypotheses ?? [...STOCK_HYPOTHESES], evidence);

  // 5. The report.
  const status: RunStatus = faultedOutcome(main) ? "FAULT" : main.status === "BLOCKED" ? "BLOCKED" : "OK";
  if (main.status === "ERROR" && !findSurfaced(original.records)) {
    notes.push(`The main trial ended with an error that is not a device fault: ${describeOutcome(main)}.`);
  }
  if (main.status === "CRASH" || main.status === "HANG") {
    notes.push(`The main trial ended as ${main.status}: ${describeOutcome(main)}.`);
  }
  const report: RunReport = {
    experiment: exp.name,
    runId,
    title: exp.title,
    status,
    backend: main.result?.backend ?? trials.find((t) => t.result?.backend)?.result?.backend ?? "unknown",
    device: main.result?.device ?? trials.find((t) => t.result?.device)?.result?.device ?? "unknown",
    build: main.result?.build ?? trials.find((t) => t.result?.build)?.result?.build ?? null,
    config,
    mode: main.spec.mode,
    debugEnv,
    command: opts.command ?? `deno run -A ${relative(decodeURIComponent(REPO.pathname), file)}`,
    started,
    finished: new Date().toISOString(),
    records: original.records,
    findings: original.findings,
    attribution,
    hypotheses,
    matrix,
    fault: original.fault,
    sanitizer,
    trials: trials.map(summarize),
    values,
  };
  report.notes = [...notes, ...(exp.notes?.(report) ?? [])];
  const steps = exp.nextSteps?.(report);
  if (steps) report.nextSteps = steps;
  let rawJournal: string | null = null;
  try {
    rawJournal = await Deno.readTextFile(join(main.spec.runDir, "journal.jsonl"));
  } catch {
    rawJournal = null;
  }
  if (exp.d2hAudit && rawJournal !== null) {
    const { d2hAuditLines } = await import("../../mod.ts");
    const raws = rawJournal.split("\n").filter((l) => l.trim()).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    const lines = d2hAuditLines(raws);
    await Deno.writeTextFile(join(dir, "d2h_audit.log"), lines.join("\n") + (lines.length ? "\n" : ""));
    report.auditLog = lines;
  }
  const written = await writeReport(dir, report, { journal: rawJournal === null });
  if (rawJournal !== null) {
    await Deno.writeTextFile(join(dir, "journal.jsonl"), rawJournal);
    written.files.push(join(dir, "journal.jsonl"));
  }
  if (opts.print !== false) printSummary(report, dir);
  return { report, dir, files: written.files };
}

/** The few lines a run prints: where the fault surfaced, the root cause, the report's path. */
export function summaryLines(run: RunReport, dir: string): string[] {
  const a = run.attribution;
  const lines = [`${run.experiment}: ${run.status} (${run.backend}, ${run.device})`];
  if (a?.surfaced) {
    const s = a.surfaced;
    const name = s.opName ? `${s.opName} (${s.kind} ${s.name})` : `${s.kind} ${s.name}`;
    const w = [s.step !== undefined ? `step ${s.step}` : "", s.layer !== undefined ? `layer ${s.layer}` : ""]
      .filter(Boolean).join(", ");
    lines.push(`  surfaced at: op #${s.op} ${name}${w ? `, ${w}` : ""} — ${s.error}`);
  }
  const rc = a?.rootCause;
  if (rc) {
    const w = [rc.step !== null ? `step ${rc.step}` : "", rc.layer !== null ? `layer ${rc.layer}` : ""]
      .filter(Boolean)
      .join(", ");
    lines.push(
      `  root cause:  op #${rc.op} ${rc.kind} ${rc.kernel} — ${rc.name}${w ? ` (${w})` : ""}` +
        `${rc.argument ? `, argument ${rc.argument}` : ""}${rc.invariant ? `: ${rc.invariant}` : ""}`,
    );
    lines.push(`  named by ${a!.method} in ${a!.replays} replay(s), ${(a!.wallMs / 1000).toFixed(2)} s`);
  } else {
    lines.push(`  ${headline(run)}`);
  }
  const confirmed = run.hypotheses.filter((h) => h.status === "CONFIRMED").map((h) => h.title);
  if (confirmed.length) lines.push(`  confirmed: ${confirmed.join("; ")}`);
  if (run.debugEnv) lines.push(`  debug environment: ${envLine(run.debugEnv)}`);
  if (run.matrix?.length) lines.push("", matrixTable(run.matrix), "");
  lines.push(`  report: ${join(dir, "report.md")}`);
  return lines;
}

function printSummary(run: RunReport, dir: string) {
  console.log(summaryLines(run, dir).join("\n"));
}

/** Parses `k=v` params: numbers and booleans as such, JSON when it parses, strings otherwise. */
export function parseParams(list: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i < 0) {
      out[kv] = true;
      continue;
    }
    const k = kv.slice(0, i);
    const v = kv.slice(i + 1);
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

const USAGE = `usage: deno run -A <experiment.ts> [options]
  --mode off|audit|enforce|blocking   mode of the main trial (default: the experiment's, else audit)
  --matrix                            run the matrix (the experiment's, else baseline 50 / audit 50 / stress 100)
  --scale X                           multiply matrix iterations by X
  --param k=v                         a trial param (repeatable)
  --debug-env NAME                    debug environment preset: none, hip, hip-quiet, cuda, all
  --sanitizer                         also run one trial under compute-sanitizer (NVIDIA)
  --no-attribute                      do not replay to attribute a fault
  --timeout S                         per-trial time limit in seconds
  --reports DIR                       reports root (default reports/)`;

/**
 * The entry point of an experiment file: the child role with --trial, the
 * parent otherwise. Exits with 0 when the run is OK, 1 otherwise, 2 on bad usage.
 */
export async function main(exp: Experiment, args: string[] = Deno.args): Promise<void> {
  const k = args.indexOf("--trial");
  if (k >= 0) {
    const spec = JSON.parse(args[k + 1]) as TrialSpec;
    const result = await runChild(exp, spec);
    console.log(resultLine(result));
    Deno.exit(0);
  }
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        mode: { type: "string" },
        matrix: { type: "boolean" },
        scale: { type: "string" },
        param: { type: "string", multiple: true },
        "debug-env": { type: "string" },
        sanitizer: { type: "boolean" },
        "no-attribute": { type: "boolean" },
        timeout: { type: "string" },
        reports: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (v.help) {
    console.log(USAGE);
    return;
  }
  if (v.mode && !MODES.includes(v.mode as Mode)) {
    console.error(`unknown mode ${v.mode}\n${USAGE}`);
    Deno.exit(2);
  }
  const res = await runExperiment(exp, {
    mode: v.mode as Mode | undefined,
    matrix: v.matrix ? (exp.matrix && exp.matrix !== true ? exp.matrix : true) : undefined,
    scale: v.scale ? Number(v.scale) : undefined,
    params: parseParams(v.param ?? []),
    debugEnv: v["debug-env"],
    sanitizer: v.sanitizer,
    attribute: v["no-attribute"] ? false : undefined,
    timeoutMs: v.timeout ? Number(v.timeout) * 1000 : undefined,
    reportsDir: v.reports,
    command: `deno run -A ${relative(Deno.cwd(), experimentFile(exp, {}))}${
      args.length ? " " + args.join(" ") : ""
    }`,
  });
  Deno.exit(res.report.status === "OK" ? 0 : 1);
}
