/**
 * Kernels over ggml block-quantized weights against float64 references of the dequantized weights
 * (scripts/model/quant.ts decodes the blocks; scripts/reference/llama.ts multiplies): the decode
 * mat-vecs (Q8_0, Q4_0, Q4_K), on weights that the quantizer wrote from random floats and on random
 * blocks (every bit pattern of quants and 6-bit scales, random f16 scales), 16-byte aligned and not;
 * and the dequantization to f16, bit for bit (each weight's f32 value rounded to nearest even). Fresh
 * random data each run (seed printed; FAULTLINE_SEED repeats it), outputs poisoned with NaN bytes.
 */
import assert from "node:assert/strict";
import { launch } from "../../mod.ts";
import { llamaKernels as K } from "../../ffi/kernels_llama.ts";
import { QUANT_KERNELS } from "../../ffi/kernels_quant.ts";
import { f32ToF16Bits } from "../../scripts/model/f16.ts";
import { dequantize, QUANT_FORMATS, quantizeRows, type QuantType } from "../../scripts/model/quant.ts";
import * as ref from "../../scripts/reference/llama.ts";
import { assertClose, f32Buffer, type Rng, rngFor, TestBuffer } from "../../scripts/reference/harness.ts";
import { ffiTest, testDevice } from "../helpers/env.ts";

const TOL = 1e-5;
const TYPES: readonly QuantType[] = ["q8_0", "q4_0", "q4_k"];

/** Random blocks: random bytes, each f16 scale (d; Q4_K d and dmin) a random value in [0.001, 0.05]. */
function randomBlocks(rng: Rng, type: QuantType, rows: number, cols: number): Uint8Array {
  const f = QUANT_FORMATS[type];
  const out = new Uint8Array(rows * (cols / f.block) * f.bytes);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(0, 256);
  const scales = type === "q4_k" ? 2 : 1;
  for (let b = 0; b < out.length / f.bytes; b++) {
    for (let s = 0; s < scales; s++) {
      const h = f32ToF16Bits(rng.uniform(0.001, 0.05));
      out[b * f.bytes + 2 * s] = h & 255;
      out[b * f.bytes + 2 * s + 1] = h >> 8;
    }
  }
  return out;
}

function weightsOf(rng: Rng, type: QuantType, rows: number, cols: number, from: "quantizer" | "random") {
  const bytes = from === "random"
    ? randomBlocks(rng, type, rows, cols)
    : quantizeRows(type, rng.floats(rows * cols, -1, 1), cols);
  return { bytes, values: dequantize(QUANT_FORMATS[type].ggml, bytes, rows * cols) };
}

const MATVEC: readonly (readonly [number, number, number])[] = [
  // out_dim, in_dim, misalign (bytes of the weights; x is then off by 4)
  [64, 4096, 0], // 16 Q4_K super-blocks a row: both tasks of a lane in flight
  [37, 512, 0], // a last block of rows with an odd row out
  [13, 256, 2], // 2-byte aligned weights, misaligned x: the narrow-load paths
  [1, 1024, 0],
  [300, 768, 0],
];

for (const type of TYPES) {
  for (const [outDim, inDim, misalign] of MATVEC) {
    for (const from of ["quantizer", "random"] as const) {
      Deno.test({
        name: `kernels: matvec_${type} ${outDim}x${inDim}${misalign ? ", misaligned" : ""}, ${from} blocks`,
        ...ffiTest,
      }, () => {
        const dev = testDevice();
        const rng = rngFor(`matvec ${type} ${outDim} ${inDim} ${misalign} ${from}`);
        const w = weightsOf(rng, type, outDim, inDim, from);
        const x = rng.floats(inDim, -2, 2);
        using wb = new TestBuffer(dev, w.bytes.length, "w", misalign).upload(w.bytes);
        using xb = f32Buffer(dev, x, "x", misalign ? 4 : 0);
        using yb = new TestBuffer(dev, outDim * 4, "y");
        launch(dev, null, QUANT_KERNELS[type].matvec, {
          y: yb.arg,
          w: wb.arg,
          x: xb.arg,
          out_dim: outDim,
          in_dim: inDim,
        });
        assertClose(yb.f32(), ref.matmul(w.values, x, 1, outDim, inDim), TOL, `matvec_${type}`);
      });
    }
  }
}

for (const type of TYPES) {
  Deno.test({ name: `kernels: dequant_${type} to f16, bit for bit`, ...ffiTest }, () => {
    const dev = testDevice();
    for (const [rows, cols, misalign] of [[9, 512, 0], [3, 256, 2], [1, 768, 0]]) {
      const rng = rngFor(`dequant ${type} ${rows} ${cols} ${misalign}`);
      const w = weightsOf(rng, type, rows, cols, "random");
      using wb = new TestBuffer(dev, w.bytes.length, "w").upload(w.bytes);
      using ob = new TestBuffer(dev, rows * cols * 2, "out", misalign);
      launch(dev, null, QUANT_KERNELS[type].dequant, { out: ob.arg, w: wb.arg, rows, cols });
      const got = new Uint16Array(rows * cols);
      ob.buf.download(got, { offset: misalign });
      // each weight is one f32 rounding of its exact value (fmaf for Q4_K), then f16's
      const want = Uint16Array.from(w.values, (v) => f32ToF16Bits(Math.fround(v)));
      assert.deepEqual(got, want, `dequant_${type} ${rows}x${cols}`);
    }
  });
}

Deno.test({
  name: "kernels: quantized mat-vec on a real weight layout (Q4_K FFN down, 4096x11008)",
  ...ffiTest,
}, () => {
  const dev = testDevice();
  const rng = rngFor("matvec q4_k ffn down");
  const outDim = 64, inDim = 11008; // the rows of Llama-2-7B's ffn_down: 43 super-blocks each
  const w = weightsOf(rng, "q4_k", outDim, inDim, "quantizer");
  const x = rng.floats(inDim, -2, 2);
  using wb = new TestBuffer(dev, w.bytes.length, "w").upload(w.bytes);
  using xb = f32Buffer(dev, x, "x");
  using yb = new TestBuffer(dev, outDim * 4, "y");
  launch(dev, null, K.matvecQ4K, { y: yb.arg, w: wb.arg, x: xb.arg, out_dim: outDim, in_dim: inDim });
  assertClose(yb.f32(), ref.matmul(w.values, x, 1, outDim, inDim), TOL, "matvec_q4_k");
});
