/**
 * One declaration per kernel (ffi/kernels_builtin.ts): the generated C side
 * follows it, the FFI symbol table follows it, a library built from other
 * declarations is refused at load, and the launch-limit rail's geometry
 * mirror agrees with the kernels' own geometry.
 */
import assert from "node:assert/strict";
import { builtinKernels, kernelConstants } from "../../ffi/kernels_builtin.ts";
import {
  argLayout,
  defineKernel,
  type KernelDescriptor,
  kernelSymbols,
  kernelTableHash,
} from "../../ffi/kernel_spec.ts";
import { runtime } from "../../mod.ts";
import { generateKernelSources, MAX_PHASES } from "../../scripts/codegen/kernel_exports.ts";
import { type LaunchDims, launchDims } from "../../scripts/guards/launch_limits.ts";
import { runChild } from "../helpers/child.ts";

const GEOMETRY = ["launch_config.h", "llama/launch_config_llama.h"];
const C_TO_NATIVE: Record<string, string> = {
  uint64_t: "u64",
  uint32_t: "u32",
  int32_t: "i32",
  float: "f32",
};

/** The launch prototypes of a generated header: export name -> [C type, parameter name][]. */
function prototypes(header: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  for (const m of header.matchAll(/FL_EXPORT int32_t (fl_launch_\w+)\(([^)]*)\);/g)) {
    out.set(m[1], m[2].split(",").map((p) => p.trim().split(/\s+/) as [string, string]));
  }
  return out;
}

/** The fields of `fl_args_<name>` in a generated header, in order. */
function structFields(header: string, name: string): string[] {
  const m = header.match(new RegExp(`typedef struct fl_args_${name} \\{([^}]*)\\}`));
  assert.ok(m, `no struct fl_args_${name}`);
  return [...m[1].matchAll(/^\s*\w+ (\w+);/gm)].map((f) => f[1]);
}

Deno.test("kernel declarations: each export's prototype and struct follow the declared argument order", () => {
  const gen = generateKernelSources(builtinKernels, kernelConstants, GEOMETRY);
  const protos = prototypes(gen["fl_kernels.h"]);
  assert.equal(protos.size, builtinKernels.length);
  for (const k of builtinKernels) {
    const p = protos.get(`fl_launch_${k.name}`);
    assert.ok(p, `no prototype for ${k.name}`);
    assert.deepEqual(p.map(([, n]) => n), ["dev", "stream", ...k.args.map((a) => a.name)]);
    assert.deepEqual(structFields(gen["fl_kernels.h"], k.name), k.args.map((a) => a.name));
    assert.ok(gen["fl_kernel_exports_sim.c"].includes(`sim_${k.name}, &packed`), k.name);
    assert.ok(gen["fl_kernel_exports_gpu.cpp"].includes(`fl_gpu_${k.name}(l, d, packed)`), k.name);
  }
});

Deno.test("kernel declarations: the FFI symbol table agrees with the generated C prototypes", () => {
  const gen = generateKernelSources(builtinKernels, kernelConstants, GEOMETRY);
  const table = kernelSymbols(builtinKernels) as Record<string, Deno.ForeignFunction>;
  for (const [name, params] of prototypes(gen["fl_kernels.h"])) {
    assert.deepEqual([...table[name].parameters], params.map(([c]) => C_TO_NATIVE[c]), name);
    assert.equal(table[name].result, "i32");
  }
  assert.deepEqual(Object.keys(table).sort(), [...prototypes(gen["fl_kernels.h"]).keys()].sort());
});

Deno.test("kernel declarations: reordering one argument changes the struct, the prototype and the table hash", () => {
  const rope = builtinKernels.find((k) => k.name === "rope")!;
  const [x, seqLen, heads, ...rest] = rope.args;
  const swapped = defineKernel({ name: "rope", args: [x, heads, seqLen, ...rest] });
  const kernels = builtinKernels.map((k) => k === rope ? swapped : k) as KernelDescriptor[];
  const a = generateKernelSources(builtinKernels, kernelConstants, GEOMETRY)["fl_kernels.h"];
  const b = generateKernelSources(kernels, kernelConstants, GEOMETRY)["fl_kernels.h"];
  assert.deepEqual(structFields(b, "rope").slice(0, 3), ["x", "heads", "seq_len"]);
  assert.notEqual(kernelTableHash(kernels), kernelTableHash(builtinKernels));
  assert.equal(kernelTableHash([...builtinKernels]), kernelTableHash(builtinKernels));
  assert.ok(a.includes(`0x${kernelTableHash(builtinKernels).toString(16).padStart(16, "0")}ull`));
});

Deno.test("kernel declarations: bad declarations are refused by name", () => {
  const gen = (ks: KernelDescriptor[]) => () => generateKernelSources(ks, {}, GEOMETRY);
  const k = (name: string, args: KernelDescriptor["args"] = []) => ({ name, args });
  assert.throws(gen([k("two words")]), /kernel name "two words" is not a C identifier/);
  assert.throws(gen([k("twice"), k("twice")]), /kernel twice is declared twice/);
  assert.throws(
    gen([k("x", [{ name: "n", type: "u32" }, { name: "n", type: "u32" }])]),
    /argument n is declared twice/,
  );
  assert.throws(gen([k("x", [{ name: "stream", type: "u64" }])]), /argument name "stream" cannot be used/);
});

/** Builds the sim library from `kernels`' generated exports into a temporary directory. */
async function simLibraryFrom(kernels: readonly KernelDescriptor[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "faultline-decl-" });
  const gen = generateKernelSources(kernels, kernelConstants, GEOMETRY);
  for (const [name, text] of Object.entries(gen)) await Deno.writeTextFile(`${dir}/${name}`, text);
  const root = decodeURIComponent(new URL("../../", import.meta.url).pathname);
  const cFiles = (d: string) => [...Deno.readDirSync(`${root}${d}`)].filter((e) => e.name.endsWith(".c"));
  const sources = ["hip/sim", "hip/host"].flatMap((d) => cFiles(d).map((e) => `${d}/${e.name}`));
  const out = await new Deno.Command("cc", {
    cwd: root,
    args: [
      "-std=c11",
      "-D_GNU_SOURCE",
      "-O0",
      "-shared",
      "-fPIC",
      "-pthread",
      "-fvisibility=hidden",
      "-Ihip",
      "-Ikernels",
      `-I${dir}`,
      ...sources,
      `${dir}/fl_kernel_exports_sim.c`,
      "-o",
      `${dir}/libfaultline.so`,
      "-lm",
    ],
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return `${dir}/libfaultline.so`;
}

Deno.test({
  name: "kernel declarations: a library built from other declarations is refused at load",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rope = builtinKernels.find((k) => k.name === "rope")!;
    const [x, seqLen, heads, ...rest] = rope.args;
    const kernels = builtinKernels.map((k) =>
      k === rope ? { name: "rope", args: [x, heads, seqLen, ...rest] } : k
    );
    const lib = await simLibraryFrom(kernels);
    try {
      const r = await runChild("load_child.ts", { FAULTLINE_LIB: lib, FAULTLINE_BACKEND: undefined });
      assert.equal(r.json?.loaded, false, r.stdout + r.stderr);
      assert.equal(r.json?.name, "FaultlineLoadError");
      assert.match(String(r.json?.message), /built from other kernel declarations/);
      assert.match(String(r.json?.message), /deno task build/);
    } finally {
      await Deno.remove(lib.replace(/\/libfaultline\.so$/, ""), { recursive: true });
    }
  },
});

/** The native geometry of built-in kernel `k` for `args` (fl_kernel_geometry), as the guard rail's LaunchDims. */
function nativeGeometry(k: KernelDescriptor, args: Record<string, number>): LaunchDims[] | null {
  const { offsets, bytes } = argLayout(k.args);
  const packed = new Uint8Array(Math.max(bytes, 8)), view = new DataView(packed.buffer);
  k.args.forEach((a, i) => {
    const v = args[a.name] ?? 0;
    if (a.type === "ptr" || a.type === "u64") view.setBigUint64(offsets[i], BigInt(v), true);
    else if (a.type === "f32") view.setFloat32(offsets[i], v, true);
    else if (a.type === "i32") view.setInt32(offsets[i], v, true);
    else view.setUint32(offsets[i], v, true);
  });
  const dims = new Uint32Array(6 * MAX_PHASES);
  const st = runtime().symbols.fl_kernel_geometry(
    (builtinKernels as readonly KernelDescriptor[]).indexOf(k),
    packed,
    new Uint8Array(dims.buffer),
  );
  if (st !== 0) return null;
  const out: LaunchDims[] = [];
  for (let p = 0; p < MAX_PHASES && dims[6 * p] !== 0; p++) {
    const d = dims.subarray(6 * p, 6 * p + 6);
    out.push({ grid: [d[0], d[1], d[2]], block: [d[3], d[4], d[5]] });
  }
  return out;
}

Deno.test({
  name: "kernel declarations: the launch-limit rail's geometry agrees with the kernels' own, on random sizes",
  ...{ sanitizeResources: false, sanitizeOps: false },
  fn: () => {
    let seed = Date.now() >>> 0;
    console.log(`random seed ${seed}`);
    const rnd = (n: number) => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n;
    let compared = 0;
    for (const k of builtinKernels) {
      for (let trial = 0; trial < 40; trial++) {
        const args: Record<string, number> = {};
        for (const a of k.args) {
          // small sizes mostly, some large enough to need many blocks; head sizes even and divisible
          args[a.name] = a.type === "ptr" ? 4096 : a.type === "f32" ? 1.5 : 1 + rnd(trial < 20 ? 300 : 70000);
        }
        if ("head_dim" in args) args.head_dim = 2 * (1 + rnd(64));
        if ("n_head_kv" in args) args.n_head = args.n_head_kv * (1 + rnd(8));
        const native = nativeGeometry(k, args);
        if (native === null) continue; // refused by the kernel itself (status 9)
        const mirrored = launchDims(k.name, args);
        if (mirrored === null) continue; // a kernel the rail does not mirror
        assert.deepEqual(mirrored, native, `${k.name} ${JSON.stringify(args)}`);
        compared++;
      }
    }
    assert.ok(compared > builtinKernels.length * 10, `only ${compared} geometries compared`);
  },
});
