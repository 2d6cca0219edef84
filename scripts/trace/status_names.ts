/**
 * Status names as a traced program's vendor API spells them: the CUDA driver
 * API's (CUDA_ERROR_ILLEGAL_ADDRESS) for programs traced on cuda and sim (the
 * sim's stand-in is a libcuda), HIP's for programs traced on hip. Installed
 * as the status translator of the trace's process, so the journal, the
 * forensics and the report all name a status the way the program saw it.
 */
import { setStatusTranslator, STATUS_NAMES } from "../../ffi/errors.ts";

/** CUresult names of the statuses a trace meets (cuda.h). */
export const CUDA_DRIVER_NAMES: Readonly<Record<number, string>> = {
  0: "CUDA_SUCCESS",
  1: "CUDA_ERROR_INVALID_VALUE",
  2: "CUDA_ERROR_OUT_OF_MEMORY",
  3: "CUDA_ERROR_NOT_INITIALIZED",
  4: "CUDA_ERROR_DEINITIALIZED",
  100: "CUDA_ERROR_NO_DEVICE",
  101: "CUDA_ERROR_INVALID_DEVICE",
  200: "CUDA_ERROR_INVALID_IMAGE",
  201: "CUDA_ERROR_INVALID_CONTEXT",
  301: "CUDA_ERROR_FILE_NOT_FOUND",
  400: "CUDA_ERROR_INVALID_HANDLE",
  401: "CUDA_ERROR_ILLEGAL_STATE",
  500: "CUDA_ERROR_NOT_FOUND",
  600: "CUDA_ERROR_NOT_READY",
  700: "CUDA_ERROR_ILLEGAL_ADDRESS",
  701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
  702: "CUDA_ERROR_LAUNCH_TIMEOUT",
  710: "CUDA_ERROR_ASSERT",
  714: "CUDA_ERROR_HARDWARE_STACK_ERROR",
  715: "CUDA_ERROR_ILLEGAL_INSTRUCTION",
  716: "CUDA_ERROR_MISALIGNED_ADDRESS",
  717: "CUDA_ERROR_INVALID_ADDRESS_SPACE",
  718: "CUDA_ERROR_INVALID_PC",
  719: "CUDA_ERROR_LAUNCH_FAILED",
  801: "CUDA_ERROR_NOT_SUPPORTED",
  900: "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
  901: "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
  999: "CUDA_ERROR_UNKNOWN",
};

const CUDA_MESSAGES: Readonly<Record<number, string>> = {
  4: "driver shutting down",
  201: "invalid device context",
  301: "file not found",
  401: "the operation is not permitted in the current state",
  900: "operation not permitted when stream is capturing",
  901: "operation failed due to a previous error during capture",
};

/** Installs the names of the API the traced program uses. */
export function useProgramStatusNames(api: "cuda" | "hip"): void {
  if (api === "hip") {
    setStatusTranslator(null);
    return;
  }
  setStatusTranslator({
    name: (code) => CUDA_DRIVER_NAMES[code] ?? `CUresult ${code}`,
    message: (code) => CUDA_MESSAGES[code] ?? STATUS_NAMES[code]?.[1] ?? `unknown status ${code}`,
  });
}
