/* The stand-in driver (fake_cuda.h): initialization, the device, contexts, errors. */
#include <stdio.h>
#include <string.h>

#include "faultline.h"
#include "fake_cuda.h"

static int g_init;
static int g_ctx_tag; /* the one context: its address is the handle */
static __thread CUcontext t_current;

int fk_initialized(void) { return __atomic_load_n(&g_init, __ATOMIC_ACQUIRE); }

CUresult fk_status(int32_t fl) {
  switch (fl) {
    case FL_ERROR_INVALID_CONFIGURATION:
    case FL_ERROR_INVALID_DEVICE_POINTER:
    case FL_ERROR_INVALID_MEMCPY_DIRECTION:
      return CUDA_ERROR_INVALID_VALUE;
    default:
      return (CUresult)fl;
  }
}

FK_EXPORT CUresult cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  int32_t n = 0;
  if (fl_device_count(&n) != 0 || n < 1) return CUDA_ERROR_NO_DEVICE;
  __atomic_store_n(&g_init, 1, __ATOMIC_RELEASE);
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuDriverGetVersion(int *v) {
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  *v = 13000;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuDeviceGetCount(int *count) {
  if (!fk_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!count) return CUDA_ERROR_INVALID_VALUE;
  *count = 1;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
  if (!fk_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
  *dev = 0;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
  if (!fk_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  fl_device_props p;
  if (fl_device_props_get(0, &p) != 0) return CUDA_ERROR_UNKNOWN;
  snprintf(name, (size_t)len, "%s (stand-in libcuda)", p.name);
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
  if (!bytes) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  uint64_t free_b = 0, total = 0;
  CUresult st = fk_status(fl_mem_info(0, &free_b, &total));
  *bytes = (size_t)total;
  return st;
}

FK_EXPORT CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute attr, CUdevice dev) {
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  fl_device_props p;
  if (fl_device_props_get(0, &p) != 0) return CUDA_ERROR_UNKNOWN;
  switch (attr) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = p.max_threads_per_block; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *v = p.max_block[0]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *v = p.max_block[1]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *v = p.max_block[2]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *v = p.max_grid[0]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *v = p.max_grid[1]; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *v = p.max_grid[2]; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *v = p.warp_size; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = p.multiprocessor_count; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = p.major; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = p.minor; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *v = 1; break;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: *v = 1; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

/* ---- the context ---------------------------------------------------------------- */

static CUcontext the_context(void) { return (CUcontext)(void *)&g_ctx_tag; }

FK_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
  if (!fk_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  *ctx = the_context();
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

FK_EXPORT CUresult cuCtxCreate_v2(CUcontext *ctx, unsigned int flags, CUdevice dev) {
  (void)flags;
  CUresult st = cuDevicePrimaryCtxRetain(ctx, dev);
  if (st == CUDA_SUCCESS) t_current = *ctx;
  return st;
}

FK_EXPORT CUresult cuCtxCreate_v4(CUcontext *ctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev) {
  (void)params;
  return cuCtxCreate_v2(ctx, flags, dev);
}

FK_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
  if (ctx != the_context()) return CUDA_ERROR_INVALID_CONTEXT;
  if (t_current == ctx) t_current = NULL;
  return fk_status(fl_device_synchronize(0) == FL_ERROR_ILLEGAL_ADDRESS ? FL_ERROR_ILLEGAL_ADDRESS : 0);
}

FK_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  if (ctx != NULL && ctx != the_context()) return CUDA_ERROR_INVALID_CONTEXT;
  t_current = ctx;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  *ctx = t_current;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) { return cuCtxSetCurrent(ctx); }

FK_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *ctx) {
  if (ctx) *ctx = t_current;
  t_current = NULL;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuCtxGetDevice(CUdevice *dev) {
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  if (!t_current) return CUDA_ERROR_INVALID_CONTEXT;
  *dev = 0;
  return CUDA_SUCCESS;
}

FK_EXPORT CUresult cuCtxSynchronize(void) { return fk_status(fl_device_synchronize(0)); }

FK_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
  uint64_t f = 0, t = 0;
  CUresult st = fk_status(fl_mem_info(0, &f, &t));
  if (free_bytes) *free_bytes = (size_t)f;
  if (total_bytes) *total_bytes = (size_t)t;
  return st;
}

/* ---- errors ------------------------------------------------------------------- */

typedef struct {
  CUresult code;
  const char *name, *text;
} error_entry;

static const error_entry errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_FILE_NOT_FOUND, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
     "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static const error_entry *error_of(CUresult code) {
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
    if (errors[i].code == code) return &errors[i];
  return NULL;
}

FK_EXPORT CUresult cuGetErrorName(CUresult code, const char **name) {
  if (!name) return CUDA_ERROR_INVALID_VALUE;
  const error_entry *e = error_of(code);
  *name = e ? e->name : NULL;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FK_EXPORT CUresult cuGetErrorString(CUresult code, const char **text) {
  if (!text) return CUDA_ERROR_INVALID_VALUE;
  const error_entry *e = error_of(code);
  *text = e ? e->text : NULL;
  return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
