/**
 * Where a run's ops are journaled while it runs. The experiment runner
 * (scripts/trials/experiment.ts) runs each trial in a child process with its
 * own folder, reports/<experiment>/<run-id>/trials/<NNN-purpose>/, and writes
 * the run's own journal.jsonl only with the report at the end. While a trial
 * runs, its journal is a binary ring mapped into the child (journal.bin from
 * the audit session, journal.ring from the fallback instrumentation; see
 * ffi/journal_native.ts), decoded to the trial's journal.jsonl when the trial
 * closes it. So the live view follows, in order of preference: the run's
 * journal.jsonl, else the newest trial's journal.jsonl, else its ring.
 */

import { join } from "node:path";
import type { ReportsFiles } from "./files.ts";
import { isSafeName } from "./paths.ts";
import type { JournalRecord, LineCounts, TailResult } from "./journal.ts";

export interface JournalSource {
  /** The trial folder name ("003-replay"), or null for the run's own journal. */
  trial: string | null;
  kind: "jsonl" | "ring";
  path: string;
}

const RING_NAMES = ["journal.bin", "journal.ring"];

/** The run's trial folders, oldest first (their names start with a sequence number). */
export function trialDirs(files: ReportsFiles, runDir: string): string[] {
  const dirs = files.list(join(runDir, "trials"), (e) => e.isDirectory && isSafeName(e.name));
  return dirs.map((e) => e.name);
}

/** A trial's journal: its journal.jsonl once written, else its ring. */
function trialSource(
  files: ReportsFiles,
  runDir: string,
  trial: string,
): JournalSource | null {
  const dir = join(runDir, "trials", trial);
  if (files.readable(join(dir, "journal.jsonl"))) {
    return { trial, kind: "jsonl", path: join(dir, "journal.jsonl") };
  }
  for (const name of RING_NAMES) {
    if (files.readable(join(dir, name))) return { trial, kind: "ring", path: join(dir, name) };
  }
  return null;
}

/** The journal a live view follows now; null when there is none yet. Files it may not read are passed over. */
export function currentSource(files: ReportsFiles, runDir: string): JournalSource | null {
  const own = join(runDir, "journal.jsonl");
  if (files.readable(own)) return { trial: null, kind: "jsonl", path: own };
  const trials = trialDirs(files, runDir);
  for (let k = trials.length - 1; k >= 0; k--) {
    const s = trialSource(files, runDir, trials[k]);
    if (s) return s;
  }
  return null;
}

/** The most trial folders looked at for the trials running now (a placed run runs one per device). */
const RUNNING_SCAN = 64;

/**
 * The host devices a trial was placed on, from the trial.json the runner writes before starting it
 * (its TrialSpec); null when it has none (not placed, an older run, unreadable).
 */
export async function trialDevices(
  files: ReportsFiles,
  runDir: string,
  trial: string,
): Promise<number[] | null> {
  try {
    const text = await files.text(join(runDir, "trials", trial, "trial.json"), 1 << 16);
    const d = text === null ? null : JSON.parse(text)?.devices;
    return Array.isArray(d) && d.length > 0 && d.every((x) => Number.isSafeInteger(x) && x >= 0) ? d : null;
  } catch {
    return null;
  }
}

/** The newest trial on each device ("2", or "0+1" for a trial on two), newest first; placed trials only. */
export async function newestByDevice(
  files: ReportsFiles,
  runDir: string,
): Promise<{ device: string; trial: string }[]> {
  const out: { device: string; trial: string }[] = [];
  const trials = trialDirs(files, runDir);
  for (let k = trials.length - 1; k >= Math.max(0, trials.length - RUNNING_SCAN); k--) {
    const devices = await trialDevices(files, runDir, trials[k]);
    const device = devices?.join("+");
    if (device !== undefined && !out.some((x) => x.device === device)) out.push({ device, trial: trials[k] });
  }
  return out;
}

/** The journal a live view of one device's trials follows now: the newest trial placed on it. */
export async function deviceSource(
  files: ReportsFiles,
  runDir: string,
  device: string,
): Promise<JournalSource | null> {
  const newest = (await newestByDevice(files, runDir)).find((x) => x.device === device);
  return newest ? trialSource(files, runDir, newest.trial) : null;
}

/** Newest modification time (ms) of anything a running trial writes, and the trial it belongs to. */
export async function trialActivity(
  files: ReportsFiles,
  runDir: string,
): Promise<{ mtime: number; trial: string | null; pid: number | null }> {
  let mtime = 0;
  let trial: string | null = null;
  let pid: number | null = null;
  const trials = trialDirs(files, runDir);
  const newest = trials.at(-1) ?? null;
  const tdir = files.readableDir(join(runDir, "trials"));
  if (tdir) mtime = tdir.mtime?.getTime() ?? 0;
  if (newest) {
    trial = newest;
    const dir = join(runDir, "trials", newest);
    for (const name of ["journal.jsonl", ...RING_NAMES, ...RING_NAMES.map((n) => `${n}.side`)]) {
      const info = files.readable(join(dir, name));
      if (info) mtime = Math.max(mtime, info.mtime?.getTime() ?? 0);
      if (info && RING_NAMES.includes(name)) pid ??= await ringPid(files, join(dir, name));
    }
  }
  return { mtime, trial, pid };
}

/** Ring header, as ffi/journal_native.ts lays it out: Int32 fields, magic at 0 and the writer's pid at 4. */
const RING_MAGIC = 0x4c4a4c46;
const H_PID = 4;

/** The pid of the process that writes a journal ring, from its header; null when it is not a ring. */
export async function ringPid(files: ReportsFiles, path: string): Promise<number | null> {
  let file: Deno.FsFile | null = null;
  try {
    file = (await files.open(path))?.file ?? null;
    if (file === null) return null;
    const buf = new Uint8Array(4 * (H_PID + 1));
    let got = 0;
    while (got < buf.length) {
      const n = await file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got < buf.length) return null;
    const view = new DataView(buf.buffer);
    if (view.getInt32(0, true) !== RING_MAGIC) return null;
    const pid = view.getInt32(4 * H_PID, true);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  } finally {
    file?.close();
  }
}

/** Whether a process is running, where /proc tells; null where it cannot be known. */
export function pidAlive(pid: number): boolean | null {
  try {
    Deno.statSync("/proc/self");
  } catch {
    return null;
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The largest ring and side file followed live (a default ring of 65536 records is 32 MB). */
const RING_BYTES = 128 << 20;
const SIDE_BYTES = 64 << 20;

/** The latest decode of each ring, shared by every viewer that follows it (a full ring takes ~150 ms). */
const decodes = new Map<string, { at: number; records: Promise<JournalRecord[] | null> }>();

/** The ring's records, decoded at most once per `intervalMs` whoever asks; null when it is gone. */
function decodeShared(
  files: ReportsFiles,
  path: string,
  intervalMs: number,
): Promise<JournalRecord[] | null> {
  const now = Date.now();
  const last = decodes.get(path);
  if (last && now - last.at < intervalMs) return last.records;
  const records = (async () => {
    // The ring and its side file, each read as a regular file inside the reports folder.
    const ring = await files.bytes(path, RING_BYTES);
    if (ring === null) return null;
    const side = await files.text(`${path}.side`, SIDE_BYTES).catch(() => null) ?? "";
    const { decodeJournalBytes } = await import("../../ffi/journal.ts");
    return decodeJournalBytes(ring, side).records as unknown as JournalRecord[];
  })();
  // Decodes no one asked for in a while are dropped, so a ring nobody follows does not stay in memory.
  for (const [p, d] of decodes) if (now - d.at > 10 * intervalMs) decodes.delete(p);
  decodes.set(path, { at: now, records });
  return records;
}

/**
 * Follows a trial's journal ring by decoding it (ffi/journal.ts, pure
 * TypeScript that reads only the files) at most once per interval, and
 * returns the records that are new or changed since the last decode. The
 * decoder is imported on first use, so the server's own module graph stays
 * free of ffi/ and a decoder that fails cannot take the server down.
 */
export class RingFollower {
  readonly path: string;
  readonly intervalMs: number;
  #seen = new Map<string, string>();
  #last = 0;

  readonly files: ReportsFiles;

  constructor(files: ReportsFiles, path: string, intervalMs = 1000) {
    this.files = files;
    this.path = path;
    this.intervalMs = intervalMs;
  }

  get position(): number {
    return 0;
  }

  get counts(): LineCounts {
    return { records: this.#seen.size, malformed: 0, partial: 0 };
  }

  async poll(): Promise<TailResult> {
    const none: TailResult = { reset: false, missing: false, records: [] };
    if (Date.now() - this.#last < this.intervalMs) return none;
    this.#last = Date.now();
    let records: JournalRecord[];
    try {
      const decoded = await decodeShared(this.files, this.path, this.intervalMs);
      if (decoded === null) return { ...none, missing: true };
      records = decoded;
    } catch (e) {
      // Gone (the trial ended and its ring was removed), or caught mid-write: try again next time.
      return e instanceof Deno.errors.NotFound ? { ...none, missing: true } : none;
    }
    const out: JournalRecord[] = [];
    for (const r of records) {
      const key = String(r.id);
      const sig = `${r.status}|${r.dur}|${r.result_name}`;
      if (this.#seen.get(key) === sig) continue;
      this.#seen.set(key, sig);
      out.push(r);
    }
    return { ...none, records: out };
  }
}
