/* Launch geometry of the llama decode kernels (kernels/llama/), shared by
 * the GPU launchers (the kernels/llama .hip files) and the sim backend
 * (hip/sim/llama_kernels.c), through the generated launch exports, so that
 * both launch the same grid and block and refuse
 * the same configurations.
 *
 * Each fl_config_llama_* returns 0 and fills `d`, or returns 9
 * (FL_ERROR_INVALID_CONFIGURATION) for arguments the kernel cannot run:
 *   - any size equal to 0 (nothing to launch; CUDA refuses an empty grid with
 *     9, HIP with 1, so the config refuses it itself);
 *   - attention: head_dim > FL_LLAMA_MAX_HEAD_DIM (each lane keeps its share
 *     of a head in registers), n_head not a multiple of n_head_kv, or more
 *     than FL_LLAMA_MAX_GQA_GROUP query heads per KV head (the decode kernel
 *     keeps a group's queries and scores in shared memory), prefill with
 *     n_ctx < seq_len;
 *   - rope: odd head_dim (the rotation works on pairs);
 *   - argmax: n > 2^31 - 1 (the index is an int32);
 *   - a grid that some backend could not launch: past CUDA's limits (x up to
 *     2^31 - 1 blocks, y and z up to 65535; fl_launch_limits_default) or
 *     more than 2^32 - 1 threads along a dimension (HIP's bound), e.g. more
 *     than 16777215 embedding tokens or RMSNorm rows.
 *
 * A refusal is 9 (invalid configuration), also as the thread's last error:
 * the GPU exports return it before any launch (flgpu::refuse_launch); sim
 * checks FL_LLAMA_REFUSED_DIMS, a block of 2048 threads, in sim_check_launch.
 *
 * Every geometry below is independent of the wavefront width: the kernels
 * work in groups of 32 lanes (a warp on NVIDIA, half a wavefront on AMD).
 *
 * Plain C99, `static inline` only: usable from C, C++, CUDA and HIP.
 */
#ifndef FAULTLINE_LAUNCH_CONFIG_LLAMA_H
#define FAULTLINE_LAUNCH_CONFIG_LLAMA_H

#include <stdint.h>

#include "../launch_config.h"
#include "fl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_LLAMA_LANES 32u         /* lanes of a cooperating group (a row, a key) */
#define FL_LLAMA_BLOCK 256u        /* threads per block of the row and elementwise kernels */
#define FL_LLAMA_MAX_HEAD_DIM 256u /* attention: head_dim <= 256 */
#define FL_LLAMA_MAX_GQA_GROUP 32u /* attention decode: n_head / n_head_kv <= 32 */
#define FL_LLAMA_ELEMWISE_MAX_GRID 65535u
#define FL_MATVEC_ROWS 2u          /* output rows per block */
#define FL_MATVEC_SPLIT 4u         /* 32-lane groups per output row */
#define FL_MATMUL_TILE 64u         /* prefill matmul: 64 tokens x 64 outputs per block */
#define FL_MATMUL_TILE_K 16u       /* ... through tiles of 16 along in_dim */
#define FL_ROPE_HEADS_PER_THREAD 4u /* one angle, computed once, rotates up to 4 heads */
#define FL_ATTN_BLOCK 256u
#define FL_ATTN_PREFILL_QUERIES 4u /* (query, head) pairs per prefill block: one group each */
#define FL_ATTN_CHUNK FL_ATTN_DECODE_CHUNK /* ATTN_DECODE_CHUNK of ffi/kernels_llama.ts */
#define FL_MATVEC_Q_ROWS 8u        /* quantized mat-vec: output rows per block, in pairs ... */
#define FL_MATVEC_Q_SPLIT 2u       /* ... each pair shared by 2 groups of 32 lanes: 256 threads */
#define FL_DEQUANT_GROUP 32u       /* dequantization: one thread per 32 weights */
#define FL_FLASH_QUERIES 64u       /* flash prefill: queries of one head per block */
#define FL_FLASH_KEYS 32u          /* ... cache rows per tile */
#define FL_FLASH_THREADS 128u
#define FL_FLASH_MAX_HEAD_DIM 128u /* larger heads (and head_dim % 32 != 0) take the per-query kernel */

/* A geometry every backend refuses with 9: 2048 threads in a block. */
#define FL_LLAMA_REFUSED_DIMS fl_launch_dims_make(1, 1, 1, 1024, 1, 2)

/* 0 when every backend can launch `d` (see the top of this file), else 9. */
static inline int32_t fl_llama_fit(const fl_launch_dims *d) {
  int i;
  if (fl_launch_dims_check(*d, fl_launch_limits_default())) return 9;
  for (i = 0; i < 3; i++) {
    if ((uint64_t)d->grid[i] * d->block[i] > 0xffffffffull) return 9;
  }
  return 0;
}

/* Blocks for `units` work items of `per_block` each, saturated so that an
 * oversized grid is refused by the limit check instead of wrapping. */
static inline uint32_t fl_llama_blocks(uint64_t units, uint64_t per_block) {
  uint64_t b = (units + per_block - 1) / per_block;
  return b > 0xffffffffull ? 0xffffffffu : (uint32_t)b;
}

/* embed: one block per token, threads over dim. */
static inline int32_t fl_config_llama_embed(uint32_t n_tokens, uint32_t dim, uint32_t vocab,
                                            fl_launch_dims *d) {
  if (n_tokens == 0 || dim == 0 || vocab == 0) return 9;
  *d = fl_launch_dims_make(n_tokens, 1, 1, FL_LLAMA_BLOCK, 1, 1);
  return fl_llama_fit(d);
}

/* rmsnorm: one block per row. */
static inline int32_t fl_config_llama_rmsnorm(uint32_t rows, uint32_t dim, fl_launch_dims *d) {
  if (rows == 0 || dim == 0) return 9;
  *d = fl_launch_dims_make(rows, 1, 1, FL_LLAMA_BLOCK, 1, 1);
  return fl_llama_fit(d);
}

/* matvec: four 32-lane groups per output row, 2 rows per block. */
static inline int32_t fl_config_llama_matvec(uint32_t out_dim, uint32_t in_dim, fl_launch_dims *d) {
  if (out_dim == 0 || in_dim == 0) return 9;
  *d = fl_launch_dims_make(fl_llama_blocks(out_dim, FL_MATVEC_ROWS), 1, 1,
                           FL_MATVEC_ROWS * FL_MATVEC_SPLIT * FL_LLAMA_LANES, 1, 1);
  return fl_llama_fit(d);
}

/* matmul: 64x64 output tiles (x: outputs, y: tokens), 256 threads. */
static inline int32_t fl_config_llama_matmul(uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim,
                                             fl_launch_dims *d) {
  if (n_tokens == 0 || out_dim == 0 || in_dim == 0) return 9;
  *d = fl_launch_dims_make(fl_llama_blocks(out_dim, FL_MATMUL_TILE), fl_llama_blocks(n_tokens, FL_MATMUL_TILE),
                           1, FL_LLAMA_BLOCK, 1, 1);
  return fl_llama_fit(d);
}

/* quantized matvec: FL_MATVEC_Q_ROWS rows per block; in_dim must be whole blocks of `block` weights. */
static inline int32_t fl_config_llama_matvec_q(uint32_t out_dim, uint32_t in_dim, uint32_t block,
                                               fl_launch_dims *d) {
  if (out_dim == 0 || in_dim == 0 || in_dim % block != 0) return 9;
  *d = fl_launch_dims_make(fl_llama_blocks(out_dim, FL_MATVEC_Q_ROWS), 1, 1,
                           FL_MATVEC_Q_ROWS / 2 * FL_MATVEC_Q_SPLIT * FL_LLAMA_LANES, 1, 1);
  return fl_llama_fit(d);
}

/* rope: one thread per (row, pair, group of 4 heads). */
static inline int32_t fl_config_llama_rope(uint32_t seq_len, uint32_t heads, uint32_t head_dim,
                                           fl_launch_dims *d) {
  uint64_t groups, threads;
  if (seq_len == 0 || heads == 0 || head_dim == 0 || (head_dim & 1u)) return 9;
  groups = (heads + FL_ROPE_HEADS_PER_THREAD - 1) / FL_ROPE_HEADS_PER_THREAD;
  threads = (uint64_t)seq_len * (head_dim / 2) * groups;
  *d = fl_launch_dims_make(fl_llama_blocks(threads, FL_LLAMA_BLOCK), 1, 1, FL_LLAMA_BLOCK, 1, 1);
  return fl_llama_fit(d);
}

static inline int32_t fl_config_llama_attention_shape(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                                      uint32_t n_ctx) {
  if (n_head == 0 || n_head_kv == 0 || head_dim == 0 || n_ctx == 0) return 9;
  if (head_dim > FL_LLAMA_MAX_HEAD_DIM) return 9;
  if (n_head % n_head_kv != 0) return 9;
  if (n_head / n_head_kv > FL_LLAMA_MAX_GQA_GROUP) return 9;
  return 0;
}

/* attention prefill: one 32-lane group per (query, head), 4 per block. */
static inline int32_t fl_config_llama_attention_prefill(uint32_t seq_len, uint32_t n_head, uint32_t n_head_kv,
                                                        uint32_t head_dim, uint32_t n_ctx,
                                                        fl_launch_dims *d) {
  if (seq_len == 0 || n_ctx < seq_len) return 9;
  if (fl_config_llama_attention_shape(n_head, n_head_kv, head_dim, n_ctx)) return 9;
  *d = fl_launch_dims_make(fl_llama_blocks((uint64_t)seq_len * n_head, FL_ATTN_PREFILL_QUERIES), 1, 1,
                           FL_ATTN_PREFILL_QUERIES * FL_LLAMA_LANES, 1, 1);
  return fl_llama_fit(d);
}

/* Chunks of the split-context decode. */
static inline uint32_t fl_attn_decode_chunks(uint32_t n_ctx) {
  return (uint32_t)(((uint64_t)n_ctx + FL_ATTN_CHUNK - 1) / FL_ATTN_CHUNK);
}

/* Dynamic shared memory of the decode partial kernel: one float4 per thread
 * (key-slice sums), then a KV head's G scaled queries (G*head_dim), scores
 * (G*chunk) and softmax statistics (G*2), f32. At most 44.25 KiB, under the
 * 48 KiB every backend gives without opting in. */
static inline uint32_t fl_attn_decode_smem(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim) {
  if (fl_config_llama_attention_shape(n_head, n_head_kv, head_dim, 1)) return 0; /* refused anyway */
  return FL_ATTN_BLOCK * 16u + (n_head / n_head_kv) * (head_dim + FL_ATTN_CHUNK + 2u) * 4u;
}

/* attention decode: partial kernel (x: chunks, y: KV heads) then the combine
 * kernel (one block per query head). */
static inline int32_t fl_config_llama_attention_decode(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                                       uint32_t n_ctx, fl_launch_dims *partial,
                                                       fl_launch_dims *combine) {
  if (fl_config_llama_attention_shape(n_head, n_head_kv, head_dim, n_ctx)) return 9;
  *partial = fl_launch_dims_make(fl_attn_decode_chunks(n_ctx), n_head_kv, 1, FL_ATTN_BLOCK, 1, 1);
  *combine = fl_launch_dims_make(n_head, 1, 1, FL_ATTN_BLOCK, 1, 1);
  return fl_llama_fit(partial) ? 9 : fl_llama_fit(combine);
}

/* Elementwise kernels (kv append, silu_mul, add): a grid-stride loop over
 * `n` elements, 256 threads a block, at most 65535 blocks. */
static inline int32_t fl_config_llama_elementwise(uint64_t n, fl_launch_dims *d) {
  uint32_t b;
  if (n == 0) return 9;
  b = fl_llama_blocks(n, FL_LLAMA_BLOCK);
  if (b > FL_LLAMA_ELEMWISE_MAX_GRID) b = FL_LLAMA_ELEMWISE_MAX_GRID;
  *d = fl_launch_dims_make(b, 1, 1, FL_LLAMA_BLOCK, 1, 1);
  return fl_llama_fit(d);
}

static inline int32_t fl_config_llama_kv_append(uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim,
                                                uint32_t ctx_len, fl_launch_dims *d) {
  if (seq_len == 0 || n_head_kv == 0 || head_dim == 0 || ctx_len == 0) return 9;
  return fl_config_llama_elementwise((uint64_t)seq_len * n_head_kv * head_dim, d);
}

/* dequantization to f16: a grid-stride loop over the 32-weight groups; cols must be whole blocks. */
static inline int32_t fl_config_llama_dequant(uint32_t rows, uint32_t cols, uint32_t block, fl_launch_dims *d) {
  if (rows == 0 || cols == 0 || cols % block != 0) return 9;
  return fl_config_llama_elementwise((uint64_t)rows * (cols / FL_DEQUANT_GROUP), d);
}

/* Whether the flash prefill kernel takes a head of head_dim (else the per-query kernel does). */
static inline int fl_flash_head(uint32_t head_dim) {
  return head_dim <= FL_FLASH_MAX_HEAD_DIM && head_dim % 32u == 0;
}

/* Dynamic shared memory of the flash prefill kernel: the block's queries (f32, rows padded by 4),
 * a tile of K and of V rows (f16, padded by 8) and the tile's weights (f32, rows padded by 1):
 * 59648 bytes at head_dim 128, past the 48 KiB a kernel gets without opting in (it does) and within
 * the 64 KiB of an AMD workgroup. */
static inline uint32_t fl_flash_smem(uint32_t head_dim) {
  return FL_FLASH_QUERIES * (head_dim + 4u) * 4u + 2u * FL_FLASH_KEYS * (head_dim + 8u) * 2u +
         FL_FLASH_QUERIES * (FL_FLASH_KEYS + 1u) * 4u;
}

/* attention prefill over f16 caches: flash tiles (x: query tiles, y: heads) for the heads it takes,
 * else the per-query geometry of attention_prefill. */
static inline int32_t fl_config_llama_attention_prefill_f16(uint32_t seq_len, uint32_t n_head,
                                                            uint32_t n_head_kv, uint32_t head_dim,
                                                            uint32_t n_ctx, fl_launch_dims *d) {
  if (!fl_flash_head(head_dim)) {
    return fl_config_llama_attention_prefill(seq_len, n_head, n_head_kv, head_dim, n_ctx, d);
  }
  if (seq_len == 0 || n_ctx < seq_len) return 9;
  if (fl_config_llama_attention_shape(n_head, n_head_kv, head_dim, n_ctx)) return 9;
  *d = fl_launch_dims_make(fl_llama_blocks(seq_len, FL_FLASH_QUERIES), n_head, 1, FL_FLASH_THREADS, 1, 1);
  return fl_llama_fit(d);
}

/* argmax: one block per row; n must fit the int32 index (n <= 2^31 - 1). */
static inline int32_t fl_config_llama_argmax(uint32_t rows, uint32_t n, fl_launch_dims *d) {
  if (rows == 0 || n == 0 || n > 0x7fffffffu) return 9;
  *d = fl_launch_dims_make(rows, 1, 1, FL_LLAMA_BLOCK, 1, 1);
  return fl_llama_fit(d);
}

/* ---- fl_geometry_<name> of each llama kernel (see kernels/launch_config.h) ---- */

#define FL_GEOMETRY(kernel, call)                                                        \
  static inline int32_t fl_geometry_##kernel(const fl_args_##kernel *a, fl_launch_dims *d) { \
    return call;                                                                           \
  }
FL_GEOMETRY(embed_f32, fl_config_llama_embed(a->n_tokens, a->dim, a->vocab, d))
FL_GEOMETRY(embed_f16, fl_config_llama_embed(a->n_tokens, a->dim, a->vocab, d))
FL_GEOMETRY(rmsnorm, fl_config_llama_rmsnorm(a->rows, a->dim, d))
FL_GEOMETRY(matvec_f32, fl_config_llama_matvec(a->out_dim, a->in_dim, d))
FL_GEOMETRY(matvec_f16, fl_config_llama_matvec(a->out_dim, a->in_dim, d))
FL_GEOMETRY(matmul_f32, fl_config_llama_matmul(a->n_tokens, a->out_dim, a->in_dim, d))
FL_GEOMETRY(matmul_f16, fl_config_llama_matmul(a->n_tokens, a->out_dim, a->in_dim, d))
FL_GEOMETRY(rope, fl_config_llama_rope(a->seq_len, a->heads, a->head_dim, d))
FL_GEOMETRY(rope_dpos, fl_config_llama_rope(a->seq_len, a->heads, a->head_dim, d))
FL_GEOMETRY(attention_prefill,
            fl_config_llama_attention_prefill(a->seq_len, a->n_head, a->n_head_kv, a->head_dim, a->n_ctx, d))
FL_GEOMETRY(attention_decode,
            fl_config_llama_attention_decode(a->n_head, a->n_head_kv, a->head_dim, a->n_ctx, &d[0], &d[1]))
FL_GEOMETRY(kv_append, fl_config_llama_kv_append(a->seq_len, a->n_head_kv, a->head_dim, a->ctx_len, d))
FL_GEOMETRY(kv_append_dpos, fl_config_llama_kv_append(a->seq_len, a->n_head_kv, a->head_dim, a->ctx_len, d))
FL_GEOMETRY(silu_mul, fl_config_llama_elementwise(a->n, d))
FL_GEOMETRY(add, fl_config_llama_elementwise(a->n, d))
FL_GEOMETRY(argmax, fl_config_llama_argmax(a->rows, a->n, d))
FL_GEOMETRY(matvec_q8_0, fl_config_llama_matvec_q(a->out_dim, a->in_dim, 32u, d))
FL_GEOMETRY(matvec_q4_0, fl_config_llama_matvec_q(a->out_dim, a->in_dim, 32u, d))
FL_GEOMETRY(matvec_q4_k, fl_config_llama_matvec_q(a->out_dim, a->in_dim, 256u, d))
FL_GEOMETRY(dequant_q8_0, fl_config_llama_dequant(a->rows, a->cols, 32u, d))
FL_GEOMETRY(dequant_q4_0, fl_config_llama_dequant(a->rows, a->cols, 32u, d))
FL_GEOMETRY(dequant_q4_k, fl_config_llama_dequant(a->rows, a->cols, 256u, d))
FL_GEOMETRY(convert_f16, fl_config_llama_elementwise(a->n, d))
FL_GEOMETRY(gemm_f16, fl_config_llama_matmul(a->n_tokens, a->out_dim, a->in_dim, d))
FL_GEOMETRY(kv_append_f16, fl_config_llama_kv_append(a->seq_len, a->n_head_kv, a->head_dim, a->ctx_len, d))
FL_GEOMETRY(kv_append_dpos_f16,
            fl_config_llama_kv_append(a->seq_len, a->n_head_kv, a->head_dim, a->ctx_len, d))
FL_GEOMETRY(attention_prefill_f16, fl_config_llama_attention_prefill_f16(a->seq_len, a->n_head, a->n_head_kv,
                                                                         a->head_dim, a->n_ctx, d))
FL_GEOMETRY(attention_decode_f16,
            fl_config_llama_attention_decode(a->n_head, a->n_head_kv, a->head_dim, a->n_ctx, &d[0], &d[1]))
#undef FL_GEOMETRY

#ifdef __cplusplus
}
#endif
#endif
