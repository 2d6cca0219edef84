/**
 * The parent role of an experiment: runs its trials in child processes (the
 * main trial or a matrix), attributes a fault with replays, runs a trial under
 * compute-sanitizer when asked, evaluates the hypotheses and writes
 * reports/<experiment>/<run-id>/. It never loads the native library.
 */
import { join, relative, resolve } from "node:path";
import { attribute, findSurfaced } from "../forensics/attribution.ts";
import { envLine, resolveDebugEnv } from "../forensics/debugenv.ts";
import { evaluate } from "../forensics/hypotheses.ts";
import { parseFindingsText, parseJournalText } from "../forensics/journal_read.ts";
import { foldSanitizer, parseSanitizer, sanitizerWrap } from "../forensics/sanitizer.ts";
import { STOCK_HYPOTHESES } from "../forensics/stock.ts";
import { headline } from "../report/markdown.ts";
import { deviceTable, matrixTable } from "../report/matrix_table.ts";
import { writeReport } from "../report/write.ts";
import type {
  Attribution,
  Evidence,
  MatrixResult,
  MatrixRow,
  Mode,
  RunReport,
  RunStatus,
  SanitizerError,
  TrialEvidence,
  TrialOutcome,
  TrialResult,
  TrialSummary,
} from "../../records.ts";
import type { Experiment } from "./definition.ts";
import { FaultlineUsageError } from "../../mod.ts";
import { MODES } from "../../records.ts";
import { checkAuditOptions } from "../audit/session.ts";
import { DEFAULT_MATRIX, runMatrix } from "./matrix.ts";
import { describeOutcome } from "./runner.ts";
import { replayPlacement } from "./replay_placement.ts";
import { RunTrials } from "./run_trials.ts";
import { checkParams } from "../cli/params.ts";

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

/** Options of a run of an experiment (what its command line sets). */
export interface RunOptions {
  /** The experiment file (default: exp.file, else Deno.mainModule). */
  file?: string;
  /** reports/ root (default $FAULTLINE_REPORTS or <repo>/reports). */
  reportsDir?: string;
  /** The run's id, its folder name (default: the date, time and a random suffix). */
  runId?: string;
  /** Mode of the main trial (default: the experiment's, else audit). */
  mode?: Mode;
  /** Run a matrix (true: the experiment's, else the default matrix). */
  matrix?: MatrixRow[] | boolean;
  /** Multiplies matrix iterations (a quick look: 0.1). */
  scale?: number;
  /** Params over the experiment's defaults (checked against its paramRules). */
  params?: Record<string, unknown>;
  /** Debug environment preset, or variables, for every trial (null: none). */
  debugEnv?: string | Record<string, string> | null;
  /** Also run one trial under compute-sanitizer where it is installed. */
  sanitizer?: boolean;
  /** Attribute a fault with replays (default true). */
  attribute?: boolean;
  /** Per-trial time limit in ms (default: the experiment's, else 120 000). */
  timeoutMs?: number;
  /** The command line to record. */
  command?: string;
  /** Print the summary to stdout (default true). */
  print?: boolean;
  /** Extra environment for every trial. */
  env?: Record<string, string>;
  /**
   * The host devices to place trials on (--devices), or "all". Default: all, once the run has trials
   * that can run side by side (a matrix, replays); a lone trial then sees every device and runs on 0.
   */
  devices?: number[] | "all";
}

/** What a run left: its report and the files written. */
export interface RunResult {
  /** The run's report (what report.md and verdict.json are written from). */
  report: RunReport;
  /** The run's folder. */
  dir: string;
  /** The files written in it. */
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

export function experimentFile(exp: Experiment, opts: RunOptions): string {
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
    ...(o.spec.devices ? { devices: o.spec.devices } : {}),
  };
}

function faultedOutcome(o: TrialOutcome): boolean {
  return o.status !== "OK" && o.status !== "BLOCKED";
}

/** The parent role: runs the experiment's trials, attributes, decides, writes the report. */
export async function runExperiment(exp: Experiment, opts: RunOptions = {}): Promise<RunResult> {
  // options given as an object are checked here, before any trial (a function's, in each trial)
  if (exp.audit !== undefined && typeof exp.audit !== "function") {
    checkAuditOptions(exp.audit as Record<string, unknown>);
  }
  if (exp.devices !== undefined && (!Number.isInteger(exp.devices) || exp.devices < 1)) {
    throw new FaultlineUsageError(`devices (per trial) must be a positive integer, got ${exp.devices}`);
  }
  const started = new Date().toISOString();
  const runId = opts.runId ?? newRunId();
  const dir = join(opts.reportsDir ?? defaultReports(), exp.name, runId);
  const trials = await prepareTrials(exp, opts, dir);
  const notes: string[] = [];
  const first = await firstTrial(exp, opts, trials);
  const faultEnd = performance.now();
  const { main, evidence: original, replays } = await journaledFault(exp, opts, trials, first.main, notes);
  const attribution = await attributeFault(exp, opts, trials, main, original, faultEnd, notes);
  if (attribution) attribution.replays += replays;
  const sanitizer = await sanitizerTrial(exp, opts, trials, main, original, notes);
  const config = { ...(exp.config ?? {}), ...childConfig(main) };
  const evidence: Evidence = {
    experiment: exp.name,
    records: original.records,
    findings: original.findings,
    attribution,
    faulted: faultedOutcome(main),
    reproduced: trials.all.some((o) => faultedOutcome(o) && o.spec.purpose !== "sanitizer") ||
      findSurfaced(original.records) !== null,
    matrix: first.matrix,
    trials: trials.all,
    fault: original.fault,
    sanitizer,
    config,
    values: original.outcome?.result?.values ?? {},
  };
  const hypotheses = evaluate(exp.hypotheses ?? [...STOCK_HYPOTHESES], evidence);
  notes.push(...outcomeNotes(main, original));
  if (trials.unplacedReason) {
    notes.push(
      `The devices could not be listed (${trials.unplacedReason}): the trials ran one at a time, each ` +
        `seeing every device.`,
    );
  }
  const report: RunReport = {
    experiment: exp.name,
    runId,
    title: exp.title,
    status: runStatus(main),
    backend: main.result?.backend ?? trials.all.find((t) => t.result?.backend)?.result?.backend ?? "unknown",
    device: main.result?.device ?? trials.all.find((t) => t.result?.device)?.result?.device ?? "unknown",
    deviceId: main.result?.deviceId ?? main.spec.devices?.[0] ?? null,
    build: main.result?.build ?? trials.all.find((t) => t.result?.build)?.result?.build ?? null,
    config,
    mode: main.spec.mode,
    debugEnv: trials.debugEnv,
    command: opts.command ?? `deno run -A ${relative(decodeURIComponent(REPO.pathname), trials.file)}`,
    started,
    finished: new Date().toISOString(),
    records: original.records,
    findings: original.findings,
    attribution,
    hypotheses,
    matrix: first.matrix,
    fault: original.fault,
    sanitizer,
    trials: trials.all.map(summarize),
    values: evidence.values,
  };
  report.notes = [...notes, ...(exp.notes?.(report) ?? [])];
  const steps = exp.nextSteps?.(report);
  if (steps) report.nextSteps = steps;
  const files = await writeRun(exp, dir, report, main);
  if (opts.print !== false) printSummary(report, dir);
  return { report, dir, files };
}

/**
 * The run's folder and the options every trial of it shares. What the run is given is checked
 * first (FaultlineUsageError), so a refused run leaves no folder and runs no trial.
 */
async function prepareTrials(exp: Experiment, opts: RunOptions, dir: string): Promise<RunTrials> {
  checkRunOptions(exp, opts);
  const params = checkParams(exp, opts.params ?? {});
  const debugEnv = resolveDebugEnv(opts.debugEnv === undefined ? exp.debugEnv : opts.debugEnv);
  const env = { ...(debugEnv?.vars ?? {}), ...(opts.env ?? {}) };
  const timeoutMs = opts.timeoutMs ?? exp.timeoutMs ?? 120_000;
  const perTrial = exp.devices ?? 1;
  const trialsDir = join(dir, "trials");
  const trials = new RunTrials(exp, experimentFile(exp, opts), trialsDir, params, debugEnv, {
    timeoutMs,
    env,
    cwd: decodeURIComponent(REPO.pathname),
  }, { wanted: opts.devices, perTrial });
  // devices asked for, or trials that use several, place every trial, the first one too (devices that
  // are not there are refused before the run's folder is made)
  if (opts.devices !== undefined || perTrial > 1) await trials.place();
  await Deno.mkdir(trialsDir, { recursive: true });
  return trials;
}

/** Refuses a mode, scale, time limit or matrix that would run nothing or something else than asked. */
function checkRunOptions(exp: Experiment, opts: RunOptions): void {
  const mode = opts.mode ?? exp.mode;
  if (mode !== undefined && !MODES.includes(mode)) {
    throw new FaultlineUsageError(`unknown mode ${mode} (${MODES.join(", ")})`);
  }
  for (const [what, v] of [["scale", opts.scale], ["time limit", opts.timeoutMs ?? exp.timeoutMs]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
      throw new FaultlineUsageError(`the ${what} must be a positive number, got ${v}`);
    }
  }
  const rows = opts.matrix ?? exp.matrix;
  if (Array.isArray(rows) && (rows.length === 0 || rows.some((r) => !(r.iterations > 0)))) {
    throw new FaultlineUsageError(`a matrix needs rows of at least one iteration each`);
  }
  if (opts.scale !== undefined && !rows) {
    throw new FaultlineUsageError(`a scale needs a matrix (--matrix): this experiment runs one trial`);
  }
}

/**
 * The main trial, or the matrix: its first failing trial (a fault before a block), else one more
 * audited trial that gives the report its journal.
 */
async function firstTrial(
  exp: Experiment,
  opts: RunOptions,
  trials: RunTrials,
): Promise<{ main: TrialOutcome; matrix: MatrixResult[] | null }> {
  const mode: Mode = opts.mode ?? exp.mode ?? "audit";
  const rows0 = opts.matrix ?? exp.matrix;
  const rows = rows0 === true ? DEFAULT_MATRIX : Array.isArray(rows0) ? rows0 : null;
  if (!rows) return { main: await trials.run(trials.spec(mode, "run")), matrix: null };
  const scale = opts.scale ?? 1;
  const scaled = rows.map((r) => ({ ...r, iterations: Math.max(1, Math.round(r.iterations * scale)) }));
  await trials.place();
  const res = await runMatrix(scaled, async (row, i) => {
    const spec = trials.spec(row.mode, "matrix", {
      iteration: i,
      params: { ...trials.params, ...(row.params ?? {}) },
    });
    const o = await trials.run(spec);
    if (o.status === "OK") await Deno.remove(spec.runDir, { recursive: true }).catch(() => {});
    return o;
  }, { progress: opts.print === false ? false : undefined, concurrency: trials.width });
  const failing = res.outcomes.find(faultedOutcome) ?? res.outcomes.find((o) => o.status === "BLOCKED");
  return { main: failing ?? await trials.run(trials.spec(mode, "run")), matrix: res.rows };
}

/**
 * The evidence of the main trial. A fault in an uninstrumented trial (a baseline matrix row) has no
 * journal: it is run again with the journal on, and that trial becomes the main one if it faults too.
 */
async function journaledFault(
  exp: Experiment,
  opts: RunOptions,
  trials: RunTrials,
  main: TrialOutcome,
  notes: string[],
): Promise<{ main: TrialOutcome; evidence: TrialEvidence; replays: number }> {
  const evidence = await loadTrialEvidence(main.spec.runDir, main);
  const wanted = opts.attribute ?? exp.attribute ?? true;
  if (!wanted || !faultedOutcome(main) || evidence.records.length > 0 || main.spec.mode !== "off") {
    return { main, evidence, replays: 0 };
  }
  const spec = trials.again(main, "audit", "journal", { devices: main.spec.devices });
  const o = await trials.run(spec);
  if (!faultedOutcome(o)) {
    notes.push(
      `The fault surfaced in an uninstrumented (${main.spec.mode}) trial and did not come back with the ` +
        `journal on: it is timing-dependent or rare; run the matrix again in audit mode.`,
    );
    return { main, evidence, replays: 1 };
  }
  notes.push(
    `The fault first surfaced in an uninstrumented (${main.spec.mode}) trial; it came back in an audited ` +
      `trial, whose journal this report analyses.`,
  );
  return { main: o, evidence: await loadTrialEvidence(spec.runDir, o), replays: 1 };
}

/** Names the launch behind a fault or a finding, with replays in fresh trials; null when there is nothing to name. */
async function attributeFault(
  exp: Experiment,
  opts: RunOptions,
  trials: RunTrials,
  main: TrialOutcome,
  original: TrialEvidence,
  faultEnd: number,
  notes: string[],
): Promise<Attribution | null> {
  if (!(opts.attribute ?? exp.attribute ?? true)) return null;
  const died = main.status === "CRASH" || main.status === "HANG";
  if (!faultedOutcome(main) && !findSurfaced(original.records, died) && !original.findings.length) {
    return null;
  }
  const where = replayPlacement(main, trials.all.filter((o) => o.spec.purpose === "matrix"));
  if (where.note) notes.push(where.note);
  return await attribute(original, async (how) => {
    const spread = how.purpose === "bisect" && where.spread;
    const spec = trials.again(main, how.mode, how.purpose, {
      syncAfter: how.syncAfter,
      redzoneEachWrite: how.redzoneEachWrite,
      devices: spread ? undefined : where.devices,
    });
    return loadTrialEvidence(spec.runDir, await trials.run(spec));
  }, {
    maxReplays: exp.maxReplays ?? 6,
    startedAt: faultEnd,
    sideBySide: async () => {
      if (!where.spread) return 1;
      await trials.place();
      return trials.width;
    },
  });
}

/** One audited trial under compute-sanitizer (cuda, where it is installed), its first error folded. */
async function sanitizerTrial(
  exp: Experiment,
  opts: RunOptions,
  trials: RunTrials,
  main: TrialOutcome,
  original: TrialEvidence,
  notes: string[],
): Promise<SanitizerError | null> {
  if (!(opts.sanitizer ?? exp.sanitizer)) return null;
  const backend = main.result?.backend ?? "";
  // audited, so that the sanitizer's addresses resolve against this trial's own journal
  const spec = trials.again(main, "audit", "sanitizer", { devices: main.spec.devices });
  const log = join(spec.runDir, "sanitizer.log");
  const own = Deno.env.get("FAULTLINE_SANITIZER") !== undefined;
  const wrap = backend === "cuda" || own ? await sanitizerWrap(log) : null;
  if (!wrap) {
    notes.push(
      `compute-sanitizer was requested but ${
        backend === "cuda" ? "is not installed" : `does not apply to the ${backend || "unknown"} backend`
      }; no sanitizer trial ran.`,
    );
    return null;
  }
  await Deno.mkdir(spec.runDir, { recursive: true });
  const o = await trials.run(spec, { wrap, timeoutMs: trials.options.timeoutMs! * 4 });
  // the log file holds the whole report (the first error is printed first, the output's tail may lose it)
  const text = await Deno.readTextFile(log).catch(() => `${o.stdoutTail}\n${o.stderrTail}`);
  const err = parseSanitizer(text);
  if (!err) {
    notes.push("compute-sanitizer (memcheck) reported no error in its trial.");
    return null;
  }
  const ev = await loadTrialEvidence(spec.runDir, o);
  return foldSanitizer(err, ev.records.length ? ev.records : original.records);
}

function childConfig(main: TrialOutcome): Record<string, unknown> {
  return (main.result as (TrialResult & { config?: Record<string, unknown> }) | null)?.config ?? {};
}

function runStatus(main: TrialOutcome): RunStatus {
  return faultedOutcome(main) ? "FAULT" : main.status === "BLOCKED" ? "BLOCKED" : "OK";
}

/** Notes on a main trial that ended other than by a device fault. */
function outcomeNotes(main: TrialOutcome, original: TrialEvidence): string[] {
  const notes: string[] = [];
  if (main.status === "ERROR" && !findSurfaced(original.records)) {
    notes.push(`The main trial ended with an error that is not a device fault: ${describeOutcome(main)}.`);
  }
  if (main.status === "CRASH" || main.status === "HANG") {
    notes.push(`The main trial ended as ${main.status}: ${describeOutcome(main)}.`);
  }
  return notes;
}

/** Writes the run's records (the main trial's journal as it wrote it, d2h_audit.log when asked); their paths. */
async function writeRun(
  exp: Experiment,
  dir: string,
  report: RunReport,
  main: TrialOutcome,
): Promise<string[]> {
  let rawJournal: string | null = null;
  try {
    rawJournal = await Deno.readTextFile(join(main.spec.runDir, "journal.jsonl"));
  } catch {
    rawJournal = null;
  }
  if (exp.d2hAudit && rawJournal !== null) report.auditLog = await writeD2hAudit(dir, rawJournal);
  const written = await writeReport(dir, report, { journal: rawJournal === null });
  if (rawJournal !== null) {
    await Deno.writeTextFile(join(dir, "journal.jsonl"), rawJournal);
    written.files.push(join(dir, "journal.jsonl"));
  }
  return written.files;
}

/** d2h_audit.log from a journal's text; its lines. */
async function writeD2hAudit(dir: string, rawJournal: string): Promise<string[]> {
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
  return lines;
}

/** The few lines a run prints: where the fault surfaced, the root cause, the report's path. */
export function summaryLines(run: RunReport, dir: string): string[] {
  const a = run.attribution;
  const placed = run.trials.some((t) => t.devices) && run.deviceId != null ? `, device ${run.deviceId}` : "";
  const lines = [`${run.experiment}: ${run.status} (${run.backend}, ${run.device}${placed})`];
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
  const byDevice = run.matrix?.length ? deviceTable(run.matrix) : null;
  if (byDevice) lines.push(byDevice, "");
  lines.push(`  report: ${join(dir, "report.md")}`);
  return lines;
}

function printSummary(run: RunReport, dir: string) {
  console.log(summaryLines(run, dir).join("\n"));
}
