/**
 * The hip library's AMD code objects (scripts/hip_build/): the offload bundle
 * format, and the built build/hip/libfaultline.so listed target by target
 * with llvm-readelf --notes: every kernel the host code launches is in the
 * gfx90a (hipcc) and the gfx942 (clang-19) code objects. Skipped, with a
 * message, where hipcc or LLVM 19's tools are not installed (.ci/run installs them).
 */
import assert from "node:assert/strict";
import { readBuildInfo } from "../../../ffi/build_info.ts";
import { libraryPath } from "../../../ffi/library.ts";
import { DEFAULT_HIP_TARGETS } from "../../../scripts/hip_build/arch.ts";
import { entryTarget, readBundle, readBundles, writeBundle } from "../../../scripts/hip_build/bundle.ts";
import {
  findLlvmTool,
  listCodeObjects,
  type Listing,
  missingKernels,
  stubKernels,
} from "../../../scripts/hip_build/code_objects.ts";
import { findHipcc, isFile } from "../../../scripts/hip_build/tools.ts";

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

const ENTRIES = () => [
  { id: "host-x86_64-unknown-linux", bytes: new Uint8Array(0) },
  { id: "hipv4-amdgcn-amd-amdhsa--gfx90a", bytes: randomBytes(5000) },
  { id: "hipv4-amdgcn-amd-amdhsa--gfx942", bytes: randomBytes(777) },
];

Deno.test("hip bundle: written entries read back, each aligned to 4096; several bundles in one section", () => {
  const entries = ENTRIES();
  const one = writeBundle(entries);
  const b = readBundle(one);
  assert.deepEqual(b.entries.map((e) => e.id), entries.map((e) => e.id));
  b.entries.forEach((e, i) => assert.deepEqual(e.bytes, entries[i].bytes));
  assert.ok(b.entries.every((e) => e.bytes.byteOffset % 4096 === 0));
  assert.deepEqual(b.entries.map((e) => entryTarget(e.id)), [null, "gfx90a", "gfx942"]);

  const two = writeBundle(ENTRIES().slice(0, 2));
  const at = Math.ceil(one.length / 4096) * 4096; // as the linker lays out each object's section
  const section = new Uint8Array(at + two.length);
  section.set(one);
  section.set(two, at);
  assert.deepEqual(readBundles(section).map((x) => x.entries.length), [3, 2]);
});

Deno.test("hip bundle: a truncated, compressed or absent bundle is a clear error", () => {
  const one = writeBundle(ENTRIES());
  assert.throws(() => readBundle(one.subarray(0, one.length - 10)), /runs past the end/);
  assert.throws(() => readBundle(one.subarray(0, 40)), /truncated/);
  assert.throws(() => readBundle(new TextEncoder().encode("CCOB\x02\x00rest")), /compressed offload bundle/);
  assert.throws(() => readBundle(randomBytes(64)), /no offload bundle at byte 0/);
});

const bundler = findLlvmTool("clang-offload-bundler") ??
  ["/usr/bin/clang-offload-bundler-15", "/opt/rocm/llvm/bin/clang-offload-bundler"].find(isFile) ?? null;
Deno.test({
  name: "hip bundle: clang-offload-bundler lists and unbundles what writeBundle wrote",
  ignore: bundler === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const entries = ENTRIES();
    await Deno.writeFile(`${dir}/b.hipfb`, writeBundle(entries));
    const run = (args: string[]) =>
      new Deno.Command(bundler!, { args, stdout: "piped", stderr: "piped" }).output();
    const list = await run(["--list", "--type=o", `--input=${dir}/b.hipfb`]);
    assert.ok(list.success, new TextDecoder().decode(list.stderr));
    assert.deepEqual(
      new TextDecoder().decode(list.stdout).trim().split("\n").sort(),
      entries.map((e) => e.id).sort(),
    );
    const un = await run([
      "--unbundle",
      "--type=o",
      `--input=${dir}/b.hipfb`,
      `--targets=${entries[2].id}`,
      `--output=${dir}/gfx942.co`,
    ]);
    assert.ok(un.success, new TextDecoder().decode(un.stderr));
    assert.deepEqual(await Deno.readFile(`${dir}/gfx942.co`), entries[2].bytes);
  },
});

Deno.test("hip code objects: host launch stubs name their kernels; a kernel absent on one target is reported", () => {
  const nm = [
    "000000000000c270 t _Z26__device_stub__rope_kernelILb0ELb0EEvPfjjjiPKif",
    "0000000000001000 T _ZN2fl25__device_stub__ns_kernelEv",
    "0000000000002000 T fl_malloc",
  ].join("\n");
  const host = stubKernels(nm);
  assert.deepEqual(host, ["_Z11rope_kernelILb0ELb0EEvPfjjjiPKif", "_ZN2fl10ns_kernelEv"]);
  const co = (target: string, kernels: string[]) => ({
    bundle: 0,
    target,
    amdhsaTarget: "",
    version: [],
    kernels,
  });
  const l: Listing = { hostKernels: host, codeObjects: [co("gfx90a", host), co("gfx942", host.slice(1))] };
  assert.deepEqual(Object.fromEntries(missingKernels(l)), { gfx90a: [], gfx942: [host[0]] });
});

const lib = libraryPath("hip");
const info = readBuildInfo(lib);
const readelf = findLlvmTool("llvm-readelf") && findLlvmTool("llvm-nm");
const skip = !findHipcc()
  ? "hipcc not installed"
  : !isFile(lib)
  ? `${lib} not built (deno task build --backend hip)`
  : !readelf
  ? "llvm-readelf-19 / llvm-nm-19 not installed (apt-get install llvm-19)"
  : !info
  ? `${lib}.json missing or stale: rebuild with deno task build --backend hip`
  : null;
if (skip) console.warn(`hip code objects: library checks skipped: ${skip}`);

Deno.test({
  name:
    "hip code objects: every bundle of the library holds each recorded target, with every launched kernel",
  ignore: skip !== null,
  fn: async () => {
    const l = await listCodeObjects(lib);
    assert.ok(l.hostKernels.length >= 20, `only ${l.hostKernels.length} host launch stubs`);
    assert.ok(
      l.hostKernels.includes("_Z11tick_kernelPj") && l.hostKernels.includes("_Z17fault_fill_kernelPfmf"),
    );
    const bundles = new Set(l.codeObjects.map((c) => c.bundle));
    for (const b of bundles) {
      const objs = l.codeObjects.filter((c) => c.bundle === b);
      assert.deepEqual(objs.map((c) => c.target), info!.targets, `bundle ${b}`);
      for (const c of objs) {
        assert.equal(c.amdhsaTarget, `amdgcn-amd-amdhsa--${c.target}`, `bundle ${b} entry ${c.target}`);
        assert.deepEqual(c.version, [1, 1], `bundle ${b} ${c.target}: code object v4`);
        assert.deepEqual(
          [...c.kernels].sort(),
          [...objs[0].kernels].sort(),
          `bundle ${b}: ${c.target}'s kernels`,
        );
      }
    }
    for (const [target, missing] of missingKernels(l)) {
      assert.deepEqual(missing, [], `${target} lacks kernels`);
    }
    const listed = (t: string) =>
      new Set(l.codeObjects.filter((c) => c.target === t).flatMap((c) => c.kernels));
    for (const t of info!.targets) assert.equal(listed(t).size, l.hostKernels.length, t);
  },
});

Deno.test({
  name: "hip code objects: the default build holds gfx90a (hipcc) and gfx942 (clang-19)",
  ignore: skip !== null || !info!.chosen_by.startsWith("default"),
  fn: () => {
    for (const t of DEFAULT_HIP_TARGETS) assert.ok(info!.targets.includes(t), `${t} in ${info!.targets}`);
    assert.match(info!.compilers.gfx942, /clang|hipcc/);
  },
});
