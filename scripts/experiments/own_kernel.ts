/**
 * Your own kernel under faultline: a RoPE written the way an engine writes
 * it (kernels/examples/rope_user.hip, NeoX pairs, positions on the device),
 * loaded from source at run time and launched on Q and K for a few decode
 * steps, with a D2H copy of the rotated Q after each step.
 *
 *   deno run -A scripts/experiments/own_kernel.ts                      # clean: no finding
 *   deno run -A scripts/experiments/own_kernel.ts --param bug=kv-heads # K rotated with Q's head count
 *
 * The bug is the classic GQA slip: at step `bug_step` the K launch is given
 * the query head count (32) on a K buffer sized for the KV heads (8), so the
 * kernel writes far past the buffer. On sim the write reaches an unmapped
 * page and the fault surfaces at the next D2H; faultline replays the trial,
 * names the "RoPE K" launch of rope_user, its argument x and the extent it
 * breaks. Copy this file and point `source` at your kernel to start your own.
 */
import { defineExperiment, integerParam, main, type ParamCheck } from "../trials/experiment.ts";
import { defineKernel } from "../../mod.ts";

/** The kernel as kernels/examples/rope_user.hip declares it; the one description faultline checks. */
export const ropeUser = defineKernel({
  name: "rope_user",
  args: [
    { name: "x", type: "ptr", access: "rw", elem: 4, extent: (a) => a.n_tokens * a.n_heads * a.head_dim * 4 },
    { name: "pos", type: "ptr", access: "r", elem: 4, extent: (a) => a.n_tokens * 4 },
    { name: "n_tokens", type: "u32" },
    { name: "n_heads", type: "u32" },
    { name: "head_dim", type: "u32" },
    { name: "freq_base", type: "f32" },
  ],
  grid: (a) => Math.ceil((a.n_tokens * a.n_heads * a.head_dim) / 2 / 128),
  block: 128,
});

/** RoPE rotates pairs: an even head_dim. */
const evenHeadDim: ParamCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 2 && (v as number) <= 1024 && (v as number) % 2 === 0
    ? null
    : "an even integer from 2 to 1024";

export const experiment = defineExperiment({
  name: "own_kernel",
  title: "a user's RoPE kernel, loaded from source, on Q and K of a decode",
  params: { bug: "none", bug_step: 2, steps: 4, n_heads: 32, n_kv_heads: 8, head_dim: 128 },
  paramRules: {
    bug: ["none", "kv-heads"],
    bug_step: (v, p) => integerParam(0, Number(p.steps) - 1)(v, p),
    steps: integerParam(1, 64),
    n_heads: integerParam(1, 256),
    n_kv_heads: (v, p) => integerParam(1, Number(p.n_heads))(v, p),
    head_dim: evenHeadDim,
  },
  async run(ctx) {
    const { launch, loadKernels } = ctx.ffi;
    const p = ctx.params as Record<string, number | string>;
    const [H, HKV, D, steps] = [Number(p.n_heads), Number(p.n_kv_heads), Number(p.head_dim), Number(p.steps)];
    const source = new URL("../../kernels/examples/rope_user.hip", import.meta.url);
    const module = await loadKernels(ctx.device, { source, kernels: [ropeUser] });
    ctx.config = { kernel: "rope_user", source: "kernels/examples/rope_user.hip", compiled: module.compiler };
    const dev = ctx.device;
    const q = dev.malloc(H * D * 4, { name: "q" });
    const k = dev.malloc(HKV * D * 4, { name: "k" });
    const pos = dev.malloc(4, { name: "pos" });
    const out = new Float32Array(H * D);
    for (let step = 0; step < steps; step++) {
      ctx.at({ step, op: "upload" });
      q.upload(out.map((_, i) => Math.sin(i + step)));
      k.upload(new Float32Array(HKV * D).map((_, i) => Math.cos(i + step)));
      pos.upload(new Int32Array([step]));
      const rope = { pos, n_tokens: 1, head_dim: D, freq_base: 10000 };
      ctx.at({ step, op: "RoPE Q" });
      launch(dev, null, ropeUser, { ...rope, x: q, n_heads: H });
      ctx.at({ step, op: "RoPE K" });
      const kHeads = p.bug === "kv-heads" && step === Number(p.bug_step) ? H : HKV;
      launch(dev, null, ropeUser, { ...rope, x: k, n_heads: kHeads });
      ctx.at({ step, op: "q D2H" });
      q.download(out);
    }
    return { q0: out[0] };
  },
});

if (import.meta.main) await main(experiment);
