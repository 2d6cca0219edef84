/** The process's runtime: the loaded backend and its devices. */
import { Device } from "./device.ts";
import { FaultlineUsageError } from "./errors.ts";
import type { BuildInfo } from "./build_info.ts";
import { type LoadedLibrary, loadLibrary } from "./library.ts";
import type { NativeSymbols } from "./symbols.ts";
import { describe } from "./validate.ts";

export class Runtime {
  /** "sim", "cuda" or "hip", as the library reports it. */
  readonly backend: string;
  /** Path of the loaded libfaultline.so. */
  readonly path: string;
  readonly deviceCount: number;
  /** What the library was built for (GPU targets, who chose them), null when unknown. */
  readonly build: BuildInfo | null;
  /** The raw native functions (for benchmarks and new exports; prefer the typed API). */
  readonly symbols: NativeSymbols;
  #devices: Device[] = [];

  constructor(lib: LoadedLibrary) {
    this.backend = lib.backend;
    this.path = lib.path;
    this.deviceCount = lib.deviceCount;
    this.build = lib.build;
    this.symbols = lib.symbols;
  }

  /** Device `ordinal` (default 0). */
  device(ordinal = 0): Device {
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= this.deviceCount) {
      throw new FaultlineUsageError(
        `no device ${describe(ordinal)}: the ${this.backend} backend has ${this.deviceCount} device(s)`,
      );
    }
    return this.#devices[ordinal] ??= new Device(this.symbols, ordinal);
  }

  devices(): Device[] {
    return Array.from({ length: this.deviceCount }, (_, i) => this.device(i));
  }
}

let instance: Runtime | null = null;

/** The process's runtime; loads the library on first use (see ffi/library.ts). */
export function runtime(): Runtime {
  return instance ??= new Runtime(loadLibrary());
}
