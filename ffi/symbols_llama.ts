/**
 * Launch exports of the llama decode kernels (hip/launch_llama.h), in the same
 * shape as ffi/symbols.ts: one entry per export, the C prototype beside every
 * parameter. Spread into the main table by ffi/symbols.ts.
 */
export const llamaSymbols = {} as const satisfies Deno.ForeignLibraryInterface;
