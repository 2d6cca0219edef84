/**
 * Synthetic llama GGUF models with seeded random weights.
 *
 *   deno run -A scripts/model/synth.ts --preset tiny --out models/tiny.gguf
 *   deno run -A scripts/model/synth.ts --preset llama2-7b --layers 2 --dtype f16 --out models/l2-7b-2l.gguf
 *   deno run -A scripts/model/synth.ts --preset llama2-7b --layers 2 --dtype q4_k --out models/l2-7b-q4k.gguf
 *
 * Weights are drawn from a seeded PRNG, one independent stream per tensor (seeded from the seed and
 * the tensor's name), so a tensor's values do not depend on which other tensors were generated, or
 * on chunking. Initialisation keeps activations finite over many layers and tokens:
 * - token_embd: normal(0, 1) (each row is RMS-normalised before use);
 * - norm weights: 1 + normal(0, 0.02), always F32 (as llama.cpp stores them);
 * - linear weights: normal(0, 1/sqrt(fan_in)); attn_output and ffn_down further scaled by
 *   1/sqrt(2 * nLayers) so the residual stream does not grow with depth;
 * - output: normal(0, 1/sqrt(dim)), giving logits of about unit scale.
 *
 * `synthWeights(config, seed)` yields the tensors lazily (name, shape, dtype, data() / chunks()) so a
 * model can be built directly in device memory without writing a file.
 */

import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { choiceFlag, type CliArgs, intFlag, numberFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
import {
  configProblems,
  isPresetName,
  type LlamaConfig,
  llamaTensorLayout,
  parameterCount,
  presetConfig,
  PRESETS,
  type TensorLayout,
} from "./config.ts";
import { f32ArrayToF16 } from "./f16.ts";
import { meta, type MetaEntry, type TensorSpec, writeGguf, type WriteResult } from "./gguf_write.ts";
import { GgmlType, GgufValueType } from "./gguf_types.ts";
import { isQuantType, QUANT_FORMATS, quantizeRows, type QuantType } from "./quant.ts";
import { dtypeBytes, Rng } from "./rng.ts";
import { RotatedFill } from "./synth_rotated.ts";
import { synthVocab } from "./synth_vocab.ts";

export {
  bf16ArrayToF32,
  bf16BitsToF32,
  f16ArrayToF32,
  f16BitsToF32,
  f32ArrayToBf16,
  f32ArrayToF16,
  f32ToBf16Bits,
  f32ToF16Bits,
} from "./f16.ts";

/** Element type of a synthetic tensor: a float, or a ggml block quantization (scripts/model/quant.ts). */
export type SynthDtype = "f32" | "f16" | QuantType;

export const SYNTH_DTYPES: readonly SynthDtype[] = ["f32", "f16", "q8_0", "q4_0", "q4_k"];

/** One tensor of a synthetic model: its shape and type, and its random values on demand. */
export interface SynthTensor {
  /** The GGUF tensor name. */
  name: string;
  /** Row-major shape, outermost first ([out, in] for a linear weight). */
  shape: number[];
  /** Its element type. */
  dtype: SynthDtype;
  /** ggml type number (GgmlType.F32, F16, Q8_0, Q4_0 or Q4_K). */
  ggmlType: number;
  /** Elements in the tensor. */
  nElements: number;
  /** Bytes of its data. */
  nBytes: number;
  /** Initialisation: normal(mean, std). */
  mean: number;
  /** The standard deviation of its values. */
  std: number;
  /** Its place in the model's layout. */
  layout: TensorLayout;
  /** The whole tensor: Float32Array for f32, Uint16Array of f16 bit patterns for f16, ggml blocks (bytes) when quantized. */
  data(): SynthData;
  /** The tensor in chunks of whole rows, at most `maxElements` each (at least one row); concatenated they equal data(). */
  chunks(maxElements?: number): Generator<SynthData>;
}

export type { SynthData } from "./rng.ts";
import type { SynthData } from "./rng.ts";
export { dtypeBytes, Rng } from "./rng.ts";

/** What a synthetic model's weights are like. */
export interface SynthOptions {
  /**
   * Element type of the 2-D weights (norm weights stay F32). Default f32. A quantized type applies to
   * the tensors whose rows are whole blocks; the others are written f16 (as llama.cpp falls back).
   */
  dtype?: SynthDtype;
  /** No output.weight: the output projection reuses token_embd. Default false. */
  tiedOutput?: boolean;
}

function initOf(t: TensorLayout, c: LlamaConfig): { mean: number; std: number } {
  if (t.kind === "norm") return { mean: 1, std: 0.02 };
  if (t.kind === "embedding") return { mean: 0, std: 1 };
  let std = 1 / Math.sqrt(t.fanIn);
  if (t.name.endsWith("attn_output.weight") || t.name.endsWith("ffn_down.weight")) {
    std /= Math.sqrt(2 * c.nLayers);
  }
  return { mean: 0, std };
}

/** The model's tensors with seeded random values, generated only when data() or chunks() is called. */
export function* synthWeights(
  config: LlamaConfig,
  seed = 0,
  opts: SynthOptions = {},
): Generator<SynthTensor> {
  const problems = configProblems(config);
  if (problems.length) throw new RangeError(`bad llama config: ${problems.join("; ")}`);
  for (const layout of llamaTensorLayout(config, { tiedOutput: opts.tiedOutput })) {
    const rowLen = layout.shape[layout.shape.length - 1];
    const dtype = tensorDtype(layout, opts.dtype ?? "f32");
    const nElements = layout.shape.reduce((a, b) => a * b, 1);
    const { mean, std } = initOf(layout, config);
    const encode = (f: Float32Array): SynthData =>
      dtype === "f32" ? f : dtype === "f16" ? f32ArrayToF16(f) : quantizeRows(dtype, f, rowLen);
    const chunks = function* (maxElements = 1 << 22): Generator<SynthData> {
      const rng = new Rng(seed, layout.name);
      const rows = Math.max(1, Math.floor(maxElements / rowLen));
      const per = rows * rowLen;
      for (let done = 0; done < nElements; done += per) {
        const n = Math.min(per, nElements - done);
        yield encode(rng.fillNormal(new Float32Array(n), std, mean));
      }
    };
    yield {
      name: layout.name,
      shape: layout.shape,
      dtype,
      ggmlType: dtype === "f32" ? GgmlType.F32 : dtype === "f16" ? GgmlType.F16 : QUANT_FORMATS[dtype].ggml,
      nElements,
      nBytes: dtypeBytes(dtype, nElements, rowLen),
      mean,
      std,
      layout,
      data() {
        const it = chunks(nElements);
        return it.next().value as SynthData;
      },
      chunks,
    };
  }
}

/** The type a tensor is stored in: norms f32; a quantized type only for rows of whole blocks, else f16. */
export function tensorDtype(layout: TensorLayout, dtype: SynthDtype): SynthDtype {
  if (layout.kind === "norm") return "f32";
  if (!isQuantType(dtype)) return dtype;
  return layout.shape[layout.shape.length - 1] % QUANT_FORMATS[dtype].block === 0 ? dtype : "f16";
}

/** general.file_type of a model whose 2-D weights are `dtype` (llama_ftype). */
const FILE_TYPE: Record<SynthDtype, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, q4_k: 14 };

/** GGUF metadata for a llama config, in llama.cpp's key order, with a synthetic tokenizer. */
export function llamaMetadata(
  c: LlamaConfig,
  opts: { name?: string; dtype?: SynthDtype; alignment?: number; tokenizer?: boolean } = {},
): [string, MetaEntry][] {
  const m: [string, MetaEntry][] = [
    ["general.architecture", meta.str("llama")],
    ["general.name", meta.str(opts.name ?? "faultline-synthetic")],
    ["general.file_type", meta.u32(FILE_TYPE[opts.dtype ?? "f32"])],
    ["llama.context_length", meta.u32(c.contextLength)],
    ["llama.embedding_length", meta.u32(c.dim)],
    ["llama.block_count", meta.u32(c.nLayers)],
    ["llama.feed_forward_length", meta.u32(c.ffnDim)],
    ["llama.rope.dimension_count", meta.u32(c.headDim)],
    ["llama.attention.head_count", meta.u32(c.nHeads)],
    ["llama.attention.head_count_kv", meta.u32(c.nKvHeads)],
    ["llama.attention.layer_norm_rms_epsilon", meta.f32(c.normEps)],
    ["llama.rope.freq_base", meta.f32(c.ropeBase)],
    ["llama.vocab_size", meta.u32(c.vocabSize)],
  ];
  if (opts.alignment !== undefined) m.push(["general.alignment", meta.u32(opts.alignment)]);
  if (opts.tokenizer ?? true) {
    const v = synthVocab(c.vocabSize);
    m.push(
      ["tokenizer.ggml.model", meta.str("llama")],
      ["tokenizer.ggml.tokens", meta.arr(GgufValueType.STRING, v.tokens)],
      ["tokenizer.ggml.scores", meta.arr(GgufValueType.FLOAT32, v.scores)],
      ["tokenizer.ggml.token_type", meta.arr(GgufValueType.INT32, v.types)],
      ["tokenizer.ggml.bos_token_id", meta.u32(Math.min(1, c.vocabSize - 1))],
      ["tokenizer.ggml.eos_token_id", meta.u32(Math.min(2, c.vocabSize - 1))],
      ["tokenizer.ggml.unknown_token_id", meta.u32(0)],
    );
  }
  return m;
}

/** Options of synthGguf: the weights' and the file's. */
export interface SynthGgufOptions extends SynthOptions {
  /** The random seed (default 0): the same seed gives the same file. */
  seed?: number;
  /** general.name to write. */
  name?: string;
  /** general.alignment to write (default: none written, i.e. 32). */
  alignment?: number;
  /** The GGUF version to write (default 3). */
  version?: 2 | 3;
  /** Leave tensor data as holes (zeros) instead of generating it: fast, for header-only tests. */
  noData?: boolean;
  /**
   * "exact" (default): every weight drawn (synthWeights' values); "rotated": one random block reused
   * across the tensors (synth_rotated.ts), fast enough for 7B-sized benchmark files.
   */
  fill?: "exact" | "rotated";
}

/** Writer specs for a synthetic model's tensors (data generated while writing, or holes with noData). */
export function llamaTensorSpecs(
  config: LlamaConfig,
  opts: SynthOptions & { seed?: number; noData?: boolean; fill?: "exact" | "rotated" } = {},
): TensorSpec[] {
  const tensors: TensorSpec[] = [];
  const all = [...synthWeights(config, opts.seed ?? 0, opts)];
  // a block as large as the largest tensor (whole 256-weight groups), at most 4M weights
  const largest = Math.max(...all.map((t) => Math.ceil(t.nElements / 256) * 256));
  const rotated = opts.fill === "rotated"
    ? new RotatedFill(opts.seed ?? 0, Math.min(4 << 20, largest))
    : null;
  for (const t of all) {
    const data = () => (rotated && t.layout.kind !== "norm" ? rotated.chunks(t) : t.chunks());
    tensors.push({ name: t.name, shape: t.shape, type: t.ggmlType, data: opts.noData ? undefined : data });
  }
  return tensors;
}

/** Write a synthetic llama GGUF file, streaming the weights chunk by chunk. */
export function synthGguf(
  path: string,
  config: LlamaConfig,
  opts: SynthGgufOptions = {},
): Promise<WriteResult> {
  return writeGguf(path, {
    version: opts.version ?? 3,
    metadata: llamaMetadata(config, { name: opts.name, dtype: opts.dtype, alignment: opts.alignment }),
    tensors: llamaTensorSpecs(config, opts),
  });
}

/** Every tensor is padded to the alignment: past this, padding would dwarf the weights. */
const MAX_SYNTH_ALIGNMENT = 65536;

const CLI = {
  name: "synth",
  usage: `usage: deno run -A scripts/model/synth.ts --preset tiny|llama2-7b|llama3-8b --out PATH
  [--layers N] [--dtype f32|f16|q8_0|q4_0|q4_k] [--seed N] [--tied]
  [--dim N] [--ffn N] [--heads N] [--kv-heads N] [--vocab N] [--ctx N] [--rope-base X] [--eps X]
  [--alignment N] [--gguf-version 2|3] [--no-data] [--fill exact|rotated]
  --fill rotated: one random block reused across the tensors (seconds for a 7B file; for benchmarks)
  --alignment N: a power of two from 1 to ${MAX_SYNTH_ALIGNMENT} (every tensor's data starts on it; default 32)`,
  options: {
    preset: { type: "string", default: "tiny" },
    out: { type: "string" },
    layers: { type: "string" },
    dtype: { type: "string", default: "f32" },
    seed: { type: "string", default: "0" },
    tied: { type: "boolean", default: false },
    dim: { type: "string" },
    ffn: { type: "string" },
    heads: { type: "string" },
    "kv-heads": { type: "string" },
    vocab: { type: "string" },
    ctx: { type: "string" },
    "rope-base": { type: "string" },
    eps: { type: "string" },
    alignment: { type: "string" },
    fill: { type: "string", default: "exact" },
    "gguf-version": { type: "string", default: "3" },
    "no-data": { type: "boolean", default: false },
  },
} as const;

/** The flags that override a preset's config field. */
const CONFIG_FLAGS: [keyof LlamaConfig, string][] = [
  ["nLayers", "layers"],
  ["dim", "dim"],
  ["ffnDim", "ffn"],
  ["nHeads", "heads"],
  ["nKvHeads", "kv-heads"],
  ["vocabSize", "vocab"],
  ["contextLength", "ctx"],
  ["ropeBase", "rope-base"],
  ["normEps", "eps"],
];

/** The preset with the flags' overrides, checked (a UsageError says what is wrong). */
function configFrom(values: CliArgs<typeof CLI.options>["values"]): LlamaConfig {
  if (!isPresetName(values.preset)) {
    throw new UsageError(`unknown preset ${values.preset} (${Object.keys(PRESETS).join(", ")})`);
  }
  const overrides: Partial<LlamaConfig> = {};
  for (const [key, flag] of CONFIG_FLAGS) {
    const v = values[flag as keyof typeof values] as string | undefined;
    const n = key === "ropeBase" || key === "normEps"
      ? numberFlag(v, flag, { positive: true })
      : intFlag(v, flag, { positive: true });
    if (n !== undefined) overrides[key] = n;
  }
  const config = presetConfig(values.preset, overrides);
  const problems = configProblems(config);
  if (problems.length) throw new UsageError(problems.join("; "));
  return config;
}

/** --out: a file path in an existing folder (it is written over). */
function outPath(v: string | undefined): string {
  if (!v) throw new UsageError("--out is required");
  if (existsSync(v) && !statSync(v).isFile()) throw new UsageError(`--out: not a file: ${v}`);
  const dir = dirname(resolve(v));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`--out: no folder ${dir} to write in`);
  }
  return v;
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(CLI, args);
  const config = configFrom(values);
  const dtype = choiceFlag(values.dtype, "dtype", SYNTH_DTYPES)!;
  const fill = choiceFlag(values.fill, "fill", ["exact", "rotated"] as const)!;
  const seed = intFlag(values.seed, "seed", { min: 0, max: 2 ** 53 - 1 })!;
  const alignment = intFlag(values.alignment, "alignment", { min: 1, max: MAX_SYNTH_ALIGNMENT });
  if (alignment !== undefined && (alignment & (alignment - 1)) !== 0) {
    throw new UsageError(`--alignment must be a power of two, got ${alignment}`);
  }
  const version = Number(choiceFlag(values["gguf-version"], "gguf-version", ["2", "3"])) as 2 | 3;
  const out = outPath(values.out);
  const t0 = performance.now();
  const res = await synthGguf(out, config, {
    seed,
    dtype,
    tiedOutput: values.tied,
    alignment,
    version,
    noData: values["no-data"],
    fill,
    name: `synthetic ${values.preset}`,
  });
  const params = parameterCount(config, { tiedOutput: values.tied });
  console.log(
    `${res.path}: ${values.preset} ${JSON.stringify(config)}\n` +
      `  ${(params / 1e6).toFixed(1)}M parameters, ${dtype}, ${(res.bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return 0;
}

if (import.meta.main) await runCli(CLI, main);
