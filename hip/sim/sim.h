/* sim backend: internal plumbing shared by the runtime (sim_*.c) and the
 * C reference kernels (llama_*.c and sim_kernels.c).
 *
 * A sim kernel is a plain C function over a copied argument struct. It reads
 * and writes device memory directly, e.g. `(float *)(uintptr_t)args->dst`.
 * The launch export builds the struct and calls sim_launch, which copies the
 * struct, enqueues the kernel on the stream's worker and returns at once. A
 * built-in kernel's reference is written as
 *
 *   void sim_fill(const void *p) {   // fl_args_fill: generated from the declaration
 *     const fl_args_fill *a = p;
 *     float *dst = (float *)(uintptr_t)a->dst;
 *     for (uint64_t i = 0; i < a->n; i++) dst[i] = a->value;
 *   }
 *
 * and the generated export fl_launch_fill(dev, stream, dst, n, value) packs
 * the struct and calls sim_run_kernel.
 *
 * The kernel runs on the stream's worker thread under a fault guard: touching
 * an unmapped device page records the fault (address, read/write, kernel
 * name, stream, tag) and poisons the context, as on a GPU. A kernel must not
 * keep pointers into its argument struct after it returns.
 */
#ifndef FAULTLINE_SIM_H
#define FAULTLINE_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "faultline.h"
#include "launch_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_HIDDEN __attribute__((visibility("hidden")))

typedef void (*sim_kernel_fn)(const void *args);

/* Copies `args_size` bytes of `args`, enqueues `fn` on `stream` of `dev` and
 * returns the launch status: 0, 101 (bad device), 400 (bad stream), 700 (the
 * context is poisoned by an earlier fault), 1 (null fn). Sets the thread's
 * last error on failure. `name` (kernel name, truncated to 63 chars) is
 * reported in fault info. */
SIM_HIDDEN int32_t sim_launch(int32_t dev, uint64_t stream, const char *name, sim_kernel_fn fn,
                              const void *args, size_t args_size);

/* 0 when the grid and block fit the device limits (max_grid {2147483647,
 * 65535, 65535}, max_block {1024, 1024, 64}, 1024 threads per block) and no
 * dimension is zero; otherwise 9 (FL_ERROR_INVALID_CONFIGURATION), which is
 * also set as the thread's last error. 101 for a bad device. */
SIM_HIDDEN int32_t sim_check_launch(int32_t dev, const uint32_t grid[3], const uint32_t block[3]);

/* sim_launch, but the kernel does not run: when `bad_status` is not 0, the
 * op poisons the device with it at `bad_addr` when the stream reaches it (the
 * fault a GPU gives for an argument it cannot touch), and it surfaces at the
 * next sync like any fault. */
SIM_HIDDEN int32_t sim_launch_checked(int32_t dev, uint64_t stream, const char *name, sim_kernel_fn fn,
                                      const void *args, size_t args_size, int32_t bad_status, uint64_t bad_addr);

/* What a GPU makes of a kernel's pointer argument `addr` with elements of
 * `elem` bytes: 0 when it may be touched (null, this device's memory, pinned
 * host memory), 716 when misaligned for its element, 700 otherwise (host
 * memory, another device's memory, any raw address). */
SIM_HIDDEN int32_t sim_pointer_status(int32_t dev, uint64_t addr, uint32_t elem);

/* A pointer field of a kernel's argument struct: its offset and element size. */
typedef struct sim_ptr_arg {
  uint32_t offset;
  uint32_t elem;
} sim_ptr_arg;

/* The tail of every generated launch export (build/gen/fl_kernel_exports_sim.c):
 * `geometry` is what fl_geometry_<name> returned for `d`; a refusal is 9 (also
 * the last error) and nothing runs. Otherwise every phase of d[0 .. phases)
 * with a non-zero grid is checked (sim_check_launch) and the kernel enqueued
 * (sim_launch). 101 for a bad device. */
SIM_HIDDEN int32_t sim_run_kernel(int32_t dev, uint64_t stream, const char *name, int32_t geometry,
                                  const fl_launch_dims *d, int32_t phases, sim_kernel_fn fn, const void *args,
                                  size_t args_size, const sim_ptr_arg *ptrs, int32_t nptrs);

/* Sets the calling thread's last error to `status` (when non-zero) and
 * returns it: `return sim_fail(9);`. */
SIM_HIDDEN int32_t sim_fail(int32_t status);

#ifdef __cplusplus
}
#endif
#endif
