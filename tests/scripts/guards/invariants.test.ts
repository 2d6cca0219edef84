import assert from "node:assert/strict";
import { launch } from "../../../ffi/kernels.ts";
import { attentionDecode, llamaKernels, rope } from "../../../ffi/kernels_llama.ts";
import { faultFill } from "../../../ffi/kernels_base.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import {
  declareInvariants,
  dimsProblem,
  GuardBlocked,
  launchDims,
  launchLimitsRail,
  ModelIncompatible,
  positive,
  setInvariants,
} from "../../../scripts/guards/index.ts";
import { Registry } from "../../../ffi/registry.ts";
import { PRESETS } from "../../../scripts/model/config.ts";
import { FaultlineError } from "../../../ffi/errors.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";
import { call } from "../../helpers/calls.ts";

function blockedBy(f: () => void): GuardBlocked {
  try {
    f();
  } catch (e) {
    if (e instanceof GuardBlocked) return e;
    throw e;
  }
  assert.fail("not blocked");
}

Deno.test("guards: RoPE invariants (dimensions, freq_base) block a bad launch and name the argument", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce", contextLength: 128 });
  const heads = 4, headDim = 16;
  const q = device.malloc(heads * headDim * 4, { name: "q" });
  const ok = { x: q, seq_len: 1, heads, head_dim: headDim, pos_offset: 5, freq_base: 10000 };
  try {
    launch(device, null, rope, ok);
    device.synchronize();
    assert.equal(audit.findings.length, 0);
    const cases: [Partial<typeof ok>, string, string][] = [
      [{ head_dim: 15 }, "head_dim even and > 0", "head_dim"],
      [{ seq_len: 0 }, "seq_len > 0", "seq_len"],
      [{ heads: 0 }, "heads > 0", "heads"],
      [{ freq_base: 0 }, "freq_base finite and > 0", "freq_base"],
      [{ freq_base: NaN }, "freq_base finite and > 0", "freq_base"],
      [{ pos_offset: 128 }, "pos_offset + seq_len <= context length", "pos_offset"],
    ];
    for (const [patch, invariant, argument] of cases) {
      const args = { ...ok, ...patch };
      const b = blockedBy(() => launch(device, null, rope, args));
      const f = b.findings.find((x) => x.rail === "invariants");
      assert.ok(f, `no invariant finding for ${JSON.stringify(patch)}: ${b.message}`);
      assert.equal(f.invariant, invariant);
      assert.equal(f.argument, argument);
      assert.equal(f.name, "rope");
    }
    const ctxOver = audit.findings.find((f) => f.invariant === "pos_offset + seq_len <= context length");
    assert.match(ctxOver!.detail, /pos_offset=128 \+ seq_len=1 = 129 > 128/);
  } finally {
    q.free();
    audit.close();
  }
});

Deno.test("guards: the op context (step, layer, scheduler op) is copied into every finding", async () => {
  const { boundary } = await import("../../../ffi/boundary.ts");
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce" });
  const q = device.malloc(1024, { name: "q" });
  boundary.context = { step: 7, layer: 3, op: "RoPE Q" };
  try {
    const b = blockedBy(() =>
      launch(device, null, rope, { x: q, seq_len: 1, heads: 4, head_dim: 15, pos_offset: 0, freq_base: 1e4 })
    );
    const f = b.findings[0];
    assert.equal(f.step, 7);
    assert.equal(f.layer, 3);
    assert.equal(f.label, "RoPE Q");
    assert.match(
      b.message,
      /blocked launch rope \(op \d+\) by rail invariants: head_dim even and > 0: head_dim=15/,
    );
  } finally {
    boundary.context = {};
    q.free();
    audit.close();
  }
});

Deno.test("guards: attention and user-declared invariants; grid and block limits", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce", contextLength: 64 });
  const buf = device.malloc(1 << 20, { name: "kv" });
  try {
    const b = blockedBy(() =>
      launch(device, null, attentionDecode, {
        out: buf,
        q: buf,
        k_cache: buf,
        v_cache: buf,
        scratch: buf,
        n_head: 6,
        n_head_kv: 4,
        head_dim: 16,
        n_ctx: 65,
      })
    );
    const inv = b.findings.filter((f) => f.rail === "invariants").map((f) => f.invariant);
    assert.deepEqual(inv, ["n_head a multiple of n_head_kv, group <= 32", "n_ctx <= context length"]);
  } finally {
    buf.free();
    audit.close();
  }
  // launch limits: the TypeScript geometry mirrors kernels/launch_config*.h
  assert.deepEqual(launchDims("rope", { seq_len: 1, heads: 32, head_dim: 128 }), [
    { grid: [2, 1, 1], block: [256, 1, 1] },
  ]);
  const huge = launchDims("rope", { seq_len: 4e9, heads: 32, head_dim: 256 })![0];
  assert.match(
    dimsProblem(huge, {
      maxGrid: [2147483647, 65535, 65535],
      maxBlock: [1024, 1024, 64],
      maxThreadsPerBlock: 1024,
    })!,
    /grid.x=\d+ > max 2147483647/,
  );
  const limits = launchLimitsRail("enforce");
  const fs = limits.check(
    call("launch", "matmul_f32", { scalars: { n_tokens: 70000 * 64, out_dim: 64, in_dim: 64 } }),
    {
      registry: new Registry(),
      limits: { maxGrid: [2147483647, 65535, 65535], maxBlock: [1024, 1024, 64], maxThreadsPerBlock: 1024 },
    },
  );
  assert.equal(fs.length, 1);
  assert.match(fs[0].detail, /grid.y=70000 > max 65535/);
  assert.equal(fs[0].invariant, "grid and block within the device's limits");
});

Deno.test("guards: an experiment declares its own invariant beside a launch, and removes it", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce" });
  const c = device.malloc(4, { name: "counter" });
  try {
    declareInvariants("fault_fill", positive("value"));
    const b = blockedBy(() => launch(device, null, faultFill, { dst: c, n: 1, value: -1 }));
    assert.equal(b.findings[0].invariant, "value > 0");
    setInvariants("fault_fill", [positive("n")]);
    launch(device, null, faultFill, { dst: c, n: 1, value: -1 });
    device.synchronize();
  } finally {
    c.free();
    audit.close();
  }
});

Deno.test("guards: a Llama-3-8B model in a Llama-2-7B build is blocked unless overridden, and the override is recorded", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  try {
    assert.throws(() => audit.checkModel(PRESETS["llama3-8b"], PRESETS["llama2-7b"]), (e: unknown) => {
      assert.ok(e instanceof ModelIncompatible);
      assert.ok(e.findings.some((f) => f.detail === "ffnDim: model 14336, engine 11008"));
      return true;
    });
    const fs = audit.checkModel(PRESETS["llama3-8b"], PRESETS["llama2-7b"], {
      override: "known mismatch: run it anyway",
    });
    const ffn = fs.find((f) => f.argument === "ffnDim")!;
    assert.equal(ffn.status, "overridden");
    assert.equal(ffn.override, "known mismatch: run it anyway");
    assert.equal(ffn.rail, "model_compat");
    assert.deepEqual(audit.checkModel(PRESETS["llama2-7b"], PRESETS["llama2-7b"]), []);
  } finally {
    audit.close();
  }
});

Deno.test("guards: the launch-limit rail's geometry agrees with the native refusal (status 9)", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "audit" });
  const q = device.malloc(1024, { name: "q" });
  try {
    // 2^32 - 1 rows of one pair: 2^24 blocks of 256 threads, 2^32 threads along x (over HIP's limit)
    assert.throws(
      () =>
        launch(device, null, rope, {
          x: q,
          seq_len: 0xffffffff,
          heads: 4,
          head_dim: 2,
          pos_offset: 0,
          freq_base: 1e4,
        }),
      (e: unknown) => e instanceof FaultlineError && e.code === 9,
    );
    const f = audit.findings.find((x) => x.rail === "launch_limits");
    assert.ok(f, JSON.stringify(audit.findings.map((x) => x.rail)));
    assert.match(f.detail, /4294967296 threads along x > 2\^32 - 1/);
    // and a configuration just inside runs
    launch(device, null, rope, { x: q, seq_len: 1, heads: 4, head_dim: 64, pos_offset: 0, freq_base: 1e4 });
    device.synchronize();
    assert.equal(audit.findings.filter((x) => x.rail === "launch_limits").length, 1);
  } finally {
    q.free();
    audit.close();
  }
});

Deno.test("guards: the f16-cache and quantized kernels have their invariants (GQA, whole blocks)", () => {
  const device = testDevice();
  const audit = openAudit({ device, reportDir: reportDir(), mode: "enforce", contextLength: 128 });
  const buf = device.malloc(1 << 20, { name: "arena" });
  try {
    buf.fill(0);
    const K = llamaKernels;
    const attn = { out: buf, q: buf, k_cache: buf, v_cache: buf, scratch: buf, n_head: 6, n_head_kv: 4 };
    const b = blockedBy(() =>
      launch(device, null, K.attentionDecodeF16, { ...attn, head_dim: 64, n_ctx: 8 })
    );
    assert.equal(b.findings.find((f) => f.rail === "invariants")?.argument, "n_head_kv");
    const q = blockedBy(() =>
      launch(device, null, K.matvecQ4K, { y: buf, w: buf, x: buf, out_dim: 8, in_dim: 288 })
    );
    const f = q.findings.find((x) => x.rail === "invariants")!;
    assert.equal(f.invariant, "in_dim a multiple of the 256-weight block");
    assert.match(f.detail, /in_dim=288 is 32 past a whole block/);
    launch(device, null, K.matvecQ4K, { y: buf, w: buf, x: buf, out_dim: 8, in_dim: 256 });
    device.synchronize();
  } finally {
    buf.free();
    audit.close();
  }
});
