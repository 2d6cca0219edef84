/**
 * Lists the AMD code objects inside a HIP library or object: each offload
 * bundle of its .hip_fatbin section, each entry's target and kernels as
 * llvm-readelf --notes reports them (amdhsa.target, the kernel descriptors),
 * and the kernels the host code launches (its __device_stub__ symbols, by
 * llvm-nm), so a missing kernel on one target shows.
 *
 *   deno run -A scripts/hip_build/code_objects.ts build/hip/libfaultline.so [--kernels]
 */
import { fileFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
import { entryTarget, readBundles } from "./bundle.ts";
import { CodeObjectError, elfSection } from "../../ffi/code_object.ts";
import { defaultSearch, findTool, runTool } from "./tools.ts";

export interface CodeObject {
  /** Which bundle of the section (one per object file linked in). */
  bundle: number;
  /** The bundle entry's target id ("gfx942"). */
  target: string;
  /** The code object's own amdhsa.target ("amdgcn-amd-amdhsa--gfx942"). */
  amdhsaTarget: string;
  /** amdhsa.version: [1, 1] is code object v4, [1, 2] v5. */
  version: number[];
  /** Mangled kernel names. */
  kernels: string[];
}

export interface Listing {
  codeObjects: CodeObject[];
  /** Mangled names of the kernels the host code can launch. */
  hostKernels: string[];
}

/** llvm-readelf (or llvm-nm...) of an LLVM that knows AMDGPU: -21/-20/-19 on PATH, /usr/lib/llvm-N/bin, ROCm's. */
export function findLlvmTool(name: string): string | null {
  const search = defaultSearch();
  for (const n of [`${name}-21`, `${name}-20`, `${name}-19`, name]) {
    const found = findTool(n, search);
    if (found) return found;
  }
  return null;
}

/** Parses `llvm-readelf --notes` of one AMDGPU code object. */
export function parseNotes(out: string): Pick<CodeObject, "amdhsaTarget" | "version" | "kernels"> {
  const amdhsaTarget = /amdhsa\.target:\s+'?([^'\s]+)/.exec(out)?.[1] ?? "";
  const version = /amdhsa\.version:\s*\n\s*-\s*(\d+)\s*\n\s*-\s*(\d+)/.exec(out)?.slice(1).map(Number) ?? [];
  const kernels = [...out.matchAll(/^\s*\.symbol:\s+'?([^'\s]+)\.kd'?\s*$/gm)].map((m) => m[1]);
  return { amdhsaTarget, version, kernels };
}

/** Kernel names behind the host's launch stubs: _Z26__device_stub__rope_kernel... → _Z11rope_kernel... */
export function stubKernels(nmOutput: string): string[] {
  const names = [...nmOutput.matchAll(/\s(\S*?(\d+)__device_stub__\S+)$/gm)].map((m) =>
    m[1].replace(/(\d+)__device_stub__/, (_, n) => String(Number(n) - "__device_stub__".length))
  );
  return [...new Set(names)].sort();
}

async function tool(name: string, args: string[]): Promise<string> {
  const path = findLlvmTool(name);
  if (!path) throw new Error(`${name} not found (Debian: apt-get install llvm-19)`);
  const r = await runTool(path, args, { timeoutMs: 60_000 });
  if (!r.ok) throw new Error(`${path} ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Every code object in `file`'s .hip_fatbin, and the kernels its host code launches. */
export async function listCodeObjects(file: string): Promise<Listing> {
  const section = elfSection(await Deno.readFile(file), ".hip_fatbin");
  const dir = await Deno.makeTempDir({ prefix: "fl_code_objects_" });
  try {
    const entries = (section ? readBundles(section) : []).flatMap((b, bundle) =>
      b.entries.flatMap((e) => {
        const target = entryTarget(e.id);
        return target ? [{ bundle, target, bytes: e.bytes, path: `${dir}/${bundle}_${target}.co` }] : [];
      })
    );
    for (const e of entries) await Deno.writeFile(e.path, e.bytes);
    const notes = entries.length
      ? await tool("llvm-readelf", ["--notes", ...entries.map((e) => e.path)])
      : "";
    // With several files, llvm-readelf starts each one's output with "File: <path>".
    const perFile = new Map(
      notes.split(/^File: /m).slice(1).map((s) => [s.slice(0, s.indexOf("\n")).trim(), s]),
    );
    const single = entries.length === 1 ? notes : null;
    const codeObjects = entries.map((e) => ({
      bundle: e.bundle,
      target: e.target,
      ...parseNotes(single ?? perFile.get(e.path) ?? ""),
    }));
    return { codeObjects, hostKernels: stubKernels(await tool("llvm-nm", [file])) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Target → the kernels the host launches that no code object of that target holds. */
export function missingKernels(l: Listing): Map<string, string[]> {
  const targets = [...new Set(l.codeObjects.map((c) => c.target))];
  return new Map(targets.map((t) => {
    const have = new Set(l.codeObjects.filter((c) => c.target === t).flatMap((c) => c.kernels));
    return [t, l.hostKernels.filter((k) => !have.has(k))];
  }));
}

const CLI = {
  name: "code_objects",
  usage: `usage: deno run -A scripts/hip_build/code_objects.ts <library or object> [--kernels]
  lists the AMD code objects in the file's .hip_fatbin (target, kernels) and the kernels its host code
  launches; exits 1 when a target lacks one
  --kernels   also list every kernel of each target`,
  options: { kernels: { type: "boolean" } },
  positionals: { min: 1, max: 1, name: "<library or object>" },
} as const;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(CLI, args);
  const files = [fileFlag(positionals[0], "<library or object>")!];
  const l = await listCodeObjects(files[0]).catch((e) => {
    throw e instanceof CodeObjectError ? new UsageError(`${files[0]}: ${e.message}`) : e;
  });
  console.log(`${files[0]}: ${l.hostKernels.length} kernels launched by the host code`);
  let ok = l.codeObjects.length > 0;
  for (const [target, missing] of missingKernels(l)) {
    const objs = l.codeObjects.filter((c) => c.target === target);
    const kernels = new Set(objs.flatMap((c) => c.kernels));
    const v = objs[0].version.length ? `code object v${objs[0].version[1] + 3}` : "unknown version";
    console.log(
      `  ${target}: ${kernels.size} kernels in ${objs.length} code objects (${v})` +
        (missing.length ? `; MISSING ${missing.length}: ${missing.join(" ")}` : ""),
    );
    if (values.kernels) { for (const k of [...kernels].sort()) console.log(`    ${k}`); }
    ok &&= missing.length === 0;
  }
  if (l.codeObjects.length === 0) console.log("  no AMD code objects (.hip_fatbin) found");
  return ok ? 0 : 1;
}

if (import.meta.main) await runCli(CLI, main);
