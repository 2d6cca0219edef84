/**
 * Adds the targets hipcc cannot compile (./arch.ts) to the hip backend's
 * objects. Per GPU source:
 *
 * 1. hipcc compiles it as before, host code and its own targets, into X.hipcc.o;
 * 2. clang compiles the device code once per added target (--cuda-device-only)
 *    into X.<target>.co, with the installed HIP's headers and the ROCm device
 *    libraries (build/hip/devlibs: the installed ones, plus the ISA-version
 *    library of a target they predate, such as gfx942 for Debian's 5.2 set);
 * 3. the object's offload bundle (section .hip_fatbin) is rewritten to hold
 *    every target, and llvm-objcopy writes X.o.
 *
 * The host code registers kernels by name, so a launch finds its kernel in
 * whichever code object matches the GPU. Both compilers get the same -cuid, so
 * names that depend on it agree.
 */
import type { HipTargets } from "./arch.ts";
import { entryId, entryTarget, readBundles, writeBundle } from "./bundle.ts";
import { elfSection } from "../../ffi/code_object.ts";
import { isFile, llvmTool } from "./tools.ts";

export interface Step {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
}

/** Work that follows a compile in the same job; `describe` goes into the build stamp. */
export interface Finish {
  describe: string;
  run(exec: (s: Step) => Promise<string>): Promise<string>;
}

export interface Compile {
  src: string;
  obj: string;
  step: Step;
  finish?: Finish;
}

export const DEVICE_LIB_DIR = "build/hip/devlibs";

/** `compiles` (hipcc's, one per GPU source) with hip.clang's targets added; unchanged when there are none. */
export function withClangTargets(
  compiles: Compile[],
  hip: HipTargets,
  hipcc: string,
  root: string,
): Compile[] {
  if (hip.clang.length === 0) return compiles;
  const clang = hip.clangPath!;
  const hipRoot = parent(parent(Deno.realPathSync(hipcc)));
  let libs: Promise<void> | null = null;
  const deviceLibs = (exec: (s: Step) => Promise<string>) =>
    libs ??= prepareDeviceLibs(root, hipRoot, clang, hip.clang, exec);
  return compiles.map((c) => {
    const hipccObj = `${c.obj}.hipcc.o`;
    const step = { ...c.step, args: [...withOutput(c.step.args, hipccObj), `-cuid=${c.src}`] };
    const clangSteps = hip.clang.map((t) => ({
      target: t,
      step: clangStep(step, clang, hipRoot, t, coPath(c.obj, t)),
    }));
    const objcopy = llvmTool(clang, "llvm-objcopy");
    return {
      ...c,
      step,
      finish: {
        describe: clangSteps.map((s) => s.step.args.join(" ")).join(" && ") + ` && ${objcopy} .hip_fatbin`,
        async run(exec) {
          const data = await Deno.readFile(`${root}/${hipccObj}`);
          const section = elfSection(data, ".hip_fatbin");
          if (section === null) { // no kernels in this source: nothing to add
            await Deno.rename(`${root}/${hipccObj}`, `${root}/${c.obj}`);
            return "";
          }
          await deviceLibs(exec);
          const outputs = [];
          for (const s of clangSteps) outputs.push(await exec(s.step));
          const fatbin = `${c.obj}.hip_fatbin`;
          await Deno.writeFile(`${root}/${fatbin}`, await mergedBundle(section, hip, c.obj, root));
          outputs.push(
            await exec({
              cmd: objcopy,
              args: ["--update-section", `.hip_fatbin=${fatbin}`, hipccObj, c.obj],
            }),
          );
          await Deno.remove(`${root}/${fatbin}`);
          await Deno.remove(`${root}/${hipccObj}`);
          return outputs.filter((o) => o !== "").join("\n");
        },
      },
    };
  });
}

/** The object's bundle with hipcc's host entry, then every target in hip.targets' order. */
async function mergedBundle(section: Uint8Array, hip: HipTargets, obj: string, root: string) {
  const bundles = readBundles(section);
  if (bundles.length !== 1) throw new Error(`${obj}: expected one offload bundle, found ${bundles.length}`);
  const own = bundles[0].entries;
  const entries = own.filter((e) => entryTarget(e.id) === null);
  for (const t of hip.targets) {
    if (hip.clang.includes(t)) {
      entries.push({ id: entryId(t), bytes: await Deno.readFile(`${root}/${coPath(obj, t)}`) });
      continue;
    }
    const e = own.find((e) => entryTarget(e.id) === t);
    if (!e) {
      throw new Error(`${obj}: hipcc wrote no ${t} code object (it has ${own.map((e) => e.id).join(", ")})`);
    }
    entries.push(e);
  }
  return writeBundle(entries);
}

/** X.o.gfx942.co (a target id's ':' becomes '_'). */
export function coPath(obj: string, target: string): string {
  return `${obj}.${target.replace(/:/g, "_")}.co`;
}

function parent(p: string): string {
  return p.slice(0, p.lastIndexOf("/")) || "/";
}

function withOutput(args: string[], out: string): string[] {
  const i = args.indexOf("-o");
  if (i < 0) throw new Error(`compile step has no -o: ${args.join(" ")}`);
  return [...args.slice(0, i + 1), out, ...args.slice(i + 2)];
}

/** hipcc's compile, as clang's device-only compile for one target. */
function clangStep(hipccStep: Step, clang: string, hipRoot: string, target: string, out: string): Step {
  const args = withOutput(hipccStep.args, out).filter((a) => !a.startsWith("--offload-arch="));
  return {
    cmd: clang,
    args: [
      `--offload-arch=${target}`,
      "--cuda-device-only",
      "--no-gpu-bundle-output",
      // hipcc 5.x writes code object v4; the library loads through the same HIP runtime.
      "-mcode-object-version=4",
      `--hip-path=${hipRoot}`,
      `--rocm-device-lib-path=${DEVICE_LIB_DIR}`,
      ...args,
    ],
  };
}

/** Where the installed ROCm device libraries are (ockl.bc and friends). */
export function installedDeviceLibs(hipRoot: string): string | null {
  const multiarch = `${Deno.build.arch}-linux-gnu`;
  const roots = [hipRoot, Deno.env.get("ROCM_PATH"), "/opt/rocm", "/usr"].filter((r): r is string => !!r);
  const dirs = roots.flatMap((r) => [`${r}/lib/${multiarch}/amdgcn/bitcode`, `${r}/amdgcn/bitcode`]);
  return dirs.find((d) => isFile(`${d}/ockl.bc`)) ?? null;
}

/** __oclc_ISA_version of a target: gfx942 → 9402, gfx90a → 9010, gfx1100 → 11000. */
export function isaVersion(target: string): number {
  const m = /^gfx(\d+)([0-9a-f])([0-9a-f])$/.exec(target.split(":")[0]);
  if (!m) throw new Error(`not an AMD target: ${target}`);
  return parseInt(m[1]) * 1000 + parseInt(m[2], 16) * 100 + parseInt(m[3], 16);
}

/** build/hip/devlibs: links to the installed libraries, plus a generated ISA-version library per missing target. */
async function prepareDeviceLibs(
  root: string,
  hipRoot: string,
  clang: string,
  targets: string[],
  exec: (s: Step) => Promise<string>,
): Promise<void> {
  const src = installedDeviceLibs(hipRoot);
  if (!src) throw new Error("no ROCm device libraries found (Debian: apt-get install rocm-device-libs)");
  const dir = `${root}/${DEVICE_LIB_DIR}`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const libs = [...Deno.readDirSync(src)].map((e) => e.name).filter((n) => n.endsWith(".bc"));
  for (const name of libs) await Deno.symlink(`${src}/${name}`, `${dir}/${name}`);
  const template = libs.find((n) => n.startsWith("oclc_isa_version_"));
  for (const t of targets) {
    const name = `oclc_isa_version_${t.split(":")[0].slice(3)}.bc`;
    if (libs.includes(name)) continue;
    if (!template) throw new Error(`${src} holds no oclc_isa_version_*.bc to make ${name} from`);
    const ll = `${dir}/${name}.ll`;
    await exec({ cmd: llvmTool(clang, "llvm-dis"), args: [`${dir}/${template}`, "-o", ll] });
    const text = await Deno.readTextFile(ll);
    const made = text.replace(/(@__oclc_ISA_version = .* i32 )\d+/, `$1${isaVersion(t)}`);
    if (made === text) throw new Error(`${template}: no __oclc_ISA_version to rewrite`);
    await Deno.writeTextFile(ll, made);
    await exec({ cmd: llvmTool(clang, "llvm-as"), args: [ll, "-o", `${dir}/${name}`] });
  }
}
