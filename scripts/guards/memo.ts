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
