/** Streams: in-order queues of device work. Handle 0 is the device's default stream. */
import { callNative, callNativeAsync } from "./call.ts";
import { check, FaultlineError, FaultlineUsageError, releaseOnDispose } from "./errors.ts";
import { track, untrack } from "./leak.ts";
import type { DeviceRef } from "./resource.ts";
import type { Event } from "./event.ts";
import { Status } from "./symbols.ts";
import { brand, checkHandle } from "./validate.ts";

/** A stream of one device: an in-order queue of launches and copies. */
export class Stream {
  /** The device the stream belongs to. */
  readonly device: DeviceRef;
  /** Native handle; 0 for the default stream. */
  readonly handle: number;
  /** handle as a bigint, the form the native calls take. */
  readonly handle64: bigint;
  #destroyed = false;

  /** Wraps a native stream (Device.createStream creates streams; handle 0 is the default stream). */
  constructor(device: DeviceRef, handle: number) {
    this.device = device;
    this.handle = handle;
    this.handle64 = BigInt(handle);
    brand(this, "Stream");
    if (handle !== 0) track(this, `Stream ${handle} of device ${device.ordinal}`, this);
  }

  /** Whether this is the device's default stream (handle 0). */
  get isDefault(): boolean {
    return this.handle === 0;
  }

  /** Whether destroy() was called (any later use is a FaultlineUsageError). */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  #live(what: string): void {
    if (this.#destroyed) {
      throw new FaultlineUsageError(`${what}: stream ${this.handle} was already destroyed`);
    }
  }

  /** Waits for all work queued on the stream; throws FaultlineError if it failed. */
  synchronize(): void {
    this.#live("stream synchronize");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "sync", "stream_synchronize", dev, this.handle, () => {
      return sym.fl_stream_synchronize(dev, this.handle64);
    });
    check(status, "fl_stream_synchronize");
  }

  /** synchronize() on a pooled thread (tens of microseconds of overhead), leaving the event loop free. */
  async synchronizeAsync(): Promise<void> {
    this.#live("stream synchronize");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = await callNativeAsync(sym, "sync", "stream_synchronize", dev, this.handle, () => {
      return sym.fl_stream_synchronize_nb(dev, this.handle64);
    });
    check(status, "fl_stream_synchronize");
  }

  /** True when all queued work is done, false while some is pending. */
  query(): boolean {
    this.#live("stream query");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "query", "stream_query", dev, this.handle, () => {
      return sym.fl_stream_query(dev, this.handle64);
    });
    if (status === Status.NOT_READY) return false;
    if (status !== 0) throw new FaultlineError(status, "fl_stream_query");
    return true;
  }

  /** Makes later work on this stream wait until `event` completes. */
  waitEvent(event: Event): void {
    this.#live("stream waitEvent");
    checkHandle(event, "Event", "stream waitEvent: event");
    event.assertUsable("stream waitEvent", this.device);
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "event_wait", "stream_wait_event", dev, this.handle, () => {
      return sym.fl_stream_wait_event(dev, this.handle64, event.handle64);
    }, { event: event.handle });
    check(status, "fl_stream_wait_event");
  }

  /** Destroys the stream (not allowed for the default stream). */
  destroy(): void {
    if (this.handle === 0) throw new FaultlineUsageError("the default stream cannot be destroyed");
    this.#live("stream destroy");
    const { symbols: sym, ordinal: dev } = this.device;
    const status = callNative(sym, "stream_destroy", "stream_destroy", dev, this.handle, () => {
      return sym.fl_stream_destroy(dev, this.handle64);
    });
    check(status, "fl_stream_destroy");
    this.#destroyed = true;
    untrack(this);
  }

  /** destroy() for `using` (releaseOnDispose: quiet in a context a sticky fault poisoned). */
  [Symbol.dispose](): void {
    if (this.handle === 0 || this.#destroyed) return;
    releaseOnDispose(this.device, () => this.destroy(), () => {
      this.#destroyed = true;
      untrack(this);
    });
  }
}
