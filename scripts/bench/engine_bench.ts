/**
 * The engine's speed, for f16, Q8_0 and Q4_K weights, each ratio against a copy measured in the same run:
 *
 * - "engine": decode tokens/s at depth 0 and 2048 with the ratio to the floor (weights + KV bytes per
 *   token over the copy bandwidth), and prefill tokens/s at 512 and 2048, on Llama-2-7B-shaped models
 *   with random weights built on the device (engine_measure.ts says how each is timed);
 * - "engine_attention": attention decode at 2048 context over f16 and f32 KV caches (Llama-2-7B heads),
 *   achieved bandwidth over the copy's; the caches rotate over enough copies that L2 cannot hold them;
 * - "llamacpp" (llamacpp_bench.ts): the same GGUF files through faultline and llama.cpp's llama-bench.
 *
 * On sim (a CPU) the shapes are small (stated in each row's note) and the depths and prompts short.
 */
import { type Device, launch, runtime } from "../../mod.ts";
import { attentionDecodeScratchFloats, llamaKernels as K } from "../../mod.ts";
import { type LlamaConfig, presetConfig } from "../model/config.ts";
import { gpuModel, type WeightDtype } from "../model/gpu_model.ts";
import type { KvCacheType } from "../model/numerics.ts";
import { type DecodeResult, measureEngine, type PrefillResult } from "./engine_measure.ts";
import { copyBandwidth, timeOnDevice } from "./workload_bench.ts";
// type-only: main.ts imports this file, so a value import would be a cycle
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

const MiB = 1 << 20;
const GB = 1e9;
const ALL_DTYPES: readonly WeightDtype[] = ["f16", "q8_0", "q4_k"];

/** The weight types to measure: f16, q8_0 and q4_k, or those $FAULTLINE_BENCH_DTYPES lists. */
export function benchDtypes(): WeightDtype[] {
  const env = Deno.env.get("FAULTLINE_BENCH_DTYPES");
  if (!env) return [...ALL_DTYPES];
  const list = env.split(",").map((s) => s.trim()) as WeightDtype[];
  const bad = list.filter((d) => !ALL_DTYPES.includes(d));
  if (bad.length) {
    throw new Error(`FAULTLINE_BENCH_DTYPES: ${bad.join(", ")} (choose from ${ALL_DTYPES.join(", ")})`);
  }
  return list;
}

export interface EngineShape {
  config: LlamaConfig;
  prefill: number[];
  depths: number[];
  steps: number;
  warmup: number;
  /** Copy size for the bandwidth. */
  copyBytes: number;
}

/**
 * Llama-2-7B on GPUs; on sim a 1-layer model of whole Q4_K rows, short prompts and depths.
 * $FAULTLINE_BENCH_DTYPES (e.g. "q4_k") narrows the weight types.
 */
export function engineShape(ctx: BenchContext): EngineShape {
  if (runtime().backend === "sim") {
    return {
      config: presetConfig("llama2-7b", {
        dim: 256,
        ffnDim: 512,
        nHeads: 4,
        nKvHeads: 4,
        vocabSize: 512,
        nLayers: 2,
      }),
      prefill: [16, 32],
      depths: [0, 32],
      steps: 4,
      warmup: 1,
      copyBytes: 64 * MiB,
    };
  }
  return {
    config: presetConfig("llama2-7b"),
    prefill: [512, 2048],
    depths: [0, 2048],
    steps: ctx.quick ? 16 : 64,
    warmup: 8,
    copyBytes: 1024 * MiB,
  };
}

export function shapeNote(c: LlamaConfig): string {
  return `${c.nLayers} layers, dim ${c.dim}, ffn ${c.ffnDim}, heads ${c.nHeads}/${c.nKvHeads}, vocab ${c.vocabSize}`;
}

/** Rows for one model's measurements, metrics named "<what> <dtype> ..." under `section`. */
export function engineRows(
  section: string,
  label: string,
  r: { prefill: PrefillResult[]; decode: DecodeResult[] },
  note: string,
): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const d of r.decode) {
    const at = `${label} depth ${d.depth}`;
    rows.push({
      section,
      metric: `decode ${at}`,
      value: d.tokensPerSecond,
      unit: "tokens/s",
      note: `${d.msPerToken.toFixed(3)} ms/token, ${d.steps} steps; ${note}`,
    });
    rows.push({
      section,
      metric: `decode ${at} / floor`,
      value: d.ratio,
      unit: "ratio",
      note: `floor ${d.floorMs.toFixed(3)} ms: ${
        (d.stepBytes / GB).toFixed(3)
      } GB read per token / copy bandwidth`,
    });
  }
  for (const p of r.prefill) {
    rows.push({
      section,
      metric: `prefill ${label} ${p.tokens}`,
      value: p.tokensPerSecond,
      unit: "tokens/s",
      note: `${p.ms.toFixed(1)} ms for ${p.tokens} tokens in one pass`,
    });
  }
  return rows;
}

function copyRow(section: string, bw: number, bytes: number): BenchRow {
  return {
    section,
    metric: "D2D copy",
    value: bw / GB,
    unit: "GB/s",
    note: `${bytes / MiB} MiB, read + written`,
  };
}

/** What gemm_f16 runs on (fl_blas_info): "cublas <path>", "own kernel (...)", "reference (sim)". */
export function gemmLibrary(): string {
  const buf = new Uint8Array(512);
  runtime().symbols.fl_blas_info(buf, buf.length);
  return new TextDecoder().decode(buf.subarray(0, Math.max(0, buf.indexOf(0))));
}

async function engineSection(ctx: BenchContext): Promise<BenchRow[]> {
  const shape = engineShape(ctx);
  const bw = copyBandwidth(ctx.device, shape.copyBytes, 20, 7);
  const lib = gemmLibrary();
  const rows = [copyRow("engine", bw, shape.copyBytes), {
    section: "engine",
    metric: "prefill GEMM on cuBLAS",
    value: lib.startsWith("cublas") ? 1 : 0,
    unit: "yes/no",
    note: lib,
  }];
  for (const dtype of benchDtypes()) {
    const t0 = performance.now();
    using model = gpuModel(ctx.device, shape.config, 1, { dtype });
    const build = (performance.now() - t0) / 1e3;
    const r = await measureEngine(ctx.device, model, { ...shape, copyBandwidth: bw });
    const note = `${shapeNote(shape.config)}, ${dtype}, random weights (built in ${build.toFixed(1)} s)`;
    rows.push(...engineRows("engine", dtype, r, note));
  }
  return rows;
}

/** Attention decode over `copies` rotating caches of one element type: ms per launch. */
function timeAttention(device: Device, kv: KvCacheType, ctxLen: number, reps: number, samples: number) {
  const heads = 32, hd = 128;
  const elem = kv === "f16" ? 2 : 4;
  const cacheBytes = ctxLen * heads * hd * elem;
  const copies = Math.max(2, Math.ceil((256 * MiB) / (2 * cacheBytes)));
  const bufs = Array.from(
    { length: 2 * copies },
    (_, i) => device.malloc(cacheBytes, { name: `bench_kv_${i}` }),
  );
  const q = device.malloc(heads * hd * 4, { name: "bench_q" });
  const out = device.malloc(heads * hd * 4, { name: "bench_attn" });
  const scratch = device.malloc(attentionDecodeScratchFloats(heads, hd, ctxLen) * 4, {
    name: "bench_scratch",
  });
  const all = [...bufs, q, out, scratch];
  try {
    for (const b of all) b.fill(0x3c); // 1.0 as f16 pairs; small finite floats as f32
    using stream = device.createStream();
    const kernel = kv === "f16" ? K.attentionDecodeF16 : K.attentionDecode;
    let i = 0;
    const run = () => {
      const c = i++ % copies;
      launch(device, stream, kernel, {
        out,
        q,
        k_cache: bufs[2 * c],
        v_cache: bufs[2 * c + 1],
        scratch,
        n_head: heads,
        n_head_kv: heads,
        head_dim: hd,
        n_ctx: ctxLen,
      });
    };
    const ms = timeOnDevice(device, stream, run, reps, samples);
    return { ms, bytes: 2 * cacheBytes + 2 * heads * hd * 4, copies };
  } finally {
    for (const b of all) b.free();
  }
}

function attentionSection(ctx: BenchContext): BenchRow[] {
  const sim = runtime().backend === "sim";
  const ctxLen = sim ? 256 : 2048;
  const copyBytes = sim ? 64 * MiB : 1024 * MiB;
  const bw = copyBandwidth(ctx.device, copyBytes, sim ? 2 : 20, sim ? 3 : 7);
  const rows = [copyRow("engine_attention", bw, copyBytes)];
  for (const kv of ["f16", "f32"] as const) {
    const t = timeAttention(ctx.device, kv, ctxLen, sim ? 2 : ctx.quick ? 10 : 50, sim ? 3 : 11);
    const achieved = t.bytes / (t.ms / 1e3);
    rows.push({
      section: "engine_attention",
      metric: `attention decode ${kv} KV ctx ${ctxLen} / copy`,
      value: achieved / bw,
      unit: "ratio",
      note: `${(t.ms * 1e3).toFixed(2)} us, ${(achieved / GB).toFixed(0)} GB/s; 32 heads x 128, ` +
        `${(t.bytes / MiB).toFixed(1)} MiB of K and V a launch, rotated over ${t.copies} copies; goal >= 0.9`,
    });
  }
  return rows;
}

export const sections: BenchSection[] = [
  { name: "engine", run: engineSection },
  { name: "engine_attention", run: attentionSection },
];
