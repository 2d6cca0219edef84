/**
 * Reading journal.jsonl: whole-file parsing for finished runs and incremental
 * tailing for live ones. A live trial writes the intent of a call before the
 * call and the result after it, so the last line may be half-written and a
 * record id may appear twice (first pending, then with a status). Lines that
 * are not JSON objects with an id are skipped and counted, never fatal.
 */

import type { ReportsFiles } from "./files.ts";
import { MAX_JSON_DEPTH, nestsDeeper } from "./json.ts";

/** One journal record as the runtime writes it; unknown fields are kept. */
export interface JournalRecord {
  id: number | string;
  time?: unknown;
  kind?: unknown;
  stream?: unknown;
  name?: unknown;
  scalars?: unknown;
  pointers?: unknown;
  step?: unknown;
  layer?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface LineCounts {
  /** Lines that parsed as records. */
  records: number;
  /** Complete lines that were not a JSON object with an id. */
  malformed: number;
  /** A trailing line with no newline that did not parse (half-written). */
  partial: number;
}

const NEWLINE = 0x0a;
/** A line longer than this is not a record (the runtime's are a few hundred bytes): skipped and counted. */
export const MAX_LINE_BYTES = 1 << 20;
const decoder = new TextDecoder();

/** Parses one line; returns null when it is not a record. Blank lines are ignored by the caller. */
export function parseLine(line: string): JournalRecord | null {
  if (nestsDeeper(line, MAX_JSON_DEPTH)) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const id = (value as Record<string, unknown>).id;
  if (typeof id !== "number" && typeof id !== "string") return null;
  return value as JournalRecord;
}

/**
 * Incremental line parser over bytes. Bytes are split on newlines before
 * decoding, so a multi-byte character cut between two reads is kept whole.
 */
export class LineParser {
  #carry: Uint8Array = new Uint8Array(0);
  /** Inside a line longer than MAX_LINE_BYTES: its bytes are dropped up to its newline. */
  #skipping = false;
  counts: LineCounts = { records: 0, malformed: 0, partial: 0 };

  /** Bytes held back because their line has no newline yet. */
  get pendingBytes(): number {
    return this.#carry.length;
  }

  /** Feeds bytes; returns the records of the lines they complete. */
  push(bytes: Uint8Array): JournalRecord[] {
    const out: JournalRecord[] = [];
    let data = bytes;
    if (this.#carry.length > 0) {
      data = new Uint8Array(this.#carry.length + bytes.length);
      data.set(this.#carry);
      data.set(bytes, this.#carry.length);
    }
    let start = 0;
    for (let i = data.indexOf(NEWLINE); i >= 0; i = data.indexOf(NEWLINE, start)) {
      if (this.#skipping) this.counts.malformed++;
      else this.#line(data.subarray(start, i), out);
      this.#skipping = false;
      start = i + 1;
    }
    this.#carry = data.slice(start);
    if (this.#carry.length > MAX_LINE_BYTES) {
      this.#skipping = true;
      this.#carry = new Uint8Array(0);
    }
    return out;
  }

  /**
   * Ends the input: a trailing line without newline is accepted when it parses
   * and counted as partial otherwise.
   */
  finish(): JournalRecord[] {
    const out: JournalRecord[] = [];
    const rest = decoder.decode(this.#carry).trim();
    this.#carry = new Uint8Array(0);
    if (this.#skipping) {
      this.#skipping = false;
      this.counts.partial++;
      return out;
    }
    if (rest === "") return out;
    const rec = parseLine(rest);
    if (rec) {
      this.counts.records++;
      out.push(rec);
    } else {
      this.counts.partial++;
    }
    return out;
  }

  #line(bytes: Uint8Array, out: JournalRecord[]) {
    const text = decoder.decode(bytes).trim();
    if (text === "") return;
    const rec = parseLine(text);
    if (rec) {
      this.counts.records++;
      out.push(rec);
    } else {
      this.counts.malformed++;
    }
  }
}

/** Parses a whole journal text or byte array. */
export function parseJournal(data: string | Uint8Array): { records: JournalRecord[]; counts: LineCounts } {
  const p = new LineParser();
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const records = p.push(bytes);
  records.push(...p.finish());
  return { records, counts: p.counts };
}

/**
 * Merges records by id, keeping the position of the first appearance and the
 * fields of the latest one (the result supersedes the intent).
 */
export function mergeById(records: JournalRecord[]): JournalRecord[] {
  const byId = new Map<string, JournalRecord>();
  for (const r of records) {
    const key = String(r.id);
    const prev = byId.get(key);
    byId.set(key, prev ? { ...prev, ...r } : r);
  }
  return [...byId.values()];
}

export type OpState = "pending" | "ok" | "blocked" | "error";

/**
 * Reads a record's status: absent, null or "pending" is pending; 0 or "ok" is
 * ok; -1 or "blocked" is a call a guard rail blocked; anything else an error.
 */
export function opState(r: JournalRecord): OpState {
  const s = r.status;
  if (s === undefined || s === null) return "pending";
  if (typeof s === "string") {
    const l = s.toLowerCase();
    if (l === "pending" || l === "") return "pending";
    if (l === "ok" || l === "success" || l === "0") return "ok";
    if (l === "blocked") return "blocked";
    return "error";
  }
  if (typeof s === "number") return s === 0 ? "ok" : s === -1 ? "blocked" : "error";
  if (typeof s === "object" && s !== null) {
    const code = (s as Record<string, unknown>).code;
    if (code === 0) return "ok";
  }
  return "error";
}

export interface JournalSummary {
  ops: number;
  byKind: Record<string, number>;
  pending: number;
  blocked: number;
  errors: number;
  /** The first op (in the order ops first appear) whose final state is an error, all its lines merged. */
  firstError: JournalRecord | null;
  counts: LineCounts;
  bytes: number;
}

/** The summary of records parsed whole (journal_file.ts summarizes a file without holding its records). */
export function summarize(records: JournalRecord[], counts: LineCounts, bytes: number): JournalSummary {
  const merged = mergeById(records);
  const byKind: Record<string, number> = {};
  let pending = 0;
  let blocked = 0;
  let errors = 0;
  let firstError: JournalRecord | null = null;
  for (const r of merged) {
    const k = typeof r.kind === "string" ? r.kind : "?";
    byKind[k] = (byKind[k] ?? 0) + 1;
    const st = opState(r);
    if (st === "pending") pending++;
    if (st === "blocked") blocked++;
    if (st === "error") {
      errors++;
      firstError ??= r;
    }
  }
  return {
    ops: merged.length,
    byKind,
    pending,
    blocked,
    errors,
    firstError,
    counts,
    bytes,
  };
}

export interface TailResult {
  /** The file was truncated or replaced: everything shown so far is stale. */
  reset: boolean;
  /** The file is absent right now. */
  missing: boolean;
  records: JournalRecord[];
}

const CHECK_BYTES = 64;
/** The most bytes one poll reads. */
const POLL_BYTES = 4 << 20;

/**
 * Follows a journal file by polling: each poll reads the bytes appended since
 * the last one. Writers may also rewrite the whole file (a decoder that writes
 * journal.jsonl afresh at each sync, with earlier records now completed): a
 * shrinking file, a new inode, or changed bytes at the start or just before
 * the read position mean the file was rewritten, and reading starts over.
 */
export class JournalTail {
  readonly path: string;
  #offset: number;
  #ino: number | null = null;
  #size = -1;
  #mtime = -1;
  #head: Uint8Array | null = null;
  /** The bytes just before #offset, as last read. */
  #before: Uint8Array | null = null;
  #parser = new LineParser();
  #started = false;

  readonly #files: ReportsFiles | null;

  /** With `files`, the journal is opened through it (inside the reports folder, a regular file). */
  constructor(path: string, from = 0, files: ReportsFiles | null = null) {
    this.path = path;
    this.#offset = Math.max(0, Math.floor(from));
    this.#files = files;
  }

  async #open(): Promise<Deno.FsFile | null> {
    if (this.#files) return (await this.#files.open(this.path).catch(() => null))?.file ?? null;
    return await Deno.open(this.path, { read: true }).catch(() => null);
  }

  /** Byte offset of the end of the last complete line read: where a reconnecting client resumes. */
  get position(): number {
    return this.#offset - this.#parser.pendingBytes;
  }

  get counts(): LineCounts {
    return { ...this.#parser.counts, partial: this.#parser.pendingBytes > 0 ? 1 : 0 };
  }

  async poll(): Promise<TailResult> {
    const file = await this.#open();
    if (file === null) {
      const reset = this.#offset > 0 || this.#ino !== null;
      if (reset) this.#restart();
      this.#size = -1;
      return { reset, missing: true, records: [] };
    }
    try {
      const info = await file.stat();
      const mtime = info.mtime?.getTime() ?? 0;
      const same = info.size === this.#size && mtime === this.#mtime && info.ino === this.#ino;
      if (same && this.#started && this.#offset >= info.size) {
        return { reset: false, missing: false, records: [] };
      }
      let reset = false;
      if (
        (this.#ino !== null && info.ino !== null && info.ino !== this.#ino) || info.size < this.#offset
      ) {
        reset = true;
      } else if (this.#head && !sameBytes(await readAt(file, 0, this.#head.length), this.#head)) {
        reset = true;
      } else if (
        this.#before &&
        !sameBytes(await readAt(file, this.#offset - this.#before.length, this.#before.length), this.#before)
      ) {
        reset = true;
      }
      if (reset) this.#restart();
      this.#ino = info.ino;
      this.#size = info.size;
      this.#mtime = mtime;
      if (!this.#started) {
        this.#started = true;
        await this.#alignStart(file);
      }
      if (info.size <= this.#offset) return { reset, missing: false, records: [] };
      // A long journal is read POLL_BYTES at a time: the next poll goes on where this one stopped.
      const bytes = await readAt(file, this.#offset, Math.min(POLL_BYTES, info.size - this.#offset));
      this.#offset += bytes.length;
      if (this.#head === null || this.#head.length < CHECK_BYTES) {
        this.#head = await readAt(file, 0, Math.min(CHECK_BYTES, this.#offset));
      }
      const n = Math.min(CHECK_BYTES, this.#offset);
      this.#before = bytes.length >= n
        ? bytes.slice(bytes.length - n)
        : await readAt(file, this.#offset - n, n);
      return { reset, missing: false, records: this.#parser.push(bytes) };
    } finally {
      file.close();
    }
  }

  /** A resume offset must sit just after a newline; otherwise start from the beginning. */
  async #alignStart(file: Deno.FsFile) {
    if (this.#offset === 0) return;
    const prev = await readAt(file, this.#offset - 1, 1);
    if (prev.length !== 1 || prev[0] !== NEWLINE) this.#offset = 0;
  }

  #restart() {
    this.#offset = 0;
    this.#ino = null;
    this.#head = null;
    this.#before = null;
    this.#parser = new LineParser();
    this.#started = true;
  }
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
