/**
 * Compiles a HIP-dialect kernel source into a code object for one backend,
 * with a cache under build/kernels/ keyed by the source (and the headers it
 * includes with quotes), the kernels asked for, the compiler, the target and
 * the options, so a second run loads without compiling.
 *
 * - sim: the host C++ compiler ($CXX, c++ or g++) against hip/rtc/sim/ (the
 *   GPU execution model on the CPU) into a sim module (hip/sim/sim_module.h).
 * - cuda: NVRTC (libnvrtc, found under $CUDA_HOME, /usr/local/cuda or the
 *   nvidia Python packages) against hip/rtc/cuda/, else nvcc -cubin: a .cubin
 *   for the device's sm_XX.
 * - hip: hipRTC (libhiprtc, or libamdhip64 on ROCm 5), else hipcc --genco (a
 *   clang offload bundle), for the device's gfx target.
 *
 * A source that does not compile is a KernelCompileError carrying the
 * compiler's own message (file:line: error: ...).
 */
import { isFile, onPath } from "./files.ts";
import { repoRoot } from "./library.ts";
import { compileWithRtc, findHiprtc, findNvrtc } from "./rtc.ts";

/** The backend a code object is compiled for. */
export type CompileBackend = "sim" | "cuda" | "hip";

/** What to compile, for which backend and target. */
export interface CompileRequest {
  /** The backend the code object is for. */
  backend: CompileBackend;
  /** Absolute path of the kernel source. */
  source: string;
  /** The __global__ functions the module must export. */
  kernels: readonly string[];
  /** Target: "sm_90" on cuda, "gfx90a" on hip; ignored on sim. */
  arch?: string;
  /** Preprocessor definitions (-DNAME=value). */
  defines?: Readonly<Record<string, string | number | boolean>>;
  /** Extra compiler flags, passed as given. */
  flags?: readonly string[];
  /** Cache directory (default build/kernels/ under the repository root). */
  cacheDir?: string;
}

/** A compiled code object and where it came from. */
export interface CompiledModule {
  /** The code object's bytes. */
  image: Uint8Array;
  /** Path of the cached code object. */
  path: string;
  /** True when the cache had it: no compiler ran. */
  cached: boolean;
  /** Milliseconds spent compiling (0 from the cache). */
  compileMs: number;
  /** The compiler, as "nvrtc 13.0", "g++ (Debian 12.2.0-14) 12.2.0", ... */
  compiler: string;
  /** Kernel name -> the symbol the code object knows it by (NVRTC's lowered names). */
  symbols: Record<string, string>;
}

/** A kernel source that does not compile; `output` is the compiler's message. */
export class KernelCompileError extends Error {
  /** The error's name in stack traces and messages. */
  override name = "KernelCompileError";
  /** `output`: the compiler's own message. */
  constructor(message: string, readonly output: string) {
    super(`${message}\n${output}`);
  }
}

const ROOT = decodeURIComponent(repoRoot.pathname).replace(/\/$/, "");
const RTC = `${ROOT}/hip/rtc`;

function run(cmd: string, args: string[], env?: Record<string, string>): { ok: boolean; output: string } {
  try {
    const r = new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" })
      .outputSync();
    const dec = new TextDecoder();
    return { ok: r.success, output: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, output: (e as Error).message };
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}

/** The compiler a request uses: its command (or library) and how it names itself. */
function compilerFor(backend: CompileBackend): { kind: string; path: string; version: string } {
  if (backend === "sim") {
    const env = Deno.env.get("CXX");
    const path = env ? (env.includes("/") ? env : onPath(env)) : (onPath("c++") ?? onPath("g++"));
    if (!path) throw new KernelCompileError("no C++ compiler for sim kernels (set CXX)", "");
    return { kind: "c++", path, version: firstLine(run(path, ["--version"]).output) };
  }
  // $FAULTLINE_KERNEL_COMPILER=nvcc|hipcc takes the command-line compiler over the in-process one
  const cli = Deno.env.get("FAULTLINE_KERNEL_COMPILER");
  if (backend === "cuda") {
    const nvrtc = cli === "nvcc" ? null : findNvrtc();
    if (nvrtc) return { kind: "nvrtc", path: nvrtc.path, version: `nvrtc ${nvrtc.version}` };
    const home = Deno.env.get("CUDA_HOME") ?? "/usr/local/cuda";
    const path = Deno.env.get("NVCC") ?? onPath("nvcc") ??
      (isFile(`${home}/bin/nvcc`) ? `${home}/bin/nvcc` : null);
    if (!path) throw new KernelCompileError("neither NVRTC nor nvcc found for cuda kernels", "");
    return { kind: "nvcc", path, version: run(path, ["--version"]).output.split("\n").pop() ?? "" };
  }
  const hiprtc = cli === "hipcc" ? null : findHiprtc();
  if (hiprtc) {
    return { kind: "hiprtc", path: hiprtc.path, version: `hiprtc ${hiprtc.version} (${hiprtc.path})` };
  }
  const path = Deno.env.get("HIPCC") ?? onPath("hipcc") ??
    (isFile("/opt/rocm/bin/hipcc") ? "/opt/rocm/bin/hipcc" : null);
  if (!path) throw new KernelCompileError("hipcc not found for hip kernels", "");
  return { kind: "hipcc", path, version: firstLine(run(path, ["--version"]).output) };
}

/** The source and every header it includes with quotes (relative to the including file), recursively. */
function sourceClosure(path: string): { path: string; text: string }[] {
  const seen = new Map<string, string>();
  const visit = (p: string) => {
    if (seen.has(p) || seen.size > 256) return;
    let text: string;
    try {
      text = Deno.readTextFileSync(p);
    } catch (e) {
      if (p === path) {
        throw new KernelCompileError(`cannot read kernel source ${p}: ${(e as Error).message}`, "");
      }
      return; // the compiler will say which include is missing
    }
    seen.set(p, text);
    const dir = p.slice(0, p.lastIndexOf("/") + 1);
    for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      visit(m[1].startsWith("/") ? m[1] : dir + m[1]);
    }
  };
  visit(path);
  return [...seen].map(([p, text]) => ({ path: p, text }));
}

/** The __global__ functions defined in a source and the headers it includes with quotes. */
export function globalFunctions(path: string): string[] {
  const re =
    /__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(/g;
  return [...new Set(sourceClosure(path).flatMap((f) => [...f.text.matchAll(re)].map((m) => m[1])))];
}

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function rtcHeaders(backend: CompileBackend): string {
  const dir = backend === "sim" ? `${RTC}/sim/hip` : backend === "cuda" ? `${RTC}/cuda/hip` : null;
  if (dir === null) return "";
  const files = [`${dir}/hip_runtime.h`, `${ROOT}/hip/sim/sim_module.h`, `${ROOT}/hip/modules.h`];
  return files.filter(isFile).map((f) => Deno.readTextFileSync(f)).join("\n");
}

function defineFlags(defines: CompileRequest["defines"]): string[] {
  return Object.entries(defines ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_]\w*$/.test(k)) throw new KernelCompileError(`bad define name ${JSON.stringify(k)}`, "");
    return v === true ? `-D${k}` : `-D${k}=${v === false ? 0 : v}`;
  });
}

/** The wrapper a sim module is built from: the source, then one table entry per kernel. */
function simWrapper(source: string, kernels: readonly string[]): string {
  return [
    "#include <hip/hip_runtime.h>",
    `#include ${JSON.stringify(source)}`,
    ...kernels.map((k) => `FL_SIM_EXPORT_KERNEL(${k})`),
    'extern "C" __attribute__((visibility("default"))) const fl_sim_module *fl_sim_module_kernels(void) {',
    `  static const fl_sim_kernel *table[] = {${kernels.map((k) => `fl_sim_describe_${k}()`).join(", ")}};`,
    `  static const fl_sim_module m = {FL_SIM_MODULE_VERSION, ${kernels.length}, table};`,
    "  return &m;",
    "}",
    "",
  ].join("\n");
}

function compileSim(req: CompileRequest, cxx: string, out: string): void {
  const wrapper = `${out}.wrapper.cpp`;
  Deno.writeTextFileSync(wrapper, simWrapper(req.source, req.kernels));
  const r = run(cxx, [
    "-std=c++17",
    "-O2",
    "-g",
    "-shared",
    "-fPIC",
    "-pthread",
    `-I${RTC}/sim`,
    `-I${ROOT}/hip`,
    ...defineFlags(req.defines),
    ...(req.flags ?? []),
    wrapper,
    "-o",
    out,
  ]);
  Deno.removeSync(wrapper);
  if (!r.ok) {
    throw new KernelCompileError(`kernel source ${req.source} does not compile for sim (${cxx})`, r.output);
  }
}

function compileNvcc(req: CompileRequest, nvcc: string, out: string): void {
  const r = run(nvcc, [
    "-cubin",
    `-arch=${req.arch ?? "sm_90"}`,
    "-std=c++17",
    "-x",
    "cu",
    `-I${RTC}/cuda`,
    ...defineFlags(req.defines),
    ...(req.flags ?? []),
    req.source,
    "-o",
    out,
  ]);
  if (!r.ok) {
    throw new KernelCompileError(`kernel source ${req.source} does not compile for cuda (${nvcc})`, r.output);
  }
}

function compileHipcc(req: CompileRequest, hipcc: string, out: string): void {
  const r = run(hipcc, [
    "--genco",
    `--offload-arch=${req.arch ?? "gfx90a"}`,
    "-O3",
    "-std=c++17",
    ...defineFlags(req.defines),
    ...(req.flags ?? []),
    req.source,
    "-o",
    out,
  ], { HIP_PLATFORM: "amd" });
  if (!r.ok) {
    throw new KernelCompileError(`kernel source ${req.source} does not compile for hip (${hipcc})`, r.output);
  }
}

/** Compiles (or takes from the cache) `req.source` for `req.backend`. */
export async function compileKernels(req: CompileRequest): Promise<CompiledModule> {
  const files = sourceClosure(req.source);
  const compiler = compilerFor(req.backend);
  const key = await sha256(JSON.stringify({
    files,
    kernels: req.kernels,
    compiler,
    arch: req.arch ?? null,
    defines: req.defines ?? {},
    flags: req.flags ?? [],
    rtc: rtcHeaders(req.backend),
  }));
  const dir = req.cacheDir ?? `${ROOT}/build/kernels`;
  const ext = { sim: "so", cuda: "cubin", hip: "hsaco" }[req.backend];
  const path = `${dir}/${key.slice(0, 32)}.${ext}`;
  const symbolsPath = `${path}.symbols.json`;
  if (isFile(path) && isFile(symbolsPath)) {
    const symbols = JSON.parse(Deno.readTextFileSync(symbolsPath));
    return {
      image: Deno.readFileSync(path),
      path,
      cached: true,
      compileMs: 0,
      compiler: compiler.version,
      symbols,
    };
  }
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp${Deno.pid}`;
  const t0 = performance.now();
  let symbols: Record<string, string> = Object.fromEntries(req.kernels.map((k) => [k, k]));
  try {
    if (req.backend === "sim") compileSim(req, compiler.path, tmp);
    else if (compiler.kind === "nvrtc" || compiler.kind === "hiprtc") {
      const r = compileInProcess(req, compiler.path, compiler.kind, files[0].text);
      Deno.writeFileSync(tmp, r.cubin);
      symbols = r.lowered;
    } else if (req.backend === "cuda") compileNvcc(req, compiler.path, tmp);
    else compileHipcc(req, compiler.path, tmp);
    Deno.writeTextFileSync(symbolsPath, JSON.stringify(symbols));
    Deno.renameSync(tmp, path);
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* renamed, or never written */ }
  }
  const compileMs = performance.now() - t0;
  return {
    image: Deno.readFileSync(path),
    path,
    cached: false,
    compileMs,
    compiler: compiler.version,
    symbols,
  };
}

/** NVRTC (cuda) or hipRTC (hip) on the source's text; the source's folder is on the include path. */
function compileInProcess(req: CompileRequest, lib: string, flavor: "nvrtc" | "hiprtc", text: string) {
  const dir = `-I${req.source.slice(0, req.source.lastIndexOf("/"))}`;
  const target = flavor === "nvrtc"
    ? [`--gpu-architecture=${req.arch ?? "sm_90"}`, "-std=c++17", `-I${RTC}/cuda`, dir, ...cudaIncludeFlags()]
    : [`--offload-arch=${req.arch ?? "gfx90a"}`, "-O3", dir];
  const options = [...target, ...defineFlags(req.defines), ...(req.flags ?? [])];
  try {
    return compileWithRtc(lib, { source: text, name: req.source, kernels: req.kernels, options }, flavor);
  } catch (e) {
    throw new KernelCompileError(
      `kernel source ${req.source} does not compile for ${
        req.backend === "cuda" ? "cuda (NVRTC)" : "hip (hipRTC)"
      }`,
      (e as Error).message,
    );
  }
}

/** Where NVRTC finds the CUDA headers (cuda_fp16.h and friends). */
function cudaIncludeFlags(): string[] {
  const home = Deno.env.get("CUDA_HOME") ?? "/usr/local/cuda";
  return [`${home}/include`, `${home}/targets/x86_64-linux/include`].filter((d) => {
    try {
      return Deno.statSync(d).isDirectory;
    } catch {
      return false;
    }
  }).map((d) => `-I${d}`);
}
