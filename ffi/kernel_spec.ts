/**
 * The one description of a kernel: its name and its arguments, in order,
 * with how each pointer argument touches memory. Everything else about a
 * built-in kernel is derived from it: the launch export's C prototype and
 * argument struct (generated at build time by scripts/codegen/kernel_exports.ts),
 * the FFI symbol table entry (`kernelSymbols`), the launch path's argument
 * checks and the extents the guard rails check.
 *
 *   export const fill = defineKernel({
 *     name: "fill",
 *     args: [
 *       { name: "dst", type: "ptr", access: "w", elem: 4, extent: (a) => a.n * 4 },
 *       { name: "n", type: "u64" },
 *       { name: "value", type: "f32" },
 *     ],
 *   });
 *
 * This module imports nothing at run time, so the build can read the
 * declarations without loading the library.
 */
import type { Access } from "./boundary.ts";

/** "ptr": a device address (uint64_t); "u32"/"u64"/"i32": integers; "f32": a float. */
export type KernelArgType = "ptr" | "u32" | "u64" | "i32" | "f32";

/** A launch's arguments as numbers (pointers as addresses), what extents and geometry functions see. */
export type KernelArgValues = Readonly<Record<string, number>>;

/** One argument of a kernel, in the order the kernel takes them. */
export interface KernelArgSpec {
  /** Argument name, as in the C prototype. */
  readonly name: string;
  /** How the argument crosses to the kernel. */
  readonly type: KernelArgType;
  /** ptr only: how the kernel touches the memory (default "rw"). */
  readonly access?: Access;
  /** ptr only: element size in bytes, for alignment checks (default 1). */
  readonly elem?: number;
  /**
   * ptr only: bytes the kernel touches from this pointer on, computed from all
   * arguments as numbers (pointers as addresses). Without it the extent is
   * recorded as 0 (unknown).
   */
  readonly extent?: (args: KernelArgValues) => number;
}

/** A grid or block size: x, or [x, y?, z?] (missing dimensions are 1). */
export type Dim3 = number | readonly [number, number?, number?];

/** A value given once, or computed from a launch's arguments (as numbers; pointers as addresses). */
export type PerLaunch<T> = T | ((args: KernelArgValues) => T);

/** A kernel: its name (what fault info and the journal report) and its arguments. */
export interface KernelDescriptor {
  /** Kernel name: a C identifier; a built-in kernel's export is `fl_launch_<name>`. */
  readonly name: string;
  /** The arguments, in the kernel's parameter order. */
  readonly args: readonly KernelArgSpec[];
  /** Loaded kernels only (loadKernels): the grid, unless the launch gives one. */
  readonly grid?: PerLaunch<Dim3>;
  /** Loaded kernels only: the block, unless the launch gives one. */
  readonly block?: PerLaunch<Dim3>;
  /** Loaded kernels only: bytes of dynamic shared memory (default 0). */
  readonly sharedBytes?: PerLaunch<number>;
}

/** Identity function that keeps a descriptor's literal types (arg names) for `KernelArgs`. */
export function defineKernel<const K extends KernelDescriptor>(kernel: K): K {
  return kernel;
}

/** The launch export of a built-in kernel. */
export function launchSymbol<K extends KernelDescriptor>(kernel: K): `fl_launch_${K["name"]}` {
  return `fl_launch_${kernel.name}` as `fl_launch_${K["name"]}`;
}

/** How an argument crosses the FFI: pointers as uint64_t. */
export type NativeArg<A extends KernelArgSpec> = A["type"] extends "ptr" ? "u64" : A["type"];
/** How a kernel's arguments cross the FFI, in order. */
export type NativeArgs<T extends readonly KernelArgSpec[]> = { -readonly [I in keyof T]: NativeArg<T[I]> };

/** The symbol table entry of a built-in kernel's launch export: (dev, stream, ...args) -> status. */
export type KernelSymbol<K extends KernelDescriptor> = {
  readonly parameters: readonly ["i32", "u64", ...NativeArgs<K["args"]>];
  readonly result: "i32";
};

/** Symbol table entries of the launch exports of `kernels`, keyed `fl_launch_<name>`. */
export type KernelSymbols<K extends KernelDescriptor> = {
  readonly [D in K as `fl_launch_${D["name"]}`]: KernelSymbol<D>;
};

const C_TYPES: Record<KernelArgType, string> = {
  ptr: "uint64_t",
  u32: "uint32_t",
  u64: "uint64_t",
  i32: "int32_t",
  f32: "float",
};

/** The C type of an argument as the launch export and its argument struct take it. */
export function cType(type: KernelArgType): string {
  return C_TYPES[type];
}

/** Bytes (and alignment) of an argument in a kernel's parameter layout. */
export function argSize(type: KernelArgType): number {
  return type === "ptr" || type === "u64" ? 8 : 4;
}

/** Each argument's offset in a kernel's parameter buffer (each at its own alignment), and the buffer's size. */
export function argLayout(args: readonly KernelArgSpec[]): { offsets: number[]; bytes: number } {
  let at = 0;
  const offsets = args.map((a) => {
    const size = argSize(a.type);
    at = Math.ceil(at / size) * size;
    const off = at;
    at += size;
    return off;
  });
  return { offsets, bytes: at };
}

/** Symbol table entries for the launch exports of `kernels` (ffi/symbols.ts spreads them in). */
export function kernelSymbols<K extends KernelDescriptor>(kernels: readonly K[]): KernelSymbols<K> {
  const table: Record<string, Deno.ForeignFunction> = {};
  for (const k of kernels) {
    table[launchSymbol(k)] = {
      parameters: ["i32", "u64", ...k.args.map((a) => a.type === "ptr" ? "u64" as const : a.type)],
      result: "i32",
    };
  }
  return table as unknown as KernelSymbols<K>;
}

/**
 * A digest of the kernels' ABI (names, argument names and types, in order):
 * the build writes it into the library, and the loader refuses a library
 * built from other declarations (an argument reordered, added or retyped).
 * FNV-1a, 64 bits, over `name(arg:type,...);` per kernel.
 */
export function kernelTableHash(kernels: readonly KernelDescriptor[]): bigint {
  const text = kernels.map((k) => `${k.name}(${k.args.map((a) => `${a.name}:${a.type}`).join(",")});`).join(
    "",
  );
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}
