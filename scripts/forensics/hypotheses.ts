/**
 * Hypotheses: predicates over the evidence of a run. Each gets a verdict,
 * CONFIRMED, RULED_OUT, INCONCLUSIVE or NOT_REPRODUCED, with the evidence
 * that decided it. An experiment declares its own next to the stock set
 * (scripts/forensics/stock.ts), which covers the hypotheses of the seed
 * reports.
 */

import type { MatrixResult } from "../trials/matrix.ts";
import type { FaultInfo, Finding, TrialOutcome } from "../trials/spec.ts";
import type { Attribution } from "./attribution.ts";
import type { OpRecord } from "./records.ts";
import type { SanitizerError } from "./sanitizer.ts";

export type HypothesisStatus = "CONFIRMED" | "RULED_OUT" | "INCONCLUSIVE" | "NOT_REPRODUCED";

export interface Verdict {
  status: HypothesisStatus;
  evidence: string;
}

/** Everything a hypothesis may look at. */
export interface Evidence {
  experiment: string;
  /** Journal of the main trial (the faulting one when there was a fault). */
  records: OpRecord[];
  /** Guard-rail findings of the main trial. */
  findings: Finding[];
  /** Attribution of the fault, when one surfaced (or a finding named an op). */
  attribution: Attribution | null;
  /** A fault surfaced in the main trial. */
  faulted: boolean;
  /** Any trial of the run faulted, crashed or hung (main trial, matrix). */
  reproduced: boolean;
  /** The matrix, when the experiment ran one. */
  matrix: MatrixResult[] | null;
  /** Every trial the run made, in order. */
  trials: TrialOutcome[];
  fault: FaultInfo | null;
  sanitizer: SanitizerError | null;
  /** The experiment's configuration (model config, sizes...). */
  config: Record<string, unknown>;
  /** Values the main trial returned. */
  values: Record<string, unknown>;
}

export interface Hypothesis {
  id: string;
  title: string;
  /** What would make it true, for the report. */
  description?: string;
  test(ev: Evidence): Verdict;
}

export interface HypothesisResult {
  id: string;
  title: string;
  status: HypothesisStatus;
  evidence: string;
}

/** Declares a hypothesis (identity, for type inference in experiment files). */
export function hypothesis(h: Hypothesis): Hypothesis {
  return h;
}

/** Evaluates every hypothesis; one that throws is INCONCLUSIVE with the error as evidence. */
export function evaluate(hypotheses: Hypothesis[], ev: Evidence): HypothesisResult[] {
  return hypotheses.map((h) => {
    let v: Verdict;
    try {
      v = h.test(ev);
      if (!v || !["CONFIRMED", "RULED_OUT", "INCONCLUSIVE", "NOT_REPRODUCED"].includes(v.status)) {
        v = { status: "INCONCLUSIVE", evidence: `the predicate returned no verdict (${JSON.stringify(v)})` };
      }
    } catch (e) {
      v = { status: "INCONCLUSIVE", evidence: `the predicate failed: ${(e as Error).message}` };
    }
    return { id: h.id, title: h.title, status: v.status, evidence: v.evidence };
  });
}

/** Short helpers for writing predicates. */
export const confirmed = (evidence: string): Verdict => ({ status: "CONFIRMED", evidence });
export const ruledOut = (evidence: string): Verdict => ({ status: "RULED_OUT", evidence });
export const inconclusive = (evidence: string): Verdict => ({ status: "INCONCLUSIVE", evidence });
export const notReproduced = (evidence: string): Verdict => ({ status: "NOT_REPRODUCED", evidence });

/** The summary line of a verdict set: "2 CONFIRMED, 5 RULED_OUT, 2 INCONCLUSIVE". */
export function tally(results: HypothesisResult[]): string {
  const order: HypothesisStatus[] = ["CONFIRMED", "RULED_OUT", "INCONCLUSIVE", "NOT_REPRODUCED"];
  const parts: string[] = [];
  for (const s of order) {
    const n = results.filter((r) => r.status === s).length;
    if (n) parts.push(`${n} ${s}`);
  }
  return parts.join(", ") || "no hypotheses";
}
