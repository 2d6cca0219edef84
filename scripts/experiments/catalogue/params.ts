/** Planted launch-parameter faults: each breaks one declared invariant of a llama kernel or the launch limits. */
import { type CatalogueCase, F32 } from "./case.ts";
import type { Expectation } from "./case.ts";

const params = (
  name: string,
  argument: string | null,
  invariant: string,
  more: Partial<Expectation> = {},
): Expectation => ({
  op: "plant",
  kind: "launch",
  name,
  argument,
  rail: "invariants",
  invariant,
  hypothesis: "bad-launch-params",
  surfaces: "self",
  ...more,
});

export const PARAM_CASES: Record<string, CatalogueCase> = {
  "zero-seq-len": {
    expect: params("rope", "seq_len", "seq_len > 0"),
    plant: ({ ffi, d, s, x }) =>
      ffi.launch(d, s, ffi.llamaKernels.rope, {
        x,
        seq_len: 0,
        heads: 32,
        head_dim: 128,
        pos_offset: 0,
        freq_base: 10000,
      }),
  },
  "odd-head-dim": {
    expect: params("rope", "head_dim", "head_dim even and > 0", { step: 4 }),
    plant: ({ ffi, d, s, x }) =>
      ffi.launch(d, s, ffi.llamaKernels.rope, {
        x,
        seq_len: 1,
        heads: 4,
        head_dim: 127,
        pos_offset: 0,
        freq_base: 10000,
      }),
  },
  "rope-past-context": {
    expect: params("rope", "pos_offset", "pos_offset + seq_len <= context length", {
      surfaces: "none",
      status: "OK",
    }),
    audit: { contextLength: 64 },
    // position 80 of a 64-token context: the kernel runs (x holds the rows) but the model never saw such a position
    plant: ({ ffi, d, s, x }) =>
      ffi.launch(d, s, ffi.llamaKernels.rope, {
        x,
        seq_len: 1,
        heads: 4,
        head_dim: 64,
        pos_offset: 80,
        freq_base: 10000,
      }),
  },
  "kv-append-past-cache": {
    expect: params("kv_append", "pos_offset", "pos_offset + seq_len <= context length", {
      surfaces: "none",
      status: "OK",
    }),
    plant: ({ ffi, d, s, x }) => {
      const kc = d.malloc(16 * 128 * F32, { name: "k_cache" });
      const vc = d.malloc(16 * 128 * F32, { name: "v_cache" });
      ffi.launch(d, s, ffi.llamaKernels.kvAppend, {
        k_cache: kc,
        v_cache: vc,
        k: x,
        v: x,
        seq_len: 1,
        n_head_kv: 1,
        head_dim: 128,
        pos_offset: 16,
        ctx_len: 16,
      });
    },
  },
  "rmsnorm-zero-eps": {
    expect: params("rmsnorm", "eps", "eps finite and > 0", { surfaces: "none", status: "OK" }),
    plant: ({ ffi, d, s, x }) => {
      const w = d.malloc(1024 * F32, { name: "norm_w" });
      w.fill(0);
      ffi.launch(d, s, ffi.llamaKernels.rmsnorm, { out: x, x, weight: w, rows: 4, dim: 1024, eps: 0 });
    },
  },
  "gqa-mismatch": {
    expect: params("attention_decode", "n_head_kv", "n_head a multiple of n_head_kv, group <= 32"),
    plant: (b) => attentionDecode(b, { nh: 6, nkv: 4, hd: 64, nctx: 8 }),
  },
  "head-dim-over-256": {
    expect: params("attention_decode", "head_dim", "head_dim <= 256 (FL_LLAMA_MAX_HEAD_DIM)", { layer: 7 }),
    plant: (b) => attentionDecode(b, { nh: 2, nkv: 2, hd: 512, nctx: 8 }),
  },
  "grid-over-limit": {
    expect: {
      ...params("attention_decode", null, "grid and block within the device's limits"),
      rail: "launch_limits",
    },
    plant: (b) => attentionDecode(b, { nh: 65536, nkv: 65536, hd: 2, nctx: 64 }),
  },
};

/** An attention decode over its own correctly sized buffers, with the shape given. */
function attentionDecode(
  { ffi, d, s }: Parameters<CatalogueCase["plant"]>[0],
  g: { nh: number; nkv: number; hd: number; nctx: number },
): void {
  const q = d.malloc(g.nh * g.hd * F32, { name: "q" });
  const out = d.malloc(g.nh * g.hd * F32, { name: "attn_out" });
  const kc = d.malloc(g.nctx * g.nkv * g.hd * F32, { name: "k_cache" });
  const vc = d.malloc(g.nctx * g.nkv * g.hd * F32, { name: "v_cache" });
  const scratch = d.malloc(ffi.attentionDecodeScratchFloats(g.nh, g.hd, g.nctx) * F32, {
    name: "attn_scratch",
  });
  ffi.launch(d, s, ffi.llamaKernels.attentionDecode, {
    out,
    q,
    k_cache: kc,
    v_cache: vc,
    scratch,
    n_head: g.nh,
    n_head_kv: g.nkv,
    head_dim: g.hd,
    n_ctx: g.nctx,
  });
}
