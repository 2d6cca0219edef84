/* Host launchers of the llama decode kernels (kernels/llama/ .hip files), called
 * by the launch exports in hip/gpu_launch_llama.cpp. Each takes the geometry
 * its export obtained from launch_config_llama.h (which also refused what
 * the kernel cannot run) and enqueues the kernel(s); the caller reads the
 * launch status with hipGetLastError(). Alignment-dependent fast paths are
 * chosen here, from the pointers and sizes.
 */
#ifndef FAULTLINE_LLAMA_LAUNCHERS_H
#define FAULTLINE_LLAMA_LAUNCHERS_H

#include <stdint.h>

#include "launch_config_llama.h"
#include "vendor.h"

void launch_embed_f32(hipStream_t stream, const fl_launch_dims &d, float *out, const float *table,
                      const int32_t *tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab);
void launch_embed_f16(hipStream_t stream, const fl_launch_dims &d, float *out, const __half *table,
                      const int32_t *tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab);

void launch_rmsnorm(hipStream_t stream, const fl_launch_dims &d, float *out, const float *x, const float *weight,
                    uint32_t rows, uint32_t dim, float eps);

void launch_matvec_f32(hipStream_t stream, const fl_launch_dims &d, float *y, const float *w, const float *x,
                       uint32_t out_dim, uint32_t in_dim);
void launch_matvec_f16(hipStream_t stream, const fl_launch_dims &d, float *y, const __half *w, const float *x,
                       uint32_t out_dim, uint32_t in_dim);
void launch_matmul_f32(hipStream_t stream, const fl_launch_dims &d, float *y, const float *w, const float *x,
                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim);
void launch_matmul_f16(hipStream_t stream, const fl_launch_dims &d, float *y, const __half *w, const float *x,
                       uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim);

/* dpos: read the position from the device int32 at `pos` (launched as
 * given, null included) instead of using pos_offset. */
void launch_rope(hipStream_t stream, const fl_launch_dims &d, float *x, uint32_t seq_len, uint32_t heads,
                 uint32_t head_dim, int32_t pos_offset, bool dpos, const int32_t *pos, float freq_base);

void launch_attention_prefill(hipStream_t stream, const fl_launch_dims &d, float *out, const float *q,
                              const float *k_cache, const float *v_cache, uint32_t seq_len, uint32_t n_head,
                              uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx);
void launch_attention_decode(hipStream_t stream, const fl_launch_dims &partial, const fl_launch_dims &combine,
                             float *out, const float *q, const float *k_cache, const float *v_cache,
                             float *scratch, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                             uint32_t n_ctx);

/* dpos: as for launch_rope. */
void launch_kv_append(hipStream_t stream, const fl_launch_dims &d, float *k_cache, float *v_cache, const float *k,
                      const float *v, uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim, int32_t pos_offset,
                      bool dpos, const int32_t *pos, uint32_t ctx_len);

void launch_silu_mul(hipStream_t stream, const fl_launch_dims &d, float *out, const float *gate, const float *up,
                     uint32_t n);
void launch_add(hipStream_t stream, const fl_launch_dims &d, float *out, const float *a, const float *b,
                uint32_t n);
void launch_argmax(hipStream_t stream, const fl_launch_dims &d, int32_t *out, const float *x, uint32_t rows,
                   uint32_t n);

#endif
