/**
 * Child side: instruments a trial for its mode with an audit session
 * (scripts/audit/session.ts): the journal, the rails, the race check and
 * redzones as the experiment's audit options say, plus what the parent asks
 * of a replay (sync points after given launches for a bisection, a redzone
 * check after every write). Mode off attaches nothing.
 *
 * Loaded only in the child: it imports the FFI layer.
 */

import type { Device, NativeCall } from "../../mod.ts";
import type { Finding, TrialSpec } from "../../records.ts";
import { type AuditSession, type ExperimentAuditOptions, openAudit } from "../audit/session.ts";
import { redzonePolicy } from "../guards/index.ts";
import type { SyncPolicy } from "../sync/index.ts";

export interface Instrumentation {
  /** The audit session; null in mode off. */
  session: AuditSession | null;
  findings(): Finding[];
  /** Writes the journal (journal.jsonl in the trial's folder) and findings, and detaches. */
  close(): void;
}

/** A sync policy that syncs the stream after the launch ordinals listed (0-based, in journal order). */
export function syncPointPolicy(ordinals: number[]): SyncPolicy {
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

/** Opens the instrumentation for `spec` on `device`. */
export function instrument(
  device: Device,
  spec: TrialSpec,
  options: ExperimentAuditOptions = {},
): Instrumentation {
  Deno.mkdirSync(spec.runDir, { recursive: true });
  if (spec.mode === "off") return { session: null, findings: () => [], close() {} };
  const audit = openAudit({
    ...options,
    ...(spec.redzoneEachWrite ? { redzonePolicy: redzonePolicy({ when: "write" }) } : {}),
    device,
    reportDir: spec.runDir,
    mode: spec.mode,
  });
  // the sync points of a bisection, journaled and ordered for the race check like any policy's syncs
  if (spec.syncAfter) audit.sync = syncPointPolicy(spec.syncAfter);
  return { session: audit, findings: () => audit.findings, close: () => audit.close() };
}
