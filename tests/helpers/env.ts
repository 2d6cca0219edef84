/** Test fixtures over the loaded runtime. */
import { type Device, type Runtime, runtime } from "../../mod.ts";

let rt: Runtime | null = null;

/** The runtime (loads the library once per test process). */
export function testRuntime(): Runtime {
  return rt ??= runtime();
}

export function testDevice(): Device {
  return testRuntime().device(0);
}

/** Deno.test options shared by the FFI tests: the native library keeps worker threads and handles. */
export const ffiTest = { sanitizeResources: false, sanitizeOps: false } as const;
