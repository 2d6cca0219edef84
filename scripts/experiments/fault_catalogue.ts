/**
 * The fault catalogue: one experiment, one planted fault per case (param
 * `case`), each on direct launches of the fault and llama kernels, copies
 * and two streams. The test suite runs every case and checks that the
 * forensics names the planted op and the invariant it breaks; `none` is the
 * clean run (no finding, no hypothesis CONFIRMED).
 *
 *   deno run -A scripts/experiments/fault_catalogue.ts --param case=use-after-free
 *
 * Each case marks its ops with ctx.at({ op }) the way the block scheduler
 * names its ops, so the report reads "root cause: plant (...)".
 */

import { stockHypotheses } from "../forensics/stock.ts";
import { defineExperiment, main, type TrialContext } from "../trials/experiment.ts";

/** What the forensics must say about a case. */
export interface Expectation {
  /** The scheduler-style op name of the planted op (the root cause). */
  op: string;
  kind: string;
  /** Kernel or tensor name of that op. */
  name: string;
  /** The guard rail that flags it. */
  rail: string;
  /** The invariant it breaks (exact text of the rail). */
  invariant: string;
  /** The stock hypothesis that must be CONFIRMED. */
  hypothesis: string;
  /** Where the fault surfaces: a later op ("later"), the planted op itself ("self"), or nowhere ("none"). */
  surfaces: "later" | "self" | "none";
}

export const CASES: Record<string, Expectation | null> = {
  none: null,
  "oob-offset": {
    op: "plant",
    kind: "launch",
    name: "fault_fill",
    rail: "extent",
    invariant: "pointer + extent within the allocation",
    hypothesis: "offset-overflow",
    surfaces: "later",
  },
  "use-after-free": {
    op: "plant",
    kind: "launch",
    name: "fault_write_at",
    rail: "use_after_free",
    invariant: "pointer arguments point into live allocations",
    hypothesis: "use-after-free",
    surfaces: "later",
  },
  "null-pointer": {
    op: "plant",
    kind: "launch",
    name: "fault_write_at",
    rail: "null_pointer",
    invariant: "pointer arguments are not null",
    hypothesis: "misaligned-pointer",
    surfaces: "later",
  },
  "size-mismatch": {
    op: "plant",
    kind: "d2h",
    name: "x",
    rail: "copies",
    invariant: "copy within both ends",
    hypothesis: "byte-size-mismatch",
    surfaces: "self",
  },
  "missing-event": {
    op: "plant",
    kind: "d2h",
    name: "x",
    rail: "races",
    invariant: "accesses from two streams are ordered by an event wait or a sync",
    hypothesis: "missing-stream-sync",
    surfaces: "none",
  },
  "zero-seq-len": {
    op: "plant",
    kind: "launch",
    name: "rope",
    rail: "invariants",
    invariant: "seq_len > 0",
    hypothesis: "bad-launch-params",
    surfaces: "self",
  },
  "odd-head-dim": {
    op: "plant",
    kind: "launch",
    name: "rope",
    rail: "invariants",
    invariant: "head_dim even and > 0",
    hypothesis: "bad-launch-params",
    surfaces: "self",
  },
  "grid-over-limit": {
    op: "plant",
    kind: "launch",
    name: "attention_decode",
    rail: "launch_limits",
    invariant: "grid and block within the device's limits",
    hypothesis: "bad-launch-params",
    surfaces: "self",
  },
  "silent-overrun": {
    op: "plant",
    kind: "launch",
    name: "fault_fill",
    rail: "extent",
    invariant: "pointer + extent within the allocation",
    hypothesis: "byte-size-mismatch",
    surfaces: "none",
  },
};

const F32 = 4;

function plant(ctx: TrialContext, which: string): void {
  const { launch, faultFill, faultWriteAt, tick, memcpy, attentionDecodeScratchFloats } = ctx.ffi;
  const llama = ctx.ffi.llamaKernels;
  const d = ctx.device;
  const s = d.createStream();
  const x = d.malloc(64 * 1024, { name: "x" });
  const logits = d.malloc(32 * 1024, { name: "logits" });
  const counter = d.malloc(256, { name: "counter" });
  const host = new Float32Array(logits.bytes / F32);
  ctx.at({ step: 0, op: "prepare" });
  launch(d, s, faultFill, { dst: x, n: x.bytes / F32, value: 1 });
  launch(d, s, faultFill, { dst: logits, n: logits.bytes / F32, value: 2 });
  s.synchronize();

  ctx.at({ step: 1, layer: 0, op: "plant" });
  switch (which) {
    case "none":
      launch(d, s, faultFill, { dst: x, n: x.bytes / F32, value: 3 });
      break;
    case "oob-offset":
      // an offset into x, then far more elements than are left: runs into unmapped pages
      launch(d, s, faultFill, { dst: x.at(48 * 1024), n: 1 << 20, value: 3 });
      break;
    case "use-after-free": {
      const tmp = d.malloc(4096, { name: "scratch" });
      const addr = tmp.ptr;
      tmp.free();
      launch(d, s, faultWriteAt, { addr, value: 3 });
      break;
    }
    case "null-pointer":
      launch(d, s, faultWriteAt, { addr: 0, value: 3 });
      break;
    case "size-mismatch": {
      // a D2H copy of x that asks for 64 times its size
      const big = new Uint8Array(x.bytes * 64);
      const addr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(big)));
      memcpy(
        d,
        addr,
        x.ptr,
        big.byteLength,
        2,
        0,
        true,
        "x",
        addr,
      );
      break;
    }
    case "missing-event": {
      // stream A writes x (a long fill); stream B reads x without waiting for an event from A
      const b = d.createStream();
      launch(d, s, faultFill, { dst: x, n: x.bytes / F32, value: 4 });
      const h = new Float32Array(x.bytes / F32);
      x.download(h, { stream: b });
      b.synchronize();
      break;
    }
    case "zero-seq-len":
      launch(d, s, llama.rope, { x, seq_len: 0, heads: 32, head_dim: 128, pos_offset: 0, freq_base: 10000 });
      break;
    case "odd-head-dim":
      launch(d, s, llama.rope, { x, seq_len: 1, heads: 4, head_dim: 127, pos_offset: 0, freq_base: 10000 });
      break;
    case "grid-over-limit": {
      const nh = 65536, hd = 2, nctx = 64;
      const q = d.malloc(nh * hd * F32, { name: "q" });
      const out = d.malloc(nh * hd * F32, { name: "attn_out" });
      const kc = d.malloc(nctx * nh * hd * F32, { name: "k_cache" });
      const vc = d.malloc(nctx * nh * hd * F32, { name: "v_cache" });
      const scratch = d.malloc(attentionDecodeScratchFloats(nh, hd, nctx) * F32, {
        name: "attn_scratch",
      });
      launch(d, s, llama.attentionDecode, {
        out,
        q,
        k_cache: kc,
        v_cache: vc,
        scratch,
        n_head: nh,
        n_head_kv: nh,
        head_dim: hd,
        n_ctx: nctx,
      });
      break;
    }
    case "silent-overrun": {
      // 4000 bytes asked for, 4040 written: the overrun stays inside the last mapped page
      const small = d.malloc(4000, { name: "small" });
      launch(d, s, faultFill, { dst: small, n: 1010, value: 3 });
      break;
    }
    default:
      throw new Error(`unknown case ${which} (${Object.keys(CASES).join(", ")})`);
  }
  // work after the plant, as a decode step would continue
  ctx.at({ step: 1, layer: 1, op: "after" });
  launch(d, s, tick, { counter });
  ctx.at({ step: 1, op: "logits D2H" });
  logits.download(host, { stream: s });
  s.synchronize();
}

export const experiment = defineExperiment({
  name: "fault_catalogue",
  title: "A planted fault per case; the forensics must name the planted op and its invariant",
  params: { case: "use-after-free" },
  hypotheses: stockHypotheses(),
  run(ctx) {
    const which = String(ctx.params.case);
    ctx.config.case = which;
    plant(ctx, which);
    return { case: which };
  },
});

if (import.meta.main) await main(experiment);
