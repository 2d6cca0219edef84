/**
 * Greedy generation through the block scheduler, from a GGUF file or a random-weight model built in
 * device memory; optionally checked token for token against the float64 reference.
 *
 *   deno run -A scripts/scheduler/generate.ts --preset tiny --seed 11 --tokens 24 --check
 *   deno run -A scripts/scheduler/generate.ts --model models/tiny.gguf --prompt 1,72,101 --trace
 *   deno run -A scripts/scheduler/generate.ts --preset llama2-7b --dtype f16 --tokens 64   # on a GPU
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
import { type GpuModel, gpuModel, uploadGguf } from "../model/gpu_model.ts";
import { ReferenceForward, topTwo } from "../model/reference_forward.ts";
import { LlamaEngine } from "./engine.ts";

const USAGE =
  `usage: deno run -A scripts/scheduler/generate.ts (--model PATH | --preset NAME [--layers N] [--seed N])
  [--dtype f32|f16] [--prompt 1,2,3] [--tokens N] [--max-context N] [--check] [--trace]
  --check: compare with the float64 reference forward pass (small models only)
  --trace: print every op of the first decode step as it runs`;

interface Request {
  model?: string;
  preset?: string;
  layers?: number;
  seed: number;
  dtype?: "f32" | "f16";
  prompt: number[];
  tokens: number;
  maxContext?: number;
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
        prompt: { type: "string", default: "1,72,101,108,108,111" },
        tokens: { type: "string", default: "16" },
        "max-context": { type: "string" },
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
  if (values.dtype !== undefined && values.dtype !== "f32" && values.dtype !== "f16") {
    return { error: "--dtype must be f32 or f16" };
  }
  if (values.preset !== undefined && !isPresetName(values.preset)) {
    return { error: `unknown preset ${values.preset} (${Object.keys(PRESETS).join(", ")})` };
  }
  const prompt = values.prompt.split(",").map((s) => Number(s.trim()));
  if (prompt.some((t) => !Number.isInteger(t) || t < 0)) return { error: `bad --prompt ${values.prompt}` };
  const tokens = Number(values.tokens);
  if (!Number.isInteger(tokens) || tokens <= 0) return { error: `bad --tokens ${values.tokens}` };
  return {
    model: values.model,
    preset: values.preset,
    layers: values.layers === undefined ? undefined : Number(values.layers),
    seed: Number(values.seed),
    dtype: values.dtype as "f32" | "f16" | undefined,
    prompt,
    tokens,
    maxContext: values["max-context"] === undefined ? undefined : Number(values["max-context"]),
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
  if (
    req.check && req.preset !== undefined && parameterCount(presetConfig(req.preset as PresetName)) > 50e6
  ) {
    return usageError("--check is for small models (the reference runs on the host)");
  }
  const device = runtime().device(0);
  const model = await loadModel(device, req);
  if (req.check && parameterCount(model.config) > 50e6) {
    model.free();
    return usageError("--check is for small models (the reference runs on the host)");
  }
  const maxContext = req.maxContext ?? req.prompt.length + req.tokens + 1;
  const engine = await LlamaEngine.create(device, model, { maxContext });
  try {
    if (req.trace) traceFirstDecodeStep(engine);
    const run = generate(engine, req);
    if (!req.check) return 0;
    if (parameterCount(model.config) > 50e6) {
      return usageError("--check is for small models (the reference runs on the host)");
    }
    return checkTokens(model, req, run, maxContext) ? 0 : 1;
  } finally {
    engine.free();
    model.free();
  }
}

function usageError(msg: string): number {
  console.error(`generate: ${msg}\n${USAGE}`);
  return 2;
}

/** The model from the GGUF file or the preset, in device memory; prints its size and load time. */
async function loadModel(device: Device, req: Request): Promise<GpuModel> {
  const t0 = performance.now();
  let model: GpuModel;
  if (req.model) model = await uploadGguf(device, await openLlamaGguf(req.model), { dtype: req.dtype });
  else {
    const overrides: Partial<LlamaConfig> = {};
    if (req.layers !== undefined) overrides.nLayers = req.layers;
    model = gpuModel(device, presetConfig(req.preset as PresetName, overrides), req.seed, {
      dtype: req.dtype,
    });
  }
  const params = parameterCount(model.config, { tiedOutput: model.tiedOutput }) / 1e6;
  console.log(
    `model: ${model.source}, ${params.toFixed(1)}M parameters, ${
      (model.weightBytes / 2 ** 20).toFixed(1)
    } MiB ` +
      `on ${runtime().backend} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`,
  );
  return model;
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

/** Prefill, then greedy decode; prints the tokens and the speeds. Keeps each step's logits when checking. */
function generate(engine: LlamaEngine, req: Request): { tokens: number[]; logits: Float32Array[] } {
  const n = req.tokens;
  const t1 = performance.now();
  let t = engine.prefill(req.prompt);
  const prefillMs = performance.now() - t1;
  const tokens = [t];
  const logits = [engine.logits()];
  const t2 = performance.now();
  while (tokens.length < n) {
    tokens.push(t = engine.decodeStep(t));
    if (req.check) logits.push(engine.logits());
  }
  const decodeS = (performance.now() - t2) / 1e3;
  console.log(`tokens: ${tokens.join(" ")}`);
  console.log(
    `prefill ${req.prompt.length} tokens: ${prefillMs.toFixed(1)} ms; decode ${n - 1} tokens: ` +
      `${((n - 1) / decodeS).toFixed(1)} tokens/s`,
  );
  return { tokens, logits };
}

/** The tokens against the float64 reference: equal, or a tie in the reference's top two. */
function checkTokens(
  model: GpuModel,
  req: Request,
  run: { tokens: number[] },
  maxContext: number,
): boolean {
  const want = ReferenceForward.fromGpuModel(model, { maxContext }).generate(req.prompt, req.tokens);
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
