/**
 * Greedy generation through an engine against the float64 reference, token for token: a mismatch
 * where the reference's top two logits are within `tie` (relative) ends the comparison as a tie; any
 * other mismatch throws. Returns the matched count and the largest logit error (relative to the
 * largest |logit| of the step).
 */
import assert from "node:assert/strict";
import { type ReferenceForward, topTwo } from "../../scripts/model/reference_forward.ts";
import type { LlamaEngine } from "../../scripts/scheduler/mod.ts";

export interface DecodeComparison {
  matched: number;
  ties: number;
  maxLogitErr: number;
  tokens: number[];
}

export function compareDecode(
  what: string,
  engine: LlamaEngine,
  ref: ReferenceForward,
  prompt: number[],
  n: number,
  tie = 1e-4,
): DecodeComparison {
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  let t = engine.prefill(prompt);
  for (;;) {
    tokens.push(t);
    logits.push(engine.logits());
    if (tokens.length === n) break;
    t = engine.decodeStep(t);
  }
  const want = ref.generate(prompt, n);
  let matched = 0, ties = 0, maxLogitErr = 0;
  for (let i = 0; i < n; i++) {
    const scale = Math.max(1e-6, ...Array.from(want.logits[i], Math.abs));
    for (let j = 0; j < want.logits[i].length; j++) {
      maxLogitErr = Math.max(maxLogitErr, Math.abs(logits[i][j] - want.logits[i][j]) / scale);
    }
    if (tokens[i] === want.tokens[i]) {
      matched++;
      continue;
    }
    const top = topTwo(want.logits[i]);
    if (top.relMargin < tie) {
      ties++;
      break; // the sequences diverge legitimately from here
    }
    assert.fail(
      `${what}: token ${i}: engine ${tokens[i]}, reference ${want.tokens[i]} (reference margin ` +
        `${top.relMargin.toExponential(2)}; engine ${tokens.join(",")}; reference ${want.tokens.join(",")})`,
    );
  }
  console.log(
    `${what}: ${matched}/${n} tokens match, ${ties} ties, max logit err ${maxLogitErr.toExponential(2)}`,
  );
  return { matched, ties, maxLogitErr, tokens };
}
