/**
 * A user's own kernels (loadKernels), through the public API only: compiled
 * from source on the backend that runs, checked against a float64 reference
 * on fresh random data, their declarations checked against the real
 * parameter layout, compile errors shown as the compiler wrote them, the
 * cache measured, and a planted out-of-bounds launch named by the forensics.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  defineKernel,
  FaultlineUsageError,
  KernelCompileError,
  type KernelDescriptor,
  launch,
  loadKernels,
  runtime,
  tick,
} from "../../mod.ts";
import { experiment, ropeUser } from "../../scripts/experiments/own_kernel.ts";
import { runExperiment } from "../../scripts/trials/experiment.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const REDUCE = `${ROOT}tests/fixtures/kernels/reduce.hip`;
const ROPE = `${ROOT}kernels/examples/rope_user.hip`;
const ffiTest = { sanitizeResources: false, sanitizeOps: false };

const rowSumArgs = [
  {
    name: "x",
    type: "ptr",
    access: "r",
    elem: 4,
    extent: (a: Readonly<Record<string, number>>) => a.rows * a.n * 4,
  },
  {
    name: "out",
    type: "ptr",
    access: "rw",
    elem: 4,
    extent: (a: Readonly<Record<string, number>>) => a.rows * 4,
  },
  { name: "n", type: "u32" },
] as const;
const rows = (a: Readonly<Record<string, number>>) => a.rows;
const tree = defineKernel({ name: "row_sum_tree", args: rowSumArgs, grid: rows, block: 256 });
const warp = defineKernel({
  name: "row_sum_warp",
  args: rowSumArgs,
  grid: rows,
  block: 256,
  sharedBytes: 8 * 4,
});
const atomic = defineKernel({ name: "row_sum_atomic", args: rowSumArgs, grid: rows, block: 256 });

/** A seeded generator (the seed is printed, so a failure can be replayed). */
function random(seed = Date.now() >>> 0): () => number {
  console.log(`random seed ${seed}`);
  let t = seed;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function randomRows(rows: number, n: number): Float32Array {
  const rnd = random();
  return new Float32Array(rows * n).map(() => rnd() * 2 - 1);
}

function relErr(got: Float32Array, want: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}

Deno.test({
  name: "own kernels: RoPE from source matches a float64 reference on random data",
  ...ffiTest,
  fn: async () => {
    const dev = runtime().device(0);
    await loadKernels(dev, { source: ROPE, kernels: [ropeUser] });
    const T = 3, H = 5, D = 64, rnd = random();
    const x = new Float32Array(T * H * D).map(() => rnd() * 4 - 2);
    // positions below 64: the kernel's angle is f32, so its error grows with the position (as on a GPU)
    const pos = new Int32Array(T).map(() => Math.floor(rnd() * 64));
    const bx = dev.malloc(x.byteLength, { name: "x" }), bp = dev.malloc(pos.byteLength, { name: "pos" });
    bx.upload(x);
    bp.upload(pos);
    launch(dev, null, ropeUser, { x: bx, pos: bp, n_tokens: T, n_heads: H, head_dim: D, freq_base: 10000 });
    const got = new Float32Array(x.length).fill(NaN);
    bx.download(got);
    const want = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < D / 2; i++) {
          const th = pos[t] * Math.pow(10000, (-2 * i) / D), o = (t * H + h) * D;
          const a = x[o + i], b = x[o + i + D / 2];
          want[o + i] = a * Math.cos(th) - b * Math.sin(th);
          want[o + i + D / 2] = a * Math.sin(th) + b * Math.cos(th);
        }
      }
    }
    assert.ok(relErr(got, want) < 1e-5, `relative error ${relErr(got, want)}`);
    bx.free();
    bp.free();
  },
});

Deno.test({
  name: "own kernels: barriers, warp shuffles, dynamic shared memory and atomics give the float64 row sums",
  ...ffiTest,
  fn: async () => {
    const dev = runtime().device(0);
    await loadKernels(dev, { source: REDUCE, kernels: [tree, warp, atomic] });
    const R = 7, n = 1003;
    const x = randomRows(R, n);
    const want = new Float64Array(R);
    for (let r = 0; r < R; r++) for (let i = 0; i < n; i++) want[r] += x[r * n + i];
    const bx = dev.malloc(x.byteLength, { name: "x" }), out = dev.malloc(R * 4, { name: "out" });
    bx.upload(x);
    for (const k of [tree, warp, atomic]) {
      out.upload(new Float32Array(R).fill(k === atomic ? 0 : NaN));
      launch(dev, null, k, { x: bx, out, n }, { grid: R });
      const got = new Float32Array(R);
      out.download(got);
      assert.ok(relErr(got, want) < 1e-5, `${k.name}: relative error ${relErr(got, want)} (${got})`);
    }
    bx.free();
    out.free();
  },
});

Deno.test({
  name: "own kernels: a declaration that disagrees with the kernel is refused, naming the parameter",
  ...ffiTest,
  fn: async () => {
    const dev = runtime().device(0);
    const args = ropeUser.args;
    const refused = async (k: KernelDescriptor, pattern: RegExp) => {
      await assert.rejects(() => loadKernels(dev, { source: ROPE, kernels: [k] }), (e: Error) => {
        assert.ok(e instanceof FaultlineUsageError, String(e));
        assert.match(e.message, pattern);
        return true;
      });
    };
    await refused(
      defineKernel({ name: "rope_user", args: args.slice(0, 5) }),
      /rope_user .* takes 6 parameter\(s\) but is declared with 5 \(x, pos, n_tokens, n_heads, head_dim\)/,
    );
    await refused(
      defineKernel({
        name: "rope_user",
        args: [...args.slice(0, 2), { name: "n_tokens", type: "u64" }, ...args.slice(3)],
      }),
      /argument 2 \(n_tokens\) is declared u64 \(8 bytes\) but parameter 2 is 4 bytes/,
    );
    if (runtime().backend !== "cuda") { // cuda reports offsets and sizes only
      await refused(
        defineKernel({ name: "rope_user", args: [{ name: "x", type: "u64" }, ...args.slice(1)] }),
        /argument 0 \(x\) is declared u64 but parameter 0 is a pointer/,
      );
    }
    await refused(
      defineKernel({ name: "rope_nope", args }),
      /kernel rope_nope is not in .*rope_user\.hip \(its __global__ functions: rope_user\)/,
    );
  },
});

Deno.test({
  name: "own kernels: a source that does not compile shows the compiler's message with file and line",
  ...ffiTest,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "faultline-bad-kernel-" });
    const src = `${dir}/broken.hip`;
    await Deno.writeTextFile(
      src,
      '#include <hip/hip_runtime.h>\nextern "C" __global__ void broken(float *x) {\n  x[0] = undeclared_name;\n}\n',
    );
    const k = defineKernel({ name: "broken", args: [{ name: "x", type: "ptr" }], grid: 1, block: 1 });
    await assert.rejects(
      () => loadKernels(runtime().device(0), { source: src, kernels: [k], cacheDir: dir }),
      (e) => {
        assert.ok(e instanceof KernelCompileError, String(e));
        assert.match(e.message, /broken\.hip.*does not compile/);
        assert.match(e.output, /broken\.hip\(?:?3/); // file and line 3, as gcc, nvcc and hipcc write them
        assert.match(e.output, /undeclared_name/);
        return true;
      },
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "own kernels: the second load of a source comes from the cache, without compiling",
  ...ffiTest,
  fn: async () => {
    const dev = runtime().device(0);
    const cacheDir = await Deno.makeTempDir({ prefix: "faultline-kernel-cache-" });
    const t0 = performance.now();
    const first = await loadKernels(dev, { source: ROPE, kernels: [ropeUser], cacheDir });
    const t1 = performance.now();
    const second = await loadKernels(dev, { source: ROPE, kernels: [ropeUser], cacheDir });
    const t2 = performance.now();
    assert.equal(first.cached, false);
    assert.ok(first.compileMs > 0);
    assert.equal(second.cached, true);
    assert.equal(second.compileMs, 0);
    assert.equal(second.path, first.path);
    assert.ok(t2 - t1 < t1 - t0, `cached load ${t2 - t1} ms, first ${t1 - t0} ms`);
    // a different define is a different code object
    const third = await loadKernels(dev, {
      source: ROPE,
      kernels: [ropeUser],
      cacheDir,
      defines: { UNUSED: 1 },
    });
    assert.equal(third.cached, false);
    assert.notEqual(third.path, first.path);
    for (const m of [first, second, third]) m.unload();
    await Deno.remove(cacheDir, { recursive: true });
  },
});

Deno.test({
  name: "own kernels: wrong use is a usage error before any native call",
  ...ffiTest,
  fn: async () => {
    const dev = runtime().device(0);
    const never = defineKernel({ name: "never_loaded", args: [], grid: 1, block: 1 });
    assert.throws(() => launch(dev, null, never, {}), /never_loaded is neither built in .* nor loaded/);
    const counter = dev.malloc(4, { name: "counter" });
    assert.throws(
      () => launch(dev, null, tick, { counter }, { grid: 2 }),
      /grid, block and sharedBytes are for loaded kernels/,
    );
    const noGrid = defineKernel({ name: "row_sum_tree", args: rowSumArgs, block: 256 });
    const m = await loadKernels(dev, { source: REDUCE, kernels: [noGrid] });
    assert.throws(() => launch(dev, null, noGrid, { x: counter, out: counter, n: 1 }), /no grid/);
    assert.throws(
      () => launch(dev, null, noGrid, { x: counter, out: counter, n: 1 }, { grid: [0] }),
      /grid must be positive integers/,
    );
    m.unload();
    assert.throws(
      () => launch(dev, null, noGrid, { x: counter, out: counter, n: 1 }, { grid: 1 }),
      /was unloaded/,
    );
    await assert.rejects(
      () => loadKernels(dev, { source: ROPE, kernels: [ropeUser], sources: "x" } as never),
      /unknown option sources \(valid: source, codeObject/,
    );
    await assert.rejects(
      () => loadKernels(dev, { kernels: [ropeUser] }),
      /exactly one of source or codeObject/,
    );
    counter.free();
  },
});

const reports = await Deno.makeTempDir({ prefix: "faultline-own-kernel-" });

Deno.test({
  name: "own kernels: a clean run of the example gives no finding",
  ...ffiTest,
  fn: async () => {
    const res = await runExperiment(experiment, { reportsDir: reports, runId: "clean", print: false });
    const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
    assert.equal(v.status, "OK");
    assert.equal(v.root_cause, null);
    const findings = await Deno.readTextFile(
      join(res.dir, "trials", await firstTrial(res.dir), "findings.jsonl"),
    )
      .catch(() => "");
    assert.equal(findings.trim(), "", findings);
  },
});

async function firstTrial(dir: string): Promise<string> {
  for await (const e of Deno.readDir(join(dir, "trials"))) if (e.isDirectory) return e.name;
  return "";
}

Deno.test({
  name: "own kernels: K rotated with Q's head count is named: rope_user, RoPE K, step 2, argument x",
  ...ffiTest,
  fn: async () => {
    const res = await runExperiment(experiment, {
      reportsDir: reports,
      runId: "kv-heads",
      print: false,
      params: { bug: "kv-heads" },
    });
    const v = JSON.parse(await Deno.readTextFile(join(res.dir, "verdict.json")));
    assert.equal(v.root_cause?.kernel, "rope_user", JSON.stringify(v.root_cause));
    assert.equal(v.root_cause.name, "RoPE K");
    assert.equal(v.root_cause.step, 2);
    assert.equal(v.root_cause.argument, "x");
    assert.equal(v.root_cause.invariant, "pointer + extent within the allocation");
    assert.match(v.root_cause.detail, /x touches 16384 bytes .* of k .*4096 bytes.*12288 bytes past its end/);
    if (runtime().backend === "sim") {
      // the write reaches an unmapped page: it surfaces at the step's D2H, after the launch
      assert.equal(v.status, "FAULT");
      assert.equal(v.surfaced_at.name, "q");
      assert.ok(v.surfaced_at.op > v.root_cause.op);
    }
  },
});

Deno.test({
  name: "own kernels: a prebuilt code object loads and runs like a compiled source",
  ...ffiTest,
  fn: async () => {
    const rt = runtime(), dev = rt.device(0);
    let codeObject: string;
    const dir = await Deno.makeTempDir({ prefix: "faultline-prebuilt-" });
    if (rt.backend === "cuda") {
      // what a user's build does: nvcc -cubin for the device
      codeObject = `${dir}/reduce.cubin`;
      const arch = `sm_${dev.props.major}${dev.props.minor}`;
      const out = await new Deno.Command("nvcc", {
        args: ["-cubin", `-arch=${arch}`, "-x", "cu", `-I${ROOT}hip/rtc/cuda`, REDUCE, "-o", codeObject],
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    } else if (rt.backend === "sim") {
      codeObject = (await loadKernels(dev, { source: REDUCE, kernels: [tree], cacheDir: dir })).path;
    } else {
      return; // hip: no AMD GPU here to run it
    }
    const prebuilt = defineKernel({ name: "row_sum_tree", args: rowSumArgs, grid: rows, block: 256 });
    const m = await loadKernels(dev, { codeObject, kernels: [prebuilt] });
    assert.equal(m.compiler, "prebuilt");
    const R = 3, n = 517, x = randomRows(R, n);
    const want = new Float64Array(R);
    for (let r = 0; r < R; r++) for (let i = 0; i < n; i++) want[r] += x[r * n + i];
    const bx = dev.malloc(x.byteLength, { name: "x" }), out = dev.malloc(R * 4, { name: "out" });
    bx.upload(x);
    out.upload(new Float32Array(R).fill(NaN));
    launch(dev, null, prebuilt, { x: bx, out, n }, { grid: R });
    const got = new Float32Array(R);
    out.download(got);
    assert.ok(relErr(got, want) < 1e-5, `relative error ${relErr(got, want)}`);
    bx.free();
    out.free();
    m.unload();
    await Deno.remove(dir, { recursive: true });
  },
});
