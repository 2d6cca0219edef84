/**
 * The D2H audit (the seeds' B3.62, reports 001 and 002): a decode with the
 * engine's device-to-host trace sites (post-wo sample, RMSNorm in/out/weight,
 * attention q/k/v heads, MLP outputs, KV-cache dump), each copy journaled,
 * resolved against the allocations and checked by the guard rails, and the
 * seeds' [D2H_AUDIT_START]/[D2H_AUDIT_END] log. The six hypotheses of report
 * 001 are decided from the evidence instead of "requires runtime verification".
 *
 *   deno run -A scripts/experiments/d2h_audit.ts                       # the seeds' outcome: not reproduced
 *   deno run -A scripts/experiments/d2h_audit.ts --param fault=kv-overflow
 *
 * Params:
 *   fault   none | kv-overflow (the attention trace copies seq_len_used * Dh floats with
 *           seq_len_used past the KV cache: report 001's offset worry) | stale-src (a trace
 *           copy from a freed buffer: report 001's use-after-free worry)
 *   steps   decode steps (default 3); trace_layer (default 0)
 *   model   auto (tiny on sim, llama2-7b elsewhere) | a preset name
 */

import type { OpContext } from "../../mod.ts";
import { stockHypotheses } from "../forensics/stock.ts";
import { defineExperiment, main } from "../trials/experiment.ts";

export const experiment = defineExperiment({
  name: "d2h_audit",
  title: "Every device-to-host copy of a decode, journaled and checked (seeds 001, 002)",
  params: { fault: "none", steps: 3, trace_layer: 0, model: "auto" },
  hypotheses: stockHypotheses(),
  d2hAudit: true,
  async run(ctx) {
    const { presetConfig } = await import("../model/config.ts");
    const { gpuModel } = await import("../model/gpu_model.ts");
    const { LlamaEngine } = await import("../scheduler/mod.ts");
    const { boundary, memcpy } = ctx.ffi;
    const { isPresetName } = await import("../model/config.ts");
    const sim = ctx.backend === "sim";
    const preset = ctx.params.model === "auto" || ctx.params.model === undefined
      ? (sim ? "tiny" : "llama2-7b")
      : String(ctx.params.model);
    if (!isPresetName(preset)) throw new Error(`unknown model preset ${preset}`);
    const cfg = presetConfig(preset);
    const fault = String(ctx.params.fault ?? "none");
    const traceLayer = Number(ctx.params.trace_layer ?? 0);
    const steps = Number(ctx.params.steps ?? 3);
    Object.assign(ctx.config, {
      model: `${preset} (dim ${cfg.dim}, ffn ${cfg.ffnDim}, ${cfg.nLayers} layers)`,
      fault,
      trace: `post-wo, RMSNorm, attention, MLP and KV-dump sites at layer ${traceLayer}`,
    });
    const dev = ctx.device;
    const model = gpuModel(dev, cfg, 1, { dtype: sim ? "f32" : "f16" });
    const maxContext = 32;
    const engine = await LlamaEngine.create(dev, model, { maxContext });
    const b = (n: string) => engine.buffer(n);
    const F = 4;
    const Dh = cfg.headDim;
    const D = cfg.dim;
    const sampleN = Math.min(16, D);
    const kvDim = cfg.nKvHeads * Dh;
    const stale = dev.malloc(D * F, { name: "stale_trace_src" });
    const staleAddr = stale.ptr;
    stale.free();

    /** Runs `fn` with the trace site's name as the op name (the journal and the audit log carry it). */
    const site = (name: string, fn: () => void) => {
      const prev = boundary.context;
      boundary.context = { ...prev, op: name } as OpContext;
      try {
        fn();
      } finally {
        boundary.context = prev;
      }
    };
    const host = (n: number) => new Float32Array(n); // a fresh host vector per call, as the seeds' sites
    const addrOf = (h: Float32Array) => Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(h)));
    const at = (name: "O proj" | "RMSNorm attn" | "attention" | "down proj") => ({ layer: traceLayer, name });

    // 1. post_wo trace: a sample of the attention output, async then a sync
    engine.hooks.after(at("O proj"), (op) =>
      site("post_wo trace", () => {
        b("attn_out").download(host(sampleN), { bytes: sampleN * F, stream: op.stream });
        op.stream.synchronize();
      }));
    // 2. RMSNorm trace: input, output, weight; three async copies, one sync
    engine.hooks.after(at("RMSNorm attn"), (op) =>
      site("RMSNorm trace", () => {
        b("x").download(host(sampleN), { bytes: sampleN * F, stream: op.stream });
        b("x_norm").download(host(sampleN), { bytes: sampleN * F, stream: op.stream });
        model.weight(`blk.${traceLayer}.attn_norm.weight`).buffer.download(host(sampleN), {
          bytes: sampleN * F,
          stream: op.stream,
        });
        op.stream.synchronize();
      }));
    // 3. attention trace: q head, k and v head bases over seq_len_used rows, attention head
    engine.hooks.after(at("attention"), (op) =>
      site("attention trace", () => {
        const seqUsed = op.pos + 1 + (fault === "kv-overflow" ? maxContext : 0);
        b("q").download(host(Dh), { bytes: Dh * F, stream: op.stream });
        const kc = b(`k_cache.L${traceLayer}`);
        const vc = b(`v_cache.L${traceLayer}`);
        for (const c of [kc, vc]) {
          // the seeds' static_cast<size_t>(seq_len_used) * Dh * sizeof(float), from the head's base
          const bytes = seqUsed * kvDim * F;
          const h = host(bytes / F);
          memcpy(dev, addrOf(h), c.ptr, bytes, 2, op.stream.handle, false, c.name, addrOf(h));
        }
        b("attn").download(host(Dh), { bytes: Dh * F, stream: op.stream });
        op.stream.synchronize();
      }));
    // 4. MLP trace: attention and FFN outputs, synchronous copies
    engine.hooks.after(at("down proj"), (op) =>
      site("MLP trace", () => {
        op.stream.synchronize();
        if (fault === "stale-src") {
          const h = host(D);
          memcpy(dev, addrOf(h), staleAddr, D * F, 2, 0, true, "attn_out", addrOf(h));
        } else b("attn_out").download(host(D));
        b("ffn_out").download(host(D));
      }));

    const tokens: number[] = [];
    let t = engine.prefill([1, 5, 9]);
    tokens.push(t);
    for (let i = 0; i < steps; i++) {
      tokens.push(t = engine.decodeStep(t));
      // 5. KV-cache dump of the traced layer, after each step
      site("KV cache dump", () => {
        for (const n of [`k_cache.L${traceLayer}`, `v_cache.L${traceLayer}`]) {
          b(n).download(host(b(n).bytes / F));
        }
      });
    }
    return { tokens };
  },
});

if (import.meta.main) await main(experiment);
