/**
 * Declarations of the f16 KV-cache kernels (kernels/llama/kv_cache.hip, attention.hip,
 * attention_flash.hip): the same arguments and semantics as kv_append, kv_append_dpos,
 * attention_prefill and attention_decode of ffi/kernels_llama.ts, with caches of f16 elements
 * [ctx, n_head_kv, head_dim] (half the bytes per token). Appends round k and v to nearest even.
 */
import { defineKernel } from "./kernel_spec.ts";
import { attentionDecodeScratchFloats } from "./kernels_shapes.ts";

type Args = Readonly<Record<string, number>>;

const cache = (name: string, access: "r" | "w", rows: (a: Args) => number) =>
  ({
    name,
    type: "ptr",
    access,
    elem: 2,
    extent: (a: Args) => rows(a) * a.n_head_kv * a.head_dim * 2,
  }) as const;

const rowsIn = (name: string) =>
  ({
    name,
    type: "ptr",
    access: "r",
    elem: 4,
    extent: (a: Args) => a.seq_len * a.n_head_kv * a.head_dim * 4,
  }) as const;

const appendArgs = [
  cache("k_cache", "w", (a) => a.ctx_len),
  cache("v_cache", "w", (a) => a.ctx_len),
  rowsIn("k"),
  rowsIn("v"),
  { name: "seq_len", type: "u32" },
  { name: "n_head_kv", type: "u32" },
  { name: "head_dim", type: "u32" },
] as const;

/** f16 cache rows pos_offset .. pos_offset+seq_len-1 = f16(k), f16(v); rows outside [0, ctx_len) skipped. */
export const kvAppendF16 = defineKernel({
  name: "kv_append_f16",
  args: [...appendArgs, { name: "pos_offset", type: "i32" }, { name: "ctx_len", type: "u32" }],
});

/** kv_append_f16 with the position offset read from one device int32 (the decode path). */
export const kvAppendDposF16 = defineKernel({
  name: "kv_append_dpos_f16",
  args: [
    ...appendArgs,
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: () => 4 },
    { name: "ctx_len", type: "u32" },
  ],
});

const queries = (name: string, access: "r" | "w", rows: (a: Args) => number) =>
  ({ name, type: "ptr", access, elem: 4, extent: (a: Args) => rows(a) * a.n_head * a.head_dim * 4 }) as const;

/** attention_prefill over f16 caches (a flash-attention kernel over tiles of the cache). */
export const attentionPrefillF16 = defineKernel({
  name: "attention_prefill_f16",
  args: [
    queries("out", "w", (a) => a.seq_len),
    queries("q", "r", (a) => a.seq_len),
    cache("k_cache", "r", (a) => a.n_ctx),
    cache("v_cache", "r", (a) => a.n_ctx),
    { name: "seq_len", type: "u32" },
    { name: "n_head", type: "u32" },
    { name: "n_head_kv", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "n_ctx", type: "u32" },
  ],
});

/** attention_decode over f16 caches; the same f32 scratch. */
export const attentionDecodeF16 = defineKernel({
  name: "attention_decode_f16",
  args: [
    queries("out", "w", () => 1),
    queries("q", "r", () => 1),
    cache("k_cache", "r", (a) => a.n_ctx),
    cache("v_cache", "r", (a) => a.n_ctx),
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

export const kv16Kernels = { kvAppendF16, kvAppendDposF16, attentionPrefillF16, attentionDecodeF16 } as const;
