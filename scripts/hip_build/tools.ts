/** Finding and running the AMD toolchain's programs (hipcc, clang, amdgpu-arch, rocminfo). */

/** Where programs are looked for: `path` (PATH's form) first, then `dirs`. */
export interface ToolSearch {
  path: string;
  dirs: string[];
}

/** LLVM versions whose AMDGPU backend knows gfx942, newest first. */
const LLVM_VERSIONS = [21, 20, 19];

function env(name: string): string | undefined {
  return Deno.env.get(name) || undefined;
}

function rocmRoots(): string[] {
  return [...new Set([env("ROCM_PATH"), "/opt/rocm"].filter((d): d is string => d !== undefined))];
}

/** PATH, then ROCm's bin directories, then Debian's LLVM ones. */
export function defaultSearch(): ToolSearch {
  return {
    path: env("PATH") ?? "",
    dirs: [
      ...rocmRoots().flatMap((r) => [`${r}/bin`, `${r}/llvm/bin`]),
      ...LLVM_VERSIONS.map((v) => `/usr/lib/llvm-${v}/bin`),
    ],
  };
}

export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The first `name` found on the search, or null. */
export function findTool(name: string, search: ToolSearch): string | null {
  for (const dir of [...search.path.split(":"), ...search.dirs]) {
    if (dir && isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** hipcc: $HIPCC, else ROCm's (preferred: it knows the newest GPUs), else the one on PATH. */
export function findHipcc(): string | null {
  const hipcc = env("HIPCC");
  if (hipcc) return isFile(hipcc) ? hipcc : null;
  const rocm = rocmRoots().map((r) => `${r}/bin/hipcc`).find(isFile);
  return rocm ?? findTool("hipcc", { path: env("PATH") ?? "", dirs: [] });
}

/**
 * clang for the targets hipcc cannot compile: $FAULTLINE_HIP_CLANG, else
 * clang-21/20/19 on PATH or in /usr/lib/llvm-N/bin. Its directory must hold
 * llvm-objcopy too (Debian: clang-19 with llvm-19).
 */
export function findClang(search: ToolSearch = defaultSearch()): string | null {
  const given = env("FAULTLINE_HIP_CLANG");
  if (given) return isFile(given) ? given : null;
  for (const v of LLVM_VERSIONS) {
    const dir = `/usr/lib/llvm-${v}/bin`;
    if (isFile(`${dir}/clang`) && isFile(`${dir}/llvm-objcopy`)) return `${dir}/clang`;
    const onPath = findTool(`clang-${v}`, { path: search.path, dirs: [] });
    if (onPath && findTool(`llvm-objcopy-${v}`, { path: search.path, dirs: [] })) return onPath;
  }
  return null;
}

/** A tool of clang's own LLVM ("llvm-objcopy" beside /usr/lib/llvm-19/bin/clang, or llvm-objcopy-19 beside clang-19). */
export function llvmTool(clang: string, name: string): string {
  const dir = clang.slice(0, clang.lastIndexOf("/"));
  const suffix = /clang(-\d+)$/.exec(clang)?.[1] ?? "";
  return `${dir}/${name}${suffix}`;
}

export interface ToolRun {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a program with a time limit; a missing or hung program is a failed run, never a throw. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ToolRun> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(opts.timeoutMs ?? 20_000),
    }).output();
    const dec = new TextDecoder();
    return { ok: r.success, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
  } catch (e) {
    return { ok: false, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
  }
}
