/**
 * Safe path resolution under the reports folder. Every path the server opens
 * passes through here: names are checked, symlinks are resolved, and the result
 * must stay inside the reports root.
 */

import { join, resolve, sep as SEPARATOR } from "node:path";

/** The files a run folder may hold that the server will serve, with their content types. */
export const RUN_FILES: Readonly<Record<string, string>> = {
  "journal.jsonl": "text/plain; charset=utf-8",
  "verdict.json": "application/json; charset=utf-8",
  "report.md": "text/plain; charset=utf-8",
  "trace.json": "application/json; charset=utf-8",
  "timeline.svg": "image/svg+xml",
  "d2h_audit.log": "text/plain; charset=utf-8",
};

/** A name of an experiment or run folder: no separators, no leading dot, no control characters. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._:@+=-]{0,199}$/;

/** A file the server will not read, with the HTTP status that says why (403 refused, 413 too large). */
export class UnreadableFile extends Error {
  readonly status: 403 | 413;
  constructor(status: 403 | 413, message: string) {
    super(message);
    this.name = "UnreadableFile";
    this.status = status;
  }
}

/** A name or a link that leads out of the reports folder. */
export class RefusedPath extends UnreadableFile {
  constructor(what: string, how: "is" | "links" = "is") {
    super(403, `refused: ${what} ${how} outside the reports folder`);
    this.name = "RefusedPath";
  }
}

/** True when `name` is a well-formed experiment or run-id folder name. */
export function isSafeName(name: string): boolean {
  return NAME.test(name);
}

/**
 * True when `name` tries to leave its folder: separators, dot segments,
 * absolute paths, NUL. Such requests are refused rather than answered 404.
 */
export function isTraversal(name: string): boolean {
  return name.includes("/") || name.includes("\\") || name.includes("\0") || name === "." ||
    name.startsWith("..") || name.includes("/..") || /^[A-Za-z]:/.test(name);
}

/** The canonical form of the reports root; missing roots are kept as given. */
export function realRoot(root: string): string {
  try {
    return Deno.realPathSync(root);
  } catch {
    return resolve(root);
  }
}

export function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(SEPARATOR) ? root : root + SEPARATOR);
}

/**
 * Resolves `parts` under `root` following symlinks. Returns null when the path
 * does not exist; throws RefusedPath when it resolves outside the root or a
 * part is not a safe name.
 */
export function resolveInside(root: string, ...parts: string[]): string | null {
  for (const p of parts) {
    if (isTraversal(p)) throw new RefusedPath(JSON.stringify(p));
    if (!isSafeName(p)) return null;
  }
  const base = realRoot(root);
  let real: string;
  try {
    real = Deno.realPathSync(join(base, ...parts));
  } catch {
    return null;
  }
  if (!inside(base, real)) throw new RefusedPath(parts.join("/"));
  return real;
}
