/** Time from a faulting run to the named root cause (RoPE forensics), in wall seconds and replays. */
import { timeToRootCause } from "../experiments/rope_forensics.ts";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

export const sections: BenchSection[] = [{
  name: "forensics",
  run: (ctx: BenchContext): Promise<BenchRow[]> => timeToRootCause({ backend: ctx.runtime.backend }),
}];
