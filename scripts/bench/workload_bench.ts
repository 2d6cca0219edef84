/**
 * Workload benchmarks, in one process so that every ratio compares with a copy measured in the same run:
 *
 * - "workload_kernels": device-to-device copy bandwidth (bytes read + written), then each
 *   bandwidth-bound llama kernel's achieved bandwidth (napkin bytes: what it must read and write) as a
 *   ratio over the copy (goal >= 0.8): RMSNorm, RoPE, f16 matrix-vector 11008x4096 (the FFN up
 *   projection), attention decode at 2048 context (Llama-2-7B heads). Timed with device events over
 *   batches of launches, median of the batches.
 * - "workload_decode": decode tokens per second of a 7B-shaped model (32 layers, f16, random weights
 *   built in device memory) through the block scheduler, beside the bound the copy bandwidth sets
 *   (bytes the step must read: every weight but the embedding table, plus one embedding row; goal
 *   >= 0.7 of it).
 *
 * On sim (a CPU) the shapes are smaller (stated in each row's note) and the section stays well under
 * a minute; on cuda/hip the shapes are the real ones.
 *
 * `runDecodeBench(device, opts)` is the decode measurement on its own, for the audit-overhead
 * benchmarks: `setup(engine, mode)` runs before the measurement (attach an audit, guard rails, a sync
 * policy) and may return a teardown.
 */
import { type Device, launch, runtime, type Stream } from "../../mod.ts";
import { attentionDecodeScratchFloats, llamaKernels as K } from "../../mod.ts";
import { type LlamaConfig, presetConfig } from "../model/config.ts";
import { type GpuModel, gpuModel } from "../model/gpu_model.ts";
import { LlamaEngine } from "../scheduler/engine.ts";
// type-only: main.ts imports this file, so a value import would be a cycle
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

const MiB = 1 << 20;
const GB = 1e9;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function isSim(_device: Device): boolean {
  return runtime().backend === "sim";
}

/** Median milliseconds per call of `fn` on `stream`: `samples` batches of `reps` calls between two events. */
export function timeOnDevice(
  device: Device,
  stream: Stream,
  fn: () => void,
  reps: number,
  samples: number,
): number {
  const e0 = device.createEvent();
  const e1 = device.createEvent();
  try {
    fn(); // warm-up
    stream.synchronize();
    const ms: number[] = [];
    for (let s = 0; s < samples; s++) {
      e0.record(stream);
      for (let r = 0; r < reps; r++) fn();
      e1.record(stream);
      e1.synchronize();
      ms.push(e1.elapsedMs(e0) / reps);
    }
    return median(ms);
  } finally {
    e0.destroy();
    e1.destroy();
  }
}

/** Device-to-device copy bandwidth in bytes/s, counting bytes read plus bytes written. */
export function copyBandwidth(device: Device, bytes: number, reps: number, samples: number): number {
  using stream = device.createStream();
  using src = device.malloc(bytes, { name: "bench_copy_src" });
  using dst = device.malloc(bytes, { name: "bench_copy_dst" });
  src.fill(1);
  const ms = timeOnDevice(device, stream, () => dst.copyFrom(src, { stream }), reps, samples);
  return (2 * bytes) / (ms / 1e3);
}

interface KernelCase {
  metric: string;
  /** Bytes the kernel must move (napkin). */
  bytes: number;
  note: string;
  /** Allocates, returns the launch and a cleanup. */
  prepare(device: Device, stream: Stream): { run: () => void; free: () => void };
}

// long-function: one table, the four kernel cases with their shapes, byte counts and buffers
function kernelCases(sim: boolean): KernelCase[] {
  // Llama-2-7B: dim 4096, 32 heads, 32 KV heads, head_dim 128, FFN 11008
  const dim = 4096, heads = 32, kvHeads = 32, hd = 128, ffn = 11008;
  const normRows = sim ? 256 : 16384;
  const ropeRows = sim ? 64 : 16384;
  const ctx = 2048;
  const zeros = (device: Device, bytes: number, name: string) => {
    const b = device.malloc(bytes, { name });
    b.fill(0);
    return b;
  };
  return [
    {
      metric: "RMSNorm",
      bytes: (2 * normRows * dim + dim) * 4,
      note: `${normRows}x${dim} f32: reads x and weight, writes out`,
      prepare(device, stream) {
        const x = zeros(device, normRows * dim * 4, "bench_x");
        const out = zeros(device, normRows * dim * 4, "bench_out");
        const w = zeros(device, dim * 4, "bench_w");
        const args = { out, x, weight: w, rows: normRows, dim, eps: 1e-5 };
        return {
          run: () => launch(device, stream, K.rmsnorm, args),
          free: () => [x, out, w].forEach((b) => b.free()),
        };
      },
    },
    {
      metric: "RoPE",
      bytes: 2 * ropeRows * heads * hd * 4,
      note: `${ropeRows} tokens x ${heads} heads x ${hd} f32, in place: reads and writes x`,
      prepare(device, stream) {
        const x = zeros(device, ropeRows * heads * hd * 4, "bench_q");
        const args = { x, seq_len: ropeRows, heads, head_dim: hd, pos_offset: 0, freq_base: 10000 };
        return { run: () => launch(device, stream, K.rope, args), free: () => x.free() };
      },
    },
    {
      metric: "matvec f16 11008x4096",
      bytes: ffn * dim * 2 + dim * 4 + ffn * 4,
      note: "FFN up projection, W f16 [11008, 4096]: reads W and x, writes y",
      prepare(device, stream) {
        const w = zeros(device, ffn * dim * 2, "bench_w_f16");
        const x = zeros(device, dim * 4, "bench_x");
        const y = zeros(device, ffn * 4, "bench_y");
        const args = { y, w, x, out_dim: ffn, in_dim: dim };
        return {
          run: () => launch(device, stream, K.matvecF16, args),
          free: () => [w, x, y].forEach((b) => b.free()),
        };
      },
    },
    {
      metric: "attention decode ctx 2048",
      bytes: 2 * kvHeads * ctx * hd * 4 + 2 * heads * hd * 4,
      note: `${heads} heads, ${kvHeads} KV heads, head_dim ${hd}: reads K and V caches and q, writes out`,
      prepare(device, stream) {
        const kc = zeros(device, ctx * kvHeads * hd * 4, "bench_k_cache");
        const vc = zeros(device, ctx * kvHeads * hd * 4, "bench_v_cache");
        const q = zeros(device, heads * hd * 4, "bench_q");
        const out = zeros(device, heads * hd * 4, "bench_attn");
        const scratch = zeros(device, attentionDecodeScratchFloats(heads, hd, ctx) * 4, "bench_scratch");
        const args = {
          out,
          q,
          k_cache: kc,
          v_cache: vc,
          scratch,
          n_head: heads,
          n_head_kv: kvHeads,
          head_dim: hd,
          n_ctx: ctx,
        };
        return {
          run: () => launch(device, stream, K.attentionDecode, args),
          free: () => [kc, vc, q, out, scratch].forEach((b) => b.free()),
        };
      },
    },
  ];
}

function kernelsSection(ctx: BenchContext): BenchRow[] {
  const device = ctx.device;
  const sim = isSim(device);
  const copyBytes = sim ? 64 * MiB : 1024 * MiB;
  const reps = sim ? 2 : ctx.quick ? 10 : 50;
  const samples = sim ? 3 : ctx.quick ? 5 : 11;
  const bw = copyBandwidth(device, copyBytes, reps, samples);
  const section = "workload_kernels";
  const rows: BenchRow[] = [{
    section,
    metric: "D2D copy",
    value: bw / GB,
    unit: "GB/s",
    note: `${copyBytes / MiB} MiB, bytes read + written, median of ${samples} x ${reps}`,
  }];
  using stream = device.createStream();
  // FL_ATTN_VARIANTS ("NAME=V,NAME=V;..."): the attention decode case again under each set of environment
  // settings (launcher variants that read the environment while they are being tried), rows last.
  const variants = sim ? [] : (Deno.env.get("FL_ATTN_VARIANTS") ?? "").split(";").filter((v) => v.trim());
  const extra: BenchRow[] = [];
  for (const c of kernelCases(sim)) {
    const { run, free } = c.prepare(device, stream);
    try {
      if (c.metric.startsWith("attention decode")) {
        for (const v of variants) {
          const set = v.split(",").map((kv) => kv.trim()).filter((kv) => kv.includes("="));
          for (const kv of set) Deno.env.set(kv.split("=")[0], kv.split("=")[1]);
          try {
            const vms = timeOnDevice(device, stream, run, reps, samples);
            extra.push({
              section,
              metric: `[${v.trim()}] ${c.metric} / copy`,
              value: c.bytes / (vms / 1e3) / bw,
              unit: "ratio",
              note: `${(vms * 1e3).toFixed(2)} us`,
            });
          } catch (e) {
            extra.push({
              section,
              metric: `[${v.trim()}] ${c.metric} / copy`,
              value: NaN,
              unit: "ratio",
              note: `failed: ${e instanceof Error ? e.message : e}`,
            });
          } finally {
            stream.synchronize();
            for (const kv of set) Deno.env.delete(kv.split("=")[0]);
          }
        }
      }
      const ms = timeOnDevice(device, stream, run, reps, samples);
      const achieved = c.bytes / (ms / 1e3);
      rows.push({
        section,
        metric: c.metric,
        value: achieved / GB,
        unit: "GB/s",
        note: `${c.note}; ${ms.toFixed(4)} ms`,
      });
      rows.push({
        section,
        metric: `${c.metric} / copy`,
        value: achieved / bw,
        unit: "ratio",
        note: "goal >= 0.8",
      });
    } finally {
      stream.synchronize();
      free();
    }
  }
  return [...rows, ...extra];
}

/** The 7B shape (Llama-2-7B) with `layers` blocks. */
export function decodeBenchConfig(sim: boolean, layers?: number): LlamaConfig {
  if (sim) {
    return presetConfig("llama2-7b", {
      dim: 1024,
      ffnDim: 2752,
      nHeads: 8,
      nKvHeads: 8,
      vocabSize: 8192,
      contextLength: 512,
      nLayers: layers ?? 4,
    });
  }
  return presetConfig("llama2-7b", { nLayers: layers ?? 32 });
}

export interface DecodeBenchOptions {
  /** Blocks (default 32 on GPUs, 4 on sim). */
  layers?: number;
  /** Timed decode steps (default 64 on GPUs, 16 on sim). */
  steps?: number;
  /** Untimed decode steps first (default 8 on GPUs, 2 on sim). */
  warmup?: number;
  /** A label handed to `setup` (off, audit, redzones, blocking, ...); the wiring is the caller's. */
  mode?: string;
  /** Model shape (default decodeBenchConfig); f16 weights. */
  config?: LlamaConfig;
  /** A model already on the device to reuse (its config wins); otherwise one is built and freed. */
  model?: GpuModel;
  /** Runs after the engine is created and before the measurement; may return a teardown. */
  setup?: (engine: LlamaEngine, mode: string) => void | (() => void) | Promise<void | (() => void)>;
  /** Prompt tokens prefilled before the warm-up (default 8). */
  promptTokens?: number;
}

export interface DecodeBenchResult {
  mode: string;
  backend: string;
  config: LlamaConfig;
  steps: number;
  tokensPerSecond: number;
  msPerToken: number;
  /** Bytes of all the weights on the device. */
  weightBytes: number;
  /** Bytes a decode step must read: the weights but the embedding table, plus one embedding row. */
  stepBytes: number;
  /** Seconds the model build took (0 when a model was passed in). */
  buildSeconds: number;
}

/** Decode tokens/s of a random-weight f16 model through the scheduler (wall clock, host sync every step). */
export async function runDecodeBench(
  device: Device,
  opts: DecodeBenchOptions = {},
): Promise<DecodeBenchResult> {
  const sim = isSim(device);
  const steps = opts.steps ?? (sim ? 16 : 64);
  const warmup = opts.warmup ?? (sim ? 2 : 8);
  const promptTokens = opts.promptTokens ?? 8;
  const mode = opts.mode ?? "off";
  const t0 = performance.now();
  const model = opts.model ?? gpuModel(device, opts.config ?? decodeBenchConfig(sim, opts.layers), 1, {
    dtype: "f16",
  });
  const buildSeconds = opts.model ? 0 : (performance.now() - t0) / 1e3;
  const c = model.config;
  try {
    using engine = await LlamaEngine.create(device, model, {
      maxContext: promptTokens + warmup + steps + 1,
      maxPrefill: promptTokens,
    });
    const teardown = await opts.setup?.(engine, mode);
    let seconds: number;
    try {
      const prompt = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 1) % c.vocabSize);
      let t = engine.prefill(prompt);
      for (let i = 0; i < warmup; i++) t = engine.decodeStep(clampToken(t, c.vocabSize));
      const start = performance.now();
      for (let i = 0; i < steps; i++) t = engine.decodeStep(clampToken(t, c.vocabSize));
      seconds = (performance.now() - start) / 1e3;
    } finally {
      if (typeof teardown === "function") teardown();
    }
    const embed = model.weight("token_embd.weight");
    const embedRow = embed.buffer.bytes / c.vocabSize;
    const stepBytes = model.weightBytes - (model.tiedOutput ? 0 : embed.buffer.bytes) + embedRow;
    return {
      mode,
      backend: runtime().backend,
      config: c,
      steps,
      tokensPerSecond: steps / seconds,
      msPerToken: (seconds * 1e3) / steps,
      weightBytes: model.weightBytes,
      stepBytes,
      buildSeconds,
    };
  } finally {
    if (!opts.model) model.free();
  }
}

/** argmax gives -1 on an all-NaN row; random weights should not, but the bench must not feed it back. */
function clampToken(t: number, vocab: number): number {
  return t >= 0 && t < vocab ? t : 1;
}

async function decodeSection(ctx: BenchContext): Promise<BenchRow[]> {
  const device = ctx.device;
  const sim = isSim(device);
  const copyBytes = sim ? 64 * MiB : 1024 * MiB;
  const bw = copyBandwidth(device, copyBytes, sim ? 2 : 20, sim ? 3 : 7);
  const r = await runDecodeBench(device, { steps: sim ? 8 : ctx.quick ? 16 : 64 });
  const c = r.config;
  const shape = `${c.nLayers} layers, dim ${c.dim}, ffn ${c.ffnDim}, heads ${c.nHeads}/${c.nKvHeads}, ` +
    `vocab ${c.vocabSize}, f16`;
  const floorMs = (r.stepBytes / bw) * 1e3;
  const section = "workload_decode";
  return [
    {
      section,
      metric: "D2D copy",
      value: bw / GB,
      unit: "GB/s",
      note: `${copyBytes / MiB} MiB, read + written`,
    },
    {
      section,
      metric: "model build (random weights on device)",
      value: r.buildSeconds,
      unit: "s",
      note: `${
        (r.weightBytes / GB).toFixed(2)
      } GB, one random block per dtype/scale rotated over the tensors`,
    },
    {
      section,
      metric: "decode",
      value: r.tokensPerSecond,
      unit: "tokens/s",
      note: `${shape}; ${r.steps} steps after warm-up, ${r.msPerToken.toFixed(3)} ms/token`,
    },
    {
      section,
      metric: "decode floor",
      value: floorMs,
      unit: "ms/token",
      note: `${
        (r.stepBytes / GB).toFixed(3)
      } GB read per step (weights but the embedding table) / copy bandwidth`,
    },
    {
      section,
      metric: "decode / floor",
      value: floorMs / r.msPerToken,
      unit: "ratio",
      note: "tokens/s over the copy-bandwidth bound; goal >= 0.7",
    },
  ];
}

type OpCase = { name: string; count: number; bytes: number; run: () => void };

// long-function: the table of a 7B decode step's op shapes, one entry per kernel shape with its count per token
/** The kernels of one decode step on the 7B shapes, over buffers it allocates (pushed to `bufs`). */
function opCases(device: Device, stream: Stream, bufs: { free(): void }[]): OpCase[] {
  const dim = 4096, ffn = 11008, vocab = 32000, heads = 32, hd = 128, nLayers = 32;
  const alloc = (bytes: number, name: string, byte = 0x3c) => {
    const b = device.malloc(bytes, { name });
    b.fill(byte);
    bufs.push(b);
    return b;
  };
  const x = alloc(ffn * 4, "ops_x");
  const y = alloc(vocab * 4, "ops_y");
  const y2 = alloc(ffn * 4, "ops_y2");
  const normW = alloc(dim * 4, "ops_norm_w");
  const pos = alloc(4, "ops_pos", 0);
  const ctxMax = 2048;
  const kc = alloc(ctxMax * heads * hd * 4, "ops_k_cache", 0x3c);
  const vc = alloc(ctxMax * heads * hd * 4, "ops_v_cache", 0x3c);
  const scratch = alloc(attentionDecodeScratchFloats(heads, hd, ctxMax) * 4, "ops_scratch");
  const q = alloc(heads * hd * 4, "ops_q");
  const attnOut = alloc(heads * hd * 4, "ops_attn_out");
  const logits = alloc(vocab * 4, "ops_logits");
  const tok = alloc(4, "ops_tok", 0);
  const argOut = alloc(4, "ops_arg", 0);
  const embedTable = alloc(vocab * dim * 2, "ops_embed");
  const bigX = alloc(16384 * dim * 4, "ops_big_x");
  const bigOut = alloc(16384 * dim * 4, "ops_big_out");
  const mats = new Map<string, ReturnType<typeof alloc>[]>();
  const matvec = (outDim: number, inDim: number) => {
    const key = `${outDim}x${inDim}`;
    let list = mats.get(key);
    if (!list) {
      const bytes = outDim * inDim * 2;
      const copies = Math.max(1, Math.ceil(256 * MiB / bytes));
      list = Array.from({ length: copies }, (_, i) => alloc(bytes, `ops_w_${key}_${i}`));
      mats.set(key, list);
    }
    let i = 0;
    const ws = list;
    return () =>
      launch(device, stream, K.matvecF16, { y, w: ws[i++ % ws.length], x, out_dim: outDim, in_dim: inDim });
  };
  return [
    {
      name: "embed",
      count: 1,
      bytes: dim * 6,
      run: () =>
        launch(device, stream, K.embedF16, {
          out: x,
          table: embedTable,
          tokens: tok,
          n_tokens: 1,
          dim,
          vocab,
        }),
    },
    {
      name: "rmsnorm 1x4096",
      count: 2 * nLayers + 1,
      bytes: dim * 12,
      run: () => launch(device, stream, K.rmsnorm, { out: y, x, weight: normW, rows: 1, dim, eps: 1e-5 }),
    },
    {
      name: "rmsnorm 16384x4096",
      count: 0,
      bytes: (2 * 16384 + 1) * dim * 4,
      run: () =>
        launch(device, stream, K.rmsnorm, {
          out: bigOut,
          x: bigX,
          weight: normW,
          rows: 16384,
          dim,
          eps: 1e-5,
        }),
    },
    { name: "matvec 4096x4096", count: 4 * nLayers, bytes: dim * dim * 2, run: matvec(dim, dim) },
    { name: "matvec 11008x4096", count: 2 * nLayers, bytes: ffn * dim * 2, run: matvec(ffn, dim) },
    { name: "matvec 4096x11008", count: nLayers, bytes: ffn * dim * 2, run: matvec(dim, ffn) },
    { name: "matvec 32000x4096", count: 1, bytes: vocab * dim * 2, run: matvec(vocab, dim) },
    {
      name: "rope_dpos 32x128",
      count: 2 * nLayers,
      bytes: dim * 8,
      run: () =>
        launch(device, stream, K.ropeDpos, { x: q, seq_len: 1, heads, head_dim: hd, pos, freq_base: 10000 }),
    },
    {
      name: "kv_append_dpos",
      count: nLayers,
      bytes: dim * 16,
      run: () =>
        launch(device, stream, K.kvAppendDpos, {
          k_cache: kc,
          v_cache: vc,
          k: x,
          v: y2,
          seq_len: 1,
          n_head_kv: heads,
          head_dim: hd,
          pos,
          ctx_len: ctxMax,
        }),
    },
    ...[64, 2048].map((n) => ({
      name: `attention_decode ctx ${n}`,
      count: n === 64 ? nLayers : 0,
      bytes: 2 * n * dim * 4,
      run: () =>
        launch(device, stream, K.attentionDecode, {
          out: attnOut,
          q,
          k_cache: kc,
          v_cache: vc,
          scratch,
          n_head: heads,
          n_head_kv: heads,
          head_dim: hd,
          n_ctx: n,
        }),
    })),
    {
      name: "add 4096",
      count: 2 * nLayers,
      bytes: dim * 12,
      run: () => launch(device, stream, K.add, { out: y, a: x, b: y2, n: dim }),
    },
    {
      name: "silu_mul 11008",
      count: nLayers,
      bytes: ffn * 12,
      run: () => launch(device, stream, K.siluMul, { out: y, gate: x, up: y2, n: ffn }),
    },
    {
      name: "argmax 32000",
      count: 1,
      bytes: vocab * 4,
      run: () => launch(device, stream, K.argmax, { out: argOut, x: logits, rows: 1, n: vocab }),
    },
  ];
}

// GPU time per launch with the queue kept full: launched from TypeScript (~3 us each) a small kernel
// back to back would time the host. A ~1 ms blocker runs first, while the launches are enqueued.
function timeQueued(
  device: Device,
  stream: Stream,
  fn: () => void,
  blocker: () => void,
  reps = 100,
  samples = 7,
): number {
  const e0 = device.createEvent();
  const e1 = device.createEvent();
  try {
    fn();
    stream.synchronize();
    const ms: number[] = [];
    for (let s = 0; s < samples; s++) {
      for (let b = 0; b < 10; b++) blocker();
      e0.record(stream);
      for (let r = 0; r < reps; r++) fn();
      e1.record(stream);
      e1.synchronize();
      ms.push(e1.elapsedMs(e0) / reps);
    }
    return median(ms);
  } finally {
    e0.destroy();
    e1.destroy();
  }
}

/**
 * "workload_ops" (profiling, GPUs only): each decode op's kernel alone on the 7B decode shapes, timed with
 * events over back-to-back launches (weights rotated over enough copies that L2 cannot hold them), summed
 * with the op counts of one decode step; then the decode itself. Runs only when FL_LLAMA_VARIANTS is set:
 * once per ";"-separated set of "NAME=V,NAME=V" environment settings (an empty set: as is), for comparing
 * launcher variants that read the environment while they are being tried.
 */
async function opsSection(ctx: BenchContext): Promise<BenchRow[]> {
  const device = ctx.device;
  if (isSim(device) || Deno.env.get("FL_LLAMA_VARIANTS") === undefined) return [];
  const bufs: { free(): void }[] = [];
  using stream = device.createStream();
  const cases = opCases(device, stream, bufs);
  const bw = copyBandwidth(device, 1024 * MiB, 20, 7);
  const rows: BenchRow[] = [{
    section: OPS,
    metric: "D2D copy",
    value: bw / GB,
    unit: "GB/s",
    note: "1024 MiB",
  }];
  const model = gpuModel(device, decodeBenchConfig(false), 1, { dtype: "f16" });
  try {
    for (const v of (Deno.env.get("FL_LLAMA_VARIANTS") ?? "").split(";")) {
      const set = v.split(",").map((kv) => kv.trim()).filter((kv) => kv.includes("="));
      for (const kv of set) Deno.env.set(kv.split("=")[0], kv.split("=")[1]);
      rows.push(...opRows(device, stream, cases, v.trim() || "default", bw));
      rows.push(await decodeRow(device, model, v.trim() || "default", bw));
      for (const kv of set) Deno.env.delete(kv.split("=")[0]);
    }
  } finally {
    stream.synchronize();
    model.free();
    for (const b of bufs) b.free();
  }
  return rows;
}

const OPS = "workload_ops";

/** Each op's GPU time and its share of the copy bandwidth, and their sum over one decode step. */
function opRows(device: Device, stream: Stream, cases: OpCase[], tag: string, bw: number): BenchRow[] {
  const rows: BenchRow[] = [];
  let sum = 0;
  const blocker = cases.find((c) => c.name === "matvec 32000x4096")!.run;
  for (const c of cases) {
    const ms = timeQueued(device, stream, c.run, blocker);
    sum += c.count * ms;
    rows.push({
      section: OPS,
      metric: `[${tag}] ${c.name}`,
      value: ms * 1e3,
      unit: "us",
      note: `${((c.bytes / (ms / 1e3)) / bw).toFixed(3)} of copy; x${c.count} per token`,
    });
  }
  rows.push({
    section: OPS,
    metric: `[${tag}] sum of ops`,
    value: sum,
    unit: "ms/token",
    note: "kernels alone, back to back",
  });
  return rows;
}

async function decodeRow(device: Device, model: GpuModel, tag: string, bw: number): Promise<BenchRow> {
  const r = await runDecodeBench(device, { model, steps: 64 });
  const floorMs = (r.stepBytes / bw) * 1e3;
  return {
    section: OPS,
    metric: `[${tag}] decode`,
    value: r.msPerToken,
    unit: "ms/token",
    note: `floor ${floorMs.toFixed(3)} ms; ratio ${(floorMs / r.msPerToken).toFixed(3)}`,
  };
}

export const sections: BenchSection[] = [
  { name: "workload_kernels", run: kernelsSection },
  { name: "workload_decode", run: decodeSection },
  { name: "workload_ops", run: opsSection },
];
