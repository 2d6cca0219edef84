/**
 * Device isolation: a matrix of identical trials (it is declared here, so it
 * runs without --matrix) placed on every device, one trial per device at a
 * time; each trial runs `work` matrix-vector products on its device and checks
 * the result against a float64 reference on the host.
 * With `--param fault_device=N`, the trials placed on device N write through a
 * wild pointer halfway through: they FAULT, and faultline names the write,
 * while the trials on the other devices, side by side with them, stay PASS.
 *
 *   deno run -A scripts/experiments/device_isolation.ts
 *   deno run -A scripts/experiments/device_isolation.ts --param fault_device=1 --devices 0,1
 *   FAULTLINE_SIM_DEVICES=4 deno run -A scripts/experiments/device_isolation.ts --param fault_device=2
 *
 * Params: fault_device (default -1: none), dim (matrix size, default 256), work (products per trial,
 * default 32).
 */

import { stockHypotheses } from "../forensics/stock.ts";
import { defineExperiment, main, type TrialContext } from "../trials/experiment.ts";

/** A float64 reference of y = W x. */
function matvec64(w: Float32Array, x: Float32Array, dim: number): Float64Array {
  const y = new Float64Array(dim);
  for (let r = 0; r < dim; r++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += w[r * dim + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** Values in [-1, 1) from a seeded generator (each trial draws its own). */
function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >>> 17, s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** The largest error of `got` against `want`, relative to want's largest magnitude. */
function relError(got: Float32Array, want: Float64Array): number {
  let err = 0, scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / scale;
}

function run(ctx: TrialContext) {
  const { faultWriteAt, launch, llamaKernels } = ctx.ffi;
  const dim = Number(ctx.params.dim ?? 256), work = Number(ctx.params.work ?? 32);
  const faultDevice = Number(ctx.params.fault_device ?? -1);
  const dev = ctx.device;
  Object.assign(ctx.config, { dim, work, fault_device: faultDevice });
  const seed = (ctx.iteration + 1) * 7919 + dev.id;
  const w = random(dim * dim, seed), x = random(dim, seed + 1);
  using wb = dev.malloc(w.byteLength, { name: "w" });
  using xb = dev.malloc(x.byteLength, { name: "x" });
  using yb = dev.malloc(x.byteLength, { name: "y" });
  wb.upload(w);
  xb.upload(x);
  for (let i = 0; i < work; i++) {
    ctx.at({ step: i, op: "matvec" });
    launch(dev, null, llamaKernels.matvecF32, { y: yb, w: wb, x: xb, out_dim: dim, in_dim: dim });
    if (dev.id === faultDevice && i === work >> 1) {
      ctx.at({ step: i, op: "plant" });
      launch(dev, null, faultWriteAt, { addr: 0x1000, value: 1 }); // a wild pointer: no device's memory
    }
  }
  const y = new Float32Array(dim);
  yb.download(y);
  const err = relError(y, matvec64(w, x, dim));
  if (!(err < 1e-4)) {
    throw new Error(`y = W x on device ${dev.id} is off by ${err.toExponential(2)} (relative)`);
  }
  return { device: dev.id, busId: dev.busId, relError: err };
}

export const experiment = defineExperiment({
  name: "device_isolation",
  title: "A fault planted on one device's trials leaves the trials on the other devices clean",
  params: { fault_device: -1, dim: 256, work: 32 },
  matrix: [{ name: "audit", mode: "audit", iterations: 16 }],
  hypotheses: stockHypotheses(),
  timeoutMs: 120_000,
  run,
});

if (import.meta.main) await main(experiment);
