/**
 * The launching thread's end of the audit worker (scripts/audit_worker.ts):
 * starts it on a session's journal ring, wakes it, waits for it to catch up
 * with the ring (drain) and reads the findings it wrote.
 *
 * The worker is a node:worker_threads Worker, unreferenced: a session that is
 * never closed does not keep the process alive (a Deno Worker would).
 */
import { Worker } from "node:worker_threads";
import type { LaunchLimits } from "../guards/index.ts";
import {
  type AuditWorkerInit,
  C_ERROR,
  C_EVENTS,
  C_SEQ,
  C_STARTED,
  C_STOP,
  C_STOPPED,
  C_WAKE,
  C_WORDS,
} from "./worker.ts";
import type { Finding } from "../../records.ts";

/** How long a drain waits for a worker that makes no progress before it gives up. */
const STALL_MS = 120_000;
/** How long a drain waits for a worker that has not started. */
const START_MS = 30_000;

export class AuditWorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuditWorkerError";
  }
}

export class AuditWorker {
  readonly findingsPath: string;
  #ctl: Int32Array;
  #worker: Worker;
  #file: Deno.FsFile;
  #rest = "";
  #buf = new Uint8Array(1 << 16);
  #dec = new TextDecoder();
  #stopped = false;
  #error: string | null = null;

  constructor(opts: {
    address: bigint;
    capacity: number;
    sidePath: string;
    findingsPath: string;
    limits: LaunchLimits;
    contextLength?: number;
    races: boolean;
  }) {
    this.findingsPath = opts.findingsPath;
    Deno.writeTextFileSync(opts.findingsPath, "");
    this.#file = Deno.openSync(opts.findingsPath, { read: true });
    const control = new SharedArrayBuffer(C_WORDS * 4);
    this.#ctl = new Int32Array(control);
    const init: AuditWorkerInit = { ...opts, control };
    this.#worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: init });
    this.#worker.unref();
  }

  /** Records whose intent the worker has read. */
  get consumedSeq(): number {
    return Atomics.load(this.#ctl, C_SEQ);
  }

  /**
   * Waits until the worker has read the first `events` journal events and
   * hands over the findings it wrote since the last drain (op id, finding).
   */
  drain(events: number, take: (at: number, f: Finding) => void): void {
    const ctl = this.#ctl;
    if (!this.#stopped) {
      Atomics.add(ctl, C_WAKE, 1);
      Atomics.notify(ctl, C_WAKE);
      let seen = Atomics.load(ctl, C_EVENTS);
      const t0 = performance.now();
      let since = t0;
      while (seen < events && Atomics.load(ctl, C_STOPPED) === 0) {
        Atomics.wait(ctl, C_EVENTS, seen, 10);
        const now = Atomics.load(ctl, C_EVENTS);
        if (now !== seen) {
          seen = now;
          since = performance.now();
        } else if (Atomics.load(ctl, C_STARTED) !== 1 && performance.now() - t0 > START_MS) {
          throw new AuditWorkerError("audit worker: not started");
        } else if (performance.now() - since > STALL_MS) {
          throw new AuditWorkerError(`audit worker: no progress at event ${seen} of ${events}`);
        }
      }
    }
    this.#read(take);
    if (this.#error !== null) throw new AuditWorkerError(`audit worker failed: ${this.#error}`);
    if (Atomics.load(ctl, C_ERROR) !== 0) throw new AuditWorkerError("audit worker failed");
  }

  #read(take: (at: number, f: Finding) => void): void {
    for (;;) {
      const n = this.#file.readSync(this.#buf);
      if (n === null || n === 0) break;
      this.#rest += this.#dec.decode(this.#buf.subarray(0, n), { stream: true });
    }
    if (this.#rest === "") return;
    const lines = this.#rest.split("\n");
    this.#rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") continue;
      const e = JSON.parse(line) as { at?: number; f?: Finding; error?: string };
      if (e.error !== undefined) this.#error = e.error;
      else if (e.f !== undefined) take(e.at ?? 0, e.f);
    }
  }

  /** Drains up to `events`, stops the worker and waits until it has left the ring. */
  stop(events: number, take: (at: number, f: Finding) => void): void {
    if (this.#stopped) return;
    try {
      this.drain(events, take);
    } finally {
      const ctl = this.#ctl;
      Atomics.store(ctl, C_STOP, 1);
      Atomics.add(ctl, C_WAKE, 1);
      Atomics.notify(ctl, C_WAKE);
      const t0 = performance.now();
      // a worker not started yet is told never to start (it would find the ring gone)
      const limit = Atomics.compareExchange(ctl, C_STARTED, 0, 2) === 0 ? 0 : STALL_MS;
      while (Atomics.load(ctl, C_STOPPED) === 0 && performance.now() - t0 < limit) {
        Atomics.wait(ctl, C_EVENTS, Atomics.load(ctl, C_EVENTS), 10);
      }
      this.#stopped = true;
      this.#read(take);
      try {
        this.#file.close();
      } catch { /* closed */ }
      try {
        Deno.removeSync(this.findingsPath);
      } catch { /* gone */ }
      void this.#worker.terminate().catch(() => {});
    }
  }
}
