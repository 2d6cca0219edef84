/**
 * What a catalogue case is: a planted fault (or a clean run) on a small fixed
 * set of buffers, and what the forensics must say about it.
 */
import type { Device, DeviceBuffer, Stream } from "../../../mod.ts";
import type { AuditOptions } from "../../audit/session.ts";
import type { RunStatus } from "../../../records.ts";
import type { TrialContext } from "../../trials/experiment.ts";

/** What the forensics must name for a planted fault. */
export interface Expectation {
  /** The scheduler-style op name of the planted op (the root cause). */
  op: string;
  kind: string;
  /** Kernel or tensor name of that op. */
  name: string;
  /** The argument at fault (null: no single argument, e.g. a launch geometry over the device's limits). */
  argument: string | null;
  /** The guard rail (or "usage" for a refused call) that flags it. */
  rail: string;
  /** The invariant it breaks (exact text of the rail). */
  invariant: string;
  /** The stock hypothesis that must be CONFIRMED. */
  hypothesis: string;
  /** Where the fault surfaces: a later op ("later"), the planted op itself ("self"), or nowhere ("none"). */
  surfaces: "later" | "self" | "none";
  /** The run's status (default: FAULT when it surfaces, OK otherwise). */
  status?: RunStatus;
  /** Step and layer of the planted op (default step 1, layer 0). */
  step?: number;
  layer?: number;
  /** A pattern the root cause's detail must match (the numbers that prove the diagnosis). */
  detail?: RegExp;
}

/** The buffers and stream every case starts from, filled with known values. */
export interface Bench {
  ctx: TrialContext;
  ffi: TrialContext["ffi"];
  d: Device;
  s: Stream;
  /** 64 KiB, filled with 1.0. */
  x: DeviceBuffer;
  /** 32 KiB, filled with 2.0: read back at the end (where a latent fault surfaces). */
  logits: DeviceBuffer;
  /** 256 bytes, the "after" launch's counter. */
  counter: DeviceBuffer;
}

export interface CatalogueCase {
  /** null: a clean run (no finding, no root cause, nothing CONFIRMED). */
  expect: Expectation | null;
  /** Audit options of the case's trials (redzones...). */
  audit?: Partial<AuditOptions>;
  /** Plants the fault; it runs at the expectation's step and layer, op "plant". */
  plant(b: Bench): void;
}

export const F32 = 4;

/** The host address of a typed array (for raw copies). */
export function hostAddress(h: ArrayBufferView): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(h)));
}
