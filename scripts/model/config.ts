/**
 * Llama model configuration: the typed shape of a llama-architecture model, the presets faultline
 * knows, the tensor layout those shapes imply, and `checkCompatible`, which compares a model's shapes
 * with the shapes an engine build expects.
 *
 * Shape convention used across scripts/model/: a tensor's `shape` is row-major, outermost first, so a
 * linear layer's weight is `[out, in]` (one row per output feature, rows contiguous). GGUF stores
 * `ne[]` innermost first (`ne[0]` is the contiguous dimension), so `shape` is `ne` reversed:
 * GGUF `attn_k.weight` ne = [dim, kvDim] is shape [kvDim, dim]; `token_embd.weight` ne = [dim, vocab]
 * is shape [vocab, dim] (one embedding row per token).
 */

export interface LlamaConfig {
  /** llama.embedding_length: model width. */
  dim: number;
  /** llama.feed_forward_length: SwiGLU hidden width. */
  ffnDim: number;
  /** llama.block_count: number of transformer blocks. */
  nLayers: number;
  /** llama.attention.head_count */
  nHeads: number;
  /** llama.attention.head_count_kv (equals nHeads without grouped-query attention). */
  nKvHeads: number;
  /** dim / nHeads */
  headDim: number;
  /** tokenizer.ggml.tokens length, llama.vocab_size, or token_embd's row count. */
  vocabSize: number;
  /** llama.context_length: the context the model was trained for. */
  contextLength: number;
  /** llama.rope.freq_base (10000 when absent). */
  ropeBase: number;
  /** llama.attention.layer_norm_rms_epsilon */
  normEps: number;
}

/** The preset models: a tiny one for the sim and tests, and the Llama-2-7B and Llama-3-8B shapes. */
export type PresetName = "tiny" | "llama2-7b" | "llama3-8b";

function make(c: Omit<LlamaConfig, "headDim">): LlamaConfig {
  return { ...c, headDim: c.dim / c.nHeads };
}

/** Each preset's configuration. */
export const PRESETS: Readonly<Record<PresetName, Readonly<LlamaConfig>>> = {
  tiny: make({
    dim: 64,
    ffnDim: 172,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    vocabSize: 256,
    contextLength: 128,
    ropeBase: 10000,
    normEps: 1e-5,
  }),
  "llama2-7b": make({
    dim: 4096,
    ffnDim: 11008,
    nLayers: 32,
    nHeads: 32,
    nKvHeads: 32,
    vocabSize: 32000,
    contextLength: 4096,
    ropeBase: 10000,
    normEps: 1e-5,
  }),
  "llama3-8b": make({
    dim: 4096,
    ffnDim: 14336,
    nLayers: 32,
    nHeads: 32,
    nKvHeads: 8,
    vocabSize: 128256,
    contextLength: 8192,
    ropeBase: 500000,
    normEps: 1e-5,
  }),
};

/** Whether `name` is a preset's name. */
export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** A preset with some fields replaced; headDim is recomputed unless given explicitly. */
export function presetConfig(name: PresetName, overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  const base = { ...PRESETS[name], ...overrides };
  if (overrides.headDim === undefined) base.headDim = base.dim / base.nHeads;
  return base;
}

/** Problems that make a config unusable (empty when it is consistent). */
export function configProblems(c: LlamaConfig): string[] {
  const out: string[] = [];
  const ints: (keyof LlamaConfig)[] = [
    "dim",
    "ffnDim",
    "nLayers",
    "nHeads",
    "nKvHeads",
    "vocabSize",
    "contextLength",
  ];
  for (const k of ints) {
    const v = c[k];
    if (!Number.isSafeInteger(v) || v <= 0) out.push(`${k} must be a positive integer, got ${v}`);
  }
  if (!(c.ropeBase > 0) || !Number.isFinite(c.ropeBase)) out.push(`ropeBase must be > 0, got ${c.ropeBase}`);
  if (!(c.normEps > 0) || !Number.isFinite(c.normEps)) out.push(`normEps must be > 0, got ${c.normEps}`);
  if (out.length) return out;
  if (c.dim % c.nHeads !== 0) out.push(`dim ${c.dim} is not a multiple of nHeads ${c.nHeads}`);
  else if (c.headDim !== c.dim / c.nHeads) {
    out.push(`headDim ${c.headDim} != dim / nHeads = ${c.dim / c.nHeads}`);
  }
  if (c.nHeads % c.nKvHeads !== 0) {
    out.push(`nHeads ${c.nHeads} is not a multiple of nKvHeads ${c.nKvHeads}`);
  }
  if (Number.isInteger(c.headDim) && c.headDim % 2 !== 0) {
    out.push(`headDim ${c.headDim} must be even for RoPE`);
  }
  return out;
}

/** Width of the K and V projections: nKvHeads * headDim. */
export function kvDim(c: LlamaConfig): number {
  return c.nKvHeads * c.headDim;
}

/** One tensor of a Llama model: its name, shape and role. */
export interface TensorLayout {
  /** The GGUF tensor name ("blk.0.attn_q.weight"). */
  name: string;
  /** Row-major shape, outermost first: [out, in] for a linear weight. */
  shape: number[];
  /** Fan-in of a linear weight (its `in`), or 0 for norms and embeddings. */
  fanIn: number;
  /** The role: token embedding, norm weight, or linear weight. */
  kind: "embedding" | "norm" | "linear";
  /** Block index, or -1 for tensors outside the blocks. */
  layer: number;
}

export const BLOCK_TENSORS = [
  "attn_norm",
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "ffn_norm",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
] as const;

/**
 * Every tensor of a llama model with its expected row-major shape, in llama.cpp's file order:
 * token_embd, output_norm, output (unless tied), then each block.
 * Q/K rows follow GGUF's llama rotary layout (rotation of adjacent pairs within each head).
 */
export function llamaTensorLayout(c: LlamaConfig, opts: { tiedOutput?: boolean } = {}): TensorLayout[] {
  const kv = kvDim(c);
  const qd = c.nHeads * c.headDim;
  const out: TensorLayout[] = [
    { name: "token_embd.weight", shape: [c.vocabSize, c.dim], fanIn: 0, kind: "embedding", layer: -1 },
    { name: "output_norm.weight", shape: [c.dim], fanIn: 0, kind: "norm", layer: -1 },
  ];
  if (!opts.tiedOutput) {
    out.push({ name: "output.weight", shape: [c.vocabSize, c.dim], fanIn: c.dim, kind: "linear", layer: -1 });
  }
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    const lin = (n: string, o: number, i: number): TensorLayout => ({
      name: `${p}${n}.weight`,
      shape: [o, i],
      fanIn: i,
      kind: "linear",
      layer: l,
    });
    const norm = (n: string): TensorLayout => ({
      name: `${p}${n}.weight`,
      shape: [c.dim],
      fanIn: 0,
      kind: "norm",
      layer: l,
    });
    out.push(
      norm("attn_norm"),
      lin("attn_q", qd, c.dim),
      lin("attn_k", kv, c.dim),
      lin("attn_v", kv, c.dim),
      lin("attn_output", c.dim, qd),
      norm("ffn_norm"),
      lin("ffn_gate", c.ffnDim, c.dim),
      lin("ffn_up", c.ffnDim, c.dim),
      lin("ffn_down", c.dim, c.ffnDim),
    );
  }
  return out;
}

/** Number of parameters (elements) of the model's tensors. */
export function parameterCount(c: LlamaConfig, opts: { tiedOutput?: boolean } = {}): number {
  let n = 0;
  for (const t of llamaTensorLayout(c, opts)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** A configuration field in which a model and an engine build differ. */
export interface Mismatch {
  /** The field. */
  key: keyof LlamaConfig;
  /** The model's value. */
  model: number;
  /** The engine build's value. */
  engine: number;
}

const COMPARED_KEYS: (keyof LlamaConfig)[] = [
  "dim",
  "ffnDim",
  "nLayers",
  "nHeads",
  "nKvHeads",
  "headDim",
  "vocabSize",
  "contextLength",
  "ropeBase",
  "normEps",
];

/**
 * Compare a model's config with the shapes an engine build expects. Only the keys present in `engine`
 * are compared; integers must be equal, floats (ropeBase, normEps) equal to float32 precision (GGUF
 * stores them as f32). Returns one entry per differing key, in a fixed order; empty when compatible.
 *
 * Example: a Llama-3-8B model in a Llama-2-7B build gives ffnDim 14336 vs 11008, nKvHeads 8 vs 32,
 * vocabSize 128256 vs 32000, contextLength 8192 vs 4096 and ropeBase 500000 vs 10000.
 */
export function checkCompatible(model: LlamaConfig, engine: Partial<LlamaConfig>): Mismatch[] {
  const out: Mismatch[] = [];
  for (const key of COMPARED_KEYS) {
    const e = engine[key];
    if (e === undefined) continue;
    const m = model[key];
    const same = key === "ropeBase" || key === "normEps"
      ? Math.fround(m) === Math.fround(e) || Math.abs(m - e) <= 1e-6 * Math.max(Math.abs(m), Math.abs(e))
      : m === e;
    if (!same) out.push({ key, model: m, engine: e });
  }
  return out;
}

/** One line per mismatch, for messages: "ffnDim: model 14336, engine 11008". */
export function formatMismatches(ms: Mismatch[]): string {
  return ms.map((m) => `${m.key}: model ${m.model}, engine ${m.engine}`).join("\n");
}
