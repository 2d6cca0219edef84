/**
 * Kernel sources compiled for the GPU backends without a GPU: hipRTC and
 * hipcc --genco (gfx90a) and nvcc -cubin (sm_90) build the example kernel, and the code
 * object readers find it and its real parameter layout, which must agree with
 * the kernel's declaration. Skipped where the compiler is absent (CI installs
 * both).
 */
import assert from "node:assert/strict";
import {
  amdgpuKernelArgs,
  elfFunctionSymbols,
  elfSection,
  isOffloadBundle,
  kernelSymbol,
  offloadBundleEntries,
} from "../../ffi/code_object.ts";
import { compileKernels } from "../../ffi/kernel_compile.ts";
import { findHiprtc } from "../../ffi/rtc.ts";
import { argLayout } from "../../ffi/kernel_spec.ts";
import { libraryPath } from "../../ffi/library.ts";
import { ropeUser } from "../../scripts/experiments/own_kernel.ts";

const ROPE = decodeURIComponent(new URL("../../kernels/examples/rope_user.hip", import.meta.url).pathname);

function has(cmd: string): boolean {
  try {
    return new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** The AMD code object of a compile: hipcc gives a clang offload bundle, hipRTC the ELF itself. */
function amdImage(image: Uint8Array): Uint8Array {
  if (!isOffloadBundle(image)) return image;
  const amd = offloadBundleEntries(image).filter((e) => e.triple.includes("amdgcn"));
  assert.equal(amd.length, 1);
  assert.match(amd[0].triple, /gfx90a/);
  return amd[0].image;
}

for (const compiler of ["hiprtc", "hipcc"] as const) {
  Deno.test({
    name: `code objects: ${compiler} builds the example for gfx90a; its metadata gives the declared layout`,
    // an NVIDIA machine may carry a hipRTC library without HIP's headers: the hip path is for AMD machines and CI
    ignore: compiler === "hipcc"
      ? !has("hipcc")
      : findHiprtc() === null || Deno.env.get("FAULTLINE_BACKEND") === "cuda",
    fn: async () => {
      const cacheDir = await Deno.makeTempDir({ prefix: "faultline-hsaco-" });
      const before = Deno.env.get("FAULTLINE_KERNEL_COMPILER");
      if (compiler === "hipcc") Deno.env.set("FAULTLINE_KERNEL_COMPILER", "hipcc");
      try {
        const c = await compileKernels({
          backend: "hip",
          source: ROPE,
          kernels: ["rope_user"],
          arch: "gfx90a",
          cacheDir,
        });
        assert.match(c.compiler, compiler === "hipcc" ? /HIP version|clang/i : /^hiprtc /);
        const image = amdImage(c.image);
        const args = amdgpuKernelArgs(image).get(c.symbols.rope_user ?? "rope_user");
        assert.ok(args, "rope_user is in the metadata");
        const visible = args.filter((a) => !a.valueKind.startsWith("hidden_"));
        const declared = argLayout(ropeUser.args);
        assert.deepEqual(visible.map((a) => a.offset), declared.offsets);
        assert.deepEqual(
          visible.map((a) => a.valueKind),
          ropeUser.args.map((a) => a.type === "ptr" ? "global_buffer" : "by_value"),
        );
        assert.ok(elfFunctionSymbols(image).includes("rope_user"));
      } finally {
        if (before === undefined) Deno.env.delete("FAULTLINE_KERNEL_COMPILER");
        else Deno.env.set("FAULTLINE_KERNEL_COMPILER", before);
        await Deno.remove(cacheDir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "code objects: nvcc builds the example as a cubin that names the kernel",
  ignore: !has("nvcc"),
  fn: async () => {
    const cacheDir = await Deno.makeTempDir({ prefix: "faultline-cubin-" });
    // NVRTC is not installed here: the cuda path falls back to nvcc -cubin
    const c = await compileKernels({
      backend: "cuda",
      source: ROPE,
      kernels: ["rope_user"],
      arch: "sm_90",
      cacheDir,
    });
    const symbols = elfFunctionSymbols(c.image);
    assert.equal(kernelSymbol(symbols, "rope_user"), "rope_user");
    await Deno.remove(cacheDir, { recursive: true });
  },
});

Deno.test("code objects: a C++ kernel is found by its mangled name; malformed files are clear errors", () => {
  assert.equal(kernelSymbol(["_Z9rope_userPfPKijjjf", "other"], "rope_user"), "_Z9rope_userPfPKijjjf");
  assert.equal(kernelSymbol(["_Z4ropePf", "_Z4ropePd"], "rope"), null); // overloaded: ambiguous
  assert.throws(() => elfFunctionSymbols(new Uint8Array(64)), /not a 64-bit little-endian ELF/);
  const bundle = new TextEncoder().encode("__CLANG_OFFLOAD_BUNDLE__");
  const bad = new Uint8Array(64);
  bad.set(bundle);
  new DataView(bad.buffer).setBigUint64(24, 1n << 40n, true);
  assert.throws(() => offloadBundleEntries(bad), /claims \d+ entries/);
});

Deno.test("code object: ELF sections by name; a missing one is null, a non-ELF file an error", async () => {
  const sim = await Deno.readFile(libraryPath("sim"));
  assert.ok((elfSection(sim, ".text")?.length ?? 0) > 0);
  assert.equal(elfSection(sim, ".hip_fatbin"), null);
  assert.throws(
    () => elfSection(new TextEncoder().encode("not an ELF file at all".repeat(4)), ".text"),
    /not a 64-bit/,
  );
});
