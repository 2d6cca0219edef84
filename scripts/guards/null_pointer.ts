/** Rail: no pointer argument is null. */
import type { NativeCall } from "../../mod.ts";
import { NO_FINDINGS, pointerFinding, type Rail, type RailMode } from "./types.ts";
import type { Finding } from "../../records.ts";

/** The null-pointer rail in `mode`: a pointer argument that is 0. */
export function nullPointerRail(mode: RailMode = "warn"): Rail {
  return {
    name: "null_pointer",
    mode,
    quietWhenPointersClean: true,
    check(call: NativeCall): readonly Finding[] {
      const ps = call.pointers;
      let out: Finding[] | null = null;
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        if (p.ptr !== 0) continue;
        (out ??= []).push(
          pointerFinding("null_pointer", call, p, null, "pointer arguments are not null", `${p.arg} is null`),
        );
      }
      return out ?? NO_FINDINGS;
    },
  };
}
