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
 * Weights are the model's own values (f16 widened exactly), held as Float64Array.
 *
 *   const ref = ReferenceForward.fromGpuModel(model);   // the weights read back from the device
 *   const { tokens, logits } = ref.generate([1, 17, 42], 16);
 */
import { f16ArrayToF32 } from "./f16.ts";
import type { LlamaConfig } from "./config.ts";
import type { LlamaGguf } from "./gguf.ts";
import type { GpuModel } from "./gpu_model.ts";
import { type SynthOptions, synthWeights } from "./synth.ts";

export type WeightLookup = (name: string) => ArrayLike<number>;

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
}

export class ReferenceForward {
  readonly config: LlamaConfig;
  readonly tiedOutput: boolean;
  readonly maxContext: number;
  #w = new Map<string, Float64Array>();
  #kCache: Float64Array[] = [];
  #vCache: Float64Array[] = [];
  #pos = 0;

  constructor(config: LlamaConfig, weights: WeightLookup, opts: ReferenceOptions = {}) {
    this.config = config;
    this.tiedOutput = opts.tiedOutput ?? false;
    this.maxContext = opts.maxContext ?? config.contextLength;
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
    const kv = config.nKvHeads * config.headDim;
    for (let l = 0; l < config.nLayers; l++) {
      this.#kCache.push(new Float64Array(this.maxContext * kv));
      this.#vCache.push(new Float64Array(this.maxContext * kv));
    }
  }

  /** Over the weights of a model in device memory, read back (what the kernels actually use). */
  static fromGpuModel(model: GpuModel, opts: Omit<ReferenceOptions, "tiedOutput"> = {}): ReferenceForward {
    return new ReferenceForward(model.config, (n) => model.readF32(n), {
      ...opts,
      tiedOutput: model.tiedOutput,
    });
  }

  /** Over synthWeights(config, seed, opts) (f16 weights widened exactly). */
  static fromSynth(
    config: LlamaConfig,
    seed: number,
    opts: SynthOptions & { maxContext?: number } = {},
  ): ReferenceForward {
    const data = new Map<string, ArrayLike<number>>();
    for (const t of synthWeights(config, seed, opts)) {
      const d = t.data();
      data.set(t.name, d instanceof Uint16Array ? f16ArrayToF32(d) : d);
    }
    return new ReferenceForward(config, (n) => data.get(n)!, {
      tiedOutput: opts.tiedOutput,
      maxContext: opts.maxContext,
    });
  }

  /** Over the tensors of a GGUF file (F16/BF16 widened). */
  static async fromGguf(
    gguf: LlamaGguf,
    opts: Omit<ReferenceOptions, "tiedOutput"> = {},
  ): Promise<ReferenceForward> {
    const data = new Map<string, Float32Array>();
    for (const t of gguf.layout) data.set(t.name, await gguf.file.readTensorF32(t.name));
    return new ReferenceForward(gguf.config, (n) => data.get(n)!, { ...opts, tiedOutput: gguf.tiedOutput });
  }

  /** Tokens in the cache. */
  get position(): number {
    return this.#pos;
  }

  reset(): void {
    this.#pos = 0;
  }

  /** Runs `tokens` at the next positions; returns the logits after the last one. */
  forward(tokens: ArrayLike<number>): Float64Array {
    if (tokens.length === 0) throw new RangeError("forward: no tokens");
    let logits: Float64Array | null = null;
    for (let i = 0; i < tokens.length; i++) logits = this.#token(tokens[i], i === tokens.length - 1);
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
      l = this.forward([t]);
    }
    return { tokens, logits };
  }

  #token(token: number, wantLogits: boolean): Float64Array {
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
      const xn = rmsnorm(x, W(`${p}attn_norm.weight`), c.normEps);
      const q = matvec(W(`${p}attn_q.weight`), xn, qDim, c.dim);
      const k = matvec(W(`${p}attn_k.weight`), xn, kvDim, c.dim);
      const v = matvec(W(`${p}attn_v.weight`), xn, kvDim, c.dim);
      rope(q, c.nHeads, D, pos, c.ropeBase);
      rope(k, c.nKvHeads, D, pos, c.ropeBase);
      this.#kCache[l].set(k, pos * kvDim);
      this.#vCache[l].set(v, pos * kvDim);
      const attn = attention(q, this.#kCache[l], this.#vCache[l], c.nHeads, c.nKvHeads, D, pos + 1);
      const o = matvec(W(`${p}attn_output.weight`), attn, c.dim, qDim);
      for (let i = 0; i < c.dim; i++) x[i] += o[i];
      const xn2 = rmsnorm(x, W(`${p}ffn_norm.weight`), c.normEps);
      const g = matvec(W(`${p}ffn_gate.weight`), xn2, c.ffnDim, c.dim);
      const u = matvec(W(`${p}ffn_up.weight`), xn2, c.ffnDim, c.dim);
      for (let i = 0; i < c.ffnDim; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
      const d = matvec(W(`${p}ffn_down.weight`), g, c.dim, c.ffnDim);
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
