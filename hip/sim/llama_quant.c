/* sim backend: C references of the quantized-weight kernels (ffi/kernels_quant.ts) and the prefill
 * GEMM path (ffi/kernels_gemm.ts). Block layouts as ggml's (scripts/model/quant.ts); mat-vecs and the
 * GEMM accumulate in double over the exact weights. The dequantization to f16 computes each weight
 * as the GPU kernels do (one f32 rounding of its exact value, kernels/llama/quant_blocks.h), then
 * rounds to nearest even, so both give the same bits.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "fl_kernels.h"
#include "sim.h"
#include "sim_half.h"

#define DEV(a) ((void *)(uintptr_t)(a))

static float load_half(const uint8_t *p) { return sim_half_to_float((uint16_t)(p[0] | (p[1] << 8))); }

/* Q4_K: scale and min of sub-block j from the 12 packed bytes (ggml's get_scale_min_k4). */
static void q4k_scale_min(const uint8_t *s, uint32_t j, uint32_t *sc, uint32_t *m) {
  if (j < 4) {
    *sc = s[j] & 63u;
    *m = s[j + 4] & 63u;
  } else {
    *sc = (s[j + 4] & 0xfu) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

enum quant { Q8_0, Q4_0, Q4_K };
static const uint32_t BLOCK[] = {32, 32, 256}, BYTES[] = {34, 18, 144};

/* The 32 weights of group g of a row (a Q8_0 / Q4_0 block, a Q4_K sub-block): exact in double, and
 * in f32 as the GPU computes them (exact too but for Q4_K's one rounding). */
static void group(enum quant t, const uint8_t *row, uint32_t g, double exact[32], float f32[32]) {
  if (t == Q8_0 || t == Q4_0) {
    const uint8_t *b = row + (uint64_t)g * BYTES[t];
    const float d = load_half(b);
    for (uint32_t j = 0; j < 32; j++) {
      const int q = t == Q8_0 ? (int)(int8_t)b[2 + j] : (j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4)) - 8;
      f32[j] = d * (float)q;
      exact[j] = (double)d * q;
    }
    return;
  }
  const uint8_t *b = row + (uint64_t)(g / 8) * BYTES[Q4_K];
  const uint32_t s = g % 8;
  uint32_t sc, m;
  q4k_scale_min(b + 4, s, &sc, &m);
  const float d1 = load_half(b) * (float)sc, m1 = load_half(b + 2) * (float)m;
  const uint8_t *qs = b + 16 + 32 * (s / 2);
  for (uint32_t l = 0; l < 32; l++) {
    const uint32_t q = (qs[l] >> (4 * (s % 2))) & 15u;
    f32[l] = fmaf(d1, (float)q, -m1);
    exact[l] = (double)d1 * q - (double)m1;
  }
}

static void matvec_q(enum quant t, float *y, const uint8_t *w, const float *x, uint32_t out_dim, uint32_t in_dim) {
  const uint64_t row_bytes = (uint64_t)(in_dim / BLOCK[t]) * BYTES[t];
  double exact[32];
  float f32[32];
  for (uint32_t o = 0; o < out_dim; o++) {
    double acc = 0.0;
    for (uint32_t g = 0; g < in_dim / 32; g++) {
      group(t, w + o * row_bytes, g, exact, f32);
      for (uint32_t l = 0; l < 32; l++) acc += exact[l] * x[32 * g + l];
    }
    y[o] = (float)acc;
  }
}

static void dequant(enum quant t, uint16_t *out, const uint8_t *w, uint32_t rows, uint32_t cols) {
  const uint64_t row_bytes = (uint64_t)(cols / BLOCK[t]) * BYTES[t];
  double exact[32];
  float f32[32];
  for (uint32_t r = 0; r < rows; r++) {
    for (uint32_t g = 0; g < cols / 32; g++) {
      group(t, w + r * row_bytes, g, exact, f32);
      for (uint32_t l = 0; l < 32; l++) out[(uint64_t)r * cols + 32 * g + l] = sim_float_to_half(f32[l]);
    }
  }
}

#define MATVEC(name, t)                                                             \
  void sim_##name(const void *p) {                                                  \
    const fl_args_##name *a = p;                                                    \
    matvec_q(t, DEV(a->y), DEV(a->w), DEV(a->x), a->out_dim, a->in_dim);            \
  }
#define DEQUANT(name, t)                                                            \
  void sim_##name(const void *p) {                                                  \
    const fl_args_##name *a = p;                                                    \
    dequant(t, DEV(a->out), DEV(a->w), a->rows, a->cols);                           \
  }
MATVEC(matvec_q8_0, Q8_0)
MATVEC(matvec_q4_0, Q4_0)
MATVEC(matvec_q4_k, Q4_K)
DEQUANT(dequant_q8_0, Q8_0)
DEQUANT(dequant_q4_0, Q4_0)
DEQUANT(dequant_q4_k, Q4_K)

void sim_convert_f16(const void *p) {
  const fl_args_convert_f16 *a = p;
  const float *x = DEV(a->x);
  uint16_t *out = DEV(a->out);
  for (uint32_t i = 0; i < a->n; i++) out[i] = sim_float_to_half(x[i]);
}

void sim_gemm_f16(const void *p) {
  const fl_args_gemm_f16 *a = p;
  const uint16_t *w = DEV(a->w), *x = DEV(a->x);
  float *y = DEV(a->y);
  for (uint32_t t = 0; t < a->n_tokens; t++) {
    const uint16_t *xt = x + (uint64_t)t * a->in_dim;
    for (uint32_t o = 0; o < a->out_dim; o++) {
      const uint16_t *wo = w + (uint64_t)o * a->in_dim;
      double acc = 0.0;
      for (uint32_t i = 0; i < a->in_dim; i++) acc += (double)sim_half_to_float(wo[i]) * sim_half_to_float(xt[i]);
      y[(uint64_t)t * a->out_dim + o] = (float)acc;
    }
  }
}

FL_EXPORT int32_t fl_blas_info(char *buf, int32_t cap) {
  const char *s = "reference (sim)";
  if (buf == NULL || cap <= 0) return FL_ERROR_INVALID_VALUE;
  size_t n = strlen(s);
  if (n >= (size_t)cap) n = (size_t)cap - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return FL_SUCCESS;
}
