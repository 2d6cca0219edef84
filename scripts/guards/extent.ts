/**
 * Rail: a kernel's pointer argument and the bytes it touches from there on
 * (its declared extent) stay inside the allocation: the offset is inside
 * (else "offset overflow") and offset + bytes reaches no further than the end
 * (else "byte-size mismatch"). Copies are the copies rail's.
 */
import { allocOf, hex, pointerFinding, pointerRail, type Rail, type RailMode } from "./types.ts";

/** Only kernels declare extents; a copy's ends are the copies rail's. */
const LAUNCHES: ReadonlySet<string> = new Set(["launch"]);

/** The extent rail in `mode`: a kernel's pointer argument whose declared extent leaves its allocation. */
export function extentRail(mode: RailMode = "warn"): Rail {
  return pointerRail("extent", mode, (call, p, k, ctx) => {
    const a = allocOf(ctx, call, k);
    if (a === null) return null;
    const off = p.ptr - a.ptr;
    if (off >= 0 && off + p.bytes <= a.bytes) return null;
    const what = off < 0
      ? `${p.arg}=${hex(p.ptr)} is ${-off} bytes before the start of ${a.name} (in its leading redzone)`
      : off >= a.bytes
      ? `offset overflow: ${p.arg} is at offset ${off} of ${a.name} (alloc ${a.id}, ${a.bytes} bytes), ` +
        `${off - a.bytes} bytes past its end`
      : `byte-size mismatch: ${p.arg} touches ${p.bytes} bytes from offset ${off} of ${a.name} ` +
        `(alloc ${a.id}, ${a.bytes} bytes): ${off + p.bytes - a.bytes} bytes past its end`;
    return pointerFinding("extent", call, p, a, "pointer + extent within the allocation", what);
  }, { kinds: LAUNCHES });
}
