/**
 * The trials of one run: their folders, the spec and options they share,
 * where they run, and every outcome in order.
 *
 * Until `place()` is called (a matrix, an explicit --devices, replays that
 * can run side by side), a trial sees every device and runs on device 0, as
 * one process would. From then on each trial is placed on a free slot of the
 * device pool (scripts/trials/devices.ts), one trial per slot at a time, and
 * is checked to have run on the device it was given (the bus id it reports
 * against the probe's).
 */
import { join } from "node:path";
import { FaultlineUsageError } from "../../mod.ts";
import type { DebugEnv, Mode, TrialOutcome, TrialSpec } from "../../records.ts";
import type { Experiment } from "./definition.ts";
import { probeDevices } from "./device_probe.ts";
import {
  chooseDevices,
  DevicePool,
  type Inventory,
  placementEnv,
  placementProblem,
  slotsOf,
} from "./devices.ts";
import { runTrial, type RunTrialOptions } from "./runner.ts";

export interface PlacementOptions {
  /** The devices asked for (--devices); undefined: all of them, once placement starts. */
  wanted?: number[] | "all";
  /** Devices each trial uses (ExperimentDef.devices, default 1). */
  perTrial?: number;
}

async function writeSpec(spec: TrialSpec): Promise<void> {
  await Deno.mkdir(spec.runDir, { recursive: true });
  await Deno.writeTextFile(join(spec.runDir, "trial.json"), JSON.stringify(spec, null, 2) + "\n");
}

export class RunTrials {
  readonly all: TrialOutcome[] = [];
  /** Why trials were left unplaced (the device probe failed), for the report; null otherwise. */
  unplacedReason: string | null = null;
  #n = 0;
  #pool: DevicePool | null = null;
  #inventory: Inventory | null = null;
  #placing: Promise<void> | null = null;

  constructor(
    readonly exp: Experiment,
    readonly file: string,
    readonly trialsDir: string,
    readonly params: Record<string, unknown>,
    readonly debugEnv: DebugEnv | null,
    readonly options: RunTrialOptions,
    readonly placement: PlacementOptions = {},
  ) {}

  spec(mode: Mode, purpose: string, extra: Partial<TrialSpec> = {}): TrialSpec {
    return {
      experiment: this.exp.name,
      mode,
      iteration: 0,
      runDir: join(this.trialsDir, `${String(++this.#n).padStart(3, "0")}-${purpose}`),
      purpose,
      params: this.params,
      debugEnv: this.debugEnv?.name,
      ...extra,
    };
  }

  /** A trial like `like` (same iteration and params) for another purpose; `extra.devices` pins it. */
  again(like: TrialOutcome, mode: Mode, purpose: string, extra: Partial<TrialSpec> = {}): TrialSpec {
    return this.spec(mode, purpose, { iteration: like.spec.iteration, params: like.spec.params, ...extra });
  }

  /** How many trials run at once: the pool's slots (1 while unplaced). */
  get width(): number {
    return this.#pool?.size ?? 1;
  }

  /** Whether trials are placed on devices now. */
  get placed(): boolean {
    return this.#pool !== null;
  }

  /** The devices the run places trials on (empty while unplaced). */
  get devices(): number[] {
    return this.#pool?.slots.flat() ?? [];
  }

  /**
   * From here on trials are placed: lists the devices (once) and splits the ones asked for into slots.
   * A probe that fails leaves the trials unplaced (the reason kept for the report), unless devices were
   * asked for by number: then it is a usage error.
   */
  place(): Promise<void> {
    return this.#placing ??= this.#place();
  }

  async #place(): Promise<void> {
    const wanted = this.placement.wanted;
    try {
      this.#inventory = await probeDevices({ env: this.options.env, cwd: this.options.cwd });
    } catch (e) {
      const why = (e as Error).message;
      if (Array.isArray(wanted)) throw new FaultlineUsageError(`--devices ${wanted.join(",")}: ${why}`);
      this.unplacedReason = why;
      return;
    }
    const ids = chooseDevices(wanted ?? "all", this.#inventory);
    this.#pool = new DevicePool(slotsOf(ids, this.placement.perTrial ?? 1));
  }

  /**
   * Runs a trial: on a free slot (the one `spec.devices` names, if any) once placed. Its folder gets
   * trial.json (the spec, its devices included) first, for whoever follows the run while it runs.
   */
  async run(spec: TrialSpec, opts: Partial<RunTrialOptions> = {}): Promise<TrialOutcome> {
    const pool = this.#pool;
    if (pool === null) {
      await writeSpec(spec);
      return this.#record(await runTrial(this.file, spec, { ...this.options, ...opts }));
    }
    const slot = await pool.acquire(spec.devices);
    try {
      const placed: TrialSpec = { ...spec, devices: slot };
      await writeSpec(placed);
      const env = { ...this.options.env, ...opts.env };
      const shown = placementEnv(this.#inventory!, slot, { ...Deno.env.toObject(), ...env });
      const o = await runTrial(this.file, placed, { ...this.options, ...opts, env: { ...env, ...shown } });
      return this.#record(this.#checkPlacement(o, slot));
    } finally {
      pool.release(slot);
    }
  }

  #record(o: TrialOutcome): TrialOutcome {
    this.all.push(o);
    return o;
  }

  /** A trial that reports another device than the one it was given ends as an ERROR saying so. */
  #checkPlacement(o: TrialOutcome, slot: number[]): TrialOutcome {
    const message = placementProblem(this.#inventory!, slot, o.result?.busId);
    if (message === null) return o;
    return {
      ...o,
      status: "ERROR",
      result: { ...o.result!, status: "ERROR", error: { name: "Placement", message } },
    };
  }
}
