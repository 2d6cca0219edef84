/* Kernel launch exports: one per kernel. Each takes the device, the stream and
 * the kernel's own arguments, enqueues the kernel and returns the launch
 * status only. A fault inside the kernel surfaces later, at a sync or a copy,
 * and is sticky. Launchers validate nothing (that is the guard rails' job),
 * but no kernel indexes past what its own arguments describe.
 *
 * Launch geometry for every kernel comes from kernels/launch_config.h, shared
 * by the GPU launchers and the sim backend, so both reject the same
 * configurations (FL_ERROR_INVALID_CONFIGURATION).
 */
#ifndef FAULTLINE_LAUNCH_H
#define FAULTLINE_LAUNCH_H

#include "faultline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* kernels/faults.hip: deliberately broken kernels for the forensics tests. */

/* One thread stores `value` (f32) at the device address `addr`, wherever it points. */
FL_EXPORT int32_t fl_launch_fault_write_at(int32_t dev, uint64_t stream, uint64_t addr, float value);
/* Writes n f32 values of `value` starting at `dst` (n may run past the buffer: a silent overrun). */
FL_EXPORT int32_t fl_launch_fault_fill(int32_t dev, uint64_t stream, uint64_t dst, uint64_t n, float value);

/* kernels/redzone.hip: the runtime's redzone check (ffi/redzones.ts). */

/* Compares n byte ranges with `pattern` (its low byte). `table` holds n pairs of uint64_t
 * {address, bytes}; out[i] (int64_t) becomes the offset of range i's first byte that differs,
 * or -1 when the whole range matches. One launch checks every range; the host then copies the
 * n results back at once. */
FL_EXPORT int32_t fl_launch_redzone_check(int32_t dev, uint64_t stream, uint64_t table, uint32_t n,
                                          uint32_t pattern, uint64_t out);

/* kernels/bench.hip: tiny kernels for measuring the launch path. */

/* counter[0] += 1 (u32), one thread. */
FL_EXPORT int32_t fl_launch_tick(int32_t dev, uint64_t stream, uint64_t counter);
/* The same launch, n times, driven from a C loop inside the library: the
 * baseline for the launch throughput of the TypeScript path. */
FL_EXPORT int32_t fl_bench_tick_loop(int32_t dev, uint64_t stream, uint64_t counter, int32_t n);

/* Llama decode kernels (kernels/llama/) are declared in hip/launch_llama.h. */

#ifdef __cplusplus
}
#endif
#endif
