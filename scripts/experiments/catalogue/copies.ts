/** Planted copy faults: more bytes than a buffer holds (each direction), a freed or null source. */
import { type CatalogueCase, hostAddress } from "./case.ts";

const D2H = 2, H2D = 1, D2D = 3;
const WITHIN = "copy within both ends";

export const COPY_CASES: Record<string, CatalogueCase> = {
  "size-mismatch": {
    expect: {
      op: "plant",
      kind: "d2h",
      name: "x",
      argument: "src",
      rail: "copies",
      invariant: WITHIN,
      hypothesis: "byte-size-mismatch",
      surfaces: "self",
    },
    plant: ({ ffi, d, x }) => {
      // a D2H copy of x that asks for 64 times its size
      const big = new Uint8Array(x.bytes * 64);
      const addr = hostAddress(big);
      ffi.memcpy(d, addr, x.ptr, big.byteLength, D2H, 0, true, "x", addr);
    },
  },
  "h2d-overrun": {
    expect: {
      op: "plant",
      kind: "h2d",
      name: "logits",
      argument: "dst",
      rail: "copies",
      invariant: WITHIN,
      hypothesis: "byte-size-mismatch",
      surfaces: "self",
      layer: 5,
    },
    plant: ({ ffi, d, logits }) => {
      const src = new Uint8Array(logits.bytes * 64).fill(7);
      const addr = hostAddress(src);
      ffi.memcpy(d, logits.ptr, addr, src.byteLength, H2D, 0, true, "logits", addr);
    },
  },
  "d2d-overrun": {
    expect: {
      op: "plant",
      kind: "d2d",
      name: "x",
      argument: "dst",
      rail: "copies",
      invariant: WITHIN,
      hypothesis: "byte-size-mismatch",
      surfaces: "self",
    },
    // 16 MiB from a 16 MiB source into the 64 KiB x
    plant: ({ ffi, d, x }) => {
      const src = d.malloc(16 << 20, { name: "big_src" });
      src.fill(1);
      ffi.memcpy(d, x.ptr, src.ptr, src.bytes, D2D, 0, true, "x");
    },
  },
  "copy-from-freed": {
    expect: {
      op: "plant",
      kind: "d2h",
      name: "stale",
      argument: "src",
      rail: "use_after_free",
      invariant: "pointer arguments point into live allocations",
      hypothesis: "use-after-free",
      surfaces: "self",
    },
    plant: ({ ffi, d }) => {
      const stale = d.malloc(8192, { name: "stale" });
      const src = stale.ptr;
      stale.free();
      const h = new Uint8Array(4096);
      const addr = hostAddress(h);
      ffi.memcpy(d, addr, src, h.byteLength, D2H, 0, true, "stale", addr);
    },
  },
  "copy-null-src": {
    expect: {
      op: "plant",
      kind: "d2h",
      name: "nothing",
      argument: "src",
      rail: "null_pointer",
      invariant: "pointer arguments are not null",
      hypothesis: "misaligned-pointer",
      surfaces: "self",
    },
    plant: ({ ffi, d }) => {
      const h = new Uint8Array(4096);
      const addr = hostAddress(h);
      ffi.memcpy(d, addr, 0, h.byteLength, D2H, 0, true, "nothing", addr);
    },
  },
};
