/**
 * Child side: instruments a trial for its mode. With the forensics core
 * (scripts/audit/session.ts: openAudit) it is used as is; without it a minimal
 * instrumentation of this folder's own stands in: the binary journal
 * (ffi/journal_native.ts) and the sync points (a sync after every launch in
 * "blocking" mode, or after the launch ordinals of spec.syncAfter), with no
 * guard rails.
 *
 * Loaded only in the child: it imports the FFI layer.
 */

import { join } from "node:path";
import {
  boundary,
  type CallObserver,
  type Device,
  FaultlineError,
  JournalWriter,
  makeCall,
  type NativeCall,
  through,
  writeJournalJsonl,
} from "../../mod.ts";
import type { Finding, TrialSpec } from "../../records.ts";

export interface Instrumentation {
  /** "audit": scripts/audit/session.ts; "fallback": the journal and sync points only; "none": mode off. */
  kind: "audit" | "fallback" | "none";
  findings(): Finding[];
  /** The audit session (scripts/audit/session.ts), when there is one. */
  session?: Record<string, unknown>;
  /** Flushes the journal (journal.jsonl in the trial's folder) and detaches. */
  close(): Promise<void>;
}

/** Syncs a launch's stream after the launches the sync points name. */
export function syncPointObserver(device: Device, spec: TrialSpec): CallObserver | null {
  const all = spec.mode === "blocking" && spec.syncAfter === undefined;
  const set = new Set(spec.syncAfter ?? []);
  if (!all && set.size === 0) return null;
  let ordinal = 0;
  return {
    after(call: NativeCall, status: number) {
      if (call.kind !== "launch") return;
      const k = ordinal++;
      if (status !== 0 || !(all || set.has(k))) return;
      const sym = device.symbols;
      const dev = call.device;
      const h = BigInt(call.stream);
      const sync = makeCall("sync", "stream_synchronize", dev, call.stream, {}, []);
      sync.context = { ...call.context };
      const st = through(sym, sync, () => sym.fl_stream_synchronize(dev, h));
      if (st !== 0) {
        throw new FaultlineError(st, `fl_stream_synchronize after launch ${call.name} (op ${call.id})`);
      }
    },
  };
}

/** A sync policy (scripts/sync/types.ts) that syncs the stream after the launch ordinals listed. */
export function syncPointPolicy(ordinals: number[]): { name: string; after(call: NativeCall): string } {
  const set = new Set(ordinals);
  let ordinal = 0;
  return {
    name: `sync points after launches ${ordinals.join(",")}`,
    after(call: NativeCall) {
      if (call.kind !== "launch") return "none";
      return set.has(ordinal++) ? "stream" : "none";
    },
  };
}

type AuditLike = Record<string, unknown>;

function findingsOf(a: AuditLike): Finding[] {
  const f = a.findings;
  if (typeof f === "function") return (f.call(a) ?? []) as Finding[];
  if (Array.isArray(f)) return f as Finding[];
  return [];
}

/** Opens the instrumentation for `spec` on `device`. */
export async function instrument(
  device: Device,
  spec: TrialSpec,
  options?: Record<string, unknown>,
): Promise<Instrumentation> {
  await Deno.mkdir(spec.runDir, { recursive: true });
  let mod: Record<string, unknown> | null = null;
  try {
    const path = "../audit/session.ts";
    mod = await import(path);
  } catch (e) {
    if (!(e instanceof TypeError && /Module not found|Cannot find module/i.test(e.message))) {
      console.error(
        `faultline: scripts/audit/session.ts failed to load, using the trial's own journal: ${e}`,
      );
    }
  }
  if (mod && typeof mod.openAudit === "function") {
    const audit = await (mod.openAudit as (o: Record<string, unknown>) => AuditLike | Promise<AuditLike>)({
      ...(options ?? {}),
      device,
      reportDir: spec.runDir,
      mode: spec.mode,
    });
    // The sync points of a bisection: the session's sync policy when it has one (its waits are
    // journaled and ordered for the race check), else an observer of this folder's own.
    let detach: (() => void) | null = null;
    if (spec.syncAfter) {
      if ("sync" in audit) audit.sync = syncPointPolicy(spec.syncAfter);
      else {
        const points = syncPointObserver(device, spec);
        detach = points ? boundary.attach(points) : null;
      }
    }
    return {
      kind: "audit",
      session: audit,
      findings: () => findingsOf(audit),
      async close() {
        detach?.();
        const close = (audit.close ?? audit.finish) as (() => unknown) | undefined;
        if (typeof close === "function") await close.call(audit);
      },
    };
  }
  if (spec.mode === "off" && !spec.syncAfter) {
    return {
      kind: "none",
      findings: () => [],
      close: () => Promise.resolve(),
    };
  }
  const ring = join(spec.runDir, "journal.ring");
  const writer = new JournalWriter({ path: ring, native: device.symbols, capacity: 1 << 16 });
  const detachWriter = boundary.attach(writer);
  const points = syncPointObserver(device, spec);
  const detachPoints = points ? boundary.attach(points) : null;
  return {
    kind: "fallback",
    findings: () => [],
    close() {
      detachPoints?.();
      detachWriter();
      writer.close();
      writeJournalJsonl(ring, join(spec.runDir, "journal.jsonl"));
      return Promise.resolve();
    },
  };
}
