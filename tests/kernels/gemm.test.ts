/**
 * The prefill GEMM path against float64 references: convert_f16 rounds to nearest even bit for bit
 * (normals, subnormals, overflow to infinity; aligned and odd lengths, misaligned buffers), and
 * gemm_f16 (cuBLAS on cuda when it loads, else the tiled kernel) equals the float64 product of the
 * f16 operands. Fresh random data each run (seed printed; FAULTLINE_SEED repeats it).
 */
import assert from "node:assert/strict";
import { launch, runtime } from "../../mod.ts";
import { llamaKernels as K } from "../../ffi/kernels_llama.ts";
import * as ref from "../../scripts/reference/llama.ts";
import { assertClose, f32Buffer, rngFor, TestBuffer, toF16 } from "../../scripts/reference/harness.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

Deno.test({ name: "kernels: convert_f16 rounds to nearest even", ...ffiTest }, () => {
  const dev = testDevice();
  for (const [n, misalign] of [[4099, 0], [64, 4], [3, 0]]) {
    const rng = rngFor(`convert_f16 ${n} ${misalign}`);
    const x = rng.floats(n, -70000, 70000);
    x[0] = 3e-6; // subnormal in f16
    x[n - 1] = -2e-8; // rounds to -0
    using xb = f32Buffer(dev, x, "x", misalign);
    using ob = new TestBuffer(dev, n * 2, "out", misalign);
    launch(dev, null, K.convertF16, { out: ob.arg, x: xb.arg, n });
    const got = new Uint16Array(n);
    ob.buf.download(got, { offset: misalign });
    assert.deepEqual(got, toF16(x).bits, `convert_f16 ${n}`);
  }
});

const GEMM: readonly (readonly [number, number, number])[] = [
  [37, 70, 133], // no dimension a multiple of a tile
  [64, 128, 256],
  [1, 33, 31],
  [130, 150, 77],
  [512, 96, 512], // a prefill chunk's worth of tokens
];

for (const [nTok, outDim, inDim] of GEMM) {
  Deno.test({ name: `kernels: gemm_f16 ${nTok} tokens, ${outDim}x${inDim}`, ...ffiTest }, () => {
    const dev = testDevice();
    const rng = rngFor(`gemm ${nTok} ${outDim} ${inDim}`);
    const w = toF16(rng.floats(outDim * inDim)), x = toF16(rng.floats(nTok * inDim, -2, 2));
    using wb = new TestBuffer(dev, w.bits.byteLength, "w").upload(w.bits);
    using xb = new TestBuffer(dev, x.bits.byteLength, "x").upload(x.bits);
    using yb = new TestBuffer(dev, nTok * outDim * 4, "y");
    launch(dev, null, K.gemmF16, {
      y: yb.arg,
      w: wb.arg,
      x: xb.arg,
      n_tokens: nTok,
      out_dim: outDim,
      in_dim: inDim,
    });
    assertClose(yb.f32(), ref.matmul(w.values, x.values, nTok, outDim, inDim), 1e-5, "gemm_f16");
  });
}

Deno.test({ name: "kernels: fl_blas_info names what gemm_f16 runs on", ...ffiTest }, () => {
  const rt = runtime();
  const buf = new Uint8Array(512);
  assert.equal(rt.symbols.fl_blas_info(buf, buf.length), 0);
  const info = new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
  const want = rt.backend === "sim"
    ? /^reference/
    : rt.backend === "cuda"
    ? /^(cublas \/|own kernel \()/
    : /^own kernel/;
  assert.match(info, want);
});
