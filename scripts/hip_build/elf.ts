/** Reads one named section of an ELF64 little-endian file (an object, a shared library). */

/** The bytes of section `name` in `elf`, or null when it has none. Throws when `elf` is not ELF64 LE. */
export function elfSection(elf: Uint8Array, name: string): Uint8Array | null {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.length < 64 || v.getUint32(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error("not a 64-bit little-endian ELF file");
  }
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  if (shoff + shnum * shentsize > elf.length || shstrndx >= shnum) throw new Error("truncated ELF file");
  const header = (i: number) => {
    const h = shoff + i * shentsize;
    return {
      name: v.getUint32(h, true),
      type: v.getUint32(h + 4, true),
      offset: Number(v.getBigUint64(h + 0x18, true)),
      size: Number(v.getBigUint64(h + 0x20, true)),
    };
  };
  const strtab = header(shstrndx);
  const want = new TextEncoder().encode(name + "\0");
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const at = strtab.offset + h.name;
    if (want.every((b, j) => elf[at + j] === b)) {
      const SHT_NOBITS = 8;
      if (h.type === SHT_NOBITS) return new Uint8Array(0);
      if (h.offset + h.size > elf.length) throw new Error(`ELF section ${name} runs past the file`);
      return elf.subarray(h.offset, h.offset + h.size);
    }
  }
  return null;
}
