/**
 * The interposers as built: each exports the entry points it wraps under their ABI names and
 * nothing else (a preloaded library's stray export would shadow the program's own), and loads
 * into a program that has no GPU runtime at all without breaking it.
 */
import assert from "node:assert/strict";
import { traceLibraryPath } from "../../scripts/build.ts";

function exported(lib: string): string[] | null {
  try {
    Deno.statSync(lib);
  } catch {
    return null;
  }
  const r = new Deno.Command("nm", { args: ["-D", "--defined-only", lib], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(r.stdout).split("\n").map((l) => l.split(" ").at(-1) ?? "").filter((s) =>
    s
  );
}

function preloadRuns(lib: string): void {
  const r = new Deno.Command("sh", {
    args: ["-c", "echo ok"],
    env: { LD_PRELOAD: lib },
    stdout: "piped",
    stderr: "piped",
  })
    .outputSync();
  assert.equal(new TextDecoder().decode(r.stderr), "");
  assert.equal(new TextDecoder().decode(r.stdout), "ok\n");
}

const CUDA = [
  "dlsym",
  "cuGetProcAddress",
  "cuGetProcAddress_v2",
  "cuLaunchKernel",
  "cuLaunchKernel_ptsz",
  "cuLaunchKernelEx",
  "cuLaunchCooperativeKernel",
  "cuGraphLaunch",
  "cuMemAlloc_v2",
  "cuMemAllocAsync",
  "cuMemAllocFromPoolAsync",
  "cuMemFree_v2",
  "cuMemFreeAsync",
  "cuMemCreate",
  "cuMemMap",
  "cuMemUnmap",
  "cuMemAddressReserve",
  "cuMemcpyHtoD_v2",
  "cuMemcpyDtoH_v2_ptds",
  "cuMemcpyAsync",
  "cuMemsetD32_v2",
  "cuStreamSynchronize",
  "cuStreamBeginCapture_v2",
  "cuStreamEndCapture",
  "cuEventRecord",
  "cuCtxSynchronize",
];

for (const backend of ["sim", "cuda"] as const) {
  const lib = traceLibraryPath(backend);
  const names = exported(lib);
  Deno.test({
    name: `trace build: the ${backend} interposer exports the driver entry points it wraps`,
    ignore: !names,
  }, () => {
    for (const n of CUDA) assert.ok(names!.includes(n), n);
    assert.deepEqual(names!.filter((n) => !n.startsWith("cu") && n !== "dlsym"), []);
    preloadRuns(lib);
  });
}

const HIP = [
  "hipMalloc",
  "hipFree",
  "hipMallocAsync",
  "hipMemcpy",
  "hipMemcpyDtoH",
  "hipMemset",
  "hipLaunchKernel",
  "hipModuleLaunchKernel",
  "hipExtModuleLaunchKernel",
  "hipGraphLaunch",
  "hipStreamSynchronize",
  "hipEventRecord",
  "hipDeviceSynchronize",
  "__hipRegisterFunction",
];

const hip = exported(traceLibraryPath("hip"));
Deno.test({
  name: "trace build: the hip interposer exports the HIP runtime entry points it wraps",
  ignore: !hip,
}, () => {
  for (const n of HIP) assert.ok(hip!.includes(n), n);
  assert.deepEqual(hip!.filter((n) => !n.startsWith("hip") && !n.startsWith("__hip")), []);
  preloadRuns(traceLibraryPath("hip"));
});
