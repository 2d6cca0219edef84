/**
 * What a buffer, stream or event needs of the device and stream it belongs
 * to. ffi/device.ts creates buffers, streams and events, so they name their
 * owner through these interfaces (which Device and Stream implement) rather
 * than import the classes back.
 */
import type { FaultInfo } from "../records.ts";
import type { NativeSymbols } from "./symbols.ts";

export interface DeviceRef {
  /** The native functions of the device's library. */
  readonly symbols: NativeSymbols;
  readonly ordinal: number;
  /** Its number on the host (ffi/device.ts, Device.id): what messages and journals name. */
  readonly id: number;
  /** The sticky fault the device holds, null when none. */
  faultInfo(): FaultInfo | null;
}

export interface StreamRef {
  readonly device: DeviceRef;
  /** Native handle; 0 for the default stream. */
  readonly handle: number;
  readonly handle64: bigint;
  readonly destroyed: boolean;
}
