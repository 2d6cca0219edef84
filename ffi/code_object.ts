/**
 * What a GPU code object says about its kernels, read without a GPU:
 * ELF function symbols (a .cubin's or a .hsaco's kernels, mangled or not),
 * clang offload bundles (hipcc --genco output: one code object per target),
 * and the AMDGPU kernel metadata (each argument's offset, size and kind).
 * Every reader checks bounds and throws CodeObjectError on a malformed file.
 */

export class CodeObjectError extends Error {
  override name = "CodeObjectError";
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const BUNDLE_MAGIC = "__CLANG_OFFLOAD_BUNDLE__";

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 64 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

export function isOffloadBundle(bytes: Uint8Array): boolean {
  return bytes.length >= 32 && new TextDecoder().decode(bytes.subarray(0, 24)) === BUNDLE_MAGIC;
}

interface Section {
  /** Offset of the name in the section-name string table. */
  name: number;
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(v: DataView, at: number): number {
  if (at + 8 > v.byteLength) throw new CodeObjectError(`truncated at byte ${at}`);
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodeObjectError(`value at byte ${at} is out of range`);
  return Number(n);
}

/** The sections of a 64-bit little-endian ELF file. */
function sections(bytes: Uint8Array): Section[] {
  if (!isElf(bytes) || bytes[4] !== 2 || bytes[5] !== 1) {
    throw new CodeObjectError("not a 64-bit little-endian ELF file");
  }
  const v = view(bytes);
  const shoff = u64(v, 0x28), shentsize = v.getUint16(0x3a, true), shnum = v.getUint16(0x3c, true);
  if (shentsize < 64 || shoff + shnum * shentsize > bytes.length) {
    throw new CodeObjectError("bad section table");
  }
  const out: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    const s = {
      name: v.getUint32(at, true),
      type: v.getUint32(at + 4, true),
      offset: u64(v, at + 0x18),
      size: u64(v, at + 0x20),
      link: v.getUint32(at + 0x28, true),
      entsize: u64(v, at + 0x38),
    };
    if (s.type !== 8 /* NOBITS */ && s.offset + s.size > bytes.length) {
      throw new CodeObjectError(`section ${i} runs past the end of the file`);
    }
    out.push(s);
  }
  return out;
}

function cString(bytes: Uint8Array, at: number, end: number): string {
  let e = at;
  while (e < end && bytes[e] !== 0) e++;
  return new TextDecoder().decode(bytes.subarray(at, e));
}

/** The bytes of ELF section `name` (".hip_fatbin"), or null when the file has none. */
export function elfSection(bytes: Uint8Array, name: string): Uint8Array | null {
  const secs = sections(bytes);
  const names = secs[view(bytes).getUint16(0x3e, true)]; // e_shstrndx
  if (!names) throw new CodeObjectError("no section-name string table");
  const s = secs.find((s) => cString(bytes, names.offset + s.name, names.offset + names.size) === name);
  if (!s) return null;
  return s.type === 8 /* NOBITS */ ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size);
}

/** The names of the function symbols (STT_FUNC) of an ELF code object. */
export function elfFunctionSymbols(bytes: Uint8Array): string[] {
  const secs = sections(bytes);
  const v = view(bytes);
  const names: string[] = [];
  for (const s of secs) {
    if ((s.type !== 2 && s.type !== 11) || s.entsize < 24) continue; // SYMTAB, DYNSYM
    const strtab = secs[s.link];
    if (!strtab) throw new CodeObjectError("symbol table without a string table");
    for (let at = s.offset; at + 24 <= s.offset + s.size; at += s.entsize) {
      const type = bytes[at + 4] & 0xf;
      if (type !== 2) continue; // STT_FUNC
      const name = cString(bytes, strtab.offset + v.getUint32(at, true), strtab.offset + strtab.size);
      if (name) names.push(name);
    }
  }
  return names;
}

/**
 * The symbol of kernel `name` in `symbols`: the name itself (extern "C"), or
 * the C++ mangling of a free function of that name (`_Z<length><name>...`).
 */
export function kernelSymbol(symbols: readonly string[], name: string): string | null {
  if (symbols.includes(name)) return name;
  const prefix = `_Z${name.length}${name}`;
  const mangled = symbols.filter((s) => s.startsWith(prefix));
  return mangled.length === 1 ? mangled[0] : null;
}

/** The code objects of a clang offload bundle, by target triple ("hipv4-amdgcn-amd-amdhsa--gfx90a"). */
export function offloadBundleEntries(bytes: Uint8Array): { triple: string; image: Uint8Array }[] {
  if (!isOffloadBundle(bytes)) throw new CodeObjectError("not a clang offload bundle");
  const v = view(bytes);
  const n = u64(v, 24);
  if (n > 4096) throw new CodeObjectError(`offload bundle claims ${n} entries`);
  const out: { triple: string; image: Uint8Array }[] = [];
  let at = 32;
  for (let i = 0; i < n; i++) {
    const offset = u64(v, at), size = u64(v, at + 8), tlen = u64(v, at + 16);
    if (at + 24 + tlen > bytes.length || offset + size > bytes.length) {
      throw new CodeObjectError(`offload bundle entry ${i} runs past the end of the file`);
    }
    const triple = new TextDecoder().decode(bytes.subarray(at + 24, at + 24 + tlen));
    out.push({ triple, image: bytes.subarray(offset, offset + size) });
    at += 24 + tlen;
  }
  return out;
}

/** One kernel argument as AMDGPU code-object metadata describes it. */
export interface AmdgpuArg {
  offset: number;
  size: number;
  /** "global_buffer" for a pointer, "by_value", or a hidden argument's kind ("hidden_..."). */
  valueKind: string;
}

/** Each kernel's arguments from an AMDGPU code object's NT_AMDGPU_METADATA note (code object v3+). */
export function amdgpuKernelArgs(bytes: Uint8Array): Map<string, AmdgpuArg[]> {
  const v = view(bytes);
  for (const s of sections(bytes)) {
    if (s.type !== 7) continue; // NOTE
    for (let at = s.offset; at + 12 <= s.offset + s.size;) {
      const nameSize = v.getUint32(at, true),
        descSize = v.getUint32(at + 4, true),
        type = v.getUint32(at + 8, true);
      const nameAt = at + 12, descAt = nameAt + align4(nameSize);
      if (descAt + descSize > s.offset + s.size) throw new CodeObjectError("truncated note");
      const owner = cString(bytes, nameAt, nameAt + nameSize);
      if (owner === "AMDGPU" && type === 32) {
        return kernelsOf(decodeMsgpack(bytes.subarray(descAt, descAt + descSize)));
      }
      at = descAt + align4(descSize);
    }
  }
  throw new CodeObjectError("no AMDGPU metadata note");
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function kernelsOf(meta: unknown): Map<string, AmdgpuArg[]> {
  const kernels = (meta as Record<string, unknown>)?.["amdhsa.kernels"];
  if (!Array.isArray(kernels)) throw new CodeObjectError("AMDGPU metadata has no amdhsa.kernels");
  const out = new Map<string, AmdgpuArg[]>();
  for (const k of kernels as Record<string, unknown>[]) {
    const args = Array.isArray(k[".args"]) ? k[".args"] as Record<string, unknown>[] : [];
    out.set(
      String(k[".name"]),
      args.map((a) => ({
        offset: Number(a[".offset"]),
        size: Number(a[".size"]),
        valueKind: String(a[".value_kind"]),
      })),
    );
  }
  return out;
}

/** A MessagePack decoder for the subset AMDGPU metadata uses (maps, arrays, strings, integers, booleans). */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  const v = view(bytes);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new CodeObjectError("truncated MessagePack data");
  };
  const str = (n: number) => {
    need(n);
    const s = new TextDecoder().decode(bytes.subarray(at, at + n));
    at += n;
    return s;
  };
  const read = (depth: number): unknown => {
    if (depth > 32) throw new CodeObjectError("MessagePack data nested too deep");
    need(1);
    const b = bytes[at++];
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 256;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return array(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    const fixed: Record<number, () => unknown> = {
      0xc0: () => null,
      0xc2: () => false,
      0xc3: () => true,
      0xcc: () => (need(1), bytes[at++]),
      0xcd: () => (need(2), at += 2, v.getUint16(at - 2)),
      0xce: () => (need(4), at += 4, v.getUint32(at - 4)),
      0xcf: () => (need(8), at += 8, Number(v.getBigUint64(at - 8))),
      0xd0: () => (need(1), at += 1, v.getInt8(at - 1)),
      0xd1: () => (need(2), at += 2, v.getInt16(at - 2)),
      0xd2: () => (need(4), at += 4, v.getInt32(at - 4)),
      0xd3: () => (need(8), at += 8, Number(v.getBigInt64(at - 8))),
      0xd9: () => (need(1), str(bytes[at++])),
      0xda: () => (need(2), at += 2, str(v.getUint16(at - 2))),
      0xdb: () => (need(4), at += 4, str(v.getUint32(at - 4))),
      0xdc: () => (need(2), at += 2, array(v.getUint16(at - 2), depth)),
      0xdd: () => (need(4), at += 4, array(v.getUint32(at - 4), depth)),
      0xde: () => (need(2), at += 2, map(v.getUint16(at - 2), depth)),
      0xdf: () => (need(4), at += 4, map(v.getUint32(at - 4), depth)),
    };
    const f = fixed[b];
    if (!f) throw new CodeObjectError(`unsupported MessagePack type 0x${b.toString(16)}`);
    return f();
  };
  const array = (n: number, depth: number) => {
    if (n > bytes.length - at) throw new CodeObjectError("MessagePack array longer than its data");
    return Array.from({ length: n }, () => read(depth + 1));
  };
  const map = (n: number, depth: number) => {
    if (n > bytes.length - at) throw new CodeObjectError("MessagePack map longer than its data");
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) o[String(read(depth + 1))] = read(depth + 1);
    return o;
  };
  return read(0);
}
