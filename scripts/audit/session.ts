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
 * findings.jsonl, and d2h_audit.log (a [D2H_AUDIT_START]/[D2H_AUDIT_END] pair
 * per device-to-host copy) when asked. The ring itself (journal.bin, journal.bin.side) is removed
 * after a clean close unless keepRing is set; after a crash it stays, and
 * `recoverJournal(reportDir)` decodes it.
 */
import {
  boundary,
  type CallObserver,
  d2hAuditLines,
  type DecodedJournal,
  decodeJournal,
  type Device,
  FaultlineUsageError,
  journalJsonl,
  type JournalMapSymbols,
  JournalWriter,
  type NativeCall,
  type OnlineRaces,
  Redzones,
  Registry,
  runtime,
} from "../../mod.ts";
import {
  checkModelCompat,
  DEFAULT_LIMITS,
  defaultRails,
  type LaunchLimits,
  type ModelCompatOptions,
  type Rail,
  RailSet,
  type RedzonePolicy,
  redzonePolicy,
} from "../guards/index.ts";
import type { LlamaConfig } from "../model/config.ts";
import { noSync, syncAfterEveryLaunch, type SyncPolicy } from "../sync/index.ts";
import type { Finding, Mode } from "../../records.ts";
import { CallChecks } from "./call_checks.ts";
import { FindingLog } from "./finding_log.ts";
import { PolicySync } from "./policy_sync.ts";
import { Quarantine, type QuarantineOptions } from "./quarantine.ts";

/** What an audit session watches and how. */
export interface AuditOptions {
  /** The device whose calls are journaled and checked. */
  device: Device;
  /** Directory for journal.bin (while running), journal.jsonl and findings.jsonl. */
  reportDir: string;
  /** The mode (default audit). */
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
  /**
   * Freed device memory held back from the allocator while the session is open, so that a freed range
   * is not handed to the next allocation and a stale pointer into it is named as a use after free
   * (scripts/audit/quarantine.ts): default on outside mode off, 256 MiB / 1024 frees, released oldest
   * first past either budget and all at close; the sim's allocator already keeps freed ranges unmapped.
   * false: off.
   */
  quarantine?: QuarantineOptions | false;
}

/** The audit options an experiment gives (the trial's device, folder and mode come from its spec). */
export type ExperimentAuditOptions = Omit<AuditOptions, "device" | "reportDir" | "mode">;

/** Every option openAudit takes, for the error that names an unknown one. */
export const AUDIT_OPTIONS: readonly (keyof AuditOptions)[] = [
  "device",
  "reportDir",
  "mode",
  "redzones",
  "redzonePolicy",
  "guards",
  "sync",
  "races",
  "contextLength",
  "journalCapacity",
  "keepRing",
  "verbose",
  "offThread",
  "quarantine",
];

/** Throws FaultlineUsageError for an option openAudit does not know (a typo would be silently ignored). */
export function checkAuditOptions(opts: Record<string, unknown>): void {
  const unknown = Object.keys(opts).filter((k) => !(AUDIT_OPTIONS as readonly string[]).includes(k));
  if (unknown.length === 0) return;
  throw new FaultlineUsageError(
    `openAudit: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (valid: ${
      AUDIT_OPTIONS.join(", ")
    })`,
  );
}

/** What close() writes and checks last. */
export interface CloseOptions {
  /** Write d2h_audit.log (a start and an end line per device-to-host copy). */
  d2hAudit?: boolean;
  /** Run a full redzone check first (default true when redzones are on). */
  redzoneCheck?: boolean;
}

/** An open audit session: the journal, the guard rails, the race check, redzones and the sync policy over one device's calls. */
export interface AuditSession {
  /** The session's mode. */
  readonly mode: Mode;
  /** Where journal.jsonl and findings.jsonl go. */
  readonly reportDir: string;
  /** The allocations pointers are resolved against. */
  readonly registry: Registry;
  /** The guard rails (add, remove or replace them while the session runs). */
  readonly rails: RailSet;
  /** The race check, null when off. */
  readonly races: OnlineRaces | null;
  /** The redzone checks, null without redzones. */
  readonly redzones: Redzones | null;
  /** The journal writer, null in mode off. */
  readonly journal: JournalWriter | null;
  /** The quarantine holding freed device memory, null when off (AuditOptions.quarantine). */
  readonly quarantine: Quarantine | null;
  /** Whether the per-call checks run in the audit worker now (AuditOptions.offThread). */
  readonly offThread: boolean;
  /** Every finding so far (warn and enforce), in the order found. */
  readonly findings: Finding[];
  /** The sync policy: which calls get a stream or device sync after them (replace it to change the policy). */
  sync: SyncPolicy;
  /** Checks every redzone now (full: both sides of every allocation). */
  checkRedzones(full?: boolean): Finding[];
  /** The model-compatibility rail: blocked (throws ModelIncompatible) unless opts.override is given. */
  checkModel(model: LlamaConfig, engine: Partial<LlamaConfig>, opts?: ModelCompatOptions): Finding[];
  /** Decodes the ring as it is now. */
  decode(): DecodedJournal | null;
  /** Writes journal.jsonl and findings.jsonl as they are now (the session stays open). */
  flush(): DecodedJournal | null;
  /** The D2H audit lines (start and end per device-to-host copy) of the journal so far. */
  d2hAuditLines(): string[];
  /** Detaches, checks redzones, writes journal.jsonl and findings.jsonl. */
  close(opts?: CloseOptions): void;
  /** Closes the session (`using audit = openAudit(...)`). */
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

function writeLines(path: string, items: readonly unknown[]): void {
  Deno.writeTextFileSync(path, items.map((x) => JSON.stringify(x)).join("\n") + (items.length ? "\n" : ""));
}

/** The rails a session runs: the given set, or the defaults (all enforcing in enforce mode). */
function sessionRails(opts: AuditOptions, mode: Mode): RailSet {
  if (opts.guards instanceof RailSet) return opts.guards;
  if (opts.guards) return new RailSet(opts.guards);
  const rails = defaultRails(mode === "enforce" ? "enforce" : "warn");
  if (mode === "enforce") rails.setAll("enforce");
  return rails;
}

/** The device's launch limits, or the common defaults when its properties cannot be read. */
function deviceLimits(device: Device): LaunchLimits {
  try {
    const p = device.props;
    return { maxGrid: p.maxGrid, maxBlock: p.maxBlock, maxThreadsPerBlock: p.maxThreadsPerBlock };
  } catch {
    return DEFAULT_LIMITS;
  }
}

export { Quarantine, type QuarantineOptions } from "./quarantine.ts";

/**
 * Opens an audit session (one at a time per process). It journals and checks the calls on every device
 * of the process (a peer copy, or a pointer of one device given to another, involves two); `device` is the
 * one whose launch limits the rails check against and whose allocations get redzones.
 */
export function openAudit(opts: AuditOptions): AuditSession {
  checkAuditOptions(opts as unknown as Record<string, unknown>);
  return new Session(opts);
}

class Session implements AuditSession {
  readonly mode: Mode;
  readonly reportDir: string;
  readonly registry = new Registry();
  readonly redzones: Redzones | null;
  readonly journal: JournalWriter | null;
  sync: SyncPolicy;
  #opts: AuditOptions;
  #device: Device;
  #rails: RailSet;
  #log: FindingLog;
  #checks: CallChecks;
  #policySync: PolicySync;
  #rzPolicy: RedzonePolicy;
  #rzObserver: CallObserver | null;
  #regObserver: CallObserver;
  #previousRedzone: number;
  #lastOp = 0;
  #quarantine: Quarantine | null = null;
  #detach: () => void = () => {};
  #closed = false;

  constructor(opts: AuditOptions) {
    this.#opts = opts;
    this.mode = opts.mode ?? "audit";
    this.reportDir = opts.reportDir;
    this.#device = opts.device;
    Deno.mkdirSync(opts.reportDir, { recursive: true });
    this.#rails = sessionRails(opts, this.mode);
    this.#log = new FindingLog(opts.verbose ?? false);
    this.sync = opts.sync ?? (this.mode === "blocking" ? syncAfterEveryLaunch() : noSync());
    this.#policySync = new PolicySync(this.#device, () => this.sync.name);
    const on = this.mode !== "off";
    this.journal = on ? this.#openJournal() : null;
    this.#checks = new CallChecks({
      registry: this.registry,
      rails: this.#rails,
      journal: this.journal,
      log: this.#log,
      races: on && opts.races !== false,
      offThread: on && this.mode === "audit" && opts.guards === undefined && (opts.offThread ?? true),
      limits: deviceLimits(this.#device),
      contextLength: opts.contextLength,
      workerFindings: `${opts.reportDir}/findings.worker.jsonl`,
    });
    const rzBytes = on ? opts.redzones ?? 0 : 0;
    this.redzones = rzBytes > 0 ? new Redzones(this.#device, this.registry) : null;
    // enforce mode stops the run at the sync that finds a damaged redzone (the write itself already ran)
    this.#rzPolicy = opts.redzonePolicy ??
      redzonePolicy({ mode: this.mode === "enforce" ? "enforce" : "warn" });
    this.#rzObserver = this.redzones?.observer() ?? null;
    this.#regObserver = this.registry.observer();
    // redzones on every allocation made while the session is open: the device's default until close
    this.#previousRedzone = this.#device.defaultRedzone;
    if (rzBytes > 0) this.#device.defaultRedzone = rzBytes;
    if (on) this.#attach();
  }

  /** Holds frees in quarantine (not on sim unless asked: its allocator does not reuse freed ranges). */
  #startQuarantine(): void {
    const q = this.#opts.quarantine;
    if (q === false || (runtime().backend === "sim" && !q?.onSim)) return;
    this.#quarantine = new Quarantine(q ?? {});
    boundary.freeHold = this.#quarantine;
  }

  #openJournal(): JournalWriter {
    const sym = this.#device.symbols;
    return new JournalWriter({
      path: `${this.reportDir}/journal.bin`,
      capacity: this.#opts.journalCapacity,
      native: sym as unknown as JournalMapSymbols,
      clock: nativeClock(sym),
    });
  }

  #attach(): void {
    this.#startQuarantine();
    // transient: the journal, registry, rails, race check and redzones copy what they keep of a call
    this.#detach = boundary.attach({
      transient: true,
      before: (call) => this.#before(call),
      after: (call, status, result) => this.#after(call, status, result),
    });
    globalThis.addEventListener("unload", this.#onUnload);
  }

  // a process that exits without closing (Deno.exit, an uncaught error) still writes its records
  #onUnload = () => {
    try {
      this.close({ redzoneCheck: false });
    } catch { /* exiting anyway */ }
  };

  #before(call: NativeCall): void {
    this.#lastOp = call.id;
    if (call.kind === "free" && this.redzones !== null) this.#rzObserver!.before!(call);
    const journal = this.journal!;
    try {
      // inline, rails first: a blocked call is journaled as blocked and never triggers a policy sync;
      // off the thread the worker runs the rails on the journal record
      if (!this.#checks.takes(call)) this.#checks.checkInline(call);
      // then the policy's sync, so that the journal shows it before the call it guards
      if (!this.#policySync.running && this.sync.before !== undefined) {
        this.#policySync.run(this.sync.before(call), call, "before");
      }
    } catch (e) {
      journal.before(call);
      journal.blockedCall(call.id);
      throw e;
    }
    journal.before(call);
  }

  #after(call: NativeCall, status: number, result?: number): void {
    this.journal!.after(call, status, result);
    this.#regObserver.after!(call, status, result);
    this.#checks.after(call, status, result);
    if (this.redzones !== null) {
      this.#rzObserver!.after!(call, status, result);
      const fs = this.#rzPolicy.afterCall(call, status, this.redzones);
      for (const f of fs) this.#log.add([f], (f.detected_at as number | undefined) ?? call.id);
    }
    if (!this.#policySync.running && status === 0 && this.sync.after !== undefined) {
      this.#policySync.run(this.sync.after(call, status), call, "after");
    }
  }

  #record(fs: readonly Finding[]): void {
    this.#log.add(fs, this.#lastOp);
  }

  // reads the redzone check enqueued at the last sync point, if any (waits for it)
  #collectRedzones(): void {
    if (this.redzones === null || !this.redzones.pending) return;
    for (const f of this.#rzPolicy.collect(this.redzones)) {
      this.#log.add([f], (f.detected_at as number | undefined) ?? this.#lastOp);
    }
  }

  get offThread(): boolean {
    return this.#checks.offThread;
  }

  get quarantine(): Quarantine | null {
    return this.#quarantine;
  }

  get findings(): Finding[] {
    this.#checks.drain();
    this.#collectRedzones();
    return this.#log.list;
  }

  get rails(): RailSet {
    // the worker cannot see changes made through this handle: check inline from now on
    this.#checks.goInline();
    return this.#rails;
  }

  get races(): OnlineRaces | null {
    this.#checks.goInline();
    return this.#checks.races;
  }

  checkRedzones(full = true): Finding[] {
    if (this.redzones === null) return [];
    this.#collectRedzones();
    const fs = this.#rzPolicy.checkNow(this.redzones, this.#lastOp, full);
    this.#record(fs);
    return fs;
  }

  checkModel(model: LlamaConfig, engine: Partial<LlamaConfig>, o: ModelCompatOptions = {}): Finding[] {
    try {
      const fs = checkModelCompat(model, engine, o);
      this.#record(fs);
      return fs;
    } catch (e) {
      const fs = (e as { findings?: Finding[] }).findings;
      if (fs) this.#record(fs);
      throw e;
    }
  }

  decode(): DecodedJournal | null {
    return this.journal === null ? null : decodeJournal(this.journal.path);
  }

  flush(): DecodedJournal | null {
    const d = this.decode();
    if (d !== null) Deno.writeTextFileSync(`${this.reportDir}/journal.jsonl`, journalJsonl(d.records));
    writeLines(`${this.reportDir}/findings.jsonl`, this.findings);
    return d;
  }

  d2hAuditLines(): string[] {
    const d = this.decode();
    return d === null ? [] : d2hAuditLines(d.records);
  }

  close(co: CloseOptions = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    let workerError: unknown = null;
    try {
      this.#finalRedzoneCheck(co);
    } finally {
      try {
        this.#collectRedzones();
      } catch { /* a poisoned context: the check could not be read */ }
      try {
        this.#checks.goInline(true);
      } catch (e) {
        workerError = e;
      }
      this.#detach();
      if (this.#quarantine !== null) {
        if (boundary.freeHold === this.#quarantine) boundary.freeHold = null;
        this.#quarantine.releaseAll();
      }
      if (this.redzones !== null) this.#device.defaultRedzone = this.#previousRedzone;
      this.redzones?.close();
      this.#writeRecords(co);
    }
    if (workerError !== null) throw workerError;
  }

  #finalRedzoneCheck(co: CloseOptions): void {
    if (this.redzones === null || co.redzoneCheck === false) return;
    try {
      this.checkRedzones(true);
    } catch (e) {
      if (!(e instanceof Error && e.name === "RedzoneDamaged")) throw e;
    }
  }

  /** journal.jsonl (and d2h_audit.log when asked) from the ring, which goes unless kept; findings.jsonl. */
  #writeRecords(co: CloseOptions): void {
    const journal = this.journal;
    if (journal !== null) {
      const d = decodeJournal(journal.path);
      journal.close();
      writeJournalFiles(this.reportDir, d, co.d2hAudit ?? false);
      if (!this.#opts.keepRing) {
        for (const p of [journal.path, journal.sidePath]) {
          try {
            Deno.removeSync(p);
          } catch { /* already gone */ }
        }
      }
    }
    writeLines(`${this.reportDir}/findings.jsonl`, this.#log.list);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Writes journal.jsonl, and d2h_audit.log when asked, from a decoded journal. */
function writeJournalFiles(reportDir: string, d: DecodedJournal, d2hAudit: boolean): void {
  Deno.writeTextFileSync(`${reportDir}/journal.jsonl`, journalJsonl(d.records));
  if (!d2hAudit) return;
  const lines = d2hAuditLines(d.records);
  Deno.writeTextFileSync(`${reportDir}/d2h_audit.log`, lines.join("\n") + (lines.length ? "\n" : ""));
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
  writeJournalFiles(reportDir, d, opts.d2hAudit ?? false);
  return d;
}
