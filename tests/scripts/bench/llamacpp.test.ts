/**
 * The llamacpp bench section against a stand-in llama-bench (a script printing llama-bench's JSON for
 * the arguments it gets): faultline's rows for each type come from the same GGUF file the stand-in is
 * handed, llama.cpp's tokens/s and faultline's ratio over them are paired by prompt, generation and
 * depth, a llama-bench without the depth option is run again without it (its depth rows say "not
 * measured"), a failing one is an error with its output, and no path skips the section.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runtime } from "../../../mod.ts";
import type { BenchContext, BenchRow } from "../../../scripts/bench/main.ts";
import { parseLlamaBench, sections } from "../../../scripts/bench/llamacpp_bench.ts";
import { ffiTest } from "../../helpers/env.ts";

const dir = await Deno.makeTempDir({ prefix: "faultline-llamacpp-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** A stand-in llama-bench: 1000 tokens/s for prompts, 100 for generation; `depth` says whether it knows -d. */
async function fakeLlamaBench(name: string, depth: boolean, fail = false): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(
    path,
    `#!/usr/bin/env bash
model=""; prompts=""; gen=""; depths="0"
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model=$2; shift ;;
    -p) prompts=$2; shift ;;
    -n) gen=$2; shift ;;
    -d) ${depth ? "depths=$2; shift" : 'echo "error: invalid parameter for argument: -d" >&2; exit 1'} ;;
  esac
  shift
done
${fail ? 'echo "CUDA error: out of memory" >&2; exit 1' : ""}
[ -f "$model" ] || { echo "no model $model" >&2; exit 1; }
echo "log line before the JSON"
echo "["; sep=""
for d in \${depths//,/ }; do
  for p in \${prompts//,/ }; do echo "$sep{\\"n_prompt\\": $p, \\"n_gen\\": 0, \\"n_depth\\": $d, \\"avg_ts\\": 1000}"; sep=","; done
  echo "$sep{\\"n_prompt\\": 0, \\"n_gen\\": $gen, \\"n_depth\\": $d, \\"avg_ts\\": 100}"
done
echo "]"
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

async function runSection(bin: string | undefined, dtypes = "f16,q8_0,q4_k"): Promise<BenchRow[]> {
  const rt = runtime();
  const ctx: BenchContext = { runtime: rt, device: rt.device(0), quick: true, llamaBench: bin };
  Deno.env.set("FAULTLINE_BENCH_MODELS", dir);
  Deno.env.set("FAULTLINE_BENCH_DTYPES", dtypes);
  try {
    return await sections[0].run(ctx);
  } finally {
    Deno.env.delete("FAULTLINE_BENCH_MODELS");
    Deno.env.delete("FAULTLINE_BENCH_DTYPES");
  }
}

Deno.test(
  { name: "llamacpp bench: faultline and llama-bench on the same files, paired", ...ffiTest },
  async () => {
    const rows = await runSection(await fakeLlamaBench("llama-bench", true), "f16,q4_k");
    const get = (m: string) => rows.find((r) => r.metric === m);
    for (const dtype of ["f16", "q4_k"]) {
      const ours = get(`decode faultline ${dtype} depth 0`)!;
      assert.ok(ours.value > 0, `${dtype}: ${JSON.stringify(ours)}`);
      assert.equal(get(`llama.cpp decode ${dtype} depth 0`)!.value, 100);
      assert.equal(get(`faultline / llama.cpp decode ${dtype} depth 0`)!.value, ours.value / 100);
      const pp = get(`prefill faultline ${dtype} 32`)!; // sim: prompts of 16 and 32, depths 0 and 32
      assert.equal(get(`faultline / llama.cpp prefill ${dtype} 32`)!.value, pp.value / 1000);
      assert.ok(get(`decode faultline ${dtype} depth 32 / floor`)!.value > 0);
      assert.equal(get(`llama.cpp decode ${dtype} depth 32`)!.value, 100);
    }
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".gguf")), [], "files deleted");
  },
);

Deno.test(
  { name: "llamacpp bench: without -d, again without it; failures and no path", ...ffiTest },
  async () => {
    const rows = await runSection(await fakeLlamaBench("old-llama-bench", false), "q4_k");
    const deep = rows.find((r) => r.metric === "llama.cpp decode q4_k depth 32")!;
    assert.ok(Number.isNaN(deep.value) && deep.note === "not measured", JSON.stringify(deep));
    assert.equal(rows.find((r) => r.metric === "llama.cpp decode q4_k depth 0")!.value, 100);
    await assert.rejects(() => runSection(join(dir, "missing")), /llama-bench .*missing: No such file/);
    const broken = await fakeLlamaBench("broken", true, true);
    await assert.rejects(() => runSection(broken, "q8_0"), /CUDA error: out of memory/);
    await assert.rejects(() => runSection(broken, "q5_1"), /FAULTLINE_BENCH_DTYPES: q5_1/);
    assert.deepEqual(await runSection(undefined), []);
  },
);

Deno.test("llamacpp bench: llama-bench's JSON read past its log lines", () => {
  assert.deepEqual(parseLlamaBench('build: x\n[{"n_prompt": 512, "n_gen": 0, "avg_ts": 1.5}]'), [
    { nPrompt: 512, nGen: 0, nDepth: 0, tokensPerSecond: 1.5 },
  ]);
  assert.throws(() => parseLlamaBench("no json"), /printed no JSON array/);
});
