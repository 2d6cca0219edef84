/**
 * GGUF llama models: open a file, check it is a llama model faultline can run, and read its config.
 *
 * The header is read by faultline's own strict reader (gguf_read.ts; its opening comment says why not
 * npm:@huggingface/gguf). This module adds the llama-specific checks: required metadata keys, a
 * consistent config, every tensor the config implies present, of a type faultline reads and shaped as
 * the config says, no tensor the model would ignore, and token ids inside the vocabulary.
 */

import {
  BLOCK_TENSORS,
  configProblems,
  kvDim,
  type LlamaConfig,
  llamaTensorLayout,
  type TensorLayout,
} from "./config.ts";
import { GgufError } from "./gguf_error.ts";
import { GgufFile, unsupportedType } from "./gguf_file.ts";
import type { GgufTensorInfo } from "./gguf_read.ts";
import { GgufValueType, ggufValueTypeName, isSupportedType } from "./gguf_types.ts";

export { GgmlType, ggmlTypeName, GgufValueType } from "./gguf_types.ts";
export { GgufError, type GgufErrorCode } from "./gguf_error.ts";
export { GgufFile } from "./gguf_file.ts";
export type { ByteSource, GgufHeader, GgufTensorInfo, MetadataType, MetadataValue } from "./gguf_read.ts";

/** A llama model in a GGUF file: the validated config and the file for lazy tensor reads. */
export interface LlamaGguf {
  /** The file, for tensor reads. */
  file: GgufFile;
  /** The model's configuration, from the file's metadata. */
  config: LlamaConfig;
  /** True when the file has no output.weight and the output projection reuses token_embd.weight. */
  tiedOutput: boolean;
  /** Every tensor of the model in layout order, with its expected shape and its info in the file. */
  layout: (TensorLayout & { info: GgufTensorInfo })[];
}

const REQUIRED_INT_KEYS: [keyof LlamaConfig, string][] = [
  ["dim", "llama.embedding_length"],
  ["ffnDim", "llama.feed_forward_length"],
  ["nLayers", "llama.block_count"],
  ["nHeads", "llama.attention.head_count"],
  ["contextLength", "llama.context_length"],
];

function typeName(file: GgufFile, key: string): string {
  return ggufValueTypeName(file.metadataTypes[key]?.type);
}

function metaInt(file: GgufFile, key: string, required: boolean): number | undefined {
  const v = file.metadata[key];
  if (v === undefined) {
    if (required) throw new GgufError(file.path, "missing-key", `missing required metadata key ${key}`);
    return undefined;
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
    throw new GgufError(
      file.path,
      "bad-metadata",
      `metadata ${key} is ${typeName(file, key)} ${
        JSON.stringify(String(v)).slice(0, 60)
      }; expected a positive integer`,
    );
  }
  return n;
}

function metaFloat(file: GgufFile, key: string, required: boolean): number | undefined {
  const v = file.metadata[key];
  if (v === undefined) {
    if (required) throw new GgufError(file.path, "missing-key", `missing required metadata key ${key}`);
    return undefined;
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) {
    throw new GgufError(
      file.path,
      "bad-metadata",
      `metadata ${key} is ${typeName(file, key)} ${
        JSON.stringify(String(v)).slice(0, 60)
      }; expected a positive number`,
    );
  }
  return n;
}

/**
 * The vocabulary size: tokenizer.ggml.tokens' length, else llama.vocab_size, else token_embd's rows.
 * When both the tokens and llama.vocab_size are there they must agree.
 */
function vocabSizeOf(file: GgufFile): number {
  const key = "tokenizer.ggml.tokens";
  const tokens = file.metadata[key];
  const declared = metaInt(file, "llama.vocab_size", false);
  if (tokens !== undefined) {
    if (!Array.isArray(tokens) || file.metadataTypes[key].itemType !== GgufValueType.STRING) {
      const t = file.metadataTypes[key];
      const what = t.itemType === undefined
        ? typeName(file, key)
        : `an array of ${ggufValueTypeName(t.itemType)}`;
      throw new GgufError(
        file.path,
        "bad-metadata",
        `metadata ${key} is ${what}; expected an array of strings`,
      );
    }
    if (declared !== undefined && declared !== tokens.length) {
      throw new GgufError(
        file.path,
        "bad-metadata",
        `metadata llama.vocab_size is ${declared} but ${key} has ${tokens.length} tokens`,
      );
    }
    return tokens.length;
  }
  const embd = file.tensors.get("token_embd.weight");
  const size = declared ?? (embd && embd.dims.length === 2 ? embd.dims[1] : undefined);
  if (size === undefined) {
    throw new GgufError(
      file.path,
      "missing-key",
      "cannot tell the vocabulary size: no tokenizer.ggml.tokens, llama.vocab_size or token_embd.weight",
    );
  }
  return size;
}

/** The LlamaConfig a GGUF file's metadata describes (vocabulary falls back to token_embd's shape). */
export function llamaConfigOf(file: GgufFile): LlamaConfig {
  const arch = file.metadata["general.architecture"];
  if (arch === undefined) {
    throw new GgufError(file.path, "missing-key", "missing required metadata key general.architecture");
  }
  if (arch !== "llama") {
    throw new GgufError(
      file.path,
      "not-llama",
      `architecture is ${JSON.stringify(arch)}; faultline loads llama`,
    );
  }
  const c: Partial<LlamaConfig> = {};
  for (const [k, key] of REQUIRED_INT_KEYS) c[k] = metaInt(file, key, true);
  checkBlockCount(file, c.nLayers!);
  c.nKvHeads = metaInt(file, "llama.attention.head_count_kv", false) ?? c.nHeads;
  c.normEps = metaFloat(file, "llama.attention.layer_norm_rms_epsilon", true);
  c.ropeBase = metaFloat(file, "llama.rope.freq_base", false) ?? 10000;
  c.headDim = c.dim! / c.nHeads!;
  c.vocabSize = vocabSizeOf(file);
  const cfg = c as LlamaConfig;
  const problems = configProblems(cfg);
  if (problems.length) {
    throw new GgufError(file.path, "bad-metadata", `inconsistent llama config: ${problems.join("; ")}`);
  }
  checkTokenizer(file, cfg.vocabSize);
  // Optional keys that, when present, must agree with the head size faultline's llama assumes.
  for (
    const key of ["llama.rope.dimension_count", "llama.attention.key_length", "llama.attention.value_length"]
  ) {
    const v = metaInt(file, key, false);
    if (v !== undefined && v !== cfg.headDim) {
      throw new GgufError(
        file.path,
        "bad-metadata",
        `metadata ${key} is ${v} but the head size (embedding_length / head_count) is ${cfg.headDim}; faultline's llama needs them equal`,
      );
    }
  }
  return cfg;
}

/**
 * Every block holds tensors, so a block_count above the file's tensor count is refused here rather
 * than expanded into a layout of billions of names; within it, the layout costs at most
 * BLOCK_TENSORS.length names per tensor in the file, and what is missing is listed by name.
 */
function checkBlockCount(file: GgufFile, nLayers: number): void {
  if (nLayers <= file.tensors.size) return;
  throw new GgufError(
    file.path,
    "bad-metadata",
    `llama.block_count is ${nLayers} but the file holds ${file.tensors.size} tensors; ` +
      `a llama block has ${BLOCK_TENSORS.length}, plus token_embd and output_norm`,
  );
}

const TOKEN_ID_KEY = /^tokenizer\.ggml\.[a-z_]+_token_id$/;
const PER_TOKEN_KEYS = ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"];

/** Token ids (bos, eos, padding, ...) inside the vocabulary; per-token arrays as long as it. */
function checkTokenizer(file: GgufFile, vocabSize: number): void {
  for (const key of Object.keys(file.metadata)) {
    if (!TOKEN_ID_KEY.test(key)) continue;
    const v = file.metadata[key];
    const id = typeof v === "bigint" || typeof v === "number" ? Number(v) : NaN;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      const shown = typeof v === "bigint" || typeof v === "number"
        ? String(v)
        : `${typeName(file, key)} ${JSON.stringify(String(v)).slice(0, 40)}`;
      throw new GgufError(
        file.path,
        "bad-metadata",
        `metadata ${key} is ${shown}; a token id must be in 0..${vocabSize - 1}`,
      );
    }
  }
  for (const key of PER_TOKEN_KEYS) {
    const v = file.metadata[key];
    if (v === undefined || (Array.isArray(v) && v.length === vocabSize)) continue;
    const has = Array.isArray(v) ? `has ${v.length} entries` : `is ${typeName(file, key)}, not an array`;
    throw new GgufError(
      file.path,
      "bad-metadata",
      `metadata ${key} ${has} but the vocabulary has ${vocabSize} tokens`,
    );
  }
}

function fmt(a: readonly number[]) {
  return `[${a.join(", ")}]`;
}

const SHAPE_EXPLAIN: Record<string, (c: LlamaConfig) => string> = {
  token_embd: (c) => `[vocab, dim] = [${c.vocabSize}, ${c.dim}]`,
  output: (c) => `[vocab, dim] = [${c.vocabSize}, ${c.dim}]`,
  attn_q: (c) => `[heads*headDim, dim] = [${c.nHeads * c.headDim}, ${c.dim}]`,
  attn_k: (c) => `[kvHeads*headDim, dim] = [${kvDim(c)}, ${c.dim}]`,
  attn_v: (c) => `[kvHeads*headDim, dim] = [${kvDim(c)}, ${c.dim}]`,
  attn_output: (c) => `[dim, heads*headDim] = [${c.dim}, ${c.nHeads * c.headDim}]`,
  ffn_gate: (c) => `[ffn, dim] = [${c.ffnDim}, ${c.dim}]`,
  ffn_up: (c) => `[ffn, dim] = [${c.ffnDim}, ${c.dim}]`,
  ffn_down: (c) => `[dim, ffn] = [${c.dim}, ${c.ffnDim}]`,
};

/**
 * Open and validate a llama GGUF file: metadata → LlamaConfig, every required tensor present, of type
 * F32/F16/BF16, and shaped as the config says. Reads only the header; tensor data stays on disk.
 */
export async function openLlamaGguf(path: string): Promise<LlamaGguf> {
  return checkLlama(await GgufFile.open(path));
}

/** The checks of openLlamaGguf on a file already parsed (GgufFile.open or GgufFile.fromBytes). */
export function checkLlama(file: GgufFile): LlamaGguf {
  const path = file.path;
  const config = llamaConfigOf(file);
  const tiedOutput = !file.tensors.has("output.weight");
  const layout = llamaTensorLayout(config, { tiedOutput });
  const missing = layout.filter((t) => !file.tensors.has(t.name)).map((t) => t.name);
  if (missing.length) {
    const list = missing.slice(0, 8).join(", ") +
      (missing.length > 8 ? `, ... (${missing.length} in all)` : "");
    throw new GgufError(
      path,
      "missing-tensor",
      `missing required tensor${missing.length > 1 ? "s" : ""}: ${list}`,
    );
  }
  const expected = new Set(layout.map((t) => t.name));
  const unused = [...file.tensors.keys()].find((name) => !expected.has(name));
  if (unused !== undefined) {
    throw new GgufError(
      path,
      "unused-tensor",
      `tensor ${unused} is not part of the llama model the metadata describes (${config.nLayers} blocks${
        tiedOutput ? ", output tied to token_embd" : ""
      }); faultline would ignore it`,
    );
  }
  const out: LlamaGguf["layout"] = [];
  for (const t of layout) {
    const info = file.tensors.get(t.name)!;
    if (!isSupportedType(info.type)) throw unsupportedType(path, info);
    if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
      const short = t.name.replace(/^blk\.\d+\./, "").replace(/\.weight$/, "");
      const want = SHAPE_EXPLAIN[short]?.(config) ?? `[dim] = [${config.dim}]`;
      throw new GgufError(
        path,
        "bad-shape",
        `tensor ${t.name} has shape ${fmt(info.shape)} (GGUF ne ${
          fmt(info.dims)
        }); the config expects ${want}`,
      );
    }
    out.push({ ...t, info });
  }
  return { file, config, tiedOutput, layout: out };
}
