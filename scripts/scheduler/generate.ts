/**
 * Greedy generation through the block scheduler, from a GGUF file or a random-weight model built in
 * device memory; optionally checked token for token against the float64 reference.
 *
 *   deno run -A scripts/scheduler/generate.ts --preset tiny --seed 11 --tokens 24 --check
 *   deno run -A scripts/scheduler/generate.ts --model models/tiny.gguf --prompt 1,72,101 --trace
 *   deno run -A scripts/scheduler/generate.ts --preset llama2-7b --dtype f16 --tokens 64   # on a GPU
 */
import { parseArgs } from "node:util";
import { runtime } from "../../mod.ts";
import { isPresetName, type LlamaConfig, parameterCount, presetConfig, PRESETS } from "../model/config.ts";
import { openLlamaGguf } from "../model/gguf.ts";
import { type GpuModel, gpuModel, uploadGguf } from "../model/gpu_model.ts";
import { ReferenceForward, topTwo } from "../model/reference_forward.ts";
import { LlamaEngine } from "./engine.ts";

const USAGE =
  `usage: deno run -A scripts/scheduler/generate.ts (--model PATH | --preset NAME [--layers N] [--seed N])
  [--dtype f32|f16] [--prompt 1,2,3] [--tokens N] [--max-context N] [--check] [--trace]
  --check: compare with the float64 reference forward pass (small models only)
  --trace: print every op of the first decode step as it runs`;

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
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
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const fail = (msg: string) => {
    console.error(`generate: ${msg}\n${USAGE}`);
    return 2;
  };
  if (!values.model === !values.preset) return fail("give exactly one of --model and --preset");
  if (values.dtype !== undefined && values.dtype !== "f32" && values.dtype !== "f16") {
    return fail("--dtype must be f32 or f16");
  }
  const dtype = values.dtype as "f32" | "f16" | undefined;
  const prompt = values.prompt.split(",").map((s) => Number(s.trim()));
  if (prompt.some((t) => !Number.isInteger(t) || t < 0)) return fail(`bad --prompt ${values.prompt}`);
  const n = Number(values.tokens);
  if (!Number.isInteger(n) || n <= 0) return fail(`bad --tokens ${values.tokens}`);

  const device = runtime().device(0);
  const t0 = performance.now();
  let model: GpuModel;
  if (values.model) {
    model = await uploadGguf(device, await openLlamaGguf(values.model), { dtype });
  } else {
    if (!isPresetName(values.preset!)) {
      return fail(`unknown preset ${values.preset} (${Object.keys(PRESETS).join(", ")})`);
    }
    const overrides: Partial<LlamaConfig> = {};
    if (values.layers !== undefined) overrides.nLayers = Number(values.layers);
    model = gpuModel(device, presetConfig(values.preset, overrides), Number(values.seed), { dtype });
  }
  const c = model.config;
  console.log(
    `model: ${model.source}, ${
      (parameterCount(c, { tiedOutput: model.tiedOutput }) / 1e6).toFixed(1)
    }M parameters, ` +
      `${(model.weightBytes / 2 ** 20).toFixed(1)} MiB on ${runtime().backend} (${
        ((performance.now() - t0) / 1e3).toFixed(1)
      } s)`,
  );
  const maxContext = Number(values["max-context"] ?? prompt.length + n + 1);
  const engine = await LlamaEngine.create(device, model, { maxContext });
  try {
    if (values.trace) {
      const off = engine.hooks.before({ phase: "decode" }, (op) => {
        const args = Object.entries(op.args).map(([k, v]) =>
          `${k}=${typeof v === "number" ? v : (v as { name?: string })?.name ?? String(v)}`
        );
        console.log(`  ${op.label} [${op.kind}${op.kernel ? ` ${op.kernel.name}` : ""}] ${args.join(" ")}`);
        if (op.name === "logits sync") off(); // the first decode step only
      });
    }
    const t1 = performance.now();
    let t = engine.prefill(prompt);
    const prefillMs = performance.now() - t1;
    const tokens = [t];
    const logits = [engine.logits()];
    const t2 = performance.now();
    while (tokens.length < n) {
      tokens.push(t = engine.decodeStep(t));
      if (values.check) logits.push(engine.logits());
    }
    const decodeS = (performance.now() - t2) / 1e3;
    console.log(`tokens: ${tokens.join(" ")}`);
    console.log(
      `prefill ${prompt.length} tokens: ${prefillMs.toFixed(1)} ms; decode ${n - 1} tokens: ${
        ((n - 1) / decodeS).toFixed(1)
      } tokens/s`,
    );
    if (values.check) {
      if (parameterCount(c) > 50e6) {
        return fail("--check is for small models (the reference runs on the host)");
      }
      const ref = ReferenceForward.fromGpuModel(model, { maxContext });
      const want = ref.generate(prompt, n);
      let ok = true;
      for (let i = 0; i < n; i++) {
        const top = topTwo(want.logits[i]);
        if (tokens[i] !== want.tokens[i]) {
          const tie = top.relMargin < 1e-4;
          console.log(
            `token ${i}: engine ${tokens[i]}, reference ${want.tokens[i]}${tie ? " (tie)" : ""}, ` +
              `reference rel margin ${top.relMargin.toExponential(2)}`,
          );
          ok = tie;
          break;
        }
      }
      console.log(ok ? `check: ${n} tokens agree with the float64 reference` : "check: MISMATCH");
      if (!ok) return 1;
    }
    return 0;
  } finally {
    engine.free();
    model.free();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
