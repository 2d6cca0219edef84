/**
 * Every kernel built into libfaultline.so, from its one declaration
 * (ffi/kernels_base.ts, ffi/kernels_llama.ts). The build generates each
 * kernel's launch export and argument struct from this list, ffi/symbols.ts
 * derives their FFI entries from it, and the loader checks that the library
 * was built from the same list (`kernelTableHash`).
 *
 * Adding a kernel: declare it with `defineKernel` in one of those files and
 * list it there; write its geometry (`fl_geometry_<name>` in a launch_config
 * header under kernels/), its GPU launcher (`fl_gpu_<name>` in a
 * kernels/ .hip file) and its sim reference (`sim_<name>` in hip/sim/).
 */
import { baseKernels, redzoneCheck } from "./kernels_base.ts";
import { ATTN_DECODE_CHUNK, llamaKernels } from "./kernels_llama.ts";

/** Any built-in kernel's declaration. */
export type BuiltinKernel =
  | (typeof baseKernels)[keyof typeof baseKernels]
  | typeof redzoneCheck
  | (typeof llamaKernels)[keyof typeof llamaKernels];

/** Every built-in kernel, in the order the library's kernel table lists them (fl_kernel_geometry's index). */
export const builtinKernels: readonly BuiltinKernel[] = [
  ...Object.values(baseKernels),
  redzoneCheck,
  ...Object.values(llamaKernels),
];

/** Constants the kernels' C sources share with TypeScript (written into the generated header). */
export const kernelConstants: Readonly<Record<string, number>> = {
  FL_ATTN_DECODE_CHUNK: ATTN_DECODE_CHUNK,
};
