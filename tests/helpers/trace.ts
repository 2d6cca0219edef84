/**
 * What the trace tests share: the test programs of tests/fixtures/trace/
 * compiled against the real cuda.h (and linked against the sim's stand-in
 * libcuda.so.1 where they link -lcuda), their kernels compiled into a sim
 * module, and `deno task trace` run on them as a user runs it.
 */
import assert from "node:assert/strict";
import { compileKernels } from "../../ffi/kernel_compile.ts";
import { cudaIncludeDir, simDriverDir, traceLibraryPath } from "../../scripts/build.ts";
import { verdictProblems } from "./verdict_schema.ts";

export const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const FIXTURES = `${ROOT}/tests/fixtures/trace`;
const OUT = `${ROOT}/build/trace-fixtures`;

/** The test programs: source, extra compiler flags, whether it links -lcuda. */
const PROGRAMS = {
  linked: { source: "linked.c", flags: [], link: true },
  getproc: { source: "getproc.c", flags: [], link: false },
  getproc_ptsz: { source: "getproc.c", flags: ["-DNULL_STATUS", "-DPER_THREAD"], link: false },
  vmm: { source: "vmm.c", flags: [], link: true },
} as const;
export type ProgramName = keyof typeof PROGRAMS;

/** Whether the trace libraries and the CUDA header are here (the tests say why they cannot run). */
export function traceReady(): string | null {
  if (!cudaIncludeDir()) return "no cuda.h";
  for (const f of [traceLibraryPath("sim"), `${simDriverDir()}/libcuda.so.1`]) {
    try {
      Deno.statSync(f);
    } catch {
      return `${f} is not built (deno task build --backend sim)`;
    }
  }
  return null;
}

const mtime = (p: string) => {
  try {
    return Deno.statSync(p).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
};

const compiling = new Map<string, Promise<string>>();

/** The compiled program (rebuilt when a fixture source is newer), built once per test process. */
export function program(name: ProgramName): Promise<string> {
  let p = compiling.get(name);
  if (!p) compiling.set(name, p = compile(name));
  return p;
}

async function compile(name: ProgramName): Promise<string> {
  const spec = PROGRAMS[name];
  const out = `${OUT}/${name}`;
  const sources = [...Deno.readDirSync(FIXTURES)].map((e) => `${FIXTURES}/${e.name}`);
  if (mtime(out) > Math.max(...sources.map(mtime), mtime(`${simDriverDir()}/libcuda.so.1`))) return out;
  Deno.mkdirSync(OUT, { recursive: true });
  const tmp = `${out}.tmp${Deno.pid}`;
  const args = [
    "-O1",
    "-g",
    `-I${cudaIncludeDir()}`,
    ...spec.flags,
    `${FIXTURES}/${spec.source}`,
    ...(spec.link ? [`-L${simDriverDir()}`, "-lcuda"] : ["-ldl"]),
    "-lm",
    "-o",
    tmp,
  ];
  const r = await new Deno.Command("cc", { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) throw new Error(`cc ${spec.source} failed:\n${new TextDecoder().decode(r.stderr)}`);
  Deno.renameSync(tmp, out);
  return out;
}

let module: Promise<string> | null = null;

/** The test programs' kernels (tests/fixtures/trace/kernels.hip) as a sim module. */
export function kernelModule(): Promise<string> {
  return module ??= compileKernels({
    backend: "sim",
    source: `${FIXTURES}/kernels.hip`,
    kernels: ["fill", "scale", "add", "fill_span", "empty"],
  }).then((m) => m.path);
}

export interface TraceRun {
  code: number;
  stdout: string;
  stderr: string;
  /** reports/trace/<run-id>/ */
  dir: string;
  // deno-lint-ignore no-explicit-any
  verdict: any;
}

let runs = 0;

/** A trace started, not waited for: its process and its run folder. */
export function spawnTrace(
  reports: string,
  argv: string[],
  options: string[] = [],
  stdin: "null" | "piped" = "null",
  env: Record<string, string> = {},
): { child: Deno.ChildProcess; dir: string } {
  const runId = `t${Deno.pid}-${++runs}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/scripts/trace/main.ts`,
      "--backend",
      "sim",
      "--reports",
      reports,
      "--run-id",
      runId,
      ...options,
      ...(argv.length ? ["--", ...argv] : []),
    ],
    stdin,
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  return { child, dir: `${reports}/trace/${runId}` };
}

/** Waits for a spawned trace and reads what it wrote. */
export async function finished(t: { child: Deno.ChildProcess; dir: string }): Promise<TraceRun> {
  const r = await t.child.output();
  let verdict = null;
  try {
    verdict = JSON.parse(Deno.readTextFileSync(`${t.dir}/verdict.json`));
  } catch { /* none written: the test says so */ }
  if (verdict) assert.deepEqual(verdictProblems(verdict), [], "verdict.json conforms to its schema");
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr), dir: t.dir, verdict };
}

/** `deno task trace [options] -- argv...` with the reports under `reports` (backend sim). */
export function trace(
  reports: string,
  argv: string[],
  options: string[] = [],
  env: Record<string, string> = {},
): Promise<TraceRun> {
  return finished(spawnTrace(reports, argv, options, "null", env));
}

/** A fresh reports folder. */
export function reportsDir(): string {
  return Deno.makeTempDirSync({ prefix: "faultline-trace-" });
}
