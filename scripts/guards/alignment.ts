/** Rail: every pointer argument is aligned to its element type. */
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

/** The alignment rail in `mode`: a pointer argument not aligned to its element size. */
export function alignmentRail(mode: RailMode = "warn"): Rail {
  return {
    name: "alignment",
    mode,
    quietWhenPointersClean: true,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        if (p.elem <= 1 || p.ptr % p.elem === 0) continue;
        const a = allocOf(ctx, call, k);
        (out ??= []).push(
          pointerFinding(
            "alignment",
            call,
            p,
            a,
            `pointer aligned to its element size (${p.elem} bytes)`,
            `${p.arg}=${hex(p.ptr)} is ${p.ptr % p.elem} bytes past a ${p.elem}-byte boundary` +
              (a === null ? "" : ` (offset ${p.ptr - a.ptr} of ${a.name})`),
          ),
        );
      }
      return out ?? NO_FINDINGS;
    },
  };
}
