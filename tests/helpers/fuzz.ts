/**
 * Seeded, bounded fuzzing inside the suite. Every run mutates the same seed
 * inputs with the same PRNG stream (FAULTLINE_FUZZ_SEED changes it,
 * FAULTLINE_FUZZ_SCALE multiplies the case counts), replays the saved
 * regression fixtures first, and on the first input whose check fails saves
 * it under tests/fixtures/fuzz/<kind>/ and fails with the seed, the case and
 * the fixture's path, so the failure reproduces and then stays tested.
 */

import { join } from "node:path";

export const FUZZ_SEED = Number(Deno.env.get("FAULTLINE_FUZZ_SEED") ?? 0x5eed);
const SCALE = Number(Deno.env.get("FAULTLINE_FUZZ_SCALE") ?? 1);

/** A case count scaled by FAULTLINE_FUZZ_SCALE. */
export function fuzzCases(base: number): number {
  return Math.max(1, Math.round(base * (Number.isFinite(SCALE) && SCALE > 0 ? SCALE : 1)));
}

/** A check that ran longer than this counts as a hang (it is measured, the check cannot be stopped). */
const HANG_MS = 5000;

/** sfc32: small, fast, seedable. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/** A fixed-size field of an input (a count, a length, a type, an offset): an integer, or a float64. */
export interface Field {
  at: number;
  size: 1 | 4 | 8;
  float?: boolean;
}

/** A float64 field set to an edge value, or moved from its own value. */
function setFloat(rng: Prng, b: Uint8Array, at: number) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const v = dv.getFloat64(at, true);
  const values = [
    0,
    -0,
    -1,
    0.5,
    1,
    1e6,
    2 ** 53,
    2 ** 64,
    NaN,
    Infinity,
    -Infinity,
    v * 2,
    v + 1,
    v - 1,
    -v,
  ];
  dv.setFloat64(at, rng.pick(values), true);
}

const INTERESTING_32 = [
  0,
  1,
  2,
  3,
  7,
  8,
  9,
  12,
  13,
  31,
  32,
  63,
  64,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
];
const INTERESTING_64 = [
  ...INTERESTING_32.map(BigInt),
  2n ** 32n,
  2n ** 40n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

function setInt(b: Uint8Array, at: number, size: 1 | 4 | 8, v: bigint) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (size === 1) dv.setUint8(at, Number(v & 0xffn));
  else if (size === 4) dv.setUint32(at, Number(v & 0xffffffffn), true);
  else dv.setBigUint64(at, BigInt.asUintN(64, v), true);
}

function interesting(rng: Prng, size: 1 | 4 | 8, near: number): bigint {
  if (rng.chance(0.25)) return BigInt(Math.max(0, near + rng.below(17) - 8)); // around the input's size
  if (size === 1) return BigInt(rng.pick([0, 1, 2, 0x7f, 0x80, 0xff]));
  return size === 4 ? BigInt(rng.pick(INTERESTING_32)) : rng.pick(INTERESTING_64);
}

/** One mutation of `input` (a new array): field values, bit flips, bytes, cuts, deletions, insertions, copies. */
function mutateOnce(rng: Prng, input: Uint8Array, fields: readonly Field[]): Uint8Array {
  const n = input.length;
  const b = input.slice();
  switch (rng.below(8)) {
    case 0:
    case 1: { // a known field set to an interesting value
      const f: Field = fields.length ? rng.pick(fields) : { at: rng.below(Math.max(1, n - 8)), size: 4 };
      if (f.at + f.size > n) return b;
      if (f.float) setFloat(rng, b, f.at);
      else setInt(b, f.at, f.size, interesting(rng, f.size, n));
      return b;
    }
    case 2: { // bit flips
      for (let k = 1 + rng.below(4); k > 0 && n > 0; k--) b[rng.below(n)] ^= 1 << rng.below(8);
      return b;
    }
    case 3: { // an interesting integer anywhere
      const size = rng.pick([1, 4, 8] as const);
      if (n >= size) setInt(b, rng.below(n - size + 1), size, interesting(rng, size, n));
      return b;
    }
    case 4: // cut short
      return b.slice(0, rng.below(n + 1));
    case 5: { // a run of bytes deleted
      const at = rng.below(n + 1);
      const len = Math.min(n - at, 1 + rng.below(64));
      const out = new Uint8Array(n - len);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + len), at);
      return out;
    }
    case 6: { // random bytes inserted
      const at = rng.below(n + 1);
      const len = 1 + rng.below(16);
      const out = new Uint8Array(n + len);
      out.set(b.subarray(0, at));
      for (let k = 0; k < len; k++) out[at + k] = rng.below(256);
      out.set(b.subarray(at), at + len);
      return out;
    }
    default: { // a region copied over another
      if (n < 2) return b;
      const len = 1 + rng.below(Math.min(64, n));
      const from = rng.below(n - len + 1);
      b.copyWithin(rng.below(n - len + 1), from, from + len);
      return b;
    }
  }
}

/** One to three mutations stacked. */
export function mutate(rng: Prng, input: Uint8Array, fields: readonly Field[] = []): Uint8Array {
  let out = input;
  for (let k = 1 + rng.below(3); k > 0; k--) out = mutateOnce(rng, out, out === input ? fields : []);
  return out;
}

const FIXTURES = decodeURIComponent(new URL("../fixtures/fuzz/", import.meta.url).pathname);

/** The saved failing inputs of one kind, replayed before every run. */
export function regressionInputs(kind: string): { name: string; bytes: Uint8Array }[] {
  const dir = join(FIXTURES, kind);
  const out: { name: string; bytes: Uint8Array }[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && !e.name.startsWith(".")) {
        out.push({ name: e.name, bytes: Deno.readFileSync(join(dir, e.name)) });
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function saveFailure(kind: string, bytes: Uint8Array, ext: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
  const name = [...digest.subarray(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join("") + ext;
  await Deno.mkdir(join(FIXTURES, kind), { recursive: true });
  const path = join(FIXTURES, kind, name);
  await Deno.writeFile(path, bytes);
  return path;
}

export interface FuzzOptions {
  /** Folder name under tests/fixtures/fuzz/ and the label in messages. */
  kind: string;
  /** File name ending of saved inputs (".gguf"). */
  ext: string;
  cases: number;
  /** Valid inputs to mutate, each with its known fields. */
  corpus: { bytes: Uint8Array; fields?: Field[] }[];
  /** Makes a case from a corpus input (default: `mutate`); what it returns is what a failure saves. */
  mutate?: (rng: Prng, input: Uint8Array, fields: readonly Field[]) => Uint8Array;
  /** Throws when the input exposes a bug: a crash, or a result that is not what the input says. */
  check: (input: Uint8Array, rng: Prng) => void | Promise<void>;
  seed?: number;
}

export interface FuzzStats {
  cases: number;
  fixtures: number;
  slowestMs: number;
}

/**
 * Replays the fixtures and checks the corpus inputs as they are, then checks `cases` mutated inputs; fails on
 * the first bad one, saved as a fixture.
 */
export async function fuzz(opts: FuzzOptions): Promise<FuzzStats> {
  const seed = opts.seed ?? FUZZ_SEED;
  const rng = new Prng(seed);
  const fixtures = regressionInputs(opts.kind);
  for (const f of fixtures) {
    try {
      await opts.check(f.bytes, new Prng(seed));
    } catch (e) {
      throw new Error(
        `${opts.kind} fuzz: regression fixture ${f.name} fails again: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
  for (const [k, s] of opts.corpus.entries()) {
    try {
      await opts.check(s.bytes, new Prng(seed));
    } catch (e) {
      throw new Error(`${opts.kind} fuzz: corpus input ${k} itself fails: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  let slowestMs = 0;
  for (let i = 0; i < opts.cases; i++) {
    const s = opts.corpus[i % opts.corpus.length];
    const input = (opts.mutate ?? mutate)(rng, s.bytes, s.fields ?? []);
    const t0 = performance.now();
    let failure: unknown = null;
    try {
      await opts.check(input, rng);
    } catch (e) {
      failure = e;
    }
    const ms = performance.now() - t0;
    slowestMs = Math.max(slowestMs, ms);
    if (failure === null && ms > HANG_MS) failure = new Error(`took ${Math.round(ms)} ms (a hang)`);
    if (failure !== null) {
      const path = await saveFailure(opts.kind, input, opts.ext);
      throw new Error(
        `${opts.kind} fuzz: case ${i} of FAULTLINE_FUZZ_SEED=${seed} fails (saved as ${path}): ${
          (failure as Error).message ?? failure
        }`,
        { cause: failure },
      );
    }
  }
  return { cases: opts.cases, fixtures: fixtures.length, slowestMs };
}
