/**
 * Test harness for the llama kernels: a seeded PRNG (the seed printed, new each
 * run unless FAULTLINE_SEED is set), device buffers filled from typed arrays or
 * poisoned with 0xFF bytes (NaN as f32, -1 as int32) so that an element a kernel
 * failed to write shows, and the relative-error check against the float64
 * references of ./llama.ts.
 */
import type { Device, DeviceBuffer, DeviceSlice } from "../../mod.ts";
import { f32ArrayToF16 } from "../model/f16.ts";
import { relativeError } from "./llama.ts";

/** The run's seed: $FAULTLINE_SEED, or a fresh one. Printed once per process. */
let runSeed: number | undefined;
export function testSeed(): number {
  if (runSeed !== undefined) return runSeed;
  let env: string | undefined;
  try {
    env = Deno.env.get("FAULTLINE_SEED");
  } catch {
    env = undefined;
  }
  runSeed = env !== undefined && env !== "" ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`kernel tests: seed ${runSeed} (repeat with FAULTLINE_SEED=${runSeed})`);
  return runSeed;
}

/** mulberry32, seeded from the run's seed and a label (one stream per test, independent of order). */
export class Rng {
  #s: number;
  constructor(seed: number, label = "") {
    let h = seed >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x9e3779b1) >>> 0;
    this.#s = h;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hiExclusive: number): number {
    return lo + Math.floor(this.next() * (hiExclusive - lo));
  }
  floats(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}

/** A test's PRNG: the run's seed, mixed with the test's name. */
export function rngFor(name: string): Rng {
  return new Rng(testSeed(), name);
}

/** f16 bits of each value (rounded to f32 first, as the kernel's f32 -> half), and the f16 values themselves. */
export function toF16(x: ArrayLike<number>): { bits: Uint16Array; values: Float64Array } {
  const bits = f32ArrayToF16(x);
  return { bits, values: Float64Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length)) };
}

/**
 * Device memory for a test: `bytes` plus `misalign` bytes in front, poisoned
 * with 0xFF; `arg` points `misalign` bytes in (a misaligned pointer when that
 * is not a multiple of 16).
 */
export class TestBuffer {
  readonly buf: DeviceBuffer;
  constructor(readonly device: Device, readonly bytes: number, name: string, readonly misalign = 0) {
    this.buf = device.malloc(Math.max(bytes + misalign, 4), { name });
    this.buf.fill(0xff);
  }
  get arg(): DeviceSlice {
    return this.buf.at(this.misalign);
  }
  upload(data: ArrayBufferView): this {
    this.buf.upload(data, { offset: this.misalign });
    return this;
  }
  poison(): void {
    this.buf.fill(0xff);
  }
  f32(n = this.bytes / 4): Float32Array {
    const out = new Float32Array(n);
    this.buf.download(out, { offset: this.misalign });
    return out;
  }
  i32(n = this.bytes / 4): Int32Array {
    const out = new Int32Array(n);
    this.buf.download(out, { offset: this.misalign });
    return out;
  }
  [Symbol.dispose](): void {
    this.buf.free();
  }
}

export function f32Buffer(device: Device, data: Float32Array, name: string, misalign = 0): TestBuffer {
  return new TestBuffer(device, data.byteLength, name, misalign).upload(data);
}

/** Throws unless ‖out − ref‖/‖ref‖ < tol (a NaN or infinity in `out` never passes). */
export function assertClose(out: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what: string): void {
  const err = relativeError(out, ref);
  if (!(err < tol)) {
    let firstBad = -1;
    for (let i = 0; i < ref.length; i++) {
      if (!Number.isFinite(out[i]) || Math.abs(out[i] - ref[i]) > tol * (Math.abs(ref[i]) + 1e-3)) {
        firstBad = i;
        break;
      }
    }
    const at = firstBad >= 0
      ? `; first bad element ${firstBad}: got ${out[firstBad]}, want ${ref[firstBad]}`
      : "";
    throw new Error(`${what}: relative error ${err} >= ${tol} (seed ${testSeed()})${at}`);
  }
}
