/**
 * What `deno task trace` adds to a launch: empty one-thread launches timed on
 * the host, bare and under the interposer (journal on, no syncs), on the
 * backend the bench runs on. On sim the program calls the stand-in
 * libcuda.so.1; on cuda the real driver, and a second program built by nvcc
 * with static cudart reaches it through cuGetProcAddress as every CUDA
 * program does. Rows: ns/launch of the launch loop bare and traced, and the
 * difference; the loop plus the wait for the device beside them.
 */
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";
import { compileKernels } from "../../ffi/kernel_compile.ts";
import { cudaIncludeDir, simDriverDir, traceLibraryPath } from "../build.ts";
import { NO_SYNC, PolicyTable } from "../trace/policy.ts";
import { traceEnv } from "../trace/setup.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const OUT = `${ROOT}/build/trace-bench`;

function onPath(name: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch { /* next */ }
  }
  return null;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(r.stderr).trim()}`);
  return dec.decode(r.stdout);
}

/** The CUDA driver's link-time stub (the real libcuda.so.1 is found when the program runs). */
function cudaStubDir(): string | null {
  const home = Deno.env.get("CUDA_HOME") ?? "/usr/local/cuda";
  for (const d of [`${home}/lib64/stubs`, `${home}/targets/x86_64-linux/lib/stubs`]) {
    try {
      if (Deno.statSync(`${d}/libcuda.so`).isFile) return d;
    } catch { /* next */ }
  }
  return null;
}

/** ns/launch of the loop, and of the loop plus the device wait: median of `reps` runs. */
function measure(argv: string[], env: Record<string, string>, reps: number): [number, number] {
  const runs = Array.from(
    { length: reps },
    () => run(argv[0], argv.slice(1), env).trim().split(/\s+/).map(Number),
  );
  const med = (k: number) => runs.map((r) => r[k]).sort((a, b) => a - b)[reps >> 1];
  return [med(0), med(1)];
}

/** The bare and traced environments of a program on `backend`. */
function environments(
  backend: "sim" | "cuda",
): { bare: Record<string, string>; traced: () => Record<string, string> } {
  const bare: Record<string, string> = backend === "sim" ? { LD_LIBRARY_PATH: simDriverDir() } : {};
  const traced = () => {
    const dir = Deno.makeTempDirSync({ prefix: "faultline-trace-bench-" });
    const policy = new PolicyTable(`${dir}/policy.bin`, NO_SYNC);
    return traceEnv({ backend, journalDir: dir, policyPath: policy.path });
  };
  return { bare, traced };
}

function rows(
  what: string,
  bare: [number, number],
  traced: [number, number],
  note: string,
  wait = true,
): BenchRow[] {
  const launch: BenchRow[] = [
    { section: "trace", metric: `${what}: launch, bare`, value: bare[0], unit: "ns/launch", note },
    { section: "trace", metric: `${what}: launch, traced`, value: traced[0], unit: "ns/launch", note },
    {
      section: "trace",
      metric: `${what}: added by the trace`,
      value: traced[0] - bare[0],
      unit: "ns/launch",
      note,
    },
  ];
  if (!wait) return launch;
  return [...launch, {
    section: "trace",
    metric: `${what}: launch + device wait, bare / traced`,
    value: traced[1] / bare[1],
    unit: "ratio",
    note: `${bare[1].toFixed(0)} / ${traced[1].toFixed(0)} ns per launch`,
  }];
}

async function driverApi(backend: "sim" | "cuda", n: number, reps: number): Promise<BenchRow[]> {
  const exe = await buildDriverProgram(backend);
  if (!exe) return [];
  const env = environments(backend);
  const argv = [exe.path, exe.module, String(n)];
  const note = `${n} empty launches, cuLaunchKernel, median of ${reps} runs`;
  const out = rows("driver API", measure(argv, env.bare, reps), measure(argv, env.traced(), reps), note);
  if (backend === "sim") {
    // the stand-in's launches checked but not run: what the interposer adds, without the sim's queue
    const none = { FAULTLINE_SIM_LAUNCH: "none" };
    const bare = measure(argv, { ...env.bare, ...none }, reps);
    const traced = measure(argv, { ...env.traced(), ...none }, reps);
    out.push(
      ...rows("driver API, launches not run", bare, traced, `${note}; FAULTLINE_SIM_LAUNCH=none`, false),
    );
  }
  return out;
}

async function buildDriverProgram(backend: "sim" | "cuda"): Promise<{ path: string; module: string } | null> {
  const inc = cudaIncludeDir();
  const libDir = backend === "sim" ? simDriverDir() : cudaStubDir();
  if (!inc || !libDir) return null;
  Deno.mkdirSync(OUT, { recursive: true });
  const exe = `${OUT}/empty_launches_${backend}`;
  run("cc", [
    "-O2",
    `-I${inc}`,
    `${ROOT}/scripts/bench/trace/empty_launches.c`,
    `-L${libDir}`,
    "-lcuda",
    "-o",
    exe,
  ]);
  const mod = await compileKernels({
    backend,
    source: `${ROOT}/tests/fixtures/trace/kernels.hip`,
    kernels: ["fill", "scale", "add", "fill_span", "empty"],
  });
  return { path: exe, module: mod.path };
}

function runtimeApi(n: number, reps: number): BenchRow[] {
  const nvcc = onPath("nvcc") ?? "/usr/local/cuda/bin/nvcc";
  try {
    Deno.statSync(nvcc);
  } catch {
    return [];
  }
  Deno.mkdirSync(OUT, { recursive: true });
  const exe = `${OUT}/empty_launches_rt`;
  run(nvcc, [
    "-O2",
    "-arch=native",
    "-cudart",
    "static",
    `${ROOT}/scripts/bench/trace/empty_launches_rt.cu`,
    "-o",
    exe,
  ]);
  const env = environments("cuda");
  const bare = measure([exe, String(n)], env.bare, reps);
  const traced = measure([exe, String(n)], env.traced(), reps);
  return rows(
    "runtime API (static cudart)",
    bare,
    traced,
    `${n} empty <<<1,1>>> launches, median of ${reps} runs`,
  );
}

export const sections: BenchSection[] = [{
  name: "trace",
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const backend = ctx.runtime.backend;
    if (backend !== "sim" && backend !== "cuda") return [];
    try {
      Deno.statSync(traceLibraryPath(backend));
    } catch {
      return [];
    }
    const n = ctx.quick ? 20_000 : 100_000, reps = ctx.quick ? 1 : 3;
    const out = await driverApi(backend, n, reps);
    if (backend === "cuda") out.push(...runtimeApi(n, reps));
    return out;
  },
}];
