/**
 * journal.jsonl read in bounded pieces, so one view of a 300 MB journal costs
 * a page of memory, not the file: pages of records from a byte offset, the
 * newest records, one op by id, and a summary (for journals up to
 * SUMMARY_BYTES). Every read goes through ReportsFiles and yields to the event
 * loop between chunks of CHUNK_BYTES.
 */

import type { ReportsFiles } from "./files.ts";
import {
  type JournalRecord,
  type JournalSummary,
  type LineCounts,
  MAX_LINE_BYTES,
  mergeById,
  opState,
  parseLine,
} from "./journal.ts";

const NEWLINE = 0x0a;
const CHUNK_BYTES = 1 << 20;
/** The most bytes one page reads. */
export const PAGE_BYTES = 8 << 20;
/** The newest records are looked for in the journal's last TAIL_BYTES. */
export const TAIL_BYTES = 2 << 20;
/** Journals up to this size are summarized on the run page; larger ones are paged. */
export const SUMMARY_BYTES = 32 << 20;

const decoder = new TextDecoder();

interface Line {
  /** The line's text (without the newline); null for a line over MAX_LINE_BYTES. */
  text: string | null;
  /** Offset just after the line (after its newline, or the end of the file for a last line without one). */
  end: number;
  /** The last line, with no newline yet (possibly half-written). */
  partial: boolean;
}

/**
 * The lines from `from`, reading at most `maxBytes`, a chunk's worth at a
 * time: each chunk is decoded once and split on its newline bytes (a newline
 * byte is never part of another UTF-8 character).
 */
async function* lines(file: Deno.FsFile, from: number, maxBytes: number): AsyncGenerator<Line[]> {
  await file.seek(from, Deno.SeekMode.Start);
  let carry = new Uint8Array(0);
  let carryAt = from; // file offset of carry[0]
  let skipping = false; // inside a line longer than MAX_LINE_BYTES
  let read = 0;
  const buf = new Uint8Array(CHUNK_BYTES);
  while (read < maxBytes) {
    const n = await file.read(buf.subarray(0, Math.min(CHUNK_BYTES, maxBytes - read)));
    if (n === null || n === 0) break;
    read += n;
    const data = new Uint8Array(carry.length + n);
    data.set(carry);
    data.set(buf.subarray(0, n), carry.length);
    const cut = data.lastIndexOf(NEWLINE) + 1;
    const batch: Line[] = [];
    if (cut > 0) {
      const texts = decoder.decode(data.subarray(0, cut - 1)).split("\n");
      let at = 0;
      for (const text of texts) {
        const nl = data.indexOf(NEWLINE, at);
        batch.push({ text: skipping ? null : text, end: carryAt + nl + 1, partial: false });
        skipping = false;
        at = nl + 1;
      }
    }
    carryAt += cut;
    carry = data.slice(cut);
    if (carry.length > MAX_LINE_BYTES) {
      skipping = true;
      carryAt += carry.length;
      carry = new Uint8Array(0);
    }
    if (batch.length) yield batch;
  }
  if (read < maxBytes && (carry.length > 0 || skipping)) {
    yield [{ text: skipping ? null : decoder.decode(carry), end: carryAt + carry.length, partial: true }];
  }
}

function parseText(text: string | null): JournalRecord | null {
  if (text === null) return null;
  const t = text.trim();
  return t === "" ? null : parseLine(t);
}

function isBlank(text: string | null): boolean {
  return text !== null && text.trim() === "";
}

/** Whether `offset` starts a line (0, or just after a newline). */
async function startsLine(file: Deno.FsFile, offset: number): Promise<boolean> {
  if (offset === 0) return true;
  await file.seek(offset - 1, Deno.SeekMode.Start);
  const b = new Uint8Array(1);
  return (await file.read(b)) === 1 && b[0] === NEWLINE;
}

export interface JournalPage {
  /** Where the page starts: `from`, or 0 when `from` was not the start of a line. */
  from: number;
  records: JournalRecord[];
  /** Offset after the last complete line read: the next page's `from`. */
  next: number;
  size: number;
  /** More lines follow `next` (or a half-written last line waits there). */
  more: boolean;
  counts: LineCounts;
}

/** Up to `limit` records from byte `from`, reading at most PAGE_BYTES; null when there is no journal. */
export async function readPage(
  files: ReportsFiles,
  path: string,
  from: number,
  limit: number,
): Promise<JournalPage | null> {
  const opened = await files.open(path);
  if (opened === null) return null;
  const { file, info } = opened;
  try {
    const start = from <= info.size && await startsLine(file, from) ? from : 0;
    const counts: LineCounts = { records: 0, malformed: 0, partial: 0 };
    const records: JournalRecord[] = [];
    let next = start;
    page: for await (const batch of lines(file, start, PAGE_BYTES)) {
      for (const line of batch) {
        if (records.length >= limit) break page;
        const rec = parseText(line.text);
        if (line.partial) {
          if (rec) records.push(rec), counts.records++, next = line.end;
          else if (!isBlank(line.text)) counts.partial++;
          break page;
        }
        next = line.end;
        if (rec) records.push(rec), counts.records++;
        else if (!isBlank(line.text)) counts.malformed++;
      }
    }
    return { from: start, records, next, size: info.size, more: next < info.size, counts };
  } finally {
    file.close();
  }
}

/** The newest `limit` ops (merged by id) from the journal's last TAIL_BYTES, and where a follower resumes. */
export async function readTail(
  files: ReportsFiles,
  path: string,
  limit: number,
): Promise<{ records: JournalRecord[]; end: number; size: number } | null> {
  const opened = await files.open(path);
  if (opened === null) return null;
  const { file, info } = opened;
  try {
    const from = Math.max(0, info.size - TAIL_BYTES);
    const records: JournalRecord[] = [];
    let end = from;
    let first = from > 0; // the first line read is cut unless the read starts the file
    if (first && await startsLine(file, from)) first = false;
    for await (const batch of lines(file, from, TAIL_BYTES)) {
      for (const line of batch) {
        if (first) {
          first = false;
          end = line.end;
          continue;
        }
        if (line.partial) break;
        end = line.end;
        const rec = parseText(line.text);
        if (rec) records.push(rec);
      }
    }
    const merged = mergeById(records);
    return { records: merged.slice(Math.max(0, merged.length - limit)), end, size: info.size };
  } finally {
    file.close();
  }
}

/**
 * Every line of op `id`, merged (intent, then result); null when the journal
 * has none. Chunks are searched as text for the id before any line is parsed.
 */
export async function findOp(files: ReportsFiles, path: string, id: number): Promise<JournalRecord | null> {
  const opened = await files.open(path);
  if (opened === null) return null;
  const { file, info } = opened;
  const needles = [`"id":${id},`, `"id":${id}}`, `"id": ${id},`, `"id": ${id}}`];
  const found: JournalRecord[] = [];
  try {
    const buf = new Uint8Array(CHUNK_BYTES);
    let carry = new Uint8Array(0);
    for (let read = 0; read < info.size;) {
      const n = await file.read(buf);
      if (n === null || n === 0) break;
      read += n;
      const data = new Uint8Array(carry.length + n);
      data.set(carry);
      data.set(buf.subarray(0, n), carry.length);
      const cut = read >= info.size ? data.length : data.lastIndexOf(NEWLINE) + 1;
      searchText(decoder.decode(data.subarray(0, cut)), needles, id, found);
      carry = data.slice(cut);
      if (carry.length > MAX_LINE_BYTES) carry = new Uint8Array(0);
    }
    return found.length ? mergeById(found)[0] : null;
  } finally {
    file.close();
  }
}

function searchText(text: string, needles: string[], id: number, found: JournalRecord[]): void {
  const starts = new Set<number>();
  for (const needle of needles) {
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      starts.add(text.lastIndexOf("\n", at) + 1);
    }
  }
  for (const start of [...starts].sort((a, b) => a - b)) {
    const stop = text.indexOf("\n", start);
    const rec = parseLine(text.slice(start, stop < 0 ? text.length : stop).trim());
    if (rec && rec.id === id) found.push(rec);
  }
}

/** Counts over the merged ops of a journal, keeping only each op's kind and final state, not the records. */
class Summarizer {
  #ops = new Map<string, { kind: string; state: ReturnType<typeof opState> }>();

  add(r: JournalRecord) {
    const key = String(r.id);
    const prev = this.#ops.get(key);
    const kind = typeof r.kind === "string" ? r.kind : prev?.kind ?? "?";
    this.#ops.set(key, { kind, state: opState(r) });
  }

  /** The first op, in the order ops first appeared, whose final state is an error. */
  firstErrorKey(): string | null {
    for (const [key, op] of this.#ops) if (op.state === "error") return key;
    return null;
  }

  summary(counts: LineCounts, bytes: number, firstError: JournalRecord | null): JournalSummary {
    const byKind: Record<string, number> = {};
    let pending = 0, blocked = 0, errors = 0;
    for (const { kind, state } of this.#ops.values()) {
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      if (state === "pending") pending++;
      if (state === "blocked") blocked++;
      if (state === "error") errors++;
    }
    return { ops: this.#ops.size, byKind, pending, blocked, errors, firstError, counts, bytes };
  }
}

/** Every line of the op keyed `key` (String(id)), merged, from a second pass over the file. */
async function mergedOp(file: Deno.FsFile, key: string): Promise<JournalRecord | null> {
  const found: JournalRecord[] = [];
  for await (const batch of lines(file, 0, SUMMARY_BYTES)) {
    for (const line of batch) {
      const rec = parseText(line.text);
      if (rec && String(rec.id) === key) found.push(rec);
    }
  }
  return found.length ? mergeById(found)[0] : null;
}

/**
 * The journal's summary, reading it once through; null when there is none,
 * "too large" past SUMMARY_BYTES (the run page then offers its pages).
 */
export async function summarizeFile(
  files: ReportsFiles,
  path: string,
): Promise<JournalSummary | "too large" | null> {
  const opened = await files.open(path);
  if (opened === null) return null;
  const { file, info } = opened;
  try {
    if (info.size > SUMMARY_BYTES) return "too large";
    const s = new Summarizer();
    const counts: LineCounts = { records: 0, malformed: 0, partial: 0 };
    let end = 0;
    for await (const batch of lines(file, 0, SUMMARY_BYTES)) {
      for (const line of batch) {
        const rec = parseText(line.text);
        if (rec) {
          s.add(rec);
          counts.records++;
        } else if (!isBlank(line.text)) {
          if (line.partial) counts.partial++;
          else counts.malformed++;
        }
        if (!line.partial) end = line.end;
      }
    }
    const key = s.firstErrorKey();
    return s.summary(counts, end, key === null ? null : await mergedOp(file, key));
  } finally {
    file.close();
  }
}
