/* sim backend: the thread's last error and the status code names. */
#include <stdio.h>
#include <string.h>

#include "sim_internal.h"

static _Thread_local int32_t tl_last_error;
static _Thread_local int32_t tl_device;

SIM_HIDDEN int32_t sim_fail(int32_t status) {
  if (status != 0) tl_last_error = status;
  return status;
}

SIM_HIDDEN void sim_set_current_device(int32_t dev) { tl_device = dev; }

FL_EXPORT int32_t fl_get_last_error(int32_t *out) {
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  int32_t sticky = sim_device_sticky(tl_device);
  if (sticky) {
    *out = sticky; /* a poisoned context reports its fault forever */
    return 0;
  }
  *out = tl_last_error;
  tl_last_error = 0;
  return 0;
}

FL_EXPORT int32_t fl_peek_last_error(int32_t *out) {
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  int32_t sticky = sim_device_sticky(tl_device);
  *out = sticky ? sticky : tl_last_error;
  return 0;
}

typedef struct {
  int32_t code;
  const char *name;
  const char *message;
} code_entry;

/* HIP's names and messages (hipGetErrorName / hipGetErrorString). */
static const code_entry codes[] = {
    {FL_SUCCESS, "hipSuccess", "no error"},
    {FL_ERROR_INVALID_VALUE, "hipErrorInvalidValue", "invalid argument"},
    {FL_ERROR_OUT_OF_MEMORY, "hipErrorOutOfMemory", "out of memory"},
    {FL_ERROR_NOT_INITIALIZED, "hipErrorNotInitialized", "initialization error"},
    {FL_ERROR_INVALID_CONFIGURATION, "hipErrorInvalidConfiguration", "invalid configuration argument"},
    {FL_ERROR_INVALID_DEVICE_POINTER, "hipErrorInvalidDevicePointer", "invalid device pointer"},
    {FL_ERROR_INVALID_MEMCPY_DIRECTION, "hipErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {FL_ERROR_INVALID_IMAGE, "hipErrorInvalidImage", "device kernel image is invalid"},
    {FL_ERROR_NOT_FOUND, "hipErrorNotFound", "named symbol not found"},
    {FL_ERROR_MISALIGNED_ADDRESS, "cudaErrorMisalignedAddress", "misaligned address"},
    {FL_ERROR_NO_DEVICE, "hipErrorNoDevice", "no ROCm-capable device is detected"},
    {FL_ERROR_INVALID_DEVICE, "hipErrorInvalidDevice", "invalid device ordinal"},
    {FL_ERROR_INVALID_HANDLE, "hipErrorInvalidHandle", "invalid resource handle"},
    {FL_ERROR_NOT_READY, "hipErrorNotReady", "device not ready"},
    {FL_ERROR_ILLEGAL_ADDRESS, "hipErrorIllegalAddress", "an illegal memory access was encountered"},
    {FL_ERROR_LAUNCH_OUT_OF_RESOURCES, "hipErrorLaunchOutOfResources", "too many resources requested for launch"},
    {FL_ERROR_LAUNCH_FAILURE, "hipErrorLaunchFailure", "unspecified launch failure"},
    {FL_ERROR_NOT_SUPPORTED, "hipErrorNotSupported", "operation not supported"},
    {FL_ERROR_UNKNOWN, "hipErrorUnknown", "unknown error"},
};

static const code_entry *find_code(int32_t code) {
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].code == code) return &codes[i];
  return &codes[sizeof codes / sizeof codes[0] - 1]; /* hipErrorUnknown */
}

static int32_t fill(char *buf, int32_t cap, const char *text) {
  if (!buf || cap <= 0) return sim_fail(FL_ERROR_INVALID_VALUE);
  snprintf(buf, (size_t)cap, "%s", text);
  return 0;
}

FL_EXPORT int32_t fl_error_name(int32_t code, char *buf, int32_t cap) { return fill(buf, cap, find_code(code)->name); }

FL_EXPORT int32_t fl_error_string(int32_t code, char *buf, int32_t cap) {
  return fill(buf, cap, find_code(code)->message);
}

FL_EXPORT int32_t fl_abi_version(int32_t *out) {
  if (!out) return sim_fail(FL_ERROR_INVALID_VALUE);
  *out = FL_ABI_VERSION;
  return 0;
}

FL_EXPORT int32_t fl_backend_name(char *buf, int32_t cap) { return fill(buf, cap, "sim"); }

FL_EXPORT int32_t fl_noop(void) { return 0; }
