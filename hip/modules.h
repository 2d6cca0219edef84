/* Kernels loaded at run time: a code object (a .cubin/.fatbin/.ptx image on
 * cuda, a .hsaco on hip, a sim module on sim: a shared object built from the
 * same HIP-dialect source against hip/rtc/sim/) is loaded on a device, its
 * kernels are looked up by name, and one generic export launches any of them
 * with a packed argument buffer (each argument at its parameter's offset, as
 * the kernel's parameter list lays them out).
 *
 * Handles are opaque uint64_t; a function handle stays valid until its
 * module is unloaded.
 */
#ifndef FAULTLINE_MODULES_H
#define FAULTLINE_MODULES_H

#include "faultline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameter kinds fl_function_param reports. */
#define FL_PARAM_UNKNOWN 0 /* the backend cannot tell (cuda: offset and size only) */
#define FL_PARAM_POINTER 1
#define FL_PARAM_VALUE 2

/* Loads `bytes` of `image` on `dev`. 200 (FL_ERROR_INVALID_IMAGE) for an image
 * the backend cannot load, 1 for a null image or out pointer. */
FL_EXPORT int32_t fl_module_load(int32_t dev, const void *image, uint64_t bytes, uint64_t *out_module);
FL_EXPORT int32_t fl_module_unload(int32_t dev, uint64_t module);
/* The kernel `name` (NUL-terminated) of a loaded module; 500 (FL_ERROR_NOT_FOUND) when it has none. */
FL_EXPORT int32_t fl_module_function(int32_t dev, uint64_t module, const char *name, uint64_t *out_fn);
/* Parameter `index` of a kernel: its offset and size in bytes in the packed
 * argument buffer, and its kind where the backend knows it. 1 past the last
 * parameter; 801 where the backend cannot tell the layout at all. */
FL_EXPORT int32_t fl_function_param(int32_t dev, uint64_t fn, int32_t index, uint64_t *offset, uint64_t *size,
                                    int32_t *kind);
/* Enqueues `fn` on `stream`: dims = {grid x, y, z, block x, y, z}, `shared_bytes`
 * of dynamic shared memory, `args_bytes` of packed arguments. `name` (up to 63
 * chars) is what fault info reports for the launch. Returns the launch status
 * only; 9 for a geometry the device cannot launch; 1 when args_bytes is not
 * the kernel's parameter size (where the backend knows it). */
FL_EXPORT int32_t fl_launch_function(int32_t dev, uint64_t stream, uint64_t fn, const uint32_t *dims,
                                     uint32_t shared_bytes, const void *args, uint64_t args_bytes,
                                     const char *name);

#ifdef __cplusplus
}
#endif
#endif
