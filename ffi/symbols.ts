/**
 * The native symbol table: one entry per export of libfaultline.so
 * (hip/faultline.h, hip/host.h, hip/modules.h, hip/launch.h, hip/blas.h), with the C prototype beside
 * every parameter; the kernel launch exports come from the kernels' own
 * declarations (ffi/kernels_builtin.ts, through `kernelSymbols`).
 *
 * Conventions: device addresses, host addresses, streams and events are "u64"
 * (JS numbers; every address is below 2^53); out-parameters are "buffer"
 * (BigUint64Array, Int32Array, Float32Array or Uint8Array); every call returns
 * an int32 status. Calls are synchronous; the waits also have a
 * `nonblocking: true` twin (suffix `_nb`, same native symbol via `name`),
 * which runs on a pooled thread and costs tens of microseconds per call.
 */
import { type KernelSymbols, kernelSymbols } from "./kernel_spec.ts";
import { type BuiltinKernel, builtinKernels } from "./kernels_builtin.ts";

/** The exports written out by hand: every one but the built-in kernels' launch exports. */
export const coreSymbols = {
  // ---- library and errors (hip/faultline.h) ----
  /** int32_t fl_abi_version(int32_t *out) */
  fl_abi_version: { parameters: ["buffer" /* int32_t *out */], result: "i32" },
  /** int32_t fl_backend_name(char *buf, int32_t cap) */
  fl_backend_name: { parameters: ["buffer", /* char *buf */ "i32" /* int32_t cap */], result: "i32" },
  /** int32_t fl_noop(void) */
  fl_noop: { parameters: [], result: "i32" },
  /** int32_t fl_get_last_error(int32_t *out): returns and clears a non-sticky error */
  fl_get_last_error: { parameters: ["buffer" /* int32_t *out */], result: "i32" },
  /** int32_t fl_peek_last_error(int32_t *out): returns without clearing */
  fl_peek_last_error: { parameters: ["buffer" /* int32_t *out */], result: "i32" },
  /** int32_t fl_error_name(int32_t code, char *buf, int32_t cap) */
  fl_error_name: {
    parameters: ["i32", /* int32_t code */ "buffer", /* char *buf */ "i32" /* int32_t cap */],
    result: "i32",
  },
  /** int32_t fl_error_string(int32_t code, char *buf, int32_t cap) */
  fl_error_string: {
    parameters: ["i32", /* int32_t code */ "buffer", /* char *buf */ "i32" /* int32_t cap */],
    result: "i32",
  },
  /** int32_t fl_fault_info_get(int32_t dev, fl_fault_info *out): 104-byte struct */
  fl_fault_info_get: {
    parameters: ["i32", /* int32_t dev */ "buffer" /* fl_fault_info *out */],
    result: "i32",
  },
  /** int32_t fl_set_tag(uint64_t tag) */
  fl_set_tag: { parameters: ["u64" /* uint64_t tag */], result: "i32" },

  // ---- devices ----
  /** int32_t fl_device_count(int32_t *out) */
  fl_device_count: { parameters: ["buffer" /* int32_t *out */], result: "i32" },
  /** int32_t fl_device_props_get(int32_t dev, fl_device_props *out): 312-byte struct */
  fl_device_props_get: {
    parameters: ["i32", /* int32_t dev */ "buffer" /* fl_device_props *out */],
    result: "i32",
  },
  /** int32_t fl_mem_info(int32_t dev, uint64_t *free_bytes, uint64_t *total_bytes) */
  fl_mem_info: {
    parameters: [
      "i32", /* int32_t dev */
      "buffer", /* uint64_t *free_bytes */
      "buffer", /* uint64_t *total_bytes */
    ],
    result: "i32",
  },
  /** int32_t fl_device_synchronize(int32_t dev) */
  fl_device_synchronize: { parameters: ["i32" /* int32_t dev */], result: "i32" },
  /** fl_device_synchronize on a pooled thread. */
  fl_device_synchronize_nb: {
    name: "fl_device_synchronize",
    parameters: ["i32" /* int32_t dev */],
    result: "i32",
    nonblocking: true,
  },
  /** int32_t fl_device_bus_id(int32_t dev, char *buf, int32_t cap): PCI bus id, "sim:N" on sim */
  fl_device_bus_id: {
    parameters: ["i32", /* int32_t dev */ "buffer", /* char *buf */ "i32" /* int32_t cap */],
    result: "i32",
  },

  // ---- memory ----
  /** int32_t fl_malloc(int32_t dev, uint64_t bytes, uint64_t *out) */
  fl_malloc: {
    parameters: ["i32", /* int32_t dev */ "u64", /* uint64_t bytes */ "buffer" /* uint64_t *out */],
    result: "i32",
  },
  /** int32_t fl_free(int32_t dev, uint64_t ptr) */
  fl_free: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t ptr */], result: "i32" },
  /** int32_t fl_host_malloc(int32_t dev, uint64_t bytes, uint64_t *out): pinned host memory */
  fl_host_malloc: {
    parameters: ["i32", /* int32_t dev */ "u64", /* uint64_t bytes */ "buffer" /* uint64_t *out */],
    result: "i32",
  },
  /** int32_t fl_host_free(int32_t dev, uint64_t ptr) */
  fl_host_free: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t ptr */], result: "i32" },
  /** int32_t fl_memcpy(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind) */
  fl_memcpy: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t dst */
      "u64", /* uint64_t src */
      "u64", /* uint64_t bytes */
      "i32", /* int32_t kind: FL_MEMCPY_H2H 0, H2D 1, D2H 2, D2D 3 */
    ],
    result: "i32",
  },
  /** int32_t fl_memcpy_async(int32_t dev, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind, uint64_t stream) */
  fl_memcpy_async: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t dst */
      "u64", /* uint64_t src */
      "u64", /* uint64_t bytes */
      "i32", /* int32_t kind */
      "u64", /* uint64_t stream */
    ],
    result: "i32",
  },
  /** int32_t fl_memcpy_peer(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes) */
  fl_memcpy_peer: {
    parameters: [
      "i32", /* int32_t dst_dev */
      "u64", /* uint64_t dst */
      "i32", /* int32_t src_dev */
      "u64", /* uint64_t src */
      "u64", /* uint64_t bytes */
    ],
    result: "i32",
  },
  /** int32_t fl_memcpy_peer_async(int32_t dst_dev, uint64_t dst, int32_t src_dev, uint64_t src, uint64_t bytes, uint64_t stream) */
  fl_memcpy_peer_async: {
    parameters: [
      "i32", /* int32_t dst_dev */
      "u64", /* uint64_t dst */
      "i32", /* int32_t src_dev */
      "u64", /* uint64_t src */
      "u64", /* uint64_t bytes */
      "u64", /* uint64_t stream: of dst_dev */
    ],
    result: "i32",
  },
  /** int32_t fl_memset(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes) */
  fl_memset: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t dst */
      "i32", /* int32_t value */
      "u64", /* uint64_t bytes */
    ],
    result: "i32",
  },
  /** int32_t fl_memset_async(int32_t dev, uint64_t dst, int32_t value, uint64_t bytes, uint64_t stream) */
  fl_memset_async: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t dst */
      "i32", /* int32_t value */
      "u64", /* uint64_t bytes */
      "u64", /* uint64_t stream */
    ],
    result: "i32",
  },

  // ---- streams ----
  /** int32_t fl_stream_create(int32_t dev, uint64_t *out) */
  fl_stream_create: { parameters: ["i32", /* int32_t dev */ "buffer" /* uint64_t *out */], result: "i32" },
  /** int32_t fl_stream_destroy(int32_t dev, uint64_t stream) */
  fl_stream_destroy: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t stream */], result: "i32" },
  /** int32_t fl_stream_synchronize(int32_t dev, uint64_t stream) */
  fl_stream_synchronize: {
    parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t stream */],
    result: "i32",
  },
  /** fl_stream_synchronize on a pooled thread. */
  fl_stream_synchronize_nb: {
    name: "fl_stream_synchronize",
    parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t stream */],
    result: "i32",
    nonblocking: true,
  },
  /** int32_t fl_stream_query(int32_t dev, uint64_t stream): 0 idle, 600 busy */
  fl_stream_query: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t stream */], result: "i32" },
  /** int32_t fl_stream_wait_event(int32_t dev, uint64_t stream, uint64_t event) */
  fl_stream_wait_event: {
    parameters: ["i32", /* int32_t dev */ "u64", /* uint64_t stream */ "u64" /* uint64_t event */],
    result: "i32",
  },

  // ---- events ----
  /** int32_t fl_event_create(int32_t dev, uint64_t *out) */
  fl_event_create: { parameters: ["i32", /* int32_t dev */ "buffer" /* uint64_t *out */], result: "i32" },
  /** int32_t fl_event_destroy(int32_t dev, uint64_t event) */
  fl_event_destroy: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t event */], result: "i32" },
  /** int32_t fl_event_record(int32_t dev, uint64_t event, uint64_t stream) */
  fl_event_record: {
    parameters: ["i32", /* int32_t dev */ "u64", /* uint64_t event */ "u64" /* uint64_t stream */],
    result: "i32",
  },
  /** int32_t fl_event_synchronize(int32_t dev, uint64_t event) */
  fl_event_synchronize: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t event */], result: "i32" },
  /** fl_event_synchronize on a pooled thread. */
  fl_event_synchronize_nb: {
    name: "fl_event_synchronize",
    parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t event */],
    result: "i32",
    nonblocking: true,
  },
  /** int32_t fl_event_query(int32_t dev, uint64_t event): 0 done, 600 pending */
  fl_event_query: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t event */], result: "i32" },
  /** int32_t fl_event_elapsed_ms(int32_t dev, uint64_t start, uint64_t end, float *out) */
  fl_event_elapsed_ms: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t start */
      "u64", /* uint64_t end */
      "buffer", /* float *out */
    ],
    result: "i32",
  },

  // ---- host-side journal mapping (hip/host.h) ----
  /** int32_t fl_journal_map(const char *path, uint64_t bytes, uint64_t *out_addr) */
  fl_journal_map: {
    parameters: [
      "buffer", /* const char *path (NUL-terminated) */
      "u64", /* uint64_t bytes */
      "buffer", /* uint64_t *out_addr */
    ],
    result: "i32",
  },
  /** int32_t fl_journal_unmap(uint64_t addr, uint64_t bytes) */
  fl_journal_unmap: { parameters: ["u64", /* uint64_t addr */ "u64" /* uint64_t bytes */], result: "i32" },

  // ---- kernels loaded at run time (hip/modules.h) ----
  /** int32_t fl_module_load(int32_t dev, const void *image, uint64_t bytes, uint64_t *out_module) */
  fl_module_load: {
    parameters: [
      "i32", /* int32_t dev */
      "buffer", /* const void *image */
      "u64", /* uint64_t bytes */
      "buffer", /* uint64_t *out_module */
    ],
    result: "i32",
  },
  /** int32_t fl_module_unload(int32_t dev, uint64_t module) */
  fl_module_unload: { parameters: ["i32", /* int32_t dev */ "u64" /* uint64_t module */], result: "i32" },
  /** int32_t fl_module_function(int32_t dev, uint64_t module, const char *name, uint64_t *out_fn) */
  fl_module_function: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t module */
      "buffer", /* const char *name (NUL-terminated) */
      "buffer", /* uint64_t *out_fn */
    ],
    result: "i32",
  },
  /** int32_t fl_function_param(int32_t dev, uint64_t fn, int32_t index, uint64_t *offset, uint64_t *size, int32_t *kind) */
  fl_function_param: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t fn */
      "i32", /* int32_t index */
      "buffer", /* uint64_t *offset */
      "buffer", /* uint64_t *size */
      "buffer", /* int32_t *kind: 0 unknown, 1 pointer, 2 value */
    ],
    result: "i32",
  },
  /** int32_t fl_launch_function(int32_t dev, uint64_t stream, uint64_t fn, const uint32_t *dims, uint32_t shared_bytes, const void *args, uint64_t args_bytes, const char *name) */
  fl_launch_function: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t fn */
      "buffer", /* const uint32_t *dims: grid x, y, z, block x, y, z */
      "u32", /* uint32_t shared_bytes */
      "buffer", /* const void *args: packed at the parameters' offsets */
      "u64", /* uint64_t args_bytes */
      "buffer", /* const char *name (NUL-terminated) */
    ],
    result: "i32",
  },

  /** int32_t fl_kernel_geometry(int32_t index, const void *args, uint32_t *dims): a built-in kernel's launch geometry */
  fl_kernel_geometry: {
    parameters: [
      "i32", /* int32_t index: position in ffi/kernels_builtin.ts */
      "buffer", /* const void *args: the kernel's packed fl_args struct */
      "buffer", /* uint32_t *dims: FL_KERNEL_MAX_PHASES x {grid x, y, z, block x, y, z} */
    ],
    result: "i32",
  },
  /** int32_t fl_kernel_table_hash(uint64_t *out): the digest of the declarations the library was built from */
  fl_kernel_table_hash: { parameters: ["buffer" /* uint64_t *out */], result: "i32" },
  /** int32_t fl_blas_info(char *buf, int32_t cap): what gemm_f16 runs on ("cublas <path>", "own kernel (...)"; hip/blas.h) */
  fl_blas_info: { parameters: ["buffer", /* char *buf */ "i32" /* int32_t cap */], result: "i32" },
  /** int32_t fl_bench_tick_loop(int32_t dev, uint64_t stream, uint64_t counter, int32_t n): fl_launch_tick n times from C (hip/launch.h) */
  fl_bench_tick_loop: {
    parameters: [
      "i32", /* int32_t dev */
      "u64", /* uint64_t stream */
      "u64", /* uint64_t counter */
      "i32", /* int32_t n */
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The native library's exports as Deno.dlopen takes them, one entry per C function: those above and
 * one launch export per built-in kernel, generated from its declaration.
 */
export const symbols: typeof coreSymbols & KernelSymbols<BuiltinKernel> = {
  ...coreSymbols,
  ...kernelSymbols(builtinKernels),
};

/** The type of the symbol table. */
export type Symbols = typeof symbols;
/** The native library as Deno.dlopen returns it. */
export type NativeLib = Deno.DynamicLibrary<Symbols>;
/** The callable native functions, as `Deno.dlopen` returns them. */
export type NativeSymbols = NativeLib["symbols"];

/** The exported C symbol behind a table entry (twins name their symbol in `name`). */
export function exportName(key: string): string {
  const def = (symbols as Record<string, Deno.ForeignFunction>)[key];
  return (def && typeof def.name === "string") ? def.name : key;
}

/** Every distinct C symbol the table expects the library to export. */
export function expectedExports(): string[] {
  return [...new Set(Object.keys(symbols).map(exportName))].sort();
}

/** The ABI version this table is written against (FL_ABI_VERSION in hip/faultline.h). */
export const FL_ABI_VERSION = 1;

/** Copy directions (hipMemcpyKind / cudaMemcpyKind numbering). */
export const MemcpyKind = { H2H: 0, H2D: 1, D2H: 2, D2D: 3 } as const;

/** Status codes shared by all backends (hip/faultline.h). */
export const Status = {
  SUCCESS: 0,
  INVALID_VALUE: 1,
  OUT_OF_MEMORY: 2,
  NOT_INITIALIZED: 3,
  INVALID_CONFIGURATION: 9,
  INVALID_DEVICE_POINTER: 17,
  INVALID_MEMCPY_DIRECTION: 21,
  NO_DEVICE: 100,
  INVALID_DEVICE: 101,
  INVALID_IMAGE: 200,
  INVALID_HANDLE: 400,
  NOT_FOUND: 500,
  NOT_READY: 600,
  ILLEGAL_ADDRESS: 700,
  LAUNCH_OUT_OF_RESOURCES: 701,
  LAUNCH_FAILURE: 719,
  NOT_SUPPORTED: 801,
  UNKNOWN: 999,
} as const;
