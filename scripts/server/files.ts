/**
 * Every file the status server reads goes through here. A path is taken to
 * its real location (all links resolved) and must be inside the reports
 * folder, whatever links a run folder holds; it must be a regular file, so a
 * FIFO or a device, which can block an open() forever, is never opened; and
 * whole-file reads are capped. Each refusal says why (UnreadableFile).
 */

import { basename, relative } from "node:path";
import { inside, realRoot, RefusedPath, UnreadableFile } from "./paths.ts";

/** A path that exists but is not a regular file (a FIFO, a socket, a device, a folder). */
export class NotRegularFile extends UnreadableFile {
  constructor(what: string, kind: string) {
    super(403, `refused: ${what} is ${kind}, not a regular file`);
    this.name = "NotRegularFile";
  }
}

/** A file past the size the server reads whole. */
export class FileTooLarge extends UnreadableFile {
  constructor(what: string, size: number, limit: number) {
    super(413, `refused: ${what} is ${size} bytes, more than the ${limit} read whole`);
    this.name = "FileTooLarge";
  }
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  return "not a file";
}

function missing(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (missing(e)) return null;
    throw e;
  }
}

/**
 * A metadata call (realpath, stat) made synchronously: on a local disk it
 * takes microseconds, where the thread-pool round trip of the async call
 * costs about fifty, and a page makes dozens of them. File contents are
 * always read asynchronously.
 */
function syncOrNull<T>(f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    if (missing(e)) return null;
    throw e;
  }
}

/** Reads under one reports folder. Paths are absolute paths under it (as the runs index builds them). */
export class ReportsFiles {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** How a path is named in messages: relative to the reports folder. */
  name(path: string): string {
    const rel = relative(this.root, path);
    return rel === "" || rel.startsWith("..") ? basename(path) : rel;
  }

  /** The reports folder's own real path, looked up at most once a second. */
  #realRoot(): string {
    const now = Date.now();
    if (this.#rootCache === null || now - this.#rootCache.at > 1000) {
      this.#rootCache = { real: realRoot(this.root), at: now };
    }
    return this.#rootCache.real;
  }
  #rootCache: { real: string; at: number } | null = null;

  /** The real path; null when it does not exist; RefusedPath when it resolves outside the folder. */
  real(path: string): string | null {
    const root = this.#realRoot();
    const real = syncOrNull(() => Deno.realPathSync(path));
    if (real === null) return null;
    if (!inside(root, real)) throw new RefusedPath(this.name(path), "links");
    return real;
  }

  /** stat() of the real path; null when missing; RefusedPath outside the folder. */
  stat(path: string): Deno.FileInfo | null {
    const real = this.real(path);
    return real === null ? null : syncOrNull(() => Deno.statSync(real));
  }

  /** The stat of a regular file; null when missing; refusals for links out and for other kinds of file. */
  file(path: string): Deno.FileInfo | null {
    const info = this.stat(path);
    if (info && !info.isFile) throw new NotRegularFile(this.name(path), kindOf(info));
    return info;
  }

  /** Like file(), but null (not an error) for whatever the server cannot read. */
  readable(path: string): Deno.FileInfo | null {
    try {
      return this.file(path);
    } catch (e) {
      if (e instanceof UnreadableFile) return null;
      throw e;
    }
  }

  /** The stat of a folder inside the reports folder; null when it is missing, refused or not a folder. */
  readableDir(path: string): Deno.FileInfo | null {
    try {
      const info = this.stat(path);
      return info?.isDirectory ? info : null;
    } catch {
      return null;
    }
  }

  /**
   * Opens a regular file for reading; null when missing. The file opened is
   * checked to be the one examined (same device and inode), so a link swapped
   * in between is caught.
   */
  async open(path: string): Promise<{ file: Deno.FsFile; info: Deno.FileInfo } | null> {
    const real = this.real(path);
    if (real === null) return null;
    const info = syncOrNull(() => Deno.statSync(real));
    if (info === null) return null;
    if (!info.isFile) throw new NotRegularFile(this.name(path), kindOf(info));
    const file = await orNull(Deno.open(real, { read: true }));
    if (file === null) return null;
    const opened = await file.stat();
    if (!opened.isFile || opened.ino !== info.ino || opened.dev !== info.dev) {
      file.close();
      throw new RefusedPath(this.name(path), "links");
    }
    return { file, info: opened };
  }

  /** A whole file, at most `limit` bytes; null when missing. */
  async bytes(path: string, limit: number): Promise<Uint8Array | null> {
    const opened = await this.open(path);
    if (opened === null) return null;
    const { file, info } = opened;
    try {
      if (info.size > limit) throw new FileTooLarge(this.name(path), info.size, limit);
      const buf = new Uint8Array(info.size);
      let got = 0;
      while (got < buf.length) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      file.close();
    }
  }

  async text(path: string, limit: number): Promise<string | null> {
    const b = await this.bytes(path, limit);
    return b === null ? null : new TextDecoder().decode(b);
  }

  /** Names of the entries of a folder inside the reports folder (none when it is missing or refused). */
  list(dir: string, keep: (e: Deno.DirEntry) => boolean): Deno.DirEntry[] {
    const out: Deno.DirEntry[] = [];
    try {
      const real = this.real(dir);
      if (real === null) return out;
      for (const e of Deno.readDirSync(real)) if (keep(e)) out.push(e);
    } catch {
      // Gone, unreadable or outside: no entries.
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
