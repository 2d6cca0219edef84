/**
 * Declarations of the llama kernels (kernels/llama/): each kernel's
 * one description, from which its launch export is generated (see
 * ffi/kernels_builtin.ts). Each pointer argument says how the kernel touches it and
 * how many bytes from the pointer on, as a function of the other arguments:
 * the extents the guard rails check. f32 tensors are 4-byte elements, f16 2,
 * token ids and positions int32. The quantized-weight kernels (ffi/kernels_quant.ts), the prefill
 * GEMM path (ffi/kernels_gemm.ts) and the f16 KV-cache kernels (ffi/kernels_kv16.ts) are declared in
 * their own files and listed in llamaKernels too.
 *
 *   launch(device, stream, llamaKernels.rope, { x, seq_len: 1, heads: 32, head_dim: 128,
 *     pos_offset: 7, freq_base: 10000 });
 */
import { defineKernel, type KernelArgSpec } from "./kernel_spec.ts";
import { gemmKernels } from "./kernels_gemm.ts";
import { kv16Kernels } from "./kernels_kv16.ts";
import { quantKernels } from "./kernels_quant.ts";
import { attentionDecodeScratchFloats } from "./kernels_shapes.ts";

export { attentionDecodeScratchFloats, ATTN_DECODE_CHUNK } from "./kernels_shapes.ts";

const embedArgs = (tableElem: number) =>
  [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.n_tokens * a.dim * 4 },
    { name: "table", type: "ptr", access: "r", elem: tableElem, extent: (a) => a.vocab * a.dim * tableElem },
    { name: "tokens", type: "ptr", access: "r", elem: 4, extent: (a) => a.n_tokens * 4 },
    { name: "n_tokens", type: "u32" },
    { name: "dim", type: "u32" },
    { name: "vocab", type: "u32" },
  ] as const satisfies readonly KernelArgSpec[];

/** out[t, :] = table[tokens[t], :], f32 table; a token id outside [0, vocab) reads nothing and gives a NaN row. */
export const embedF32 = defineKernel({
  name: "embed_f32",
  args: embedArgs(4),
});
/** out[t, :] = table[tokens[t], :], f16 table, f32 out. */
export const embedF16 = defineKernel({
  name: "embed_f16",
  args: embedArgs(2),
});

/** out = x / sqrt(mean(x^2) + eps) * weight, per row of [rows, dim]; out may equal x. */
export const rmsnorm = defineKernel({
  name: "rmsnorm",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.rows * a.dim * 4 },
    { name: "x", type: "ptr", access: "r", elem: 4, extent: (a) => a.rows * a.dim * 4 },
    { name: "weight", type: "ptr", access: "r", elem: 4, extent: (a) => a.dim * 4 },
    { name: "rows", type: "u32" },
    { name: "dim", type: "u32" },
    { name: "eps", type: "f32" },
  ],
});

const matvecArgs = (wElem: number) =>
  [
    { name: "y", type: "ptr", access: "w", elem: 4, extent: (a) => a.out_dim * 4 },
    { name: "w", type: "ptr", access: "r", elem: wElem, extent: (a) => a.out_dim * a.in_dim * wElem },
    { name: "x", type: "ptr", access: "r", elem: 4, extent: (a) => a.in_dim * 4 },
    { name: "out_dim", type: "u32" },
    { name: "in_dim", type: "u32" },
  ] as const satisfies readonly KernelArgSpec[];

/** Decode y = W x, W [out_dim, in_dim] f32 (row-major), f32 accumulation. */
export const matvecF32 = defineKernel({
  name: "matvec_f32",
  args: matvecArgs(4),
});
/** Decode y = W x, W [out_dim, in_dim] f16, f32 accumulation. */
export const matvecF16 = defineKernel({
  name: "matvec_f16",
  args: matvecArgs(2),
});

const matmulArgs = (wElem: number) =>
  [
    { name: "y", type: "ptr", access: "w", elem: 4, extent: (a) => a.n_tokens * a.out_dim * 4 },
    { name: "w", type: "ptr", access: "r", elem: wElem, extent: (a) => a.out_dim * a.in_dim * wElem },
    { name: "x", type: "ptr", access: "r", elem: 4, extent: (a) => a.n_tokens * a.in_dim * 4 },
    { name: "n_tokens", type: "u32" },
    { name: "out_dim", type: "u32" },
    { name: "in_dim", type: "u32" },
  ] as const satisfies readonly KernelArgSpec[];

/** Prefill y[t] = W x[t], W f32. */
export const matmulF32 = defineKernel({
  name: "matmul_f32",
  args: matmulArgs(4),
});
/** Prefill y[t] = W x[t], W f16, f32 accumulation. */
export const matmulF16 = defineKernel({
  name: "matmul_f16",
  args: matmulArgs(2),
});

const ropeX = {
  name: "x",
  type: "ptr",
  access: "rw",
  elem: 4,
  extent: (a: Readonly<Record<string, number>>) => a.seq_len * a.heads * a.head_dim * 4,
} as const;

/**
 * Rotary position embedding in place on x [seq_len, heads, head_dim], in the llama layout (GGML's
 * "normal" rope, the one llama GGUF weights use): within each head the pairs (2i, 2i+1), i < head_dim/2,
 * rotate by theta = pos * freq_base^(-2i/head_dim), where pos = pos_offset + s for row s.
 */
export const rope = defineKernel({
  name: "rope",
  args: [
    ropeX,
    { name: "seq_len", type: "u32" },
    { name: "heads", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "pos_offset", type: "i32" },
    { name: "freq_base", type: "f32" },
  ],
});

/** RoPE with the position offset read from one device int32 (the decode path). */
export const ropeDpos = defineKernel({
  name: "rope_dpos",
  args: [
    ropeX,
    { name: "seq_len", type: "u32" },
    { name: "heads", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: () => 4 },
    { name: "freq_base", type: "f32" },
  ],
});

/**
 * Causal attention for a prefill of seq_len queries that are the last seq_len of n_ctx cache positions:
 * query s (position n_ctx - seq_len + s) attends to cache rows 0 ..= n_ctx - seq_len + s, softmax scaled
 * by 1/sqrt(head_dim). Grouped-query: query head h reads KV head h / (n_head / n_head_kv). out, q are
 * [seq_len, n_head, head_dim]; the caches [n_ctx, n_head_kv, head_dim].
 */
export const attentionPrefill = defineKernel({
  name: "attention_prefill",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.seq_len * a.n_head * a.head_dim * 4 },
    { name: "q", type: "ptr", access: "r", elem: 4, extent: (a) => a.seq_len * a.n_head * a.head_dim * 4 },
    {
      name: "k_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a) => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    {
      name: "v_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a) => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    { name: "seq_len", type: "u32" },
    { name: "n_head", type: "u32" },
    { name: "n_head_kv", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "n_ctx", type: "u32" },
  ],
});

/**
 * Single-token attention over cache rows 0 .. n_ctx-1, split over the context in chunks of
 * ATTN_DECODE_CHUNK keys (partial max and sum per chunk in `scratch`, then a combine kernel).
 */
export const attentionDecode = defineKernel({
  name: "attention_decode",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.n_head * a.head_dim * 4 },
    { name: "q", type: "ptr", access: "r", elem: 4, extent: (a) => a.n_head * a.head_dim * 4 },
    {
      name: "k_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a) => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    {
      name: "v_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a) => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    {
      name: "scratch",
      type: "ptr",
      access: "w",
      elem: 4,
      extent: (a) => attentionDecodeScratchFloats(a.n_head, a.head_dim, a.n_ctx) * 4,
    },
    { name: "n_head", type: "u32" },
    { name: "n_head_kv", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "n_ctx", type: "u32" },
  ],
});

const kvCacheArgs = [
  {
    name: "k_cache",
    type: "ptr",
    access: "w",
    elem: 4,
    extent: (a: Readonly<Record<string, number>>) => a.ctx_len * a.n_head_kv * a.head_dim * 4,
  },
  {
    name: "v_cache",
    type: "ptr",
    access: "w",
    elem: 4,
    extent: (a: Readonly<Record<string, number>>) => a.ctx_len * a.n_head_kv * a.head_dim * 4,
  },
  {
    name: "k",
    type: "ptr",
    access: "r",
    elem: 4,
    extent: (a: Readonly<Record<string, number>>) => a.seq_len * a.n_head_kv * a.head_dim * 4,
  },
  {
    name: "v",
    type: "ptr",
    access: "r",
    elem: 4,
    extent: (a: Readonly<Record<string, number>>) => a.seq_len * a.n_head_kv * a.head_dim * 4,
  },
  { name: "seq_len", type: "u32" },
  { name: "n_head_kv", type: "u32" },
  { name: "head_dim", type: "u32" },
] as const;

/**
 * KV-cache append: cache rows pos_offset .. pos_offset+seq_len-1 = k, v. The cache extents are the
 * whole cache (ctx_len rows): rows outside [0, ctx_len) are skipped by the kernel.
 */
export const kvAppend = defineKernel({
  name: "kv_append",
  args: [...kvCacheArgs, { name: "pos_offset", type: "i32" }, { name: "ctx_len", type: "u32" }],
});

/** KV-cache append with the position offset read from one device int32 (the decode path). */
export const kvAppendDpos = defineKernel({
  name: "kv_append_dpos",
  args: [
    ...kvCacheArgs,
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: () => 4 },
    { name: "ctx_len", type: "u32" },
  ],
});

/** out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), n floats. */
export const siluMul = defineKernel({
  name: "silu_mul",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.n * 4 },
    { name: "gate", type: "ptr", access: "r", elem: 4, extent: (a) => a.n * 4 },
    { name: "up", type: "ptr", access: "r", elem: 4, extent: (a) => a.n * 4 },
    { name: "n", type: "u32" },
  ],
});

/** out = a + b, n floats (residual add; out may equal a or b). */
export const add = defineKernel({
  name: "add",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.n * 4 },
    { name: "a", type: "ptr", access: "r", elem: 4, extent: (a) => a.n * 4 },
    { name: "b", type: "ptr", access: "r", elem: 4, extent: (a) => a.n * 4 },
    { name: "n", type: "u32" },
  ],
});

/** Greedy sampling: out[r] = first index of the max of row r of x [rows, n] (NaN ignored; -1 if all NaN). */
export const argmax = defineKernel({
  name: "argmax",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a) => a.rows * 4 },
    { name: "x", type: "ptr", access: "r", elem: 4, extent: (a) => a.rows * a.n * 4 },
    { name: "rows", type: "u32" },
    { name: "n", type: "u32" },
  ],
});

export const llamaKernels = {
  embedF32,
  embedF16,
  rmsnorm,
  matvecF32,
  matvecF16,
  matmulF32,
  matmulF16,
  rope,
  ropeDpos,
  attentionPrefill,
  attentionDecode,
  kvAppend,
  kvAppendDpos,
  siluMul,
  add,
  argmax,
  ...quantKernels,
  ...gemmKernels,
  ...kv16Kernels,
} as const;
