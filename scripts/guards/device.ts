/**
 * Rail: every device pointer of a call lies in memory of the device the call
 * runs on; for a peer copy, its source on the source device and its
 * destination on the destination. On a GPU a kernel given another device's
 * pointer faults (no peer access) or reads that device's memory over the link
 * without any ordering against its work; a copy given one is refused or copies
 * the wrong device's bytes.
 */
import type { NativeCall, PointerArg } from "../../mod.ts";
import {
  allocOf,
  type GuardContext,
  hex,
  NO_FINDINGS,
  pointerFinding,
  type Rail,
  type RailMode,
} from "./types.ts";
import type { Finding } from "../../records.ts";

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

export function deviceRail(mode: RailMode = "warn"): Rail {
  return {
    name: "device",
    mode,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const a = allocOf(ctx, call, k);
        if (a === null || a.host) continue; // no allocation: unknown_pointer's; pinned memory is every device's
        const p = ps[k];
        const want = expectedDevice(call, p);
        if (a.device === want) continue;
        const f = pointerFinding(
          "device",
          call,
          p,
          a,
          INVARIANT,
          `${p.arg}=${hex(p.ptr)} is in ${a.name} (alloc ${a.id}) of device ${a.device}, but ${
            what(call, p)
          }`,
        );
        f.device = want;
        f.pointer_device = a.device;
        (out ??= []).push(f);
      }
      return out ?? NO_FINDINGS;
    },
  };
}
