/**
 * Placing trials on the host's devices. A run's trials run side by side, one
 * child process per device (or per group of devices, for an experiment whose
 * trials use several) at a time. Each child sees only its devices, through
 * the variable its backend honours (CUDA_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES,
 * FAULTLINE_SIM_VISIBLE_DEVICES) composed with what the parent's environment
 * already hides, and FAULTLINE_DEVICE_IDS tells its runtime the host ids of
 * what it sees, so that its journal and findings name them.
 *
 * The parent never loads the native library: the devices are listed by a
 * probe child (device_probe.ts).
 */
import { FaultlineUsageError, VISIBILITY_VARIABLE } from "../../mod.ts";

/** One device as the probe lists it. */
export interface DeviceInfo {
  /** Its ordinal in the parent's view (what the visibility variable indexes). */
  ordinal: number;
  /** Its host id (the --devices numbering, what journals name). */
  id: number;
  busId: string;
  name: string;
}

export interface Inventory {
  backend: string;
  devices: DeviceInfo[];
}

/** Host device ids from `--devices` ("0,2", "0-3", "all"); "all" stands for every device the probe lists. */
export function parseDevices(text: string): number[] | "all" {
  const t = text.trim();
  if (t === "all") return "all";
  const ids: number[] = [];
  for (const part of t.split(",").map((p) => p.trim())) {
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
      throw new FaultlineUsageError(
        `--devices: "${part || text}" is not a device number or range (give 0,1,3 or 0-3 or all)`,
      );
    }
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) {
      if (ids.includes(i)) throw new FaultlineUsageError(`--devices: device ${i} is listed twice`);
      ids.push(i);
    }
  }
  return ids;
}

/** The ids asked for, checked against the devices there are. */
export function chooseDevices(wanted: number[] | "all", inv: Inventory): number[] {
  const have = inv.devices.map((d) => d.id);
  if (wanted === "all") return have;
  const missing = wanted.filter((i) => !have.includes(i));
  if (missing.length) {
    throw new FaultlineUsageError(
      `--devices: no device ${missing.join(", ")}: the ${inv.backend} backend has ${have.length} ` +
        `(${have.join(", ") || "none"})`,
    );
  }
  return wanted;
}

/** The devices split into slots of `perTrial` (an experiment's trials may use several). */
export function slotsOf(ids: number[], perTrial: number): number[][] {
  if (ids.length < perTrial) {
    throw new FaultlineUsageError(
      `each trial uses ${perTrial} device${perTrial === 1 ? "" : "s"} but ${ids.length} ` +
        `${ids.length === 1 ? "is" : "are"} given ` +
        `(${ids.join(", ") || "none"})`,
    );
  }
  const slots: number[][] = [];
  for (let i = 0; i + perTrial <= ids.length; i += perTrial) slots.push(ids.slice(i, i + perTrial));
  return slots;
}

/** The list a visibility variable holds in `env`, or null when it is unset. */
function listed(env: Record<string, string | undefined>, name: string): string[] | null {
  const v = env[name];
  return v === undefined ? null : v.split(",").map((x) => x.trim());
}

/** The variable that shows a `backend` child its devices (hip reads CUDA_VISIBLE_DEVICES too). */
function visibilityVariable(backend: string, env: Record<string, string | undefined>): string {
  const own = VISIBILITY_VARIABLE[backend];
  if (own === undefined) {
    throw new FaultlineUsageError(`cannot place trials on the ${backend} backend's devices`);
  }
  if (backend === "hip" && env[own] === undefined && env.CUDA_VISIBLE_DEVICES !== undefined) {
    return "CUDA_VISIBLE_DEVICES";
  }
  return own;
}

/** The environment that shows a child only `slot` (host ids) of `inv`, over the parent's `env`. */
export function placementEnv(
  inv: Inventory,
  slot: number[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Record<string, string> {
  const name = visibilityVariable(inv.backend, env);
  const outer = listed(env, name);
  const ordinals = slot.map((id) => {
    const d = inv.devices.find((x) => x.id === id);
    if (d === undefined) throw new FaultlineUsageError(`no device ${id} on the ${inv.backend} backend`);
    return d.ordinal;
  });
  // what the parent already hides stays hidden: its list is indexed by the ordinals the probe saw
  const shown = ordinals.map((o) => (outer !== null && o < outer.length ? outer[o] : String(o)));
  return { [name]: shown.join(","), FAULTLINE_DEVICE_IDS: slot.join(",") };
}

/** Why a trial placed on `slot` that reports running on `busId` did not run there; null when it did. */
export function placementProblem(inv: Inventory, slot: number[], busId: string | undefined): string | null {
  const given = inv.devices.find((d) => d.id === slot[0]);
  if (busId === undefined || given === undefined || busId === given.busId) return null;
  return `placed on device ${given.id} (${given.busId}) but ran on ${busId}: the ${inv.backend} runtime ` +
    `did not honour the device it was shown`;
}

const sameSlot = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Slots of devices handed to one trial at a time, in the order they come free. */
export class DevicePool {
  readonly slots: readonly number[][];
  #free: number[][];
  /** Trials waiting, first come first served; `want` waits for that slot alone. */
  #waiting: { want?: readonly number[]; take: (slot: number[]) => void }[] = [];

  constructor(slots: number[][]) {
    this.slots = slots;
    this.#free = [...slots];
  }

  get size(): number {
    return this.slots.length;
  }

  /** A free slot (the one that holds `want`'s devices when given), waiting for one if none is. */
  acquire(want?: readonly number[]): Promise<number[]> {
    if (want !== undefined && !this.slots.some((s) => sameSlot(s, want))) {
      throw new FaultlineUsageError(`no slot of devices ${want.join("+")} in this run`);
    }
    const k = this.#free.findIndex((s) => want === undefined || sameSlot(s, want));
    if (k >= 0) return Promise.resolve(this.#free.splice(k, 1)[0]);
    return new Promise((take) => this.#waiting.push({ want, take }));
  }

  release(slot: number[]): void {
    const k = this.#waiting.findIndex((w) => w.want === undefined || sameSlot(w.want, slot));
    if (k >= 0) this.#waiting.splice(k, 1)[0].take(slot);
    else this.#free.push(slot);
  }
}

/** "2", or "0+1" for a trial placed on two devices: how tables and progress name a slot. */
export function slotLabel(devices: readonly number[] | undefined): string {
  return devices === undefined || devices.length === 0 ? "0" : devices.join("+");
}
