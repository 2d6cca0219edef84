/**
 * Debug environment presets: the vendor runtime's own switches for
 * serializing kernels and copies and for logging, which one would otherwise set
 * by hand. A trial runs under a preset and the report records it.
 */

import { FaultlineUsageError } from "../../mod.ts";
import type { DebugEnv } from "../../records.ts";

/** HIP's switches: blocking launches, kernels and copies serialized, copies as blit kernels (no SDMA). */
const HIP_SERIAL = {
  HIP_LAUNCH_BLOCKING: "1",
  AMD_SERIALIZE_KERNEL: "3",
  AMD_SERIALIZE_COPY: "3",
  HSA_ENABLE_SDMA: "0",
};
const HIP_LOG = { AMD_LOG_LEVEL: "3" };
const CUDA_BLOCKING = { CUDA_LAUNCH_BLOCKING: "1" };

/** Every preset, by name. */
export const DEBUG_ENVS: Readonly<Record<string, DebugEnv>> = {
  none: { name: "none", description: "no debug variables", vars: {} },
  hip: {
    name: "hip",
    description: "HIP: blocking launches, serialized kernels and copies, no SDMA engines, API logging",
    vars: { ...HIP_SERIAL, ...HIP_LOG },
  },
  "hip-quiet": {
    name: "hip-quiet",
    description: "HIP: blocking launches, serialized kernels and copies, no SDMA engines, no logging",
    vars: { ...HIP_SERIAL },
  },
  cuda: {
    name: "cuda",
    description: "CUDA: blocking launches (every launch waits for its kernel)",
    vars: { ...CUDA_BLOCKING },
  },
  all: {
    name: "all",
    description: "every vendor's blocking and serialization switches (HIP and CUDA)",
    vars: { ...HIP_SERIAL, ...HIP_LOG, ...CUDA_BLOCKING },
  },
};

/** The preset for a backend: hip for hip, cuda for cuda, none for sim. */
export function presetFor(backend: string): DebugEnv {
  if (backend === "hip") return DEBUG_ENVS.hip;
  if (backend === "cuda") return DEBUG_ENVS.cuda;
  return DEBUG_ENVS.none;
}

/** Resolves a preset name or a custom variable set. */
export function resolveDebugEnv(which: string | Record<string, string> | undefined | null): DebugEnv | null {
  if (!which) return null;
  if (typeof which === "string") {
    const p = DEBUG_ENVS[which];
    if (!p) {
      throw new FaultlineUsageError(
        `unknown debug environment preset ${which} (${Object.keys(DEBUG_ENVS).join(", ")})`,
      );
    }
    return p;
  }
  return { name: "custom", description: "custom variables", vars: { ...which } };
}

/** `KEY=value KEY=value`, for reports and command lines. */
export function envLine(env: DebugEnv | null): string {
  if (!env || Object.keys(env.vars).length === 0) return "(none)";
  return Object.entries(env.vars).map(([k, v]) => `${k}=${v}`).join(" ");
}
