/**
 * A user's own kernels in an experiment: `loadKernels` compiles a HIP-dialect
 * source (or takes a prebuilt code object), loads it on a device, finds each
 * declared kernel and checks its declaration against the real parameter
 * layout; from then on `launch(device, stream, kernel, args)` launches it
 * through the same boundary as the built-in kernels (journal, guard rails,
 * redzones, race check, replay), through one generic export
 * (fl_launch_function) with a packed argument buffer.
 *
 *   const rope = defineKernel({
 *     name: "rope_user",
 *     args: [{ name: "x", type: "ptr", access: "rw", elem: 4, extent: (a) => a.n * 4 }, { name: "n", type: "u32" }],
 *     grid: (a) => Math.ceil(a.n / 256),
 *     block: 256,
 *   });
 *   await loadKernels(device, { source: "kernels/examples/rope.hip", kernels: [rope] });
 *   launch(device, stream, rope, { x: buf, n: 4096 });
 */
import type { LaunchGeometry } from "./boundary.ts";
import {
  type AmdgpuArg,
  amdgpuKernelArgs,
  elfFunctionSymbols,
  isElf,
  isOffloadBundle,
  kernelSymbol,
  offloadBundleEntries,
} from "./code_object.ts";
import type { Device } from "./device.ts";
import { check, FaultlineUsageError } from "./errors.ts";
import {
  type CompileBackend,
  compileKernels,
  globalFunctions,
  KernelCompileError,
} from "./kernel_compile.ts";
import { argLayout, argSize, type Dim3, type KernelDescriptor, type PerLaunch } from "./kernel_spec.ts";
import { runtime } from "./runtime.ts";

/** What `loadKernels` loads: a source or a code object, and the kernels to take from it. */
export interface LoadKernelsOptions {
  /** A HIP-dialect kernel source (path or file URL), compiled for the device's backend. */
  source?: string | URL;
  /** A prebuilt code object instead: .cubin/.fatbin/.ptx on cuda, .hsaco/.co on hip, a sim module on sim. */
  codeObject?: string | URL;
  /** The kernels to take from it, each declared once with `defineKernel` (grid and block included). */
  kernels: readonly KernelDescriptor[];
  /** Preprocessor definitions for the source. */
  defines?: Readonly<Record<string, string | number | boolean>>;
  /** Extra compiler flags. */
  flags?: readonly string[];
  /** Compile target: "sm_90" (default: the device's), "gfx942" (default gfx90a). */
  arch?: string;
  /** Compiled code object cache (default build/kernels/). */
  cacheDir?: string;
}

/** Overrides of a loaded kernel's declared geometry for one launch. */
export interface LaunchGeometryOptions {
  /** Blocks: x, or [x, y, z]. */
  grid?: Dim3;
  /** Threads per block: x, or [x, y, z]. */
  block?: Dim3;
  /** Bytes of dynamic shared memory. */
  sharedBytes?: number;
}

/** One parameter as the backend reports it. */
interface RealParam {
  offset: number;
  size: number;
  kind: "pointer" | "value" | "unknown";
}

/** A declared kernel loaded on one device: its native function and the buffers its launches reuse. */
export class LoadedKernel {
  /** The geometry of the launch being made (refilled by `prepare`). */
  readonly geometry: LaunchGeometry = { grid: [1, 1, 1], block: [1, 1, 1], sharedBytes: 0 };
  readonly #dims = new Uint32Array(6);
  /** The same bytes as a Uint8Array: Deno's fast FFI path takes buffers as Uint8Array only. */
  readonly #dimBytes = new Uint8Array(this.#dims.buffer);
  readonly #args: Uint8Array<ArrayBuffer>;
  readonly #view: DataView;
  readonly #name: Uint8Array<ArrayBuffer>;
  readonly #offsets: number[];
  readonly #bytes: bigint;
  readonly #numeric: Record<string, number> = {};

  /** `fn` is the native function handle fl_module_function gave for `kernel` in `module`. */
  constructor(
    readonly module: KernelModule,
    readonly kernel: KernelDescriptor,
    readonly fn: bigint,
  ) {
    const layout = argLayout(kernel.args);
    this.#offsets = layout.offsets;
    this.#bytes = BigInt(layout.bytes);
    this.#args = new Uint8Array(Math.max(layout.bytes, 1));
    this.#view = new DataView(this.#args.buffer);
    this.#name = new TextEncoder().encode(kernel.name + "\0");
  }

  /** Packs the launch's native argument values and computes its geometry (before the boundary sees it). */
  prepare(values: readonly (number | bigint)[], over?: LaunchGeometryOptions): void {
    const args = this.kernel.args;
    for (let i = 0; i < args.length; i++) {
      const v = values[i], at = this.#offsets[i];
      switch (args[i].type) {
        case "ptr":
        case "u64":
          this.#view.setBigUint64(at, typeof v === "bigint" ? v : BigInt(v), true);
          break;
        case "u32":
          this.#view.setUint32(at, Number(v), true);
          break;
        case "i32":
          this.#view.setInt32(at, Number(v), true);
          break;
        case "f32":
          this.#view.setFloat32(at, Number(v), true);
          break;
      }
      this.#numeric[args[i].name] = Number(v);
    }
    const k = this.kernel, g = this.geometry, n = this.#numeric;
    dim3Into(g.grid, over?.grid ?? perLaunch(k.grid, n, k.name, "grid"), k.name, "grid");
    dim3Into(g.block, over?.block ?? perLaunch(k.block, n, k.name, "block"), k.name, "block");
    const shared = over?.sharedBytes ??
      (k.sharedBytes === undefined ? 0 : perLaunch(k.sharedBytes, n, k.name, "sharedBytes"));
    if (!Number.isInteger(shared) || shared < 0 || shared > 0xffffffff) {
      throw new FaultlineUsageError(
        `launch ${k.name}: sharedBytes must be a non-negative integer, got ${shared}`,
      );
    }
    g.sharedBytes = shared;
    const d = this.#dims;
    d[0] = g.grid[0],
      d[1] = g.grid[1],
      d[2] = g.grid[2],
      d[3] = g.block[0],
      d[4] = g.block[1],
      d[5] = g.block[2];
  }

  /** The native launch of what `prepare` packed. */
  launch(dev: number, stream: bigint): number {
    this.module.assertLoaded(this.kernel.name);
    return this.module.device.symbols.fl_launch_function(
      dev,
      stream,
      this.fn,
      this.#dimBytes,
      this.geometry.sharedBytes,
      this.#args,
      this.#bytes,
      this.#name,
    );
  }
}

function perLaunch<T>(
  v: PerLaunch<T> | undefined,
  args: Record<string, number>,
  kernel: string,
  what: string,
): T {
  if (v === undefined) {
    throw new FaultlineUsageError(
      `launch ${kernel}: no ${what}: declare one with defineKernel or pass { ${what} }`,
    );
  }
  return typeof v === "function" ? (v as (a: Record<string, number>) => T)(args) : v;
}

function dim3Into(out: [number, number, number], d: Dim3, kernel: string, what: string): void {
  if (typeof d === "number") out[0] = d, out[1] = 1, out[2] = 1;
  else out[0] = d[0], out[1] = d[1] ?? 1, out[2] = d[2] ?? 1;
  for (let i = 0; i < 3; i++) {
    const v = out[i];
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) {
      throw new FaultlineUsageError(
        `launch ${kernel}: ${what} must be positive integers, got ${JSON.stringify(d)}`,
      );
    }
  }
}

const loaded = new WeakMap<KernelDescriptor, Map<number, LoadedKernel>>();

/** The kernel as loaded on device `ordinal`, or undefined (a built-in kernel, or not loaded there). */
export function loadedKernel(kernel: KernelDescriptor, ordinal: number): LoadedKernel | undefined {
  return loaded.get(kernel)?.get(ordinal);
}

/** Whether `kernel` was ever loaded with loadKernels (on any device). */
export function isLoadable(kernel: KernelDescriptor): boolean {
  return loaded.has(kernel);
}

/** A code object loaded on a device, with the declared kernels taken from it. */
export class KernelModule {
  #handle: bigint;
  #unloaded = false;
  /** The names of the kernels taken from it. */
  readonly kernels: readonly string[];

  /** Made by `loadKernels`. */
  constructor(
    readonly device: Device,
    handle: bigint,
    /** The code object's path (in the cache, for a compiled source). */
    readonly path: string,
    /** True when a compiled source came from the cache (no compiler ran). */
    readonly cached: boolean,
    /** Milliseconds the compiler took (0 from the cache or for a prebuilt code object). */
    readonly compileMs: number,
    /** The compiler that built it, or "prebuilt". */
    readonly compiler: string,
    kernels: readonly KernelDescriptor[],
  ) {
    this.#handle = handle;
    this.kernels = kernels.map((k) => k.name);
  }

  /** The native module handle. */
  get handle(): bigint {
    return this.#handle;
  }

  /** Throws a usage error naming `kernel` once the module was unloaded. */
  assertLoaded(kernel: string): void {
    if (this.#unloaded) {
      throw new FaultlineUsageError(`launch ${kernel}: its module (${this.path}) was unloaded`);
    }
  }

  /** Unloads the code object; its kernels can no longer be launched on this device. */
  unload(): void {
    if (this.#unloaded) return;
    this.#unloaded = true;
    check(this.device.symbols.fl_module_unload(this.device.ordinal, this.#handle), "fl_module_unload");
  }
}

function pathOf(p: string | URL): string {
  return p instanceof URL
    ? decodeURIComponent(p.pathname)
    : p.startsWith("file://")
    ? decodeURIComponent(new URL(p).pathname)
    : p;
}

function absolute(p: string): string {
  return p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
}

function readCodeObject(path: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    throw new FaultlineUsageError(`cannot read code object ${path}: ${(e as Error).message}`);
  }
}

function checkOptions(opts: LoadKernelsOptions): void {
  const known = ["source", "codeObject", "kernels", "defines", "flags", "arch", "cacheDir"];
  const unknown = Object.keys(opts).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new FaultlineUsageError(
      `loadKernels: unknown option ${unknown.join(", ")} (valid: ${known.join(", ")})`,
    );
  }
  if ((opts.source === undefined) === (opts.codeObject === undefined)) {
    throw new FaultlineUsageError("loadKernels: give exactly one of source or codeObject");
  }
  if (!Array.isArray(opts.kernels) || opts.kernels.length === 0) {
    throw new FaultlineUsageError(
      "loadKernels: kernels must list at least one kernel declared with defineKernel",
    );
  }
  for (const k of opts.kernels) {
    if (!k || typeof k.name !== "string" || !/^[A-Za-z_]\w*$/.test(k.name) || !Array.isArray(k.args)) {
      throw new FaultlineUsageError(
        `loadKernels: ${JSON.stringify(k?.name)} is not a kernel declared with defineKernel`,
      );
    }
  }
}

/**
 * Compiles (or reads) the code object, loads it on `device`, and registers
 * each declared kernel for `launch`. Throws KernelCompileError with the
 * compiler's message for a source that does not compile, and
 * FaultlineUsageError for a declaration that disagrees with the kernel.
 */
export async function loadKernels(device: Device, opts: LoadKernelsOptions): Promise<KernelModule> {
  checkOptions(opts);
  const backend = runtime().backend as CompileBackend;
  let image: Uint8Array, path: string, cached = false, compileMs = 0, compiler = "prebuilt";
  let symbols: Record<string, string> = {};
  if (opts.source !== undefined) {
    const source = absolute(pathOf(opts.source));
    const defined = globalFunctions(source);
    for (const k of opts.kernels) {
      if (!defined.includes(k.name)) {
        throw new FaultlineUsageError(
          `kernel ${k.name} is not in ${source} (its __global__ functions: ${defined.join(", ") || "none"})`,
        );
      }
    }
    const arch = opts.arch ?? defaultArch(device, backend);
    const c = await compileKernels({
      backend,
      source,
      kernels: opts.kernels.map((k) => k.name),
      arch,
      defines: opts.defines,
      flags: opts.flags,
      cacheDir: opts.cacheDir,
    });
    ({ image, path, cached, compileMs, compiler, symbols } = c);
  } else {
    path = absolute(pathOf(opts.codeObject!));
    image = readCodeObject(path);
  }
  if (backend === "hip" && isOffloadBundle(image)) image = hipImageFor(image, path);
  const native = backend === "cuda" && path.endsWith(".ptx") ? withNul(image) : image;
  const out = new BigUint64Array(1);
  const st = device.symbols.fl_module_load(
    device.ordinal,
    native as Uint8Array<ArrayBuffer>,
    BigInt(image.length),
    out,
  );
  if (st !== 0) {
    throw new FaultlineUsageError(
      `cannot load ${path} on device ${device.ordinal} (${backend}): status ${st}`,
    );
  }
  const module = new KernelModule(device, out[0], path, cached, compileMs, compiler, opts.kernels);
  try {
    const names = isElf(image) ? safeSymbols(image) : [];
    const hipArgs = backend === "hip" && isElf(image) ? amdgpuKernelArgs(image) : null;
    for (const k of opts.kernels) {
      const symbol = symbols[k.name] ?? kernelSymbol(names, k.name) ?? k.name;
      const fn = findFunction(device, module, k, symbol, path);
      checkLayout(k, realLayout(device, fn, hipArgs?.get(symbol)), path);
      let perDevice = loaded.get(k);
      if (!perDevice) loaded.set(k, perDevice = new Map());
      perDevice.set(device.ordinal, new LoadedKernel(module, k, fn));
    }
  } catch (e) {
    module.unload();
    throw e;
  }
  return module;
}

/** The device's own target: sm_XY on cuda; on hip the library's first AMD target (what its build detected). */
function defaultArch(device: Device, backend: CompileBackend): string | undefined {
  if (backend === "cuda") return `sm_${device.props.major}${device.props.minor}`;
  if (backend === "hip") return runtime().build?.targets.find((t) => t.startsWith("gfx")) ?? "gfx90a";
  return undefined;
}

function safeSymbols(image: Uint8Array): string[] {
  try {
    return elfFunctionSymbols(image);
  } catch {
    return [];
  }
}

function withNul(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(image.length + 1);
  out.set(image);
  return out;
}

/** The gfx code object of a hipcc --genco bundle. */
function hipImageFor(bundle: Uint8Array, path: string): Uint8Array {
  const amd = offloadBundleEntries(bundle).filter((e) => e.triple.includes("amdgcn"));
  if (amd.length === 0) throw new FaultlineUsageError(`${path} holds no AMD GPU code object`);
  return amd[0].image;
}

function findFunction(
  device: Device,
  module: KernelModule,
  k: KernelDescriptor,
  symbol: string,
  path: string,
): bigint {
  const out = new BigUint64Array(1);
  const st = device.symbols.fl_module_function(
    device.ordinal,
    module.handle,
    new TextEncoder().encode(symbol + "\0"),
    out,
  );
  if (st === 500) {
    throw new FaultlineUsageError(
      `kernel ${k.name} is not in ${path} (a __global__ function of that name, extern "C" or a non-template C++ function)`,
    );
  }
  check(st, "fl_module_function");
  return out[0];
}

/** The kernel's parameters as the backend reports them, or null where it cannot tell. */
function realLayout(device: Device, fn: bigint, hipArgs: AmdgpuArg[] | undefined): RealParam[] | null {
  if (hipArgs) {
    return hipArgs.filter((a) => !a.valueKind.startsWith("hidden_")).map((a) => ({
      offset: a.offset,
      size: a.size,
      kind: a.valueKind === "global_buffer" ? "pointer" : a.valueKind === "by_value" ? "value" : "unknown",
    }));
  }
  const off = new BigUint64Array(1), size = new BigUint64Array(1), kind = new Int32Array(1);
  const params: RealParam[] = [];
  for (let i = 0; i < 4096; i++) {
    const st = device.symbols.fl_function_param(device.ordinal, fn, i, off, size, kind);
    if (st === 801) return null;
    if (st !== 0) break;
    params.push({
      offset: Number(off[0]),
      size: Number(size[0]),
      kind: ["unknown", "pointer", "value"][kind[0]] as RealParam["kind"],
    });
  }
  return params;
}

/** Refuses a declaration that disagrees with the kernel's real parameters, naming the parameter. */
function checkLayout(k: KernelDescriptor, real: RealParam[] | null, path: string): void {
  if (real === null) return;
  const where = `kernel ${k.name} (${path})`;
  const declared = argLayout(k.args);
  if (real.length !== k.args.length) {
    throw new FaultlineUsageError(
      `${where} takes ${real.length} parameter(s) but is declared with ${k.args.length} (${
        k.args.map((a) => a.name).join(", ") || "none"
      })`,
    );
  }
  k.args.forEach((a, i) => {
    const r = real[i], size = argSize(a.type);
    const what = `${where}: argument ${i} (${a.name}) is declared ${a.type}`;
    if (r.size !== size) {
      throw new FaultlineUsageError(`${what} (${size} bytes) but parameter ${i} is ${r.size} bytes`);
    }
    if (r.offset !== declared.offsets[i]) {
      throw new FaultlineUsageError(
        `${what} at offset ${declared.offsets[i]} but parameter ${i} is at offset ${r.offset}`,
      );
    }
    if (r.kind === "pointer" && a.type !== "ptr") {
      throw new FaultlineUsageError(`${what} but parameter ${i} is a pointer`);
    }
    if (r.kind === "value" && a.type === "ptr") {
      throw new FaultlineUsageError(`${what} but parameter ${i} is not a pointer`);
    }
  });
}

export { KernelCompileError };
