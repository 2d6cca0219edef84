/**
 * RoPE and attention against the float64 references (scripts/reference/llama.ts):
 * RoPE in the GGML "normal" layout with host and device positions; causal
 * prefill and split-context decode attention over a [ctx, n_head_kv, head_dim]
 * cache, grouped-query heads included. Fresh random data each run (seed
 * printed; FAULTLINE_SEED repeats it), outputs poisoned with NaN bytes.
 */
import assert from "node:assert/strict";
import { launch } from "../../mod.ts";
import { attentionDecodeScratchFloats, llamaKernels as K } from "../../ffi/kernels_llama.ts";
import * as ref from "../../scripts/reference/llama.ts";
import { assertClose, f32Buffer, rngFor, TestBuffer } from "../../scripts/reference/harness.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

const F32_TOL = 1e-5;

const ROPE: readonly (readonly [number, number, number, number, number, number])[] = [
  // seq_len, heads, head_dim, pos_offset, freq_base, misalign
  [1, 32, 128, 2047, 10000, 0], // decode at the end of a 2048 context
  [7, 8, 128, 0, 10000, 0],
  [5, 5, 6, 100, 500000, 0], // odd head count, tiny head
  [3, 3, 64, 9, 10000, 4], // misaligned x: scalar path
  [2, 1, 2, -3, 10000, 0], // negative position
];

for (const [seqLen, heads, headDim, pos, base, misalign] of ROPE) {
  for (const dpos of [false, true]) {
    Deno.test({
      name: `kernels: rope${dpos ? "_dpos" : ""} ${seqLen}x${heads}x${headDim} at ${pos}, base ${base}` +
        (misalign ? `, misalign ${misalign}` : ""),
      ...ffiTest,
    }, () => {
      const dev = testDevice();
      const rng = rngFor(`rope ${seqLen} ${heads} ${headDim} ${pos} ${base} ${misalign} ${dpos}`);
      const x = rng.floats(seqLen * heads * headDim, -2, 2);
      using xb = f32Buffer(dev, x, "x", misalign);
      using pb = new TestBuffer(dev, 4, "pos").upload(new Int32Array([pos]));
      const args = { x: xb.arg, seq_len: seqLen, heads, head_dim: headDim, freq_base: base };
      if (dpos) launch(dev, null, K.ropeDpos, { ...args, pos: pb.arg });
      else launch(dev, null, K.rope, { ...args, pos_offset: pos });
      assertClose(xb.f32(), ref.rope(x, seqLen, heads, headDim, pos, Math.fround(base)), F32_TOL, "rope");
    });
  }
}

Deno.test({ name: "kernels: rope rotates pairs (2i, 2i+1), not NEOX halves", ...ffiTest }, () => {
  const dev = testDevice();
  // one head of 4: x = [1, 0, 0, 0] at pos 1 rotates within (x0, x1) only
  using xb = f32Buffer(dev, new Float32Array([1, 0, 0, 0]), "x");
  launch(dev, null, K.rope, {
    x: xb.arg,
    seq_len: 1,
    heads: 1,
    head_dim: 4,
    pos_offset: 1,
    freq_base: 10000,
  });
  const got = xb.f32();
  assert.ok(Math.abs(got[0] - Math.cos(1)) < 1e-6 && Math.abs(got[1] - Math.sin(1)) < 1e-6, `${got}`);
  assert.equal(got[2], 0);
  assert.equal(got[3], 0);
});

const ATTENTION: readonly (readonly [number, number, number, number, number])[] = [
  // seq_len (prefill), n_head, n_head_kv, head_dim, n_ctx
  [9, 8, 2, 64, 21], // GQA 4:1
  [16, 4, 4, 128, 16], // MHA, prefill from position 0
  [5, 6, 3, 38, 130], // head_dim not a multiple of 4: scalar paths; 3 decode chunks
  [3, 2, 1, 256, 65], // largest head_dim, MQA
  [1, 32, 1, 16, 1], // one key; largest GQA group
  [4, 4, 2, 160, 37], // head_dim between 128 and 256
  [1, 64, 64, 64, 1000], // many KV heads, 16 decode chunks, the last of 40 keys
  [1, 256, 64, 32, 520], // GQA 4:1 over 64 KV heads, 9 decode chunks, the last of 8 keys
];

for (const [seqLen, nHead, nHeadKv, headDim, nCtx] of ATTENTION) {
  Deno.test({
    name:
      `kernels: attention prefill ${seqLen} queries and decode, Hq ${nHead} Hkv ${nHeadKv} D ${headDim} ctx ${nCtx}`,
    ...ffiTest,
  }, () => {
    const dev = testDevice();
    const rng = rngFor(`attention ${seqLen} ${nHead} ${nHeadKv} ${headDim} ${nCtx}`);
    const kvLen = nCtx * nHeadKv * headDim;
    const k = rng.floats(kvLen, -2, 2), v = rng.floats(kvLen, -2, 2);
    const q = rng.floats(seqLen * nHead * headDim, -2, 2);
    using kb = f32Buffer(dev, k, "k_cache");
    using vb = f32Buffer(dev, v, "v_cache");
    const shape = { n_head: nHead, n_head_kv: nHeadKv, head_dim: headDim, n_ctx: nCtx };
    {
      using qb = f32Buffer(dev, q, "q");
      using ob = new TestBuffer(dev, q.byteLength, "out");
      launch(dev, null, K.attentionPrefill, {
        out: ob.arg,
        q: qb.arg,
        k_cache: kb.arg,
        v_cache: vb.arg,
        seq_len: seqLen,
        ...shape,
      });
      assertClose(
        ob.f32(),
        ref.attention(q, k, v, seqLen, nHead, nHeadKv, headDim, nCtx),
        F32_TOL,
        "attention_prefill",
      );
    }
    {
      // decode: the last query row, over all n_ctx rows
      const q1 = q.slice((seqLen - 1) * nHead * headDim);
      using qb = f32Buffer(dev, q1, "q");
      using ob = new TestBuffer(dev, q1.byteLength, "out");
      using sb = new TestBuffer(dev, attentionDecodeScratchFloats(nHead, headDim, nCtx) * 4, "scratch");
      launch(dev, null, K.attentionDecode, {
        out: ob.arg,
        q: qb.arg,
        k_cache: kb.arg,
        v_cache: vb.arg,
        scratch: sb.arg,
        ...shape,
      });
      assertClose(
        ob.f32(),
        ref.attention(q1, k, v, 1, nHead, nHeadKv, headDim, nCtx),
        F32_TOL,
        "attention_decode",
      );
    }
  });
}

for (const nHeadKv of [8, 32]) {
  Deno.test(
    { name: `kernels: attention decode at 2048 context, Hq 32 Hkv ${nHeadKv} D 128`, ...ffiTest },
    () => {
      // Hkv 32: the Llama-2-7B shape (workload_kernels' attention case)
      const dev = testDevice();
      const rng = rngFor(nHeadKv === 8 ? "attention decode 2048" : `attention decode 2048 ${nHeadKv}`);
      const nHead = 32, headDim = 128, nCtx = 2048;
      const kvLen = nCtx * nHeadKv * headDim;
      const k = rng.floats(kvLen, -2, 2),
        v = rng.floats(kvLen, -2, 2),
        q = rng.floats(nHead * headDim, -2, 2);
      using kb = f32Buffer(dev, k, "k_cache");
      using vb = f32Buffer(dev, v, "v_cache");
      using qb = f32Buffer(dev, q, "q");
      using ob = new TestBuffer(dev, q.byteLength, "out");
      using sb = new TestBuffer(dev, attentionDecodeScratchFloats(nHead, headDim, nCtx) * 4, "scratch");
      launch(dev, null, K.attentionDecode, {
        out: ob.arg,
        q: qb.arg,
        k_cache: kb.arg,
        v_cache: vb.arg,
        scratch: sb.arg,
        n_head: nHead,
        n_head_kv: nHeadKv,
        head_dim: headDim,
        n_ctx: nCtx,
      });
      assertClose(
        ob.f32(),
        ref.attention(q, k, v, 1, nHead, nHeadKv, headDim, nCtx),
        F32_TOL,
        "attention_decode",
      );
    },
  );
}
