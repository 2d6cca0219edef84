/**
 * An experiment's params as the user gives them (`--param k=v`, RunOptions.params), checked before
 * any trial runs: a name the experiment does not take, or a value its rule refuses, is a
 * FaultlineUsageError naming the param, the value and what it accepts, never a trial that faults
 * on it.
 *
 * A param's rule is the experiment's `paramRules` entry: a list of the values it takes, or a check
 * that says what a value must be. Without one, the value must have its default's type (a number, a
 * boolean, a string). The names a run takes are those of `params`, `paramRules` and the matrix
 * rows' params.
 */
import { FaultlineUsageError } from "../../mod.ts";
import type { MatrixRow } from "../../records.ts";

/** What checkParams reads of an experiment (scripts/trials/definition.ts's ExperimentDef). */
export interface ParamsOf {
  params?: Record<string, unknown>;
  paramRules?: Record<string, ParamRule>;
  matrix?: readonly MatrixRow[] | boolean;
}

/** A param value as `--param k=v` gives it (JSON when it parses, else the string). */
export type ParamValue = string | number | boolean | null;

/**
 * What a param accepts: the values it takes, or a check returning what the value must be (`"an
 * integer >= 0"`) when it is wrong and null when it is right. A check sees every param of the run
 * (the defaults with the given ones over them), for rules that depend on another param.
 */
export type ParamRule = readonly ParamValue[] | ParamCheck;

/** A param check: what the value must be when it is wrong, null when it is right. */
export type ParamCheck = (value: unknown, params: Readonly<Record<string, unknown>>) => string | null;

/** Parses `k=v` params: numbers and booleans as such, JSON when it parses, strings otherwise; `k` alone is true. */
export function parseParams(list: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i < 0) {
      out[kv] = true;
      continue;
    }
    const k = kv.slice(0, i);
    const v = kv.slice(i + 1);
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** An integer param in [min, max]. */
export function integerParam(min = -Infinity, max = Infinity): ParamCheck {
  return (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
      ? null
      : `an integer${
        min > -Infinity && max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` >= ${min}` : ""
      }`;
}

/** One of `values`, or else what `rule` accepts ("auto" or an integer). */
export function orParam(values: readonly ParamValue[], rule: ParamRule): ParamCheck {
  return (v, params) => {
    if (values.includes(v as ParamValue)) return null;
    const why = typeof rule === "function" ? rule(v, params) : rule.includes(v as ParamValue) ? null : "";
    return why === null ? null : `${values.map(shown).join(", ")} or ${why}`;
  };
}

function shown(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** What `value` must be under `rule` (null: it is right). */
function violation(rule: ParamRule, value: unknown, params: Record<string, unknown>): string | null {
  if (typeof rule === "function") return rule(value, params);
  return rule.includes(value as ParamValue) ? null : `one of ${rule.map(shown).join(", ")}`;
}

/** The rule of a param without one: its default's type. */
function typeRule(def: unknown): ParamRule | null {
  if (typeof def === "number") return (v) => typeof v === "number" && Number.isFinite(v) ? null : "a number";
  if (typeof def === "boolean") return (v) => typeof v === "boolean" ? null : "true or false";
  if (typeof def === "string") return (v) => typeof v === "string" ? null : "a string";
  return null;
}

/** Every param name the experiment takes, with its default (undefined for a rule-only one). */
function knownParams(exp: ParamsOf): Map<string, unknown> {
  const known = new Map<string, unknown>(Object.entries(exp.params ?? {}));
  for (const k of Object.keys(exp.paramRules ?? {})) if (!known.has(k)) known.set(k, undefined);
  if (Array.isArray(exp.matrix)) {
    for (const row of exp.matrix) {
      for (const [k, v] of Object.entries(row.params ?? {})) if (!known.has(k)) known.set(k, v);
    }
  }
  return known;
}

/**
 * Refuses params the experiment does not take and values its rules refuse (FaultlineUsageError:
 * `--param model=nonsense: must be one of auto, tiny, ...`). Returns the run's params: the
 * defaults with the given ones over them.
 */
export function checkParams(exp: ParamsOf, given: Record<string, unknown>): Record<string, unknown> {
  const params = { ...(exp.params ?? {}), ...given };
  const known = knownParams(exp);
  for (const [k, v] of Object.entries(given)) {
    if (!known.has(k)) {
      const names = [...known.keys()];
      throw new FaultlineUsageError(
        `--param ${k}: no such param (${
          names.length ? `the params are ${names.join(", ")}` : "there are none"
        })`,
      );
    }
    const rule = exp.paramRules?.[k] ?? typeRule(known.get(k));
    const why = rule ? violation(rule, v, params) : null;
    if (why !== null) throw new FaultlineUsageError(`--param ${k}=${shown(v)}: must be ${why}`);
  }
  return params;
}

/** One line per param for a usage text: `name=a|b|c (default a)`, or `name=<what it must be>`. */
export function paramsUsage(exp: ParamsOf): string[] {
  const lines: string[] = [];
  for (const [k, def] of knownParams(exp)) {
    if (Array.isArray(exp.matrix) && !Object.hasOwn(exp.params ?? {}, k) && !exp.paramRules?.[k]) continue;
    const rule = exp.paramRules?.[k];
    const accepts = Array.isArray(rule)
      ? rule.map(shown).join("|")
      : rule
      ? `<${(rule as ParamCheck)(Symbol(), { ...(exp.params ?? {}) }) ?? "a value"}>`
      : `<${typeof def}>`;
    lines.push(`${k}=${accepts}${def === undefined ? "" : ` (default ${shown(def)})`}`);
  }
  return lines;
}
