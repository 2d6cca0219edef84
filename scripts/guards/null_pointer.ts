/** Rail: no pointer argument is null. */
import { pointerFinding, pointerRail, type Rail, type RailMode } from "./types.ts";

/** The null-pointer rail in `mode`: a pointer argument that is 0. */
export function nullPointerRail(mode: RailMode = "warn"): Rail {
  return pointerRail(
    "null_pointer",
    mode,
    (call, p) =>
      p.ptr !== 0
        ? null
        : pointerFinding("null_pointer", call, p, null, "pointer arguments are not null", `${p.arg} is null`),
  );
}
