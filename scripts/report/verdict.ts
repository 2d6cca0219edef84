/** verdict.json: the machine-readable outcome of a run, as DESIGN.md specifies it. */

import type {
  Finding,
  MatrixResult,
  RootCause,
  RunReport,
  SanitizerError,
  Verdict,
  VerdictFinding,
  VerdictSanitizer,
} from "../../records.ts";
import { compareSanitizer } from "../forensics/sanitizer.ts";

export function buildVerdict(run: RunReport): Verdict {
  const a = run.attribution;
  const s = a?.surfaced ?? null;
  const rc = a?.rootCause ?? null;
  return {
    experiment: run.experiment,
    run_id: run.runId,
    backend: run.backend,
    device: run.device,
    device_id: run.deviceId ?? null,
    build: run.build ? { targets: run.build.targets, chosen_by: run.build.chosen_by } : null,
    config: run.config,
    status: run.status,
    surfaced_at: s ? { op: s.op, kind: s.kind, name: s.name, error: s.error } : null,
    root_cause: rc
      ? {
        op: rc.op,
        kind: rc.kind,
        kernel: rc.kernel,
        name: rc.name,
        step: rc.step,
        layer: rc.layer,
        argument: rc.argument,
        invariant: rc.invariant,
        detail: rc.detail,
        cause: rc.cause ?? null,
      }
      : null,
    hypotheses: run.hypotheses.map((h) => ({
      id: h.id,
      title: h.title,
      status: h.status,
      evidence: h.evidence,
    })),
    matrix: run.matrix ? matrixVerdict(run.matrix) : [],
    findings: run.findings.map(verdictFinding),
    sanitizer: run.sanitizer ? verdictSanitizer(run.sanitizer, rc) : null,
    attribution: a
      ? {
        method: a.method,
        replays: a.replays,
        wall_s: Math.round(a.wallMs) / 1000,
        timing_dependent: a.timingDependent,
        reproduced_under_blocking: a.reproducedUnderBlocking,
        witness_agrees: a.witness?.agrees ?? null,
      }
      : null,
    mode: run.mode,
    debug_env: run.debugEnv ? run.debugEnv.vars : null,
    started: run.started,
    finished: run.finished,
    command: run.command,
  };
}

/** verdict.json's matrix entries: {mode, iterations, errors, status} (plus the row name and its devices). */
export function matrixVerdict(rows: MatrixResult[]): Verdict["matrix"] {
  return rows.map((r) => ({
    name: r.name,
    mode: r.mode,
    iterations: r.iterations,
    errors: r.errors,
    status: r.status,
    ...(r.devices ? { devices: r.devices } : {}),
  }));
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

function verdictFinding(f: Finding): VerdictFinding {
  const a = f.allocation;
  return {
    op: f.op,
    rail: f.rail,
    kind: str(f.kind),
    name: str(f.name),
    step: num(f.step),
    layer: num(f.layer),
    label: str(f.label),
    argument: str(f.argument),
    invariant: f.invariant,
    detail: f.detail ?? "",
    severity: f.severity ?? null,
    allocation: a
      ? { id: a.id, name: a.name, offset: a.offset, bytes: a.bytes, size: a.size, state: a.state }
      : null,
  };
}

function verdictSanitizer(e: SanitizerError, rc: RootCause | null): VerdictSanitizer {
  return {
    headline: e.headline,
    kernel: e.kernel,
    access: e.access,
    size: e.size,
    address: e.address,
    problem: e.problem,
    allocation: e.allocation
      ? { name: e.allocation.name ?? null, offset: e.allocation.offset ?? null }
      : null,
    nearest: e.nearest,
    errors: e.errors,
    agreement: compareSanitizer(e, rc),
  };
}
