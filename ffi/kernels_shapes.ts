/** Shapes the llama kernel declarations share (ffi/kernels_llama.ts, ffi/kernels_kv16.ts). */

/** Keys per chunk of the split-context attention decode (FL_ATTN_DECODE_CHUNK). */
export const ATTN_DECODE_CHUNK = 64;

/** f32 elements of the attention decode scratch: partial results per (query head, chunk). */
export function attentionDecodeScratchFloats(n_head: number, head_dim: number, n_ctx: number): number {
  return Math.ceil(n_ctx / ATTN_DECODE_CHUNK) * n_head * (head_dim + 2);
}
