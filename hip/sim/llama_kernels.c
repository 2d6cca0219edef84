/* sim backend: plain C reference implementations of the llama decode kernels
 * (hip/launch_llama.h). Straightforward loops in float with double
 * accumulation; they are the numerical oracle the GPU kernels are checked
 * against. Launch geometry and refusals come from
 * kernels/llama/launch_config_llama.h, exactly as on the GPU backends.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/llama/launch_config_llama.h"
#include "../launch_llama.h"
#include "sim.h"

#define DEV_F32(a) ((float *)(uintptr_t)(a))
#define DEV_CF32(a) ((const float *)(uintptr_t)(a))
#define DEV_CU16(a) ((const uint16_t *)(uintptr_t)(a))
#define DEV_CI32(a) ((const int32_t *)(uintptr_t)(a))
#define DEV_I32(a) ((int32_t *)(uintptr_t)(a))

/* IEEE binary16 -> binary32, exact (normals, subnormals, inf, NaN). */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  float f;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: man * 2^-24 */
      f = (float)man * 5.9604644775390625e-8f;
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  }
  memcpy(&f, &bits, sizeof f);
  return f;
}

static float nan_f32(void) {
  uint32_t bits = 0x7fc00000u;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* The common tail of every export: a configuration the kernel cannot run
 * is checked as FL_LLAMA_REFUSED_DIMS, which sim_check_launch refuses with 9
 * (and records as the last error), as the GPU backends have their runtime
 * refuse it; then the grid is checked against the device, and the kernel
 * enqueued. */
static int32_t llama_launch(int32_t dev, uint64_t stream, const char *name, int32_t config_status,
                            const fl_launch_dims *d, sim_kernel_fn fn, const void *args, size_t size) {
  fl_launch_dims e = config_status ? FL_LLAMA_REFUSED_DIMS : *d;
  int32_t st = sim_check_launch(dev, e.grid, e.block);
  if (st) return st;
  return sim_launch(dev, stream, name, fn, args, size);
}

/* ---- embedding ---- */

typedef struct {
  uint64_t out, table, tokens;
  uint32_t n_tokens, dim, vocab, f16;
} embed_args;

static void embed_kernel(const void *p) {
  const embed_args *a = p;
  float *out = DEV_F32(a->out);
  const int32_t *tokens = DEV_CI32(a->tokens);
  for (uint32_t t = 0; t < a->n_tokens; t++) {
    int32_t tok = tokens[t];
    float *o = out + (uint64_t)t * a->dim;
    if (tok < 0 || (uint32_t)tok >= a->vocab) {
      for (uint32_t i = 0; i < a->dim; i++) o[i] = nan_f32();
      continue;
    }
    if (a->f16) {
      const uint16_t *row = DEV_CU16(a->table) + (uint64_t)tok * a->dim;
      for (uint32_t i = 0; i < a->dim; i++) o[i] = half_to_float(row[i]);
    } else {
      const float *row = DEV_CF32(a->table) + (uint64_t)tok * a->dim;
      for (uint32_t i = 0; i < a->dim; i++) o[i] = row[i];
    }
  }
}

static int32_t embed_launch(int32_t dev, uint64_t stream, const char *name, uint64_t out, uint64_t table,
                            uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab, uint32_t f16) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_embed(n_tokens, dim, vocab, &d);
  embed_args a = {out, table, tokens, n_tokens, dim, vocab, f16};
  return llama_launch(dev, stream, name, cs, &d, embed_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_launch_embed_f32(int32_t dev, uint64_t stream, uint64_t out, uint64_t table,
                                      uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab) {
  return embed_launch(dev, stream, "embed_f32", out, table, tokens, n_tokens, dim, vocab, 0);
}

FL_EXPORT int32_t fl_launch_embed_f16(int32_t dev, uint64_t stream, uint64_t out, uint64_t table,
                                      uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab) {
  return embed_launch(dev, stream, "embed_f16", out, table, tokens, n_tokens, dim, vocab, 1);
}

/* ---- RMSNorm ---- */

typedef struct {
  uint64_t out, x, weight;
  uint32_t rows, dim;
  float eps;
} rmsnorm_args;

static void rmsnorm_kernel(const void *p) {
  const rmsnorm_args *a = p;
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

FL_EXPORT int32_t fl_launch_rmsnorm(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint64_t weight,
                                    uint32_t rows, uint32_t dim, float eps) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_rmsnorm(rows, dim, &d);
  rmsnorm_args a = {out, x, weight, rows, dim, eps};
  return llama_launch(dev, stream, "rmsnorm", cs, &d, rmsnorm_kernel, &a, sizeof a);
}

/* ---- matvec / matmul: y[t, o] = sum_i W[o, i] x[t, i] ---- */

typedef struct {
  uint64_t y, w, x;
  uint32_t n_tokens, out_dim, in_dim, f16;
} matmul_args;

static void matmul_kernel(const void *p) {
  const matmul_args *a = p;
  for (uint32_t t = 0; t < a->n_tokens; t++) {
    const float *x = DEV_CF32(a->x) + (uint64_t)t * a->in_dim;
    float *y = DEV_F32(a->y) + (uint64_t)t * a->out_dim;
    for (uint32_t o = 0; o < a->out_dim; o++) {
      double acc = 0.0;
      if (a->f16) {
        const uint16_t *w = DEV_CU16(a->w) + (uint64_t)o * a->in_dim;
        for (uint32_t i = 0; i < a->in_dim; i++) acc += (double)half_to_float(w[i]) * x[i];
      } else {
        const float *w = DEV_CF32(a->w) + (uint64_t)o * a->in_dim;
        for (uint32_t i = 0; i < a->in_dim; i++) acc += (double)w[i] * x[i];
      }
      y[o] = (float)acc;
    }
  }
}

static int32_t matmul_launch(int32_t dev, uint64_t stream, const char *name, int32_t cs, const fl_launch_dims *d,
                             uint64_t y, uint64_t w, uint64_t x, uint32_t n_tokens, uint32_t out_dim,
                             uint32_t in_dim, uint32_t f16) {
  matmul_args a = {y, w, x, n_tokens, out_dim, in_dim, f16};
  return llama_launch(dev, stream, name, cs, d, matmul_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_launch_matvec_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t out_dim, uint32_t in_dim) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_matvec(out_dim, in_dim, &d);
  return matmul_launch(dev, stream, "matvec_f32", cs, &d, y, w, x, 1, out_dim, in_dim, 0);
}

FL_EXPORT int32_t fl_launch_matvec_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t out_dim, uint32_t in_dim) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_matvec(out_dim, in_dim, &d);
  return matmul_launch(dev, stream, "matvec_f16", cs, &d, y, w, x, 1, out_dim, in_dim, 1);
}

FL_EXPORT int32_t fl_launch_matmul_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_matmul(n_tokens, out_dim, in_dim, &d);
  return matmul_launch(dev, stream, "matmul_f32", cs, &d, y, w, x, n_tokens, out_dim, in_dim, 0);
}

FL_EXPORT int32_t fl_launch_matmul_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_matmul(n_tokens, out_dim, in_dim, &d);
  return matmul_launch(dev, stream, "matmul_f16", cs, &d, y, w, x, n_tokens, out_dim, in_dim, 1);
}

/* ---- RoPE (GGML "normal" mode: pairs (2i, 2i+1) within each head) ---- */

typedef struct {
  uint64_t x, pos_ptr;
  uint32_t seq_len, heads, head_dim;
  int32_t pos_offset, use_ptr;
  float freq_base;
} rope_args;

static void rope_kernel(const void *p) {
  const rope_args *a = p;
  int32_t pos0 = a->use_ptr ? *DEV_CI32(a->pos_ptr) : a->pos_offset;
  uint32_t half = a->head_dim / 2;
  for (uint32_t s = 0; s < a->seq_len; s++) {
    double pos = (double)pos0 + s;
    for (uint32_t i = 0; i < half; i++) {
      double theta = pos * pow((double)a->freq_base, -2.0 * i / a->head_dim);
      double c = cos(theta), sn = sin(theta);
      for (uint32_t h = 0; h < a->heads; h++) {
        float *x = DEV_F32(a->x) + ((uint64_t)s * a->heads + h) * a->head_dim + 2 * i;
        double x0 = x[0], x1 = x[1];
        x[0] = (float)(x0 * c - x1 * sn);
        x[1] = (float)(x0 * sn + x1 * c);
      }
    }
  }
}

FL_EXPORT int32_t fl_launch_rope(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len, uint32_t heads,
                                 uint32_t head_dim, int32_t pos_offset, float freq_base) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_rope(seq_len, heads, head_dim, &d);
  rope_args a = {x, 0, seq_len, heads, head_dim, pos_offset, 0, freq_base};
  return llama_launch(dev, stream, "rope", cs, &d, rope_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_launch_rope_dpos(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len,
                                      uint32_t heads, uint32_t head_dim, uint64_t pos, float freq_base) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_rope(seq_len, heads, head_dim, &d);
  rope_args a = {x, pos, seq_len, heads, head_dim, 0, 1, freq_base};
  return llama_launch(dev, stream, "rope_dpos", cs, &d, rope_kernel, &a, sizeof a);
}

/* ---- attention (prefill and decode share one reference) ---- */

typedef struct {
  uint64_t out, q, k, v;
  uint32_t seq_len, n_head, n_head_kv, head_dim, n_ctx;
} attn_args;

static void attention_kernel(const void *p) {
  const attn_args *a = p;
  uint32_t D = a->head_dim, group = a->n_head / a->n_head_kv;
  uint64_t kv_row = (uint64_t)a->n_head_kv * D;
  double scale = 1.0 / sqrt((double)D);
  double *w = malloc(sizeof(double) * a->n_ctx);
  double *acc = malloc(sizeof(double) * D);
  if (!w || !acc) abort();
  for (uint32_t s = 0; s < a->seq_len; s++) {
    uint32_t last = a->n_ctx - a->seq_len + s; /* attends to rows 0 ..= last */
    for (uint32_t h = 0; h < a->n_head; h++) {
      const float *q = DEV_CF32(a->q) + ((uint64_t)s * a->n_head + h) * D;
      float *o = DEV_F32(a->out) + ((uint64_t)s * a->n_head + h) * D;
      const uint64_t hk = h / group;
      double m = -INFINITY, l = 0.0;
      for (uint32_t j = 0; j <= last; j++) {
        const float *k = DEV_CF32(a->k) + j * kv_row + hk * D;
        double dot = 0.0;
        for (uint32_t i = 0; i < D; i++) dot += (double)q[i] * k[i];
        w[j] = dot * scale;
        if (w[j] > m) m = w[j];
      }
      for (uint32_t i = 0; i < D; i++) acc[i] = 0.0;
      for (uint32_t j = 0; j <= last; j++) {
        const float *v = DEV_CF32(a->v) + j * kv_row + hk * D;
        double e = exp(w[j] - m);
        l += e;
        for (uint32_t i = 0; i < D; i++) acc[i] += e * v[i];
      }
      for (uint32_t i = 0; i < D; i++) o[i] = (float)(acc[i] / l);
    }
  }
  free(w);
  free(acc);
}

FL_EXPORT int32_t fl_launch_attention_prefill(int32_t dev, uint64_t stream, uint64_t out, uint64_t q,
                                              uint64_t k_cache, uint64_t v_cache, uint32_t seq_len,
                                              uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                              uint32_t n_ctx) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_attention_prefill(seq_len, n_head, n_head_kv, head_dim, n_ctx, &d);
  attn_args a = {out, q, k_cache, v_cache, seq_len, n_head, n_head_kv, head_dim, n_ctx};
  return llama_launch(dev, stream, "attention_prefill", cs, &d, attention_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_launch_attention_decode(int32_t dev, uint64_t stream, uint64_t out, uint64_t q,
                                             uint64_t k_cache, uint64_t v_cache, uint64_t scratch,
                                             uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                             uint32_t n_ctx) {
  fl_launch_dims partial, combine;
  int32_t st, cs = fl_config_llama_attention_decode(n_head, n_head_kv, head_dim, n_ctx, &partial, &combine);
  attn_args a = {out, q, k_cache, v_cache, 1, n_head, n_head_kv, head_dim, n_ctx};
  (void)scratch;
  if (!cs) {
    st = sim_check_launch(dev, combine.grid, combine.block);
    if (st) return st;
  }
  return llama_launch(dev, stream, "attention_decode", cs, &partial, attention_kernel, &a, sizeof a);
}

/* ---- KV-cache append ---- */

typedef struct {
  uint64_t k_cache, v_cache, k, v, pos_ptr;
  uint32_t seq_len, n_head_kv, head_dim, ctx_len;
  int32_t pos_offset, use_ptr;
} kv_append_args;

static void kv_append_kernel(const void *p) {
  const kv_append_args *a = p;
  int64_t pos0 = a->use_ptr ? *DEV_CI32(a->pos_ptr) : a->pos_offset;
  uint64_t row = (uint64_t)a->n_head_kv * a->head_dim;
  for (uint32_t s = 0; s < a->seq_len; s++) {
    int64_t pos = pos0 + s;
    if (pos < 0 || pos >= (int64_t)a->ctx_len) continue;
    memcpy(DEV_F32(a->k_cache) + (uint64_t)pos * row, DEV_CF32(a->k) + (uint64_t)s * row, row * 4);
    memcpy(DEV_F32(a->v_cache) + (uint64_t)pos * row, DEV_CF32(a->v) + (uint64_t)s * row, row * 4);
  }
}

FL_EXPORT int32_t fl_launch_kv_append(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache,
                                      uint64_t k, uint64_t v, uint32_t seq_len, uint32_t n_head_kv,
                                      uint32_t head_dim, int32_t pos_offset, uint32_t ctx_len) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_kv_append(seq_len, n_head_kv, head_dim, ctx_len, &d);
  kv_append_args a = {k_cache, v_cache, k, v, 0, seq_len, n_head_kv, head_dim, ctx_len, pos_offset, 0};
  return llama_launch(dev, stream, "kv_append", cs, &d, kv_append_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_launch_kv_append_dpos(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache,
                                           uint64_t k, uint64_t v, uint32_t seq_len, uint32_t n_head_kv,
                                           uint32_t head_dim, uint64_t pos, uint32_t ctx_len) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_kv_append(seq_len, n_head_kv, head_dim, ctx_len, &d);
  kv_append_args a = {k_cache, v_cache, k, v, pos, seq_len, n_head_kv, head_dim, ctx_len, 0, 1};
  return llama_launch(dev, stream, "kv_append_dpos", cs, &d, kv_append_kernel, &a, sizeof a);
}

/* ---- elementwise ---- */

typedef struct {
  uint64_t out, a, b;
  uint32_t n;
} binary_args;

static void silu_mul_kernel(const void *p) {
  const binary_args *a = p;
  const float *g = DEV_CF32(a->a), *u = DEV_CF32(a->b);
  float *o = DEV_F32(a->out);
  for (uint32_t i = 0; i < a->n; i++) {
    double x = g[i];
    o[i] = (float)(x / (1.0 + exp(-x)) * u[i]);
  }
}

static void add_kernel(const void *p) {
  const binary_args *a = p;
  const float *x = DEV_CF32(a->a), *y = DEV_CF32(a->b);
  float *o = DEV_F32(a->out);
  for (uint32_t i = 0; i < a->n; i++) o[i] = x[i] + y[i];
}

FL_EXPORT int32_t fl_launch_silu_mul(int32_t dev, uint64_t stream, uint64_t out, uint64_t gate, uint64_t up,
                                     uint32_t n) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_elementwise(n, &d);
  binary_args a = {out, gate, up, n};
  return llama_launch(dev, stream, "silu_mul", cs, &d, silu_mul_kernel, &a, sizeof a);
}

FL_EXPORT int32_t fl_launch_add(int32_t dev, uint64_t stream, uint64_t out, uint64_t a_, uint64_t b,
                                uint32_t n) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_elementwise(n, &d);
  binary_args a = {out, a_, b, n};
  return llama_launch(dev, stream, "add", cs, &d, add_kernel, &a, sizeof a);
}

/* ---- argmax ---- */

typedef struct {
  uint64_t out, x;
  uint32_t rows, n;
} argmax_args;

static void argmax_kernel(const void *p) {
  const argmax_args *a = p;
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

FL_EXPORT int32_t fl_launch_argmax(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint32_t rows,
                                   uint32_t n) {
  fl_launch_dims d;
  int32_t cs = fl_config_llama_argmax(rows, n, &d);
  argmax_args a = {out, x, rows, n};
  return llama_launch(dev, stream, "argmax", cs, &d, argmax_kernel, &a, sizeof a);
}
