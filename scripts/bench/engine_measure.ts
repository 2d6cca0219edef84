/**
 * The engine's speed on one model, as the engine bench sections report it (engine_bench.ts):
 *
 * - prefill tokens/s for prompts of each length: one pass (maxPrefill is the longest), wall clock from
 *   the prompt's upload to the sampled token on the host; the better of two runs;
 * - decode tokens/s at each depth (tokens already in the KV cache): `steps` timed steps after
 *   `warmup`, wall clock with the host's sync every step, beside the floor: the bytes a step must read
 *   (every weight but the embedding table, one embedding row, and the K and V rows of every cached
 *   position at the timed steps' mean depth) over the copy bandwidth measured in the same run.
 */
import type { Device } from "../../mod.ts";
import type { GpuModel } from "../model/gpu_model.ts";
import type { KvCacheType } from "../model/numerics.ts";
import { LlamaEngine } from "../scheduler/engine.ts";
import { kvElementBytes } from "../scheduler/kernel_choice.ts";

export interface MeasureOptions {
  /** Prompt lengths to time prefill at. */
  prefill: number[];
  /** Depths to time decode at (0: right after an 8-token prompt). */
  depths: number[];
  steps: number;
  warmup: number;
  /** Copy bandwidth (bytes read + written per second), for the floor. */
  copyBandwidth: number;
  kvCache?: KvCacheType;
}

export interface PrefillResult {
  tokens: number;
  tokensPerSecond: number;
  ms: number;
}

export interface DecodeResult {
  depth: number;
  steps: number;
  tokensPerSecond: number;
  msPerToken: number;
  /** Bytes read per step: weights (floorWeightBytes) plus the KV cache at the mean depth. */
  stepBytes: number;
  floorMs: number;
  /** floorMs / msPerToken: 1 is the copy bandwidth's bound. */
  ratio: number;
}

/** Bytes a decode step reads of the weights: all but the embedding table, plus one of its rows. */
export function floorWeightBytes(model: GpuModel): number {
  const embed = model.weight("token_embd.weight");
  const row = embed.buffer.bytes / model.config.vocabSize;
  return model.weightBytes - (model.tiedOutput ? 0 : embed.buffer.bytes) + row;
}

const promptOf = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 1) % vocab);
/** argmax gives -1 on an all-NaN row; random weights should not, but the bench must not feed it back. */
const clamp = (t: number, vocab: number) => (t >= 0 && t < vocab ? t : 1);

export async function measureEngine(
  device: Device,
  model: GpuModel,
  o: MeasureOptions,
): Promise<{ prefill: PrefillResult[]; decode: DecodeResult[] }> {
  const longest = Math.max(8, ...o.prefill, ...o.depths);
  using engine = await LlamaEngine.create(device, model, {
    maxContext: longest + o.warmup + o.steps + 1,
    maxPrefill: longest,
    kvCache: o.kvCache,
  });
  const vocab = model.config.vocabSize;
  engine.prefill(promptOf(16, vocab)); // first launches: module loading, cuBLAS handles
  engine.reset();
  const prefill = o.prefill.map((n) => timePrefill(engine, n, vocab));
  const decode = o.depths.map((d) => timeDecode(engine, model, d, o));
  return { prefill, decode };
}

function timePrefill(engine: LlamaEngine, n: number, vocab: number): PrefillResult {
  const prompt = promptOf(n, vocab);
  let best = Infinity;
  for (let r = 0; r < 2; r++) {
    engine.reset();
    const t0 = performance.now();
    engine.prefill(prompt);
    best = Math.min(best, performance.now() - t0);
  }
  engine.reset();
  return { tokens: n, tokensPerSecond: n / (best / 1e3), ms: best };
}

function timeDecode(engine: LlamaEngine, model: GpuModel, depth: number, o: MeasureOptions): DecodeResult {
  const c = model.config;
  engine.reset();
  let t = engine.prefill(promptOf(Math.max(depth, 8), c.vocabSize));
  for (let i = 0; i < o.warmup; i++) t = engine.decodeStep(clamp(t, c.vocabSize));
  const meanDepth = engine.position + o.steps / 2;
  const t0 = performance.now();
  for (let i = 0; i < o.steps; i++) t = engine.decodeStep(clamp(t, c.vocabSize));
  const seconds = (performance.now() - t0) / 1e3;
  engine.reset();
  const kvBytes = 2 * c.nLayers * meanDepth * c.nKvHeads * c.headDim * kvElementBytes(engine.numerics.kv);
  const stepBytes = floorWeightBytes(model) + kvBytes;
  const msPerToken = (seconds * 1e3) / o.steps;
  const floorMs = (stepBytes / o.copyBandwidth) * 1e3;
  return {
    depth,
    steps: o.steps,
    tokensPerSecond: o.steps / seconds,
    msPerToken,
    stepBytes,
    floorMs,
    ratio: floorMs / msPerToken,
  };
}
