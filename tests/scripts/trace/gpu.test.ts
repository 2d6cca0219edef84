/**
 * `deno task trace` against a real NVIDIA driver (runs where FAULTLINE_BACKEND=cuda and a GPU
 * is present: scripts/gpu_check.sh): an nvcc-built runtime-API program with static cudart
 * (tests/fixtures/trace/runtime_api.cu), which reaches the driver through cuGetProcAddress
 * alone, and the driver-API test programs with their kernels as a cubin, each with launch 4
 * planted out of bounds: the trace names that launch; clean runs give no finding.
 */
import assert from "node:assert/strict";
import { compileKernels } from "../../../ffi/kernel_compile.ts";
import { cudaIncludeDir, traceLibraryPath } from "../../../scripts/build.ts";
import { reportsDir, ROOT } from "../../helpers/trace.ts";

const OUT = `${ROOT}/build/trace-gpu`;

function gpuMissing(): string | null {
  if (Deno.env.get("FAULTLINE_BACKEND") !== "cuda") return "FAULTLINE_BACKEND is not cuda";
  for (const p of ["/dev/nvidiactl", traceLibraryPath("cuda")]) {
    try {
      Deno.statSync(p);
    } catch {
      return `${p} is missing`;
    }
  }
  return null;
}

const skip = gpuMissing();
// scripts/gpu_check.sh points this into its output folder, so the reports come back
const reports = Deno.env.get("FAULTLINE_TRACE_TEST_REPORTS") ?? reportsDir();

function sh(cmd: string, args: string[]): void {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}:\n${new TextDecoder().decode(r.stderr)}`);
}

function stubDir(): string {
  const home = Deno.env.get("CUDA_HOME") ?? "/usr/local/cuda";
  return [`${home}/lib64/stubs`, `${home}/targets/x86_64-linux/lib/stubs`].find((d) => {
    try {
      return Deno.statSync(`${d}/libcuda.so`).isFile;
    } catch {
      return false;
    }
  }) ?? `${home}/lib64/stubs`;
}

let built: Promise<{ runtime: string; linked: string; getproc: string; cubin: string }> | null = null;

/** The programs, built once: nvcc (static cudart) and cc against the real cuda.h and libcuda. */
function programs() {
  return built ??= (async () => {
    Deno.mkdirSync(OUT, { recursive: true });
    const fx = `${ROOT}/tests/fixtures/trace`;
    const arch = Deno.env.get("CUDA_ARCH") ? `sm_${Deno.env.get("CUDA_ARCH")}` : "native";
    sh("nvcc", [
      "-O2",
      `-arch=${arch}`,
      "-cudart",
      "static",
      "-g",
      `${fx}/runtime_api.cu`,
      "-o",
      `${OUT}/runtime_api`,
    ]);
    const inc = `-I${cudaIncludeDir()}`;
    sh("cc", ["-O1", "-g", inc, `${fx}/linked.c`, `-L${stubDir()}`, "-lcuda", "-lm", "-o", `${OUT}/linked`]);
    sh("cc", ["-O1", "-g", inc, `${fx}/getproc.c`, "-ldl", "-lm", "-o", `${OUT}/getproc`]);
    const m = await compileKernels({
      backend: "cuda",
      source: `${fx}/kernels.hip`,
      kernels: ["fill", "scale", "add", "fill_span", "empty"],
    });
    return {
      runtime: `${OUT}/runtime_api`,
      linked: `${OUT}/linked`,
      getproc: `${OUT}/getproc`,
      cubin: m.path,
    };
  })();
}

let runs = 0;

async function trace(argv: string[]) {
  const runId = `gpu${Deno.pid}-${++runs}`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/scripts/trace/main.ts`,
      "--backend",
      "cuda",
      "--reports",
      reports,
      "--run-id",
      runId,
      "--",
      ...argv,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dir = `${reports}/trace/${runId}`;
  const dec = new TextDecoder();
  const stderr = dec.decode(r.stderr);
  let verdict = null;
  try {
    verdict = JSON.parse(Deno.readTextFileSync(`${dir}/verdict.json`));
  } catch { /* none */ }
  assert.ok(verdict, `no verdict.json (stderr: ${stderr})`);
  return { code: r.code, stdout: dec.decode(r.stdout), stderr, dir, verdict };
}

function assertNamed(r: Awaited<ReturnType<typeof trace>>, argument: string | null) {
  const v = r.verdict;
  assert.equal(r.code, 3, r.stderr);
  assert.equal(v.status, "FAULT", r.stderr);
  assert.match(v.surfaced_at.kind, /^(d2h|sync)$/);
  assert.match(v.root_cause.kernel, /scale/);
  assert.equal(v.trace.launch.ordinal, 4, JSON.stringify(v.trace.launch));
  assert.equal(v.root_cause.argument, argument);
}

Deno.test(
  { name: "trace gpu: static cudart, launch 4 planted with a wild pointer: named", ignore: !!skip },
  async () => {
    const p = await programs();
    const r = await trace([p.runtime, "oob"]);
    assertNamed(r, "arg0");
    console.log(`runtime API oob: ${r.verdict.root_cause.name}, ${r.verdict.root_cause.detail}`);
  },
);

Deno.test({
  name: "trace gpu: static cudart, launch 4 overruns with valid pointers: named by the replay",
  ignore: !!skip,
}, async () => {
  const p = await programs();
  const r = await trace([p.runtime, "overrun"]);
  assertNamed(r, null);
  assert.equal(r.verdict.attribution.method, "blocking-replay");
});

Deno.test({ name: "trace gpu: static cudart, clean: no finding", ignore: !!skip }, async () => {
  const p = await programs();
  const r = await trace([p.runtime, "clean"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.verdict.status, "OK");
  assert.equal(r.verdict.trace.processes[0].findings, 0);
  assert.equal(r.verdict.trace.processes[0].launches, 6, "all six launches were journaled");
});

Deno.test({
  name: "trace gpu: driver API, linked and through cuGetProcAddress_v2: named; clean: no finding",
  ignore: !!skip,
}, async () => {
  const p = await programs();
  for (const exe of [p.linked, p.getproc]) {
    assertNamed(await trace([exe, p.cubin, "oob"]), "arg0");
    const c = await trace([exe, p.cubin, "clean", "graph", "extra"]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.verdict.trace.processes[0].findings, 0);
  }
});
