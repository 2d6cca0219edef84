/** Rail: every pointer argument is aligned to its element type. */
import { allocOf, hex, pointerFinding, pointerRail, type Rail, type RailMode } from "./types.ts";

/** The alignment rail in `mode`: a pointer argument not aligned to its element size. */
export function alignmentRail(mode: RailMode = "warn"): Rail {
  return pointerRail("alignment", mode, (call, p, k, ctx) => {
    if (p.elem <= 1 || p.ptr % p.elem === 0) return null;
    const a = allocOf(ctx, call, k);
    return pointerFinding(
      "alignment",
      call,
      p,
      a,
      `pointer aligned to its element size (${p.elem} bytes)`,
      `${p.arg}=${hex(p.ptr)} is ${p.ptr % p.elem} bytes past a ${p.elem}-byte boundary` +
        (a === null ? "" : ` (offset ${p.ptr - a.ptr} of ${a.name})`),
    );
  });
}
