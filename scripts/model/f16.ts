/**
 * f32 <-> f16 and f32 <-> bf16 conversion on bit patterns (numbers in 0..0xffff).
 * f16 goes through the runtime's Float16Array (every Deno 2 has it): round to nearest, ties to even,
 * subnormals, overflow to infinity, signed zeros, infinities; a NaN stays a NaN (its payload is the
 * runtime's). bf16 has no built-in type: it is the top half of an f32, rounded the same way.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f16 = new Float16Array(1);
const u16 = new Uint16Array(f16.buffer);

/** The f16 bit pattern nearest to `x` rounded to f32 (what a GPU's f32 -> half conversion gives). */
export function f32ToF16Bits(x: number): number {
  f16[0] = Math.fround(x);
  return u16[0];
}

/** The value of an f16 bit pattern. */
export function f16BitsToF32(h: number): number {
  u16[0] = h;
  return f16[0];
}

/** Convert f32 values to f16 bit patterns (values that are not a Float32Array are rounded to f32 first). */
export function f32ArrayToF16(src: ArrayLike<number>, out = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new RangeError(`output holds ${out.length} < ${src.length} values`);
  new Float16Array(out.buffer, out.byteOffset, src.length).set(
    src instanceof Float32Array ? src : Float32Array.from(src),
  );
  return out;
}

/** Convert f16 bit patterns to f32 values. */
export function f16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  if (out.length < src.length) throw new RangeError(`output holds ${out.length} < ${src.length} values`);
  out.set(new Float16Array(src.buffer, src.byteOffset, src.length));
  return out;
}

/** The bf16 bit pattern nearest to `x` (round to nearest even; NaN stays a quiet NaN). */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value of a bf16 bit pattern. */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** Convert bf16 bit patterns to f32 values. */
export function bf16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  if (out.length < src.length) throw new RangeError(`output holds ${out.length} < ${src.length} values`);
  const o32 = new Uint32Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  return out;
}

/** Convert f32 values to bf16 bit patterns. */
export function f32ArrayToBf16(src: ArrayLike<number>, out = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new RangeError(`output holds ${out.length} < ${src.length} values`);
  for (let i = 0; i < src.length; i++) out[i] = f32ToBf16Bits(src[i]);
  return out;
}
