/** Shapes and arguments the llama kernel declarations share (ffi/kernels_llama.ts, kernels_kv16.ts, kernels_quant.ts). */
import type { KernelArgValues } from "./kernel_spec.ts";

/** Keys per chunk of the split-context attention decode (FL_ATTN_DECODE_CHUNK). */
export const ATTN_DECODE_CHUNK = 64;

/** f32 elements of the attention decode scratch: partial results per (query head, chunk). */
export function attentionDecodeScratchFloats(n_head: number, head_dim: number, n_ctx: number): number {
  return Math.ceil(n_ctx / ATTN_DECODE_CHUNK) * n_head * (head_dim + 2);
}

/** y of y = W x: [out_dim] f32 (the f32, f16 and quantized mat-vecs share it). */
export const matvecY = {
  name: "y",
  type: "ptr",
  access: "w",
  elem: 4,
  extent: (a: KernelArgValues): number => a.out_dim * 4,
} as const;
/** x of y = W x: [in_dim] f32. */
export const matvecX = {
  name: "x",
  type: "ptr",
  access: "r",
  elem: 4,
  extent: (a: KernelArgValues): number => a.in_dim * 4,
} as const;
/** The dimensions of y = W x. */
export const matvecDims = [{ name: "out_dim", type: "u32" }, { name: "in_dim", type: "u32" }] as const;

/** The f32 rows a KV-cache append copies in (k, v: [seq_len, n_head_kv, head_dim]) and their dimensions. */
const appendRowBytes = (a: KernelArgValues): number => a.seq_len * a.n_head_kv * a.head_dim * 4;
export const kvAppendRows = [
  { name: "k", type: "ptr", access: "r", elem: 4, extent: appendRowBytes },
  { name: "v", type: "ptr", access: "r", elem: 4, extent: appendRowBytes },
  { name: "seq_len", type: "u32" },
  { name: "n_head_kv", type: "u32" },
  { name: "head_dim", type: "u32" },
] as const;
