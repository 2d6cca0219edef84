/**
 * Device and pinned host memory.
 *
 * DeviceBuffer: one device allocation (fl_malloc), optionally with redzones
 * around it; copies in every direction, fill, sub-range pointers (at), free.
 * PinnedBuffer: page-locked host memory (fl_host_malloc) with a Uint8Array
 * view over it. Pageable host memory is any ArrayBufferView; for async copies
 * the caller keeps it alive and unchanged until the stream reaches the copy.
 */
import { boundary } from "./boundary.ts";
import { makeCall, pointer, through } from "./call.ts";
import { check, FaultlineUsageError, releaseOnDispose } from "./errors.ts";
import { track, untrack } from "./leak.ts";
import { peerCopy } from "./peer.ts";
import { MemcpyKind, type NativeSymbols } from "./symbols.ts";
import { checkHandle, checkOptions, checkRange, checkSize, describe } from "./validate.ts";
// The device and stream a buffer belongs to, as ffi/resource.ts describes them (no import of the classes).
import type { DeviceRef as Device, StreamRef as Stream } from "./resource.ts";
import type { OpKind } from "../records.ts";

/** Host memory a copy reads or writes: pageable (any ArrayBufferView) or pinned. */
export type HostData = ArrayBufferView | PinnedBuffer;

/** Options of a copy between a device buffer and host memory. */
export interface CopyOptions {
  /** Byte offset into the device buffer (default 0). */
  offset?: number;
  /** Bytes to copy (default: the whole host side). */
  bytes?: number;
  /** Enqueue on this stream (fl_memcpy_async) instead of copying synchronously. */
  stream?: Stream;
}

/** Options of a copy between two device buffers. */
export interface DeviceCopyOptions {
  /** Bytes to copy (default: what fits in both from their offsets). */
  bytes?: number;
  /** Byte offset into the source buffer (default 0). */
  srcOffset?: number;
  /** Byte offset into the destination buffer (default 0). */
  dstOffset?: number;
  /** Enqueue on this stream instead of copying synchronously. */
  stream?: Stream;
}

/** Options of a memset over a device buffer. */
export interface FillOptions {
  /** Byte offset into the buffer (default 0). */
  offset?: number;
  /** Bytes to set (default: to the end of the buffer). */
  bytes?: number;
  /** Enqueue on this stream instead of setting synchronously. */
  stream?: Stream;
}

const KIND_NAME = ["H2H", "H2D", "D2H", "D2D"] as const;
const KIND_OP: OpKind[] = ["h2h", "h2d", "d2h", "d2d"];

/** Host address and size of a host region; checks a pinned buffer is live. */
export function hostRegion(h: HostData, what: string): { addr: number; bytes: number } {
  if (h instanceof PinnedBuffer) {
    if (h.freed) throw new FaultlineUsageError(`${what}: pinned buffer ${h.describe()} was already freed`);
    return { addr: h.ptr, bytes: h.bytes };
  }
  if (!ArrayBuffer.isView(h)) {
    throw new FaultlineUsageError(`${what} must be an ArrayBufferView or a PinnedBuffer, got ${describe(h)}`);
  }
  if ((h.buffer as ArrayBuffer).detached) {
    throw new FaultlineUsageError(`${what}: its memory was freed (the view's ArrayBuffer is detached)`);
  }
  if (h.byteLength === 0) return { addr: 0, bytes: 0 };
  const p = Deno.UnsafePointer.of(h as unknown as BufferSource);
  return { addr: Number(Deno.UnsafePointer.value(p)), bytes: h.byteLength };
}

/** Checks a stream argument: live and of `device`. Returns its handle (0: default stream). */
export function streamHandle(stream: Stream | undefined, device: Device, what: string): number {
  if (stream === undefined) return 0;
  checkHandle(stream, "Stream", `${what}: stream`);
  if (stream.destroyed) {
    throw new FaultlineUsageError(`${what}: stream ${stream.handle} was already destroyed`);
  }
  if (stream.device.ordinal !== device.ordinal) {
    throw new FaultlineUsageError(
      `${what}: stream belongs to device ${stream.device.id}, not device ${device.id}`,
    );
  }
  return stream.handle;
}

/**
 * One copy through the boundary: fl_memcpy (sync) or fl_memcpy_async (stream given).
 * `dev` and `host` describe the call for the observers.
 */
export function memcpy(
  device: Device,
  dst: number,
  src: number,
  bytes: number,
  kind: 0 | 1 | 2 | 3,
  stream: number,
  sync: boolean,
  name: string,
  host?: number,
): void {
  const sym = device.symbols;
  const dev = device.ordinal;
  if (!boundary.active) {
    if (sync) {
      check(
        sym.fl_memcpy(dev, BigInt(dst), BigInt(src), BigInt(bytes), kind),
        `fl_memcpy ${KIND_NAME[kind]}`,
      );
    } else {
      check(
        sym.fl_memcpy_async(dev, BigInt(dst), BigInt(src), BigInt(bytes), kind, BigInt(stream)),
        `fl_memcpy_async ${KIND_NAME[kind]}`,
      );
    }
    return;
  }
  const ptrs = [];
  if (kind === MemcpyKind.D2H || kind === MemcpyKind.D2D) ptrs.push(pointer("src", src, bytes, "r"));
  if (kind === MemcpyKind.H2D || kind === MemcpyKind.D2D) ptrs.push(pointer("dst", dst, bytes, "w"));
  const call = makeCall(
    KIND_OP[kind],
    name,
    dev,
    stream,
    { bytes, sync: sync ? 1 : 0 },
    ptrs,
    host === undefined ? undefined : { host },
  );
  const status = through(
    sym,
    call,
    sync
      ? () => sym.fl_memcpy(dev, BigInt(dst), BigInt(src), BigInt(bytes), kind)
      : () => sym.fl_memcpy_async(dev, BigInt(dst), BigInt(src), BigInt(bytes), kind, BigInt(stream)),
  );
  check(status, `${sync ? "fl_memcpy" : "fl_memcpy_async"} ${KIND_NAME[kind]}`);
}

/** A device address inside a live DeviceBuffer: what `buffer.at(offset)` returns; kernels take it as a pointer. */
export class DeviceSlice {
  /** The buffer the address lies in. */
  readonly buffer: DeviceBuffer;
  /** Byte offset from the buffer's ptr. */
  readonly offset: number;
  /** A slice `offset` bytes into `buffer` (buffer.at(offset) checks the range). */
  constructor(buffer: DeviceBuffer, offset: number) {
    this.buffer = buffer;
    this.offset = offset;
  }
  /** The device address (buffer.ptr + offset). */
  get ptr(): number {
    return this.buffer.ptr + this.offset;
  }
  /** Bytes from this address to the end of the buffer. */
  get bytes(): number {
    return this.buffer.bytes - this.offset;
  }
}

export interface DeviceBufferInit {
  device: Device;
  base: number;
  bytes: number;
  redzone: number;
  allocBytes: number;
  name: string;
}

/** One device allocation. `ptr` is the user's address; with redzones, `base` is the native allocation. */
export class DeviceBuffer {
  /** The device the memory lives on. */
  readonly device: Device;
  /** First byte the user owns (base + redzone). */
  readonly ptr: number;
  /** Bytes the user asked for. */
  readonly bytes: number;
  /** The tensor name the journal and reports use. */
  readonly name: string;
  /** Address the native allocation starts at (== ptr without redzones). */
  readonly base: number;
  /** Bytes of redzone before ptr (and at least as many after ptr + bytes). */
  readonly redzone: number;
  /** Bytes of the native allocation: redzone + bytes rounded up to 256 + redzone (== bytes without redzones). */
  readonly allocBytes: number;
  /** ptr as a bigint, the form the native calls take. */
  readonly ptr64: bigint;
  #freed = false;

  /** Wraps an allocation the device made (Device.malloc creates buffers; this does not allocate). */
  constructor(init: DeviceBufferInit) {
    this.device = init.device;
    this.base = init.base;
    this.ptr = init.base + init.redzone;
    this.ptr64 = BigInt(this.ptr);
    this.bytes = init.bytes;
    this.redzone = init.redzone;
    this.allocBytes = init.allocBytes;
    this.name = init.name;
    track(this, `DeviceBuffer ${this.describe()}`, this);
  }

  /** Whether free() was called (any later use is a FaultlineUsageError). */
  get freed(): boolean {
    return this.#freed;
  }

  /** `"name" (N bytes at 0x..., device D)` for messages. */
  describe(): string {
    return `"${this.name}" (${this.bytes} bytes at 0x${this.ptr.toString(16)}, device ${this.device.id})`;
  }

  /** True when the buffer is live and on `device`: the launch hot path's check. */
  usableOn(device: Device): boolean {
    return !this.#freed && device.ordinal === this.device.ordinal;
  }

  /** Throws FaultlineUsageError, naming `what`, when freed or (if given) not of `device`. */
  assertUsable(what: string, device?: Device): void {
    if (this.#freed) {
      throw new FaultlineUsageError(`${what}: device buffer ${this.describe()} was already freed`);
    }
    if (device !== undefined && device.ordinal !== this.device.ordinal) {
      throw new FaultlineUsageError(
        `${what}: device buffer ${this.describe()} belongs to device ${this.device.id}, not device ${device.id}`,
      );
    }
  }

  /** Copies host memory into the buffer (H2D), at `offset`. Sync unless a stream is given. */
  upload(src: HostData, options?: CopyOptions): void {
    this.#hostCopy("upload", src, options);
  }

  /** Copies the buffer (from `offset`) into host memory (D2H). Sync unless a stream is given. */
  download(dst: HostData, options?: CopyOptions): void {
    this.#hostCopy("download", dst, options);
  }

  /** upload and download: the same checks, the copy in one direction or the other. */
  #hostCopy(dir: "upload" | "download", host: HostData, options: CopyOptions | undefined): void {
    const up = dir === "upload";
    const what = `${dir} ${up ? "to" : "from"} ${this.name}`;
    const side = up ? "source" : "destination";
    this.assertUsable(what);
    const opts = checkOptions(options, what);
    const h = hostRegion(host, `${what}: ${side}`);
    const offset = opts.offset === undefined ? 0 : checkSize(opts.offset, `${what}: offset`);
    const bytes = opts.bytes === undefined ? h.bytes : checkSize(opts.bytes, `${what}: bytes`);
    checkRange(0, bytes, h.bytes, `${what}: host ${side}`);
    checkRange(offset, bytes, this.bytes, `${what}: device buffer ${this.describe()}`);
    const stream = streamHandle(opts.stream, this.device, what);
    if (bytes === 0) return;
    const dev = this.ptr + offset;
    const sync = opts.stream === undefined;
    if (up) memcpy(this.device, dev, h.addr, bytes, 1, stream, sync, this.name, h.addr);
    else memcpy(this.device, h.addr, dev, bytes, 2, stream, sync, this.name, h.addr);
  }

  /** The offsets and size of a copy from `src` into this buffer, checked against both. */
  #copyExtent(src: DeviceBuffer, opts: Partial<DeviceCopyOptions>, what: string) {
    const srcOffset = opts.srcOffset === undefined ? 0 : checkSize(opts.srcOffset, `${what}: srcOffset`);
    const dstOffset = opts.dstOffset === undefined ? 0 : checkSize(opts.dstOffset, `${what}: dstOffset`);
    checkRange(srcOffset, 0, src.bytes, `${what}: source ${src.describe()}`);
    const bytes = opts.bytes === undefined ? src.bytes - srcOffset : checkSize(opts.bytes, `${what}: bytes`);
    checkRange(srcOffset, bytes, src.bytes, `${what}: source ${src.describe()}`);
    checkRange(dstOffset, bytes, this.bytes, `${what}: destination ${this.describe()}`);
    return { srcOffset, dstOffset, bytes };
  }

  #sourceBuffer(src: DeviceBuffer, what: string): void {
    if (!(src instanceof DeviceBuffer)) {
      throw new FaultlineUsageError(`${what}: source must be a DeviceBuffer, got ${describe(src)}`);
    }
  }

  /** Copies from another buffer of the same device (D2D). Default bytes: the rest of src from srcOffset. */
  copyFrom(src: DeviceBuffer, options?: DeviceCopyOptions): void {
    const what = `copy ${src?.name} to ${this.name}`;
    this.assertUsable(what);
    const opts = checkOptions(options, what);
    this.#sourceBuffer(src, what);
    if (!src.freed && src.device.ordinal !== this.device.ordinal) {
      throw new FaultlineUsageError(
        `${what}: source ${src.describe()} is on device ${src.device.id}, the destination on device ` +
          `${this.device.id}: copy between devices with copyFromPeer`,
      );
    }
    src.assertUsable(what, this.device);
    const { srcOffset, dstOffset, bytes } = this.#copyExtent(src, opts, what);
    const stream = streamHandle(opts.stream, this.device, what);
    if (bytes === 0) return;
    memcpy(
      this.device,
      this.ptr + dstOffset,
      src.ptr + srcOffset,
      bytes,
      3,
      stream,
      opts.stream === undefined,
      this.name,
    );
  }

  /**
   * Copies from a buffer of another device (a peer copy, journaled as p2p): fl_memcpy_peer, or
   * fl_memcpy_peer_async on `stream`, a stream of this buffer's device. Default bytes: the rest of src
   * from srcOffset.
   */
  copyFromPeer(src: DeviceBuffer, options?: DeviceCopyOptions): void {
    const what = `peer copy ${src?.name} to ${this.name}`;
    this.assertUsable(what);
    const opts = checkOptions(options, what);
    this.#sourceBuffer(src, what);
    src.assertUsable(what);
    const { srcOffset, dstOffset, bytes } = this.#copyExtent(src, opts, what);
    peerCopy({
      dstDevice: this.device,
      dst: this.ptr + dstOffset,
      srcDevice: src.device,
      src: src.ptr + srcOffset,
      bytes,
      stream: opts.stream,
      name: this.name,
    }, what);
  }

  /** Sets bytes to `byte` (0..255): fl_memset, or fl_memset_async on a stream. */
  fill(byte: number, options?: FillOptions): void {
    const what = `fill ${this.name}`;
    this.assertUsable(what);
    const opts = checkOptions(options, what);
    if (typeof byte !== "number" || !Number.isInteger(byte) || byte < 0 || byte > 255) {
      throw new FaultlineUsageError(`${what}: value must be a byte (0..255), got ${describe(byte)}`);
    }
    const offset = opts.offset === undefined ? 0 : checkSize(opts.offset, `${what}: offset`);
    checkRange(offset, 0, this.bytes, `${what}: device buffer ${this.describe()}`);
    const bytes = opts.bytes === undefined ? this.bytes - offset : checkSize(opts.bytes, `${what}: bytes`);
    checkRange(offset, bytes, this.bytes, `${what}: device buffer ${this.describe()}`);
    const stream = streamHandle(opts.stream, this.device, what);
    if (bytes === 0) return;
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const dst = this.ptr + offset;
    const d64 = BigInt(dst);
    const n64 = BigInt(bytes);
    const s64 = BigInt(stream);
    const sync = opts.stream === undefined;
    if (!boundary.active) {
      if (sync) check(sym.fl_memset(dev, d64, byte, n64), "fl_memset");
      else check(sym.fl_memset_async(dev, d64, byte, n64, s64), "fl_memset_async");
      return;
    }
    const call = makeCall("memset", this.name, dev, stream, { value: byte, bytes, sync: sync ? 1 : 0 }, [
      pointer("dst", dst, bytes, "w"),
    ]);
    const status = through(
      sym,
      call,
      sync ? () => sym.fl_memset(dev, d64, byte, n64) : () => sym.fl_memset_async(dev, d64, byte, n64, s64),
    );
    check(status, sync ? "fl_memset" : "fl_memset_async");
  }

  /** A pointer `offsetBytes` into the buffer (0..bytes), for kernel arguments. */
  at(offsetBytes: number): DeviceSlice {
    const what = `${this.name}.at`;
    this.assertUsable(what);
    checkSize(offsetBytes, `${what}: offset`);
    checkRange(offsetBytes, 0, this.bytes, `${what}: device buffer ${this.describe()}`);
    return new DeviceSlice(this, offsetBytes);
  }

  /** Frees the native allocation (base). Further use throws FaultlineUsageError. */
  free(): void {
    this.assertUsable(`free ${this.name}`);
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const base = this.base;
    let status: number;
    if (!boundary.active) status = sym.fl_free(dev, BigInt(base));
    else {
      const call = makeCall("free", this.name, dev, 0, { ptr: base, bytes: this.allocBytes }, []);
      status = through(sym, call, () => sym.fl_free(dev, BigInt(base)));
    }
    check(status, "fl_free");
    this.#freed = true;
    untrack(this);
  }

  /** free() for `using` (releaseOnDispose: quiet in a context a sticky fault poisoned). */
  [Symbol.dispose](): void {
    if (this.#freed) return;
    releaseOnDispose(this.device, () => this.free(), () => {
      this.#freed = true;
      untrack(this);
    });
  }
}

/** Page-locked host memory with a view over it. */
export class PinnedBuffer {
  /** The device whose runtime pinned the memory. */
  readonly device: Device;
  /** Host address of the pinned memory. */
  readonly ptr: number;
  /** Size in bytes. */
  readonly bytes: number;
  /** The name the journal and reports use. */
  readonly name: string;
  #view: Uint8Array | null;
  #freed = false;

  /** Wraps pinned memory the device allocated (Device.mallocHost creates it; this does not allocate). */
  constructor(device: Device, ptr: number, bytes: number, name: string) {
    this.device = device;
    this.ptr = ptr;
    this.bytes = bytes;
    this.name = name;
    this.#view = this.#map();
    track(this, `PinnedBuffer ${this.describe()}`, this);
  }

  /** Whether free() was called (its views then read as empty). */
  get freed(): boolean {
    return this.#freed;
  }

  /** One ArrayBuffer over the pinned memory: every view a caller makes shares it, so one detach ends them all. */
  #map(): Uint8Array {
    if (this.bytes === 0) return new Uint8Array(0);
    const base = Deno.UnsafePointer.create(BigInt(this.ptr))!;
    return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(base, this.bytes));
  }

  /**
   * Detaches the ArrayBuffer before the memory goes: views taken earlier then
   * read as empty (length 0) instead of reaching freed memory, and copies refuse them.
   */
  #detach(): void {
    (this.#view?.buffer as ArrayBuffer | undefined)?.transfer(0);
    this.#view = null;
  }

  /** `"name" (N bytes at 0x...)` for messages. */
  describe(): string {
    return `"${this.name}" (${this.bytes} bytes at 0x${this.ptr.toString(16)})`;
  }

  /** The pinned memory as bytes. Throws after free() (the memory is gone). */
  get view(): Uint8Array {
    if (this.#freed || !this.#view) {
      throw new FaultlineUsageError(`pinned buffer ${this.describe()} was already freed`);
    }
    return this.#view;
  }

  /** The pinned memory as an ArrayBuffer. */
  get buffer(): ArrayBuffer {
    return this.view.buffer as ArrayBuffer;
  }

  /** Unpins and frees the memory; views taken earlier become empty. A second free is a FaultlineUsageError. */
  free(): void {
    if (this.#freed) {
      throw new FaultlineUsageError(`free: pinned buffer ${this.describe()} was already freed`);
    }
    const sym = this.device.symbols;
    const dev = this.device.ordinal;
    const ptr = this.ptr;
    this.#detach();
    let status: number;
    if (!boundary.active) status = sym.fl_host_free(dev, BigInt(ptr));
    else {
      const call = makeCall("host_free", this.name, dev, 0, { ptr, bytes: this.bytes }, [], { host: ptr });
      status = through(sym, call, () => sym.fl_host_free(dev, BigInt(ptr)));
    }
    if (status !== 0) this.#view = this.#map(); // the native free failed: the memory is still there
    check(status, "fl_host_free");
    this.#freed = true;
    untrack(this);
  }

  /** free() for `using` (releaseOnDispose: quiet in a context a sticky fault poisoned). */
  [Symbol.dispose](): void {
    if (this.#freed) return;
    releaseOnDispose(this.device, () => this.free(), () => {
      this.#freed = true;
      this.#detach();
      untrack(this);
    });
  }
}

export type { NativeSymbols };
