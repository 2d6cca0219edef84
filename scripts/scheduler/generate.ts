/**
 * Greedy generation through the block scheduler, from a GGUF file or a random-weight model built in
 * device memory; optionally checked token for token against the float64 reference.
 *
 * Text in, text out: the prompt is tokenized with the model's vocabulary (the GGUF file's, or for a
 * preset the vocabulary synth.ts writes) and the tokens are printed as text; --prompt-ids gives ids.
 *
 *   deno task generate --model models/tiny.gguf --prompt "Hello, world" --tokens 24
 *   deno run -A scripts/scheduler/generate.ts --preset tiny --seed 11 --tokens 24 --check
 *   deno run -A scripts/scheduler/generate.ts --model models/tiny.gguf --prompt-ids 1,72,101 --trace
 *   deno run -A scripts/scheduler/generate.ts --preset llama2-7b --dtype q4_k --tokens 64   # on a GPU
 */
import { parseArgs } from "node:util";
import { type Device, runtime } from "../../mod.ts";
import {
  isPresetName,
  type LlamaConfig,
  parameterCount,
  presetConfig,
  type PresetName,
  PRESETS,
} from "../model/config.ts";
import { openLlamaGguf } from "../model/gguf.ts";
import { type GpuModel, gpuModel, uploadGguf, type WeightDtype } from "../model/gpu_model.ts";
import { ReferenceForward, topTwo } from "../model/reference_forward.ts";
import { SYNTH_DTYPES } from "../model/synth.ts";
import { synthVocab } from "../model/synth_vocab.ts";
import { Tokenizer } from "../model/tokenizer.ts";
import { LlamaEngine } from "./engine.ts";
import type { KvCacheType } from "./kernel_choice.ts";

const USAGE =
  `usage: deno run -A scripts/scheduler/generate.ts (--model PATH | --preset NAME [--layers N] [--seed N])
  [--prompt TEXT | --prompt-ids 1,2,3] [--tokens N] [--dtype T] [--kv-cache f16|f32] [--max-context N]
  [--ignore-eos] [--check] [--trace]
  --prompt: text, tokenized with the model's vocabulary (default "Hello"); --prompt-ids: token ids
  --dtype: a GGUF model's 2-D weights converted to f32 or f16; a preset's random weights as f32, f16,
           q8_0, q4_0 or q4_k
  --ignore-eos: keep generating past the end-of-sequence token
  --check: compare with the float64 reference forward pass (small models only; implies --ignore-eos)
  --trace: print every op of the first decode step as it runs`;

interface Request {
  model?: string;
  preset?: string;
  layers?: number;
  seed: number;
  dtype?: WeightDtype;
  kvCache: KvCacheType;
  /** Text to tokenize, or the prompt's ids. */
  prompt: string | number[];
  tokens: number;
  maxContext?: number;
  ignoreEos: boolean;
  check: boolean;
  trace: boolean;
}

/** The command line as a request, or the problem with it. */
function parseRequest(args: string[]): Request | { help: true } | { error: string } {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        model: { type: "string" },
        preset: { type: "string" },
        layers: { type: "string" },
        seed: { type: "string", default: "0" },
        dtype: { type: "string" },
        "kv-cache": { type: "string", default: "f16" },
        prompt: { type: "string" },
        "prompt-ids": { type: "string" },
        tokens: { type: "string", default: "16" },
        "max-context": { type: "string" },
        "ignore-eos": { type: "boolean", default: false },
        check: { type: "boolean", default: false },
        trace: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (values.help) return { help: true };
  if (!values.model === !values.preset) return { error: "give exactly one of --model and --preset" };
  const dtypes: readonly string[] = values.model ? ["f32", "f16"] : SYNTH_DTYPES;
  if (values.dtype !== undefined && !dtypes.includes(values.dtype)) {
    return { error: `--dtype must be one of ${dtypes.join(", ")}${values.model ? " for a GGUF model" : ""}` };
  }
  if (values["kv-cache"] !== "f16" && values["kv-cache"] !== "f32") {
    return { error: "--kv-cache must be f16 or f32" };
  }
  if (values.prompt !== undefined && values["prompt-ids"] !== undefined) {
    return { error: "give at most one of --prompt and --prompt-ids" };
  }
  if (values.preset !== undefined && !isPresetName(values.preset)) {
    return { error: `unknown preset ${values.preset} (${Object.keys(PRESETS).join(", ")})` };
  }
  let prompt: string | number[] = values.prompt ?? "Hello";
  if (values["prompt-ids"] !== undefined) {
    prompt = values["prompt-ids"].split(",").map((s) => Number(s.trim()));
    if (prompt.some((t) => !Number.isInteger(t) || t < 0)) {
      return { error: `bad --prompt-ids ${values["prompt-ids"]}` };
    }
  }
  const tokens = Number(values.tokens);
  if (!Number.isInteger(tokens) || tokens <= 0) return { error: `bad --tokens ${values.tokens}` };
  return {
    model: values.model,
    preset: values.preset,
    layers: values.layers === undefined ? undefined : Number(values.layers),
    seed: Number(values.seed),
    dtype: values.dtype as WeightDtype | undefined,
    kvCache: values["kv-cache"],
    prompt,
    tokens,
    maxContext: values["max-context"] === undefined ? undefined : Number(values["max-context"]),
    ignoreEos: values["ignore-eos"] || values.check,
    check: values.check,
    trace: values.trace,
  };
}

export async function main(args: string[]): Promise<number> {
  const req = parseRequest(args);
  if ("help" in req) {
    console.log(USAGE);
    return 0;
  }
  if ("error" in req) return usageError(req.error);
  const tooBig = "--check is for small models (the reference runs on the host)";
  if (
    req.check && req.preset !== undefined && parameterCount(presetConfig(req.preset as PresetName)) > 50e6
  ) {
    return usageError(tooBig);
  }
  const device = runtime().device(0);
  const { model, tokenizer } = await loadModel(device, req);
  let prompt: number[];
  try {
    if (req.check && parameterCount(model.config) > 50e6) throw new UsageError(tooBig);
    prompt = promptIds(req, tokenizer, model.config.vocabSize);
  } catch (e) {
    model.free();
    if (e instanceof UsageError) return usageError(e.message);
    throw e;
  }
  const maxContext = req.maxContext ?? prompt.length + req.tokens + 1;
  const engine = await LlamaEngine.create(device, model, { maxContext, kvCache: req.kvCache });
  try {
    if (req.trace) traceFirstDecodeStep(engine);
    const run = generate(engine, req, prompt, tokenizer);
    if (!req.check) return 0;
    return checkTokens(model, { ...req, prompt }, run, maxContext, engine) ? 0 : 1;
  } finally {
    engine.free();
    model.free();
  }
}

class UsageError extends Error {}

function usageError(msg: string): number {
  console.error(`generate: ${msg}\n${USAGE}`);
  return 2;
}

/** The prompt's token ids: the text tokenized, or the ids given (each inside the vocabulary). */
function promptIds(req: Request, tokenizer: Tokenizer | null, vocab: number): number[] {
  if (typeof req.prompt === "string") {
    if (!tokenizer) {
      throw new UsageError("the model has no vocabulary to tokenize --prompt with; give --prompt-ids");
    }
    const ids = tokenizer.encode(req.prompt);
    if (ids.length === 0) throw new UsageError("--prompt gives no tokens");
    return ids;
  }
  const bad = req.prompt.find((t) => t >= vocab);
  if (bad !== undefined) {
    throw new UsageError(`--prompt-ids: token ${bad} is outside the vocabulary (0..${vocab - 1})`);
  }
  return req.prompt;
}

/**
 * The model from the GGUF file or the preset, in device memory, with its tokenizer (the file's, or
 * the vocabulary synth.ts writes; null for a file without one); prints its size and load time.
 */
async function loadModel(
  device: Device,
  req: Request,
): Promise<{ model: GpuModel; tokenizer: Tokenizer | null }> {
  const t0 = performance.now();
  let model: GpuModel, tokenizer: Tokenizer | null = null;
  if (req.model) {
    const gguf = await openLlamaGguf(req.model);
    if (gguf.file.metadata["tokenizer.ggml.model"] !== undefined) tokenizer = Tokenizer.fromGguf(gguf.file);
    model = await uploadGguf(device, gguf, { dtype: req.dtype as "f32" | "f16" | undefined });
  } else {
    const overrides: Partial<LlamaConfig> = {};
    if (req.layers !== undefined) overrides.nLayers = req.layers;
    const config = presetConfig(req.preset as PresetName, overrides);
    model = gpuModel(device, config, req.seed, { dtype: req.dtype });
    tokenizer = new Tokenizer({ model: "llama", ...synthVocab(config.vocabSize), bos: 1, eos: 2 });
  }
  const params = parameterCount(model.config, { tiedOutput: model.tiedOutput }) / 1e6;
  console.log(
    `model: ${model.source}, ${params.toFixed(1)}M parameters, ${
      (model.weightBytes / 2 ** 20).toFixed(1)
    } MiB ` +
      `on ${runtime().backend} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`,
  );
  return { model, tokenizer };
}

/** Prints every op of the first decode step, with its arguments, as it runs. */
function traceFirstDecodeStep(engine: LlamaEngine): void {
  const off = engine.hooks.before({ phase: "decode" }, (op) => {
    const args = Object.entries(op.args).map(([k, v]) =>
      `${k}=${typeof v === "number" ? v : (v as { name?: string })?.name ?? String(v)}`
    );
    console.log(`  ${op.label} [${op.kind}${op.kernel ? ` ${op.kernel.name}` : ""}] ${args.join(" ")}`);
    if (op.name === "logits sync") off();
  });
}

/**
 * Prefill, then greedy decode until req.tokens tokens (or the end-of-sequence token, unless
 * --ignore-eos); prints the tokens, the text and the speeds. Keeps each step's logits when checking.
 */
function generate(
  engine: LlamaEngine,
  req: Request,
  prompt: number[],
  tokenizer: Tokenizer | null,
): { tokens: number[]; logits: Float32Array[] } {
  const n = req.tokens;
  const eos = req.ignoreEos ? undefined : tokenizer?.eos;
  const t1 = performance.now();
  let t = engine.prefill(prompt);
  const prefillMs = performance.now() - t1;
  const tokens = [t];
  const logits = [engine.logits()];
  const t2 = performance.now();
  while (tokens.length < n && t !== eos) {
    tokens.push(t = engine.decodeStep(t));
    if (req.check) logits.push(engine.logits());
  }
  const decodeS = (performance.now() - t2) / 1e3;
  console.log(`prompt: ${prompt.join(" ")}`);
  console.log(`tokens: ${tokens.join(" ")}${t === eos ? " (end of sequence)" : ""}`);
  if (tokenizer) console.log(`text: ${JSON.stringify(tokenizer.decode(prompt) + tokenizer.decode(tokens))}`);
  const steps = tokens.length - 1;
  console.log(
    `prefill ${prompt.length} tokens: ${prefillMs.toFixed(1)} ms; decode ${steps} tokens: ` +
      `${steps > 0 ? (steps / decodeS).toFixed(1) : "-"} tokens/s`,
  );
  return { tokens, logits };
}

/** The tokens against the float64 reference: equal, or a tie in the reference's top two. */
function checkTokens(
  model: GpuModel,
  req: Request & { prompt: number[] },
  run: { tokens: number[] },
  maxContext: number,
  engine: LlamaEngine,
): boolean {
  const ref = ReferenceForward.fromGpuModel(model, { maxContext, numerics: engine.numerics });
  const want = ref.generate(req.prompt, req.tokens);
  let ok = true;
  for (let i = 0; i < req.tokens; i++) {
    if (run.tokens[i] === want.tokens[i]) continue;
    const top = topTwo(want.logits[i]);
    const tie = top.relMargin < 1e-4;
    console.log(
      `token ${i}: engine ${run.tokens[i]}, reference ${want.tokens[i]}${tie ? " (tie)" : ""}, ` +
        `reference rel margin ${top.relMargin.toExponential(2)}`,
    );
    ok = tie;
    break;
  }
  console.log(ok ? `check: ${req.tokens} tokens agree with the float64 reference` : "check: MISMATCH");
  return ok;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
