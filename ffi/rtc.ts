/**
 * Run-time compilation through Deno FFI: NVRTC (a CUDA source to a .cubin)
 * and hipRTC (a HIP source to an AMD code object), which share one API under
 * two prefixes. One name expression per kernel, so C++ kernels (not only
 * extern "C" ones) are found by their lowered names.
 */

import { isFile } from "./files.ts";

/** NVRTC's entry points; hipRTC's are the same with the prefix "hiprtc" (and hiprtcGetCode for the code). */
const nvrtcSymbols = {
  /** nvrtcResult nvrtcVersion(int *major, int *minor) */
  nvrtcVersion: { parameters: ["buffer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int numHeaders, const char *const *headers, const char *const *includeNames) */
  nvrtcCreateProgram: {
    parameters: ["buffer", "buffer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
  },
  /** nvrtcResult nvrtcAddNameExpression(nvrtcProgram prog, const char *name_expression) */
  nvrtcAddNameExpression: { parameters: ["pointer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char *const *options) */
  nvrtcCompileProgram: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet) */
  nvrtcGetProgramLogSize: { parameters: ["pointer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log) */
  nvrtcGetProgramLog: { parameters: ["pointer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet) */
  nvrtcGetCUBINSize: { parameters: ["pointer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin) */
  nvrtcGetCUBIN: { parameters: ["pointer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcGetLoweredName(nvrtcProgram prog, const char *name_expression, const char **lowered_name) */
  nvrtcGetLoweredName: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /** nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog) */
  nvrtcDestroyProgram: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

function dirsWithNvrtc(): string[] {
  const home = Deno.env.get("CUDA_HOME") ?? Deno.env.get("CUDA_PATH") ?? "/usr/local/cuda";
  const dirs = [`${home}/lib64`, `${home}/lib`, `${home}/targets/x86_64-linux/lib`];
  // the nvidia-cuda-nvrtc Python package (e.g. beside PyTorch)
  for (const py of ["/opt/torch/.venv/lib", "/usr/local/lib", "/usr/lib"]) {
    try {
      for (const e of Deno.readDirSync(py)) {
        if (!e.name.startsWith("python3")) continue;
        for (const pkg of ["dist-packages", "site-packages"]) {
          dirs.push(`${py}/${e.name}/${pkg}/nvidia/cu13/lib`, `${py}/${e.name}/${pkg}/nvidia/cuda_nvrtc/lib`);
        }
      }
    } catch { /* no such directory */ }
  }
  return dirs;
}

export type RtcFlavor = "nvrtc" | "hiprtc";

type RtcSymbols = typeof nvrtcSymbols;

/** The symbol table of `flavor`, keyed by NVRTC's names. */
function rtcSymbols(flavor: RtcFlavor): RtcSymbols {
  if (flavor === "nvrtc") return nvrtcSymbols;
  const out: Record<string, Deno.ForeignFunction> = {};
  for (const [k, v] of Object.entries(nvrtcSymbols)) {
    const name = k === "nvrtcGetCUBIN"
      ? "hiprtcGetCode"
      : k === "nvrtcGetCUBINSize"
      ? "hiprtcGetCodeSize"
      : k.replace(/^nvrtc/, "hiprtc");
    out[k] = { ...v, name };
  }
  return out as unknown as RtcSymbols;
}

/** hipRTC (in libamdhip64 on ROCm 5, libhiprtc on ROCm 6) and its version, or null. $FAULTLINE_HIPRTC names it. */
export function findHiprtc(): { path: string; version: string } | null {
  const explicit = Deno.env.get("FAULTLINE_HIPRTC");
  const rocm = Deno.env.get("ROCM_PATH") ?? "/opt/rocm";
  const dirs = [`${rocm}/lib`, "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"];
  const names = [/^libhiprtc\.so(\.\d+)*$/, /^libamdhip64\.so(\.\d+)*$/];
  const candidates = explicit ? [explicit] : names.flatMap((re) =>
    dirs.flatMap((d) => {
      try {
        return [...Deno.readDirSync(d)].filter((e) => re.test(e.name)).map((e) => `${d}/${e.name}`);
      } catch {
        return [];
      }
    })
  );
  return probe(candidates, "hiprtc");
}

function probe(candidates: string[], flavor: RtcFlavor): { path: string; version: string } | null {
  for (const path of candidates.filter(isFile)) {
    try {
      const lib = Deno.dlopen(path, { nvrtcVersion: rtcSymbols(flavor).nvrtcVersion });
      const major = new Int32Array(1), minor = new Int32Array(1);
      const st = lib.symbols.nvrtcVersion(major, minor);
      lib.close();
      if (st === 0) return { path, version: `${major[0]}.${minor[0]}` };
    } catch { /* not loadable here, or not this flavor */ }
  }
  return null;
}

/** libnvrtc and its version, or null where it is not installed. $FAULTLINE_NVRTC names it explicitly. */
export function findNvrtc(): { path: string; version: string } | null {
  const explicit = Deno.env.get("FAULTLINE_NVRTC");
  const candidates = explicit ? [explicit] : dirsWithNvrtc().flatMap((d) => {
    try {
      return [...Deno.readDirSync(d)].filter((e) => /^libnvrtc\.so(\.\d+)*$/.test(e.name)).map((e) =>
        `${d}/${e.name}`
      );
    } catch {
      return [];
    }
  });
  return probe(candidates, "nvrtc");
}

export interface RtcRequest {
  source: string;
  /** The program's name in messages (the source path). */
  name: string;
  kernels: readonly string[];
  options: readonly string[];
}

/** Compiles with the NVRTC (or hipRTC) at `path`; throws with its log when the source does not compile. */
export function compileWithRtc(
  path: string,
  req: RtcRequest,
  flavor: RtcFlavor = "nvrtc",
): { cubin: Uint8Array; lowered: Record<string, string> } {
  const lib = Deno.dlopen(path, rtcSymbols(flavor));
  const s = lib.symbols;
  const prog = new BigUint64Array(1);
  try {
    if (s.nvrtcCreateProgram(prog, cstr(req.source), cstr(req.name), 0, null, null) !== 0) {
      throw new Error("nvrtcCreateProgram failed");
    }
    const handle = Deno.UnsafePointer.create(prog[0]);
    const exprs = req.kernels.map((k) => cstr(`&${k}`));
    for (const e of exprs) s.nvrtcAddNameExpression(handle, e);
    const opts = req.options.map(cstr);
    const table = new BigUint64Array(
      opts.map((o) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(o)))),
    );
    const st = s.nvrtcCompileProgram(handle, opts.length, table);
    const size = new BigUint64Array(1);
    s.nvrtcGetProgramLogSize(handle, size);
    const log = new Uint8Array(Number(size[0]) + 1);
    s.nvrtcGetProgramLog(handle, log);
    const logText = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim();
    if (st !== 0) {
      const err = new Error(logText || `${flavor} error ${st}`);
      err.name = "NvrtcCompileError";
      throw err;
    }
    s.nvrtcGetCUBINSize(handle, size);
    const cubin = new Uint8Array(Number(size[0]));
    s.nvrtcGetCUBIN(handle, cubin);
    const lowered: Record<string, string> = {};
    req.kernels.forEach((k, i) => {
      const out = new BigUint64Array(1);
      if (s.nvrtcGetLoweredName(handle, exprs[i], out) !== 0 || out[0] === 0n) return;
      lowered[k] = Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(out[0])!);
    });
    return { cubin, lowered };
  } finally {
    if (prog[0] !== 0n) s.nvrtcDestroyProgram(prog);
    lib.close();
  }
}
