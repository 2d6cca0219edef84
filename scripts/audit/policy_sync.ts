/**
 * The syncs a sync policy asks for (scripts/sync/), made through the
 * boundary so that they are journaled (scalar policy = 1) and seen by the
 * race check, on the device of the call that asked. While one runs, the
 * policy is not asked about it.
 */
import { check, type Device, makeCall, type NativeCall, runtime, through } from "../../mod.ts";
import type { SyncAction } from "../sync/index.ts";

export class PolicySync {
  #device: Device;
  #policyName: () => string;
  #running = false;

  constructor(device: Device, policyName: () => string) {
    this.#device = device;
    this.#policyName = policyName;
  }

  /** A policy sync is in progress (its own calls are not shown to the policy). */
  get running(): boolean {
    return this.#running;
  }

  /** Makes the sync `action` asks for, `phase` ("before"/"after") `call`; throws when it fails. */
  run(action: SyncAction, call: NativeCall, phase: string): void {
    if (action === "none") return;
    this.#running = true;
    try {
      const what = action === "stream" ? "fl_stream_synchronize" : "fl_device_synchronize";
      check(
        this.#sync(action, call.stream, this.#deviceOf(call)),
        `${what} (sync policy ${this.#policyName()}, ${phase} op ${call.id} ${call.name})`,
      );
    } finally {
      this.#running = false;
    }
  }

  /** The device a call ran on (calls name devices by host id). */
  #deviceOf(call: NativeCall): Device {
    if (call.device === this.#device.id) return this.#device;
    return runtime().devices().find((d) => d.id === call.device) ?? this.#device;
  }

  #sync(action: "stream" | "device", stream: number, device: Device): number {
    const sym = device.symbols;
    const dev = device.ordinal;
    if (action === "stream") {
      return through(
        sym,
        makeCall("sync", "stream_synchronize", dev, stream, { policy: 1 }, []),
        () => sym.fl_stream_synchronize(dev, BigInt(stream)),
      );
    }
    return through(
      sym,
      makeCall("sync", "device_synchronize", dev, 0, { policy: 1 }, []),
      () => sym.fl_device_synchronize(dev),
    );
  }
}
