/**
 * Where a session's per-call checks (the rails and the race check) run: in
 * the audit worker that follows the journal ring, or inline on the launching
 * thread. A session starts off the thread when it can and moves inline for
 * good when the worker cannot take a call (a record would cut it short, a
 * run-time declaration changed what the rails check), when the rails or the
 * race state are touched from outside, or when the worker fails.
 */
import {
  type CallObserver,
  type CallResolution,
  decodeJournal,
  type JournalRecord,
  type JournalWriter,
  MAX_POINTERS,
  MAX_SCALARS,
  type NativeCall,
  OnlineRaces,
  type OpKind,
  type Registry,
  STATUS_BLOCKED,
} from "../../mod.ts";
import {
  GuardBlocked,
  type GuardContext,
  type LaunchLimits,
  railDeclarations,
  type RailSet,
} from "../guards/index.ts";
import type { Finding } from "../../records.ts";
import { checkState, runRails } from "./checks.ts";
import type { FindingLog } from "./finding_log.ts";
import { AuditWorker, AuditWorkerError } from "./offthread.ts";

export interface CallChecksOptions {
  registry: Registry;
  rails: RailSet;
  journal: JournalWriter | null;
  log: FindingLog;
  races: boolean;
  /** Start in the audit worker (falls back to inline when it cannot start). */
  offThread: boolean;
  limits: LaunchLimits;
  contextLength?: number;
  /** Where the worker writes its findings. */
  workerFindings: string;
}

export class CallChecks {
  /** The race check inline (null while the worker holds the race state, or without races). */
  races: OnlineRaces | null;
  /** What the rails see inline. */
  ctx: GuardContext;
  #o: CallChecksOptions;
  #resolution: CallResolution;
  #worker: AuditWorker | null = null;
  /** After a move inline: the registry rebuilt from the journal, kept up to date. */
  #replayRegistry: CallObserver | null = null;
  #declarations = railDeclarations.version;
  #wide = new Map<string, boolean>();
  #ringMask = 0;
  #ringSlack = 0;
  #sinceRingCheck = 0;

  constructor(o: CallChecksOptions) {
    this.#o = o;
    const st = checkState({
      registry: o.registry,
      races: o.races && !o.offThread,
      limits: o.limits,
      contextLength: o.contextLength,
    });
    this.races = st.races;
    this.ctx = st.ctx;
    this.#resolution = st.resolution;
    if (o.offThread && o.journal !== null) this.#startWorker(o.journal);
  }

  #startWorker(journal: JournalWriter): void {
    try {
      this.#worker = new AuditWorker({
        address: journal.address,
        capacity: journal.capacity,
        sidePath: journal.sidePath,
        findingsPath: this.#o.workerFindings,
        limits: this.#o.limits,
        contextLength: this.#o.contextLength,
        races: this.#o.races,
      });
      this.#ringMask = journal.capacity >= 4096 ? 255 : 0;
      this.#ringSlack = journal.capacity >> 1;
    } catch {
      this.#worker = null;
      if (this.#o.races) this.races = new OnlineRaces(this.#o.registry, { resolution: this.#resolution });
      this.ctx.races = this.races ?? undefined;
    }
  }

  /** Whether the checks run in the worker now. */
  get offThread(): boolean {
    return this.#worker !== null;
  }

  /** Whether the worker checks `call` (from its journal record); moves inline first when it cannot. */
  takes(call: NativeCall): boolean {
    if (this.#worker === null) return false;
    if (railDeclarations.version === this.#declarations && !this.#tooWide(call)) return true;
    this.goInline();
    return false;
  }

  /** Runs the rails on `call` inline; throws GuardBlocked when an enforcing rail finds something. */
  checkInline(call: NativeCall): void {
    const blocked = runRails(this.#o.rails.rails, call, this.ctx, (fs) => this.#o.log.add(fs, call.id));
    if (blocked !== null) throw new GuardBlocked(call, blocked);
  }

  /** After `call` returned: keeps the worker within half a ring of the writer, or the inline state current. */
  after(call: NativeCall, status: number, result?: number): void {
    const w = this.#worker;
    if (w !== null) {
      if (
        (++this.#sinceRingCheck & this.#ringMask) === 0 &&
        this.#o.journal!.written - w.consumedSeq > this.#ringSlack
      ) {
        this.drain();
      }
      return;
    }
    if (this.#replayRegistry !== null) this.#replayRegistry.after!(call, status, result);
    this.races?.commit(call, status);
  }

  /** Waits for the worker to catch up with the journal and takes its findings. */
  drain(): void {
    if (this.#worker === null) return;
    try {
      this.#worker.drain(this.#o.journal!.events, this.#take);
    } catch (e) {
      if (!(e instanceof AuditWorkerError)) throw e;
      this.goInline(); // the worker failed: what it did not check is checked inline
    }
  }

  // the worker's findings of call N go before what the session itself found at N (a redzone check)
  #take = (at: number, f: Finding) => this.#o.log.add([f], at - 0.5);

  /**
   * From here on the checks run inline: the worker is drained and stopped, and the registry and race
   * state the rails need are rebuilt from the journal ring; records whose rails the worker did not run
   * (all of them if it failed to start) get them now. The session's own registry is kept all along
   * (redzones use it). `closing`: nothing runs after, so only a failed worker's records are replayed.
   */
  goInline(closing = false): void {
    const w = this.#worker;
    if (w === null) return;
    this.#worker = null;
    const journal = this.#o.journal!;
    let failed = false;
    try {
      w.stop(journal.events, this.#take);
    } catch (e) {
      if (!(e instanceof AuditWorkerError)) throw e;
      failed = true;
    }
    const checked = failed ? w.consumedSeq : journal.written;
    if (closing && checked >= journal.written) return;
    this.#replay(journal, checked);
  }

  #replay(journal: JournalWriter, checked: number): void {
    const o = this.#o;
    const st = checkState({ races: o.races, limits: o.limits, contextLength: o.contextLength });
    const regObs = st.registry.observer();
    for (const r of decodeJournal(journal.path).records) {
      if (r.kind === "unknown") continue;
      const call = callOfRecord(r);
      if (r.seq > checked) runRails(o.rails.rails, call, st.ctx, (fs) => o.log.add(fs, r.id));
      if (r.status === null || r.status === STATUS_BLOCKED) continue;
      regObs.after!(call, r.status, r.result);
      st.races?.commit(call, r.status);
    }
    this.races = st.races;
    this.#replayRegistry = regObs;
    this.ctx = st.ctx;
  }

  /** A call whose record would be cut short (more pointers or scalars than a record holds). */
  #tooWide(call: NativeCall): boolean {
    let w = this.#wide.get(call.name);
    if (w === undefined) {
      let ns = 0;
      for (const _ in call.scalars) ns++;
      w = ns > MAX_SCALARS || call.pointers.length > MAX_POINTERS;
      this.#wide.set(call.name, w);
    }
    return w || call.pointers.length > MAX_POINTERS;
  }
}

/** The NativeCall a decoded journal record describes (for replaying it into the checks). */
export function callOfRecord(r: JournalRecord): NativeCall {
  const context: NativeCall["context"] = {};
  if (r.step !== null) context.step = r.step;
  if (r.layer !== null) context.layer = r.layer;
  if (r.op !== null) context.op = r.op;
  const call: NativeCall = {
    id: r.id,
    kind: r.kind as OpKind,
    name: r.name,
    device: r.device,
    stream: r.stream,
    scalars: r.scalars,
    pointers: r.pointers.map((p) => ({
      arg: p.arg,
      ptr: p.ptr,
      bytes: p.bytes,
      access: p.access,
      elem: p.elem,
    })),
    context,
  };
  if (r.host !== undefined) call.host = r.host;
  if (r.event !== undefined) call.event = r.event;
  return call;
}
