/**
 * Launch exports of the llama decode kernels (hip/launch_llama.h), in the same
 * shape as ffi/symbols.ts: one entry per export, the C prototype beside every
 * parameter. Spread into the main table by ffi/symbols.ts.
 */
export const llamaSymbols = {
  /** int32_t fl_launch_embed_f32(int32_t dev, uint64_t stream, uint64_t out, uint64_t table, uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab) */
  fl_launch_embed_f32: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t table */
      "u64", /* uint64_t tokens */
      "u32", /* uint32_t n_tokens */
      "u32", /* uint32_t dim */
      "u32", /* uint32_t vocab */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_embed_f16(int32_t dev, uint64_t stream, uint64_t out, uint64_t table, uint64_t tokens, uint32_t n_tokens, uint32_t dim, uint32_t vocab) */
  fl_launch_embed_f16: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t table */
      "u64", /* uint64_t tokens */
      "u32", /* uint32_t n_tokens */
      "u32", /* uint32_t dim */
      "u32", /* uint32_t vocab */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_rmsnorm(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint64_t weight, uint32_t rows, uint32_t dim, float eps) */
  fl_launch_rmsnorm: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t x */
      "u64", /* uint64_t weight */
      "u32", /* uint32_t rows */
      "u32", /* uint32_t dim */
      "f32", /* float eps */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_matvec_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t out_dim, uint32_t in_dim) */
  fl_launch_matvec_f32: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t y */
      "u64", /* uint64_t w */
      "u64", /* uint64_t x */
      "u32", /* uint32_t out_dim */
      "u32", /* uint32_t in_dim */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_matvec_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t out_dim, uint32_t in_dim) */
  fl_launch_matvec_f16: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t y */
      "u64", /* uint64_t w */
      "u64", /* uint64_t x */
      "u32", /* uint32_t out_dim */
      "u32", /* uint32_t in_dim */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_matmul_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) */
  fl_launch_matmul_f32: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t y */
      "u64", /* uint64_t w */
      "u64", /* uint64_t x */
      "u32", /* uint32_t n_tokens */
      "u32", /* uint32_t out_dim */
      "u32", /* uint32_t in_dim */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_matmul_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t n_tokens, uint32_t out_dim, uint32_t in_dim) */
  fl_launch_matmul_f16: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t y */
      "u64", /* uint64_t w */
      "u64", /* uint64_t x */
      "u32", /* uint32_t n_tokens */
      "u32", /* uint32_t out_dim */
      "u32", /* uint32_t in_dim */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_rope(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len, uint32_t heads, uint32_t head_dim, int32_t pos_offset, float freq_base) */
  fl_launch_rope: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t x */
      "u32", /* uint32_t seq_len */
      "u32", /* uint32_t heads */
      "u32", /* uint32_t head_dim */
      "i32", /* int32_t pos_offset */
      "f32", /* float freq_base */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_rope_dpos(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len, uint32_t heads, uint32_t head_dim, uint64_t pos, float freq_base) */
  fl_launch_rope_dpos: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t x */
      "u32", /* uint32_t seq_len */
      "u32", /* uint32_t heads */
      "u32", /* uint32_t head_dim */
      "u64", /* uint64_t pos */
      "f32", /* float freq_base */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_attention_prefill(int32_t dev, uint64_t stream, uint64_t out, uint64_t q, uint64_t k_cache, uint64_t v_cache, uint32_t seq_len, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx) */
  fl_launch_attention_prefill: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t q */
      "u64", /* uint64_t k_cache */
      "u64", /* uint64_t v_cache */
      "u32", /* uint32_t seq_len */
      "u32", /* uint32_t n_head */
      "u32", /* uint32_t n_head_kv */
      "u32", /* uint32_t head_dim */
      "u32", /* uint32_t n_ctx */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_attention_decode(int32_t dev, uint64_t stream, uint64_t out, uint64_t q, uint64_t k_cache, uint64_t v_cache, uint64_t scratch, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ctx) */
  fl_launch_attention_decode: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t q */
      "u64", /* uint64_t k_cache */
      "u64", /* uint64_t v_cache */
      "u64", /* uint64_t scratch */
      "u32", /* uint32_t n_head */
      "u32", /* uint32_t n_head_kv */
      "u32", /* uint32_t head_dim */
      "u32", /* uint32_t n_ctx */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_kv_append(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache, uint64_t k, uint64_t v, uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim, int32_t pos_offset, uint32_t ctx_len) */
  fl_launch_kv_append: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t k_cache */
      "u64", /* uint64_t v_cache */
      "u64", /* uint64_t k */
      "u64", /* uint64_t v */
      "u32", /* uint32_t seq_len */
      "u32", /* uint32_t n_head_kv */
      "u32", /* uint32_t head_dim */
      "i32", /* int32_t pos_offset */
      "u32", /* uint32_t ctx_len */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_kv_append_dpos(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache, uint64_t k, uint64_t v, uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim, uint64_t pos, uint32_t ctx_len) */
  fl_launch_kv_append_dpos: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t k_cache */
      "u64", /* uint64_t v_cache */
      "u64", /* uint64_t k */
      "u64", /* uint64_t v */
      "u32", /* uint32_t seq_len */
      "u32", /* uint32_t n_head_kv */
      "u32", /* uint32_t head_dim */
      "u64", /* uint64_t pos */
      "u32", /* uint32_t ctx_len */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_silu_mul(int32_t dev, uint64_t stream, uint64_t out, uint64_t gate, uint64_t up, uint32_t n) */
  fl_launch_silu_mul: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t gate */
      "u64", /* uint64_t up */
      "u32", /* uint32_t n */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_add(int32_t dev, uint64_t stream, uint64_t out, uint64_t a, uint64_t b, uint32_t n) */
  fl_launch_add: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t a */
      "u64", /* uint64_t b */
      "u32", /* uint32_t n */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_argmax(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint32_t rows, uint32_t n) */
  fl_launch_argmax: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t out */
      "u64", /* uint64_t x */
      "u32", /* uint32_t rows */
      "u32", /* uint32_t n */
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;
