/**
 * Text in, text out: `deno task generate --model M.gguf --prompt "..."` tokenizes the prompt with the
 * file's vocabulary, generates, prints the text and agrees with the float64 reference (--check); the
 * engine's logits for a tokenized prompt match the reference's; bad requests are usage errors
 * (exit 2, one message; a model already loaded is freed).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { presetConfig } from "../../../scripts/model/config.ts";
import { openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { ReferenceForward } from "../../../scripts/model/reference_forward.ts";
import { synthGguf } from "../../../scripts/model/synth.ts";
import { Tokenizer } from "../../../scripts/model/tokenizer.ts";
import { main } from "../../../scripts/scheduler/generate.ts";
import { UsageError } from "../../../scripts/cli/flags.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { compareDecode } from "../../helpers/decode_compare.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";

const dir = await Deno.makeTempDir({ prefix: "faultline-generate-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
// Q8_0 where rows are whole blocks (dim 64), f16 elsewhere (ffn rows of 172): a mixed file, as real ones
const CONFIG = presetConfig("tiny", { vocabSize: 512 });
const MODEL = join(dir, "tiny-q8.gguf");
await synthGguf(MODEL, CONFIG, { seed: 31, dtype: "q8_0" });

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("\n") };
  } catch (e) {
    // what runCli prints and exits with for a usage error (the child-process tests check that path)
    if (!(e instanceof UsageError)) throw e;
    return { code: 2, out: out.join("\n"), err: e.message };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

Deno.test(
  { name: "generate: a text prompt in, its text and the generated text out, checked", ...ffiTest },
  async () => {
    const r = await run(["--model", MODEL, "--prompt", "hello world", "--tokens", "8", "--check"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^text: "hello world/m);
    assert.match(r.out, /check: 8 tokens agree with the float64 reference/);
    const tok = Tokenizer.fromGguf((await openLlamaGguf(MODEL)).file);
    const prompt = r.out.match(/^prompt: (.*)$/m)![1].split(" ").map(Number);
    assert.deepEqual(prompt, tok.encode("hello world"));
  },
);

Deno.test(
  { name: "generate: the engine's logits for a tokenized prompt match the reference", ...ffiTest },
  async () => {
    const gguf = await openLlamaGguf(MODEL);
    const prompt = Tokenizer.fromGguf(gguf.file).encode("the quick brown fox, 1234 é");
    using engine = await LlamaEngine.create(testDevice(), gguf, { maxContext: 64 });
    const ref = await ReferenceForward.fromGguf(gguf, { maxContext: 64 });
    const c = compareDecode("tokenized prompt", engine, ref, prompt, 12);
    assert.equal(c.matched, 12);
    assert.ok(c.maxLogitErr < 1e-3, `logits error ${c.maxLogitErr}`);
  },
);

Deno.test({ name: "generate: bad requests are usage errors", ...ffiTest }, async () => {
  const cases: [string[], RegExp][] = [
    [["--model", MODEL, "--prompt", "a", "--prompt-ids", "1"], /at most one of --prompt and --prompt-ids/],
    [["--model", MODEL, "--kv-cache", "f8"], /--kv-cache must be one of f16, f32, got "f8"/],
    [["--model", MODEL, "--dtype", "q4_k"], /--dtype must be one of f32, f16 for a GGUF model/],
    [
      ["--preset", "tiny", "--dtype", "q5_0"],
      /--dtype must be one of f32, f16, q8_0, q4_0, q4_k, got "q5_0"/,
    ],
    [["--model", MODEL, "--prompt-ids", "1,512"], /token 512 is outside the vocabulary \(0\.\.511\)/],
    [
      ["--model", MODEL, "--prompt-ids", "1,x"],
      /--prompt-ids must be token ids \(integers >= 0\) separated by commas, got 1,x/,
    ],
  ];
  for (const [args, want] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}`);
    assert.match(r.err, want);
  }
});
