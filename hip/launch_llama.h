/* Launch exports of the llama decode kernels (kernels/llama/, sim:
 * hip/sim/llama_*.c). Same conventions as hip/launch.h: device addresses are
 * uint64_t, sizes uint32_t, scalars float or int32_t; each export enqueues
 * its kernel(s) on `stream` of `dev` and returns the launch status only.
 *
 * Launchers validate no pointer, but no kernel indexes past what its own
 * arguments describe (the extents below, in elements). Configurations a
 * kernel cannot run are refused with 9 (FL_ERROR_INVALID_CONFIGURATION) on
 * every backend, by kernels/llama/launch_config_llama.h:
 *   - any size argument equal to 0;
 *   - attention: head_dim > 256 (FL_LLAMA_MAX_HEAD_DIM), n_head % n_head_kv != 0,
 *     n_head / n_head_kv > 32 (FL_LLAMA_MAX_GQA_GROUP), prefill with
 *     n_ctx < seq_len;
 *   - rope: odd head_dim;
 *   - argmax: n > 2^31 - 1 (the index is an int32);
 *   - a grid some backend could not launch (past CUDA's grid limits, or more
 *     than 2^32 - 1 threads along a dimension, HIP's bound), e.g. more than
 *     16777215 embedding tokens or RMSNorm rows.
 * A refusal is also the thread's last error, as for any bad launch geometry.
 *
 * Element types: f32 unless the name says f16 (IEEE half); token ids,
 * positions and argmax indices are int32. Matrices are row-major.
 */
#ifndef FAULTLINE_LAUNCH_LLAMA_H
#define FAULTLINE_LAUNCH_LLAMA_H

#include "faultline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Keys per chunk of the split-context attention decode: the partial-results
 * scratch holds ceil(n_ctx / FL_ATTN_DECODE_CHUNK) * n_head * (head_dim + 2) f32. */
#define FL_ATTN_DECODE_CHUNK 64

/* out[t, :] = table[tokens[t], :].
 * out: n_tokens*dim (w), table: vocab*dim (r), tokens: n_tokens int32 (r).
 * A token id outside [0, vocab) reads nothing and yields a row of NaN. */
FL_EXPORT int32_t fl_launch_embed_f32(int32_t dev, uint64_t stream, uint64_t out, uint64_t table,
                                      uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab);
FL_EXPORT int32_t fl_launch_embed_f16(int32_t dev, uint64_t stream, uint64_t out, uint64_t table,
                                      uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab);

/* out[r, i] = x[r, i] / sqrt(mean_i(x[r, :]^2) + eps) * weight[i].
 * out, x: rows*dim (out may equal x), weight: dim. */
FL_EXPORT int32_t fl_launch_rmsnorm(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint64_t weight,
                                    uint32_t rows, uint32_t dim, float eps);

/* Decode: y = W x. y: out_dim (w), w: out_dim*in_dim (r), x: in_dim (r).
 * f32 accumulation for both weight types. */
FL_EXPORT int32_t fl_launch_matvec_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t out_dim, uint32_t in_dim);
FL_EXPORT int32_t fl_launch_matvec_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t out_dim, uint32_t in_dim);

/* Prefill: y[t, :] = W x[t, :]. y: n_tokens*out_dim (w), w: out_dim*in_dim (r),
 * x: n_tokens*in_dim (r). */
FL_EXPORT int32_t fl_launch_matmul_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim);
FL_EXPORT int32_t fl_launch_matmul_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x,
                                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim);

/* Rotary position embedding, in place, llama layout as GGML's "normal" rope
 * (the one used for llama GGUF weights): within each head the pairs
 * (2i, 2i+1), i < head_dim/2, rotate by theta = pos * freq_base^(-2i/head_dim),
 * where pos = pos_offset + s for row s.
 * x: seq_len*heads*head_dim (rw), laid out [seq_len, heads, head_dim].
 * The _dpos form reads pos_offset from the device: pos: 1 int32 (r). */
FL_EXPORT int32_t fl_launch_rope(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len, uint32_t heads,
                                 uint32_t head_dim, int32_t pos_offset, float freq_base);
FL_EXPORT int32_t fl_launch_rope_dpos(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len,
                                      uint32_t heads, uint32_t head_dim, uint64_t pos, float freq_base);

/* Causal attention for a prefill of seq_len queries that are the last seq_len
 * of n_ctx cache positions: query s (position n_ctx - seq_len + s) attends to
 * cache rows 0 ..= n_ctx - seq_len + s, softmax scaled by 1/sqrt(head_dim).
 * Grouped-query: query head h reads KV head h / (n_head / n_head_kv).
 * out, q: seq_len*n_head*head_dim ([seq_len, n_head, head_dim]; out w, q r),
 * k_cache, v_cache: n_ctx*n_head_kv*head_dim ([ctx, n_head_kv, head_dim], r). */
FL_EXPORT int32_t fl_launch_attention_prefill(int32_t dev, uint64_t stream, uint64_t out, uint64_t q,
                                              uint64_t k_cache, uint64_t v_cache, uint32_t seq_len,
                                              uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                              uint32_t n_ctx);

/* Single-token attention over cache rows 0 .. n_ctx-1, split over the
 * context in chunks of FL_ATTN_DECODE_CHUNK keys (partial max and sum per
 * chunk, then a combine kernel).
 * out, q: n_head*head_dim (out w, q r), k_cache, v_cache: n_ctx*n_head_kv*head_dim (r),
 * scratch: ceil(n_ctx/FL_ATTN_DECODE_CHUNK)*n_head*(head_dim+2) f32 (w; the
 * GPU backends use it, sim does not touch it). */
FL_EXPORT int32_t fl_launch_attention_decode(int32_t dev, uint64_t stream, uint64_t out, uint64_t q,
                                             uint64_t k_cache, uint64_t v_cache, uint64_t scratch,
                                             uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                             uint32_t n_ctx);

/* KV-cache append: cache[pos_offset + s, :, :] = k[s, :, :] (and v) for s < seq_len.
 * k_cache, v_cache: ctx_len*n_head_kv*head_dim (w), k, v: seq_len*n_head_kv*head_dim (r).
 * Rows whose position falls outside [0, ctx_len) are not written.
 * The _dpos form reads pos_offset from the device: pos: 1 int32 (r). */
FL_EXPORT int32_t fl_launch_kv_append(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache,
                                      uint64_t k, uint64_t v, uint32_t seq_len, uint32_t n_head_kv,
                                      uint32_t head_dim, int32_t pos_offset, uint32_t ctx_len);
FL_EXPORT int32_t fl_launch_kv_append_dpos(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache,
                                           uint64_t k, uint64_t v, uint32_t seq_len, uint32_t n_head_kv,
                                           uint32_t head_dim, uint64_t pos, uint32_t ctx_len);

/* out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). out, gate, up: n. */
FL_EXPORT int32_t fl_launch_silu_mul(int32_t dev, uint64_t stream, uint64_t out, uint64_t gate, uint64_t up,
                                     uint32_t n);

/* out[i] = a[i] + b[i]. out, a, b: n (out may equal a or b). */
FL_EXPORT int32_t fl_launch_add(int32_t dev, uint64_t stream, uint64_t out, uint64_t a, uint64_t b, uint32_t n);

/* Greedy sampling: out[r] = the first index of the largest value of x[r, :]
 * (NaN ignored; -1 when the whole row is NaN). out: rows int32 (w), x: rows*n (r). */
FL_EXPORT int32_t fl_launch_argmax(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint32_t rows,
                                   uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
