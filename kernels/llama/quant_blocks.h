/* Device-side reading of ggml's quantized blocks (scripts/model/quant.ts has the layouts), shared by
 * the quantized mat-vecs (matvec_quant.hip) and the dequantization to f16 (dequant.hip).
 *
 * Blocks of 34 and 18 bytes start on 2-byte boundaries only, so their words are read as two
 * 16-bit halves. Quantized bytes become floats without the conversion unit (a quarter of the FMA
 * rate): a byte b placed in the low mantissa byte of 2^23 reads as 2^23 + b, exactly, and one
 * subtraction gives b (or b - 128, b - 8) as a float.
 */
#ifndef FAULTLINE_QUANT_BLOCKS_H
#define FAULTLINE_QUANT_BLOCKS_H

#include "llama_common.h"

/* The 32-bit little-endian word at p (2-byte aligned). */
static __device__ __forceinline__ uint32_t fl_load_u32_a2(const uint8_t *p) {
  const uint16_t *h = reinterpret_cast<const uint16_t *>(p);
  return static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16);
}

/* The f16 whose bits are the low 16 of `bits`, as a float. */
static __device__ __forceinline__ float fl_half_bits(uint32_t bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
}

static __device__ __forceinline__ float fl_load_half(const uint8_t *p) {
  return __half2float(*reinterpret_cast<const __half *>(p));
}

/* Byte k of w as a float, minus `bias`: (2^23 + byte) - (2^23 + bias), both exact. */
static __device__ __forceinline__ float fl_byte_minus(uint32_t w, uint32_t k, float bias) {
  return __int_as_float(static_cast<int>(__byte_perm(w, 0x4B000000u, 0x7440u + k))) - (8388608.0f + bias);
}

/* Q4_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes in s[0..2]
 * (ggml's get_scale_min_k4). */
static __device__ __forceinline__ void fl_q4k_scale_min(const uint32_t s[3], uint32_t j, float *sc, float *m) {
  const auto byte = [&](uint32_t i) { return (s[i >> 2] >> (8 * (i & 3))) & 0xffu; };
  uint32_t a, b;
  if (j < 4) {
    a = byte(j) & 63u;
    b = byte(j + 4) & 63u;
  } else {
    a = (byte(j + 4) & 0xfu) | ((byte(j - 4) >> 6) << 4);
    b = (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4);
  }
  *sc = static_cast<float>(a);
  *m = static_cast<float>(b);
}

/* The 32 weights of group g (0-based, 32 weights each) of a row, as f32: Q8_0 / Q4_0 block g, Q4_K
 * sub-block g % 8 of super-block g / 8. Each weight is one rounding of its exact value (fmaf). */
struct FlQ8_0 {
  static constexpr uint32_t BLOCK = 32, BYTES = 34;
  static __device__ __forceinline__ void group(const uint8_t *row, uint32_t g, float out[32]) {
    const uint8_t *b = row + g * BYTES;
    const float d = fl_load_half(b);
#pragma unroll
    for (uint32_t i = 0; i < 8; i++) {
      const uint32_t u = fl_load_u32_a2(b + 2 + 4 * i) ^ 0x80808080u;
#pragma unroll
      for (uint32_t k = 0; k < 4; k++) out[4 * i + k] = d * fl_byte_minus(u, k, 128.0f);
    }
  }
};

struct FlQ4_0 {
  static constexpr uint32_t BLOCK = 32, BYTES = 18;
  static __device__ __forceinline__ void group(const uint8_t *row, uint32_t g, float out[32]) {
    const uint8_t *b = row + g * BYTES;
    const float d = fl_load_half(b);
#pragma unroll
    for (uint32_t i = 0; i < 4; i++) {
      const uint32_t w = fl_load_u32_a2(b + 2 + 4 * i);
      const uint32_t lo = w & 0x0f0f0f0fu, hi = (w >> 4) & 0x0f0f0f0fu;
#pragma unroll
      for (uint32_t k = 0; k < 4; k++) {
        out[4 * i + k] = d * fl_byte_minus(lo, k, 8.0f);
        out[16 + 4 * i + k] = d * fl_byte_minus(hi, k, 8.0f);
      }
    }
  }
};

struct FlQ4K {
  static constexpr uint32_t BLOCK = 256, BYTES = 144;
  static __device__ __forceinline__ void group(const uint8_t *row, uint32_t g, float out[32]) {
    const uint8_t *b = row + (g / 8) * BYTES;
    const uint32_t s = g % 8;
    const float d = fl_load_half(b), dmin = fl_load_half(b + 2);
    const uint32_t scales[3] = {fl_load_u32_a2(b + 4), fl_load_u32_a2(b + 8), fl_load_u32_a2(b + 12)};
    float sc, m;
    fl_q4k_scale_min(scales, s, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m; /* exact: 11-bit by 6-bit products */
    const uint8_t *q = b + 16 + 32 * (s / 2);
    const uint32_t shift = 4 * (s % 2);
#pragma unroll
    for (uint32_t i = 0; i < 8; i++) {
      const uint32_t w = (fl_load_u32_a2(q + 4 * i) >> shift) & 0x0f0f0f0fu;
#pragma unroll
      for (uint32_t k = 0; k < 4; k++) out[4 * i + k] = fmaf(d1, fl_byte_minus(w, k, 0.0f), -m1);
    }
  }
};

#endif
