/**
 * The block scheduler: named ops in order, the boundary context every native call carries, the
 * logits copy on the copy stream behind an event, hooks (before/after/replace, matching, removal),
 * refused launches planted through a replacement, model checks and usage errors.
 */
import assert from "node:assert/strict";
import { boundary, FaultlineError, type NativeCall } from "../../../mod.ts";
import { presetConfig } from "../../../scripts/model/config.ts";
import { gpuModel } from "../../../scripts/model/gpu_model.ts";
import { LlamaEngine, OP_NAMES, type OpName } from "../../../scripts/scheduler/mod.ts";
import { ffiTest, testDevice } from "../../helpers/env.ts";

const LAYER_OPS: OpName[] = [
  "RMSNorm attn",
  "Q proj",
  "K proj",
  "V proj",
  "RoPE Q",
  "RoPE K",
  "KV append",
  "attention",
  "O proj",
  "residual attn",
  "RMSNorm ffn",
  "gate proj",
  "up proj",
  "SiLU mul",
  "down proj",
  "residual ffn",
];
const TAIL_OPS: OpName[] = [
  "final RMSNorm",
  "logits proj",
  "argmax",
  "logits event",
  "logits wait",
  "logits D2H",
  "token D2H",
  "logits sync",
];
const PROMPT = [1, 5, 9, 13];

async function tinyEngine(opts: { maxContext?: number; copyLogits?: boolean } = {}) {
  const dev = testDevice();
  const model = gpuModel(dev, presetConfig("tiny"), 3);
  const engine = await LlamaEngine.create(dev, model, { maxContext: opts.maxContext ?? 32, ...opts });
  return {
    dev,
    model,
    engine,
    [Symbol.dispose]() {
      engine.free();
      model.free();
    },
  };
}

/** Records every native call (with its context) while `fn` runs. */
function observe<T>(fn: () => T): { calls: NativeCall[]; result: T } {
  const calls: NativeCall[] = [];
  const detach = boundary.attach({ before: (c) => void calls.push(c) });
  try {
    return { calls, result: fn() };
  } finally {
    detach();
  }
}

Deno.test(
  { name: "scheduler: decode ops are named, ordered, and on the right streams", ...ffiTest },
  async () => {
    using t = await tinyEngine();
    const { engine } = t;
    const names = engine.decodeOps.map((o) => o.name);
    const expected: OpName[] = ["token H2D", "pos H2D", "embed"];
    for (let l = 0; l < 2; l++) expected.push(...LAYER_OPS);
    expected.push(...TAIL_OPS);
    assert.deepEqual(names, expected);
    for (const op of engine.decodeOps) {
      assert.ok(OP_NAMES.includes(op.name));
      const onCopy = ["logits wait", "logits D2H", "token D2H", "logits sync"].includes(op.name);
      assert.equal(op.stream, onCopy ? engine.copy : engine.compute, op.name);
    }
    const layers = engine.decodeOps.map((o) => o.layer);
    assert.deepEqual(layers.slice(3, 19), Array(16).fill(0));
    assert.deepEqual(layers.slice(19, 35), Array(16).fill(1));
    const rope = engine.decodeOps.find((o) => o.name === "RoPE Q" && o.layer === 1)!;
    assert.equal(rope.kernel?.name, "rope_dpos");
    assert.equal(rope.args.pos, engine.buffer("d_pos"));
    engine.prefill(PROMPT);
    engine.decodeStep(7);
    assert.equal(rope.label, "step 1 layer 1 RoPE Q");
    assert.equal(engine.decodeOps.at(-1)!.label, "step 1 logits sync");
  },
);

Deno.test(
  { name: "scheduler: every native call carries step, layer and op; buffers are named", ...ffiTest },
  async () => {
    using t = await tinyEngine();
    const { engine } = t;
    const { calls, result } = observe(() => engine.generate(PROMPT, 3));
    assert.equal(result.length, 3);
    const launches = calls.filter((c) => c.kind === "launch");
    // prefill (step 0) + 2 decode steps, 2 layers of 16 launches + embed + 3 tail launches each
    assert.equal(launches.length, 3 * (1 + 2 * 16 + 3));
    for (const c of calls) {
      assert.equal(typeof c.context.step, "number", `${c.kind} ${c.name}`);
      assert.ok(OP_NAMES.includes(c.context.op as OpName), `${c.kind} ${c.name}: ${c.context.op}`);
    }
    const ropeQ = launches.filter((c) => c.context.op === "RoPE Q");
    assert.deepEqual(ropeQ.map((c) => [c.context.step, c.context.layer, c.name]), [
      [0, 0, "rope"],
      [0, 1, "rope"],
      [1, 0, "rope_dpos"],
      [1, 1, "rope_dpos"],
      [2, 0, "rope_dpos"],
      [2, 1, "rope_dpos"],
    ]);
    assert.equal(ropeQ[0].scalars.seq_len, PROMPT.length);
    assert.equal(ropeQ[0].scalars.pos_offset, 0);
    const attn = launches.filter((c) => c.context.op === "attention" && c.context.layer === 0);
    assert.deepEqual(attn.map((c) => [c.name, c.scalars.n_ctx]), [
      ["attention_prefill_f16", 4], // the KV cache is f16 unless kvCache: "f32"
      ["attention_decode_f16", 5],
      ["attention_decode_f16", 6],
    ]);
    // the logits copy: after an event recorded on compute, on the copy stream that waited for it
    const step2 = calls.filter((c) => c.context.step === 2);
    const rec = step2.findIndex((c) => c.kind === "event_record");
    const wait = step2.findIndex((c) => c.kind === "event_wait");
    const d2h = step2.findIndex((c) => c.kind === "d2h" && c.name === "logits");
    assert.ok(rec >= 0 && rec < wait && wait < d2h, `${rec} ${wait} ${d2h}`);
    assert.equal(step2[rec].stream, engine.compute.handle);
    assert.equal(step2[wait].stream, engine.copy.handle);
    assert.equal(step2[d2h].stream, engine.copy.handle);
    assert.equal(step2[rec].event, step2[wait].event);
    assert.equal(step2[d2h].pointers[0].ptr, engine.buffer("logits").ptr);
    // layer-less ops carry no layer
    assert.equal(step2[d2h].context.layer, undefined);
    assert.equal(boundary.context.op, undefined, "the context is restored after the pass");
    for (const n of ["x", "q", "k_cache.L1", "v_cache.L0", "logits", "d_pos", "attn_scratch"]) {
      assert.equal(engine.buffer(n).name, n);
    }
    assert.equal(t.model.weight("blk.1.attn_q.weight").buffer.name, "blk.1.attn_q.weight");
  },
);

Deno.test(
  { name: "scheduler: hooks run before and after matching ops, and can be removed", ...ffiTest },
  async () => {
    using t = await tinyEngine();
    const { engine } = t;
    const seen: string[] = [];
    assert.equal(engine.hooks.empty, true);
    const offB = engine.hooks.before({ name: "RoPE Q", layer: 1 }, (op) => seen.push(`before ${op.label}`));
    const offA = engine.hooks.after((op) => op.name === "argmax", (op) => seen.push(`after ${op.label}`));
    const offLabel = engine.hooks.after("step 1 layer 0 KV append", (op) => seen.push(`label ${op.label}`));
    const offAll = engine.hooks.before((op) => {
      if (op.step === 1 && op.name === "embed") seen.push(`any ${op.label} ${op.phase}`);
    });
    assert.equal(engine.hooks.empty, false);
    const baseline = engine.generate(PROMPT, 2);
    assert.deepEqual(seen, [
      "before step 0 layer 1 RoPE Q",
      "after step 0 argmax",
      "any step 1 embed decode",
      "label step 1 layer 0 KV append",
      "before step 1 layer 1 RoPE Q",
      "after step 1 argmax",
    ]);
    offLabel();
    offB();
    offA();
    offAll();
    assert.equal(engine.hooks.empty, true);
    seen.length = 0;
    engine.reset();
    assert.deepEqual(engine.generate(PROMPT, 2), baseline, "hooks that only observe change nothing");
    assert.deepEqual(seen, []);
    // name lists and step/phase matches
    let n = 0;
    engine.hooks.before({ name: ["Q proj", "K proj"], phase: "decode", step: 2 }, () => n++);
    engine.decodeStep(baseline[1]);
    assert.equal(n, 4);
    engine.hooks.clear();
    assert.equal(engine.hooks.empty, true);
  },
);

Deno.test(
  { name: "scheduler: replace takes over an op (skip, or modified arguments)", ...ffiTest },
  async () => {
    using t = await tinyEngine();
    const { engine } = t;
    const baseline = engine.generate(PROMPT, 6);

    // the default action with the same arguments: same tokens
    engine.reset();
    let calls = 0;
    const off = engine.hooks.replace({ name: "RoPE Q" }, (_op, launchDefault) => {
      calls++;
      launchDefault();
    });
    assert.deepEqual(engine.generate(PROMPT, 6), baseline);
    assert.equal(calls, 6 * 2);
    off();

    // skipping RoPE K everywhere changes the attention scores, hence the tokens
    engine.reset();
    const offSkip = engine.hooks.replace({ name: "RoPE K" }, () => {});
    const { calls: seen, result } = observe(() => engine.generate(PROMPT, 6));
    offSkip();
    assert.equal(seen.filter((c) => c.context.op === "RoPE K").length, 0, "no native call for a skipped op");
    assert.notDeepEqual(result, baseline);

    // the latest matching replacement wins; overrides reach the launch, op.args stay as they were
    engine.reset();
    engine.hooks.replace({ name: "argmax" }, (_op, d) => d());
    engine.hooks.replace({ name: "argmax", step: 1 }, (op, d) => {
      d({ n: 8 }); // argmax over the first 8 logits only
      assert.equal(op.args.n, 256);
    });
    const got = engine.generate(PROMPT, 3);
    engine.hooks.clear();
    assert.ok(got[1] < 8, `token ${got[1]} from the first 8 logits`);
    const logits = engine.logits();
    assert.equal(logits.length, 256);
  },
);

Deno.test({
  name: "scheduler: a planted seq_len 0 in RoPE Q is refused at the launch, with its context",
  ...ffiTest,
}, async () => {
  using t = await tinyEngine();
  const { engine } = t;
  engine.prefill(PROMPT);
  engine.hooks.replace({ step: 2, layer: 0, name: "RoPE Q" }, (_op, d) => d({ seq_len: 0 }));
  const calls: NativeCall[] = [];
  const statuses: number[] = [];
  const detach = boundary.attach({
    before: (c) => void calls.push(c),
    after: (_c, status) => void statuses.push(status),
  });
  try {
    engine.decodeStep(3); // step 1: fine
    assert.throws(() => engine.decodeStep(4), (e: unknown) => e instanceof FaultlineError && e.code === 9);
  } finally {
    detach();
    engine.hooks.clear();
  }
  const last = calls.at(-1)!;
  assert.deepEqual(last.context, { step: 2, layer: 0, op: "RoPE Q" });
  assert.equal(last.scalars.seq_len, 0);
  assert.equal(statuses.at(-1), 9);
  // the step did not advance; the engine runs on (nothing was enqueued by the refused launch)
  assert.equal(engine.step, 2);
  engine.compute.synchronize();
});

Deno.test(
  { name: "scheduler: engineConfig shapes, model checks, copyLogits, usage errors", ...ffiTest },
  async () => {
    const dev = testDevice();
    using model = gpuModel(dev, presetConfig("tiny"), 3);
    await assert.rejects(
      () => LlamaEngine.create(dev, model, { maxContext: 16, engineConfig: { ffnDim: 128 } }),
      /ffnDim: model 172, engine 128/,
    );
    // an engine built for a smaller FFN runs over the model's buffers when the check is waived
    const checked: string[] = [];
    {
      using e = await LlamaEngine.create(dev, model, {
        maxContext: 16,
        engineConfig: { ffnDim: 128 },
        modelCheck: (m, b) => void checked.push(`${m.ffnDim}/${b.ffnDim}`),
      });
      assert.equal(e.config.ffnDim, 128);
      assert.equal(e.buffer("gate").bytes, e.maxPrefill * 128 * 4);
      assert.equal(e.generate(PROMPT, 2).length, 2);
    }
    assert.deepEqual(checked, ["172/128"]);
    {
      using e = await LlamaEngine.create(dev, model, { maxContext: 8, copyLogits: false, maxPrefill: 2 });
      assert.ok(!e.decodeOps.some((o) => o.name === "logits D2H"));
      assert.equal(e.maxPrefill, 2);
      assert.throws(() => e.prefill([]), RangeError);
      assert.throws(() => e.prefill(Array(9).fill(1)), /exceed maxContext 8/);
      assert.throws(() => e.decodeStep(1.5), /not an int32/);
      e.generate([1, 2, 3], 5); // positions 0..6
      e.decodeStep(1); // position 7
      assert.throws(() => e.decodeStep(1), /past maxContext/);
      e.free();
      assert.throws(() => e.decodeStep(1), /already freed/);
    }
    await assert.rejects(() => LlamaEngine.create(dev, model, { maxContext: 0 }), RangeError);
    // a build for more layers than the model has fails at construction and leaves nothing allocated
    const before = dev.memInfo().free;
    await assert.rejects(
      () =>
        LlamaEngine.create(dev, model, { maxContext: 16, engineConfig: { nLayers: 3 }, modelCheck: null }),
      /no tensor blk\.2\.attn_norm\.weight/,
    );
    assert.equal(dev.memInfo().free, before);
  },
);
