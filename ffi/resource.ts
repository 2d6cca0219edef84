/**
 * What a buffer, stream or event needs of the device and stream it belongs
 * to. ffi/device.ts creates buffers, streams and events, so they name their
 * owner through these interfaces (which Device and Stream implement) rather
 * than import the classes back.
 */
import type { FaultInfo } from "../records.ts";
import type { NativeSymbols } from "./symbols.ts";

/** What a buffer, stream or event needs of its device (Device implements it). */
export interface DeviceRef {
  /** The native functions of the device's library. */
  readonly symbols: NativeSymbols;
  /** The device's ordinal. */
  readonly ordinal: number;
  /** Its number on the host (ffi/device.ts, Device.id): what messages and journals name. */
  readonly id: number;
  /** The sticky fault the device holds, null when none. */
  faultInfo(): FaultInfo | null;
}

/** What a buffer or event needs of a stream (Stream implements it). */
export interface StreamRef {
  /** The device the stream belongs to. */
  readonly device: DeviceRef;
  /** Native handle; 0 for the default stream. */
  readonly handle: number;
  /** handle as a bigint, the form the native calls take. */
  readonly handle64: bigint;
  /** Whether the stream was destroyed. */
  readonly destroyed: boolean;
}
