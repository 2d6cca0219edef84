/** Planted pointer and extent faults: past the end, freed, null, wild, misaligned, a 32-bit wrapped offset. */
import { type CatalogueCase, F32 } from "./case.ts";

const LIVE = "pointer arguments point into live allocations";
const INSIDE = "pointer arguments point into an allocation";
const EXTENT = "pointer + extent within the allocation";

export const MEMORY_CASES: Record<string, CatalogueCase> = {
  "oob-offset": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_fill",
      argument: "dst",
      rail: "extent",
      invariant: EXTENT,
      hypothesis: "offset-overflow",
      surfaces: "later",
    },
    // an offset into x, then far more elements than are left: runs into unmapped pages
    plant: ({ ffi, d, s, x }) =>
      ffi.launch(d, s, ffi.faultFill, { dst: x.at(48 * 1024), n: 1 << 20, value: 3 }),
  },
  "use-after-free": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_write_at",
      argument: "addr",
      rail: "use_after_free",
      invariant: LIVE,
      hypothesis: "use-after-free",
      surfaces: "later",
      step: 2,
      layer: 3,
      detail: /freed by op \d+ \(free scratch, step 2, layer 3, plant\)/,
    },
    plant: ({ ffi, d, s }) => {
      const tmp = d.malloc(4096, { name: "scratch" });
      const addr = tmp.ptr;
      tmp.free();
      ffi.launch(d, s, ffi.faultWriteAt, { addr, value: 3 });
    },
  },
  "uaf-counter": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "tick",
      argument: "counter",
      rail: "use_after_free",
      invariant: LIVE,
      hypothesis: "use-after-free",
      surfaces: "later",
      detail: /freed by op \d+/,
    },
    plant: ({ ffi, d, s }) => {
      const old = d.malloc(256, { name: "old_counter" });
      const addr = old.ptr;
      old.free();
      ffi.launch(d, s, ffi.tick, { counter: addr });
    },
  },
  "uaf-reused-address": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_fill",
      argument: "dst",
      rail: "use_after_free",
      invariant: LIVE,
      hypothesis: "use-after-free",
      surfaces: "later",
      detail: /offset 0 of kv_old .*\(free kv_old, step 1, layer 0, plant\)/,
    },
    // kv_old freed, a buffer of the same size made at once (a GPU allocator would hand it kv_old's
    // address; the audit session's quarantine keeps it from doing so), then a write through the stale pointer
    plant: ({ ffi, d, s }) => {
      const old = d.malloc(1 << 16, { name: "kv_old" });
      const stale = old.ptr;
      old.free();
      const fresh = d.malloc(1 << 16, { name: "kv_new" });
      ffi.launch(d, s, ffi.faultFill, { dst: fresh, n: 16, value: 1 });
      ffi.launch(d, s, ffi.faultFill, { dst: stale, n: 16, value: 2 });
    },
  },
  "null-pointer": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_write_at",
      argument: "addr",
      rail: "null_pointer",
      invariant: "pointer arguments are not null",
      hypothesis: "misaligned-pointer",
      surfaces: "later",
    },
    plant: ({ ffi, d, s }) => ffi.launch(d, s, ffi.faultWriteAt, { addr: 0, value: 3 }),
  },
  "wild-pointer": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_write_at",
      argument: "addr",
      rail: "unknown_pointer",
      invariant: INSIDE,
      hypothesis: "misaligned-pointer",
      surfaces: "later",
      layer: 2,
    },
    // 1 GiB past the logits buffer: no allocation there
    plant: ({ ffi, d, s, logits }) =>
      ffi.launch(d, s, ffi.faultWriteAt, { addr: logits.ptr + 2 ** 30, value: 3 }),
  },
  "misaligned": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_write_at",
      argument: "addr",
      rail: "alignment",
      invariant: "pointer aligned to its element size (4 bytes)",
      hypothesis: "misaligned-pointer",
      // a misaligned store faults on a GPU (716, misaligned address), and on the sim as on a GPU
      surfaces: "later",
    },
    plant: ({ ffi, d, s, x }) => ffi.launch(d, s, ffi.faultWriteAt, { addr: x.ptr + 2, value: 3 }),
  },
  "silent-overrun": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_fill",
      argument: "dst",
      rail: "extent",
      invariant: EXTENT,
      hypothesis: "byte-size-mismatch",
      surfaces: "none",
      detail: /4 bytes past its end|40 bytes past its end/,
    },
    plant: ({ ffi, d, s }) => {
      // 4000 bytes asked for, 4040 written: the overrun stays inside the last mapped page
      const small = d.malloc(4000, { name: "small" });
      ffi.launch(d, s, ffi.faultFill, { dst: small, n: 1010, value: 3 });
    },
  },
  "rmsnorm-rows-overrun": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "rmsnorm",
      argument: "out",
      rail: "extent",
      invariant: EXTENT,
      hypothesis: "byte-size-mismatch",
      surfaces: "later",
    },
    // 64 rows of 4096 floats into the 64 KiB x (4 rows' worth): out runs 1 MiB past it
    plant: ({ ffi, d, s, x }) => {
      const w = d.malloc(4096 * F32, { name: "norm_w" });
      w.fill(0);
      ffi.launch(d, s, ffi.llamaKernels.rmsnorm, { out: x, x, weight: w, rows: 64, dim: 4096, eps: 1e-5 });
    },
  },
};

/** Pointers whose offset wrapped at 32 bits: 2^32 bytes away from where they should point. */
export const WRAP_CASES: Record<string, CatalogueCase> = {
  "offset-wrap-32": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_write_at",
      argument: "addr",
      rail: "unknown_pointer",
      invariant: INSIDE,
      hypothesis: "offset-overflow",
      surfaces: "later",
      detail: /offset 4096 of x.*2\^32/,
    },
    // x + 4096, with the offset's high word set: 2^32 bytes past where it should point
    plant: ({ ffi, d, s, x }) =>
      ffi.launch(d, s, ffi.faultWriteAt, { addr: x.ptr + 4096 + 2 ** 32, value: 3 }),
  },
  "offset-wrap-32-negative": {
    expect: {
      op: "plant",
      kind: "launch",
      name: "fault_write_at",
      argument: "addr",
      rail: "unknown_pointer",
      invariant: INSIDE,
      hypothesis: "offset-overflow",
      surfaces: "later",
      detail: /offset 8192 of logits.*2\^32/,
    },
    // logits + 8192 computed in signed 32-bit arithmetic that overflowed: 2^32 bytes below it
    plant: ({ ffi, d, s, logits }) =>
      ffi.launch(d, s, ffi.faultWriteAt, { addr: logits.ptr + 8192 - 2 ** 32, value: 3 }),
  },
};
