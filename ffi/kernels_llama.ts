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
import type { KernelArgValues, KernelDescriptor } from "./kernel_spec.ts";
import { gemmKernels } from "./kernels_gemm.ts";
import { kv16Kernels } from "./kernels_kv16.ts";
import { quantKernels } from "./kernels_quant.ts";
import {
  attentionDecodeScratchFloats,
  kvAppendRows,
  matvecDims,
  matvecX,
  matvecY,
} from "./kernels_shapes.ts";

export { attentionDecodeScratchFloats, ATTN_DECODE_CHUNK } from "./kernels_shapes.ts";

// the embed, matvec and matmul kernels come in an f32 and an f16 flavour that differ only in the
// weight's element size: the arguments they share are written once, the weight per flavour

const embedOut = {
  name: "out",
  type: "ptr",
  access: "w",
  elem: 4,
  extent: (a: KernelArgValues): number => a.n_tokens * a.dim * 4,
} as const;
const embedTokens = {
  name: "tokens",
  type: "ptr",
  access: "r",
  elem: 4,
  extent: (a: KernelArgValues): number => a.n_tokens * 4,
} as const;
const embedDims = [{ name: "n_tokens", type: "u32" }, { name: "dim", type: "u32" }, {
  name: "vocab",
  type: "u32",
}] as const;

/** out[t, :] = table[tokens[t], :], f32 table; a token id outside [0, vocab) reads nothing and gives a NaN row. */
export const embedF32 = {
  name: "embed_f32",
  args: [
    embedOut,
    {
      name: "table",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.vocab * a.dim * 4,
    },
    embedTokens,
    ...embedDims,
  ],
} as const satisfies KernelDescriptor;
/** out[t, :] = table[tokens[t], :], f16 table, f32 out. */
export const embedF16 = {
  name: "embed_f16",
  args: [
    embedOut,
    {
      name: "table",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => a.vocab * a.dim * 2,
    },
    embedTokens,
    ...embedDims,
  ],
} as const satisfies KernelDescriptor;

/** out = x / sqrt(mean(x^2) + eps) * weight, per row of [rows, dim]; out may equal x. */
export const rmsnorm = {
  name: "rmsnorm",
  args: [
    {
      name: "out",
      type: "ptr",
      access: "w",
      elem: 4,
      extent: (a: KernelArgValues): number => a.rows * a.dim * 4,
    },
    {
      name: "x",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.rows * a.dim * 4,
    },
    { name: "weight", type: "ptr", access: "r", elem: 4, extent: (a: KernelArgValues): number => a.dim * 4 },
    { name: "rows", type: "u32" },
    { name: "dim", type: "u32" },
    { name: "eps", type: "f32" },
  ],
} as const satisfies KernelDescriptor;

/** Decode y = W x, W [out_dim, in_dim] f32 (row-major), f32 accumulation. */
export const matvecF32 = {
  name: "matvec_f32",
  args: [
    matvecY,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.out_dim * a.in_dim * 4,
    },
    matvecX,
    ...matvecDims,
  ],
} as const satisfies KernelDescriptor;
/** Decode y = W x, W [out_dim, in_dim] f16, f32 accumulation. */
export const matvecF16 = {
  name: "matvec_f16",
  args: [
    matvecY,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => a.out_dim * a.in_dim * 2,
    },
    matvecX,
    ...matvecDims,
  ],
} as const satisfies KernelDescriptor;

const matmulY = {
  name: "y",
  type: "ptr",
  access: "w",
  elem: 4,
  extent: (a: KernelArgValues): number => a.n_tokens * a.out_dim * 4,
} as const;
const matmulX = {
  name: "x",
  type: "ptr",
  access: "r",
  elem: 4,
  extent: (a: KernelArgValues): number => a.n_tokens * a.in_dim * 4,
} as const;
const matmulDims = [{ name: "n_tokens", type: "u32" }, ...matvecDims] as const;

/** Prefill y[t] = W x[t], W f32. */
export const matmulF32 = {
  name: "matmul_f32",
  args: [
    matmulY,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.out_dim * a.in_dim * 4,
    },
    matmulX,
    ...matmulDims,
  ],
} as const satisfies KernelDescriptor;
/** Prefill y[t] = W x[t], W f16, f32 accumulation. */
export const matmulF16 = {
  name: "matmul_f16",
  args: [
    matmulY,
    {
      name: "w",
      type: "ptr",
      access: "r",
      elem: 2,
      extent: (a: KernelArgValues): number => a.out_dim * a.in_dim * 2,
    },
    matmulX,
    ...matmulDims,
  ],
} as const satisfies KernelDescriptor;

const ropeX = {
  name: "x",
  type: "ptr",
  access: "rw",
  elem: 4,
  extent: (a: KernelArgValues): number => a.seq_len * a.heads * a.head_dim * 4,
} as const;

/**
 * Rotary position embedding in place on x [seq_len, heads, head_dim], in the llama layout (GGML's
 * "normal" rope, the one llama GGUF weights use): within each head the pairs (2i, 2i+1), i < head_dim/2,
 * rotate by theta = pos * freq_base^(-2i/head_dim), where pos = pos_offset + s for row s.
 */
export const rope = {
  name: "rope",
  args: [
    ropeX,
    { name: "seq_len", type: "u32" },
    { name: "heads", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "pos_offset", type: "i32" },
    { name: "freq_base", type: "f32" },
  ],
} as const satisfies KernelDescriptor;

/** RoPE with the position offset read from one device int32 (the decode path). */
export const ropeDpos = {
  name: "rope_dpos",
  args: [
    ropeX,
    { name: "seq_len", type: "u32" },
    { name: "heads", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: (): number => 4 },
    { name: "freq_base", type: "f32" },
  ],
} as const satisfies KernelDescriptor;

/**
 * Causal attention for a prefill of seq_len queries that are the last seq_len of n_ctx cache positions:
 * query s (position n_ctx - seq_len + s) attends to cache rows 0 ..= n_ctx - seq_len + s, softmax scaled
 * by 1/sqrt(head_dim). Grouped-query: query head h reads KV head h / (n_head / n_head_kv). out, q are
 * [seq_len, n_head, head_dim]; the caches [n_ctx, n_head_kv, head_dim].
 */
export const attentionPrefill = {
  name: "attention_prefill",
  args: [
    {
      name: "out",
      type: "ptr",
      access: "w",
      elem: 4,
      extent: (a: KernelArgValues): number => a.seq_len * a.n_head * a.head_dim * 4,
    },
    {
      name: "q",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.seq_len * a.n_head * a.head_dim * 4,
    },
    {
      name: "k_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    {
      name: "v_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    { name: "seq_len", type: "u32" },
    { name: "n_head", type: "u32" },
    { name: "n_head_kv", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "n_ctx", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/**
 * Single-token attention over cache rows 0 .. n_ctx-1, split over the context in chunks of
 * ATTN_DECODE_CHUNK keys (partial max and sum per chunk in `scratch`, then a combine kernel).
 */
export const attentionDecode = {
  name: "attention_decode",
  args: [
    {
      name: "out",
      type: "ptr",
      access: "w",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_head * a.head_dim * 4,
    },
    {
      name: "q",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_head * a.head_dim * 4,
    },
    {
      name: "k_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    {
      name: "v_cache",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.n_ctx * a.n_head_kv * a.head_dim * 4,
    },
    {
      name: "scratch",
      type: "ptr",
      access: "w",
      elem: 4,
      extent: (a: KernelArgValues): number => attentionDecodeScratchFloats(a.n_head, a.head_dim, a.n_ctx) * 4,
    },
    { name: "n_head", type: "u32" },
    { name: "n_head_kv", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "n_ctx", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

const kvCacheArgs = [
  {
    name: "k_cache",
    type: "ptr",
    access: "w",
    elem: 4,
    extent: (a: KernelArgValues): number => a.ctx_len * a.n_head_kv * a.head_dim * 4,
  },
  {
    name: "v_cache",
    type: "ptr",
    access: "w",
    elem: 4,
    extent: (a: KernelArgValues): number => a.ctx_len * a.n_head_kv * a.head_dim * 4,
  },
  ...kvAppendRows,
] as const;

/**
 * KV-cache append: cache rows pos_offset .. pos_offset+seq_len-1 = k, v. The cache extents are the
 * whole cache (ctx_len rows): rows outside [0, ctx_len) are skipped by the kernel.
 */
export const kvAppend = {
  name: "kv_append",
  args: [...kvCacheArgs, { name: "pos_offset", type: "i32" }, { name: "ctx_len", type: "u32" }],
} as const satisfies KernelDescriptor;

/** KV-cache append with the position offset read from one device int32 (the decode path). */
export const kvAppendDpos = {
  name: "kv_append_dpos",
  args: [
    ...kvCacheArgs,
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: (): number => 4 },
    { name: "ctx_len", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), n floats. */
export const siluMul = {
  name: "silu_mul",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "gate", type: "ptr", access: "r", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "up", type: "ptr", access: "r", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "n", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** out = a + b, n floats (residual add; out may equal a or b). */
export const add = {
  name: "add",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "a", type: "ptr", access: "r", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "b", type: "ptr", access: "r", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "n", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** Greedy sampling: out[r] = first index of the max of row r of x [rows, n] (NaN ignored; -1 if all NaN). */
export const argmax = {
  name: "argmax",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a: KernelArgValues): number => a.rows * 4 },
    {
      name: "x",
      type: "ptr",
      access: "r",
      elem: 4,
      extent: (a: KernelArgValues): number => a.rows * a.n * 4,
    },
    { name: "rows", type: "u32" },
    { name: "n", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** Every llama kernel, by its TypeScript name. */
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
