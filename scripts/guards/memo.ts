import type { NativeCall } from "../../mod.ts";
import type { GuardContext } from "./types.ts";

/**
 * Remembers, per kernel, the scalars of its last launch that a rail found
 * clean (with the context value it was checked against), so a repeat (the
 * decode loop launches the same shapes every step) is not checked again.
 */
export class ScalarsMemo<C> {
  #last = new Map<string, { keys: string[]; values: number[]; ctx: C }>();

  /** Whether `s` equals the remembered clean scalars of `kernel`, checked against the same `ctx`. */
  same(kernel: string, s: Readonly<Record<string, number>>, ctx: C): boolean {
    const m = this.#last.get(kernel);
    if (m === undefined || m.ctx !== ctx) return false;
    let k = 0;
    for (const key in s) {
      if (k >= m.keys.length || m.keys[k] !== key || m.values[k] !== s[key]) return false;
      k++;
    }
    return k === m.keys.length;
  }

  remember(kernel: string, s: Readonly<Record<string, number>>, ctx: C): void {
    let m = this.#last.get(kernel);
    if (m === undefined) {
      m = { keys: [], values: [], ctx };
      this.#last.set(kernel, m);
    }
    m.ctx = ctx;
    let k = 0;
    for (const key in s) {
      m.keys[k] = key;
      m.values[k] = s[key];
      k++;
    }
    if (m.keys.length !== k) {
      m.keys.length = k;
      m.values.length = k;
    }
  }

  clear(): void {
    this.#last.clear();
  }
}

/**
 * For a rail that depends only on a launch's scalars (and its context): skip
 * a launch whose scalars repeat the previous launch of the same kernel when
 * that one was clean. Uses the context's shared per-call comparison
 * (GuardContext.repeats) when there is one, else a memo of its own.
 */
export class CleanRepeats {
  #clean = new Map<string, boolean>();
  #ctx: GuardContext | null = null;
  #own = new ScalarsMemo<GuardContext>();

  skip(call: NativeCall, ctx: GuardContext): boolean {
    if (ctx !== this.#ctx) {
      this.#clean.clear();
      this.#own.clear();
      this.#ctx = ctx;
    }
    if (ctx.repeats !== undefined) return ctx.repeats(call) && this.#clean.get(call.name) === true;
    return this.#own.same(call.name, call.scalars, ctx);
  }

  record(call: NativeCall, ctx: GuardContext, clean: boolean): void {
    if (ctx.repeats !== undefined) this.#clean.set(call.name, clean);
    else if (clean) this.#own.remember(call.name, call.scalars, ctx);
  }

  clear(): void {
    this.#clean.clear();
    this.#own.clear();
  }
}

/**
 * The per-call comparison a session shares among its rails: whether a
 * launch's scalars equal those of the previous launch of the same kernel.
 * Computed once per call (memoized by op id).
 */
export function scalarRepeats(): (call: NativeCall) => boolean {
  const last = new Map<string, { keys: string[]; values: number[] }>();
  let id = -1, value = false;
  return (call) => {
    if (call.id === id) return value;
    id = call.id;
    const s = call.scalars;
    let m = last.get(call.name);
    if (m === undefined) {
      m = { keys: [], values: [] };
      last.set(call.name, m);
    }
    let same = true, k = 0;
    for (const key in s) {
      const v = s[key];
      if (k >= m.keys.length || m.keys[k] !== key || m.values[k] !== v) {
        same = false;
        m.keys[k] = key;
      }
      m.values[k] = v;
      k++;
    }
    if (m.keys.length !== k) {
      same = false;
      m.keys.length = k;
      m.values.length = k;
    }
    value = same && k > 0;
    return value;
  };
}
