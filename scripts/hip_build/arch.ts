/**
 * Which AMD GPU targets the hip backend is built for, and by which compiler:
 *
 * 1. the targets asked for (--hip-arch / --arch), else
 * 2. the GPUs of this machine, as amdgpu-arch or else rocminfo reports them, else
 * 3. DEFAULT_HIP_TARGETS (MI200 and MI300X).
 *
 * hipcc compiles every target it knows; the others go through clang's AMDGPU
 * backend (Debian's hipcc 5.2 knows no gfx942; clang-19 does) and are added to
 * the objects' fat binaries (./fatbin.ts). A default target no compiler knows
 * is left out with a note; an asked-for or detected one is an error.
 */
import { defaultSearch, findClang, findTool, runTool, type ToolSearch } from "./tools.ts";

/** gfx90a (MI200) and gfx942 (MI300X). */
export const DEFAULT_HIP_TARGETS: readonly string[] = ["gfx90a", "gfx942"];

const TARGET_ID = /^gfx[0-9a-f]+(:[a-z]+[+-])*$/;

export interface HipTargets {
  /** What the library holds, in order. */
  targets: string[];
  /** "--hip-arch", "amdgpu-arch", "rocminfo" or "default: no AMD GPU found". */
  chosenBy: string;
  /** The targets hipcc compiles. */
  hipcc: string[];
  /** The --offload-arch list hipcc is run with: `hipcc`, or a stand-in when it knows none of the targets. */
  hipccArch: string[];
  /** The targets clang adds (empty when hipcc knows them all). */
  clang: string[];
  /** The clang that compiles them, null when `clang` is empty. */
  clangPath: string | null;
  /** Target → the compiler that builds it. */
  compilers: Record<string, string>;
  /** Default targets left out, and why. */
  notes: string[];
}

/** The GPUs amdgpu-arch printed (one target per line). */
export function parseAmdgpuArch(out: string): string[] {
  return unique(out.split("\n").map((l) => l.trim()).filter((l) => TARGET_ID.test(l)));
}

/** The GPU agents' names in rocminfo's output ("  Name:   gfx942"). */
export function parseRocminfo(out: string): string[] {
  return unique([...out.matchAll(/^\s*Name:\s+(gfx[0-9a-f]+)\s*$/gm)].map((m) => m[1]));
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** This machine's AMD GPU targets and the tool that reported them, or null when none answers. */
export async function detectAmdGpus(
  search: ToolSearch = defaultSearch(),
): Promise<{ targets: string[]; tool: string } | null> {
  const probes = [
    { tool: "amdgpu-arch", parse: parseAmdgpuArch },
    { tool: "rocminfo", parse: parseRocminfo },
  ];
  for (const { tool, parse } of probes) {
    const path = findTool(tool, search);
    if (!path) continue;
    const r = await runTool(path, [], { timeoutMs: 15_000 });
    const targets = r.ok ? parse(r.stdout) : [];
    if (targets.length) return { targets, tool };
  }
  return null;
}

/** Whether `compiler` (hipcc or clang) accepts `--offload-arch=<target>`. */
export async function compilerKnows(compiler: string, target: string): Promise<boolean> {
  const args = ["-x", "hip", `--offload-arch=${target}`, "--cuda-device-only", "-nogpulib", "-E"];
  const r = await runTool(compiler, [...args, "-o", "/dev/null", "/dev/null"], {
    env: { HIP_PLATFORM: "amd" },
  });
  return r.ok;
}

/** Checks a --hip-arch list; throws on a malformed target. */
export function parseHipArch(list: string[]): string[] {
  const targets = unique(list.map((a) => a.trim()).filter((a) => a !== ""));
  const bad = targets.filter((a) => !TARGET_ID.test(a));
  if (targets.length === 0 || bad.length) {
    throw new Error(`bad --hip-arch ${list.join(",")} (expected AMD targets, e.g. gfx942 or gfx90a:xnack+)`);
  }
  return targets;
}

/** The targets asked for, else this machine's GPUs, else the default set; and who chose them. */
async function wantedTargets(requested: string[] | undefined, search: ToolSearch) {
  if (requested) return { targets: parseHipArch(requested), chosenBy: "--hip-arch", optional: false };
  const detected = await detectAmdGpus(search);
  if (detected) return { targets: detected.targets, chosenBy: detected.tool, optional: false };
  return { targets: [...DEFAULT_HIP_TARGETS], chosenBy: "default: no AMD GPU found", optional: true };
}

/** What to build for, by which compiler (see the file's comment). */
export async function chooseHipTargets(
  hipcc: string,
  requested?: string[],
  search: ToolSearch = defaultSearch(),
  clang: string | null = findClang(search),
): Promise<HipTargets> {
  const wanted = await wantedTargets(requested, search);
  const knows = (c: string | null, ts: string[]) =>
    Promise.all(ts.map((t) => c ? compilerKnows(c, t) : false));
  const byHipcc = await knows(hipcc, wanted.targets);
  const hipccTargets = wanted.targets.filter((_, i) => byHipcc[i]);
  const rest = wanted.targets.filter((_, i) => !byHipcc[i]);
  const byClang = await knows(clang, rest);
  const clangTargets = rest.filter((_, i) => byClang[i]);
  const nobody = rest.filter((_, i) => !byClang[i]);
  const why = `${hipcc} cannot compile for it and ${
    clang ? `neither can ${clang}` : "no clang-19 was found"
  }`;
  if (nobody.length && !wanted.optional) {
    throw new Error(`${nobody.join(", ")}: ${why}; install ROCm 6.x (/opt/rocm), or clang-19 and llvm-19`);
  }
  const targets = wanted.targets.filter((t) => !nobody.includes(t));
  const notes = nobody.map((t) => `${t} left out: ${why}`);
  if (targets.length === 0) throw new Error(`no AMD target can be compiled (${notes.join("; ")})`);
  return {
    targets,
    chosenBy: wanted.chosenBy,
    hipcc: hipccTargets,
    hipccArch: hipccTargets.length ? hipccTargets : await standIn(hipcc),
    clang: clangTargets,
    clangPath: clangTargets.length ? clang : null,
    compilers: Object.fromEntries(targets.map((t) => [t, hipccTargets.includes(t) ? hipcc : clang!])),
    notes,
  };
}

/** A target hipcc knows, to run it with when it knows none of the wanted ones (its code object is dropped). */
async function standIn(hipcc: string): Promise<string[]> {
  for (const t of DEFAULT_HIP_TARGETS) if (await compilerKnows(hipcc, t)) return [t];
  throw new Error(`${hipcc} knows none of ${DEFAULT_HIP_TARGETS.join(", ")}`);
}
