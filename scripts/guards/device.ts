/**
 * Rail: every device pointer of a call lies in memory of the device the call
 * runs on; for a peer copy, its source on the source device and its
 * destination on the destination. On a GPU a kernel given another device's
 * pointer faults (no peer access) or reads that device's memory over the link
 * without any ordering against its work; a copy given one is refused or copies
 * the wrong device's bytes.
 */
import type { NativeCall, PointerArg } from "../../mod.ts";
import { allocOf, hex, pointerFinding, pointerRail, type Rail, type RailMode } from "./types.ts";

const INVARIANT = "device pointers are in memory of the device the call uses them on";

/** The device pointer `p` of `call` must belong to (host ids, as calls name devices). */
export function expectedDevice(call: NativeCall, p: PointerArg): number {
  if (call.kind === "p2p" && p.arg === "src") return call.scalars.src_device ?? call.device;
  return call.device;
}

function what(call: NativeCall, p: PointerArg): string {
  if (call.kind !== "p2p") return `the ${call.kind} ${call.name} runs on device ${call.device}`;
  return p.arg === "src"
    ? `the peer copy reads from device ${expectedDevice(call, p)}`
    : `the peer copy writes to device ${call.device}`;
}

/** The device rail in `mode`: a pointer into another device's memory than the one the call uses it on. */
export function deviceRail(mode: RailMode = "warn"): Rail {
  return pointerRail("device", mode, (call, p, k, ctx) => {
    const a = allocOf(ctx, call, k);
    if (a === null || a.host) return null; // no allocation: unknown_pointer's; pinned memory is every device's
    const want = expectedDevice(call, p);
    if (a.device === want) return null;
    const f = pointerFinding(
      "device",
      call,
      p,
      a,
      INVARIANT,
      `${p.arg}=${hex(p.ptr)} is in ${a.name} (alloc ${a.id}) of device ${a.device}, but ${what(call, p)}`,
    );
    f.device = want;
    f.pointer_device = a.device;
    return f;
  }, { cleanMayFail: true });
}
