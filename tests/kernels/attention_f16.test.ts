/**
 * The f16 KV-cache kernels against the float64 references (scripts/reference/llama.ts): appends round
 * each value to f16 (bit for bit against the TypeScript rounding), and causal prefill (flash tiles for
 * heads of 32..128 in steps of 32, several query tiles; the per-query kernel for other heads) and
 * split-context decode over f16 caches equal float64 attention over the caches' f16 values. Fresh
 * random data each run (seed printed; FAULTLINE_SEED repeats it), outputs poisoned with NaN bytes.
 */
import assert from "node:assert/strict";
import { launch } from "../../mod.ts";
import { attentionDecodeScratchFloats, llamaKernels as K } from "../../ffi/kernels_llama.ts";
import * as ref from "../../scripts/reference/llama.ts";
import { assertClose, f32Buffer, rngFor, TestBuffer, toF16 } from "../../scripts/reference/harness.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

const TOL = 1e-5;

Deno.test({ name: "kernels: kv_append_f16 and kv_append_dpos_f16 round to nearest even", ...ffiTest }, () => {
  const dev = testDevice();
  const rng = rngFor("kv_append_f16");
  for (
    const [seqLen, nHeadKv, headDim, pos, ctx] of [[5, 2, 64, 13, 20], [3, 3, 5, -1, 9], [4, 2, 64, 18, 20]]
  ) {
    const row = nHeadKv * headDim;
    // values across f16's range: normals, subnormals (|x| < 6.1e-5) and overflow (> 65504)
    const k = rng.floats(seqLen * row, -70000, 70000), v = rng.floats(seqLen * row, -1e-4, 1e-4);
    using kb = f32Buffer(dev, k, "k");
    using vb = f32Buffer(dev, v, "v");
    using pb = new TestBuffer(dev, 4, "pos").upload(new Int32Array([pos]));
    for (const dpos of [false, true]) {
      using kc = new TestBuffer(dev, ctx * row * 2, "k_cache");
      using vc = new TestBuffer(dev, ctx * row * 2, "v_cache");
      const args = {
        k_cache: kc.arg,
        v_cache: vc.arg,
        k: kb.arg,
        v: vb.arg,
        seq_len: seqLen,
        n_head_kv: nHeadKv,
      };
      if (dpos) {
        launch(dev, null, K.kvAppendDposF16, { ...args, head_dim: headDim, pos: pb.arg, ctx_len: ctx });
      } else launch(dev, null, K.kvAppendF16, { ...args, head_dim: headDim, pos_offset: pos, ctx_len: ctx });
      for (const [cache, src] of [[kc, k], [vc, v]] as const) {
        const got = new Uint16Array(ctx * row);
        cache.buf.download(got);
        const want = new Uint16Array(ctx * row).fill(0xffff); // untouched rows keep the poison
        for (let s = 0; s < seqLen; s++) {
          if (pos + s < 0 || pos + s >= ctx) continue;
          want.set(toF16(src.subarray(s * row, (s + 1) * row)).bits, (pos + s) * row);
        }
        assert.deepEqual(got, want, `${seqLen}x${nHeadKv}x${headDim} at ${pos}${dpos ? " (dpos)" : ""}`);
      }
    }
  }
});

const CASES: readonly (readonly [number, number, number, number, number, number])[] = [
  // seq_len, n_head, n_head_kv, head_dim, n_ctx, misalign (bytes: the narrow-load paths)
  [70, 2, 1, 128, 150, 0], // flash: two query tiles, GQA 2:1, 80 cached rows before the prompt
  [129, 2, 2, 32, 129, 0], // flash: three query tiles from position 0
  [65, 3, 1, 96, 66, 4], // flash, misaligned q and out
  [9, 8, 2, 64, 21, 0], // flash: one partial tile
  [5, 6, 3, 38, 130, 0], // per-query kernel (head_dim 38); 3 decode chunks
  [4, 4, 2, 160, 37, 0], // per-query kernel (head_dim 160)
  [3, 2, 1, 256, 65, 0], // largest head
  [1, 32, 8, 128, 2048, 0], // decode at 2048 context, Llama-3 heads
];

for (const [seqLen, nHead, nHeadKv, headDim, nCtx, misalign] of CASES) {
  Deno.test({
    name:
      `kernels: f16-cache attention, prefill ${seqLen} and decode, Hq ${nHead} Hkv ${nHeadKv} D ${headDim} ` +
      `ctx ${nCtx}${misalign ? `, misalign ${misalign}` : ""}`,
    ...ffiTest,
  }, () => {
    const dev = testDevice();
    const rng = rngFor(`attention f16 ${seqLen} ${nHead} ${nHeadKv} ${headDim} ${nCtx} ${misalign}`);
    const kvLen = nCtx * nHeadKv * headDim;
    const k = toF16(rng.floats(kvLen, -2, 2)), v = toF16(rng.floats(kvLen, -2, 2));
    const q = rng.floats(seqLen * nHead * headDim, -2, 2);
    using kb = new TestBuffer(dev, kvLen * 2, "k_cache").upload(k.bits);
    using vb = new TestBuffer(dev, kvLen * 2, "v_cache").upload(v.bits);
    const shape = { n_head: nHead, n_head_kv: nHeadKv, head_dim: headDim, n_ctx: nCtx };
    if (seqLen > 1) {
      using qb = f32Buffer(dev, q, "q", misalign);
      using ob = new TestBuffer(dev, q.byteLength, "out", misalign);
      launch(dev, null, K.attentionPrefillF16, {
        out: ob.arg,
        q: qb.arg,
        k_cache: kb.arg,
        v_cache: vb.arg,
        seq_len: seqLen,
        ...shape,
      });
      const want = ref.attention(q, k.values, v.values, seqLen, nHead, nHeadKv, headDim, nCtx);
      assertClose(ob.f32(), want, TOL, "attention_prefill_f16");
    }
    const q1 = q.slice((seqLen - 1) * nHead * headDim);
    using qb = f32Buffer(dev, q1, "q");
    using ob = new TestBuffer(dev, q1.byteLength, "out");
    using sb = new TestBuffer(dev, attentionDecodeScratchFloats(nHead, headDim, nCtx) * 4, "scratch");
    launch(dev, null, K.attentionDecodeF16, {
      out: ob.arg,
      q: qb.arg,
      k_cache: kb.arg,
      v_cache: vb.arg,
      scratch: sb.arg,
      ...shape,
    });
    const want = ref.attention(q1, k.values, v.values, 1, nHead, nHeadKv, headDim, nCtx);
    assertClose(ob.f32(), want, TOL, "attention_decode_f16");
  });
}
