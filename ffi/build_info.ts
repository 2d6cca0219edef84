/**
 * What a library was built for: `<library>.json` beside it, written by
 * scripts/build.ts, read when the library loads, shown in reports.
 *
 *   { "backend": "hip", "targets": ["gfx90a", "gfx942"], "chosen_by": "default: no AMD GPU found",
 *     "compilers": { "gfx90a": "/usr/bin/hipcc", "gfx942": "/usr/lib/llvm-19/bin/clang" },
 *     "library_bytes": 2345678, "built": "2025-01-01T00:00:00.000Z" }
 */

import type { BuildInfo } from "../records.ts";

export type { BuildInfo };

/** `<library>.json`. */
export function buildInfoPath(library: string): string {
  return `${library}.json`;
}

/** The build info of `library`, or null when it has none or it belongs to another build. */
export function readBuildInfo(library: string): BuildInfo | null {
  try {
    const info = JSON.parse(Deno.readTextFileSync(buildInfoPath(library))) as BuildInfo;
    if (!Array.isArray(info.targets) || info.library_bytes !== Deno.statSync(library).size) return null;
    return info;
  } catch {
    return null;
  }
}

/** "gfx90a, gfx942 (default: no AMD GPU found)", or "unknown" without build info. */
export function describeBuild(info: BuildInfo | null): string {
  return info ? `${info.targets.join(", ") || "(none)"} (${info.chosen_by})` : "unknown";
}
