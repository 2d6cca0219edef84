/* The sim's stand-in for libcuda.so.1: the CUDA driver API subset that small
 * test programs use, implemented over the sim backend's exports
 * (build/sim/libfaultline.so: fl_malloc, fl_memcpy, fl_module_load,
 * fl_launch_function, ...), so a C program written against the real cuda.h
 * runs on the CPU and faults like a GPU: a wild access inside a kernel
 * poisons the context, and the next sync, copy or launch returns
 * CUDA_ERROR_ILLEGAL_ADDRESS (700), as does every call after it.
 *
 * Modules are sim modules (hip/sim/sim_module.h): a HIP-dialect kernel
 * source compiled by faultline's loader for sim. One device, one primary
 * context. Stream capture records kernel launches (only) into a graph that
 * cuGraphLaunch replays. A virtual address reservation is sim device memory
 * (fake_memory.c says what that leaves out). What the subset lacks is
 * CUDA_ERROR_NOT_FOUND from cuGetProcAddress, as from a driver that lacks it. */
#ifndef FL_FAKE_CUDA_H
#define FL_FAKE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "cu_abi.h"

#define FK_EXPORT __attribute__((visibility("default")))
#define FK_HIDDEN __attribute__((visibility("hidden")))

/* A fl_* status as the driver API numbers it (mostly the same numbers). */
FK_HIDDEN CUresult fk_status(int32_t fl);
/* 1 once cuInit ran. */
FK_HIDDEN int fk_initialized(void);

/* Streams: the handles the program sees, and the sim stream behind each (0 for the null,
 * legacy and per-thread streams). */
typedef struct fk_graph fk_graph;
typedef struct fk_stream {
  uint32_t magic;
  uint64_t fl;
  int capturing;
  fk_graph *graph; /* while capturing */
} fk_stream;
/* The sim stream of `s`, 1 when `s` is no stream of this driver. */
FK_HIDDEN int fk_stream_of(CUstream s, fk_stream **out, uint64_t *fl);

typedef struct fk_function {
  uint32_t magic;
  uint64_t fl;
  char name[64];
  int32_t nparams;
  uint32_t args_bytes; /* the packed arguments: the last parameter's end */
  uint32_t offset[64], size[64];
} fk_function;

/* Records a launch into the graph being captured. */
FK_HIDDEN CUresult fk_graph_add_launch(fk_graph *g, const fk_function *f, const uint32_t dims[6], uint32_t shared,
                                       const void *args);
/* Launches packed arguments on sim stream `fl` (what cuLaunchKernel and cuGraphLaunch share). */
FK_HIDDEN CUresult fk_launch_packed(const fk_function *f, const uint32_t dims[6], uint32_t shared, uint64_t fl,
                                    const void *args);

/* A device address of the sim (from cuMemAlloc* or a reservation), for cuMemcpy's direction. */
FK_HIDDEN int fk_is_sim_device(uint64_t ptr);
FK_HIDDEN void fk_note_alloc(uint64_t ptr, uint64_t bytes);
FK_HIDDEN void fk_forget_alloc(uint64_t ptr);

/* The exported entry point for cuGetProcAddress (fake_proc.c). */
FK_HIDDEN void *fk_proc_lookup(const char *symbol, int version, cuuint64_t flags, int *too_old);

#endif
