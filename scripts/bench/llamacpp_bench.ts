/**
 * "llamacpp": faultline and llama.cpp on the same GGUF files, in one run. Runs when llama.cpp's
 * llama-bench is given (`deno task bench --llama-bench PATH`, or $FAULTLINE_LLAMA_BENCH); llama.cpp is
 * never part of this repository.
 *
 * For f16, Q8_0 and Q4_K: synth writes a Llama-2-7B-shaped file (random weights, the fast rotated
 * fill) into $FAULTLINE_BENCH_MODELS (default /dev/shm when it has room, else a temporary folder);
 * faultline loads it and measures decode at depth 0 and 2048 and prefill at 512 and 2048
 * (engine_measure.ts); right after, llama-bench runs on the same file
 * (`-p 512,2048 -n 128 -ngl 99 -r $FAULTLINE_LLAMA_BENCH_REPS (3) -o json -fa 1 -d 0,2048`; without -d,
 * then -fa, when that llama-bench refuses them), and the rows give both tokens/s and faultline's over
 * llama.cpp's. The file is deleted after.
 */
import { join } from "node:path";
import { parameterCount } from "../model/config.ts";
import { openLlamaGguf } from "../model/gguf.ts";
import { uploadGguf, type WeightDtype } from "../model/gpu_model.ts";
import { type SynthDtype, synthGguf } from "../model/synth.ts";
import { benchDtypes, engineRows, engineShape, shapeNote } from "./engine_bench.ts";
import { type DecodeResult, measureEngine, type PrefillResult } from "./engine_measure.ts";
import { copyBandwidth } from "./workload_bench.ts";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

const SECTION = "llamacpp";
const BYTES_PER_WEIGHT: Record<string, number> = { f16: 2, q8_0: 34 / 32, q4_k: 144 / 256 };

/** One llama-bench result: tokens/s of a prompt of n_prompt or n_gen generated tokens at n_depth. */
export interface LlamaBenchResult {
  nPrompt: number;
  nGen: number;
  nDepth: number;
  tokensPerSecond: number;
}

/** llama-bench's `-o json` output (stdout; anything before the array is skipped). */
export function parseLlamaBench(stdout: string): LlamaBenchResult[] {
  const at = stdout.indexOf("[");
  if (at < 0) throw new Error(`llama-bench printed no JSON array: ${stdout.slice(0, 200)}`);
  const rows = JSON.parse(stdout.slice(at)) as Record<string, unknown>[];
  return rows.map((r) => ({
    nPrompt: Number(r.n_prompt ?? 0),
    nGen: Number(r.n_gen ?? 0),
    nDepth: Number(r.n_depth ?? 0),
    tokensPerSecond: Number(r.avg_ts),
  }));
}

async function runLlamaBench(
  bin: string,
  model: string,
  args: string[],
): Promise<{ ok: boolean; out: string }> {
  const p = await new Deno.Command(bin, { args: ["-m", model, ...args], stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { ok: p.success, out: p.success ? dec.decode(p.stdout) : dec.decode(p.stderr).slice(-2000) };
}

/**
 * llama-bench on `model` for the prompts and depths of the faultline run: with flash attention and the
 * depths; a llama-bench that refuses those options is run again without -d, then without -fa too.
 */
async function llamaBench(bin: string, model: string, prefill: number[], depths: number[], steps: number) {
  const reps = Deno.env.get("FAULTLINE_LLAMA_BENCH_REPS") ?? "3";
  const base = ["-p", prefill.join(","), "-n", String(steps), "-ngl", "99", "-r", reps, "-o", "json"];
  const attempts: [string[], string][] = [
    [[...base, "-fa", "1", "-d", depths.join(",")], "-fa 1 -d"],
    [[...base, "-fa", "1"], "-fa 1, no -d"],
    [base, "no -fa, no -d"],
  ];
  let last = "";
  for (const [args, options] of attempts) {
    const r = await runLlamaBench(bin, model, args);
    if (r.ok) return { results: parseLlamaBench(r.out), withDepth: args.includes("-d"), options };
    last = r.out;
    if (!/invalid|unknown|unrecognized|error: .*(-d|-fa)/i.test(r.out)) break; // not an option it lacks
  }
  throw new Error(`${bin} failed: ${last}`);
}

/** Where the benchmark's GGUF files go: $FAULTLINE_BENCH_MODELS, /dev/shm with room, or a temporary folder. */
async function modelDir(bytes: number): Promise<{ dir: string; remove: boolean }> {
  const given = Deno.env.get("FAULTLINE_BENCH_MODELS");
  if (given) return { dir: given, remove: false };
  try {
    const probe = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "faultline-bench-" });
    const df = await new Deno.Command("df", { args: ["-B1", "--output=avail", probe], stdout: "piped" })
      .output();
    const avail = Number(new TextDecoder().decode(df.stdout).trim().split("\n").pop());
    if (avail > 1.2 * bytes) return { dir: probe, remove: true };
    await Deno.remove(probe);
  } catch { /* no /dev/shm */ }
  return { dir: await Deno.makeTempDir({ prefix: "faultline-bench-" }), remove: true };
}

function comparisonRows(
  dtype: WeightDtype,
  fl: { prefill: PrefillResult[]; decode: DecodeResult[] },
  cpp: { results: LlamaBenchResult[]; withDepth: boolean; options: string },
  steps: number,
): BenchRow[] {
  const rows: BenchRow[] = [];
  const pair = (what: string, ours: number, theirs: LlamaBenchResult | undefined) => {
    if (!theirs) {
      rows.push({
        section: SECTION,
        metric: `llama.cpp ${what}`,
        value: NaN,
        unit: "tokens/s",
        note: "not measured",
      });
      return;
    }
    rows.push({
      section: SECTION,
      metric: `llama.cpp ${what}`,
      value: theirs.tokensPerSecond,
      unit: "tokens/s",
    });
    rows.push({
      section: SECTION,
      metric: `faultline / llama.cpp ${what}`,
      value: ours / theirs.tokensPerSecond,
      unit: "ratio",
      note: `faultline ${ours.toFixed(1)} tokens/s`,
    });
  };
  for (const d of fl.decode) {
    const t = cpp.results.find((r) => r.nGen === steps && r.nPrompt === 0 && r.nDepth === d.depth);
    pair(
      `decode ${dtype} depth ${d.depth}`,
      d.tokensPerSecond,
      d.depth > 0 && !cpp.withDepth ? undefined : t,
    );
  }
  for (const p of fl.prefill) {
    const t = cpp.results.find((r) => r.nPrompt === p.tokens && r.nGen === 0 && r.nDepth === 0);
    pair(`prefill ${dtype} ${p.tokens}`, p.tokensPerSecond, t);
  }
  return rows;
}

async function oneType(ctx: BenchContext, bin: string, dtype: WeightDtype, bw: number): Promise<BenchRow[]> {
  const shape = engineShape(ctx);
  const fileBytes = parameterCount(shape.config) * BYTES_PER_WEIGHT[dtype];
  const where = await modelDir(fileBytes);
  const path = join(where.dir, `llama2-7b-${dtype}.gguf`);
  try {
    const t0 = performance.now();
    await synthGguf(path, shape.config, { seed: 1, dtype: dtype as SynthDtype, fill: "rotated" });
    const written = (performance.now() - t0) / 1e3;
    const gguf = await openLlamaGguf(path);
    const fl = await (async () => {
      using model = await uploadGguf(ctx.device, gguf);
      return await measureEngine(ctx.device, model, { ...shape, copyBandwidth: bw });
    })();
    const cpp = await llamaBench(bin, path, shape.prefill, shape.depths, shape.steps);
    const note = `${shapeNote(shape.config)}, ${dtype}, from ${path} (written in ${written.toFixed(1)} s)`;
    return [
      ...engineRows(SECTION, `faultline ${dtype}`, fl, note),
      ...comparisonRows(dtype, fl, cpp, shape.steps),
    ];
  } finally {
    await Deno.remove(where.remove ? where.dir : path, { recursive: true }).catch(() => {});
  }
}

async function llamacppSection(ctx: BenchContext): Promise<BenchRow[]> {
  const bin = ctx.llamaBench ?? Deno.env.get("FAULTLINE_LLAMA_BENCH");
  if (!bin) {
    console.error("bench: llamacpp skipped (give --llama-bench PATH or FAULTLINE_LLAMA_BENCH)");
    return [];
  }
  try {
    if (!Deno.statSync(bin).isFile) throw new Error("not a file");
  } catch (e) {
    throw new Error(`llama-bench ${bin}: ${(e as Error).message}`);
  }
  const shape = engineShape(ctx);
  const bw = copyBandwidth(ctx.device, shape.copyBytes, 20, 7);
  const rows: BenchRow[] = [{
    section: SECTION,
    metric: "D2D copy",
    value: bw / 1e9,
    unit: "GB/s",
    note: bin,
  }];
  for (const dtype of benchDtypes()) rows.push(...await oneType(ctx, bin, dtype, bw));
  return rows;
}

export const sections: BenchSection[] = [{ name: SECTION, run: llamacppSection }];
