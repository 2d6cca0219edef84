/** Declarations of the runtime's own kernels (kernels/faults.hip, kernels/redzone.hip, kernels/bench.hip). */
import { defineKernel } from "./kernel_spec.ts";

/** fault_write_at: one thread stores `value` (f32) at the device address `addr`, wherever it points. */
export const faultWriteAt = defineKernel({
  name: "fault_write_at",
  args: [
    { name: "addr", type: "ptr", access: "w", elem: 4, extent: () => 4 },
    { name: "value", type: "f32" },
  ],
});

/** fault_fill: writes n f32 values of `value` from `dst` on (n may run past the buffer: a silent overrun). */
export const faultFill = defineKernel({
  name: "fault_fill",
  args: [
    { name: "dst", type: "ptr", access: "w", elem: 4, extent: (a) => a.n * 4 },
    { name: "n", type: "u64" },
    { name: "value", type: "f32" },
  ],
});

/** tick: counter[0] += 1 (u32), one thread; the launch-path benchmark kernel. */
export const tick = defineKernel({
  name: "tick",
  args: [
    { name: "counter", type: "ptr", access: "rw", elem: 4, extent: () => 4 },
  ],
});

/**
 * redzone_check (the runtime's redzone check, ffi/redzones.ts): compares n byte ranges with the low byte
 * of `pattern`; `table` holds n pairs of uint64 {address, bytes}; out[i] (int64) becomes the offset of
 * range i's first byte that differs, or -1 when the whole range matches.
 */
export const redzoneCheck = defineKernel({
  name: "redzone_check",
  args: [
    { name: "table", type: "ptr", access: "r", elem: 8, extent: (a) => a.n * 16 },
    { name: "n", type: "u32" },
    { name: "pattern", type: "u32" },
    { name: "out", type: "ptr", access: "w", elem: 8, extent: (a) => a.n * 8 },
  ],
});

export const baseKernels = { faultWriteAt, faultFill, tick } as const;
