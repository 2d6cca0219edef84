/**
 * The audit worker: runs an audit session's per-call checks (the rails in
 * warn mode and the race check) off the launching thread. It follows the
 * session's journal ring (ffi/journal_follow.ts) as records are committed,
 * keeps its own allocation registry from the alloc and free records, runs the
 * rails on each intent and commits each outcome to the race check, in the
 * order the launching thread made them, so its findings are the ones the
 * inline checks would have made.
 *
 * Findings go to a file (one JSON line each: {at: op id, f: finding}); the
 * control words (a SharedArrayBuffer) say how far it has read, so the session
 * can wait for it to catch up (scripts/audit.ts, drain) and read them.
 */
import { workerData } from "node:worker_threads";
import { JournalFollower, type NativeCall } from "../../mod.ts";
import { checkState, runRails, warnRails } from "./checks.ts";
import type { LaunchLimits } from "../guards/index.ts";
import type { Finding } from "../../records.ts";

/** Control words (Int32 indexes of the shared buffer). */
export const C_EVENTS = 0, // events consumed (the worker writes it)
  C_WAKE = 1, // bumped by the session to wake the worker
  C_STOP = 2, // set by the session: stop after this poll
  C_ERROR = 3, // 1: the worker failed (its message is the findings file's last line)
  C_SEQ = 4, // records whose intent was consumed
  C_STOPPED = 5, // 1: the worker left its loop
  C_STARTED = 6, // 1: the worker is running; 2: the session gave up on it before it started
  C_WORDS = 8;

export interface AuditWorkerInit {
  address: bigint;
  capacity: number;
  sidePath: string;
  findingsPath: string;
  control: SharedArrayBuffer;
  limits: LaunchLimits;
  contextLength?: number;
  races: boolean;
}

function run(init: AuditWorkerInit): void {
  const ctl = new Int32Array(init.control);
  // a session that gave up waiting has closed its ring by now: touch nothing
  if (Atomics.compareExchange(ctl, C_STARTED, 0, 1) !== 0) return;
  const out = Deno.openSync(init.findingsPath, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  const write = (s: string) => {
    const b = enc.encode(s);
    let off = 0;
    while (off < b.length) off += out.writeSync(b.subarray(off));
  };
  let follower: JournalFollower | null = null;
  // for the session's fallback test: fail at the n-th intent
  const failAt = Number(Deno.env.get("FAULTLINE_AUDIT_WORKER_FAIL_AT") ?? "0");
  let intents = 0;
  try {
    follower = new JournalFollower(init.address, init.capacity, init.sidePath);
    const st = checkState({ races: init.races, limits: init.limits, contextLength: init.contextLength });
    const regObserver = st.registry.observer();
    const rails = warnRails();
    let lines = "";
    let at = 0;
    const record = (fs: readonly Finding[]) => {
      for (const f of fs) lines += JSON.stringify({ at, f }) + "\n";
    };
    const handlers = {
      intent(call: NativeCall): void {
        if (++intents === failAt) {
          throw new Error(`failing at intent ${failAt} (FAULTLINE_AUDIT_WORKER_FAIL_AT)`);
        }
        at = call.id;
        runRails(rails, call, st.ctx, record);
      },
      done(call: NativeCall, status: number, result: number | undefined, blocked: boolean): void {
        if (blocked) return;
        regObserver.after!(call, status, result);
        if (st.races !== null) st.races.commit(call, status);
      },
    };
    for (;;) {
      const wake = Atomics.load(ctl, C_WAKE);
      const stop = Atomics.load(ctl, C_STOP) !== 0;
      const n = follower.poll(handlers);
      if (lines !== "") {
        write(lines);
        lines = "";
      }
      Atomics.store(ctl, C_SEQ, follower.consumedSeq);
      Atomics.store(ctl, C_EVENTS, follower.consumedEvents);
      Atomics.notify(ctl, C_EVENTS);
      if (stop) break;
      if (n === 0) Atomics.wait(ctl, C_WAKE, wake, 1);
    }
  } catch (e) {
    try {
      write(JSON.stringify({ error: String((e as Error)?.stack ?? e) }) + "\n");
    } catch { /* nothing more to say */ }
    Atomics.store(ctl, C_ERROR, 1);
  } finally {
    follower?.close();
    try {
      out.close();
    } catch { /* closed */ }
    Atomics.store(ctl, C_STOPPED, 1);
    Atomics.notify(ctl, C_EVENTS);
  }
}

if (workerData !== null && typeof workerData === "object" && "control" in (workerData as object)) {
  run(workerData as AuditWorkerInit);
}
