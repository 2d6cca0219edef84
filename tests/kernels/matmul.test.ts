/**
 * Llama matrix kernels against the float64 reference (scripts/reference/llama.ts):
 * decode mat-vec and prefill matmul, f32 and f16 weights (row-major [out, in],
 * y = W x), aligned sizes (16-byte paths) and odd ones (scalar paths). Fresh
 * random data each run (seed printed; FAULTLINE_SEED repeats it), outputs
 * poisoned with NaN bytes before each launch.
 */
import { launch } from "../../mod.ts";
import { llamaKernels as K } from "../../ffi/kernels_llama.ts";
import * as ref from "../../scripts/reference/llama.ts";
import { assertClose, f32Buffer, rngFor, TestBuffer, toF16 } from "../../scripts/reference/harness.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

const F32_TOL = 1e-5;
const F16_TOL = 1e-2;

const MATVEC: readonly (readonly [number, number, number])[] = [
  [512, 4096, 0], // 16-byte paths
  [300, 1000, 0], // in_dim % 8 != 0: f16 scalar, f32 vector
  [61, 1003, 0], // odd: scalar paths
  [37, 256, 4], // misaligned x and W: scalar paths
  [1, 1, 0],
];

for (const [outDim, inDim, misalign] of MATVEC) {
  Deno.test({ name: `kernels: matvec f32/f16 ${outDim}x${inDim}, misalign ${misalign}`, ...ffiTest }, () => {
    const dev = testDevice();
    const rng = rngFor(`matvec ${outDim} ${inDim} ${misalign}`);
    const w = rng.floats(outDim * inDim), x = rng.floats(inDim, -2, 2);
    using xb = f32Buffer(dev, x, "x", misalign);
    using yb = new TestBuffer(dev, outDim * 4, "y");
    {
      using wb = f32Buffer(dev, w, "w", misalign);
      launch(dev, null, K.matvecF32, { y: yb.arg, w: wb.arg, x: xb.arg, out_dim: outDim, in_dim: inDim });
      assertClose(yb.f32(), ref.matmul(w, x, 1, outDim, inDim), F32_TOL, "matvec_f32");
    }
    {
      const h = toF16(w);
      yb.poison();
      using wb = new TestBuffer(dev, h.bits.byteLength, "w16", misalign).upload(h.bits);
      launch(dev, null, K.matvecF16, { y: yb.arg, w: wb.arg, x: xb.arg, out_dim: outDim, in_dim: inDim });
      assertClose(yb.f32(), ref.matmul(h.values, x, 1, outDim, inDim), F16_TOL, "matvec_f16");
    }
  });
}

const MATMUL: readonly (readonly [number, number, number])[] = [
  [64, 128, 256],
  [37, 70, 133], // no dimension a multiple of the tile
  [1, 33, 31],
  [130, 150, 77], // several tiles along tokens and outputs
];

for (const [nTok, outDim, inDim] of MATMUL) {
  Deno.test({ name: `kernels: matmul f32/f16 ${nTok} tokens, ${outDim}x${inDim}`, ...ffiTest }, () => {
    const dev = testDevice();
    const rng = rngFor(`matmul ${nTok} ${outDim} ${inDim}`);
    const w = rng.floats(outDim * inDim), x = rng.floats(nTok * inDim, -2, 2);
    using xb = f32Buffer(dev, x, "x");
    using yb = new TestBuffer(dev, nTok * outDim * 4, "y");
    const args = { y: yb.arg, x: xb.arg, n_tokens: nTok, out_dim: outDim, in_dim: inDim };
    {
      using wb = f32Buffer(dev, w, "w");
      launch(dev, null, K.matmulF32, { ...args, w: wb.arg });
      assertClose(yb.f32(), ref.matmul(w, x, nTok, outDim, inDim), F32_TOL, "matmul_f32");
    }
    {
      const h = toF16(w);
      yb.poison();
      using wb = new TestBuffer(dev, h.bits.byteLength, "w16").upload(h.bits);
      launch(dev, null, K.matmulF16, { ...args, w: wb.arg });
      assertClose(yb.f32(), ref.matmul(h.values, x, nTok, outDim, inDim), F16_TOL, "matmul_f16");
    }
  });
}
