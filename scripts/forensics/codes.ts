/**
 * Status codes (hip/faultline.h: CUDA's and HIP's shared numbering), named
 * without loading the native library.
 */

import { STATUS_NAMES } from "../../mod.ts";

export { STATUS_NAMES };

/** The journal's status for a call a guard rail blocked (it never reached the library). */
export const STATUS_BLOCKED = -1;

/**
 * Sticky device faults: raised by a kernel, surfacing at a later sync or copy.
 * A wild address is reported as 700 or, where it lands in the shared or local
 * window of the generic address space, as 717; a misaligned one as 716.
 */
export const STICKY_FAULTS: ReadonlySet<number> = new Set([700, 702, 710, 714, 715, 716, 717, 718, 719]);

export function statusName(code: number | null | undefined): string {
  if (code === null || code === undefined) return "pending";
  if (code === STATUS_BLOCKED) return "blocked";
  return STATUS_NAMES[code]?.[0] ?? `status ${code}`;
}

export function statusMessage(code: number | null | undefined): string {
  if (code === null || code === undefined) return "did not return";
  if (code === STATUS_BLOCKED) return "blocked by a guard rail";
  return STATUS_NAMES[code]?.[1] ?? `unknown status ${code}`;
}

/** "an illegal memory access was encountered (hipErrorIllegalAddress, 700)". */
/**
 * "an illegal memory access was encountered (cudaErrorIllegalAddress, 700)".
 * `name` is the backend's own name for the code where the journal recorded it
 * (result_name: cuda and hip name their codes differently); else the table's.
 */
export function describeStatus(code: number | null | undefined, name?: unknown): string {
  if (code === null || code === undefined) return "did not return (the process died inside the call)";
  if (code === STATUS_BLOCKED) return "blocked by a guard rail";
  const vendorName = typeof name === "string" && /^(hip|cuda|CUDA_)/.test(name) ? name : statusName(code);
  return `${statusMessage(code)} (${vendorName}, ${code})`;
}
