/**
 * The runs index: finds reports/<experiment>/<run-id>/ folders and reads what
 * they hold. Everything is read fresh on each call and every read tolerates
 * files that vanish or are half-rewritten under it.
 */

import { join } from "node:path";
import { ReportsFiles } from "./files.ts";
import { isSafeName, realRoot, resolveInside, UnreadableFile } from "./paths.ts";
import { findOp, readTail, summarizeFile, SUMMARY_BYTES } from "./journal_file.ts";
import { newestByDevice, pidAlive, trialActivity, trialDirs } from "./trials.ts";
import type { JournalRecord, JournalSummary } from "./journal.ts";
import { JsonLimitError, parseJson } from "./json.ts";

/** Files whose presence makes a folder a run: every run journals its calls, and a finished one has a verdict. */
const RUN_MARKERS = ["journal.jsonl", "verdict.json"];

/** Top-level folders of the reports folder that hold no experiment runs (`deno task bench` writes reports/bench/). */
const NOT_EXPERIMENTS = new Set(["bench"]);

export type RunStatus = "OK" | "FAULT" | "BLOCKED" | "LIVE" | "INCOMPLETE" | "UNREADABLE";

export interface SurfacedAt {
  op?: unknown;
  kind?: unknown;
  name?: unknown;
  error?: unknown;
}

export interface RootCause {
  op?: unknown;
  kind?: unknown;
  kernel?: unknown;
  name?: unknown;
  step?: unknown;
  layer?: unknown;
  argument?: unknown;
  invariant?: unknown;
  detail?: unknown;
}

export interface Hypothesis {
  id?: unknown;
  title?: unknown;
  status?: unknown;
  evidence?: unknown;
}

export interface MatrixRow {
  mode?: unknown;
  iterations?: unknown;
  errors?: unknown;
  status?: unknown;
}

/** verdict.json, read defensively: every field may be missing or of another type. */
export interface Verdict {
  experiment?: unknown;
  backend?: unknown;
  device?: unknown;
  config?: unknown;
  status?: unknown;
  surfaced_at?: SurfacedAt | null;
  root_cause?: RootCause | null;
  hypotheses?: Hypothesis[];
  matrix?: MatrixRow[];
  started?: unknown;
  finished?: unknown;
  [key: string]: unknown;
}

export interface RunSummary {
  experiment: string;
  id: string;
  status: RunStatus;
  backend: string | null;
  device: string | null;
  /** ISO time: the verdict's finished or started time, else the newest file's modification time. */
  time: string | null;
  /** Seconds from the verdict's started to its finished time; null without both. */
  durationS: number | null;
  rootCause: string | null;
  files: string[];
  /** The newest trial folder (trials/<NNN-purpose>), the one running while the run is LIVE. */
  trial: string | null;
  /** How many trial folders the run has (successful matrix trials are removed as they finish). */
  trials: number;
  /** Why verdict.json could not be used, when it exists but does not parse or is refused. */
  verdictError?: string;
  /** Files of the run the server refuses to read (a link out of the reports folder, a FIFO), and why. */
  refused?: Record<string, string>;
}

export interface RunDetail extends RunSummary {
  verdict: Verdict | null;
  /** The journal's summary; null when there is none, or it is too large to summarize (see journalNote). */
  journal: JournalSummary | null;
  /** Size of journal.jsonl in bytes; null without one. */
  journalBytes: number | null;
  /** Why the journal is not summarized, when it is not. */
  journalNote: string | null;
  /** While the run is LIVE: the newest trial on each device its trials are placed on. */
  running: { device: string; trial: string }[];
}

export interface IndexOptions {
  /** A run without verdict.json whose journal changed within this window is LIVE. */
  liveWindowMs: number;
  now?: () => number;
}

export const DEFAULT_LIVE_WINDOW_MS = 30_000;

function str(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return null;
  }
}

function durationOf(v: Verdict | null): number | null {
  const started = Date.parse(String(v?.started));
  const finished = Date.parse(String(v?.finished));
  return Number.isFinite(started) && Number.isFinite(finished) && finished >= started
    ? (finished - started) / 1000
    : null;
}

/** One line naming the root cause: kernel, argument and invariant. */
export function describeRootCause(rc: RootCause | null | undefined): string | null {
  if (!rc || typeof rc !== "object") return null;
  const parts: string[] = [];
  const where = str(rc.kernel) ?? str(rc.name);
  if (where) parts.push(where);
  if (rc.op !== undefined && rc.op !== null) parts.push(`op ${str(rc.op)}`);
  if (str(rc.argument)) parts.push(`argument ${str(rc.argument)}`);
  if (str(rc.invariant)) parts.push(`broke ${str(rc.invariant)}`);
  return parts.length ? parts.join(", ") : str(rc.detail);
}

/** The run files listed and served, in the order pages show them. */
const KNOWN_FILES = ["journal.jsonl", "verdict.json", "report.md", "trace.json", "timeline.svg"];

/** Whether a name is there at all (a link or a FIFO counts too): what makes a folder a run. */
function present(path: string): boolean {
  try {
    return !Deno.lstatSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Reads verdict.json: the parsed object, null when absent, or why it cannot be used. */
async function readVerdict(
  files: ReportsFiles,
  dir: string,
): Promise<{ verdict: Verdict | null; error?: string }> {
  let text: string | null;
  try {
    text = await files.text(join(dir, "verdict.json"), VERDICT_BYTES);
  } catch (e) {
    if (e instanceof UnreadableFile) return { verdict: null, error: e.message };
    return { verdict: null, error: `verdict.json cannot be read: ${(e as Error).message}` };
  }
  if (text === null) return { verdict: null };
  try {
    const v = parseJson(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return { verdict: null, error: "verdict.json is not an object" };
    }
    return { verdict: v as Verdict };
  } catch (e) {
    const how = e instanceof JsonLimitError ? "is refused" : "does not parse";
    return { verdict: null, error: `verdict.json ${how}: ${(e as Error).message}` };
  }
}

/** The most of verdict.json or bench.json read whole. */
const VERDICT_BYTES = 8 << 20;
/** How many runs the list reads at once. */
const LIST_PARALLEL = 16;
/** Ops looked up by id kept (the ones viewed most recently). */
const OP_CACHE = 256;
/** Journal summaries kept (the runs viewed most recently). */
const SUMMARY_CACHE = 32;

function megabytes(n: number): string {
  return `${(n / (1 << 20)).toFixed(1)} MB`;
}

export class RunsIndex {
  readonly root: string;
  readonly opts: IndexOptions;

  readonly files: ReportsFiles;
  #summaries = new Map<string, Promise<JournalSummary | "too large" | null>>();
  #ops = new Map<string, Promise<JournalRecord | null>>();

  constructor(root: string, opts: Partial<IndexOptions> = {}) {
    this.root = root;
    this.files = new ReportsFiles(root);
    this.opts = { liveWindowMs: opts.liveWindowMs ?? DEFAULT_LIVE_WINDOW_MS, now: opts.now };
  }

  #now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Resolves a run folder; null when unknown. Throws RefusedPath for names that leave the root. */
  runDir(experiment: string, id: string): string | null {
    const dir = resolveInside(this.root, experiment, id);
    if (!dir || NOT_EXPERIMENTS.has(experiment)) return null;
    const info = this.files.stat(dir);
    if (!info?.isDirectory) return null;
    for (const f of RUN_MARKERS) {
      if (present(join(dir, f))) return dir;
    }
    // A run still in its trials has only trials/<NNN-purpose>/ folders so far.
    if (this.files.readableDir(join(dir, "trials"))) return dir;
    return null;
  }

  /**
   * Opens a known file of a run; null when absent. Throws an UnreadableFile
   * when it links outside the root or is not a regular file.
   */
  async runFile(experiment: string, id: string, name: string): Promise<Deno.FsFile | null> {
    const dir = await this.runDir(experiment, id);
    if (!dir) return null;
    return (await this.files.open(join(dir, name)))?.file ?? null;
  }

  /** All runs, newest first. Folders that are not experiment runs (e.g. bench/) are skipped. */
  async list(): Promise<RunSummary[]> {
    const root = realRoot(this.root);
    const folders = (e: Deno.DirEntry) => (e.isDirectory || e.isSymlink) && isSafeName(e.name);
    const named: [string, string][] = [];
    for (const { name: exp } of this.files.list(root, folders)) {
      for (const { name: id } of this.files.list(join(root, exp), folders)) named.push([exp, id]);
    }
    const one = async ([exp, id]: [string, string]) => {
      try {
        const dir = await this.runDir(exp, id);
        return dir ? (await this.#summary(exp, id, dir))?.summary ?? null : null;
      } catch {
        return null; // A run that resolves outside the root or vanished mid-read is left out.
      }
    };
    // Runs are read LIST_PARALLEL at a time: their file reads wait on the file system, not on each other.
    const runs: RunSummary[] = [];
    for (let k = 0; k < named.length; k += LIST_PARALLEL) {
      for (const r of await Promise.all(named.slice(k, k + LIST_PARALLEL).map(one))) if (r) runs.push(r);
    }
    runs.sort((a, b) => (b.time ?? "").localeCompare(a.time ?? "") || a.id.localeCompare(b.id));
    return runs;
  }

  async #summary(
    experiment: string,
    id: string,
    dir: string,
  ): Promise<{ summary: RunSummary; verdict: Verdict | null } | null> {
    const files: string[] = [];
    const refused: Record<string, string> = {};
    let newest = 0;
    let journalMtime = 0;
    const infos = KNOWN_FILES.map((f) => {
      try {
        return this.files.file(join(dir, f));
      } catch (e) {
        return e as Error;
      }
    });
    for (const [k, f] of KNOWN_FILES.entries()) {
      const info = infos[k] as Deno.FileInfo | null | Error;
      if (info instanceof Error) {
        if (!(info instanceof UnreadableFile)) throw info;
        refused[f] = info.message;
        continue;
      }
      if (!info) continue;
      files.push(f);
      const m = info.mtime?.getTime() ?? 0;
      newest = Math.max(newest, m);
      if (f === "journal.jsonl") journalMtime = m;
    }
    const activity = await trialActivity(this.files, dir);
    const nothing = files.length === 0 && Object.keys(refused).length === 0;
    if (nothing && activity.trial === null && activity.mtime === 0) return null;
    newest = Math.max(newest, activity.mtime);
    const { verdict, error } = await readVerdict(this.files, dir);
    let status: RunStatus;
    if (verdict) {
      const s = str(verdict.status)?.toUpperCase();
      status = s === "OK" || s === "FAULT" || s === "BLOCKED" ? s : "UNREADABLE";
    } else if (error) {
      status = "UNREADABLE";
    } else if (
      this.#now() - Math.max(journalMtime, activity.mtime) <= this.opts.liveWindowMs ||
      (activity.pid !== null && pidAlive(activity.pid) === true)
    ) {
      // Journaled recently, or the trial process that writes the ring is running.
      status = "LIVE";
    } else {
      status = "INCOMPLETE";
    }
    const time = str(verdict?.finished) ?? str(verdict?.started) ??
      (newest ? new Date(newest).toISOString() : null);
    return {
      verdict,
      summary: {
        experiment,
        id,
        status,
        backend: str(verdict?.backend),
        device: str(verdict?.device),
        time,
        durationS: durationOf(verdict),
        rootCause: describeRootCause(verdict?.root_cause),
        files,
        trial: activity.trial,
        trials: trialDirs(this.files, dir).length,
        ...(error ? { verdictError: error } : {}),
        ...(Object.keys(refused).length ? { refused } : {}),
      },
    };
  }

  /** Everything the run page shows; null for an unknown run. */
  async detail(experiment: string, id: string): Promise<RunDetail | null> {
    const dir = await this.runDir(experiment, id);
    if (!dir) return null;
    const s = await this.#summary(experiment, id, dir);
    if (!s) return null;
    const path = join(dir, "journal.jsonl");
    const { journal, bytes, note } = await this.#journal(path);
    return {
      ...s.summary,
      verdict: s.verdict,
      journal,
      journalBytes: bytes,
      journalNote: note,
      running: s.summary.status === "LIVE" ? await newestByDevice(this.files, dir) : [],
    };
  }

  /** The summary of a journal, cached while the file stays the same (inode, size, modification time). */
  async #journal(
    path: string,
  ): Promise<{ journal: JournalSummary | null; bytes: number | null; note: string | null }> {
    let info: Deno.FileInfo | null;
    try {
      info = this.files.file(path);
    } catch (e) {
      if (e instanceof UnreadableFile) return { journal: null, bytes: null, note: e.message };
      throw e;
    }
    if (info === null) return { journal: null, bytes: null, note: null };
    const key = `${path}\0${info.ino}\0${info.size}\0${info.mtime?.getTime()}`;
    // The promise is kept, so views of one journal arriving together share one pass over it.
    let pending = this.#summaries.get(key);
    if (pending === undefined) {
      pending = summarizeFile(this.files, path).catch(() => null);
      this.#summaries.set(key, pending);
      if (this.#summaries.size > SUMMARY_CACHE) this.#summaries.delete(this.#summaries.keys().next().value!);
    }
    const summary = await pending;
    if (summary === "too large") {
      return {
        journal: null,
        bytes: info.size,
        note: `journal.jsonl is ${megabytes(info.size)}, more than the ${
          megabytes(SUMMARY_BYTES)
        } summarized here`,
      };
    }
    return { journal: summary, bytes: info.size, note: null };
  }

  /**
   * One op of a run's journal, all its lines merged; null when the journal has
   * none. Found by a scan of the whole journal (a second or so for 300 MB), so
   * the answer is kept while the file stays the same: the failing op a run
   * page links to costs one scan, not one per view.
   */
  async op(dir: string, id: number): Promise<JournalRecord | null> {
    const path = join(dir, "journal.jsonl");
    const info = this.files.file(path);
    if (info === null) return null;
    const key = `${path}\0${info.ino}\0${info.size}\0${info.mtime?.getTime()}\0${id}`;
    let pending = this.#ops.get(key);
    if (pending === undefined) {
      pending = findOp(this.files, path, id).catch((e) => {
        this.#ops.delete(key);
        throw e;
      });
      this.#ops.set(key, pending);
      if (this.#ops.size > OP_CACHE) this.#ops.delete(this.#ops.keys().next().value!);
    }
    return await pending;
  }

  /** The newest ops of a run's journal and the offset a live view resumes from; null without a journal. */
  async recent(dir: string, limit: number): Promise<{ records: JournalRecord[]; end: number } | null> {
    return await readTail(this.files, join(dir, "journal.jsonl"), limit).catch(() => null);
  }

  /** The backend and device that `deno task bench` recorded in reports/bench/bench.json, if any. */
  async benchDevice(): Promise<{ backend: string; device: string; source: string } | null> {
    try {
      const text = await this.files.text(join(this.root, "bench", "bench.json"), VERDICT_BYTES);
      if (text === null) return null;
      const b = parseJson(text) as Record<string, unknown> | null;
      const backend = str(b?.backend);
      const device = str(b?.device);
      if (!backend && !device) return null;
      return {
        backend: backend ?? "unknown",
        device: device ?? "unknown",
        source: "reports/bench/bench.json",
      };
    } catch {
      return null;
    }
  }

  /** The backend and device named by the newest run that names them. */
  newestDeviceOf(runs: RunSummary[]): { backend: string; device: string; source: string } | null {
    for (const r of runs) {
      if (r.backend || r.device) {
        return {
          backend: r.backend ?? "unknown",
          device: r.device ?? "unknown",
          source: `verdict of ${r.experiment}/${r.id}`,
        };
      }
    }
    return null;
  }
}
