/**
 * Rail: a kernel's pointer argument and the bytes it touches from there on
 * (its declared extent) stay inside the allocation: the offset is inside
 * (else "offset overflow") and offset + bytes reaches no further than the end
 * (else "byte-size mismatch"). Copies are the copies rail's.
 */
import type { NativeCall } from "../../mod.ts";
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

/** The extent rail in `mode`: a kernel's pointer argument whose declared extent leaves its allocation. */
export function extentRail(mode: RailMode = "warn"): Rail {
  return {
    name: "extent",
    mode,
    quietWhenPointersClean: true,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      if (call.kind !== "launch") return NO_FINDINGS;
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        const a = allocOf(ctx, call, k);
        if (a === null) continue;
        const off = p.ptr - a.ptr;
        if (off >= 0 && off + p.bytes <= a.bytes) continue;
        const what = off < 0
          ? `${p.arg}=${hex(p.ptr)} is ${-off} bytes before the start of ${a.name} (in its leading redzone)`
          : off >= a.bytes
          ? `offset overflow: ${p.arg} is at offset ${off} of ${a.name} (alloc ${a.id}, ${a.bytes} bytes), ` +
            `${off - a.bytes} bytes past its end`
          : `byte-size mismatch: ${p.arg} touches ${p.bytes} bytes from offset ${off} of ${a.name} ` +
            `(alloc ${a.id}, ${a.bytes} bytes): ${off + p.bytes - a.bytes} bytes past its end`;
        (out ??= []).push(
          pointerFinding("extent", call, p, a, "pointer + extent within the allocation", what),
        );
      }
      return out ?? NO_FINDINGS;
    },
  };
}
