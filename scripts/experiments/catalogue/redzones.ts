/**
 * Planted silent overruns that only redzones see: a kernel whose declaration
 * (defineKernel's extent) is smaller than what it writes, so no rail flags
 * the launch; the damage is found at the next sync and must be put on the
 * launch that made it, never on another writer whose declared extent stays
 * inside the buffer.
 */
import { type CatalogueCase, F32 } from "./case.ts";
import type { Expectation } from "./case.ts";

const overrun = (more: Partial<Expectation> = {}): Expectation => ({
  op: "plant",
  kind: "launch",
  name: "fault_fill",
  argument: "dst",
  rail: "redzone",
  invariant: "writes stay inside their allocation (redzone intact)",
  hypothesis: "byte-size-mismatch",
  surfaces: "none",
  status: "OK",
  // 1010 floats into 4000 bytes: bytes 4000..4039, 0..39 past its end
  detail: /bytes 4000\.\.4039 \(0\.\.39 past its end\)/,
  ...more,
});

type Ffi = Parameters<CatalogueCase["plant"]>[0]["ffi"];

/** fault_fill declared as writing 16 bytes whatever n is: the rails see a launch that stays inside. */
function defineMisdeclaredFill(ffi: Ffi) {
  return ffi.defineKernel({
    name: "fault_fill",
    symbol: "fl_launch_fault_fill",
    args: [
      { name: "dst", type: "ptr", access: "w", elem: 4, extent: () => 16 },
      { name: "n", type: "u64" },
      { name: "value", type: "f32" },
    ],
  });
}

let misdeclared: ReturnType<typeof defineMisdeclaredFill> | null = null;
const misdeclaredFill = (ffi: Ffi) => misdeclared ??= defineMisdeclaredFill(ffi);

export const REDZONE_CASES: Record<string, CatalogueCase> = {
  "redzone-overrun": {
    expect: overrun(),
    audit: { redzones: 256 },
    plant: ({ ffi, d, s }) => {
      const small = d.malloc(4000, { name: "small" });
      ffi.launch(d, s, misdeclaredFill(ffi), { dst: small, n: 1010, value: 3 });
      s.synchronize();
    },
  },
  "redzone-overrun-later-writer": {
    expect: overrun({ layer: 2 }),
    audit: { redzones: 256 },
    // the overrun, then a clean write to the same buffer (declared and inside) before the next sync
    plant: ({ ffi, d, s, ctx }) => {
      const small = d.malloc(4000, { name: "small" });
      ffi.launch(d, s, misdeclaredFill(ffi), { dst: small, n: 1010, value: 3 });
      ctx.at({ step: 1, layer: 3, op: "refill" });
      ffi.launch(d, s, ffi.faultFill, { dst: small, n: 100, value: 4 });
      ffi.launch(d, s, ffi.faultFill, { dst: small.at(400 * F32), n: 100, value: 5 });
      s.synchronize();
    },
  },
};
