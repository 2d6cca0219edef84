/* faultline native ABI.
 *
 * Every export is `int32_t fl_<verb>(...)` and returns a status: 0 is success,
 * otherwise the backend's own error number (HIP mirrors CUDA's numbering, so the
 * codes below mean the same on all three backends). Results come back through
 * out-parameters. Every export that touches a device takes the device ordinal
 * and sets it itself, because Deno's nonblocking FFI calls run on pooled threads.
 *
 * Device addresses, host addresses, streams and events cross the boundary as
 * uint64_t. Stream 0 is the device's default stream.
 *
 * The same exports are built three ways (hip/README.md): cuda (nvcc), hip
 * (hipcc) and sim (the system C compiler, a CPU device).
 */
#ifndef FAULTLINE_H
#define FAULTLINE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_ABI_VERSION 1

#if defined(_WIN32)
#define FL_EXPORT __declspec(dllexport)
#else
#define FL_EXPORT __attribute__((visibility("default")))
#endif

/* Status codes (CUDA's and HIP's shared numbering). */
enum {
  FL_SUCCESS = 0,
  FL_ERROR_INVALID_VALUE = 1,
  FL_ERROR_OUT_OF_MEMORY = 2,
  FL_ERROR_NOT_INITIALIZED = 3,
  FL_ERROR_INVALID_CONFIGURATION = 9,
  FL_ERROR_INVALID_DEVICE_POINTER = 17,
  FL_ERROR_INVALID_MEMCPY_DIRECTION = 21,
  FL_ERROR_NO_DEVICE = 100,
  FL_ERROR_INVALID_DEVICE = 101,
  FL_ERROR_INVALID_IMAGE = 200,
  FL_ERROR_INVALID_HANDLE = 400,
  FL_ERROR_NOT_FOUND = 500,
  FL_ERROR_NOT_READY = 600,
  FL_ERROR_ILLEGAL_ADDRESS = 700,
  FL_ERROR_MISALIGNED_ADDRESS = 716,
  FL_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  FL_ERROR_LAUNCH_FAILURE = 719,
  FL_ERROR_NOT_SUPPORTED = 801,
  FL_ERROR_UNKNOWN = 999
};

/* Copy directions, numbered as hipMemcpyKind / cudaMemcpyKind. */
enum {
  FL_MEMCPY_H2H = 0,
  FL_MEMCPY_H2D = 1,
  FL_MEMCPY_D2H = 2,
  FL_MEMCPY_D2D = 3
};

/* Fixed layout (312 bytes), read field by field from TypeScript. */
typedef struct fl_device_props {
  char name[256];                /* offset   0 */
  uint64_t total_mem;            /* offset 256 */
  int32_t max_grid[3];           /* offset 264 */
  int32_t max_block[3];          /* offset 276 */
  int32_t max_threads_per_block; /* offset 288 */
  int32_t warp_size;             /* offset 292 */
  int32_t multiprocessor_count;  /* offset 296 */
  int32_t major;                 /* offset 300: compute capability or gfx major */
  int32_t minor;                 /* offset 304 */
  int32_t reserved;              /* offset 308 */
} fl_device_props;

/* What the backend knows of the first fault of a context (104 bytes).
 * sim knows everything; cuda/hip know the status, the stream that surfaced
 * it and the last kernel launched there; the address is known where the
 * faulting kernel reported it (0 otherwise). */
typedef struct fl_fault_info {
  int32_t status;   /* offset  0: the sticky error, 0 when no fault */
  int32_t device;   /* offset  4 */
  uint64_t address; /* offset  8: faulting device address, 0 if unknown */
  uint64_t stream;  /* offset 16: stream of the faulting op */
  uint64_t tag;     /* offset 24: fl_set_tag value in force when the op was enqueued */
  char op[64];      /* offset 32: kernel name, or "memcpy"/"memset" */
  int32_t access;   /* offset 96: 0 unknown, 1 read, 2 write */
  int32_t reserved; /* offset 100 */
} fl_fault_info;

/* Library and errors */
FL_EXPORT int32_t fl_abi_version(int32_t *out);
FL_EXPORT int32_t fl_backend_name(char *buf, int32_t cap);
FL_EXPORT int32_t fl_noop(void);
FL_EXPORT int32_t fl_get_last_error(int32_t *out);  /* returns and clears a non-sticky error */
FL_EXPORT int32_t fl_peek_last_error(int32_t *out); /* returns without clearing */
FL_EXPORT int32_t fl_error_name(int32_t code, char *buf, int32_t cap);
FL_EXPORT int32_t fl_error_string(int32_t code, char *buf, int32_t cap);
FL_EXPORT int32_t fl_fault_info_get(int32_t dev, fl_fault_info *out);
/* Tags every op enqueued afterwards (the runtime's journal op id), so a fault
 * can be traced back to the op that caused it. */
FL_EXPORT int32_t fl_set_tag(uint64_t tag);

/* Devices */
FL_EXPORT int32_t fl_device_count(int32_t *out);
FL_EXPORT int32_t fl_device_props_get(int32_t dev, fl_device_props *out);
FL_EXPORT int32_t fl_mem_info(int32_t dev, uint64_t *free_bytes, uint64_t *total_bytes);
FL_EXPORT int32_t fl_device_synchronize(int32_t dev);
/* The device's PCI bus id ("0000:17:00.0"; on sim "sim:N", N its index among
 * the FAULTLINE_SIM_DEVICES simulated devices, whichever of them are visible). */
FL_EXPORT int32_t fl_device_bus_id(int32_t dev, char *buf, int32_t cap);

/* Memory */
FL_EXPORT int32_t fl_malloc(int32_t dev, uint64_t bytes, uint64_t *out);
FL_EXPORT int32_t fl_free(int32_t dev, uint64_t ptr);
FL_EXPORT int32_t fl_host_malloc(int32_t dev, uint64_t bytes, uint64_t *out); /* pinned */
FL_EXPORT int32_t fl_host_free(int32_t dev, uint64_t ptr);
FL_EXPORT int32_t fl_memcpy(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind);
FL_EXPORT int32_t fl_memcpy_async(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind,
                                  uint64_t stream);
/* Peer copies: `bytes` from `src` on device `src_dev` to `dst` on device
 * `dst_dev` (hipMemcpyPeer / cudaMemcpyPeer). The synchronous form runs after
 * the work already enqueued on both devices; the async form is ordered on
 * `stream` (of `dst_dev`) only, not after the source device's work, as
 * cudaMemcpyPeerAsync. */
FL_EXPORT int32_t fl_memcpy_peer(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes);
FL_EXPORT int32_t fl_memcpy_peer_async(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src,
                                       uint64_t bytes, uint64_t stream);
FL_EXPORT int32_t fl_memset(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes);
FL_EXPORT int32_t fl_memset_async(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes, uint64_t stream);

/* Streams */
FL_EXPORT int32_t fl_stream_create(int32_t dev, uint64_t *out);
FL_EXPORT int32_t fl_stream_destroy(int32_t dev, uint64_t stream);
FL_EXPORT int32_t fl_stream_synchronize(int32_t dev, uint64_t stream);
FL_EXPORT int32_t fl_stream_query(int32_t dev, uint64_t stream); /* 0 idle, 600 busy */
FL_EXPORT int32_t fl_stream_wait_event(int32_t dev, uint64_t stream, uint64_t event);

/* Events */
FL_EXPORT int32_t fl_event_create(int32_t dev, uint64_t *out);
FL_EXPORT int32_t fl_event_destroy(int32_t dev, uint64_t event);
FL_EXPORT int32_t fl_event_record(int32_t dev, uint64_t event, uint64_t stream);
FL_EXPORT int32_t fl_event_synchronize(int32_t dev, uint64_t event);
FL_EXPORT int32_t fl_event_query(int32_t dev, uint64_t event); /* 0 done, 600 pending */
FL_EXPORT int32_t fl_event_elapsed_ms(int32_t dev, uint64_t start, uint64_t end, float *out);

/* Kernel launches: one export per kernel, generated from its declaration (hip/launch.h says where). */

#ifdef __cplusplus
}
#endif
#endif
