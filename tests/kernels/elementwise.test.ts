/**
 * Llama kernels against their float64 references (scripts/reference/llama.ts):
 * embedding, RMSNorm, SiLU-gate, residual add, KV-cache append, argmax. Fresh
 * random data each run (seed printed; FAULTLINE_SEED repeats it), outputs
 * poisoned with NaN bytes before each launch. Runs on the backend the runtime
 * loads ($FAULTLINE_BACKEND; sim by default where no GPU is present).
 */
import assert from "node:assert/strict";
import { launch } from "../../mod.ts";
import { llamaKernels as K } from "../../ffi/kernels_llama.ts";
import * as ref from "../../scripts/reference/llama.ts";
import { assertClose, f32Buffer, rngFor, TestBuffer, toF16 } from "../../scripts/reference/harness.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

const F32_TOL = 1e-5;
const F16_TOL = 1e-2;

for (const [dim, misalign] of [[64, 0], [37, 0], [40, 4]] as const) {
  Deno.test({
    name: `kernels: embed f32/f16, dim ${dim}, misalign ${misalign}, bad ids give NaN rows`,
    ...ffiTest,
  }, () => {
    const dev = testDevice();
    const rng = rngFor(`embed ${dim} ${misalign}`);
    const vocab = 50, nTok = 7;
    const tokens = new Int32Array(nTok);
    for (let i = 0; i < nTok; i++) tokens[i] = rng.int(0, vocab);
    tokens[2] = -1;
    tokens[5] = vocab;
    tokens[6] = vocab - 1;
    const table = rng.floats(vocab * dim, -2, 2);
    using tok = new TestBuffer(dev, tokens.byteLength, "tokens").upload(tokens);
    using out = new TestBuffer(dev, nTok * dim * 4, "out", misalign);
    const check = (got: Float32Array, want: Float64Array, tol: number, what: string) => {
      for (let t = 0; t < nTok; t++) {
        const bad = tokens[t] < 0 || tokens[t] >= vocab;
        const g = got.subarray(t * dim, (t + 1) * dim), w = want.subarray(t * dim, (t + 1) * dim);
        if (bad) assert.ok(g.every(Number.isNaN), `${what}: token ${t} (id ${tokens[t]}) must give NaN`);
        else assertClose(g, w, tol, `${what} token ${t}`);
      }
    };
    {
      using tab = f32Buffer(dev, table, "table", misalign);
      launch(dev, null, K.embedF32, {
        out: out.arg,
        table: tab.arg,
        tokens: tok.arg,
        n_tokens: nTok,
        dim,
        vocab,
      });
      check(out.f32(), ref.embed(table, tokens, dim, vocab), F32_TOL, "embed_f32");
    }
    {
      const h = toF16(table);
      out.poison();
      using tab = new TestBuffer(dev, h.bits.byteLength, "table16", misalign).upload(h.bits);
      launch(dev, null, K.embedF16, {
        out: out.arg,
        table: tab.arg,
        tokens: tok.arg,
        n_tokens: nTok,
        dim,
        vocab,
      });
      check(out.f32(), ref.embed(h.values, tokens, dim, vocab), F16_TOL, "embed_f16");
    }
  });
}

for (
  const [rows, dim, misalign, inPlace] of [[4, 4096, 0, false], [5, 1001, 0, false], [3, 96, 4, false], [
    2,
    515,
    0,
    true,
  ]] as const
) {
  Deno.test({
    name: `kernels: rmsnorm ${rows}x${dim}, misalign ${misalign}${inPlace ? ", in place" : ""}`,
    ...ffiTest,
  }, () => {
    const dev = testDevice();
    const rng = rngFor(`rmsnorm ${rows} ${dim} ${misalign} ${inPlace}`);
    const x = rng.floats(rows * dim, -3, 3), w = rng.floats(dim, 0.5, 1.5), eps = 1e-5;
    using xb = f32Buffer(dev, x, "x", misalign);
    using wb = f32Buffer(dev, w, "w");
    using ob = new TestBuffer(dev, x.byteLength, "out", misalign);
    const out = inPlace ? xb : ob;
    launch(dev, null, K.rmsnorm, { out: out.arg, x: xb.arg, weight: wb.arg, rows, dim, eps });
    assertClose(out.f32(), ref.rmsnorm(x, w, rows, dim, Math.fround(eps)), F32_TOL, "rmsnorm");
  });
}

for (const [n, misalign] of [[11008, 0], [1003, 0], [1003, 4], [3, 0]] as const) {
  Deno.test({ name: `kernels: silu_mul and add, n ${n}, misalign ${misalign}`, ...ffiTest }, () => {
    const dev = testDevice();
    const rng = rngFor(`silu add ${n} ${misalign}`);
    const a = rng.floats(n, -8, 8), b = rng.floats(n, -2, 2);
    using ab = f32Buffer(dev, a, "gate", misalign);
    using bb = f32Buffer(dev, b, "up");
    using ob = new TestBuffer(dev, a.byteLength, "out");
    launch(dev, null, K.siluMul, { out: ob.arg, gate: ab.arg, up: bb.arg, n });
    assertClose(ob.f32(), ref.siluMul(a, b), F32_TOL, "silu_mul");
    ob.poison();
    launch(dev, null, K.add, { out: ob.arg, a: ab.arg, b: bb.arg, n });
    assertClose(ob.f32(), ref.add(a, b), F32_TOL, "add");
    // residual add in place: a += b
    launch(dev, null, K.add, { out: ab.arg, a: ab.arg, b: bb.arg, n });
    assertClose(ab.f32(), ref.add(a, b), F32_TOL, "add in place");
  });
}

Deno.test({
  name: "kernels: kv_append at host and device positions, rows past the cache skipped",
  ...ffiTest,
}, () => {
  const dev = testDevice();
  const rng = rngFor("kv_append");
  for (
    const [seqLen, nHeadKv, headDim, pos, ctxLen, misalign] of [
      [5, 2, 64, 13, 20, 0],
      [4, 2, 64, 18, 20, 0], // rows 20, 21 fall past the cache
      [3, 3, 5, 0, 9, 0], // odd row size: scalar path
      [3, 2, 8, -1, 9, 4], // row -1 skipped; misaligned
      [1, 8, 128, 2047, 2048, 0], // decode: the last row
    ] as const
  ) {
    const row = nHeadKv * headDim;
    const kc = rng.floats(ctxLen * row), vc = rng.floats(ctxLen * row);
    const k = rng.floats(seqLen * row), v = rng.floats(seqLen * row);
    const want = ref.kvAppend(kc, vc, k, v, seqLen, nHeadKv, headDim, pos, ctxLen);
    for (const dpos of [false, true]) {
      using kcb = f32Buffer(dev, kc, "k_cache", misalign);
      using vcb = f32Buffer(dev, vc, "v_cache");
      using kb = f32Buffer(dev, k, "k");
      using vb = f32Buffer(dev, v, "v");
      using pb = new TestBuffer(dev, 4, "pos").upload(new Int32Array([pos]));
      const common = {
        k_cache: kcb.arg,
        v_cache: vcb.arg,
        k: kb.arg,
        v: vb.arg,
        seq_len: seqLen,
        n_head_kv: nHeadKv,
        head_dim: headDim,
        ctx_len: ctxLen,
      };
      if (dpos) launch(dev, null, K.kvAppendDpos, { ...common, pos: pb.arg });
      else launch(dev, null, K.kvAppend, { ...common, pos_offset: pos });
      const what = `kv_append${dpos ? "_dpos" : ""} ${seqLen}x${nHeadKv}x${headDim} at ${pos} of ${ctxLen}`;
      assert.deepEqual(kcb.f32(), Float32Array.from(want.k), `${what}: k cache`);
      assert.deepEqual(vcb.f32(), Float32Array.from(want.v), `${what}: v cache`);
    }
  }
});

Deno.test(
  { name: "kernels: argmax, first index of the max, NaN ignored, all-NaN row gives -1", ...ffiTest },
  () => {
    const dev = testDevice();
    const rng = rngFor("argmax");
    for (const [rows, n, misalign] of [[3, 32000, 0], [4, 1001, 0], [2, 4096, 4], [1, 1, 0]] as const) {
      const x = rng.floats(rows * n, -10, 10);
      if (n > 10) {
        // row 0: a tie, the first one must win; row 1: NaNs around the max
        const i = rng.int(0, n - 5);
        x[i] = 20;
        x[i + 3] = 20;
        x[n + rng.int(0, n)] = NaN;
        x[n + rng.int(0, n)] = 25;
      }
      if (rows > 2) { for (let i = 0; i < n; i++) x[2 * n + i] = NaN; }
      using xb = f32Buffer(dev, x, "logits", misalign);
      using ob = new TestBuffer(dev, rows * 4, "token");
      launch(dev, null, K.argmax, { out: ob.arg, x: xb.arg, rows, n });
      assert.deepEqual(ob.i32(), ref.argmax(x, rows, n), `argmax ${rows}x${n}`);
    }
  },
);
