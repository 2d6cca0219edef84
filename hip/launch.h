/* Launch exports. The built-in kernels' exports, fl_launch_<name>(dev,
 * stream, ...args), are generated from their declarations
 * (ffi/kernels_builtin.ts) into build/gen/fl_kernels.h; each enqueues its
 * kernel and returns the launch status only. A fault inside the kernel
 * surfaces later, at a sync or a copy, and is sticky. Launchers validate no
 * pointer (that is the guard rails' job), but no kernel indexes past what its
 * own arguments describe.
 *
 * Launch geometry for every kernel comes from kernels/launch_config.h and
 * kernels/<family>/launch_config_<family>.h, shared by the GPU launchers and
 * the sim backend, so both refuse the same configurations with 9
 * (FL_ERROR_INVALID_CONFIGURATION).
 */
#ifndef FAULTLINE_LAUNCH_H
#define FAULTLINE_LAUNCH_H

#include "faultline.h"
#include "blas.h"
#include "fl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fl_launch_tick, n times, driven from a C loop inside the library: the
 * baseline for the launch throughput of the TypeScript path. */
FL_EXPORT int32_t fl_bench_tick_loop(int32_t dev, uint64_t stream, uint64_t counter, int32_t n);

#ifdef __cplusplus
}
#endif
#endif
