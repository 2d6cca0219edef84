/**
 * The audit session: wires the journal, the allocation registry, the guard
 * rails, the race check, redzones and a sync policy onto the native boundary
 * for one experiment run.
 *
 *   const audit = openAudit({ device, reportDir, mode: "audit", redzones: 256 });
 *   try { ...run the workload... } finally { audit.close(); }
 *   audit.findings  // every finding, in the order found
 *
 * Modes:
 * - off: nothing attached (the boundary's fast path; no journal);
 * - audit: journal, registry, every rail in warn mode, race check, redzones if
 *   asked, the sync policy given (default none): checks that add no sync.
 *   With the default rails they run off the launching thread, in the audit
 *   worker (scripts/audit_worker.ts) that follows the journal ring: the
 *   launching thread writes the journal record and nothing more. Reading
 *   `findings`, flush() and close() wait for the worker, so they see the
 *   findings the inline checks would have made (offThread: false runs them
 *   inline). Redzones are checked pipelined: the check enqueued at a sync is
 *   read at the next one (or when findings are read), one sync later;
 * - enforce: the same with the rails in enforce mode: a finding blocks the
 *   call before it reaches the library (GuardBlocked);
 * - blocking: audit plus a stream synchronize after every launch (like
 *   HIP_LAUNCH_BLOCKING=1), so a fault surfaces at the launch that caused it.
 *
 * On close the session writes, in reportDir: journal.jsonl (the decoded ring),
 * findings.jsonl, and d2h_audit.log (the seeds' [D2H_AUDIT_START]/[D2H_AUDIT_END]
 * lines) when asked. The ring itself (journal.bin, journal.bin.side) is removed
 * after a clean close unless keepRing is set; after a crash it stays, and
 * `recoverJournal(reportDir)` decodes it.
 */
import {
  type Allocation,
  boundary,
  type CallObserver,
  CallResolution,
  check,
  d2hAuditLines,
  type DecodedJournal,
  decodeJournal,
  type Device,
  journalJsonl,
  type JournalMapSymbols,
  JournalWriter,
  makeCall,
  MAX_POINTERS,
  MAX_SCALARS,
  type NativeCall,
  OnlineRaces,
  Redzones,
  Registry,
  STATUS_BLOCKED,
  through,
} from "../../mod.ts";
import {
  checkModelCompat,
  DEFAULT_LIMITS,
  defaultRails,
  GuardBlocked,
  type GuardContext,
  type ModelCompatOptions,
  pointersClean,
  type Rail,
  railDeclarations,
  RailSet,
  type RedzonePolicy,
  redzonePolicy,
} from "../guards/index.ts";
import { scalarRepeats } from "../guards/memo.ts";
import { AuditWorker, AuditWorkerError } from "./offthread.ts";
import { checkState, runRails } from "./checks.ts";
import type { LlamaConfig } from "../model/config.ts";
import { noSync, type SyncAction, syncAfterEveryLaunch, type SyncPolicy } from "../sync/index.ts";
import type { Finding, JournalRecord, Mode, OpKind } from "../../records.ts";

export interface AuditOptions {
  device: Device;
  /** Directory for journal.bin (while running), journal.jsonl and findings.jsonl. */
  reportDir: string;
  mode?: Mode;
  /**
   * Redzone bytes around every allocation made while the session is open
   * (0 or absent: none). Checked at host syncs by the redzone policy: in audit
   * mode the check enqueued at a sync is read at the next sync (or when the
   * findings are read, or at close); in enforce mode at the sync itself.
   */
  redzones?: number;
  /** The redzone policy (default: redzonePolicy(), trailing redzones at every sync). */
  redzonePolicy?: RedzonePolicy;
  /** Rails to run (default: defaultRails(), in warn mode; enforce mode sets them all to enforce). */
  guards?: RailSet | Rail[];
  /** Sync policy (default none; blocking mode: after every launch). */
  sync?: SyncPolicy;
  /** Race check (default true in audit, enforce and blocking modes). */
  races?: boolean;
  /** The model's context length, for the RoPE / KV position invariants. */
  contextLength?: number;
  /** Journal ring size in records (default 65536). */
  journalCapacity?: number;
  /** Keep journal.bin and its side file after a clean close. */
  keepRing?: boolean;
  /** Also print each finding to stderr as it is found. */
  verbose?: boolean;
  /**
   * Audit mode with the default rails: run the rails and the race check in a
   * worker that follows the journal ring (scripts/audit_worker.ts), so the
   * launching thread only writes the journal (default true; false: inline,
   * on the launching thread). Enforce and blocking modes, and a session given
   * its own rails, always check inline. The findings are the same either way:
   * reading `findings`, flush() and close() wait for the worker first.
   */
  offThread?: boolean;
}

export interface CloseOptions {
  /** Write d2h_audit.log (the seeds' audit lines). */
  d2hAudit?: boolean;
  /** Run a full redzone check first (default true when redzones are on). */
  redzoneCheck?: boolean;
}

export interface AuditSession {
  readonly mode: Mode;
  readonly reportDir: string;
  readonly registry: Registry;
  readonly rails: RailSet;
  readonly races: OnlineRaces | null;
  readonly redzones: Redzones | null;
  readonly journal: JournalWriter | null;
  /** Whether the per-call checks run in the audit worker now (AuditOptions.offThread). */
  readonly offThread: boolean;
  /** Every finding so far (warn and enforce), in the order found. */
  readonly findings: Finding[];
  sync: SyncPolicy;
  /** Checks every redzone now (full: both sides of every allocation). */
  checkRedzones(full?: boolean): Finding[];
  /** The model-compatibility rail: blocked (throws ModelIncompatible) unless opts.override is given. */
  checkModel(model: LlamaConfig, engine: Partial<LlamaConfig>, opts?: ModelCompatOptions): Finding[];
  /** Decodes the ring as it is now. */
  decode(): DecodedJournal | null;
  /** Writes journal.jsonl and findings.jsonl as they are now (the session stays open). */
  flush(): DecodedJournal | null;
  /** The seeds' D2H audit lines of the journal so far. */
  d2hAuditLines(): string[];
  /** Detaches, checks redzones, writes journal.jsonl and findings.jsonl. */
  close(opts?: CloseOptions): void;
  [Symbol.dispose](): void;
}

/**
 * A native monotonic clock on performance.now()'s time line, when the library
 * exports `int32_t fl_host_clock_ms(double *out)` (cheaper per call than
 * performance.now()); undefined otherwise.
 */
function nativeClock(sym: unknown): (() => number) | undefined {
  const fn = (sym as Record<string, unknown>).fl_host_clock_ms as ((out: Float64Array) => number) | undefined;
  if (typeof fn !== "function") return undefined;
  const out = new Float64Array(1);
  if (fn(out) !== 0) return undefined;
  const offset = out[0] - performance.now();
  return () => {
    fn(out);
    return out[0] - offset;
  };
}

/** The NativeCall a decoded journal record describes (for replaying it into a race check). */
function callOfRecord(r: JournalRecord): NativeCall {
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

function writeLines(path: string, items: readonly unknown[]): void {
  Deno.writeTextFileSync(path, items.map((x) => JSON.stringify(x)).join("\n") + (items.length ? "\n" : ""));
}

/** Opens an audit session on `device` (one at a time per process). */
export function openAudit(opts: AuditOptions): AuditSession {
  const mode = opts.mode ?? "audit";
  const device = opts.device;
  const dev = device.ordinal;
  const sym = device.symbols;
  Deno.mkdirSync(opts.reportDir, { recursive: true });
  const registry = new Registry();
  const findings: Finding[] = [];
  const rails = opts.guards instanceof RailSet
    ? opts.guards
    : opts.guards
    ? new RailSet(opts.guards)
    : defaultRails(mode === "enforce" ? "enforce" : "warn");
  if (mode === "enforce" && opts.guards === undefined) rails.setAll("enforce");

  const on = mode !== "off";
  const journal = on
    ? new JournalWriter({
      path: `${opts.reportDir}/journal.bin`,
      capacity: opts.journalCapacity,
      native: sym as unknown as JournalMapSymbols,
      clock: nativeClock(sym),
    })
    : null;
  const resolution = new CallResolution(registry);
  const wantRaces = on && opts.races !== false;
  const useWorker = on && mode === "audit" && opts.guards === undefined && (opts.offThread ?? true);
  // off the launching thread, the worker holds the race state (the session makes its own only if it
  // has to check inline later)
  let races = wantRaces && !useWorker ? new OnlineRaces(registry, { resolution }) : null;
  const rzBytes = on ? opts.redzones ?? 0 : 0;
  const redzones = rzBytes > 0 ? new Redzones(device, registry) : null;
  // enforce mode stops the run at the sync that finds a damaged redzone (the write itself already ran)
  const rzPolicy = opts.redzonePolicy ?? redzonePolicy({ mode: mode === "enforce" ? "enforce" : "warn" });
  const rzObserver = redzones?.observer() ?? null;
  let props = DEFAULT_LIMITS;
  try {
    const p = device.props;
    props = { maxGrid: p.maxGrid, maxBlock: p.maxBlock, maxThreadsPerBlock: p.maxThreadsPerBlock };
  } catch { /* keep the defaults */ }
  // pointer resolution shared by every rail and the race check of one call
  let ctx: GuardContext = {
    registry,
    races: races ?? undefined,
    limits: props,
    contextLength: opts.contextLength,
    pointerAlloc(call: NativeCall, k: number): Allocation | null {
      return resolution.of(call)[k];
    },
    pointerAllocs(call: NativeCall): readonly (Allocation | null)[] {
      return resolution.of(call);
    },
    repeats: scalarRepeats(),
  };
  const verbose = opts.verbose ?? false;
  let lastOp = 0;

  let worker: AuditWorker | null = null;
  if (useWorker) {
    try {
      worker = new AuditWorker({
        address: journal!.address,
        capacity: journal!.capacity,
        sidePath: journal!.sidePath,
        findingsPath: `${opts.reportDir}/findings.worker.jsonl`,
        device: dev,
        limits: props,
        contextLength: opts.contextLength,
        races: wantRaces,
      });
    } catch {
      worker = null;
      if (wantRaces) races = new OnlineRaces(registry, { resolution });
      ctx.races = races ?? undefined;
    }
  }
  const declarations = railDeclarations.version;
  // the worker's findings of call N go before what the session itself found at N (a redzone check)
  const takeWorker = (at: number, f: Finding) => recordAt([f], at - 0.5);
  const drainWorker = () => {
    if (worker === null) return;
    try {
      worker.drain(journal!.events, takeWorker);
    } catch (e) {
      if (!(e instanceof AuditWorkerError)) throw e;
      goInline(); // the worker failed: the session checks what it did not, inline
    }
  };
  // From here on the checks run inline: the worker is drained and stopped, and the registry and race
  // state the rails need are rebuilt from the journal ring; records whose rails the worker did not run
  // (all of them if it failed to start) get them now. The session's own registry is kept all along
  // (redzones use it). `closing`: nothing runs after, so only a failed worker's records are replayed.
  let replayRegistry: CallObserver | null = null;
  const goInline = (closing = false) => {
    const w = worker;
    if (w === null) return;
    worker = null;
    let failed = false;
    try {
      w.stop(journal!.events, takeWorker);
    } catch (e) {
      if (!(e instanceof AuditWorkerError)) throw e;
      failed = true;
    }
    const checked = failed ? w.consumedSeq : journal!.written;
    if (closing && checked >= journal!.written) return;
    const st = checkState({ races: wantRaces, limits: props, contextLength: opts.contextLength });
    const regObs = st.registry.observer();
    const rs = railList();
    for (const r of decodeJournal(journal!.path).records) {
      if (r.device !== dev || r.kind === "unknown") continue;
      const call = callOfRecord(r);
      if (r.seq > checked) runRails(rs, call, st.ctx, (fs) => recordAt(fs, r.id));
      if (r.status === null || r.status === STATUS_BLOCKED) continue;
      regObs.after!(call, r.status, r.result);
      if (st.races !== null) st.races.commit(call, r.status);
    }
    races = st.races;
    replayRegistry = regObs;
    ctx = st.ctx;
  };
  // calls whose record would be cut short (more pointers or scalars than a record holds) are checked inline
  const wide = new Map<string, boolean>();
  const tooWide = (call: NativeCall): boolean => {
    let w = wide.get(call.name);
    if (w === undefined) {
      let ns = 0;
      for (const _ in call.scalars) ns++;
      w = ns > MAX_SCALARS || call.pointers.length > MAX_POINTERS;
      wide.set(call.name, w);
    }
    return w || call.pointers.length > MAX_POINTERS;
  };
  const ringMask = journal !== null && journal.capacity >= 4096 ? 255 : 0;
  const ringSlack = journal !== null ? journal.capacity >> 1 : 0;
  let sinceRingCheck = 0;

  // the op during which each finding was recorded (a pipelined redzone check's findings are
  // read later but go where the inline check would have put them: after those of its sync op)
  const recordedAt: number[] = [];
  const recordAt = (fs: readonly Finding[], at: number) => {
    let k = findings.length;
    while (k > 0 && recordedAt[k - 1] > at) k--;
    for (const f of fs) {
      findings.splice(k, 0, f);
      recordedAt.splice(k, 0, at);
      k++;
      if (verbose) {
        console.error(`faultline: [${f.rail}] op ${f.op} ${f.kind} ${f.name}: ${f.invariant}: ${f.detail}`);
      }
    }
  };

  const record = (fs: readonly Finding[]) => recordAt(fs, lastOp);
  // reads the redzone check enqueued at the last sync point, if any (waits for it)
  const collectRedzones = () => {
    if (redzones === null || !redzones.pending) return;
    for (const f of rzPolicy.collect(redzones)) {
      recordAt([f], (f.detected_at as number | undefined) ?? lastOp);
    }
  };

  let inPolicySync = false;
  const runSync = (action: SyncAction, call: NativeCall, phase: string) => {
    if (action === "none") return;
    inPolicySync = true;
    try {
      if (action === "stream") {
        const h = call.stream;
        const st = through(
          sym,
          makeCall("sync", "stream_synchronize", dev, h, { policy: 1 }, []),
          () => sym.fl_stream_synchronize(dev, BigInt(h)),
        );
        check(
          st,
          `fl_stream_synchronize (sync policy ${session.sync.name}, ${phase} op ${call.id} ${call.name})`,
        );
      } else {
        const st = through(
          sym,
          makeCall("sync", "device_synchronize", dev, 0, { policy: 1 }, []),
          () => sym.fl_device_synchronize(dev),
        );
        check(
          st,
          `fl_device_synchronize (sync policy ${session.sync.name}, ${phase} op ${call.id} ${call.name})`,
        );
      }
    } finally {
      inPolicySync = false;
    }
  };

  const railList = () => rails.rails;

  // transient: the journal, registry, rails, race check and redzones copy what they keep of a call
  const observer: CallObserver = {
    transient: true,
    before(call: NativeCall): void {
      if (call.device !== dev) return; // another device's session sees it
      lastOp = call.id;
      if (call.kind === "free" && redzones !== null) rzObserver!.before!(call);
      if (worker !== null) {
        if (railDeclarations.version !== declarations || tooWide(call)) goInline();
        else {
          // the worker runs the rails on the journal record; the policy's sync goes before the call's record
          if (!inPolicySync && session.sync.before !== undefined) {
            try {
              runSync(session.sync.before(call), call, "before");
            } catch (e) {
              journal!.before(call);
              journal!.blockedCall(call.id);
              throw e;
            }
          }
          journal!.before(call);
          return;
        }
      }
      // rails first: a blocked call is journaled as blocked and never triggers a policy sync
      const rs = railList();
      let blocked: Finding[] | null = null;
      try {
        // one pass over the pointers (made for the first rail that needs it) stands in for every
        // rail that is quiet when they are clean
        let clean = call.pointers.length === 0 ? 1 : -1; // 1 clean, 0 not, -1 not known yet
        for (let k = 0; k < rs.length; k++) {
          const r = rs[k];
          if (r.mode === "off") continue;
          if (r.quietWhenPointersClean === true) {
            if (clean < 0) clean = pointersClean(call, ctx) ? 1 : 0;
            if (clean === 1) continue;
          }
          const fs = r.check(call, ctx);
          if (fs.length === 0) continue;
          const enforce = r.mode === "enforce";
          for (const f of fs) f.severity = enforce ? "error" : "warn";
          record(fs);
          if (enforce) (blocked ??= []).push(...fs);
        }
        if (blocked !== null) throw new GuardBlocked(call, blocked);
        // then the policy's sync, so that the journal shows it before the call it guards
        if (!inPolicySync && session.sync.before !== undefined) {
          runSync(session.sync.before(call), call, "before");
        }
      } catch (e) {
        journal!.before(call);
        journal!.blockedCall(call.id);
        throw e;
      }
      journal!.before(call);
    },
    after(call: NativeCall, status: number, result?: number): void {
      if (call.device !== dev) return;
      journal!.after(call, status, result);
      regObserver.after!(call, status, result);
      if (worker !== null) {
        // the writer keeps less than half the ring ahead of the worker
        if ((++sinceRingCheck & ringMask) === 0 && journal!.written - worker.consumedSeq > ringSlack) {
          drainWorker();
        }
      } else {
        if (replayRegistry !== null) replayRegistry.after!(call, status, result);
        if (races !== null) races.commit(call, status);
      }
      if (redzones !== null) {
        rzObserver!.after!(call, status, result);
        const fs = rzPolicy.afterCall(call, status, redzones);
        for (const f of fs) recordAt([f], (f.detected_at as number | undefined) ?? call.id);
      }
      if (!inPolicySync && status === 0 && session.sync.after !== undefined) {
        runSync(session.sync.after(call, status), call, "after");
      }
    },
  };
  const regObserver = registry.observer();

  // Redzones on every allocation made while the session is open: the device's default redzone until close.
  const previousDefault = device.defaultRedzone;
  if (rzBytes > 0) device.defaultRedzone = rzBytes;

  const detach = on ? boundary.attach(observer) : () => {};
  let closed = false;

  const session: AuditSession = {
    mode,
    reportDir: opts.reportDir,
    registry,
    redzones,
    journal,
    get offThread(): boolean {
      return worker !== null;
    },
    get findings(): Finding[] {
      drainWorker();
      collectRedzones();
      return findings;
    },
    get rails(): RailSet {
      // the worker cannot see changes made through this handle: check inline from now on
      goInline();
      return rails;
    },
    get races(): OnlineRaces | null {
      goInline();
      return races;
    },
    sync: opts.sync ?? (mode === "blocking" ? syncAfterEveryLaunch() : noSync()),
    checkRedzones(full = true): Finding[] {
      if (redzones === null) return [];
      collectRedzones();
      const fs = rzPolicy.checkNow(redzones, lastOp, full);
      record(fs);
      return fs;
    },
    checkModel(model, engine, o = {}): Finding[] {
      try {
        const fs = checkModelCompat(model, engine, o);
        record(fs);
        return fs;
      } catch (e) {
        const fs = (e as { findings?: Finding[] }).findings;
        if (fs) record(fs);
        throw e;
      }
    },
    decode(): DecodedJournal | null {
      return journal === null ? null : decodeJournal(journal.path);
    },
    flush(): DecodedJournal | null {
      const d = session.decode();
      if (d !== null) Deno.writeTextFileSync(`${opts.reportDir}/journal.jsonl`, journalJsonl(d.records));
      drainWorker();
      collectRedzones();
      writeLines(`${opts.reportDir}/findings.jsonl`, findings);
      return d;
    },
    d2hAuditLines(): string[] {
      const d = session.decode();
      return d === null ? [] : d2hAuditLines(d.records);
    },
    close(co: CloseOptions = {}): void {
      if (closed) return;
      closed = true;
      let workerError: unknown = null;
      globalThis.removeEventListener("unload", onUnload);
      try {
        if (redzones !== null && co.redzoneCheck !== false) {
          try {
            session.checkRedzones(true);
          } catch (e) {
            if (!(e instanceof Error && e.name === "RedzoneDamaged")) throw e;
          }
        }
      } finally {
        try {
          collectRedzones();
        } catch { /* a poisoned context: the check could not be read */ }
        try {
          goInline(true);
        } catch (e) {
          workerError = e;
        }
        detach();
        if (rzBytes > 0) device.defaultRedzone = previousDefault;
        redzones?.close();
        if (journal !== null) {
          const d = decodeJournal(journal.path);
          journal.close();
          Deno.writeTextFileSync(`${opts.reportDir}/journal.jsonl`, journalJsonl(d.records));
          if (co.d2hAudit) {
            const lines = d2hAuditLines(d.records);
            Deno.writeTextFileSync(
              `${opts.reportDir}/d2h_audit.log`,
              lines.join("\n") + (lines.length ? "\n" : ""),
            );
          }
          if (!opts.keepRing) {
            for (const p of [journal.path, journal.sidePath]) {
              try {
                Deno.removeSync(p);
              } catch { /* already gone */ }
            }
          }
        }
        writeLines(`${opts.reportDir}/findings.jsonl`, findings);
      }
      if (workerError !== null) throw workerError;
    },
    [Symbol.dispose]() {
      session.close();
    },
  };
  // a process that exits without closing (Deno.exit, an uncaught error) still writes its records
  const onUnload = () => {
    try {
      session.close({ redzoneCheck: false });
    } catch { /* exiting anyway */ }
  };
  if (on) globalThis.addEventListener("unload", onUnload);
  return session;
}

/**
 * After a child died: decodes `reportDir/journal.bin` (if it is there) into
 * journal.jsonl and returns the decoded journal (its inFlight records are
 * where the child was).
 */
export function recoverJournal(reportDir: string, opts: { d2hAudit?: boolean } = {}): DecodedJournal | null {
  const ring = `${reportDir}/journal.bin`;
  try {
    Deno.statSync(ring);
  } catch {
    return null;
  }
  const d = decodeJournal(ring);
  Deno.writeTextFileSync(`${reportDir}/journal.jsonl`, journalJsonl(d.records));
  if (opts.d2hAudit) {
    const lines = d2hAuditLines(d.records);
    Deno.writeTextFileSync(`${reportDir}/d2h_audit.log`, lines.join("\n") + (lines.length ? "\n" : ""));
  }
  return d;
}
