/**
 * Reading GGUF headers: a 48 MB header (a tokenizer of 2.8 million tokens, the
 * size that took the previous parser 44 s) and a llama3-8b-shaped model's
 * header, from files written for the bench; the time to refuse a small file
 * whose header claims 2^40 array elements.
 */
import { join } from "node:path";
import { GgmlType, GgufFile, openLlamaGguf } from "../model/gguf.ts";
import { meta, writeGguf } from "../model/gguf_write.ts";
import { GgufValueType } from "../model/gguf_types.ts";
import { presetConfig } from "../model/config.ts";
import { synthGguf } from "../model/synth.ts";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

/** The median wall time of `reps` calls, in ms. */
async function timed(reps: number, f: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[ms.length >> 1];
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "faultline-bench-gguf-" });
  const reps = ctx.quick ? 1 : 3;
  try {
    const tokens = Array.from({ length: 2_800_000 }, (_, i) => `tok${i}`);
    const big = join(dir, "tokens.gguf");
    await writeGguf(big, {
      metadata: [["general.architecture", meta.str("test")], [
        "tokenizer.ggml.tokens",
        meta.arr(GgufValueType.STRING, tokens),
      ]],
      tensors: [{ name: "x", shape: [4], type: GgmlType.F32, data: new Float32Array(4) }],
    });
    const header = (await Deno.stat(big)).size;
    const l3 = join(dir, "llama3.gguf");
    await synthGguf(l3, presetConfig("llama3-8b", { nLayers: 2 }), { dtype: "f16", noData: true });
    const bad = join(dir, "claims.gguf");
    await writeGguf(bad, { metadata: [["big", meta.arr(GgufValueType.UINT8, [1, 2, 3])]], tensors: [] });
    const b = await Deno.readFile(bad);
    b.set(new Uint8Array(new BigUint64Array([2n ** 40n]).buffer), 24 + 8 + 3 + 4 + 4);
    await Deno.writeFile(bad, b);
    const refuse = await timed(reps * 10, () => GgufFile.open(bad).catch(() => null));
    return [
      {
        section: "gguf",
        metric: "48 MB header",
        value: await timed(reps, () => GgufFile.open(big)),
        unit: "ms",
        note: `${(header / 1e6).toFixed(0)} MB: 2 800 000 token strings`,
      },
      {
        section: "gguf",
        metric: "llama3-8b header, validated",
        value: await timed(reps, () => openLlamaGguf(l3)),
        unit: "ms",
        note: "128 256 tokens, 2 layers, config and every tensor checked",
      },
      {
        section: "gguf",
        metric: "refuse a count past the file",
        value: refuse,
        unit: "ms",
        note: "2^40 elements in 48 bytes",
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export const sections: BenchSection[] = [{ name: "gguf", run }];
