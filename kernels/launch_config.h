/* Launch geometry for every kernel, shared by the GPU launchers (kernels/<family>.hip)
 * and the sim backend (hip/sim/), so that every backend launches the same
 * grid and block and refuses the same configurations.
 *
 * Each built-in kernel has `int32_t fl_geometry_<name>(const fl_args_<name> *a,
 * fl_launch_dims d[FL_KERNEL_MAX_PHASES])`, called by its generated launch
 * export: it fills d[0] (and d[1] for a kernel launched in two phases) and
 * returns 0, or returns 9 for arguments the kernel cannot run.
 *
 * Plain C99, `static inline` only: usable from C, C++, CUDA and HIP.
 */
#ifndef FAULTLINE_LAUNCH_CONFIG_H
#define FAULTLINE_LAUNCH_CONFIG_H

#include <stdint.h>

#include "fl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_launch_dims {
  uint32_t grid[3];
  uint32_t block[3];
} fl_launch_dims;

/* Device limits a configuration is checked against (fl_device_props fields). */
typedef struct fl_launch_limits {
  int32_t max_grid[3];
  int32_t max_block[3];
  int32_t max_threads_per_block;
} fl_launch_limits;

/* Limits every backend can be checked against when the device's are not at
 * hand (the values of every NVIDIA GPU since sm_30 and of AMD CDNA). */
static inline fl_launch_limits fl_launch_limits_default(void) {
  fl_launch_limits l;
  l.max_grid[0] = 2147483647;
  l.max_grid[1] = 65535;
  l.max_grid[2] = 65535;
  l.max_block[0] = 1024;
  l.max_block[1] = 1024;
  l.max_block[2] = 64;
  l.max_threads_per_block = 1024;
  return l;
}

static inline fl_launch_dims fl_launch_dims_make(uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx,
                                                 uint32_t by, uint32_t bz) {
  fl_launch_dims d;
  d.grid[0] = gx;
  d.grid[1] = gy;
  d.grid[2] = gz;
  d.block[0] = bx;
  d.block[1] = by;
  d.block[2] = bz;
  return d;
}

/* 0 when `d` can be launched within `l`, otherwise 9 (FL_ERROR_INVALID_CONFIGURATION),
 * the status CUDA and HIP return for such a launch. A zero dimension is invalid too. */
static inline int32_t fl_launch_dims_check(fl_launch_dims d, fl_launch_limits l) {
  uint64_t threads = 1;
  int i;
  for (i = 0; i < 3; i++) {
    if (d.grid[i] == 0 || d.block[i] == 0) return 9;
    if ((uint64_t)d.grid[i] > (uint64_t)(uint32_t)l.max_grid[i]) return 9;
    if ((uint64_t)d.block[i] > (uint64_t)(uint32_t)l.max_block[i]) return 9;
    threads *= d.block[i];
  }
  if (threads > (uint64_t)(uint32_t)l.max_threads_per_block) return 9;
  return 0;
}

/* Total threads of a launch. */
static inline uint64_t fl_launch_dims_threads(fl_launch_dims d) {
  return (uint64_t)d.grid[0] * d.grid[1] * d.grid[2] * d.block[0] * d.block[1] * d.block[2];
}

/* kernels/faults.hip */

/* fault_write_at: one thread. */
static inline fl_launch_dims fl_config_fault_write_at(void) { return fl_launch_dims_make(1, 1, 1, 1, 1, 1); }
static inline int32_t fl_geometry_fault_write_at(const fl_args_fault_write_at *a, fl_launch_dims *d) {
  (void)a;
  d[0] = fl_config_fault_write_at();
  return 0;
}

#define FL_FAULT_FILL_BLOCK 256u
#define FL_FAULT_FILL_MAX_GRID 65535u

/* fault_fill: grid-stride loop over n floats, 256 threads a block, at most
 * 65535 blocks; n == 0 still launches one block (which writes nothing). */
static inline fl_launch_dims fl_config_fault_fill(uint64_t n) {
  uint64_t blocks = (n + FL_FAULT_FILL_BLOCK - 1) / FL_FAULT_FILL_BLOCK;
  if (blocks == 0) blocks = 1;
  if (blocks > FL_FAULT_FILL_MAX_GRID) blocks = FL_FAULT_FILL_MAX_GRID;
  return fl_launch_dims_make((uint32_t)blocks, 1, 1, FL_FAULT_FILL_BLOCK, 1, 1);
}
static inline int32_t fl_geometry_fault_fill(const fl_args_fault_fill *a, fl_launch_dims *d) {
  d[0] = fl_config_fault_fill(a->n);
  return 0;
}

/* kernels/redzone.hip */

/* redzone_check: one block of 256 threads per range, at most 4096 blocks (grid-stride over the ranges). */
#define FL_REDZONE_CHECK_BLOCK 256u
#define FL_REDZONE_CHECK_MAX_GRID 4096u
static inline fl_launch_dims fl_config_redzone_check(uint32_t n) {
  uint32_t blocks = n == 0 ? 1u : n;
  if (blocks > FL_REDZONE_CHECK_MAX_GRID) blocks = FL_REDZONE_CHECK_MAX_GRID;
  return fl_launch_dims_make(blocks, 1, 1, FL_REDZONE_CHECK_BLOCK, 1, 1);
}
static inline int32_t fl_geometry_redzone_check(const fl_args_redzone_check *a, fl_launch_dims *d) {
  d[0] = fl_config_redzone_check(a->n);
  return 0;
}

/* kernels/bench.hip */

/* tick: one thread. */
static inline fl_launch_dims fl_config_tick(void) { return fl_launch_dims_make(1, 1, 1, 1, 1, 1); }
static inline int32_t fl_geometry_tick(const fl_args_tick *a, fl_launch_dims *d) {
  (void)a;
  d[0] = fl_config_tick();
  return 0;
}

#ifdef __cplusplus
}
#endif
#endif
