/** Rail: every pointer argument points into some allocation (live or freed: freed is use_after_free's). */
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

export function unknownPointerRail(mode: RailMode = "warn"): Rail {
  return {
    name: "unknown_pointer",
    mode,
    quietWhenPointersClean: true,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        if (p.ptr === 0 || allocOf(ctx, call, k) !== null) continue;
        if (ctx.registry.lookupFreed(p.ptr) !== null) continue;
        const near = ctx.registry.nearestBelow(p.ptr);
        const where = near === null
          ? "below every allocation"
          : `${p.ptr - (near.ptr + near.bytes)} bytes past the end of ${near.name} (alloc ${near.id}, ` +
            `${near.bytes} bytes at ${hex(near.ptr)}): offset ${
              p.ptr - near.ptr
            } of ${near.name}, an offset overflow?`;
        (out ??= []).push(
          pointerFinding(
            "unknown_pointer",
            call,
            p,
            null,
            "pointer arguments point into an allocation",
            `${p.arg}=${hex(p.ptr)} is outside every allocation: ${where}`,
          ),
        );
      }
      return out ?? NO_FINDINGS;
    },
  };
}
