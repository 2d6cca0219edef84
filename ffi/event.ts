/** Events: markers recorded on a stream, for ordering between streams and timing. */
import { callNative, callNativeAsync } from "./call.ts";
import { check, FaultlineError, FaultlineUsageError, releaseOnDispose } from "./errors.ts";
import { track, untrack } from "./leak.ts";
import type { DeviceRef, StreamRef } from "./resource.ts";
import { Status } from "./symbols.ts";
import { streamHandle } from "./buffer.ts";
import { brand, checkHandle } from "./validate.ts";

/** An event of one device: recorded on a stream, waited for on another, timed against an earlier one. */
export class Event {
  /** The device the event belongs to. */
  readonly device: DeviceRef;
  /** The native event handle. */
  readonly handle: number;
  /** handle as a bigint, the form the native calls take. */
  readonly handle64: bigint;
  #destroyed = false;
  #out = new Float32Array(1);

  /** Wraps a native event (Device.createEvent creates events). */
  constructor(device: DeviceRef, handle: number) {
    this.device = device;
    this.handle = handle;
    this.handle64 = BigInt(handle);
    brand(this, "Event");
    track(this, `Event ${handle} of device ${device.ordinal}`, this);
  }

  /** Whether destroy() was called (any later use is a FaultlineUsageError). */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Throws FaultlineUsageError when destroyed or not of `device`. */
  assertUsable(what: string, device?: DeviceRef): void {
    if (this.#destroyed) throw new FaultlineUsageError(`${what}: event ${this.handle} was already destroyed`);
    if (device !== undefined && device.ordinal !== this.device.ordinal) {
      throw new FaultlineUsageError(
        `${what}: event ${this.handle} belongs to device ${this.device.ordinal}, not device ${device.ordinal}`,
      );
    }
  }

  /** Records the event on `stream` (default: the device's default stream). */
  record(stream?: StreamRef): void {
    this.assertUsable("event record");
    const s = streamHandle(stream, this.device, "event record");
    const s64 = stream === undefined ? 0n : stream.handle64;
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "event_record", "event_record", dev, s, () => {
      return sym.fl_event_record(dev, this.handle64, s64);
    }, { event: this.handle });
    check(status, "fl_event_record");
  }

  /** Waits until the work before the recorded point is done. */
  synchronize(): void {
    this.assertUsable("event synchronize");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "sync", "event_synchronize", dev, 0, () => {
      return sym.fl_event_synchronize(dev, this.handle64);
    }, { event: this.handle });
    check(status, "fl_event_synchronize");
  }

  /** synchronize() on a pooled thread. */
  async synchronizeAsync(): Promise<void> {
    this.assertUsable("event synchronize");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = await callNativeAsync(sym, "sync", "event_synchronize", dev, 0, () => {
      return sym.fl_event_synchronize_nb(dev, this.handle64);
    }, { event: this.handle });
    check(status, "fl_event_synchronize");
  }

  /** True when the recorded work is done, false while pending. */
  query(): boolean {
    this.assertUsable("event query");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(
      sym,
      "query",
      "event_query",
      dev,
      0,
      () => sym.fl_event_query(dev, this.handle64),
      {
        event: this.handle,
      },
    );
    if (status === Status.NOT_READY) return false;
    if (status !== 0) throw new FaultlineError(status, "fl_event_query");
    return true;
  }

  /** Milliseconds from `since` to this event (both recorded and complete). */
  elapsedMs(since: Event): number {
    this.assertUsable("event elapsedMs");
    checkHandle(since, "Event", "event elapsedMs: since");
    since.assertUsable("event elapsedMs", this.device);
    check(
      this.device.symbols.fl_event_elapsed_ms(this.device.ordinal, since.handle64, this.handle64, this.#out),
      "fl_event_elapsed_ms",
    );
    return this.#out[0];
  }

  /** Destroys the event; a second destroy or a later use is a FaultlineUsageError. */
  destroy(): void {
    this.assertUsable("event destroy");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "event_destroy", "event_destroy", dev, 0, () => {
      return sym.fl_event_destroy(dev, this.handle64);
    }, { event: this.handle });
    check(status, "fl_event_destroy");
    this.#destroyed = true;
    untrack(this);
  }

  /** destroy() for `using` (releaseOnDispose: quiet in a context a sticky fault poisoned). */
  [Symbol.dispose](): void {
    if (this.#destroyed) return;
    releaseOnDispose(this.device, () => this.destroy(), () => {
      this.#destroyed = true;
      untrack(this);
    });
  }
}
