/**
 * Peer copies: device memory of one device into another's (fl_memcpy_peer,
 * hipMemcpyPeer / cudaMemcpyPeer). `DeviceBuffer.copyFromPeer` is the checked
 * form; `memcpyPeer` takes raw addresses, as a launch does, and leaves them to
 * the rails (the copies rail: both ends inside their allocations; the device
 * rail: each end inside an allocation of its own device).
 *
 * Journaled as kind "p2p" on the destination device (its stream, when async),
 * with scalars bytes, sync and src_device (the source device's host id) and
 * pointers src (r) and dst (w).
 */
import { boundary } from "./boundary.ts";
import { makeCall, pointer, through } from "./call.ts";
import { check, FaultlineUsageError } from "./errors.ts";
import type { DeviceRef, StreamRef } from "./resource.ts";
import { checkHandle, checkName, checkOptions, checkSize, describe } from "./validate.ts";

/** A copy from one device's memory to another's. */
export interface PeerCopy {
  /** The device the copy writes to; it runs there (and `stream` is one of its streams). */
  dstDevice: DeviceRef;
  /** The destination address, in dstDevice's memory. */
  dst: number;
  /** The device the copy reads from. */
  srcDevice: DeviceRef;
  /** The source address, in srcDevice's memory. */
  src: number;
  /** Bytes to copy. */
  bytes: number;
  /** Enqueue on this stream of the destination device (fl_memcpy_peer_async) instead of copying synchronously. */
  stream?: StreamRef;
  /** Name for the journal (default "memcpy_peer"). */
  name?: string;
}

function checkAddress(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new FaultlineUsageError(
      `${what} must be a device address (non-negative integer below 2^53), got ${describe(v)}`,
    );
  }
  return v;
}

function checkDevice(d: unknown, what: string): DeviceRef {
  const dev = d as DeviceRef | null;
  if (dev === null || typeof dev !== "object" || typeof dev.ordinal !== "number" || !dev.symbols) {
    throw new FaultlineUsageError(`${what} must be a Device, got ${describe(d)}`);
  }
  return dev;
}

/** The stream handle of a peer copy: live and of the destination device (0: synchronous). */
function peerStream(stream: StreamRef | undefined, dst: DeviceRef, what: string): number {
  if (stream === undefined) return 0;
  checkHandle(stream, "Stream", `${what}: stream`);
  if (stream.destroyed) {
    throw new FaultlineUsageError(`${what}: stream ${stream.handle} was already destroyed`);
  }
  if (stream.device.ordinal !== dst.ordinal) {
    throw new FaultlineUsageError(
      `${what}: stream belongs to device ${stream.device.id}; a peer copy runs on its destination, device ${dst.id}`,
    );
  }
  return stream.handle;
}

/**
 * A peer copy with raw addresses: sync, or on `stream` of the destination device. Only the form of the
 * arguments is checked here; whether the addresses lie in the right allocations is for the rails.
 */
export function memcpyPeer(copy: PeerCopy): void {
  const c = checkOptions(copy, "memcpyPeer") as PeerCopy;
  const dstDevice = checkDevice(c.dstDevice, "memcpyPeer: dstDevice");
  const srcDevice = checkDevice(c.srcDevice, "memcpyPeer: srcDevice");
  const what = "memcpyPeer";
  peerCopy({
    dstDevice,
    dst: checkAddress(c.dst, `${what}: dst`),
    srcDevice,
    src: checkAddress(c.src, `${what}: src`),
    bytes: checkSize(c.bytes, `${what}: bytes`),
    stream: c.stream,
    name: checkName(c.name, what) ?? "memcpy_peer",
  }, what);
}

/** The copy itself, its arguments checked: through the boundary when an observer is attached. */
export function peerCopy(c: Required<Omit<PeerCopy, "stream">> & { stream?: StreamRef }, what: string): void {
  const stream = peerStream(c.stream, c.dstDevice, what);
  if (c.bytes === 0) return;
  const sym = c.dstDevice.symbols;
  const dd = c.dstDevice.ordinal, sd = c.srcDevice.ordinal;
  const [d64, s64, n64, h64] = [BigInt(c.dst), BigInt(c.src), BigInt(c.bytes), BigInt(stream)];
  const sync = c.stream === undefined;
  const invoke = sync
    ? () => sym.fl_memcpy_peer(dd, d64, sd, s64, n64)
    : () => sym.fl_memcpy_peer_async(dd, d64, sd, s64, n64, h64);
  const fn = sync ? "fl_memcpy_peer" : "fl_memcpy_peer_async";
  if (!boundary.active) return check(invoke(), fn);
  const call = makeCall(
    "p2p",
    c.name,
    dd,
    stream,
    { bytes: c.bytes, sync: sync ? 1 : 0, src_device: c.srcDevice.id },
    [pointer("src", c.src, c.bytes, "r"), pointer("dst", c.dst, c.bytes, "w")],
  );
  check(through(sym, call, invoke), fn);
}
