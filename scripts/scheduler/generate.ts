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
import { type Device, runtime } from "../../mod.ts";
import { choiceFlag, type CliArgs, fileFlag, intFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
import { type LlamaConfig, parameterCount, presetConfig, type PresetName, PRESETS } from "../model/config.ts";
import { type LlamaGguf, openLlamaGguf } from "../model/gguf.ts";
import { GgufError } from "../model/gguf_error.ts";
import { type GpuModel, gpuModel, uploadGguf, type WeightDtype } from "../model/gpu_model.ts";
import { ReferenceForward, topTwo } from "../model/reference_forward.ts";
import { SYNTH_DTYPES } from "../model/synth.ts";
import { synthVocab } from "../model/synth_vocab.ts";
import { Tokenizer } from "../model/tokenizer.ts";
import { LlamaEngine } from "./engine.ts";
import type { KvCacheType } from "./kernel_choice.ts";

const CLI = {
  name: "generate",
  usage:
    `usage: deno run -A scripts/scheduler/generate.ts (--model PATH | --preset NAME [--layers N] [--seed N])
  [--prompt TEXT | --prompt-ids 1,2,3] [--tokens N] [--dtype T] [--kv-cache f16|f32] [--max-context N]
  [--ignore-eos] [--check] [--trace]
  --prompt: text, tokenized with the model's vocabulary (default "Hello"); --prompt-ids: token ids
  --dtype: a GGUF model's 2-D weights converted to f32 or f16; a preset's random weights as f32, f16,
           q8_0, q4_0 or q4_k
  --ignore-eos: keep generating past the end-of-sequence token
  --check: compare with the float64 reference forward pass (small models only; implies --ignore-eos)
  --trace: print every op of the first decode step as it runs`,
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
  },
} as const;

/** The reference runs on the host: --check is for models up to this many parameters. */
const CHECK_MAX_PARAMS = 50e6;
const TOO_BIG = "--check is for small models (the reference runs on the host)";

interface Request {
  model?: string;
  preset?: PresetName;
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

/** The prompt flags: text (default "Hello"), or token ids (integers >= 0, comma-separated). */
function promptOf(values: CliArgs<typeof CLI.options>["values"]): string | number[] {
  if (values.prompt !== undefined && values["prompt-ids"] !== undefined) {
    throw new UsageError("give at most one of --prompt and --prompt-ids");
  }
  const ids = values["prompt-ids"];
  if (ids === undefined) return values.prompt ?? "Hello";
  const prompt = ids.split(",").map((s) => s.trim() === "" ? NaN : Number(s));
  if (prompt.some((t) => !Number.isInteger(t) || t < 0)) {
    throw new UsageError(`--prompt-ids must be token ids (integers >= 0) separated by commas, got ${ids}`);
  }
  return prompt;
}

/** The command line as a request (a UsageError says what is wrong with it). */
function parseRequest(args: string[]): Request {
  const { values } = parseCli(CLI, args);
  if (!values.model === !values.preset) throw new UsageError("give exactly one of --model and --preset");
  const preset = choiceFlag(values.preset, "preset", Object.keys(PRESETS) as PresetName[]);
  const dtypes = (values.model ? ["f32", "f16"] : SYNTH_DTYPES) as readonly WeightDtype[];
  if (values.model && values.dtype !== undefined && !dtypes.includes(values.dtype as WeightDtype)) {
    throw new UsageError(
      `--dtype must be one of ${dtypes.join(", ")} for a GGUF model, got "${values.dtype}"`,
    );
  }
  const req: Request = {
    model: fileFlag(values.model, "model"),
    preset,
    layers: intFlag(values.layers, "layers", { positive: true }),
    seed: intFlag(values.seed, "seed", { min: 0, max: 2 ** 53 - 1 })!,
    dtype: choiceFlag(values.dtype, "dtype", dtypes),
    kvCache: choiceFlag(values["kv-cache"], "kv-cache", ["f16", "f32"] as const)!,
    prompt: promptOf(values),
    tokens: intFlag(values.tokens, "tokens", { positive: true })!,
    maxContext: intFlag(values["max-context"], "max-context", { positive: true }),
    ignoreEos: values["ignore-eos"] || values.check,
    check: values.check,
    trace: values.trace,
  };
  if (req.check && preset !== undefined && parameterCount(presetConfig(preset)) > CHECK_MAX_PARAMS) {
    throw new UsageError(TOO_BIG);
  }
  return req;
}

export async function main(args: string[]): Promise<number> {
  const req = parseRequest(args);
  const gguf = req.model ? await openModel(req.model) : null; // a bad file is refused before the device opens
  const device = runtime().device(0);
  const { model, tokenizer } = await loadModel(device, req, gguf);
  let prompt: number[];
  try {
    if (req.check && parameterCount(model.config) > CHECK_MAX_PARAMS) throw new UsageError(TOO_BIG);
    prompt = promptIds(req, tokenizer, model.config.vocabSize);
    if (req.maxContext !== undefined && req.maxContext < prompt.length + req.tokens) {
      throw new UsageError(
        `--max-context ${req.maxContext} holds fewer than the prompt and --tokens (${
          prompt.length + req.tokens
        })`,
      );
    }
  } catch (e) {
    model.free();
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

/** The GGUF file's llama model; a file faultline refuses (GgufError) is a usage error naming what is wrong. */
async function openModel(path: string): Promise<LlamaGguf> {
  try {
    return await openLlamaGguf(path);
  } catch (e) {
    if (e instanceof GgufError) throw new UsageError(`--model: ${e.message}`);
    throw e;
  }
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
 * The model from the opened GGUF file or the preset, in device memory, with its tokenizer (the file's, or
 * the vocabulary synth.ts writes; null for a file without one); prints its size and load time.
 */
async function loadModel(
  device: Device,
  req: Request,
  gguf: LlamaGguf | null,
): Promise<{ model: GpuModel; tokenizer: Tokenizer | null }> {
  const t0 = performance.now();
  let model: GpuModel, tokenizer: Tokenizer | null = null;
  if (gguf) {
    if (gguf.file.metadata["tokenizer.ggml.model"] !== undefined) tokenizer = Tokenizer.fromGguf(gguf.file);
    model = await uploadGguf(device, gguf, { dtype: req.dtype as "f32" | "f16" | undefined });
  } else {
    const overrides: Partial<LlamaConfig> = {};
    if (req.layers !== undefined) overrides.nLayers = req.layers;
    const config = presetConfig(req.preset!, overrides);
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

if (import.meta.main) await runCli(CLI, main);
