/**
 * The live view's event stream: follows a run's journal.jsonl and sends one
 * server-sent event per op as it is appended. Each stream owns one poll loop;
 * it ends when the client goes away, when the run gets its verdict, or when
 * the server closes all streams.
 */

import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { SSEStreamingApi } from "hono/streaming";
import { JournalTail, mergeById } from "./journal.ts";
import type { ReportsFiles } from "./files.ts";

/** The most ops one poll sends; the live page keeps as many rows. */
export const RESEND_LIMIT = 2000;
import { opRow } from "./format.ts";
import { currentSource, deviceSource, RingFollower } from "./trials.ts";
import type { JournalSource } from "./trials.ts";

/** Tracks the open event streams so a server (or a test) can close them and wait for their loops to end. */
export class LiveStreams {
  #open = new Map<AbortController, Promise<void>>();

  get size(): number {
    return this.#open.size;
  }

  track(ac: AbortController, done: Promise<void>) {
    this.#open.set(ac, done);
    done.finally(() => this.#open.delete(ac));
  }

  /** Resolves when every open stream's loop has ended. */
  async idle(): Promise<void> {
    while (this.#open.size) await Promise.allSettled([...this.#open.values()]);
  }

  /** Ends every open stream and waits for their loops. */
  async closeAll(): Promise<void> {
    for (const ac of this.#open.keys()) ac.abort();
    await this.idle();
  }
}

export interface LiveOptions {
  dir: string;
  files: ReportsFiles;
  from: number;
  pollMs: number;
  /** How often a trial's binary ring is decoded (a whole-file read). */
  ringPollMs: number;
  heartbeatMs: number;
  streams: LiveStreams;
  /** The run's final status once verdict.json exists, else null. */
  finished: () => Promise<string | null>;
  /** Follow only the trials placed on this device ("2", "0+1"); default: the run's newest trial. */
  device?: string;
}

/** Sleeps `ms` or until `signal` aborts, leaving no timer behind either way. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

export function liveEvents(c: Context, opts: LiveOptions): Response {
  // The loop ends when the response body is cancelled (the client went away) or the server closes all streams.
  const ac = new AbortController();
  let release!: () => void;
  opts.streams.track(ac, new Promise<void>((r) => release = r));
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => ac.abort());
    // Aborting also cancels the stream, so a loop blocked writing to a client that stopped reading is released.
    ac.signal.addEventListener("abort", () => stream.abort(), { once: true });
    if (ac.signal.aborted) stream.abort();
    try {
      await follow(stream, opts, ac.signal);
    } finally {
      release();
    }
  }, async (err, stream) => {
    release();
    await stream.writeSSE({ event: "end", data: JSON.stringify({ status: "ERROR", error: err.message }) });
  });
}

interface Follower {
  source: JournalSource;
  reader: JournalTail | RingFollower;
}

/**
 * A trial older than the one followed: the newest trial's folder was removed
 * (the runner deletes passing matrix trials) before the next one appeared.
 * The view stays where it is rather than going back.
 */
function olderTrial(next: JournalSource, cur: JournalSource | undefined): boolean {
  return cur?.trial != null && next.trial !== null && next.trial < cur.trial;
}

async function follow(stream: SSEStreamingApi, opts: LiveOptions, signal: AbortSignal) {
  let current = null as Follower | null;
  let first = true;
  let lastSkipped = -1;
  let lastBeat = Date.now();
  await stream.writeSSE({ event: "hello", data: JSON.stringify({ from: opts.from }), retry: 2000 });
  while (!signal.aborted && !stream.closed) {
    // Read the verdict's presence before the journal, so ops written before it are sent before "end".
    const status = await opts.finished();
    const source = opts.device === undefined
      ? currentSource(opts.files, opts.dir)
      : await deviceSource(opts.files, opts.dir, opts.device);
    if (source && source.path !== current?.source.path && !olderTrial(source, current?.source)) {
      // A new trial started, or the run's own journal appeared: show that one from its start. The
      // same trial's journal.jsonl replacing its ring holds the same ops, which update their rows.
      const same = current !== null && source.trial !== null && source.trial === current.source.trial;
      if (current && !same) await stream.writeSSE({ event: "reset", data: "{}" });
      current = {
        source,
        reader: source.kind === "jsonl"
          ? new JournalTail(source.path, first ? opts.from : 0, opts.files)
          : new RingFollower(opts.files, source.path, Math.max(opts.pollMs, opts.ringPollMs)),
      };
      first = false;
      lastSkipped = -1;
      await stream.writeSSE({
        event: "source",
        data: JSON.stringify({ trial: source.trial, kind: source.kind }),
      });
    }
    if (current) {
      const r = await current.reader.poll();
      if (signal.aborted) break;
      if (r.reset) await stream.writeSSE({ event: "reset", data: "{}" });
      let records = r.records;
      if (records.length > RESEND_LIMIT) {
        // A first read or a rewrite of a long journal: the newest ops are what a viewer can use.
        records = mergeById(records);
        records = records.slice(Math.max(0, records.length - RESEND_LIMIT));
      }
      for (let k = 0; k < records.length; k++) {
        const last = k === records.length - 1 && current.source.kind === "jsonl" &&
          current.source.trial === null;
        await stream.writeSSE({
          event: "op",
          data: JSON.stringify(opRow(records[k])),
          ...(last ? { id: String(current.reader.position) } : {}),
        });
      }
      const counts = current.reader.counts;
      if (counts.malformed !== lastSkipped) {
        lastSkipped = counts.malformed;
        await stream.writeSSE({ event: "skipped", data: JSON.stringify(counts) });
      }
    }
    if (status !== null) {
      await stream.writeSSE({ event: "end", data: JSON.stringify({ status }) });
      return;
    }
    if (!(await exists(opts.dir))) {
      await stream.writeSSE({ event: "end", data: JSON.stringify({ status: "GONE" }) });
      return;
    }
    if (Date.now() - lastBeat >= opts.heartbeatMs) {
      lastBeat = Date.now();
      await stream.write(": keep-alive\n\n");
    }
    await sleep(opts.pollMs, signal);
  }
}
