/**
 * "devices": the matrix's wall time with its trials placed on N devices
 * against one device: the device_isolation experiment's matrix (each trial a
 * child process running matrix-vector products on its device and checking
 * them), run with `--devices 0` and then on every device. On a GPU machine N
 * is its GPU count (goal: a speed-up of at least 0.9·N). On sim the trials run
 * on 4 simulated devices (FAULTLINE_SIM_DEVICES=4) that share this machine's
 * CPU cores: the row measures the runner's parallelism (process starts, trials
 * side by side), not GPUs.
 */
import { experiment } from "../experiments/device_isolation.ts";
import { runExperiment } from "../trials/experiment.ts";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

const SIM_DEVICES = 4;

/** The matrix of a devices measurement: trials, their params and environment, where reports go. */
export interface DevicesMatrix {
  iterations: number;
  params: Record<string, unknown>;
  env: Record<string, string>;
  reports: string;
}

/** The trials' work: on a GPU, enough device work per trial to outweigh its process start. */
export function devicesMatrix(sim: boolean, n: number, quick: boolean, reports: string): DevicesMatrix {
  return {
    iterations: (quick ? 2 : 4) * n,
    params: sim ? { dim: 256, work: 32 } : { dim: 4096, work: quick ? 2000 : 10_000 },
    env: sim ? { FAULTLINE_SIM_DEVICES: String(n) } : {},
    reports,
  };
}

/** The matrix's wall time in ms with its trials placed on `devices`; throws when a trial failed. */
export async function matrixWall(devices: number[], o: DevicesMatrix): Promise<number> {
  const res = await runExperiment(experiment, {
    matrix: [{ name: "audit", mode: "audit", iterations: o.iterations }],
    devices,
    params: o.params,
    env: o.env,
    reportsDir: o.reports,
    runId: `devices-${devices.length}`,
    print: false,
  });
  const row = res.report.matrix![0];
  if (row.errors > 0) throw new Error(`the matrix on devices ${devices.join(",")} had ${row.errors} errors`);
  return row.wallMs;
}

async function devices(ctx: BenchContext): Promise<BenchRow[]> {
  const sim = ctx.runtime.backend === "sim";
  const n = sim ? SIM_DEVICES : ctx.runtime.deviceCount;
  if (n < 2) return [];
  const all = Array.from({ length: n }, (_, i) => i);
  const reports = await Deno.makeTempDir({ prefix: "faultline-devices-" });
  const o = devicesMatrix(sim, n, ctx.quick, reports);
  let one: number, many: number;
  try {
    one = await matrixWall([0], o);
    many = await matrixWall(all, o);
  } finally {
    await Deno.remove(reports, { recursive: true }).catch(() => {});
  }
  const cores = navigator.hardwareConcurrency ?? 1;
  const what = sim
    ? `sim: ${n} simulated devices sharing ${cores} CPU cores, so this measures the runner's parallelism ` +
      `(process starts, trials side by side), not GPUs`
    : `${n} GPUs; goal >= ${(0.9 * n).toFixed(1)}`;
  const note =
    `device_isolation matrix, ${o.iterations} trials (dim ${o.params.dim}, ${o.params.work} products each)`;
  return [
    { section: "devices", metric: "matrix wall, 1 device", value: one / 1000, unit: "s", note },
    { section: "devices", metric: `matrix wall, ${n} devices`, value: many / 1000, unit: "s", note },
    {
      section: "devices",
      metric: `matrix speed-up, ${n} devices vs 1`,
      value: one / many,
      unit: "ratio",
      note: what,
    },
  ];
}

export const sections: BenchSection[] = [{ name: "devices", run: devices }];
