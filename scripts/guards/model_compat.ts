/**
 * Rail: a model's shapes against the shapes an engine build expects (for
 * example a Llama-3-8B, FFN 14336, loaded into a Llama-2-7B build,
 * 11008). Checked once, when the model is loaded, not per native call:
 * incompatible is blocked unless an override is given, and the override is
 * recorded as a finding with status "overridden".
 */
import { checkCompatible, type LlamaConfig } from "../model/config.ts";
import type { RailMode } from "./types.ts";
import type { Finding } from "../../records.ts";

/** A model whose shapes differ from the engine build's, blocked at load; the findings name each difference. */
export class ModelIncompatible extends Error {
  /** One finding per shape that differs. */
  readonly findings: Finding[];
  /** The error for `findings` (their details make the message). */
  constructor(findings: Finding[]) {
    super(
      `model incompatible with the engine build: ${findings.map((f) => f.detail).join("; ")} ` +
        `(pass an override to run it anyway)`,
    );
    this.name = "ModelIncompatible";
    this.findings = findings;
  }
}

/** How checkModelCompat treats an incompatible model. */
export interface ModelCompatOptions {
  /** "enforce" (default): block; "warn": record and go on; "off": skip. */
  mode?: RailMode;
  /** Why the experiment runs an incompatible model anyway; recorded in the findings. */
  override?: string;
  /** Op id to file the findings under (default 0: before any native call). */
  op?: number;
  /** The model's name for the findings (default "model"). */
  modelName?: string;
}

/**
 * The findings for `model` in an engine built for `engine` (one per differing
 * key). Throws ModelIncompatible in enforce mode unless overridden.
 */
export function checkModelCompat(
  model: LlamaConfig,
  engine: Partial<LlamaConfig>,
  opts: ModelCompatOptions = {},
): Finding[] {
  const mode = opts.mode ?? "enforce";
  if (mode === "off") return [];
  const findings: Finding[] = checkCompatible(model, engine).map((m) => ({
    rail: "model_compat",
    op: opts.op ?? 0,
    kind: "model",
    name: opts.modelName ?? "model",
    argument: m.key,
    allocation: null,
    invariant: `model ${m.key} equals the engine build's`,
    detail: `${m.key}: model ${m.model}, engine ${m.engine}`,
    severity: mode === "enforce" && opts.override === undefined ? "error" : "warn",
  }));
  if (findings.length === 0) return findings;
  if (opts.override !== undefined) {
    for (const f of findings) {
      f.status = "overridden";
      f.override = opts.override;
    }
    return findings;
  }
  if (mode === "enforce") throw new ModelIncompatible(findings);
  return findings;
}
