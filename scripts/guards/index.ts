/**
 * The guard rails, one small file each, and the set an audit session runs.
 * An experiment adds, removes or replaces rails, or changes their modes:
 *
 *   const rails = defaultRails();
 *   rails.remove("alignment");
 *   rails.replace("invariants", myInvariants);
 *   rails.setMode("races", "enforce");
 */
import { alignmentRail } from "./alignment.ts";
import { copiesRail } from "./copies.ts";
import { deviceRail } from "./device.ts";
import { extentRail } from "./extent.ts";
import { invariantsRail } from "./invariants.ts";
import { launchLimitsRail } from "./launch_limits.ts";
import { nullPointerRail } from "./null_pointer.ts";
import { racesRail } from "./races.ts";
import type { Rail, RailMode } from "./types.ts";
import { unknownPointerRail } from "./unknown_pointer.ts";
import { useAfterFreeRail } from "./use_after_free.ts";

export * from "./types.ts";
export { nullPointerRail } from "./null_pointer.ts";
export { unknownPointerRail } from "./unknown_pointer.ts";
export { useAfterFreeRail } from "./use_after_free.ts";
export { extentRail } from "./extent.ts";
export { alignmentRail } from "./alignment.ts";
export { copiesRail } from "./copies.ts";
export { deviceRail, expectedDevice } from "./device.ts";
export {
  atMost,
  declareInvariants,
  evenPositive,
  finitePositive,
  type Invariant,
  invariantsOf,
  invariantsRail,
  positionsInContext,
  positive,
  setInvariants,
  withinModelContext,
} from "./invariants.ts";
export {
  declareGeometry,
  dimsProblem,
  type Geometry,
  type LaunchDims,
  launchDims,
  launchLimitsRail,
} from "./launch_limits.ts";
export { raceFinding, racesRail } from "./races.ts";
export { checkModelCompat, type ModelCompatOptions, ModelIncompatible } from "./model_compat.ts";
export {
  isSyncPoint,
  RedzoneDamaged,
  redzoneFinding,
  type RedzonePolicy,
  redzonePolicy,
  type RedzonePolicyOptions,
} from "./redzone.ts";

/** An ordered, editable set of rails. */
export class RailSet {
  #rails: Rail[];
  /** A set holding `rails`, in order. */
  constructor(rails: Rail[] = []) {
    this.#rails = [...rails];
  }
  /** The rails, in the order they check a call. */
  get rails(): readonly Rail[] {
    return this.#rails;
  }
  /** The rail named `name`, if the set has one. */
  get(name: string): Rail | undefined {
    return this.#rails.find((r) => r.name === name);
  }
  /** Adds a rail (replacing one of the same name). */
  add(rail: Rail): this {
    const k = this.#rails.findIndex((r) => r.name === rail.name);
    if (k >= 0) this.#rails[k] = rail;
    else this.#rails.push(rail);
    return this;
  }
  /** Removes the rail named `name` (no-op when absent). */
  remove(name: string): this {
    this.#rails = this.#rails.filter((r) => r.name !== name);
    return this;
  }
  /** Puts `rail` in the place of the rail named `name` (a RangeError when there is none). */
  replace(name: string, rail: Rail): this {
    const k = this.#rails.findIndex((r) => r.name === name);
    if (k < 0) throw new RangeError(`no rail named ${name}`);
    this.#rails[k] = rail;
    return this;
  }
  /** Sets one rail's mode (a RangeError when there is no rail named `name`). */
  setMode(name: string, mode: RailMode): this {
    const r = this.get(name);
    if (r === undefined) throw new RangeError(`no rail named ${name}`);
    r.mode = mode;
    return this;
  }
  /** Sets every rail's mode. */
  setAll(mode: RailMode): this {
    for (const r of this.#rails) r.mode = mode;
    return this;
  }
}

/** Every per-call rail, in `mode` (default "warn"). */
export function defaultRails(mode: RailMode = "warn"): RailSet {
  return new RailSet([
    nullPointerRail(mode),
    unknownPointerRail(mode),
    useAfterFreeRail(mode),
    extentRail(mode),
    alignmentRail(mode),
    copiesRail(mode),
    deviceRail(mode),
    invariantsRail(mode),
    launchLimitsRail(mode),
    racesRail(mode),
  ]);
}
