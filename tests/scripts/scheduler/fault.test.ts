/**
 * A stale position pointer, planted through a hook: at step 3, layer 0, "RoPE Q" gets the address of a freed
 * buffer as its device position. The launch succeeds; the fault surfaces later, at a copy or sync of
 * that decode step (not at the RoPE launch), and is sticky; fault info's tag names the call, whose
 * recorded context is {step 3, layer 0, "RoPE Q"}. Runs in a child process (the fault poisons the
 * process's context): this file re-runs itself with FL_SCHEDULER_FAULT_CHILD=1.
 */
import assert from "node:assert/strict";
import { boundary, FaultlineError, type NativeCall, runtime } from "../../../mod.ts";
import { presetConfig } from "../../../scripts/model/config.ts";
import { gpuModel } from "../../../scripts/model/gpu_model.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";

async function child(): Promise<void> {
  const dev = runtime().device(0);
  const model = gpuModel(dev, presetConfig("tiny"), 3);
  const engine = await LlamaEngine.create(dev, model, { maxContext: 32 });
  // large, so that the GPU allocators unmap it on free as sim does (a small freed block may stay mapped)
  const freed = dev.malloc(64 << 20, { name: "stale_pos" });
  const stale = freed.ptr + (32 << 20);
  freed.free();
  engine.hooks.replace(
    { step: 3, layer: 0, name: "RoPE Q" },
    (_op, launchDefault) => launchDefault({ pos: stale }),
  );
  const calls = new Map<number, NativeCall>();
  const failed: { id: number; status: number }[] = [];
  boundary.attach({
    before: (c) => void calls.set(c.id, c),
    after: (c, status) => {
      if (status !== 0) failed.push({ id: c.id, status });
    },
  });
  const tokens: number[] = [];
  let error: { code: number; message: string } | null = null;
  try {
    let t = engine.prefill([1, 5, 9, 13]);
    tokens.push(t);
    for (let i = 0; i < 6; i++) tokens.push(t = engine.decodeStep(t));
  } catch (e) {
    if (!(e instanceof FaultlineError)) throw e;
    error = { code: e.code, message: e.message };
  }
  const info = dev.faultInfo();
  const planted = [...calls.values()].find((c) =>
    c.context.step === 3 && c.context.layer === 0 && c.context.op === "RoPE Q"
  );
  const tagged = info ? calls.get(info.tag) : undefined;
  const surfaced = failed.length ? calls.get(failed[0].id) : undefined;
  console.log(JSON.stringify({
    backend: runtime().backend,
    tokens,
    step: engine.step,
    error,
    info: info && { status: info.status, op: info.op, address: info.address, access: info.access },
    stale,
    planted: planted && {
      id: planted.id,
      kind: planted.kind,
      name: planted.name,
      context: planted.context,
      pointers: planted.pointers,
    },
    tagged: tagged && { id: tagged.id, name: tagged.name, context: tagged.context },
    surfaced: surfaced &&
      { id: surfaced.id, kind: surfaced.kind, name: surfaced.name, context: surfaced.context },
  }));
}

if (Deno.env.get("FL_SCHEDULER_FAULT_CHILD") === "1") {
  await child();
  Deno.exit(0);
}

Deno.test("scheduler fault: a freed d_pos planted in RoPE Q surfaces downstream and is traced back to its op", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname],
    env: { FL_SCHEDULER_FAULT_CHILD: "1", FAULTLINE_QUIET: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const j = JSON.parse(stdout.trim().split("\n").at(-1)!);
  // prefill (step 0) and decode steps 1 and 2 ran; step 3 failed
  assert.equal(j.tokens.length, 3, stdout);
  assert.equal(j.step, 3);
  assert.equal(j.error?.code, 700, stdout);
  assert.equal(j.info?.status, 700);
  assert.deepEqual(j.planted?.context, { step: 3, layer: 0, op: "RoPE Q" });
  assert.equal(j.planted.name, "rope_dpos");
  assert.equal(j.planted.pointers.find((p: { arg: string }) => p.arg === "pos").ptr, j.stale);
  // where it surfaced: a later native call of the same step, not the RoPE Q launch
  assert.equal(j.surfaced.context.step, 3);
  assert.ok(j.surfaced.id > j.planted.id);
  if (j.backend === "sim") {
    // sim knows the faulting kernel, address and tag: the trace leads back to the planted op
    assert.equal(j.info.op, "rope_dpos");
    assert.equal(j.info.address, j.stale);
    assert.equal(j.info.access, "read");
    assert.equal(j.tagged?.id, j.planted.id);
  }
  console.log(
    `planted at ${JSON.stringify(j.planted.context)}, surfaced at ${j.surfaced.kind} ${j.surfaced.name} ${
      JSON.stringify(j.surfaced.context)
    }`,
  );
});
