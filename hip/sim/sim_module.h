/* The contract between the sim backend and a sim module: a shared object
 * built from a HIP-dialect kernel source against hip/rtc/sim/ (the CPU
 * execution model) by faultline's kernel loader (ffi/kernel_loader.ts), which
 * adds one FL_SIM_EXPORT_KERNEL(name) per declared kernel. The module exports
 * fl_sim_module_kernels(); fl_module_load (hip/sim/sim_modules.c) dlopens the
 * image and reads that table.
 *
 * Plain C: included by the sim backend (C) and by the module (C++).
 */
#ifndef FAULTLINE_SIM_MODULE_H
#define FAULTLINE_SIM_MODULE_H

#include <stdint.h>

#define FL_SIM_MODULE_VERSION 1
#define FL_SIM_MAX_PARAMS 64

typedef struct fl_sim_kernel {
  const char *name;
  int32_t nparams;
  uint32_t args_bytes; /* the packed parameter buffer: every parameter at its offset */
  uint32_t offset[FL_SIM_MAX_PARAMS];
  uint32_t size[FL_SIM_MAX_PARAMS];
  int32_t kind[FL_SIM_MAX_PARAMS]; /* FL_PARAM_POINTER or FL_PARAM_VALUE (hip/modules.h) */
  /* Runs the whole grid, block after block, on the calling thread. */
  void (*run)(const uint32_t dims[6], uint32_t shared_bytes, const void *args);
} fl_sim_kernel;

typedef struct fl_sim_module {
  int32_t version; /* FL_SIM_MODULE_VERSION */
  int32_t count;
  const fl_sim_kernel *const *kernels;
} fl_sim_module;

#endif
