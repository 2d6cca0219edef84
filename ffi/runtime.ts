/** The process's runtime: the loaded backend and its devices. */
import { setHostDeviceIds } from "./call.ts";
import { Device } from "./device.ts";
import { FaultlineUsageError } from "./errors.ts";
import type { BuildInfo } from "./build_info.ts";
import { type LoadedLibrary, loadLibrary } from "./library.ts";
import type { NativeSymbols } from "./symbols.ts";
import { describe } from "./validate.ts";

/** The process's runtime: the loaded native library (one backend) and its devices. */
export class Runtime {
  /** "sim", "cuda" or "hip", as the library reports it. */
  readonly backend: string;
  /** Path of the loaded libfaultline.so. */
  readonly path: string;
  /** Devices the backend sees. */
  readonly deviceCount: number;
  /** What the library was built for (GPU targets, who chose them), null when unknown. */
  readonly build: BuildInfo | null;
  /** The raw native functions (for benchmarks and new exports; prefer the typed API). */
  readonly symbols: NativeSymbols;
  #devices: Device[] = [];

  /** Wraps a loaded library (runtime() loads one and keeps it). */
  constructor(lib: LoadedLibrary) {
    this.backend = lib.backend;
    this.path = lib.path;
    this.deviceCount = lib.deviceCount;
    this.build = lib.build;
    this.symbols = lib.symbols;
    setHostDeviceIds(hostDeviceIds(this.backend, this.deviceCount));
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

  /** Every device, in ordinal order. */
  devices(): Device[] {
    return Array.from({ length: this.deviceCount }, (_, i) => this.device(i));
  }
}

/** The variable each backend reads to show a process a subset of the host's devices. */
export const VISIBILITY_VARIABLE: Readonly<Record<string, string>> = {
  cuda: "CUDA_VISIBLE_DEVICES",
  hip: "HIP_VISIBLE_DEVICES",
  sim: "FAULTLINE_SIM_VISIBLE_DEVICES",
};

/**
 * The host's ids of this process's devices: FAULTLINE_DEVICE_IDS ("3" or "2,3", one per visible device,
 * set beside the backend's visibility variable by whoever placed the process), else the ordinals.
 */
export function hostDeviceIds(backend: string, count: number): number[] {
  const v = Deno.env.get("FAULTLINE_DEVICE_IDS")?.trim();
  if (!v) return [];
  const ids = v.split(",").map((x) => x.trim());
  if (!ids.every((x) => /^\d{1,6}$/.test(x)) || new Set(ids.map(Number)).size !== ids.length) {
    throw new FaultlineUsageError(
      `FAULTLINE_DEVICE_IDS must list distinct device numbers separated by commas (2,3), got "${v}"`,
    );
  }
  if (ids.length !== count) {
    throw new FaultlineUsageError(
      `FAULTLINE_DEVICE_IDS names ${ids.length} device(s) (${v}) but the ${backend} backend sees ${count}: ` +
        `${VISIBILITY_VARIABLE[backend] ?? "the backend's visibility variable"} must show it as many`,
    );
  }
  return ids.map(Number);
}

let instance: Runtime | null = null;

/** The process's runtime; loads the library on first use (see ffi/library.ts). */
export function runtime(): Runtime {
  return instance ??= new Runtime(loadLibrary());
}
