/** verdict.json: the machine-readable outcome of a run, as DESIGN.md specifies it. */

import { matrixVerdict } from "../trials/matrix.ts";
import type { RunReport } from "./model.ts";

export interface Verdict {
  experiment: string;
  run_id: string;
  backend: string;
  device: string;
  /** The library's GPU targets and who chose them; null when unknown. */
  build: { targets: string[]; chosen_by: string } | null;
  config: Record<string, unknown>;
  status: "OK" | "FAULT" | "BLOCKED";
  surfaced_at: { op: number; kind: string; name: string; error: string } | null;
  root_cause: {
    op: number;
    kind: string;
    kernel: string;
    name: string;
    step: number | null;
    layer: number | null;
    argument: string | null;
    invariant: string | null;
    detail: string;
  } | null;
  hypotheses: { id: string; title: string; status: string; evidence: string }[];
  matrix: { name: string; mode: string; iterations: number; errors: number; status: string }[];
  attribution: {
    method: string;
    replays: number;
    wall_s: number;
    timing_dependent: boolean;
    reproduced_under_blocking: boolean | null;
    witness_agrees: boolean | null;
  } | null;
  mode: string;
  debug_env: Record<string, string> | null;
  started: string;
  finished: string;
  command: string;
}

export function buildVerdict(run: RunReport): Verdict {
  const a = run.attribution;
  const s = a?.surfaced ?? null;
  const rc = a?.rootCause ?? null;
  return {
    experiment: run.experiment,
    run_id: run.runId,
    backend: run.backend,
    device: run.device,
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
      }
      : null,
    hypotheses: run.hypotheses.map((h) => ({
      id: h.id,
      title: h.title,
      status: h.status,
      evidence: h.evidence,
    })),
    matrix: run.matrix ? matrixVerdict(run.matrix) : [],
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
