/** Descriptors of the kernels in hip/launch.h (kernels/faults.hip, kernels/bench.hip). */
import { defineKernel } from "./kernels.ts";

/** fault_write_at: one thread stores `value` (f32) at the device address `addr`, wherever it points. */
export const faultWriteAt = defineKernel({
  name: "fault_write_at",
  symbol: "fl_launch_fault_write_at",
  args: [
    { name: "addr", type: "ptr", access: "w", elem: 4, extent: () => 4 },
    { name: "value", type: "f32" },
  ],
});

/** fault_fill: writes n f32 values of `value` from `dst` on (n may run past the buffer: a silent overrun). */
export const faultFill = defineKernel({
  name: "fault_fill",
  symbol: "fl_launch_fault_fill",
  args: [
    { name: "dst", type: "ptr", access: "w", elem: 4, extent: (a) => a.n * 4 },
    { name: "n", type: "u64" },
    { name: "value", type: "f32" },
  ],
});

/** tick: counter[0] += 1 (u32), one thread; the launch-path benchmark kernel. */
export const tick = defineKernel({
  name: "tick",
  symbol: "fl_launch_tick",
  args: [
    { name: "counter", type: "ptr", access: "rw", elem: 4, extent: () => 4 },
  ],
});

export const baseKernels = { faultWriteAt, faultFill, tick } as const;
