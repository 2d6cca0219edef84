/**
 * Finds, loads and checks libfaultline.so.
 *
 * Path: $FAULTLINE_LIB if set; otherwise build/<backend>/libfaultline.so under
 * the repository root. Backend: $FAULTLINE_BACKEND (sim | cuda | hip), or
 * automatic: cuda if its library exists, loads and reports a device, then hip
 * likewise, else sim. The choice is printed once to stderr
 * ("faultline: backend cuda, device 0: NVIDIA H100 80GB HBM3") unless
 * $FAULTLINE_QUIET=1.
 */
import { type BuildInfo, readBuildInfo } from "./build_info.ts";
import { FaultlineLoadError, setStatusTranslator } from "./errors.ts";
import { kernelTableHash } from "./kernel_spec.ts";
import { builtinKernels } from "./kernels_builtin.ts";
import {
  expectedExports,
  exportName,
  FL_ABI_VERSION,
  type NativeLib,
  type NativeSymbols,
  symbols,
} from "./symbols.ts";

/** A build of the native library. */
export type Backend = "sim" | "cuda" | "hip";
/** Every backend, in the order the loader tries them when a GPU answers. */
export const BACKENDS: readonly Backend[] = ["cuda", "hip", "sim"];

/** The repository root (the directory holding deno.json). */
export const repoRoot: URL = new URL("../", import.meta.url);

/** build/<backend>/libfaultline.so under the repository root, as a file path. */
export function libraryPath(backend: Backend): string {
  return decodeURIComponent(new URL(`build/${backend}/libfaultline.so`, repoRoot).pathname);
}

export const BUILD_COMMAND = "deno task build";

/** A loaded native library: the dlopen handle, its functions and what it reports about itself. */
export interface LoadedLibrary {
  /** The Deno.dlopen handle (its `close()` unloads it). */
  lib: NativeLib;
  /** The library's functions. */
  symbols: NativeSymbols;
  /** The backend the library reports (fl_backend_name). */
  backend: string;
  /** The file it was loaded from. */
  path: string;
  /** Devices the backend sees. */
  deviceCount: number;
  /** fl_device_props name of device 0, or "" when there is none. */
  device0Name: string;
  /** What the library was built for (<library>.json), null when that is not known. */
  build: BuildInfo | null;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}

/** Opens one library file and checks its ABI version and every symbol of the table. */
export function openLibrary(path: string): LoadedLibrary {
  if (!exists(path)) {
    throw new FaultlineLoadError(
      `faultline: native library not found at ${path}; build it with \`${BUILD_COMMAND}\``,
    );
  }
  let probe: Deno.DynamicLibrary<{ fl_abi_version: typeof symbols.fl_abi_version }>;
  try {
    probe = Deno.dlopen(path, { fl_abi_version: symbols.fl_abi_version });
  } catch (e) {
    throw new FaultlineLoadError(`faultline: cannot load ${path}: ${(e as Error).message}`, { cause: e });
  }
  const v = new Int32Array(1);
  const st = probe.symbols.fl_abi_version(v);
  probe.close();
  if (st !== 0 || v[0] !== FL_ABI_VERSION) {
    throw new FaultlineLoadError(
      `faultline: ${path} has ABI version ${st === 0 ? v[0] : `unknown (status ${st})`}, ` +
        `but ffi/symbols.ts is written for ABI version ${FL_ABI_VERSION}; rebuild with \`${BUILD_COMMAND}\``,
    );
  }
  checkKernelTable(path);
  let lib: NativeLib;
  try {
    lib = Deno.dlopen(path, symbols);
  } catch (e) {
    const missing = missingSymbols(path);
    const what = missing.length
      ? `missing symbol${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`
      : (e as Error).message;
    throw new FaultlineLoadError(
      `faultline: ${path} does not match ffi/symbols.ts: ${what}; rebuild with \`${BUILD_COMMAND}\``,
      { cause: e },
    );
  }
  const s = lib.symbols;
  const nameBuf = new Uint8Array(64);
  s.fl_backend_name(nameBuf, nameBuf.length);
  const count = new Int32Array(1);
  const cst = s.fl_device_count(count);
  const deviceCount = cst === 0 ? count[0] : 0;
  let device0Name = "";
  if (deviceCount > 0) {
    const props = new Uint8Array(312);
    if (s.fl_device_props_get(0, props) === 0) device0Name = cString(props.subarray(0, 256));
  }
  const build = readBuildInfo(path);
  return { lib, symbols: s, backend: cString(nameBuf), path, deviceCount, device0Name, build };
}

/**
 * Refuses a library whose kernel launch exports were generated from other
 * declarations than ffi/kernels_builtin.ts (an argument added, reordered or
 * retyped would otherwise reach the kernel in the wrong place).
 */
function checkKernelTable(path: string): void {
  const want = kernelTableHash(builtinKernels);
  let have: bigint | null = null;
  try {
    const probe = Deno.dlopen(path, { fl_kernel_table_hash: symbols.fl_kernel_table_hash });
    const out = new BigUint64Array(1);
    if (probe.symbols.fl_kernel_table_hash(out) === 0) have = out[0];
    probe.close();
  } catch {
    return; // no such export: the full load names it with every other missing symbol
  }
  if (have === want) return;
  throw new FaultlineLoadError(
    `faultline: ${path} was built from other kernel declarations than ffi/kernels_builtin.ts ` +
      `(kernel table ${have === null ? "unknown" : `0x${have.toString(16)}`}, expected 0x${
        want.toString(16)
      }); ` +
      `rebuild with \`${BUILD_COMMAND}\``,
  );
}

/** The table's symbols that `path` does not export (probed one by one). */
export function missingSymbols(path: string): string[] {
  const missing: string[] = [];
  const defs = symbols as Record<string, Deno.ForeignFunction>;
  for (const name of expectedExports()) {
    const key = Object.keys(defs).find((k) => exportName(k) === name && !defs[k].nonblocking) ?? name;
    try {
      Deno.dlopen(path, { [name]: { parameters: defs[key].parameters, result: defs[key].result } }).close();
    } catch {
      missing.push(name);
    }
  }
  return missing;
}

function announce(l: LoadedLibrary): void {
  if (env("FAULTLINE_QUIET") === "1") return;
  const dev = l.deviceCount > 0 ? `device 0: ${l.device0Name}` : "no device";
  const targets = l.backend !== "sim" && l.build ? ` (${l.build.targets.join(", ")})` : "";
  console.error(`faultline: backend ${l.backend}${targets}, ${dev}`);
}

function installTranslator(s: NativeSymbols): void {
  const names = new Map<number, string>();
  const messages = new Map<number, string>();
  const buf = new Uint8Array(256);
  const read = (fn: typeof s.fl_error_name, code: number): string => {
    buf.fill(0);
    return fn(code, buf, buf.length) === 0 ? cString(buf) : `status ${code}`;
  };
  setStatusTranslator({
    name(code) {
      let v = names.get(code);
      if (v === undefined) names.set(code, v = read(s.fl_error_name, code));
      return v;
    },
    message(code) {
      let v = messages.get(code);
      if (v === undefined) messages.set(code, v = read(s.fl_error_string, code));
      return v;
    },
  });
}

/** Picks and opens a library as the environment asks, without caching it. */
export function resolveLibrary(): LoadedLibrary {
  const override = env("FAULTLINE_LIB");
  if (override) return openLibrary(override);
  const wanted = env("FAULTLINE_BACKEND");
  if (wanted) {
    if (!(BACKENDS as readonly string[]).includes(wanted)) {
      throw new FaultlineLoadError(
        `faultline: FAULTLINE_BACKEND=${wanted} is not one of ${BACKENDS.join(", ")}`,
      );
    }
    const path = libraryPath(wanted as Backend);
    if (!exists(path)) {
      throw new FaultlineLoadError(
        `faultline: no ${wanted} library; looked for ${path}; build it with \`${BUILD_COMMAND}\``,
      );
    }
    return openLibrary(path);
  }
  const tried: string[] = [];
  const problems: string[] = [];
  for (const backend of ["cuda", "hip"] as const) {
    const path = libraryPath(backend);
    tried.push(path);
    if (!exists(path)) continue;
    try {
      const l = openLibrary(path);
      if (l.deviceCount > 0) return l;
      l.lib.close();
      problems.push(`${backend}: no device`);
    } catch (e) {
      problems.push(`${backend}: ${(e as Error).message}`);
    }
  }
  const sim = libraryPath("sim");
  tried.push(sim);
  if (!exists(sim)) {
    throw new FaultlineLoadError(
      `faultline: no native library found; looked for ${tried.join(", ")}` +
        (problems.length ? ` (${problems.join("; ")})` : "") +
        `; build it with \`${BUILD_COMMAND}\``,
    );
  }
  return openLibrary(sim);
}

let loaded: LoadedLibrary | null = null;

/** The process's library, loaded on first use. */
export function loadLibrary(): LoadedLibrary {
  if (loaded) return loaded;
  const l = resolveLibrary();
  installTranslator(l.symbols);
  announce(l);
  loaded = l;
  return l;
}

/** The loaded library's symbols (loads it on first use). */
export function native(): NativeSymbols {
  return (loaded ?? loadLibrary()).symbols;
}
