/* The stand-in driver (fake_cuda.h): cuGetProcAddress, the way cudart reaches every entry
 * point. Like the real driver it answers a base name ("cuMemAlloc") with the variant that the
 * caller's CUDA version and stream flags select (cuMemAlloc_v2; cuLaunchKernel_ptsz for
 * CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), and a name it lacks with CUDA_ERROR_NOT_FOUND.
 * The table holds this library's own functions (never looked up by name: a dlsym here would
 * meet an interposer's). symbolStatus may be null. */
#include <stdlib.h>
#include <string.h>

#include "fake_cuda.h"

/* Variants cuda.h does not declare without per-thread default streams. */
CUresult cuStreamSynchronize_ptsz(CUstream);
CUresult cuStreamBeginCapture_v2_ptsz(CUstream, CUstreamCaptureMode);
CUresult cuStreamEndCapture_ptsz(CUstream, CUgraph *);
CUresult cuEventRecord_ptsz(CUevent, CUstream);
CUresult cuLaunchKernel_ptsz(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void **, void **);
CUresult cuGraphLaunch_ptsz(CUgraphExec, CUstream);
CUresult cuGetProcAddress(const char *, void **, int, cuuint64_t);
CUresult cuCtxCreate_v2(CUcontext *, unsigned int, CUdevice);
CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr, const void *, size_t);
CUresult cuMemcpyDtoH_v2_ptds(void *, CUdeviceptr, size_t);
CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr, CUdeviceptr, size_t);
CUresult cuMemsetD8_v2_ptds(CUdeviceptr, unsigned char, size_t);
CUresult cuMemsetD16_v2_ptds(CUdeviceptr, unsigned short, size_t);
CUresult cuMemsetD32_v2_ptds(CUdeviceptr, unsigned int, size_t);
CUresult cuStreamQuery_ptsz(CUstream);
CUresult cuStreamWaitEvent_ptsz(CUstream, CUevent, unsigned int);
CUresult cuEventElapsedTime(float *, CUevent, CUevent);

typedef struct entry {
  const char *base;
  void *fn;
  int version;
  int ptds;
} entry;

static const entry table[] = {
    {"cuInit", (void *)cuInit, 2000, 0},
    {"cuDriverGetVersion", (void *)cuDriverGetVersion, 2020, 0},
    {"cuDeviceGet", (void *)cuDeviceGet, 2000, 0},
    {"cuDeviceGetCount", (void *)cuDeviceGetCount, 2000, 0},
    {"cuDeviceGetName", (void *)cuDeviceGetName, 2000, 0},
    {"cuDeviceTotalMem", (void *)cuDeviceTotalMem_v2, 3020, 0},
    {"cuDeviceGetAttribute", (void *)cuDeviceGetAttribute, 2000, 0},
    {"cuDevicePrimaryCtxRetain", (void *)cuDevicePrimaryCtxRetain, 7000, 0},
    {"cuDevicePrimaryCtxRelease", (void *)cuDevicePrimaryCtxRelease_v2, 11000, 0},
    {"cuCtxCreate", (void *)cuCtxCreate_v2, 3020, 0},
    {"cuCtxCreate", (void *)cuCtxCreate_v4, 12050, 0},
    {"cuCtxDestroy", (void *)cuCtxDestroy_v2, 4000, 0},
    {"cuCtxSetCurrent", (void *)cuCtxSetCurrent, 4000, 0},
    {"cuCtxGetCurrent", (void *)cuCtxGetCurrent, 4000, 0},
    {"cuCtxPushCurrent", (void *)cuCtxPushCurrent_v2, 4000, 0},
    {"cuCtxPopCurrent", (void *)cuCtxPopCurrent_v2, 4000, 0},
    {"cuCtxGetDevice", (void *)cuCtxGetDevice, 2000, 0},
    {"cuCtxSynchronize", (void *)cuCtxSynchronize, 2000, 0},
    {"cuMemGetInfo", (void *)cuMemGetInfo_v2, 3020, 0},
    {"cuGetErrorName", (void *)cuGetErrorName, 6000, 0},
    {"cuGetErrorString", (void *)cuGetErrorString, 6000, 0},
    {"cuMemAlloc", (void *)cuMemAlloc_v2, 3020, 0},
    {"cuMemFree", (void *)cuMemFree_v2, 3020, 0},
    {"cuMemAllocAsync", (void *)cuMemAllocAsync, 11020, 0},
    {"cuMemFreeAsync", (void *)cuMemFreeAsync, 11020, 0},
    {"cuMemAllocHost", (void *)cuMemAllocHost_v2, 3020, 0},
    {"cuMemHostAlloc", (void *)cuMemHostAlloc, 2020, 0},
    {"cuMemFreeHost", (void *)cuMemFreeHost, 2000, 0},
    {"cuMemcpyHtoD", (void *)cuMemcpyHtoD_v2, 3020, 0},
    {"cuMemcpyDtoH", (void *)cuMemcpyDtoH_v2, 3020, 0},
    {"cuMemcpyDtoD", (void *)cuMemcpyDtoD_v2, 3020, 0},
    {"cuMemcpyHtoD", (void *)cuMemcpyHtoD_v2_ptds, 7000, 1},
    {"cuMemcpyDtoH", (void *)cuMemcpyDtoH_v2_ptds, 7000, 1},
    {"cuMemcpyDtoD", (void *)cuMemcpyDtoD_v2_ptds, 7000, 1},
    {"cuMemsetD8", (void *)cuMemsetD8_v2_ptds, 7000, 1},
    {"cuMemsetD16", (void *)cuMemsetD16_v2_ptds, 7000, 1},
    {"cuMemsetD32", (void *)cuMemsetD32_v2_ptds, 7000, 1},
    {"cuStreamQuery", (void *)cuStreamQuery_ptsz, 7000, 1},
    {"cuStreamWaitEvent", (void *)cuStreamWaitEvent_ptsz, 7000, 1},
    {"cuMemcpyHtoDAsync", (void *)cuMemcpyHtoDAsync_v2, 3020, 0},
    {"cuMemcpyDtoHAsync", (void *)cuMemcpyDtoHAsync_v2, 3020, 0},
    {"cuMemcpyDtoDAsync", (void *)cuMemcpyDtoDAsync_v2, 3020, 0},
    {"cuMemcpy", (void *)cuMemcpy, 4000, 0},
    {"cuMemcpyAsync", (void *)cuMemcpyAsync, 4000, 0},
    {"cuMemsetD8", (void *)cuMemsetD8_v2, 3020, 0},
    {"cuMemsetD16", (void *)cuMemsetD16_v2, 3020, 0},
    {"cuMemsetD32", (void *)cuMemsetD32_v2, 3020, 0},
    {"cuMemsetD8Async", (void *)cuMemsetD8Async, 3020, 0},
    {"cuMemsetD16Async", (void *)cuMemsetD16Async, 3020, 0},
    {"cuMemsetD32Async", (void *)cuMemsetD32Async, 3020, 0},
    {"cuMemAddressReserve", (void *)cuMemAddressReserve, 10020, 0},
    {"cuMemAddressFree", (void *)cuMemAddressFree, 10020, 0},
    {"cuMemCreate", (void *)cuMemCreate, 10020, 0},
    {"cuMemRelease", (void *)cuMemRelease, 10020, 0},
    {"cuMemMap", (void *)cuMemMap, 10020, 0},
    {"cuMemUnmap", (void *)cuMemUnmap, 10020, 0},
    {"cuMemSetAccess", (void *)cuMemSetAccess, 10020, 0},
    {"cuMemGetAllocationGranularity", (void *)cuMemGetAllocationGranularity, 10020, 0},
    {"cuStreamCreate", (void *)cuStreamCreate, 2000, 0},
    {"cuStreamCreateWithPriority", (void *)cuStreamCreateWithPriority, 5050, 0},
    {"cuStreamDestroy", (void *)cuStreamDestroy_v2, 4000, 0},
    {"cuStreamSynchronize", (void *)cuStreamSynchronize, 2000, 0},
    {"cuStreamSynchronize", (void *)cuStreamSynchronize_ptsz, 7000, 1},
    {"cuStreamQuery", (void *)cuStreamQuery, 2000, 0},
    {"cuStreamWaitEvent", (void *)cuStreamWaitEvent, 3020, 0},
    {"cuStreamBeginCapture", (void *)cuStreamBeginCapture_v2, 10010, 0},
    {"cuStreamBeginCapture", (void *)cuStreamBeginCapture_v2_ptsz, 10010, 1},
    {"cuStreamEndCapture", (void *)cuStreamEndCapture, 10000, 0},
    {"cuStreamEndCapture", (void *)cuStreamEndCapture_ptsz, 10000, 1},
    {"cuStreamIsCapturing", (void *)cuStreamIsCapturing, 10000, 0},
    {"cuEventCreate", (void *)cuEventCreate, 2000, 0},
    {"cuEventDestroy", (void *)cuEventDestroy_v2, 4000, 0},
    {"cuEventRecord", (void *)cuEventRecord, 2000, 0},
    {"cuEventRecord", (void *)cuEventRecord_ptsz, 7000, 1},
    {"cuEventRecordWithFlags", (void *)cuEventRecordWithFlags, 11010, 0},
    {"cuEventSynchronize", (void *)cuEventSynchronize, 2000, 0},
    {"cuEventQuery", (void *)cuEventQuery, 2000, 0},
    {"cuEventElapsedTime", (void *)cuEventElapsedTime, 2000, 0},
    {"cuEventElapsedTime", (void *)cuEventElapsedTime_v2, 12080, 0},
    {"cuModuleLoad", (void *)cuModuleLoad, 2000, 0},
    {"cuModuleLoadData", (void *)cuModuleLoadData, 2000, 0},
    {"cuModuleLoadDataEx", (void *)cuModuleLoadDataEx, 2010, 0},
    {"cuModuleUnload", (void *)cuModuleUnload, 2000, 0},
    {"cuModuleGetFunction", (void *)cuModuleGetFunction, 2000, 0},
    {"cuFuncGetName", (void *)cuFuncGetName, 12030, 0},
    {"cuFuncGetParamInfo", (void *)cuFuncGetParamInfo, 12040, 0},
    {"cuLaunchKernel", (void *)cuLaunchKernel, 4000, 0},
    {"cuLaunchKernel", (void *)cuLaunchKernel_ptsz, 7000, 1},
    {"cuLaunchKernelEx", (void *)cuLaunchKernelEx, 11060, 0},
    {"cuGraphInstantiateWithFlags", (void *)cuGraphInstantiateWithFlags, 11040, 0},
    {"cuGraphLaunch", (void *)cuGraphLaunch, 10000, 0},
    {"cuGraphLaunch", (void *)cuGraphLaunch_ptsz, 10000, 1},
    {"cuGraphExecDestroy", (void *)cuGraphExecDestroy, 10000, 0},
    {"cuGraphDestroy", (void *)cuGraphDestroy, 10000, 0},
    {"cuGetProcAddress", (void *)cuGetProcAddress, 11030, 0},
    {"cuGetProcAddress", (void *)cuGetProcAddress_v2, 12000, 0},
};

/* FAULTLINE_SIM_PROC_THUNKS=1: cuGetProcAddress answers cuLaunchKernel and cuMemAlloc with functions
 * no export has (as a driver may hand out internal entry points): an interposer must then tell the
 * variant from the version and flags it asked with. */
static CUresult thunk_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                             unsigned bz, unsigned shared, CUstream s, void **params, void **extra) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
}

static CUresult thunk_alloc(CUdeviceptr *p, size_t bytes) { return cuMemAlloc_v2(p, bytes); }

static void *thunk_for(void *fn) {
  static int on = -1;
  if (on < 0) {
    const char *v = getenv("FAULTLINE_SIM_PROC_THUNKS");
    on = v && *v == '1';
  }
  if (!on) return fn;
  if (fn == (void *)cuLaunchKernel) return (void *)thunk_launch;
  if (fn == (void *)cuMemAlloc_v2) return (void *)thunk_alloc;
  return fn;
}

void *fk_proc_lookup(const char *symbol, int version, cuuint64_t flags, int *too_old) {
  int want_ptds = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  const entry *best[2] = {NULL, NULL};
  int known = 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const entry *e = &table[i];
    if (strcmp(e->base, symbol) != 0) continue;
    known = 1;
    if (e->version > version) continue;
    if (!best[e->ptds] || e->version > best[e->ptds]->version) best[e->ptds] = e;
  }
  const entry *e = want_ptds && best[1] ? best[1] : best[0];
  *too_old = known && !e;
  return e ? thunk_for(e->fn) : NULL;
}

FK_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                       CUdriverProcAddressQueryResult *status) {
  if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
  int too_old = 0;
  *pfn = fk_proc_lookup(symbol, version, flags, &too_old);
  if (status) {
    *status = *pfn     ? CU_GET_PROC_ADDRESS_SUCCESS
              : too_old ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                        : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  }
  return *pfn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

FK_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags) {
  return cuGetProcAddress_v2(symbol, pfn, version, flags, NULL);
}
