/** Rail: no pointer argument points into a freed allocation. */
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

/** The use-after-free rail in `mode`: a pointer argument into a freed allocation. */
export function useAfterFreeRail(mode: RailMode = "warn"): Rail {
  return {
    name: "use_after_free",
    mode,
    quietWhenPointersClean: true,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        if (p.ptr === 0 || allocOf(ctx, call, k) !== null) continue;
        const a = ctx.registry.lookupFreed(p.ptr);
        if (a === null) continue;
        const f = pointerFinding(
          "use_after_free",
          call,
          p,
          a,
          "pointer arguments point into live allocations",
          `${p.arg}=${hex(p.ptr)} is at offset ${
            p.ptr - a.ptr
          } of ${a.name} (alloc ${a.id}), freed by op ${a.freedAt}`,
        );
        f.freed_at = a.freedAt;
        (out ??= []).push(f);
      }
      return out ?? NO_FINDINGS;
    },
  };
}
