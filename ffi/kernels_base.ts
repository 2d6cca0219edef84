/** Declarations of the runtime's own kernels (kernels/faults.hip, kernels/redzone.hip, kernels/bench.hip). */
import type { KernelArgValues, KernelDescriptor } from "./kernel_spec.ts";

/** fault_write_at: one thread stores `value` (f32) at the device address `addr`, wherever it points. */
export const faultWriteAt = {
  name: "fault_write_at",
  args: [
    { name: "addr", type: "ptr", access: "w", elem: 4, extent: (): number => 4 },
    { name: "value", type: "f32" },
  ],
} as const satisfies KernelDescriptor;

/** fault_fill: writes n f32 values of `value` from `dst` on (n may run past the buffer: a silent overrun). */
export const faultFill = {
  name: "fault_fill",
  args: [
    { name: "dst", type: "ptr", access: "w", elem: 4, extent: (a: KernelArgValues): number => a.n * 4 },
    { name: "n", type: "u64" },
    { name: "value", type: "f32" },
  ],
} as const satisfies KernelDescriptor;

/** tick: counter[0] += 1 (u32), one thread; the launch-path benchmark kernel. */
export const tick = {
  name: "tick",
  args: [
    { name: "counter", type: "ptr", access: "rw", elem: 4, extent: (): number => 4 },
  ],
} as const satisfies KernelDescriptor;

/**
 * redzone_check (the runtime's redzone check, ffi/redzones.ts): compares n byte ranges with the low byte
 * of `pattern`; `table` holds n pairs of uint64 {address, bytes}; out[i] (int64) becomes the offset of
 * range i's first byte that differs, or -1 when the whole range matches.
 */
export const redzoneCheck = {
  name: "redzone_check",
  args: [
    { name: "table", type: "ptr", access: "r", elem: 8, extent: (a: KernelArgValues): number => a.n * 16 },
    { name: "n", type: "u32" },
    { name: "pattern", type: "u32" },
    { name: "out", type: "ptr", access: "w", elem: 8, extent: (a: KernelArgValues): number => a.n * 8 },
  ],
} as const satisfies KernelDescriptor;

/** The fault and benchmark kernels an experiment launches directly. */
export const baseKernels = { faultWriteAt, faultFill, tick } as const;
