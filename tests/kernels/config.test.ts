/**
 * Every configuration a llama kernel cannot run is refused at launch with
 * status 9 (invalid configuration), the same on every backend
 * (kernels/llama/launch_config_llama.h): zero sizes, head_dim > 256, a query
 * head count that is not a multiple of the KV head count, a GQA group over
 * 32, prefill with fewer cache rows than queries, odd RoPE head_dim, an
 * argmax row longer than an int32 index reaches, a grid some backend cannot
 * launch. The
 * buffers are large enough for every launch, so a configuration wrongly let
 * through computes garbage instead of faulting. The refusal is also the
 * thread's last error, as for any launch with a bad geometry.
 */
import assert from "node:assert/strict";
import { FaultlineError, type KernelDescriptor, launch } from "../../mod.ts";
import { llamaKernels as K } from "../../ffi/kernels_llama.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

const MiB = 1 << 20;

type Case = [string, KernelDescriptor, Record<string, number>];

const emb = { n_tokens: 2, dim: 8, vocab: 4 };
const mv = { out_dim: 8, in_dim: 8 };
const mm = { n_tokens: 2, out_dim: 8, in_dim: 8 };
const rope = { seq_len: 2, heads: 2, head_dim: 8, pos_offset: 0, freq_base: 10000 };
const att = { seq_len: 2, n_head: 4, n_head_kv: 2, head_dim: 8, n_ctx: 4 };
const dec = { n_head: 4, n_head_kv: 2, head_dim: 8, n_ctx: 4 };
const kv = { seq_len: 2, n_head_kv: 2, head_dim: 8, pos_offset: 0, ctx_len: 4 };
const mvq = { out_dim: 8, in_dim: 256 };
const dq = { rows: 2, cols: 256 };

/** Each kernel with a configuration it runs: every u32 size of it set to 0 is refused. */
const VALID: readonly (readonly [string, KernelDescriptor, Record<string, number>])[] = [
  ["embed_f32", K.embedF32, emb],
  ["embed_f16", K.embedF16, emb],
  ["rmsnorm", K.rmsnorm, { rows: 2, dim: 8, eps: 1e-5 }],
  ["matvec_f32", K.matvecF32, mv],
  ["matvec_f16", K.matvecF16, mv],
  ["matmul_f32", K.matmulF32, mm],
  ["matmul_f16", K.matmulF16, mm],
  ["rope", K.rope, rope],
  ["rope_dpos", K.ropeDpos, rope],
  ["attention_prefill", K.attentionPrefill, att],
  ["attention_decode", K.attentionDecode, dec],
  ["kv_append", K.kvAppend, kv],
  ["kv_append_dpos", K.kvAppendDpos, kv],
  ["silu_mul", K.siluMul, { n: 8 }],
  ["add", K.add, { n: 8 }],
  ["argmax", K.argmax, { rows: 2, n: 8 }],
  ["matvec_q8_0", K.matvecQ8_0, mvq],
  ["matvec_q4_0", K.matvecQ4_0, mvq],
  ["matvec_q4_k", K.matvecQ4K, mvq],
  ["dequant_q8_0", K.dequantQ8_0, dq],
  ["dequant_q4_0", K.dequantQ4_0, dq],
  ["dequant_q4_k", K.dequantQ4K, dq],
  ["convert_f16", K.convertF16, { n: 8 }],
  ["gemm_f16", K.gemmF16, mm],
  ["kv_append_f16", K.kvAppendF16, kv],
  ["kv_append_dpos_f16", K.kvAppendDposF16, kv],
  ["attention_prefill_f16", K.attentionPrefillF16, att],
  ["attention_decode_f16", K.attentionDecodeF16, dec],
];

function zeroSizeCases(): Case[] {
  const out: Case[] = [];
  for (const [name, k, base] of VALID) {
    for (const spec of k.args) {
      if (spec.type !== "u32") continue;
      out.push([`${name}: ${spec.name} = 0`, k, { ...base, [spec.name]: 0 }]);
    }
  }
  return out;
}

function attentionShapeCases(): Case[] {
  const out: Case[] = [];
  for (
    const [name, k, base] of [
      ["attention_prefill", K.attentionPrefill, att],
      ["attention_decode", K.attentionDecode, dec],
      ["attention_prefill_f16", K.attentionPrefillF16, att],
      ["attention_prefill_f16 (flash head)", K.attentionPrefillF16, { ...att, head_dim: 64 }],
      ["attention_decode_f16", K.attentionDecodeF16, dec],
    ] as const
  ) {
    out.push([`${name}: head_dim 258 > 256`, k, { ...base, head_dim: 258 }]);
    out.push([`${name}: n_head 5 not a multiple of n_head_kv 2`, k, { ...base, n_head: 5 }]);
    out.push([`${name}: GQA group 33 > 32`, k, { ...base, n_head: 33, n_head_kv: 1 }]);
  }
  const few = { seq_len: 4, n_ctx: 3 };
  out.push(["attention_prefill: n_ctx 3 < seq_len 4", K.attentionPrefill, { ...att, ...few }]);
  out.push(["attention_prefill_f16: n_ctx 3 < seq_len 4", K.attentionPrefillF16, { ...att, ...few }]);
  out.push(["attention_prefill_f16 (flash): n_ctx 3 < 4", K.attentionPrefillF16, {
    ...att,
    ...few,
    head_dim: 64,
  }]);
  return out;
}

function otherCases(): Case[] {
  return [
    // quantized rows must be whole blocks
    ["matvec_q8_0: in_dim 48 is a partial block", K.matvecQ8_0, { out_dim: 8, in_dim: 48 }],
    ["matvec_q4_0: in_dim 40 is a partial block", K.matvecQ4_0, { out_dim: 8, in_dim: 40 }],
    ["matvec_q4_k: in_dim 288 is a partial super-block", K.matvecQ4K, { out_dim: 8, in_dim: 288 }],
    ["dequant_q8_0: cols 40", K.dequantQ8_0, { rows: 2, cols: 40 }],
    ["dequant_q4_k: cols 32", K.dequantQ4K, { rows: 2, cols: 32 }],
    ["rope: odd head_dim 7", K.rope, { ...rope, head_dim: 7 }],
    ["argmax: n 2^31 does not fit an int32 index", K.argmax, { rows: 1, n: 2 ** 31 }],
    // grids some backend cannot launch: 2^32 threads along x (HIP), 65536 blocks along y (CUDA)
    ["embed_f32: 2^24 tokens", K.embedF32, { ...emb, n_tokens: 2 ** 24 }],
    ["rmsnorm: 2^24 rows", K.rmsnorm, { rows: 2 ** 24, dim: 8, eps: 1e-5 }],
    ["matmul_f32: 65536 token tiles", K.matmulF32, { ...mm, n_tokens: 65536 * 64 }],
    ["attention_decode: 65536 KV heads", K.attentionDecode, { ...dec, n_head: 65536, n_head_kv: 65536 }],
    ["rope_dpos: odd head_dim 7", K.ropeDpos, { ...rope, head_dim: 7 }],
  ];
}

function cases(): Case[] {
  return [...zeroSizeCases(), ...attentionShapeCases(), ...otherCases()];
}

Deno.test({ name: "kernels: every invalid llama configuration is refused with status 9", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(4 * MiB, { name: "arena" });
  buf.fill(0);
  const list = cases();
  assert.ok(list.length > 40, `${list.length} cases`);
  const wrong: string[] = [];
  for (const [what, kernel, scalars] of list) {
    const args: Record<string, unknown> = { ...scalars };
    for (const spec of kernel.args) if (spec.type === "ptr") args[spec.name] = buf;
    dev.takeLastError();
    try {
      // deno-lint-ignore no-explicit-any
      launch(dev, null, kernel, args as any);
      wrong.push(`${what}: launched`);
    } catch (e) {
      if (!(e instanceof FaultlineError) || e.code !== 9) wrong.push(`${what}: ${e}`);
    }
    // refused as a bad launch geometry is: also the thread's (non-sticky) last error
    const last = dev.takeLastError();
    if (last !== 9) wrong.push(`${what}: last error ${last}, expected 9`);
  }
  dev.synchronize();
  assert.deepEqual(wrong, [], wrong.join("\n"));
});

Deno.test({ name: "kernels: the limits themselves launch (head_dim 256, GQA group 32)", ...ffiTest }, () => {
  const dev = testDevice();
  using buf = dev.malloc(4 * MiB, { name: "arena" });
  buf.fill(0);
  const dec = { n_head: 32, n_head_kv: 1, head_dim: 256, n_ctx: 3 };
  launch(dev, null, K.attentionDecode, {
    out: buf,
    q: buf.at(MiB),
    k_cache: buf,
    v_cache: buf,
    scratch: buf.at(2 * MiB),
    ...dec,
  });
  launch(dev, null, K.attentionPrefill, {
    out: buf.at(2 * MiB),
    q: buf.at(MiB),
    k_cache: buf,
    v_cache: buf,
    seq_len: 3,
    ...dec,
  });
  dev.synchronize();
});
