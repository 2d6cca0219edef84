/* Launch exports of hip/launch_llama.h for the GPU backends. Each asks
 * kernels/llama/launch_config_llama.h for the geometry, then sets the device,
 * records the kernel's name and tag for fault info (gpu_common.h), calls the
 * kernel file's launcher and returns the launch status.
 *
 * A configuration the kernel cannot run is refused before any launch with
 * 9 (invalid configuration), also as the thread's last error: the same status
 * and last error as sim gives (sim_check_launch), and no kernel runs. */
#include "gpu_common.h"
#include "launch_llama.h"
#include "llama/launch_config_llama.h"
#include "llama/llama_launchers.h"

using flgpu::ptr;

int32_t fl_launch_embed_f32(int32_t dev, uint64_t stream, uint64_t out, uint64_t table, uint64_t tokens,
                            uint32_t n_tokens, uint32_t dim, uint32_t vocab) {
  fl_launch_dims d;
  if (fl_config_llama_embed(n_tokens, dim, vocab, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "embed_f32")) return st;
  launch_embed_f32(l.hstream, d, ptr<float>(out), ptr<const float>(table), ptr<const int32_t>(tokens), n_tokens,
                   dim, vocab);
  return flgpu::launch_end(l);
}

int32_t fl_launch_embed_f16(int32_t dev, uint64_t stream, uint64_t out, uint64_t table, uint64_t tokens,
                            uint32_t n_tokens, uint32_t dim, uint32_t vocab) {
  fl_launch_dims d;
  if (fl_config_llama_embed(n_tokens, dim, vocab, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "embed_f16")) return st;
  launch_embed_f16(l.hstream, d, ptr<float>(out), ptr<const __half>(table), ptr<const int32_t>(tokens), n_tokens,
                   dim, vocab);
  return flgpu::launch_end(l);
}

int32_t fl_launch_rmsnorm(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint64_t weight, uint32_t rows,
                          uint32_t dim, float eps) {
  fl_launch_dims d;
  if (fl_config_llama_rmsnorm(rows, dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "rmsnorm")) return st;
  launch_rmsnorm(l.hstream, d, ptr<float>(out), ptr<const float>(x), ptr<const float>(weight), rows, dim, eps);
  return flgpu::launch_end(l);
}

int32_t fl_launch_matvec_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t out_dim,
                             uint32_t in_dim) {
  fl_launch_dims d;
  if (fl_config_llama_matvec(out_dim, in_dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "matvec_f32")) return st;
  launch_matvec_f32(l.hstream, d, ptr<float>(y), ptr<const float>(w), ptr<const float>(x), out_dim, in_dim);
  return flgpu::launch_end(l);
}

int32_t fl_launch_matvec_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t out_dim,
                             uint32_t in_dim) {
  fl_launch_dims d;
  if (fl_config_llama_matvec(out_dim, in_dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "matvec_f16")) return st;
  launch_matvec_f16(l.hstream, d, ptr<float>(y), ptr<const __half>(w), ptr<const float>(x), out_dim, in_dim);
  return flgpu::launch_end(l);
}

int32_t fl_launch_matmul_f32(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t n_tokens,
                             uint32_t out_dim, uint32_t in_dim) {
  fl_launch_dims d;
  if (fl_config_llama_matmul(n_tokens, out_dim, in_dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "matmul_f32")) return st;
  launch_matmul_f32(l.hstream, d, ptr<float>(y), ptr<const float>(w), ptr<const float>(x), n_tokens, out_dim,
                    in_dim);
  return flgpu::launch_end(l);
}

int32_t fl_launch_matmul_f16(int32_t dev, uint64_t stream, uint64_t y, uint64_t w, uint64_t x, uint32_t n_tokens,
                             uint32_t out_dim, uint32_t in_dim) {
  fl_launch_dims d;
  if (fl_config_llama_matmul(n_tokens, out_dim, in_dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "matmul_f16")) return st;
  launch_matmul_f16(l.hstream, d, ptr<float>(y), ptr<const __half>(w), ptr<const float>(x), n_tokens, out_dim,
                    in_dim);
  return flgpu::launch_end(l);
}

int32_t fl_launch_rope(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len, uint32_t heads,
                       uint32_t head_dim, int32_t pos_offset, float freq_base) {
  fl_launch_dims d;
  if (fl_config_llama_rope(seq_len, heads, head_dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "rope")) return st;
  launch_rope(l.hstream, d, ptr<float>(x), seq_len, heads, head_dim, pos_offset, false, nullptr, freq_base);
  return flgpu::launch_end(l);
}

int32_t fl_launch_rope_dpos(int32_t dev, uint64_t stream, uint64_t x, uint32_t seq_len, uint32_t heads,
                            uint32_t head_dim, uint64_t pos, float freq_base) {
  fl_launch_dims d;
  if (fl_config_llama_rope(seq_len, heads, head_dim, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "rope_dpos")) return st;
  launch_rope(l.hstream, d, ptr<float>(x), seq_len, heads, head_dim, 0, true, ptr<const int32_t>(pos), freq_base);
  return flgpu::launch_end(l);
}

int32_t fl_launch_attention_prefill(int32_t dev, uint64_t stream, uint64_t out, uint64_t q, uint64_t k_cache,
                                    uint64_t v_cache, uint32_t seq_len, uint32_t n_head, uint32_t n_head_kv,
                                    uint32_t head_dim, uint32_t n_ctx) {
  fl_launch_dims d;
  if (fl_config_llama_attention_prefill(seq_len, n_head, n_head_kv, head_dim, n_ctx, &d)) {
    return flgpu::refuse_launch();
  }
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "attention_prefill")) return st;
  launch_attention_prefill(l.hstream, d, ptr<float>(out), ptr<const float>(q), ptr<const float>(k_cache),
                           ptr<const float>(v_cache), seq_len, n_head, n_head_kv, head_dim, n_ctx);
  return flgpu::launch_end(l);
}

int32_t fl_launch_attention_decode(int32_t dev, uint64_t stream, uint64_t out, uint64_t q, uint64_t k_cache,
                                   uint64_t v_cache, uint64_t scratch, uint32_t n_head, uint32_t n_head_kv,
                                   uint32_t head_dim, uint32_t n_ctx) {
  fl_launch_dims partial, combine;
  if (fl_config_llama_attention_decode(n_head, n_head_kv, head_dim, n_ctx, &partial, &combine)) {
    return flgpu::refuse_launch();
  }
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "attention_decode")) return st;
  launch_attention_decode(l.hstream, partial, combine, ptr<float>(out), ptr<const float>(q),
                          ptr<const float>(k_cache), ptr<const float>(v_cache), ptr<float>(scratch), n_head,
                          n_head_kv, head_dim, n_ctx);
  return flgpu::launch_end(l);
}

int32_t fl_launch_kv_append(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache, uint64_t k,
                            uint64_t v, uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim, int32_t pos_offset,
                            uint32_t ctx_len) {
  fl_launch_dims d;
  if (fl_config_llama_kv_append(seq_len, n_head_kv, head_dim, ctx_len, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "kv_append")) return st;
  launch_kv_append(l.hstream, d, ptr<float>(k_cache), ptr<float>(v_cache), ptr<const float>(k),
                   ptr<const float>(v), seq_len, n_head_kv, head_dim, pos_offset, false, nullptr, ctx_len);
  return flgpu::launch_end(l);
}

int32_t fl_launch_kv_append_dpos(int32_t dev, uint64_t stream, uint64_t k_cache, uint64_t v_cache, uint64_t k,
                                 uint64_t v, uint32_t seq_len, uint32_t n_head_kv, uint32_t head_dim, uint64_t pos,
                                 uint32_t ctx_len) {
  fl_launch_dims d;
  if (fl_config_llama_kv_append(seq_len, n_head_kv, head_dim, ctx_len, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "kv_append_dpos")) return st;
  launch_kv_append(l.hstream, d, ptr<float>(k_cache), ptr<float>(v_cache), ptr<const float>(k),
                   ptr<const float>(v), seq_len, n_head_kv, head_dim, 0, true, ptr<const int32_t>(pos), ctx_len);
  return flgpu::launch_end(l);
}

int32_t fl_launch_silu_mul(int32_t dev, uint64_t stream, uint64_t out, uint64_t gate, uint64_t up, uint32_t n) {
  fl_launch_dims d;
  if (fl_config_llama_elementwise(n, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "silu_mul")) return st;
  launch_silu_mul(l.hstream, d, ptr<float>(out), ptr<const float>(gate), ptr<const float>(up), n);
  return flgpu::launch_end(l);
}

int32_t fl_launch_add(int32_t dev, uint64_t stream, uint64_t out, uint64_t a, uint64_t b, uint32_t n) {
  fl_launch_dims d;
  if (fl_config_llama_elementwise(n, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "add")) return st;
  launch_add(l.hstream, d, ptr<float>(out), ptr<const float>(a), ptr<const float>(b), n);
  return flgpu::launch_end(l);
}

int32_t fl_launch_argmax(int32_t dev, uint64_t stream, uint64_t out, uint64_t x, uint32_t rows, uint32_t n) {
  fl_launch_dims d;
  if (fl_config_llama_argmax(rows, n, &d)) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, "argmax")) return st;
  launch_argmax(l.hstream, d, ptr<int32_t>(out), ptr<const float>(x), rows, n);
  return flgpu::launch_end(l);
}
