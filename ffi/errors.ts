/**
 * Errors of the FFI layer.
 *
 * - FaultlineError: a native call returned a non-zero status. It carries the
 *   status, the backend's name and message for it, and the call that failed:
 *   `fl_memcpy D2H failed: an illegal memory access was encountered (hipErrorIllegalAddress, 700)`.
 * - FaultlineUsageError: bad input caught in TypeScript before any native call
 *   (a freed buffer, a size past a buffer's end, an object of another device).
 * - FaultlineLoadError: the library could not be found, loaded or trusted.
 */
import { boundary, type OpContext } from "./boundary.ts";
import type { FaultInfo } from "../records.ts";

/** Translates a status into the backend's name and message (set by ffi/library.ts at load). */
export interface StatusTranslator {
  name(code: number): string;
  message(code: number): string;
}

/**
 * Names and messages of the statuses (hip/faultline.h's numbering), used when no
 * library is loaded: by processes that never load it (a trial's parent, the
 * status server) and before the library's own fl_error_name is installed.
 */
export const STATUS_NAMES: Readonly<Record<number, readonly [string, string]>> = {
  0: ["hipSuccess", "no error"],
  1: ["hipErrorInvalidValue", "invalid argument"],
  2: ["hipErrorOutOfMemory", "out of memory"],
  3: ["hipErrorNotInitialized", "initialization error"],
  9: ["hipErrorInvalidConfiguration", "invalid configuration argument"],
  17: ["hipErrorInvalidDevicePointer", "invalid device pointer"],
  21: ["hipErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"],
  100: ["hipErrorNoDevice", "no GPU device is detected"],
  101: ["hipErrorInvalidDevice", "invalid device ordinal"],
  400: ["hipErrorInvalidHandle", "invalid resource handle"],
  600: ["hipErrorNotReady", "device not ready"],
  700: ["hipErrorIllegalAddress", "an illegal memory access was encountered"],
  701: ["hipErrorLaunchOutOfResources", "too many resources requested for launch"],
  702: ["hipErrorLaunchTimeOut", "the launch timed out and was terminated"],
  710: ["hipErrorAssert", "device-side assert triggered"],
  714: ["cudaErrorHardwareStackError", "hardware stack error"],
  715: ["cudaErrorIllegalInstruction", "an illegal instruction was encountered"],
  716: ["cudaErrorMisalignedAddress", "misaligned address"],
  717: ["cudaErrorInvalidAddressSpace", "operation not supported on global/shared address space"],
  718: ["cudaErrorInvalidPc", "invalid program counter"],
  719: ["hipErrorLaunchFailure", "unspecified launch failure"],
  200: ["hipErrorInvalidImage", "device kernel image is invalid"],
  500: ["hipErrorNotFound", "named symbol not found"],
  801: ["hipErrorNotSupported", "operation not supported"],
  999: ["hipErrorUnknown", "unknown error"],
};

const fallbackTranslator: StatusTranslator = {
  name: (code) => STATUS_NAMES[code]?.[0] ?? `status${code}`,
  message: (code) => STATUS_NAMES[code]?.[1] ?? `unknown status ${code}`,
};

let translator: StatusTranslator = fallbackTranslator;

/** Installs the loaded library's fl_error_name / fl_error_string. */
export function setStatusTranslator(t: StatusTranslator | null): void {
  translator = t ?? fallbackTranslator;
}

/** The backend's name for a status, e.g. "hipErrorIllegalAddress". */
export function statusName(code: number): string {
  return translator.name(code);
}

/** The backend's message for a status, e.g. "an illegal memory access was encountered". */
export function statusMessage(code: number): string {
  return translator.message(code);
}

/** A native call returned a non-zero status. */
export class FaultlineError extends Error {
  /** The error's name in stack traces and messages. */
  override name = "FaultlineError";
  /** The status the native call returned (700: illegal address). */
  readonly code: number;
  /** The backend's name for it ("hipErrorIllegalAddress", "cudaErrorIllegalAddress"). */
  readonly codeName: string;
  /** The backend's message ("an illegal memory access was encountered"). */
  readonly nativeMessage: string;
  /** The call that failed, as the message names it ("fl_memcpy D2H"). */
  readonly call: string;

  /** A failed `call` with the status it returned; name and message default to the backend's. */
  constructor(code: number, call: string, codeName?: string, nativeMessage?: string) {
    const n = codeName ?? statusName(code);
    const m = nativeMessage ?? statusMessage(code);
    super(`${call} failed: ${m} (${n}, ${code})`);
    this.code = code;
    this.codeName = n;
    this.nativeMessage = m;
    this.call = call;
  }
}

/** Bad input caught in TypeScript before any native call. */
export class FaultlineUsageError extends TypeError {
  /** The error's name in stack traces and messages. */
  override name = "FaultlineUsageError";
  /** Where in the workload the refused call was made (the scheduler's step, layer and op name then). */
  readonly context: OpContext;

  /** Refuses a call for `message`, keeping the boundary's context at the time. */
  constructor(message: string) {
    super(message);
    this.context = { ...boundary.context };
  }
}

/** The native library could not be found, loaded, or does not match this table. */
export class FaultlineLoadError extends Error {
  /** The error's name in stack traces and messages. */
  override name = "FaultlineLoadError";
}

/**
 * A resource's release for `using` ([Symbol.dispose]). In a context poisoned by a sticky fault, where
 * every native call fails, the release's FaultlineError is dropped and `forget` marks the object
 * released, so the fault's own error is what reaches the caller (not a SuppressedError).
 */
export function releaseOnDispose(
  device: { faultInfo(): FaultInfo | null },
  release: () => void,
  forget: () => void,
): void {
  try {
    release();
  } catch (e) {
    if (!(e instanceof FaultlineError) || device.faultInfo() === null) throw e;
    forget();
  }
}

/** Throws a FaultlineError for a non-zero status: `check(sym.fl_free(dev, p), "fl_free")`. */
export function check(status: number, call: string): void {
  if (status !== 0) throw new FaultlineError(status, call);
}
