/**
 * Clang's offload bundle, the container HIP fat binaries use
 * (clang/docs/ClangOffloadBundler.rst, uncompressed format; one bundle is
 * parsed by ffi/code_object.ts, this file finds, writes and names them):
 *
 *   "__CLANG_OFFLOAD_BUNDLE__"  u64 count
 *   count × { u64 offset, u64 size, u64 id length, id }   then the entries' bytes
 *
 * Offsets count from the magic. An id is "host-x86_64-unknown-linux" or
 * "hipv4-amdgcn-amd-amdhsa--gfx942" (kind, triple, target id).
 */

import { isOffloadBundle, offloadBundleEntries } from "../../ffi/code_object.ts";

export const BUNDLE_MAGIC = "__CLANG_OFFLOAD_BUNDLE__";
/** What `hipcc --offload-compress` writes instead. */
const COMPRESSED_MAGIC = "CCOB";
/** HIP aligns each code object in a bundle to a page (clang -bundle-align=4096). */
export const HIP_BUNDLE_ALIGN = 4096;

export interface BundleEntry {
  id: string;
  bytes: Uint8Array;
}

export interface Bundle {
  entries: BundleEntry[];
  /** Bytes from the magic to the end of the last entry. */
  length: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The bundle that starts at `at` in `data`. Throws on a truncated or compressed one. */
export function readBundle(data: Uint8Array, at = 0): Bundle {
  const bytes = data.subarray(at);
  if (dec.decode(bytes.subarray(0, 4)) === COMPRESSED_MAGIC) {
    throw new Error("compressed offload bundle (built with --offload-compress): not supported");
  }
  if (!isOffloadBundle(bytes)) throw new Error(`no offload bundle at byte ${at}`);
  const entries = offloadBundleEntries(bytes).map((e) => ({ id: e.triple, bytes: e.image }));
  const ends = entries.map((e) => e.bytes.byteOffset - bytes.byteOffset + e.bytes.length);
  return { entries, length: Math.max(32, ...ends) };
}

/** Every bundle in `data` (a .hip_fatbin section: one bundle per object file linked in). */
export function readBundles(data: Uint8Array): Bundle[] {
  const magic = enc.encode(BUNDLE_MAGIC);
  const bundles: Bundle[] = [];
  for (let at = indexOf(data, magic, 0); at >= 0;) {
    const b = readBundle(data, at);
    bundles.push(b);
    at = indexOf(data, magic, at + b.length);
  }
  return bundles;
}

function indexOf(data: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = data.indexOf(needle[0], from); i >= 0; i = data.indexOf(needle[0], i + 1)) {
    for (let j = 1; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A bundle of `entries`, each entry's bytes aligned to `align` from the start. */
export function writeBundle(entries: BundleEntry[], align = HIP_BUNDLE_ALIGN): Uint8Array {
  const ids = entries.map((e) => enc.encode(e.id));
  let size = 32 + ids.reduce((n, id) => n + 24 + id.length, 0);
  const offsets = entries.map((e) => {
    const offset = Math.ceil(size / align) * align;
    size = offset + e.bytes.length;
    return offset;
  });
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(enc.encode(BUNDLE_MAGIC), 0);
  view.setBigUint64(24, BigInt(entries.length), true);
  let p = 32;
  entries.forEach((e, i) => {
    view.setBigUint64(p, BigInt(offsets[i]), true);
    view.setBigUint64(p + 8, BigInt(e.bytes.length), true);
    view.setBigUint64(p + 16, BigInt(ids[i].length), true);
    out.set(ids[i], p + 24);
    p += 24 + ids[i].length;
    out.set(e.bytes, offsets[i]);
  });
  return out;
}

/** The AMD target id of a code object entry ("gfx942", "gfx90a:xnack+"), or null for the host entry. */
export function entryTarget(id: string): string | null {
  const m = /^hip(?:v4)?-amdgcn-amd-amdhsa-+(.+)$/.exec(id);
  return m ? m[1] : null;
}

/** The entry id of a code object for `target` ("hipv4-amdgcn-amd-amdhsa--gfx942"). */
export function entryId(target: string): string {
  return `hipv4-amdgcn-amd-amdhsa--${target}`;
}
