/** One device: properties, memory, streams, events, synchronization, fault info. */
import { boundary } from "./boundary.ts";
import { DeviceBuffer, hostRegion, memcpy, PinnedBuffer, streamHandle } from "./buffer.ts";
import type { HostData } from "./buffer.ts";
import { callNative, callNativeAsync, hostDeviceId, makeCall, through } from "./call.ts";
import { check } from "./errors.ts";
import { Event } from "./event.ts";
import { Stream } from "./stream.ts";
import type { NativeSymbols } from "./symbols.ts";
import { checkName, checkOptions, checkRange, checkSize } from "./validate.ts";
import type { FaultInfo } from "../records.ts";

/** What the device reports about itself (fl_device_props). */
export interface DeviceProps {
  /** The device's name ("NVIDIA H200", "faultline sim (CPU)"). */
  name: string;
  /** Device memory in bytes. */
  totalMem: number;
  /** Most blocks per grid in x, y and z. */
  maxGrid: [number, number, number];
  /** Most threads per block in x, y and z. */
  maxBlock: [number, number, number];
  /** Most threads in one block. */
  maxThreadsPerBlock: number;
  /** Threads per warp (32 on NVIDIA, 64 on most AMD GPUs). */
  warpSize: number;
  /** Streaming multiprocessors (NVIDIA) or compute units (AMD). */
  multiprocessorCount: number;
  /** Compute capability major (cuda) or gfx major (hip). */
  major: number;
  /** Compute capability minor (cuda) or gfx minor (hip). */
  minor: number;
}

/** Options of Device.malloc. */
export interface MallocOptions {
  /** Name for messages and the journal (default "buffer<N>"). */
  name?: string;
  /**
   * Bytes of redzone before and after the buffer (rounded up to a multiple of
   * 256, so `ptr` keeps the allocator's alignment). The native allocation is
   * redzone + bytes rounded up to 256 + redzone; `ptr` is base + redzone.
   */
  redzone?: number;
}

/** Options of a host-to-host copy through the runtime (Device.copyHost). */
export interface HostCopyOptions {
  /** Bytes to copy (default: the whole source). */
  bytes?: number;
  /** Enqueue on this stream instead of copying synchronously. */
  stream?: Stream;
}

const decoder = new TextDecoder();
function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

let unnamed = 0;

/** One device of the loaded backend: its properties, memory, streams, events, synchronization and fault info. */
export class Device {
  /** The native functions (shared with the buffers, streams and events of this device). */
  readonly symbols: NativeSymbols;
  /** The device's ordinal (0 for the first). */
  readonly ordinal: number;
  /** The default stream (handle 0). */
  readonly defaultStream: Stream;
  /**
   * Redzone bytes for `malloc` calls that give no `redzone` option (0: none).
   * An audit session with redzones sets it while it is open.
   */
  defaultRedzone = 0;
  #props: DeviceProps | null = null;
  #busId: string | null = null;
  #u64a = new BigUint64Array(1);
  #u64b = new BigUint64Array(1);

  /** Wraps device `ordinal` of a loaded library (Runtime.device creates devices). */
  constructor(symbols: NativeSymbols, ordinal: number) {
    this.symbols = symbols;
    this.ordinal = ordinal;
    this.defaultStream = new Stream(this, 0);
  }

  /**
   * The device's number on the host: its ordinal, unless this process sees a subset of the host's
   * devices (a trial placed on host device 3 sees it as ordinal 0: FAULTLINE_DEVICE_IDS says 3).
   * Calls, journals and findings name devices by it; native calls take the ordinal.
   */
  get id(): number {
    return hostDeviceId(this.ordinal);
  }

  /** fl_device_bus_id, read once: the PCI bus id ("0000:17:00.0"), "sim:N" on sim. */
  get busId(): string {
    if (this.#busId !== null) return this.#busId;
    const buf = new Uint8Array(64);
    check(this.symbols.fl_device_bus_id(this.ordinal, buf, buf.length), "fl_device_bus_id");
    return this.#busId = cString(buf);
  }

  /** fl_device_props_get, read once. */
  get props(): DeviceProps {
    if (this.#props) return this.#props;
    const buf = new Uint8Array(312);
    check(this.symbols.fl_device_props_get(this.ordinal, buf), "fl_device_props_get");
    const dv = new DataView(buf.buffer);
    const i32 = (o: number) => dv.getInt32(o, true);
    this.#props = {
      name: cString(buf.subarray(0, 256)),
      totalMem: Number(dv.getBigUint64(256, true)),
      maxGrid: [i32(264), i32(268), i32(272)],
      maxBlock: [i32(276), i32(280), i32(284)],
      maxThreadsPerBlock: i32(288),
      warpSize: i32(292),
      multiprocessorCount: i32(296),
      major: i32(300),
      minor: i32(304),
    };
    return this.#props;
  }

  /** Free and total device memory in bytes. */
  memInfo(): { free: number; total: number } {
    check(this.symbols.fl_mem_info(this.ordinal, this.#u64a, this.#u64b), "fl_mem_info");
    return { free: Number(this.#u64a[0]), total: Number(this.#u64b[0]) };
  }

  /** Allocates device memory (fl_malloc), optionally with redzones around it. */
  malloc(bytes: number, options?: MallocOptions): DeviceBuffer {
    checkSize(bytes, "malloc: bytes");
    const opts = checkOptions(options, "malloc");
    const name = checkName(opts.name, "malloc") ?? `buffer${++unnamed}`;
    const rz = opts.redzone ?? this.defaultRedzone;
    const redzone = rz === 0 ? 0 : roundUp(checkSize(rz, "malloc: redzone"), 256);
    const allocBytes = redzone === 0 ? bytes : redzone + roundUp(bytes, 256) + redzone;
    checkSize(allocBytes, "malloc: bytes with redzones");
    const sym = this.symbols;
    const dev = this.ordinal;
    const out = this.#u64a;
    let status: number;
    if (!boundary.active) status = sym.fl_malloc(dev, BigInt(allocBytes), out);
    else {
      const call = makeCall("alloc", name, dev, 0, { bytes, redzone, allocBytes }, []);
      status = through(sym, call, () => sym.fl_malloc(dev, BigInt(allocBytes), out), () => Number(out[0]));
    }
    check(status, "fl_malloc");
    return new DeviceBuffer({ device: this, base: Number(out[0]), bytes, redzone, allocBytes, name });
  }

  /** Allocates pinned (page-locked) host memory with a view over it. */
  hostAlloc(bytes: number, options?: { name?: string }): PinnedBuffer {
    checkSize(bytes, "hostAlloc: bytes");
    const opts = checkOptions(options, "hostAlloc");
    const name = checkName(opts.name, "hostAlloc") ?? `pinned${++unnamed}`;
    const sym = this.symbols;
    const dev = this.ordinal;
    const out = this.#u64a;
    let status: number;
    if (!boundary.active) status = sym.fl_host_malloc(dev, BigInt(bytes), out);
    else {
      const call = makeCall("host_alloc", name, dev, 0, { bytes }, []);
      status = through(sym, call, () => sym.fl_host_malloc(dev, BigInt(bytes), out), () => Number(out[0]));
    }
    check(status, "fl_host_malloc");
    return new PinnedBuffer(this, Number(out[0]), bytes, name);
  }

  /** Host-to-host copy through the runtime (H2H), sync or on a stream. Default bytes: all of src. */
  copyHost(dst: HostData, src: HostData, options?: HostCopyOptions): void {
    const opts = checkOptions(options, "copyHost");
    const d = hostRegion(dst, "copyHost: destination");
    const s = hostRegion(src, "copyHost: source");
    const bytes = opts.bytes === undefined ? s.bytes : checkSize(opts.bytes, "copyHost: bytes");
    checkRange(0, bytes, s.bytes, "copyHost: source");
    checkRange(0, bytes, d.bytes, "copyHost: destination");
    const stream = streamHandle(opts.stream, this, "copyHost");
    if (bytes === 0) return;
    memcpy(this, d.addr, s.addr, bytes, 0, stream, opts.stream === undefined, "host", s.addr);
  }

  /** Creates a stream (non-blocking: the default stream does not order it). */
  createStream(): Stream {
    return new Stream(
      this,
      this.#create("stream_create", (dev, out) => this.symbols.fl_stream_create(dev, out)),
    );
  }

  /** Creates an event, to record on one stream and wait for on another. */
  createEvent(): Event {
    return new Event(
      this,
      this.#create("event_create", (dev, out) => this.symbols.fl_event_create(dev, out)),
    );
  }

  /** Runs a create export that writes the new handle to its out-parameter (through the boundary); the handle. */
  #create(
    kind: "stream_create" | "event_create",
    create: (dev: number, out: BigUint64Array) => number,
  ): number {
    const dev = this.ordinal;
    const out = this.#u64a;
    const status = boundary.active
      ? through(
        this.symbols,
        makeCall(kind, kind, dev, 0, {}, []),
        () => create(dev, out),
        () => Number(out[0]),
      )
      : create(dev, out);
    check(status, `fl_${kind}`);
    return Number(out[0]);
  }

  /** Waits for all work on the device; throws FaultlineError if any failed. */
  synchronize(): void {
    const { symbols: sym, ordinal: dev } = this;
    check(
      callNative(sym, "sync", "device_synchronize", dev, 0, () => sym.fl_device_synchronize(dev)),
      "fl_device_synchronize",
    );
  }

  /** synchronize() on a pooled thread. */
  async synchronizeAsync(): Promise<void> {
    const { symbols: sym, ordinal: dev } = this;
    const status = await callNativeAsync(sym, "sync", "device_synchronize", dev, 0, () => {
      return sym.fl_device_synchronize_nb(dev);
    });
    check(status, "fl_device_synchronize");
  }

  /** The first fault of this device's context, or null when there is none. */
  faultInfo(): FaultInfo | null {
    const buf = new Uint8Array(104);
    check(this.symbols.fl_fault_info_get(this.ordinal, buf), "fl_fault_info_get");
    const dv = new DataView(buf.buffer);
    const status = dv.getInt32(0, true);
    if (status === 0) return null;
    const access = dv.getInt32(96, true);
    return {
      status,
      device: hostDeviceId(dv.getInt32(4, true)),
      address: Number(dv.getBigUint64(8, true)),
      stream: Number(dv.getBigUint64(16, true)),
      tag: Number(dv.getBigUint64(24, true)),
      op: cString(buf.subarray(32, 96)),
      access: access === 1 ? "read" : access === 2 ? "write" : "unknown",
    };
  }

  /** The thread's last non-sticky error without clearing it (0: none). */
  peekLastError(): number {
    const out = new Int32Array(1);
    check(this.symbols.fl_peek_last_error(out), "fl_peek_last_error");
    return out[0];
  }

  /** The thread's last non-sticky error, cleared (0: none). */
  takeLastError(): number {
    const out = new Int32Array(1);
    check(this.symbols.fl_get_last_error(out), "fl_get_last_error");
    return out[0];
  }
}
