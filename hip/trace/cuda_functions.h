/* Kernel names and parameter layouts, per CUfunction (cuda_functions.c). */
#ifndef FL_TRACE_CUDA_FUNCTIONS_H
#define FL_TRACE_CUDA_FUNCTIONS_H

#include "cuda_hooks.h"

#define TR_PARAMS_UNKNOWN (-1)

typedef struct tr_fn {
  uint64_t handle;
  int ready;          /* name and layout known */
  char *lookup_name;  /* the name cuModuleGetFunction / cuLibraryGetKernel was asked for */
  char *name;
  uint32_t name_id;
  int32_t nparams;    /* TR_PARAMS_UNKNOWN when the driver cannot tell the layout */
  uint32_t *offset, *size;
} tr_fn;

/* The kernel behind `f` (learnt at its first launch); null only when out of memory. */
TR_HIDDEN const tr_fn *tr_fn_info(CUfunction f);

#endif
