/**
 * What a traced program is started with: the interposer of the backend
 * (LD_PRELOAD), on sim the stand-in libcuda.so.1 (LD_LIBRARY_PATH), and the
 * interposer's settings (FAULTLINE_TRACE_DIR for its journals,
 * FAULTLINE_TRACE_POLICY for the sync policy table).
 *
 * The backend is --backend, else $FAULTLINE_BACKEND, else cuda where an
 * NVIDIA driver is present, hip where an AMD GPU is, sim otherwise.
 */
import { simDriverDir, traceLibraryPath } from "../build.ts";

export type TraceBackend = "sim" | "cuda" | "hip";
export const TRACE_BACKENDS: readonly TraceBackend[] = ["sim", "cuda", "hip"];

export class SetupError extends Error {
  override name = "SetupError";
}

const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

/** The backend to trace on. */
export function chooseBackend(requested?: string): TraceBackend {
  const want = requested ?? Deno.env.get("FAULTLINE_BACKEND");
  if (want !== undefined && want !== "") {
    if (!TRACE_BACKENDS.includes(want as TraceBackend)) {
      throw new SetupError(`unknown backend ${want} (sim, cuda or hip)`);
    }
    return want as TraceBackend;
  }
  if (exists("/dev/nvidiactl") || exists("/proc/driver/nvidia/version")) return "cuda";
  if (exists("/dev/kfd")) return "hip";
  return "sim";
}

/** The API the backend's programs call (how statuses are named). */
export function programApi(backend: TraceBackend): "cuda" | "hip" {
  return backend === "hip" ? "hip" : "cuda";
}

export interface TraceEnvOptions {
  backend: TraceBackend;
  /** Where the interposer writes its journals (one per process). */
  journalDir: string;
  policyPath: string;
  /** Ring capacity in records (default: the interposer's, 65536). */
  capacity?: number;
  /** Extra variables (the replay's GGML_CUDA_DISABLE_GRAPHS=1 ...). */
  extra?: Record<string, string>;
}

/** The variables the program runs with, on top of the inherited environment. */
export function traceEnv(o: TraceEnvOptions): Record<string, string> {
  const lib = traceLibraryPath(o.backend);
  if (!exists(lib)) {
    throw new SetupError(
      `the ${o.backend} trace interposer is not built (${lib}): run deno task build --backend ${o.backend}`,
    );
  }
  const env: Record<string, string> = {
    LD_PRELOAD: [lib, Deno.env.get("LD_PRELOAD") ?? ""].filter((s) => s !== "").join(":"),
    FAULTLINE_TRACE_DIR: o.journalDir,
    FAULTLINE_TRACE_POLICY: o.policyPath,
  };
  if (o.capacity !== undefined) env.FAULTLINE_TRACE_CAPACITY = String(o.capacity);
  if (o.backend === "sim") {
    const driver = simDriverDir();
    if (!exists(`${driver}/libcuda.so.1`)) {
      throw new SetupError(
        `the sim's stand-in libcuda.so.1 is not built (${driver}): run deno task build --backend sim`,
      );
    }
    env.LD_LIBRARY_PATH = [driver, Deno.env.get("LD_LIBRARY_PATH") ?? ""].filter((s) => s !== "").join(":");
  }
  return { ...env, ...(o.extra ?? {}) };
}

/**
 * What a replay adds: switches that programs offer to make every launch a
 * launch of its own and every allocation a driver allocation.
 */
export const REPLAY_ENV: Readonly<Record<string, string>> = {
  GGML_CUDA_DISABLE_GRAPHS: "1",
  PYTORCH_NO_CUDA_MEMORY_CACHING: "1",
};
