/**
 * Kernel launches. A kernel is described once by a KernelDescriptor (its
 * export and its arguments, with how each pointer argument touches memory);
 * `launch(device, stream, kernel, args)` validates the arguments (usage
 * errors before any native call), describes the launch to the boundary when an
 * observer is attached, and calls the export.
 *
 * Declaring a kernel (ffi/kernel_spec.ts; the built-in ones in ffi/kernels_base.ts,
 * ffi/kernels_llama.ts):
 *
 *   export const fill = defineKernel({
 *     name: "fill",                      // kernel name; a built-in one's export is fl_launch_fill
 *     args: [
 *       { name: "dst", type: "ptr", access: "w", elem: 4, extent: (a) => a.n * 4 },
 *       { name: "n", type: "u64" },
 *       { name: "value", type: "f32" },
 *     ],
 *   });
 *   launch(device, stream, fill, { dst: buf, n: 1024, value: 1.5 });
 *
 * The args are passed to the export in the order declared, after the device
 * and the stream.
 */
import { boundary, type NativeCall, type OpContext, type PointerArg } from "./boundary.ts";
import { DeviceBuffer, DeviceSlice, streamHandle } from "./buffer.ts";
import { hostDeviceId, makeCall, through } from "./call.ts";
import type { Device } from "./device.ts";
import { check, FaultlineUsageError } from "./errors.ts";
import type { Stream } from "./stream.ts";
import type { NativeSymbols } from "./symbols.ts";
import { isLoadable, type LaunchGeometryOptions, type LoadedKernel, loadedKernel } from "./kernel_module.ts";
import { type KernelArgSpec, type KernelDescriptor, launchSymbol } from "./kernel_spec.ts";
import { describe } from "./validate.ts";

export {
  defineKernel,
  type KernelArgSpec,
  type KernelArgType,
  type KernelDescriptor,
} from "./kernel_spec.ts";

/** A pointer argument: a raw device address, a buffer (its ptr), or `buffer.at(offset)`. */
export type PointerValue = number | DeviceBuffer | DeviceSlice;

/** The argument object `launch` takes for a kernel: pointers for "ptr", numbers otherwise. */
export type KernelArgs<K extends KernelDescriptor> = {
  [A in K["args"][number] as A["name"]]: A["type"] extends "ptr" ? PointerValue : number;
};

type NativeLaunch = (dev: number, stream: bigint, ...a: (number | bigint)[]) => number;

/** A loaded kernel's launch goes through its LoadedKernel, never through Compiled.fn. */
const noLaunch: NativeLaunch = () => {
  throw new Error("unreachable: a loaded kernel launches through its LoadedKernel");
};

interface Compiled {
  symbols: NativeSymbols;
  /** A kernel loaded at run time (loadKernels): launched through fl_launch_function. */
  loadable: boolean;
  /** The launch export's name (errors name it). */
  symbol: string;
  fn: NativeLaunch;
  /** Native argument values, reused between launches (bigint for ptr/u64). */
  values: (number | bigint)[];
  /** The same arguments as numbers (pointers as addresses), by name: what `extent` gets. */
  numeric: Record<string, number>;
  /** The NativeCall reused between launches while every observer is transient (null: build one). */
  call: NativeCall | null;
  /** A launch of this kernel is between before() and after() (a nested one builds its own call). */
  busy: boolean;
  /** Refills the reused call's numbers from `values` (built for this kernel's argument names). */
  fill: CallFill | null;
}

type CallFill = (
  values: (number | bigint)[],
  numeric: Record<string, number>,
  scalars: Record<string, number>,
  pointers: PointerArg[],
) => void;

/**
 * The refill of a kernel's reused call, as code written for its argument
 * names: every property access in it has one constant name and one object
 * shape, where a loop over the argument specs would look each name up in a
 * table shared by all kernels (about a third of a launch's TypeScript cost).
 */
function callFill(kernel: KernelDescriptor): CallFill {
  const lines: string[] = [];
  let k = 0;
  kernel.args.forEach((spec, i) => {
    const name = JSON.stringify(spec.name);
    lines.push(`const n${i} = typeof values[${i}] === "number" ? values[${i}] : Number(values[${i}]);`);
    lines.push(`numeric[${name}] = n${i};`);
  });
  kernel.args.forEach((spec, i) => {
    const name = JSON.stringify(spec.name);
    if (spec.type !== "ptr") lines.push(`scalars[${name}] = n${i};`);
    else {
      lines.push(`const p${k} = pointers[${k}];`, `p${k}.ptr = n${i};`);
      lines.push(spec.extent ? `p${k}.bytes = extents[${i}](numeric);` : `p${k}.bytes = 0;`);
      k++;
    }
  });
  const make = new Function(
    "extents",
    `return (values, numeric, scalars, pointers) => {\n${lines.join("\n")}\n};`,
  ) as (extents: unknown[]) => CallFill;
  return make(kernel.args.map((spec) => spec.extent ?? null));
}

const compiled = new WeakMap<KernelDescriptor, Compiled>();

function compile(device: Device, kernel: KernelDescriptor): Compiled {
  const loadable = isLoadable(kernel);
  const symbol = loadable ? "fl_launch_function" : launchSymbol(kernel);
  const fn = loadable ? noLaunch : (device.symbols as unknown as Record<string, NativeLaunch>)[symbol];
  if (typeof fn !== "function") {
    throw new FaultlineUsageError(
      `kernel ${kernel.name} is neither built in (no export ${symbol}) nor loaded: ` +
        `load it with loadKernels(device, { source, kernels: [${kernel.name}] })`,
    );
  }
  const numeric: Record<string, number> = {};
  for (const spec of kernel.args) numeric[spec.name] = 0;
  const c: Compiled = {
    symbols: device.symbols,
    loadable,
    symbol,
    fn,
    values: new Array<number | bigint>(kernel.args.length).fill(0),
    numeric,
    call: null,
    busy: false,
    fill: null,
  };
  compiled.set(kernel, c);
  return c;
}

function argValue(
  device: Device,
  kernel: KernelDescriptor,
  spec: KernelArgSpec,
  v: unknown,
): number | bigint {
  switch (spec.type) {
    case "ptr":
      if (typeof v === "number") {
        if (Number.isSafeInteger(v) && v >= 0) return BigInt(v);
      } else if (v instanceof DeviceBuffer) {
        // The message is built only on failure: this runs for every pointer of every launch.
        if (!v.usableOn(device)) v.assertUsable(`launch ${kernel.name}: argument ${spec.name}`, device);
        return v.ptr64;
      } else if (v instanceof DeviceSlice) {
        if (!v.buffer.usableOn(device)) {
          v.buffer.assertUsable(`launch ${kernel.name}: argument ${spec.name}`, device);
        }
        return BigInt(v.ptr);
      }
      break;
    case "u32":
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
      break;
    case "i32":
      if (typeof v === "number" && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return v;
      break;
    case "u64":
      if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
      break;
    case "f32":
      if (typeof v === "number") return v;
      break;
  }
  if (v === undefined) throw new FaultlineUsageError(`launch ${kernel.name}: missing argument ${spec.name}`);
  const want = spec.type === "ptr"
    ? "a DeviceBuffer, buffer.at(offset) or a device address (non-negative integer below 2^53)"
    : spec.type === "f32"
    ? "a number"
    : spec.type === "u64"
    ? "a non-negative integer below 2^53"
    : `an integer in the ${spec.type} range`;
  throw new FaultlineUsageError(
    `launch ${kernel.name}: argument ${spec.name} must be ${want}, got ${describe(v)}`,
  );
}

/**
 * Launches `kernel` on `stream` (default: the device's default stream). Returns
 * when the kernel is queued; a fault inside it surfaces at a later sync or copy.
 * Throws FaultlineUsageError for bad arguments (before any native call) and
 * FaultlineError when the launch itself fails (e.g. 9, invalid configuration).
 */
export function launch<K extends KernelDescriptor>(
  device: Device,
  stream: Stream | undefined | null,
  kernel: K,
  args: KernelArgs<K>,
  geometry?: LaunchGeometryOptions,
): void {
  let c = compiled.get(kernel);
  if (c === undefined || c.symbols !== device.symbols) c = compile(device, kernel);
  const specs = kernel.args;
  // a launch of the same kernel from inside an observer gets arrays of its own
  const values = c.busy ? new Array<number | bigint>(specs.length) : c.values;
  const a = args as unknown as Record<string, unknown>;
  for (let i = 0; i < specs.length; i++) values[i] = argValue(device, kernel, specs[i], a[specs[i].name]);
  const s = stream == null ? 0 : streamHandle(stream, device, `launch ${kernel.name}`);
  const s64 = stream == null ? 0n : stream.handle64;
  const dev = device.ordinal;
  const lk = c.loadable ? loadedOn(kernel, dev, values, geometry) : builtIn(kernel, geometry);
  if (!boundary.active) return check(lk ? lk.launch(dev, s64) : invoke(c.fn, dev, s64, values), c.symbol);

  if (boundary.reuse && !c.busy) return launchReused(device, kernel, c, s, s64, lk);

  const numeric: Record<string, number> = {};
  for (let i = 0; i < specs.length; i++) numeric[specs[i].name] = Number(values[i]);
  const scalars: Record<string, number> = {};
  const pointers: PointerArg[] = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    if (spec.type !== "ptr") {
      scalars[spec.name] = Number(values[i]);
      continue;
    }
    const bytes = spec.extent ? spec.extent(numeric) : 0;
    pointers.push({
      arg: spec.name,
      ptr: Number(values[i]),
      bytes,
      access: spec.access ?? "rw",
      elem: spec.elem ?? 1,
    });
  }
  const call = makeCall("launch", kernel.name, dev, s, scalars, pointers);
  if (lk) {
    const g = lk.geometry;
    call.geometry = { grid: [...g.grid], block: [...g.block], sharedBytes: g.sharedBytes };
    return check(through(device.symbols, call, () => lk.launch(dev, s64)), c.symbol);
  }
  const argv = values.slice();
  check(through(device.symbols, call, () => invoke(c.fn, dev, s64, argv)), c.symbol);
}

/** The loaded kernel of device `dev`, its arguments packed and its geometry computed. */
function loadedOn(
  kernel: KernelDescriptor,
  dev: number,
  values: readonly (number | bigint)[],
  geometry: LaunchGeometryOptions | undefined,
): LoadedKernel {
  const lk = loadedKernel(kernel, dev);
  if (!lk) {
    throw new FaultlineUsageError(
      `launch ${kernel.name}: not loaded on device ${dev}: call loadKernels(device, { ..., kernels: [${kernel.name}] }) first`,
    );
  }
  lk.prepare(values, geometry);
  return lk;
}

function builtIn(kernel: KernelDescriptor, geometry: LaunchGeometryOptions | undefined): undefined {
  if (geometry !== undefined) {
    throw new FaultlineUsageError(
      `launch ${kernel.name}: grid, block and sharedBytes are for loaded kernels; a built-in kernel's geometry is its own`,
    );
  }
  return undefined;
}

/** The call object of `kernel`'s launches, built once: scalars and pointers in declared order. */
function pooledCall(kernel: KernelDescriptor, dev: number): NativeCall {
  const scalars: Record<string, number> = {};
  const pointers: PointerArg[] = [];
  for (const spec of kernel.args) {
    if (spec.type !== "ptr") scalars[spec.name] = 0;
    else {
      pointers.push({ arg: spec.name, ptr: 0, bytes: 0, access: spec.access ?? "rw", elem: spec.elem ?? 1 });
    }
  }
  const context: OpContext = { step: undefined, layer: undefined, op: undefined };
  const device = hostDeviceId(dev);
  return { id: 0, kind: "launch", name: kernel.name, device, stream: 0, scalars, pointers, context };
}

/**
 * The launch through the boundary when every observer is transient: the
 * kernel's one NativeCall is refilled in place (no allocation per launch).
 * A call an observer blocks (throws) is left to the error and not reused.
 */
function launchReused(
  device: Device,
  kernel: KernelDescriptor,
  c: Compiled,
  s: number,
  s64: bigint,
  lk: LoadedKernel | undefined,
): void {
  const dev = device.ordinal;
  let call = c.call;
  if (call === null || call.device !== hostDeviceId(dev)) call = c.call = pooledCall(kernel, dev);
  call.geometry = lk?.geometry;
  const values = c.values;
  (c.fill ??= callFill(kernel))(values, c.numeric, call.scalars, call.pointers);
  const ctx = boundary.context;
  const cc = call.context;
  cc.step = ctx.step;
  cc.layer = ctx.layer;
  cc.op = ctx.op;
  call.id = boundary.nextId();
  call.stream = s;
  const sym = device.symbols;
  c.busy = true;
  let status: number;
  try {
    sym.fl_set_tag(BigInt(call.id));
    boundary.before(call);
    status = lk ? lk.launch(dev, s64) : invoke(c.fn, dev, s64, values);
    boundary.after(call, status);
  } catch (e) {
    c.call = null; // an error may hold the call
    throw e;
  } finally {
    c.busy = false;
  }
  check(status, c.symbol);
}

function invoke(fn: NativeLaunch, dev: number, s: bigint, v: (number | bigint)[]): number {
  switch (v.length) {
    case 0:
      return fn(dev, s);
    case 1:
      return fn(dev, s, v[0]);
    case 2:
      return fn(dev, s, v[0], v[1]);
    case 3:
      return fn(dev, s, v[0], v[1], v[2]);
    case 4:
      return fn(dev, s, v[0], v[1], v[2], v[3]);
    case 5:
      return fn(dev, s, v[0], v[1], v[2], v[3], v[4]);
    case 6:
      return fn(dev, s, v[0], v[1], v[2], v[3], v[4], v[5]);
    case 7:
      return fn(dev, s, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    case 8:
      return fn(dev, s, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    default:
      return fn(dev, s, ...v);
  }
}
