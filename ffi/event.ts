/** Events: markers recorded on a stream, for ordering between streams and timing. */
import { boundary } from "./boundary.ts";
import { makeCall, through, throughAsync } from "./call.ts";
import { check, FaultlineError, FaultlineUsageError } from "./errors.ts";
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
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const e = this.handle64;
    if (!boundary.active) return check(sym.fl_event_record(dev, e, s64), "fl_event_record");
    const call = makeCall("event_record", "event_record", dev, s, {}, [], { event: this.handle });
    check(through(sym, call, () => sym.fl_event_record(dev, e, s64)), "fl_event_record");
  }

  /** Waits until the work before the recorded point is done. */
  synchronize(): void {
    this.assertUsable("event synchronize");
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const e = this.handle64;
    if (!boundary.active) return check(sym.fl_event_synchronize(dev, e), "fl_event_synchronize");
    const call = makeCall("sync", "event_synchronize", dev, 0, {}, [], { event: this.handle });
    check(through(sym, call, () => sym.fl_event_synchronize(dev, e)), "fl_event_synchronize");
  }

  /** synchronize() on a pooled thread. */
  async synchronizeAsync(): Promise<void> {
    this.assertUsable("event synchronize");
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const e = this.handle64;
    const status = boundary.active
      ? await throughAsync(
        sym,
        makeCall("sync", "event_synchronize", dev, 0, {}, [], { event: this.handle }),
        () => sym.fl_event_synchronize_nb(dev, e),
      )
      : await sym.fl_event_synchronize_nb(dev, e);
    check(status, "fl_event_synchronize");
  }

  /** True when the recorded work is done, false while pending. */
  query(): boolean {
    this.assertUsable("event query");
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const e = this.handle64;
    const status = boundary.active
      ? through(
        sym,
        makeCall("query", "event_query", dev, 0, {}, [], { event: this.handle }),
        () => sym.fl_event_query(dev, e),
      )
      : sym.fl_event_query(dev, e);
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
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const e = this.handle64;
    const status = boundary.active
      ? through(
        sym,
        makeCall("event_destroy", "event_destroy", dev, 0, {}, [], { event: this.handle }),
        () => sym.fl_event_destroy(dev, e),
      )
      : sym.fl_event_destroy(dev, e);
    check(status, "fl_event_destroy");
    this.#destroyed = true;
    untrack(this);
  }

  /**
   * destroy() for `using`. In a context poisoned by a sticky fault, where every
   * native call fails, it marks the object released and does not throw, so the
   * fault's own error is what reaches the caller (not a SuppressedError).
   */
  [Symbol.dispose](): void {
    if (this.#destroyed) return;
    try {
      this.destroy();
    } catch (e) {
      if (!(e instanceof FaultlineError) || this.device.faultInfo() === null) throw e;
      this.#destroyed = true;
      untrack(this);
    }
  }
}
