/** Rail: no pointer argument points into a freed allocation. */
import { allocOf, hex, pointerFinding, pointerRail, type Rail, type RailMode } from "./types.ts";

/** The use-after-free rail in `mode`: a pointer argument into a freed allocation. */
export function useAfterFreeRail(mode: RailMode = "warn"): Rail {
  return pointerRail("use_after_free", mode, (call, p, k, ctx) => {
    if (p.ptr === 0 || allocOf(ctx, call, k) !== null) return null;
    const a = ctx.registry.lookupFreed(p.ptr);
    if (a === null) return null;
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
    return f;
  });
}
