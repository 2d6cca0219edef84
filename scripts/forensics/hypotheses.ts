/**
 * Hypotheses: predicates over the evidence of a run. Each gets a verdict,
 * CONFIRMED, RULED_OUT, INCONCLUSIVE or NOT_REPRODUCED, with the evidence
 * that decided it. An experiment declares its own next to the stock set
 * (scripts/forensics/stock.ts), which covers the usual causes of an
 * asynchronous GPU fault.
 */

import type {
  Evidence,
  Hypothesis,
  HypothesisResult,
  HypothesisStatus,
  HypothesisVerdict,
} from "../../records.ts";

/** Declares a hypothesis (identity, for type inference in experiment files). */
export function hypothesis(h: Hypothesis): Hypothesis {
  return h;
}

/** Evaluates every hypothesis; one that throws is INCONCLUSIVE with the error as evidence. */
export function evaluate(hypotheses: Hypothesis[], ev: Evidence): HypothesisResult[] {
  return hypotheses.map((h) => {
    let v: HypothesisVerdict;
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

/** Evidence of a run with no trial and no fault but what `over` gives (a run that gathers its own). */
export function emptyEvidence(experiment: string, over: Partial<Evidence> = {}): Evidence {
  return {
    experiment,
    records: [],
    findings: [],
    attribution: null,
    faulted: false,
    reproduced: false,
    matrix: null,
    trials: [],
    fault: null,
    sanitizer: null,
    config: {},
    values: {},
    ...over,
  };
}

// Short helpers for writing predicates.

/** The evidence confirms the hypothesis. */
export const confirmed = (evidence: string): HypothesisVerdict => ({ status: "CONFIRMED", evidence });
/** The evidence rules the hypothesis out. */
export const ruledOut = (evidence: string): HypothesisVerdict => ({ status: "RULED_OUT", evidence });
/** The evidence cannot decide the hypothesis. */
export const inconclusive = (evidence: string): HypothesisVerdict => ({ status: "INCONCLUSIVE", evidence });
/** Nothing faulted, so the hypothesis cannot be tested. */
export const notReproduced = (evidence: string): HypothesisVerdict => ({
  status: "NOT_REPRODUCED",
  evidence,
});

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
