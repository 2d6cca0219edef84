/**
 * The D2H audit: a decode with the engine's device-to-host trace sites
 * (post-wo sample, RMSNorm in/out/weight, attention q/k/v heads, MLP outputs,
 * KV-cache dump), each copy journaled, resolved against the allocations and
 * checked by the guard rails, and a [D2H_AUDIT_START]/[D2H_AUDIT_END] log of
 * every copy. The stock hypotheses (use after free, offset overflow, size
 * mismatch, missing sync, ...) are decided from that evidence.
 *
 *   deno run -A scripts/experiments/d2h_audit.ts                       # clean trace copies: not reproduced
 *   deno run -A scripts/experiments/d2h_audit.ts --param fault=kv-overflow
 *
 * Params:
 *   fault   none | kv-overflow (the attention trace copies seq_len_used * Dh floats with
 *           seq_len_used past the KV cache: an offset overflow) | stale-src (a trace
 *           copy from a freed buffer: a use after free)
 *   steps   decode steps (default 3); trace_layer (default 0)
 *   model   auto (tiny on sim, llama2-7b elsewhere) | a preset name
 */

import type { DeviceBuffer, OpContext, Stream } from "../../mod.ts";
import type { LlamaConfig } from "../model/config.ts";
import type { GpuModel } from "../model/gpu_model.ts";
import type { LlamaEngine } from "../scheduler/mod.ts";
import { stockHypotheses } from "../forensics/stock.ts";
import { layerParam, MODEL_PARAM } from "../model/params.ts";
import { defineExperiment, integerParam, main, type TrialContext } from "../trials/experiment.ts";

const F = 4;

/** What the trace sites share: the trial, the engine and model, the traced layer and the planted fault. */
interface Tracing {
  ctx: TrialContext;
  engine: LlamaEngine;
  model: GpuModel;
  cfg: LlamaConfig;
  layer: number;
  fault: string;
  maxContext: number;
  /** The address of a buffer freed before the decode (the stale-src fault's source). */
  staleAddr: number;
}

/** Runs `fn` with the trace site's name as the op name (the journal and the audit log carry it). */
function site(t: Tracing, name: string, fn: () => void): void {
  const { boundary } = t.ctx.ffi;
  const prev = boundary.context;
  boundary.context = { ...prev, op: name } as OpContext;
  try {
    fn();
  } finally {
    boundary.context = prev;
  }
}

const host = (n: number) => new Float32Array(n); // a fresh host vector per call, as an engine's trace code does
const addrOf = (h: Float32Array) => Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(h)));

/** The trace sites after the traced layer's O proj, RMSNorm, attention and down proj launches. */
function installTraceSites(t: Tracing): void {
  const b = (n: string) => t.engine.buffer(n);
  const sampleN = Math.min(16, t.cfg.dim);
  const at = (name: "O proj" | "RMSNorm attn" | "attention" | "down proj") => ({ layer: t.layer, name });
  const sample = (buf: DeviceBuffer, stream: Stream) =>
    buf.download(host(sampleN), { bytes: sampleN * F, stream });
  // 1. post_wo trace: a sample of the attention output, async then a sync
  t.engine.hooks.after(at("O proj"), (op) =>
    site(t, "post_wo trace", () => {
      sample(b("attn_out"), op.stream);
      op.stream.synchronize();
    }));
  // 2. RMSNorm trace: input, output, weight; three async copies, one sync
  t.engine.hooks.after(at("RMSNorm attn"), (op) =>
    site(t, "RMSNorm trace", () => {
      sample(b("x"), op.stream);
      sample(b("x_norm"), op.stream);
      sample(t.model.weight(`blk.${t.layer}.attn_norm.weight`).buffer, op.stream);
      op.stream.synchronize();
    }));
  t.engine.hooks.after(
    at("attention"),
    (op) => site(t, "attention trace", () => attentionTrace(t, op.pos, op.stream)),
  );
  // 4. MLP trace: attention and FFN outputs, synchronous copies
  t.engine.hooks.after(at("down proj"), (op) =>
    site(t, "MLP trace", () => {
      op.stream.synchronize();
      const D = t.cfg.dim;
      if (t.fault === "stale-src") {
        const h = host(D);
        t.ctx.ffi.memcpy(t.ctx.device, addrOf(h), t.staleAddr, D * F, 2, 0, true, "attn_out", addrOf(h));
      } else b("attn_out").download(host(D));
      b("ffn_out").download(host(D));
    }));
}

/** 3. attention trace: q head, k and v head bases over seq_len_used rows, attention head. */
function attentionTrace(t: Tracing, pos: number, stream: Stream): void {
  const b = (n: string) => t.engine.buffer(n);
  const Dh = t.cfg.headDim;
  const kvDim = t.cfg.nKvHeads * Dh;
  const seqUsed = pos + 1 + (t.fault === "kv-overflow" ? t.maxContext : 0);
  b("q").download(host(Dh), { bytes: Dh * F, stream });
  for (const c of [b(`k_cache.L${t.layer}`), b(`v_cache.L${t.layer}`)]) {
    // static_cast<size_t>(seq_len_used) * Dh * sizeof(float) bytes, from the head's base
    const bytes = seqUsed * kvDim * F;
    const h = host(bytes / F);
    t.ctx.ffi.memcpy(t.ctx.device, addrOf(h), c.ptr, bytes, 2, stream.handle, false, c.name, addrOf(h));
  }
  b("attn").download(host(Dh), { bytes: Dh * F, stream });
  stream.synchronize();
}

export const experiment = defineExperiment({
  name: "d2h_audit",
  title: "Every device-to-host copy of a decode, journaled and checked",
  params: { fault: "none", steps: 3, trace_layer: 0, model: "auto" },
  paramRules: {
    fault: ["none", "kv-overflow", "stale-src"],
    steps: integerParam(1, 28), // a 3-token prompt and the decode in a 32-token context
    trace_layer: layerParam(),
    model: MODEL_PARAM,
  },
  hypotheses: stockHypotheses(),
  d2hAudit: true,
  async run(ctx) {
    const { presetConfig, isPresetName } = await import("../model/config.ts");
    const { gpuModel } = await import("../model/gpu_model.ts");
    const { LlamaEngine } = await import("../scheduler/mod.ts");
    const sim = ctx.backend === "sim";
    const preset = ctx.params.model === "auto" || ctx.params.model === undefined
      ? (sim ? "tiny" : "llama2-7b")
      : String(ctx.params.model);
    if (!isPresetName(preset)) throw new Error(`unknown model preset ${preset}`);
    const cfg = presetConfig(preset);
    const fault = String(ctx.params.fault ?? "none");
    const layer = Number(ctx.params.trace_layer ?? 0);
    Object.assign(ctx.config, {
      model: `${preset} (dim ${cfg.dim}, ffn ${cfg.ffnDim}, ${cfg.nLayers} layers)`,
      fault,
      trace: `post-wo, RMSNorm, attention, MLP and KV-dump sites at layer ${layer}`,
    });
    const model = gpuModel(ctx.device, cfg, 1, { dtype: sim ? "f32" : "f16" });
    const maxContext = 32;
    const engine = await LlamaEngine.create(ctx.device, model, { maxContext });
    const stale = ctx.device.malloc(cfg.dim * F, { name: "stale_trace_src" });
    const t: Tracing = { ctx, engine, model, cfg, layer, fault, maxContext, staleAddr: stale.ptr };
    stale.free();
    installTraceSites(t);
    return { tokens: decodeWithKvDumps(t, Number(ctx.params.steps ?? 3)) };
  },
});

/** The decode; 5. a KV-cache dump of the traced layer after each step. */
function decodeWithKvDumps(t: Tracing, steps: number): number[] {
  const b = (n: string) => t.engine.buffer(n);
  let tok = t.engine.prefill([1, 5, 9]);
  const tokens = [tok];
  for (let i = 0; i < steps; i++) {
    tokens.push(tok = t.engine.decodeStep(tok));
    site(t, "KV cache dump", () => {
      for (const n of [`k_cache.L${t.layer}`, `v_cache.L${t.layer}`]) b(n).download(host(b(n).bytes / F));
    });
  }
  return tokens;
}

if (import.meta.main) await main(experiment);
