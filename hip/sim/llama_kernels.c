/* sim backend: plain C reference implementations of the llama decode kernels
 * (declared in ffi/kernels_llama.ts; each sim_<name> gets its fl_args_<name>).
 * Straightforward loops in float with double accumulation; they are the
 * numerical oracle the GPU kernels are checked against. The generated launch
 * exports take launch geometry and refusals from
 * kernels/llama/launch_config_llama.h, exactly as on the GPU backends.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl_kernels.h"
#include "sim.h"
#include "sim_half.h"

#define DEV_F32(a) ((float *)(uintptr_t)(a))
#define DEV_CF32(a) ((const float *)(uintptr_t)(a))
#define DEV_CU16(a) ((const uint16_t *)(uintptr_t)(a))
#define DEV_CI32(a) ((const int32_t *)(uintptr_t)(a))
#define DEV_I32(a) ((int32_t *)(uintptr_t)(a))

static float half_to_float(uint16_t h) { return sim_half_to_float(h); }

static float nan_f32(void) {
  uint32_t bits = 0x7fc00000u;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* ---- embedding ---- */

static void embed(float *out, const void *table, const int32_t *tokens, uint32_t n_tokens, uint32_t dim,
                  uint32_t vocab, int f16) {
  for (uint32_t t = 0; t < n_tokens; t++) {
    int32_t tok = tokens[t];
    float *o = out + (uint64_t)t * dim;
    if (tok < 0 || (uint32_t)tok >= vocab) {
      for (uint32_t i = 0; i < dim; i++) o[i] = nan_f32();
      continue;
    }
    if (f16) {
      const uint16_t *row = (const uint16_t *)table + (uint64_t)tok * dim;
      for (uint32_t i = 0; i < dim; i++) o[i] = half_to_float(row[i]);
    } else {
      const float *row = (const float *)table + (uint64_t)tok * dim;
      for (uint32_t i = 0; i < dim; i++) o[i] = row[i];
    }
  }
}

void sim_embed_f32(const void *p) {
  const fl_args_embed_f32 *a = p;
  embed(DEV_F32(a->out), DEV_CF32(a->table), DEV_CI32(a->tokens), a->n_tokens, a->dim, a->vocab, 0);
}

void sim_embed_f16(const void *p) {
  const fl_args_embed_f16 *a = p;
  embed(DEV_F32(a->out), DEV_CU16(a->table), DEV_CI32(a->tokens), a->n_tokens, a->dim, a->vocab, 1);
}

/* ---- RMSNorm ---- */

void sim_rmsnorm(const void *p) {
  const fl_args_rmsnorm *a = p;
  const float *w = DEV_CF32(a->weight);
  for (uint32_t r = 0; r < a->rows; r++) {
    const float *x = DEV_CF32(a->x) + (uint64_t)r * a->dim;
    float *o = DEV_F32(a->out) + (uint64_t)r * a->dim;
    double ss = 0.0;
    for (uint32_t i = 0; i < a->dim; i++) ss += (double)x[i] * x[i];
    double scale = 1.0 / sqrt(ss / a->dim + (double)a->eps);
    for (uint32_t i = 0; i < a->dim; i++) o[i] = (float)(x[i] * scale * w[i]);
  }
}

/* ---- matvec / matmul: y[t, o] = sum_i W[o, i] x[t, i] ---- */

static void matmul(float *yv, const void *wv, const float *xv, uint32_t n_tokens, uint32_t out_dim,
                   uint32_t in_dim, int f16) {
  for (uint32_t t = 0; t < n_tokens; t++) {
    const float *x = xv + (uint64_t)t * in_dim;
    float *y = yv + (uint64_t)t * out_dim;
    for (uint32_t o = 0; o < out_dim; o++) {
      double acc = 0.0;
      if (f16) {
        const uint16_t *w = (const uint16_t *)wv + (uint64_t)o * in_dim;
        for (uint32_t i = 0; i < in_dim; i++) acc += (double)half_to_float(w[i]) * x[i];
      } else {
        const float *w = (const float *)wv + (uint64_t)o * in_dim;
        for (uint32_t i = 0; i < in_dim; i++) acc += (double)w[i] * x[i];
      }
      y[o] = (float)acc;
    }
  }
}

void sim_matvec_f32(const void *p) {
  const fl_args_matvec_f32 *a = p;
  matmul(DEV_F32(a->y), DEV_CF32(a->w), DEV_CF32(a->x), 1, a->out_dim, a->in_dim, 0);
}

void sim_matvec_f16(const void *p) {
  const fl_args_matvec_f16 *a = p;
  matmul(DEV_F32(a->y), DEV_CU16(a->w), DEV_CF32(a->x), 1, a->out_dim, a->in_dim, 1);
}

void sim_matmul_f32(const void *p) {
  const fl_args_matmul_f32 *a = p;
  matmul(DEV_F32(a->y), DEV_CF32(a->w), DEV_CF32(a->x), a->n_tokens, a->out_dim, a->in_dim, 0);
}

void sim_matmul_f16(const void *p) {
  const fl_args_matmul_f16 *a = p;
  matmul(DEV_F32(a->y), DEV_CU16(a->w), DEV_CF32(a->x), a->n_tokens, a->out_dim, a->in_dim, 1);
}

/* ---- RoPE (GGML "normal" mode: pairs (2i, 2i+1) within each head) ---- */

static void rope(float *xv, uint32_t seq_len, uint32_t heads, uint32_t head_dim, int32_t pos0,
                 float freq_base) {
  uint32_t half = head_dim / 2;
  for (uint32_t s = 0; s < seq_len; s++) {
    double pos = (double)pos0 + s;
    for (uint32_t i = 0; i < half; i++) {
      double theta = pos * pow((double)freq_base, -2.0 * i / head_dim);
      double c = cos(theta), sn = sin(theta);
      for (uint32_t h = 0; h < heads; h++) {
        float *x = xv + ((uint64_t)s * heads + h) * head_dim + 2 * i;
        double x0 = x[0], x1 = x[1];
        x[0] = (float)(x0 * c - x1 * sn);
        x[1] = (float)(x0 * sn + x1 * c);
      }
    }
  }
}

void sim_rope(const void *p) {
  const fl_args_rope *a = p;
  rope(DEV_F32(a->x), a->seq_len, a->heads, a->head_dim, a->pos_offset, a->freq_base);
}

void sim_rope_dpos(const void *p) {
  const fl_args_rope_dpos *a = p;
  rope(DEV_F32(a->x), a->seq_len, a->heads, a->head_dim, *DEV_CI32(a->pos), a->freq_base);
}

/* ---- attention (prefill and decode share one reference) ---- */

/* Prefill and decode share one reference: seq_len queries that are the last
 * seq_len of n_ctx cache positions (decode: seq_len 1). */
/* Element i of a cache of f32 or (f16 set) f16 elements. */
static double cache_at(const void *c, uint64_t i, int f16) {
  return f16 ? (double)half_to_float(((const uint16_t *)c)[i]) : (double)((const float *)c)[i];
}

static void attention(float *out, const float *qv, const void *kv, const void *vv, int f16, uint32_t seq_len,
                      uint32_t n_head, uint32_t n_head_kv, uint32_t D, uint32_t n_ctx) {
  uint32_t group = n_head / n_head_kv;
  uint64_t kv_row = (uint64_t)n_head_kv * D;
  double scale = 1.0 / sqrt((double)D);
  double *w = malloc(sizeof(double) * n_ctx);
  double *acc = malloc(sizeof(double) * D);
  if (!w || !acc) abort();
  for (uint32_t s = 0; s < seq_len; s++) {
    uint32_t last = n_ctx - seq_len + s; /* attends to rows 0 ..= last */
    for (uint32_t h = 0; h < n_head; h++) {
      const float *q = qv + ((uint64_t)s * n_head + h) * D;
      float *o = out + ((uint64_t)s * n_head + h) * D;
      const uint64_t hk = h / group;
      double m = -INFINITY, l = 0.0;
      for (uint32_t j = 0; j <= last; j++) {
        const uint64_t k = j * kv_row + hk * D;
        double dot = 0.0;
        for (uint32_t i = 0; i < D; i++) dot += (double)q[i] * cache_at(kv, k + i, f16);
        w[j] = dot * scale;
        if (w[j] > m) m = w[j];
      }
      for (uint32_t i = 0; i < D; i++) acc[i] = 0.0;
      for (uint32_t j = 0; j <= last; j++) {
        const uint64_t v = j * kv_row + hk * D;
        double e = exp(w[j] - m);
        l += e;
        for (uint32_t i = 0; i < D; i++) acc[i] += e * cache_at(vv, v + i, f16);
      }
      for (uint32_t i = 0; i < D; i++) o[i] = (float)(acc[i] / l);
    }
  }
  free(w);
  free(acc);
}

void sim_attention_prefill(const void *p) {
  const fl_args_attention_prefill *a = p;
  attention(DEV_F32(a->out), DEV_CF32(a->q), DEV_CF32(a->k_cache), DEV_CF32(a->v_cache), 0, a->seq_len, a->n_head,
            a->n_head_kv, a->head_dim, a->n_ctx);
}

void sim_attention_prefill_f16(const void *p) {
  const fl_args_attention_prefill_f16 *a = p;
  attention(DEV_F32(a->out), DEV_CF32(a->q), DEV_CU16(a->k_cache), DEV_CU16(a->v_cache), 1, a->seq_len, a->n_head,
            a->n_head_kv, a->head_dim, a->n_ctx);
}

/* The GPU backends keep partial results in `scratch` when the context spans
 * several chunks; the reference needs none, but writes the same extent, so an
 * undersized scratch faults here as it would there. */
static void touch_scratch(uint64_t scratch, uint32_t n_head, uint32_t head_dim, uint32_t n_ctx) {
  const uint64_t chunks = ((uint64_t)n_ctx + FL_ATTN_DECODE_CHUNK - 1) / FL_ATTN_DECODE_CHUNK;
  if (chunks > 1) {
    volatile float *s = DEV_F32(scratch);
    const uint64_t n = chunks * n_head * ((uint64_t)head_dim + 2);
    for (uint64_t i = 0; i < n; i++) s[i] = 0.0f;
  }
}

void sim_attention_decode(const void *p) {
  const fl_args_attention_decode *a = p;
  touch_scratch(a->scratch, a->n_head, a->head_dim, a->n_ctx);
  attention(DEV_F32(a->out), DEV_CF32(a->q), DEV_CF32(a->k_cache), DEV_CF32(a->v_cache), 0, 1, a->n_head,
            a->n_head_kv, a->head_dim, a->n_ctx);
}

void sim_attention_decode_f16(const void *p) {
  const fl_args_attention_decode_f16 *a = p;
  touch_scratch(a->scratch, a->n_head, a->head_dim, a->n_ctx);
  attention(DEV_F32(a->out), DEV_CF32(a->q), DEV_CU16(a->k_cache), DEV_CU16(a->v_cache), 1, 1, a->n_head,
            a->n_head_kv, a->head_dim, a->n_ctx);
}

/* ---- KV-cache append ---- */

/* f16 set: the caches hold f16 elements, each value rounded to nearest even. */
static void kv_append(void *k_cache, void *v_cache, const float *k, const float *v, uint32_t seq_len,
                      uint32_t n_head_kv, uint32_t head_dim, int64_t pos0, uint32_t ctx_len, int f16) {
  uint64_t row = (uint64_t)n_head_kv * head_dim;
  for (uint32_t s = 0; s < seq_len; s++) {
    int64_t pos = pos0 + s;
    if (pos < 0 || pos >= (int64_t)ctx_len) continue;
    const uint64_t dst = (uint64_t)pos * row, src = (uint64_t)s * row;
    if (!f16) {
      memcpy((float *)k_cache + dst, k + src, row * 4);
      memcpy((float *)v_cache + dst, v + src, row * 4);
      continue;
    }
    for (uint64_t i = 0; i < row; i++) {
      ((uint16_t *)k_cache)[dst + i] = sim_float_to_half(k[src + i]);
      ((uint16_t *)v_cache)[dst + i] = sim_float_to_half(v[src + i]);
    }
  }
}

#define DEV_PTR(a) ((void *)(uintptr_t)(a))

void sim_kv_append(const void *p) {
  const fl_args_kv_append *a = p;
  kv_append(DEV_PTR(a->k_cache), DEV_PTR(a->v_cache), DEV_CF32(a->k), DEV_CF32(a->v), a->seq_len, a->n_head_kv,
            a->head_dim, a->pos_offset, a->ctx_len, 0);
}

void sim_kv_append_dpos(const void *p) {
  const fl_args_kv_append_dpos *a = p;
  kv_append(DEV_PTR(a->k_cache), DEV_PTR(a->v_cache), DEV_CF32(a->k), DEV_CF32(a->v), a->seq_len, a->n_head_kv,
            a->head_dim, *DEV_CI32(a->pos), a->ctx_len, 0);
}

void sim_kv_append_f16(const void *p) {
  const fl_args_kv_append_f16 *a = p;
  kv_append(DEV_PTR(a->k_cache), DEV_PTR(a->v_cache), DEV_CF32(a->k), DEV_CF32(a->v), a->seq_len, a->n_head_kv,
            a->head_dim, a->pos_offset, a->ctx_len, 1);
}

void sim_kv_append_dpos_f16(const void *p) {
  const fl_args_kv_append_dpos_f16 *a = p;
  kv_append(DEV_PTR(a->k_cache), DEV_PTR(a->v_cache), DEV_CF32(a->k), DEV_CF32(a->v), a->seq_len, a->n_head_kv,
            a->head_dim, *DEV_CI32(a->pos), a->ctx_len, 1);
}

/* ---- elementwise ---- */

void sim_silu_mul(const void *p) {
  const fl_args_silu_mul *a = p;
  const float *g = DEV_CF32(a->gate), *u = DEV_CF32(a->up);
  float *o = DEV_F32(a->out);
  for (uint32_t i = 0; i < a->n; i++) {
    double x = g[i];
    o[i] = (float)(x / (1.0 + exp(-x)) * u[i]);
  }
}

void sim_add(const void *p) {
  const fl_args_add *a = p;
  const float *x = DEV_CF32(a->a), *y = DEV_CF32(a->b);
  float *o = DEV_F32(a->out);
  for (uint32_t i = 0; i < a->n; i++) o[i] = x[i] + y[i];
}

/* ---- argmax ---- */

void sim_argmax(const void *p) {
  const fl_args_argmax *a = p;
  for (uint32_t r = 0; r < a->rows; r++) {
    const float *x = DEV_CF32(a->x) + (uint64_t)r * a->n;
    int32_t best = -1;
    float bv = 0.0f;
    for (uint32_t i = 0; i < a->n; i++) {
      float v = x[i];
      if (v != v) continue;
      if (best < 0 || v > bv) best = (int32_t)i, bv = v;
    }
    DEV_I32(a->out)[r] = best;
  }
}
