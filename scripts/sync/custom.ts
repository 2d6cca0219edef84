/**
 * Sync policies written by the experiment: from one function, or chosen per
 * op (by the scheduler's op name, the kernel or tensor name, or the kind).
 *
 *   perOp({ byOp: { "logits D2H": syncAroundD2H() }, byName: { rope: syncAfterEveryLaunch() } })
 */
import type { NativeCall } from "../../mod.ts";
import { noSync } from "./none.ts";
import type { SyncAction, SyncPolicy } from "./types.ts";

/** A policy from one function, asked before ("before") and after ("after") every call. */
export function customSync(
  name: string,
  fn: (call: NativeCall, phase: "before" | "after", status?: number) => SyncAction,
): SyncPolicy {
  return { name, before: (c) => fn(c, "before"), after: (c, s) => fn(c, "after", s) };
}

/** Per-op policies: the first rule that names a call decides its syncs. */
export interface PerOpRules {
  /** By the scheduler's op name (call.context.op), e.g. "RoPE Q", "logits D2H". */
  byOp?: Record<string, SyncPolicy>;
  /** By kernel or tensor name (call.name). */
  byName?: Record<string, SyncPolicy>;
  /** By kind ("launch", "d2h", ...). */
  byKind?: Record<string, SyncPolicy>;
  /** For every other call (default: none). */
  otherwise?: SyncPolicy;
}

/** The first matching rule's policy decides, in the order byOp, byName, byKind, otherwise. */
export function perOp(rules: PerOpRules): SyncPolicy {
  const otherwise = rules.otherwise ?? noSync();
  const pick = (c: NativeCall): SyncPolicy =>
    (c.context.op !== undefined ? rules.byOp?.[c.context.op] : undefined) ?? rules.byName?.[c.name] ??
      rules.byKind?.[c.kind] ?? otherwise;
  return {
    name: "per-op",
    before: (c) => pick(c).before?.(c) ?? "none",
    after: (c, s) => pick(c).after?.(c, s) ?? "none",
  };
}
