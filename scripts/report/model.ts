/**
 * What a run's records are written from: one RunReport, built by the
 * experiment runner (scripts/trials/experiment.ts) or by hand in tests.
 */

import type { Attribution } from "../forensics/attribution.ts";
import type { BuildInfo } from "../../ffi/build_info.ts";
import type { DebugEnv } from "../forensics/debugenv.ts";
import type { HypothesisResult } from "../forensics/hypotheses.ts";
import type { OpRecord } from "../forensics/records.ts";
import type { SanitizerError } from "../forensics/sanitizer.ts";
import type { MatrixResult } from "../trials/matrix.ts";
import type { FaultInfo, Finding, Mode } from "../trials/spec.ts";

export type RunStatus = "OK" | "FAULT" | "BLOCKED";

/** One trial the run made, for the report's trial list. */
export interface TrialSummary {
  purpose: string;
  mode: Mode;
  status: string;
  wallMs: number;
  detail: string;
  dir?: string;
}

export interface RunReport {
  experiment: string;
  runId: string;
  /** A one-line description of the experiment (its purpose). */
  title?: string;
  status: RunStatus;
  backend: string;
  device: string;
  /** What the library was built for, null when unknown. */
  build?: BuildInfo | null;
  config: Record<string, unknown>;
  mode: Mode;
  debugEnv: DebugEnv | null;
  command: string;
  started: string;
  finished: string;
  /** The journal of the main trial (the faulting one when there was a fault). */
  records: OpRecord[];
  findings: Finding[];
  attribution: Attribution | null;
  hypotheses: HypothesisResult[];
  matrix: MatrixResult[] | null;
  fault: FaultInfo | null;
  sanitizer: SanitizerError | null;
  trials: TrialSummary[];
  /** The experiment's own summary paragraphs, placed after the generated one. */
  notes?: string[];
  /** Next steps; generated ones are used when absent. */
  nextSteps?: string[];
  /** Values the main trial returned. */
  values?: Record<string, unknown>;
  /** The seeds' [D2H_AUDIT_START]/[D2H_AUDIT_END] lines of the main trial, when the experiment asks for them. */
  auditLog?: string[];
}
