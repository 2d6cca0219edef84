/**
 * A float64 llama forward pass in TypeScript: the oracle a full decode on a device is compared with.
 * Same math and layout conventions as the kernels (kernels/llama/, hip/sim/llama_kernels.c,
 * scripts/reference/llama.ts):
 * - RMSNorm: x / sqrt(mean(x^2) + eps) * w;
 * - linear layers: y = W x with W row-major [out, in];
 * - RoPE, GGML "normal" (llama GGUF) mode: within each head the pairs (2i, 2i+1) rotate by
 *   theta = pos * base^(-2i/head_dim);
 * - attention: causal over KV-cache rows 0 ..= pos, scale 1/sqrt(head_dim), grouped-query: query head
 *   h reads KV head floor(h / (n_head / n_head_kv));
 * - FFN: down(silu(gate(x)) * up(x)), silu(g) = g / (1 + exp(-g)); residual adds after attention and FFN;
 * - logits = output (or token_embd when tied) times the final RMSNorm of the last position.
 * Weights are the model's own values (f16 widened exactly, quantized blocks dequantized exactly), held
 * as Float64Array. The engine's own roundings are modelled (`numerics`, numerics.ts):
 * an f16 KV cache rounds each appended K and V value to f16; the prefill GEMM path rounds a
 * projection's input and (quantized) weights to f16 when the weight is not f32. Prompt tokens go
 * through prefill (`forward`), generated ones through decode (exact mat-vecs).
 *
 *   const ref = ReferenceForward.fromGpuModel(model);   // the weights read back from the device
 *   const { tokens, logits } = ref.generate([1, 17, 42], 16);
 */
import { f16ArrayToF32 } from "./f16.ts";
import type { LlamaConfig } from "./config.ts";
import type { LlamaGguf } from "./gguf.ts";
import { deviceDtype, type GpuModel, type WeightDtype } from "./gpu_model.ts";
import { dequantize, isQuantType, QUANT_FORMATS } from "./quant.ts";
import { type SynthOptions, synthWeights } from "./synth.ts";
import { DEFAULT_NUMERICS, type EngineNumerics } from "./numerics.ts";

export type WeightLookup = (name: string) => ArrayLike<number>;

/** The value of x rounded to f16 (through f32, as the kernels convert). */
export function roundF16(x: number): number {
  return Math.f16round(Math.fround(x));
}

export interface TopTwo {
  best: number;
  second: number;
  bestLogit: number;
  secondLogit: number;
  /** bestLogit - secondLogit */
  margin: number;
  /** margin / max(|bestLogit|, |secondLogit|, 1e-30) */
  relMargin: number;
}

/** The two largest logits (first index wins among equals, NaN ignored, as the argmax kernel). */
export function topTwo(logits: ArrayLike<number>): TopTwo {
  let best = -1, second = -1;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v !== v) continue;
    if (best < 0 || v > logits[best]) {
      second = best;
      best = i;
    } else if (second < 0 || v > logits[second]) second = i;
  }
  const bestLogit = best < 0 ? NaN : logits[best];
  const secondLogit = second < 0 ? -Infinity : logits[second];
  const margin = bestLogit - secondLogit;
  return {
    best,
    second,
    bestLogit,
    secondLogit,
    margin,
    relMargin: margin / Math.max(Math.abs(bestLogit), Math.abs(secondLogit), 1e-30),
  };
}

export interface ReferenceOptions {
  tiedOutput?: boolean;
  /** KV-cache rows (default config.contextLength). */
  maxContext?: number;
  /** The roundings of the engine being checked (default: the engine's defaults). */
  numerics?: Partial<EngineNumerics>;
  /** Each weight's storage on the device (default f32 for all: no prefill rounding). */
  dtypeOf?: (name: string) => WeightDtype;
}

export class ReferenceForward {
  readonly config: LlamaConfig;
  readonly tiedOutput: boolean;
  readonly maxContext: number;
  readonly numerics: EngineNumerics;
  #w = new Map<string, Float64Array>();
  /** Weights as the prefill GEMM reads them (rounded to f16), for the weights that take that path. */
  #w16 = new Map<string, Float64Array>();
  #kCache: Float64Array[] = [];
  #vCache: Float64Array[] = [];
  #pos = 0;

  constructor(config: LlamaConfig, weights: WeightLookup, opts: ReferenceOptions = {}) {
    this.config = config;
    this.tiedOutput = opts.tiedOutput ?? false;
    this.maxContext = opts.maxContext ?? config.contextLength;
    this.numerics = { ...DEFAULT_NUMERICS, ...opts.numerics };
    const names = ["token_embd.weight", "output_norm.weight"];
    if (!this.tiedOutput) names.push("output.weight");
    for (let l = 0; l < config.nLayers; l++) {
      for (
        const t of [
          "attn_norm",
          "attn_q",
          "attn_k",
          "attn_v",
          "attn_output",
          "ffn_norm",
          "ffn_gate",
          "ffn_up",
          "ffn_down",
        ]
      ) names.push(`blk.${l}.${t}.weight`);
    }
    for (const n of names) this.#w.set(n, Float64Array.from(weights(n)));
    if (this.numerics.prefillF16 && opts.dtypeOf) {
      for (const n of names) {
        const d = opts.dtypeOf(n);
        if (n.startsWith("blk.") && d !== "f32" && d !== "f16") {
          this.#w16.set(n, this.#w.get(n)!.map(roundF16));
        } else if (n.startsWith("blk.") && d === "f16") this.#w16.set(n, this.#w.get(n)!);
      }
    }
    const kv = config.nKvHeads * config.headDim;
    for (let l = 0; l < config.nLayers; l++) {
      this.#kCache.push(new Float64Array(this.maxContext * kv));
      this.#vCache.push(new Float64Array(this.maxContext * kv));
    }
  }

  /** Over the weights of a model in device memory, read back (what the kernels actually use). */
  static fromGpuModel(
    model: GpuModel,
    opts: Omit<ReferenceOptions, "tiedOutput" | "dtypeOf"> = {},
  ): ReferenceForward {
    return new ReferenceForward(model.config, (n) => model.readF32(n), {
      ...opts,
      tiedOutput: model.tiedOutput,
      dtypeOf: (n) => model.weight(n).dtype,
    });
  }

  /**
   * Over synthWeights(config, seed, opts) as gpuModel puts them on the device (f16 widened exactly,
   * blocks dequantized, a quantized embedding table as f16).
   */
  static fromSynth(
    config: LlamaConfig,
    seed: number,
    opts: SynthOptions & { maxContext?: number; numerics?: Partial<EngineNumerics> } = {},
  ): ReferenceForward {
    const data = new Map<string, ArrayLike<number>>();
    const dtypes = new Map<string, WeightDtype>();
    for (const t of synthWeights(config, seed, opts)) {
      const d = t.data();
      let values: ArrayLike<number> = d instanceof Uint16Array ? f16ArrayToF32(d) : d;
      let dtype: WeightDtype = t.dtype;
      if (isQuantType(t.dtype)) {
        values = dequantize(QUANT_FORMATS[t.dtype].ggml, d as Uint8Array, t.nElements);
        if (t.layout.kind === "embedding") [values, dtype] = [Float64Array.from(values, roundF16), "f16"];
      }
      data.set(t.name, values);
      dtypes.set(t.name, dtype);
    }
    return new ReferenceForward(config, (n) => data.get(n)!, {
      tiedOutput: opts.tiedOutput,
      maxContext: opts.maxContext,
      numerics: opts.numerics,
      dtypeOf: (n) => dtypes.get(n)!,
    });
  }

  /**
   * Over the tensors of a GGUF file as uploadGguf puts them on the device (F16/BF16 widened, blocks
   * dequantized, Q6_K and a quantized embedding table rounded to f16).
   */
  static async fromGguf(
    gguf: LlamaGguf,
    opts: Omit<ReferenceOptions, "tiedOutput" | "dtypeOf"> = {},
  ): Promise<ReferenceForward> {
    const data = new Map<string, ArrayLike<number>>();
    const dtypes = new Map<string, WeightDtype>();
    for (const t of gguf.layout) {
      const dtype = deviceDtype(t.kind, t.info.type, undefined);
      const values = await gguf.file.readTensorF32(t.name);
      const converted = dtype === "f16" && t.info.typeName !== "F16";
      data.set(t.name, converted ? Float64Array.from(values, roundF16) : values);
      dtypes.set(t.name, dtype);
    }
    return new ReferenceForward(gguf.config, (n) => data.get(n)!, {
      ...opts,
      tiedOutput: gguf.tiedOutput,
      dtypeOf: (n) => dtypes.get(n)!,
    });
  }

  /** Tokens in the cache. */
  get position(): number {
    return this.#pos;
  }

  reset(): void {
    this.#pos = 0;
  }

  /**
   * Runs `tokens` at the next positions, as the engine's prefill (default) or decode does; returns
   * the logits after the last one.
   */
  forward(tokens: ArrayLike<number>, phase: "prefill" | "decode" = "prefill"): Float64Array {
    if (tokens.length === 0) throw new RangeError("forward: no tokens");
    let logits: Float64Array | null = null;
    for (let i = 0; i < tokens.length; i++) {
      logits = this.#token(tokens[i], i === tokens.length - 1, phase === "prefill");
    }
    return logits!;
  }

  /** Greedy generation: prefill `prompt`, then decode; `n` tokens with the logits each was chosen from. */
  generate(prompt: ArrayLike<number>, n: number): { tokens: number[]; logits: Float64Array[] } {
    const tokens: number[] = [];
    const logits: Float64Array[] = [];
    if (n <= 0) return { tokens, logits };
    let l = this.forward(prompt);
    for (;;) {
      const t = topTwo(l).best;
      tokens.push(t);
      logits.push(l);
      if (tokens.length === n) break;
      l = this.forward([t], "decode");
    }
    return { tokens, logits };
  }

  /** y = W x for a block's projection; in prefill, through the GEMM path's f16 roundings where it applies. */
  #linear(name: string, x: Float64Array, outDim: number, inDim: number, prefill: boolean): Float64Array {
    const w16 = prefill ? this.#w16.get(name) : undefined;
    if (!w16) return matvec(this.#w.get(name)!, x, outDim, inDim);
    return matvec(w16, x.map(roundF16), outDim, inDim);
  }

  #cached(x: Float64Array): Float64Array {
    return this.numerics.kv === "f16" ? x.map(roundF16) : x;
  }

  #token(token: number, wantLogits: boolean, prefill: boolean): Float64Array {
    const c = this.config;
    const pos = this.#pos;
    if (pos >= this.maxContext) throw new RangeError(`position ${pos} past maxContext ${this.maxContext}`);
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new RangeError(`token ${token} outside [0, ${c.vocabSize})`);
    }
    const D = c.headDim, qDim = c.nHeads * D, kvDim = c.nKvHeads * D;
    const W = (n: string) => this.#w.get(n)!;
    const x = W("token_embd.weight").slice(token * c.dim, (token + 1) * c.dim);
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      const lin = (n: string, v: Float64Array, o: number, i: number) =>
        this.#linear(`${p}${n}.weight`, v, o, i, prefill);
      const xn = rmsnorm(x, W(`${p}attn_norm.weight`), c.normEps);
      const q = lin("attn_q", xn, qDim, c.dim);
      const k = lin("attn_k", xn, kvDim, c.dim);
      const v = lin("attn_v", xn, kvDim, c.dim);
      rope(q, c.nHeads, D, pos, c.ropeBase);
      rope(k, c.nKvHeads, D, pos, c.ropeBase);
      this.#kCache[l].set(this.#cached(k), pos * kvDim);
      this.#vCache[l].set(this.#cached(v), pos * kvDim);
      const attn = attention(q, this.#kCache[l], this.#vCache[l], c.nHeads, c.nKvHeads, D, pos + 1);
      const o = lin("attn_output", attn, c.dim, qDim);
      for (let i = 0; i < c.dim; i++) x[i] += o[i];
      const xn2 = rmsnorm(x, W(`${p}ffn_norm.weight`), c.normEps);
      const g = lin("ffn_gate", xn2, c.ffnDim, c.dim);
      const u = lin("ffn_up", xn2, c.ffnDim, c.dim);
      for (let i = 0; i < c.ffnDim; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
      const d = lin("ffn_down", g, c.dim, c.ffnDim);
      for (let i = 0; i < c.dim; i++) x[i] += d[i];
    }
    this.#pos = pos + 1;
    if (!wantLogits) return new Float64Array(0);
    const xf = rmsnorm(x, W("output_norm.weight"), c.normEps);
    const out = W(this.tiedOutput ? "token_embd.weight" : "output.weight");
    return matvec(out, xf, c.vocabSize, c.dim);
  }
}

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * scale * w[i];
  return out;
}

function matvec(w: Float64Array, x: Float64Array, outDim: number, inDim: number): Float64Array {
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let acc = 0;
    const base = o * inDim;
    for (let i = 0; i < inDim; i++) acc += w[base + i] * x[i];
    y[o] = acc;
  }
  return y;
}

function rope(x: Float64Array, heads: number, D: number, pos: number, base: number): void {
  for (let i = 0; i < D / 2; i++) {
    const theta = pos * base ** (-2 * i / D);
    const c = Math.cos(theta), s = Math.sin(theta);
    for (let h = 0; h < heads; h++) {
      const p = h * D + 2 * i;
      const x0 = x[p], x1 = x[p + 1];
      x[p] = x0 * c - x1 * s;
      x[p + 1] = x0 * s + x1 * c;
    }
  }
}

function attention(
  q: Float64Array,
  kCache: Float64Array,
  vCache: Float64Array,
  nHead: number,
  nHeadKv: number,
  D: number,
  nCtx: number,
): Float64Array {
  const group = nHead / nHeadKv, row = nHeadKv * D, scale = 1 / Math.sqrt(D);
  const out = new Float64Array(nHead * D);
  const w = new Float64Array(nCtx);
  for (let h = 0; h < nHead; h++) {
    const hk = Math.floor(h / group);
    let m = -Infinity;
    for (let j = 0; j < nCtx; j++) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += q[h * D + i] * kCache[j * row + hk * D + i];
      w[j] = dot * scale;
      if (w[j] > m) m = w[j];
    }
    let l = 0;
    for (let j = 0; j < nCtx; j++) {
      w[j] = Math.exp(w[j] - m);
      l += w[j];
    }
    for (let i = 0; i < D; i++) {
      let acc = 0;
      for (let j = 0; j < nCtx; j++) acc += w[j] * vCache[j * row + hk * D + i];
      out[h * D + i] = acc / l;
    }
  }
  return out;
}
