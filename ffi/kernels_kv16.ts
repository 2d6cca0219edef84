/**
 * Declarations of the f16 KV-cache kernels (kernels/llama/kv_cache.hip, attention.hip,
 * attention_flash.hip): the same arguments and semantics as kv_append, kv_append_dpos,
 * attention_prefill and attention_decode of ffi/kernels_llama.ts, with caches of f16 elements
 * [ctx, n_head_kv, head_dim] (half the bytes per token). Appends round k and v to nearest even.
 */
import type { KernelArgValues, KernelDescriptor } from "./kernel_spec.ts";
import { attentionDecodeScratchFloats, kvAppendRows } from "./kernels_shapes.ts";

type A = KernelArgValues;

/** An f16 cache [rows, n_head_kv, head_dim]: written by the appends (ctx_len rows), read by attention (n_ctx). */
const cacheBytes = (rows: number, a: A): number => rows * a.n_head_kv * a.head_dim * 2;
const kCacheOut = {
  name: "k_cache",
  type: "ptr",
  access: "w",
  elem: 2,
  extent: (a: A): number => cacheBytes(a.ctx_len, a),
} as const;
const vCacheOut = {
  name: "v_cache",
  type: "ptr",
  access: "w",
  elem: 2,
  extent: (a: A): number => cacheBytes(a.ctx_len, a),
} as const;
const kCacheIn = {
  name: "k_cache",
  type: "ptr",
  access: "r",
  elem: 2,
  extent: (a: A): number => cacheBytes(a.n_ctx, a),
} as const;
const vCacheIn = {
  name: "v_cache",
  type: "ptr",
  access: "r",
  elem: 2,
  extent: (a: A): number => cacheBytes(a.n_ctx, a),
} as const;

/** What an append rounds into the cache: the f32 rows and their dimensions, as kv_append's. */
const appendArgs = [kCacheOut, vCacheOut, ...kvAppendRows] as const;

/** f16 cache rows pos_offset .. pos_offset+seq_len-1 = f16(k), f16(v); rows outside [0, ctx_len) skipped. */
export const kvAppendF16 = {
  name: "kv_append_f16",
  args: [...appendArgs, { name: "pos_offset", type: "i32" }, { name: "ctx_len", type: "u32" }],
} as const satisfies KernelDescriptor;

/** kv_append_f16 with the position offset read from one device int32 (the decode path). */
export const kvAppendDposF16 = {
  name: "kv_append_dpos_f16",
  args: [
    ...appendArgs,
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: (): number => 4 },
    { name: "ctx_len", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** Query rows (q, and out alike): [rows, n_head, head_dim] f32. */
const queryBytes = (rows: number, a: A): number => rows * a.n_head * a.head_dim * 4;

/** attention_prefill over f16 caches (a flash-attention kernel over tiles of the cache). */
export const attentionPrefillF16 = {
  name: "attention_prefill_f16",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a: A): number => queryBytes(a.seq_len, a) },
    { name: "q", type: "ptr", access: "r", elem: 4, extent: (a: A): number => queryBytes(a.seq_len, a) },
    kCacheIn,
    vCacheIn,
    { name: "seq_len", type: "u32" },
    { name: "n_head", type: "u32" },
    { name: "n_head_kv", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "n_ctx", type: "u32" },
  ],
} as const satisfies KernelDescriptor;

/** attention_decode over f16 caches; the same f32 scratch. */
export const attentionDecodeF16 = {
  name: "attention_decode_f16",
  args: [
    { name: "out", type: "ptr", access: "w", elem: 4, extent: (a: A): number => queryBytes(1, a) },
    { name: "q", type: "ptr", access: "r", elem: 4, extent: (a: A): number => queryBytes(1, a) },
    kCacheIn,
    vCacheIn,
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

/** The f16 KV-cache kernels, by their TypeScript names. */
export const kv16Kernels = { kvAppendF16, kvAppendDposF16, attentionPrefillF16, attentionDecodeF16 } as const;
