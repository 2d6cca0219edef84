/**
 * GGML block quantization, byte for byte as ggml lays the blocks out (ggml-common.h), little-endian:
 *
 * - Q8_0, 32 weights in 34 bytes: f16 d, int8 qs[32]; w[j] = d * qs[j].
 * - Q4_0, 32 weights in 18 bytes: f16 d, uint8 qs[16]; w[j] = d * ((qs[j] & 15) - 8),
 *   w[j + 16] = d * ((qs[j] >> 4) - 8).
 * - Q4_K, 256 weights in 144 bytes: f16 d, f16 dmin, uint8 scales[12], uint8 qs[128]. Eight sub-blocks
 *   of 32 with a 6-bit scale sc and min m each (scaleMinK4); sub-block 2c+h takes nibble h of
 *   qs[32c .. 32c+31]: w = d * sc * q - dmin * m.
 * - Q6_K, 256 weights in 210 bytes (read only: GGUF files of the Q4_K_M mix hold some): uint8 ql[128],
 *   uint8 qh[64], int8 scales[16], f16 d.
 *
 * `dequantize` gives the exact values (float64: products of a widened f16 and small integers);
 * `quantizeRows` writes blocks (the reference quantizers of ggml for Q8_0 and Q4_0; for Q4_K a
 * one-pass min/max fit per sub-block, not ggml's iterative search, but valid blocks all the same).
 */
import { QUANT_BLOCKS, type QuantKernelType } from "../../ffi/kernels_quant.ts";
import { f16BitsToF32, f32ToF16Bits } from "./f16.ts";
import { ggmlBlock, GgmlType } from "./gguf_types.ts";

/** Block-quantized types faultline's kernels read (Q6_K is converted on the host, see gpu_model.ts). */
export type QuantType = QuantKernelType;

export interface QuantFormat {
  type: QuantType;
  ggml: number;
  /** Weights per block. */
  block: number;
  /** Bytes per block. */
  bytes: number;
}

const format = (type: QuantType, ggml: number): QuantFormat => ({
  type,
  ggml,
  block: QUANT_BLOCKS[type].weights,
  bytes: QUANT_BLOCKS[type].bytes,
});

export const QUANT_FORMATS: Readonly<Record<QuantType, QuantFormat>> = {
  q8_0: format("q8_0", GgmlType.Q8_0),
  q4_0: format("q4_0", GgmlType.Q4_0),
  q4_k: format("q4_k", GgmlType.Q4_K),
};

export function isQuantType(t: string): t is QuantType {
  return Object.hasOwn(QUANT_FORMATS, t);
}

/** The quantized type stored as ggml type `ggml`, or undefined. */
export function quantTypeOfGgml(ggml: number): QuantType | undefined {
  return (Object.values(QUANT_FORMATS).find((f) => f.ggml === ggml))?.type;
}

/** Bytes of one row of `rowLen` weights (rowLen a multiple of the block). */
export function quantRowBytes(type: QuantType, rowLen: number): number {
  const f = QUANT_FORMATS[type];
  if (rowLen % f.block !== 0) {
    throw new RangeError(`${type} rows hold whole blocks of ${f.block}; ${rowLen} weights is not`);
  }
  return (rowLen / f.block) * f.bytes;
}

/** Q4_K: scale and min of sub-block j (0..7) from the 12 packed bytes at `q[at ..]` (ggml's get_scale_min_k4). */
export function scaleMinK4(q: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [q[at + j] & 63, q[at + j + 4] & 63];
  return [
    (q[at + j + 4] & 0xf) | ((q[at + j - 4] >> 6) << 4),
    (q[at + j + 4] >> 4) | ((q[at + j] >> 6) << 4),
  ];
}

const half = (b: Uint8Array, at: number) => f16BitsToF32(b[at] | (b[at + 1] << 8));

function dequantQ8_0(b: Uint8Array, blk: number, out: Float64Array, o: number): void {
  const at = blk * 34, d = half(b, at);
  for (let j = 0; j < 32; j++) out[o + j] = d * ((b[at + 2 + j] << 24) >> 24);
}

function dequantQ4_0(b: Uint8Array, blk: number, out: Float64Array, o: number): void {
  const at = blk * 18, d = half(b, at);
  for (let j = 0; j < 16; j++) {
    const q = b[at + 2 + j];
    out[o + j] = d * ((q & 15) - 8);
    out[o + j + 16] = d * ((q >> 4) - 8);
  }
}

function dequantQ4_K(b: Uint8Array, blk: number, out: Float64Array, o: number): void {
  const at = blk * 144, d = half(b, at), dmin = half(b, at + 2);
  for (let s = 0; s < 8; s++) {
    const [sc, m] = scaleMinK4(b, at + 4, s);
    const qs = at + 16 + 32 * (s >> 1), shift = 4 * (s & 1);
    for (let l = 0; l < 32; l++) out[o + 32 * s + l] = d * sc * ((b[qs + l] >> shift) & 15) - dmin * m;
  }
}

function dequantQ6_K(b: Uint8Array, blk: number, out: Float64Array, o: number): void {
  const at = blk * 210, d = half(b, at + 208);
  for (let n = 0; n < 2; n++) {
    const ql = at + 64 * n, qh = at + 128 + 32 * n, sc = at + 192 + 8 * n, y = o + 128 * n;
    const scale = (k: number) => (b[sc + k] << 24) >> 24;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4, h = b[qh + l];
      out[y + l] = d * scale(is) * (((b[ql + l] & 15) | ((h & 3) << 4)) - 32);
      out[y + l + 32] = d * scale(is + 2) * (((b[ql + l + 32] & 15) | (((h >> 2) & 3) << 4)) - 32);
      out[y + l + 64] = d * scale(is + 4) * (((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32);
      out[y + l + 96] = d * scale(is + 6) * (((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32);
    }
  }
}

/** Per ggml type: its dequantizer, which reads the block layout ggml gives (gguf_types.ts sizes). */
const DEQUANT: Record<number, typeof dequantQ8_0> = {
  [GgmlType.Q8_0]: dequantQ8_0,
  [GgmlType.Q4_0]: dequantQ4_0,
  [GgmlType.Q4_K]: dequantQ4_K,
  [GgmlType.Q6_K]: dequantQ6_K,
};

/** Whether `dequantize` reads ggml type `ggml`. */
export function canDequantize(ggml: number): boolean {
  return Object.hasOwn(DEQUANT, ggml);
}

/** The exact values of `n` weights of ggml block type `ggml` (Q8_0, Q4_0, Q4_K, Q6_K) stored in `bytes`. */
export function dequantize(ggml: number, bytes: Uint8Array, n: number): Float64Array {
  const fn = DEQUANT[ggml];
  if (!fn) throw new RangeError(`no dequantizer for ggml type ${ggml}`);
  const { elements: block, bytes: blockBytes } = ggmlBlock(ggml)!;
  if (n % block !== 0) throw new RangeError(`${n} weights is not a whole number of ${block}-weight blocks`);
  if (bytes.length < (n / block) * blockBytes) {
    throw new RangeError(`${n} weights need ${(n / block) * blockBytes} bytes, got ${bytes.length}`);
  }
  const out = new Float64Array(n);
  for (let b = 0; b < n / block; b++) fn(bytes, b, out, b * block);
  return out;
}

function quantQ8_0(x: ArrayLike<number>, i0: number, out: Uint8Array, at: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i0 + j]));
  const d = Math.fround(amax / 127), id = d ? Math.fround(1 / d) : 0;
  const h = f32ToF16Bits(d);
  out[at] = h & 255;
  out[at + 1] = h >> 8;
  for (let j = 0; j < 32; j++) out[at + 2 + j] = roundAway(Math.fround(x[i0 + j] * id)) & 255;
}

function quantQ4_0(x: ArrayLike<number>, i0: number, out: Uint8Array, at: number): void {
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++) {
    if (amax < Math.abs(x[i0 + j])) {
      amax = Math.abs(x[i0 + j]);
      max = x[i0 + j];
    }
  }
  const d = Math.fround(max / -8), id = d ? Math.fround(1 / d) : 0;
  const h = f32ToF16Bits(d);
  out[at] = h & 255;
  out[at + 1] = h >> 8;
  const q = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
  for (let j = 0; j < 16; j++) out[at + 2 + j] = q(x[i0 + j]) | (q(x[i0 + 16 + j]) << 4);
}

/** Q4_K: packs the 6-bit scales ls[8] and mins lm[8] as scaleMinK4 reads them. */
function packScalesK4(ls: number[], lm: number[], out: Uint8Array, at: number): void {
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      out[at + j] = ls[j];
      out[at + j + 4] = lm[j];
    } else {
      out[at + j + 4] = (ls[j] & 0xf) | ((lm[j] & 0xf) << 4);
      out[at + j - 4] |= (ls[j] >> 4) << 6;
      out[at + j] |= (lm[j] >> 4) << 6;
    }
  }
}

function quantQ4_K(x: ArrayLike<number>, i0: number, out: Uint8Array, at: number): void {
  const scales: number[] = [], mins: number[] = [];
  for (let s = 0; s < 8; s++) {
    let lo = 0, hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      lo = Math.min(lo, x[i0 + 32 * s + l]);
      hi = Math.max(hi, x[i0 + 32 * s + l]);
    }
    scales.push(Math.max(0, hi - lo) / 15);
    mins.push(-lo);
  }
  const dh = f32ToF16Bits(Math.max(...scales) / 63), mh = f32ToF16Bits(Math.max(...mins) / 63);
  const d = f16BitsToF32(dh), dmin = f16BitsToF32(mh);
  const fit = (v: number, unit: number) => unit > 0 ? Math.min(63, Math.round(v / unit)) : 0;
  const ls = scales.map((v) => fit(v, d)), lm = mins.map((v) => fit(v, dmin));
  out.fill(0, at, at + 144);
  out[at] = dh & 255;
  out[at + 1] = dh >> 8;
  out[at + 2] = mh & 255;
  out[at + 3] = mh >> 8;
  packScalesK4(ls, lm, out, at + 4);
  for (let s = 0; s < 8; s++) {
    const step = d * ls[s], off = dmin * lm[s], qs = at + 16 + 32 * (s >> 1), shift = 4 * (s & 1);
    for (let l = 0; l < 32; l++) {
      const q = step > 0 ? Math.max(0, Math.min(15, Math.round((x[i0 + 32 * s + l] + off) / step))) : 0;
      out[qs + l] |= q << shift;
    }
  }
}

/** roundf: halves away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

const QUANT = { q8_0: quantQ8_0, q4_0: quantQ4_0, q4_k: quantQ4_K } as const;

/** Quantizes rows of `rowLen` weights (rowLen a multiple of the block) into ggml blocks. */
export function quantizeRows(type: QuantType, x: ArrayLike<number>, rowLen: number): Uint8Array {
  const f = QUANT_FORMATS[type];
  const rowBytes = quantRowBytes(type, rowLen);
  if (x.length % rowLen !== 0) throw new RangeError(`${x.length} weights is not whole rows of ${rowLen}`);
  const out = new Uint8Array((x.length / rowLen) * rowBytes);
  const fn = QUANT[type];
  for (let b = 0; b < x.length / f.block; b++) fn(x, b * f.block, out, b * f.bytes);
  return out;
}
