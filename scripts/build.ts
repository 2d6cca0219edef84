/**
 * Builds the native library, build/<backend>/libfaultline.so, for each backend:
 *
 * - sim:  the system C compiler over hip/sim/*.c (always built);
 * - cuda: nvcc over hip/gpu_*.cpp and every .hip file under kernels/ (any depth; not kernels/examples/, which are loaded at run time),
 *         through hip/vendor.h (-DFL_BACKEND_CUDA), static cudart; built where nvcc exists;
 * - hip:  hipcc (HIP_PLATFORM=amd) over the same files; built where hipcc exists
 *         (ROCm's in /opt/rocm preferred). Targets: --hip-arch, else this machine's
 *         AMD GPUs, else gfx90a and gfx942; those hipcc does not know are added by
 *         clang (scripts/hip_build/).
 *
 * hip/host/*.c (host-side helpers) go into every backend, compiled by the C compiler.
 *
 * Beside each library, the trace interposer (hip/trace/, `deno task trace`):
 * build/<backend>/libfaultline_trace.so (the CUDA driver API hooks on sim and
 * cuda, the HIP runtime hooks on hip), and on sim the stand-in driver
 * build/sim/driver/libcuda.so.1 over libfaultline.so. Built with the C
 * compiler against the CUDA header (or the HIP headers); skipped with a note
 * where those are missing.
 * The kernels' launch exports are generated first, from their declarations
 * (ffi/kernels_builtin.ts), into build/gen/ (scripts/codegen/kernel_exports.ts).
 *
 *   deno run -A scripts/build.ts [--backend sim|cuda|hip|all[,...]] [--if-needed]
 *       [--quiet] [--verbose] [--cuda-arch 80,90] [--hip-arch gfx90a] [--jobs N]
 *
 * With no --backend: sim plus every backend whose compiler is found. Sources
 * compile to separate objects in parallel (--jobs, default: the CPU count),
 * then link. --if-needed skips a backend whose library is newer than all its
 * sources, headers and this script, and was built with the same commands.
 * Beside each library, <library>.json records its targets (ffi/build_info.ts).
 */
import { type CliArgs, intFlag, parseCli, runCli, UsageError } from "./cli/flags.ts";
import { type BuildInfo, buildInfoPath, readBuildInfo } from "../ffi/build_info.ts";
import { isFile, onPath } from "../ffi/files.ts";
import { builtinKernels, kernelConstants } from "../ffi/kernels_builtin.ts";
import { journalHeader } from "./codegen/journal_header.ts";
import { generateKernelSources } from "./codegen/kernel_exports.ts";
import { chooseHipTargets, DEFAULT_HIP_TARGETS, type HipTargets } from "./hip_build/arch.ts";
import { type Compile, type Step, withClangTargets } from "./hip_build/fatbin.ts";
import { findHipcc } from "./hip_build/tools.ts";

export type BackendName = "sim" | "cuda" | "hip";
export const BACKENDS: readonly BackendName[] = ["sim", "cuda", "hip"];

export interface BuildOptions {
  /** Skip the backend when its library is up to date. */
  ifNeeded?: boolean;
  /** Print nothing on success. */
  quiet?: boolean;
  /** Say on stderr when a backend is compiled (also with quiet): a first run is not silent. */
  progress?: boolean;
  /** Print every compiler command. */
  verbose?: boolean;
  /** CUDA architectures: machine code for each, PTX for the highest ("80", "sm_90", "90a"). */
  cudaArch?: string[];
  /** AMD targets ("gfx942", "gfx90a:xnack+"); default: this machine's GPUs, else DEFAULT_HIP_TARGETS. */
  hipArch?: string[];
  /** Parallel compiler processes. */
  jobs?: number;
  /** Repository root (default: the parent of scripts/). */
  root?: string;
}

export interface BuildResult {
  backend: BackendName;
  /** Absolute path of the library. */
  library: string;
  /** True when --if-needed found it up to date. */
  skipped: boolean;
  sources: number;
  seconds: number;
  /** What the library was built for (also in <library>.json). */
  info: BuildInfo;
  /** Default targets left out, and why. */
  notes: string[];
}

/** A failed build: names the backend and carries the compiler's output. */
export class BuildError extends Error {
  constructor(readonly backend: BackendName, message: string, readonly output = "") {
    super(`build ${backend} failed: ${message}`);
    this.name = "BuildError";
  }
}

export const DEFAULT_CUDA_ARCH = ["80", "90"];
export { DEFAULT_HIP_TARGETS };

const SCRIPT = decodeURIComponent(new URL(import.meta.url).pathname);
const DEFAULT_ROOT = dirname(dirname(SCRIPT));

const C_FLAGS = [
  "-std=c11",
  "-D_GNU_SOURCE",
  "-O2",
  "-g",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-fPIC",
  "-pthread",
  "-fvisibility=hidden",
  "-Ihip",
  "-Ikernels",
  "-Ibuild/gen",
];

const GEN_DIR = "build/gen";

function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}

/** The library's path for a backend. */
export function libraryPath(backend: BackendName, root = DEFAULT_ROOT): string {
  return join(root, "build", backend, "libfaultline.so");
}

/** The compiler a backend needs, or null where it is not installed. */
export function compilerFor(backend: BackendName): string | null {
  const first = (...c: (string | null | undefined)[]) => c.find((p) => p && isFile(p)) ?? null;
  switch (backend) {
    case "sim": {
      const cc = Deno.env.get("CC");
      return cc ? (cc.includes("/") ? first(cc) : onPath(cc)) : onPath("cc");
    }
    case "cuda": {
      const home = Deno.env.get("CUDA_HOME") ?? Deno.env.get("CUDA_PATH");
      return first(
        Deno.env.get("NVCC"),
        onPath("nvcc"),
        home ? join(home, "bin/nvcc") : null,
        "/usr/local/cuda/bin/nvcc",
      );
    }
    case "hip":
      return findHipcc();
  }
}

/** The GPU vendor whose device files this machine has, if any (no library needed to ask). */
function gpuVendor(): "cuda" | "hip" | null {
  const exists = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (exists("/dev/nvidiactl") || exists("/dev/nvidia0")) return "cuda";
  if (exists("/dev/kfd")) return "hip";
  return null;
}

/**
 * The backends a run here will load (--for-run): sim, plus $FAULTLINE_BACKEND's
 * or the present GPU's where its compiler is found. A machine with nvcc but no
 * GPU builds sim only.
 */
export function backendsForRun(): BackendName[] {
  const asked = Deno.env.get("FAULTLINE_BACKEND");
  const want = asked === "cuda" || asked === "hip" ? asked : asked === "sim" ? null : gpuVendor();
  return want && compilerFor(want) !== null ? ["sim", want] : ["sim"];
}

/** sim, plus every GPU backend whose compiler is found. */
export function availableBackends(): BackendName[] {
  return BACKENDS.filter((b) => b === "sim" || compilerFor(b) !== null);
}

/** Files under `dir` (relative to root) whose names end with one of `exts`. */
function listFiles(root: string, dir: string, exts: string[], recursive: boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(join(root, rel))];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory && recursive) walk(path);
      else if (e.isFile && exts.some((x) => e.name.endsWith(x))) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

interface Plan {
  compiles: Compile[];
  link: Step;
  /** GPU targets (sim: the CPU architecture), who chose them, which compiler builds each. */
  targets: Pick<BuildInfo, "targets" | "chosen_by" | "compilers">;
  /** Files whose change rebuilds the library besides the sources: headers, this script. */
  deps: string[];
}

function cudaArchs(list: string[]): string[] {
  const archs = list.map((a) => a.trim().replace(/^(sm_|compute_)/, "")).filter((a) => a !== "");
  if (archs.length === 0 || archs.some((a) => !/^\d+[a-z]?$/.test(a))) {
    throw new Error(`bad --cuda-arch ${list.join(",")} (expected e.g. 80,90)`);
  }
  return [...new Set(archs)].sort((a, b) => parseInt(a) - parseInt(b));
}

function cudaGencode(sorted: string[]): string[] {
  const flags = sorted.flatMap((a) => ["-gencode", `arch=compute_${a},code=sm_${a}`]);
  const top = sorted[sorted.length - 1];
  return [...flags, "-gencode", `arch=compute_${top},code=compute_${top}`];
}

/**
 * Writes the generated kernel sources into build/gen/, each only when its
 * content changed (so its mtime tells the incremental build what changed),
 * through a rename (so parallel builds never read a half-written file).
 */
export function writeGeneratedSources(root = DEFAULT_ROOT): void {
  const geometry = listFiles(root, "kernels", [".h"], true)
    .filter((p) => /\/launch_config[^/]*\.h$/.test(p))
    .map((p) => p.slice("kernels/".length));
  const files: Record<string, string> = {
    ...generateKernelSources(builtinKernels, kernelConstants, geometry),
    "fl_journal_format.h": journalHeader(),
  };
  Deno.mkdirSync(join(root, GEN_DIR), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const path = join(root, GEN_DIR, name);
    if (readText(path) === text) continue;
    const tmp = `${path}.tmp${Deno.pid}`;
    Deno.writeTextFileSync(tmp, text);
    Deno.renameSync(tmp, path);
  }
}

function plan(
  backend: BackendName,
  root: string,
  compiler: string,
  opts: BuildOptions,
  hip: HipTargets | null,
): Plan {
  const objDir = join("build", backend, "obj");
  const objOf = (src: string) => join(objDir, src.replace(/\//g, "__") + ".o");
  const headers = [
    ...listFiles(root, "hip", [".h"], true),
    ...listFiles(root, "kernels", [".h"], true),
    ...listFiles(root, GEN_DIR, [".h"], false),
  ];
  const deps = [...headers, SCRIPT, ...listFiles(root, "scripts/hip_build", [".ts"], false)];
  const cc = compilerFor("sim");
  const hostSources = listFiles(root, "hip/host", [".c"], false);
  const cStep = (src: string): Step => {
    if (!cc) throw new BuildError(backend, "no C compiler (cc) found for hip/host/*.c");
    return { cmd: cc, args: [...C_FLAGS, "-c", src, "-o", objOf(src)] };
  };
  const hostCompiles = hostSources.map((src) => ({ src, obj: objOf(src), step: cStep(src) }));
  const lib = libraryPath(backend, root);
  const exportsMap = join(root, "build", backend, "exports.map");

  if (backend === "sim") {
    const sources = [...listFiles(root, "hip/sim", [".c"], false), `${GEN_DIR}/fl_kernel_exports_sim.c`];
    if (sources.length === 0) throw new BuildError("sim", "no sources in hip/sim");
    const compiles = [...sources.map((src) => ({ src, obj: objOf(src), step: cStep(src) })), ...hostCompiles];
    return {
      compiles,
      link: { cmd: compiler, args: ["-shared", "-pthread", ...compiles.map((c) => c.obj), "-o", lib, "-lm"] },
      deps,
      targets: { targets: [Deno.build.arch], chosen_by: "host", compilers: { [Deno.build.arch]: compiler } },
    };
  }

  const gpuSources = [
    ...listFiles(root, "hip", [".cpp"], false).filter((p) => /^hip\/gpu_[^/]*\.cpp$/.test(p)),
    // kernels/examples/ holds sources loaded at run time (loadKernels), not built in
    ...listFiles(root, "kernels", [".hip"], true).filter((p) => !p.startsWith("kernels/examples/")),
    `${GEN_DIR}/fl_kernel_exports_gpu.cpp`,
  ];
  if (gpuSources.length === 0) throw new BuildError(backend, "no sources (hip/gpu_*.cpp, kernels/**/*.hip)");

  if (backend === "cuda") {
    const archs = cudaArchs(opts.cudaArch ?? DEFAULT_CUDA_ARCH);
    const gencode = cudaGencode(archs);
    const compiles = gpuSources.map((src) => ({
      src,
      obj: objOf(src),
      step: {
        cmd: compiler,
        args: [
          "-x",
          "cu",
          "-DFL_BACKEND_CUDA",
          "-O3",
          "-std=c++17",
          "-lineinfo",
          ...gencode,
          "-Xcompiler",
          "-fPIC,-fvisibility=hidden",
          "-Ihip",
          "-Ikernels",
          `-I${GEN_DIR}`,
          "-c",
          src,
          "-o",
          objOf(src),
        ],
      },
    }));
    const all = [...compiles, ...hostCompiles];
    return {
      compiles: all,
      link: {
        cmd: compiler,
        args: [
          "-shared",
          "--cudart",
          "static",
          ...all.map((c) => c.obj),
          "-ldl", // hip/gpu_blas.cpp loads cuBLAS at run time
          "-o",
          lib,
          "-Xlinker",
          `--version-script=${exportsMap}`,
        ],
      },
      deps,
      targets: {
        targets: archs.map((a) => `sm_${a}`),
        chosen_by: opts.cudaArch ? "--cuda-arch" : "default",
        compilers: Object.fromEntries(archs.map((a) => [`sm_${a}`, compiler])),
      },
    };
  }

  if (!hip) throw new Error("hip targets not chosen");
  const offload = hip.hipccArch.map((a) => `--offload-arch=${a}`);
  const env = { HIP_PLATFORM: "amd" };
  const hipccCompiles = gpuSources.map((src) => ({
    src,
    obj: objOf(src),
    step: {
      cmd: compiler,
      env,
      args: [
        "-x",
        "hip",
        ...offload,
        "-O3",
        "-std=c++17",
        "-fPIC",
        "-fvisibility=hidden",
        "-Ihip",
        "-Ikernels",
        `-I${GEN_DIR}`,
        "-c",
        src,
        "-o",
        objOf(src),
      ],
    },
  }));
  const all = [...withClangTargets(hipccCompiles, hip, compiler, root), ...hostCompiles];
  return {
    compiles: all,
    link: {
      cmd: compiler,
      env,
      args: [
        "-shared",
        "-fPIC",
        ...offload,
        ...all.map((c) => c.obj),
        "-o",
        lib,
        `-Wl,--version-script=${exportsMap}`,
      ],
    },
    deps,
    targets: { targets: hip.targets, chosen_by: hip.chosenBy, compilers: hip.compilers },
  };
}

function showCommand(s: Step): string {
  const env = Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v} `).join("");
  return env + [s.cmd, ...s.args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(" ");
}

async function run(backend: BackendName, root: string, s: Step, opts: BuildOptions): Promise<string> {
  if (opts.verbose) console.log(showCommand(s));
  const r = await new Deno.Command(s.cmd, {
    args: s.args,
    cwd: root,
    env: s.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const output = (dec.decode(r.stdout) + dec.decode(r.stderr)).trimEnd();
  if (!r.success) {
    throw new BuildError(backend, `${showCommand(s)} exited with ${r.code}`, output);
  }
  return output;
}

/** Runs `tasks` with at most `jobs` at a time; the first failure is thrown after the running ones end. */
async function pool<T>(jobs: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (failure === null && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]();
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tasks.length)) }, worker));
  if (failure !== null) throw failure;
  return results;
}

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/**
 * Builds one backend into build/<backend>/libfaultline.so. Throws BuildError
 * (naming the backend, with the compiler's output) when a compiler is missing
 * or a step fails.
 */
export async function buildBackend(backend: BackendName, opts: BuildOptions = {}): Promise<BuildResult> {
  if (!BACKENDS.includes(backend)) throw new Error(`unknown backend ${backend} (sim, cuda or hip)`);
  const t0 = performance.now();
  const root = opts.root ?? DEFAULT_ROOT;
  const compiler = compilerFor(backend);
  writeGeneratedSources(root);
  if (!compiler) {
    const name = { sim: "cc", cuda: "nvcc", hip: "hipcc" }[backend];
    throw new BuildError(backend, `${name} not found`);
  }
  const hip = backend === "hip" ? await hipTargets(compiler, opts) : null;
  const p = plan(backend, root, compiler, opts, hip);
  const lib = libraryPath(backend, root);
  const outDir = dirname(lib);
  const stampPath = join(outDir, "build.json");
  const stamp = JSON.stringify(
    {
      compiles: p.compiles.map((c) => showCommand(c.step) + (c.finish ? ` && ${c.finish.describe}` : "")),
      link: showCommand(p.link),
    },
    null,
    1,
  );
  const newestDep = Math.max(...p.deps.map((d) => mtime(d.startsWith("/") ? d : join(root, d))));
  const sameStamp = readText(stampPath) === stamp;
  const result = (skipped: boolean): BuildResult => ({
    backend,
    library: lib,
    skipped,
    sources: p.compiles.length,
    seconds: (performance.now() - t0) / 1000,
    info: skipped ? recordedBuildInfo(backend, lib, p) : writeBuildInfo(backend, lib, p),
    notes: hip?.notes ?? [],
  });

  if (opts.ifNeeded && sameStamp) {
    const newest = Math.max(newestDep, ...p.compiles.map((c) => mtime(join(root, c.src))));
    if (mtime(lib) > newest) return result(true);
  }

  // One build of a backend at a time, across processes (parallel test files
  // may all ask for it): the second waits, then finds it up to date.
  Deno.mkdirSync(join(root, "build", backend, "obj"), { recursive: true });
  const lock = await Deno.open(join(outDir, ".lock"), { create: true, write: true });
  try {
    await lock.lock(true);
    if (opts.ifNeeded && readText(stampPath) === stamp) {
      const newest = Math.max(newestDep, ...p.compiles.map((c) => mtime(join(root, c.src))));
      if (mtime(lib) > newest) return result(true);
    }
    const t = performance.now();
    if (opts.progress) {
      console.error(`faultline: building the ${backend} backend (${p.compiles.length} sources)...`);
    }
    await compileAndLink(backend, root, p, lib, stamp, opts, readText(stampPath) === stamp, newestDep);
    if (opts.progress) {
      console.error(`faultline: ${backend} built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    lock.close();
  }
  return result(false);
}

async function hipTargets(hipcc: string, opts: BuildOptions): Promise<HipTargets> {
  try {
    return await chooseHipTargets(hipcc, opts.hipArch);
  } catch (e) {
    throw new BuildError("hip", e instanceof Error ? e.message : String(e));
  }
}

function writeBuildInfo(backend: BackendName, lib: string, p: Plan): BuildInfo {
  const info: BuildInfo = {
    backend,
    ...p.targets,
    library_bytes: Deno.statSync(lib).size,
    built: new Date().toISOString(),
  };
  Deno.writeTextFileSync(buildInfoPath(lib), JSON.stringify(info, null, 1) + "\n");
  return info;
}

/** An up-to-date library's build info, rewritten when missing or when the same build was chosen another way. */
function recordedBuildInfo(backend: BackendName, lib: string, p: Plan): BuildInfo {
  const info = readBuildInfo(lib);
  const same = info && JSON.stringify([info.targets, info.chosen_by, info.compilers]) ===
      JSON.stringify([p.targets.targets, p.targets.chosen_by, p.targets.compilers]);
  return same ? info : writeBuildInfo(backend, lib, p);
}

async function compileAndLink(
  backend: BackendName,
  root: string,
  p: Plan,
  lib: string,
  stamp: string,
  opts: BuildOptions,
  sameStamp: boolean,
  newestDep: number,
): Promise<void> {
  const stampPath = join(dirname(lib), "build.json");
  Deno.writeTextFileSync(
    join(root, "build", backend, "exports.map"),
    "{\n  global: fl_*;\n  local: *;\n};\n",
  );
  // Stale objects are reused only under --if-needed, when newer than their
  // source, every header and this script, and built with the same commands.
  const fresh = (c: Plan["compiles"][number]) =>
    opts.ifNeeded && sameStamp && mtime(join(root, c.obj)) > Math.max(newestDep, mtime(join(root, c.src)));
  const jobs = opts.jobs ?? navigator.hardwareConcurrency;
  const outputs = await pool(
    jobs,
    p.compiles.filter((c) => !fresh(c)).map((c) => async () => {
      const out = await run(backend, root, c.step, opts);
      const more = await c.finish?.run((s) => run(backend, root, s, opts));
      return [out, more ?? ""].filter((o) => o !== "").join("\n");
    }),
  );
  // Link into a temporary name, then rename: a process that has the old
  // library loaded keeps it, and a failed link leaves the old one in place.
  const tmp = `${lib}.tmp${Deno.pid}`;
  const link = { ...p.link, args: p.link.args.map((a) => (a === lib ? tmp : a)) };
  try {
    outputs.push(await run(backend, root, link, opts));
    Deno.renameSync(tmp, lib);
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch { /* renamed */ }
  }
  Deno.writeTextFileSync(stampPath, stamp);
  const warnings = outputs.filter((o) => o !== "").join("\n");
  if (warnings && !opts.quiet) console.log(warnings);
}

// ---------------------------------------------------------------- the trace interposer

/** A shared library built beside a backend's own: the trace interposer, the sim's stand-in driver. */
interface ExtraLibrary {
  backend: BackendName;
  /** Path relative to the root. */
  path: string;
  sources: string[];
  cflags: string[];
  linkArgs: string[];
  /** Files whose change rebuilds it besides the sources. */
  deps: string[];
  /** Extra names (symlinks) for the library, in its folder. */
  aliases?: string[];
}

/** The interposer a backend's programs are traced with. */
export function traceLibraryPath(backend: BackendName, root = DEFAULT_ROOT): string {
  return join(root, "build", backend, "libfaultline_trace.so");
}

/** The folder of the sim's stand-in libcuda.so.1 (for LD_LIBRARY_PATH and -L). */
export function simDriverDir(root = DEFAULT_ROOT): string {
  return join(root, "build", "sim", "driver");
}

/** The CUDA driver header's folder, or null. */
export function cudaIncludeDir(): string | null {
  const home = Deno.env.get("CUDA_HOME") ?? Deno.env.get("CUDA_PATH") ?? "/usr/local/cuda";
  for (const d of [join(home, "include"), "/usr/local/cuda/include", "/usr/include"]) {
    if (isFile(join(d, "cuda.h"))) return d;
  }
  return null;
}

/** The folder holding hip/hip_runtime_api.h, or null. */
function hipIncludeDir(): string | null {
  for (const d of ["/opt/rocm/include", "/usr/include"]) {
    if (isFile(join(d, "hip/hip_runtime_api.h"))) return d;
  }
  return null;
}

function traceLibraries(
  backend: BackendName,
  root: string,
): { libs: ExtraLibrary[]; skipped: string | null } {
  const common = listFiles(root, "hip/trace", [".c"], false).filter((p) => /\/trace_[^/]*\.c$/.test(p));
  const headers = [...listFiles(root, "hip/trace", [".h"], true), `${GEN_DIR}/fl_journal_format.h`, SCRIPT];
  const base = [
    "-std=gnu11",
    "-D_GNU_SOURCE",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fPIC",
    "-pthread",
  ];
  const flags = [...base, "-fvisibility=hidden", "-Ihip/trace", `-I${GEN_DIR}`];
  const lib = (b: BackendName) => `build/${b}/libfaultline_trace.so`;
  if (backend === "hip") {
    const inc = hipIncludeDir();
    if (!inc) return { libs: [], skipped: "trace interposer skipped (no hip/hip_runtime_api.h)" };
    const sources = [
      ...common,
      ...listFiles(root, "hip/trace", [".c"], false).filter((p) => /\/hip_/.test(p)),
    ];
    return {
      libs: [{
        backend,
        path: lib(backend),
        sources,
        cflags: [...flags, "-D__HIP_PLATFORM_AMD__", `-I${inc}`],
        linkArgs: ["-ldl"],
        deps: headers,
      }],
      skipped: null,
    };
  }
  const inc = cudaIncludeDir();
  if (!inc) return { libs: [], skipped: "trace interposer skipped (no cuda.h: set CUDA_HOME)" };
  const cuda = listFiles(root, "hip/trace", [".c"], false).filter((p) => /\/cuda_/.test(p));
  const libs: ExtraLibrary[] = [{
    backend,
    path: lib(backend),
    sources: [...common, ...cuda],
    cflags: [...flags, `-I${inc}`],
    linkArgs: ["-ldl"],
    deps: headers,
  }];
  if (backend === "sim") libs.push(simDriverLibrary(root, inc, base, headers));
  return { libs, skipped: null };
}

/** The sim's stand-in libcuda.so.1: the CUDA driver API subset over build/sim/libfaultline.so. */
function simDriverLibrary(
  root: string,
  cudaInclude: string,
  base: string[],
  headers: string[],
): ExtraLibrary {
  return {
    backend: "sim",
    path: "build/sim/driver/libcuda.so.1",
    sources: listFiles(root, "hip/trace/sim", [".c"], false),
    cflags: [...base, "-fvisibility=hidden", "-Ihip", "-Ihip/trace", `-I${cudaInclude}`],
    // its functions call each other directly, never through an interposer in front of them
    linkArgs: [
      "-Wl,-soname,libcuda.so.1",
      "-Wl,-Bsymbolic-functions",
      "-Lbuild/sim",
      "-lfaultline",
      "-Wl,-rpath,$ORIGIN/..",
      "-ldl",
    ],
    deps: [...headers, ...listFiles(root, "hip", [".h"], false), "hip/sim/sim_module.h"],
    aliases: ["libcuda.so"],
  };
}

/**
 * Builds the trace libraries of a backend (after its own library, which the stand-in driver
 * links). Returns one line per library ("<path> (up to date)"), or the reason none was built.
 */
export async function buildTraceLibraries(backend: BackendName, opts: BuildOptions = {}): Promise<string[]> {
  const root = opts.root ?? DEFAULT_ROOT;
  writeGeneratedSources(root);
  const { libs, skipped } = traceLibraries(backend, root);
  if (skipped) return [skipped];
  const out: string[] = [];
  for (const lib of libs) out.push(await buildExtraLibrary(lib, root, opts));
  return out;
}

async function buildExtraLibrary(x: ExtraLibrary, root: string, opts: BuildOptions): Promise<string> {
  const t0 = performance.now();
  const cc = compilerFor("sim");
  if (!cc) throw new BuildError(x.backend, `no C compiler (cc) found for ${x.path}`);
  const name = x.path.slice(x.path.lastIndexOf("/") + 1);
  const objDir = join("build", x.backend, "obj", name.replace(/\W/g, "_"));
  const compiles = x.sources.map((src) => {
    const obj = join(objDir, src.replace(/\//g, "__") + ".o");
    return { src, obj, step: { cmd: cc, args: [...x.cflags, "-c", src, "-o", obj] } };
  });
  const lib = join(root, x.path);
  const link: Step = {
    cmd: cc,
    args: ["-shared", "-pthread", ...compiles.map((c) => c.obj), "-o", lib, ...x.linkArgs],
  };
  const stamp = JSON.stringify({
    compiles: compiles.map((c) => showCommand(c.step)),
    link: showCommand(link),
  });
  const stampPath = `${lib}.build.json`;
  const newest = Math.max(
    ...[...x.deps, ...x.sources].map((d) => mtime(d.startsWith("/") ? d : join(root, d))),
  );
  const fresh = () => readText(stampPath) === stamp && mtime(lib) > newest;
  if (opts.ifNeeded && fresh()) return `${lib} (up to date)`;
  Deno.mkdirSync(join(root, objDir), { recursive: true });
  Deno.mkdirSync(dirname(lib), { recursive: true });
  const lock = await Deno.open(join(root, objDir, ".lock"), { create: true, write: true });
  try {
    await lock.lock(true);
    if (opts.ifNeeded && fresh()) return `${lib} (up to date)`;
    const jobs = opts.jobs ?? navigator.hardwareConcurrency;
    await pool(jobs, compiles.map((c) => () => run(x.backend, root, c.step, opts)));
    const tmp = `${lib}.tmp${Deno.pid}`;
    try {
      await run(x.backend, root, { ...link, args: link.args.map((a) => (a === lib ? tmp : a)) }, opts);
      Deno.renameSync(tmp, lib);
    } finally {
      try {
        Deno.removeSync(tmp);
      } catch { /* renamed */ }
    }
    for (const alias of x.aliases ?? []) {
      const path = join(dirname(lib), alias);
      try {
        Deno.removeSync(path);
      } catch { /* none yet */ }
      Deno.symlinkSync(name, path);
    }
    Deno.writeTextFileSync(stampPath, stamp);
  } finally {
    lock.close();
  }
  return `${lib} (${compiles.length} sources, ${((performance.now() - t0) / 1000).toFixed(1)} s)`;
}

const CLI = {
  name: "build",
  usage: `usage: deno run -A scripts/build.ts [options]
  --backend B     sim, cuda, hip or all; repeat or comma-separate (default: sim and
                  every backend whose compiler is found)
  --if-needed     skip a backend whose library is newer than its sources and headers
  --for-run       build only what a run here loads: sim, plus the GPU backend of the GPU present
                  (or of $FAULTLINE_BACKEND)
  --progress      say on stderr when a backend is compiled, even with --quiet
  --quiet         print nothing on success
  --verbose       print every compiler command
  --cuda-arch L   CUDA architectures (default ${DEFAULT_CUDA_ARCH.join(",")}: sm_80, sm_90 and compute_90 PTX)
  --hip-arch L    AMD targets (default: this machine's AMD GPUs as amdgpu-arch or rocminfo
                  report them, else ${DEFAULT_HIP_TARGETS.join(",")}); hipcc builds those it knows,
                  clang-19 the others (gfx942 with Debian's hipcc 5.2)
  --arch L        either: gfx* entries go to --hip-arch, the others to --cuda-arch
  --jobs N        parallel compiles (default: CPU count)`,
  options: {
    backend: { type: "string", multiple: true },
    "if-needed": { type: "boolean", default: false },
    "for-run": { type: "boolean", default: false },
    progress: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    "cuda-arch": { type: "string" },
    "hip-arch": { type: "string" },
    arch: { type: "string" },
    jobs: { type: "string" },
  },
} as const;

/** --arch's entries split by kind (gfx* for hip), joined to --cuda-arch / --hip-arch. */
function archOptions(arch: string[] = [], cuda?: string[], hip?: string[]) {
  const hipPart = arch.filter((a) => a.startsWith("gfx"));
  const cudaPart = arch.filter((a) => !a.startsWith("gfx"));
  return {
    cudaArch: cuda || cudaPart.length ? [...(cuda ?? []), ...cudaPart] : undefined,
    hipArch: hip || hipPart.length ? [...(hip ?? []), ...hipPart] : undefined,
  };
}

/** "targets gfx90a (/usr/bin/hipcc), gfx942 (/usr/lib/llvm-19/bin/clang); chosen by amdgpu-arch" */
function describeTargets(info: BuildInfo): string {
  const each = info.targets.map((t) => `${t} (${info.compilers[t] ?? "?"})`).join(", ");
  return `targets ${each}; chosen by ${info.chosen_by}`;
}

/** The backends the command line asks for: --for-run's, those named, or every one whose compiler is found. */
function requestedBackends(values: CliArgs<typeof CLI.options>["values"]): BackendName[] {
  if (values["for-run"]) return backendsForRun();
  const requested = (values.backend ?? []).flatMap((b) => split(b) ?? []);
  if (requested.length === 0) {
    const backends = availableBackends();
    if (!values.quiet) {
      for (const b of BACKENDS.filter((b) => !backends.includes(b))) {
        console.log(`build ${b}: skipped (${b === "cuda" ? "nvcc" : "hipcc"} not found)`);
      }
    }
    return backends;
  }
  const bad = requested.filter((b) => b !== "all" && !BACKENDS.includes(b as BackendName));
  if (bad.length) {
    throw new UsageError(`unknown backend ${bad.join(", ")} (${[...BACKENDS, "all"].join(", ")})`);
  }
  return requested.includes("all") ? [...BACKENDS] : BACKENDS.filter((b) => requested.includes(b));
}

const split = (s?: string) => s?.split(",").map((x) => x.trim()).filter((x) => x !== "");

async function main(argv: string[]): Promise<number> {
  const { values } = parseCli(CLI, argv);
  const backends = requestedBackends(values);
  const jobs = intFlag(values.jobs, "jobs", { positive: true });
  const opts: BuildOptions = {
    ifNeeded: values["if-needed"],
    progress: values.progress,
    quiet: values.quiet,
    verbose: values.verbose,
    ...archOptions(split(values.arch), split(values["cuda-arch"]), split(values["hip-arch"])),
    jobs,
  };
  const failed: string[] = [];
  for (const b of backends) {
    try {
      const r = await buildBackend(b, opts);
      if (!opts.quiet) {
        const what = r.skipped ? "up to date" : `${r.sources} sources, ${r.seconds.toFixed(1)} s`;
        console.log(`build ${b}: ${r.library} (${what})`);
        if (b !== "sim") console.log(`  ${describeTargets(r.info)}`);
        for (const n of r.notes) console.log(`  note: ${n}`);
      }
      for (const x of await buildTraceLibraries(b, opts)) {
        if (!opts.quiet) console.log(`build ${b}: ${x}`);
      }
    } catch (e) {
      failed.push(b);
      if (e instanceof BuildError) {
        console.error(e.message);
        if (e.output) console.error(e.output);
      } else {
        console.error(`build ${b} failed: ${e instanceof Error ? e.message : e}`);
      }
    }
  }
  if (failed.length) console.error(`build failed: ${failed.join(", ")}`);
  return failed.length ? 1 : 0;
}

if (import.meta.main) await runCli(CLI, main);
