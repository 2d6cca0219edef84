/**
 * Host backtraces in words: each frame the interposer noted (object, offset,
 * address, dynamic symbol) turned into "function at file:line" by addr2line
 * where the object has debug information, else "symbol+0x.. in object".
 * Without addr2line the frames stay as the interposer wrote them.
 */
import type { Frame } from "./journals.ts";

/** ET_EXEC objects are not relocated: addr2line wants their absolute addresses. */
function isFixedAddress(obj: string): boolean {
  try {
    const f = Deno.openSync(obj, { read: true });
    try {
      const head = new Uint8Array(18);
      if (f.readSync(head) !== 18) return false;
      return head[16] === 2; // e_type ET_EXEC (little-endian)
    } finally {
      f.close();
    }
  } catch {
    return false;
  }
}

function addr2line(obj: string, addrs: string[]): string[] | null {
  try {
    const r = new Deno.Command("addr2line", {
      args: ["-f", "-C", "-e", obj, ...addrs],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    if (!r.success) return null;
    const lines = new TextDecoder().decode(r.stdout).split("\n");
    const out: string[] = [];
    for (let k = 0; k < addrs.length; k++) {
      const fn = lines[2 * k] ?? "??", at = lines[2 * k + 1] ?? "??:0";
      out.push(
        at.startsWith("??")
          ? (fn === "??" ? "" : fn)
          : `${fn} at ${at.replace(/ \(discriminator \d+\)$/, "")}`,
      );
    }
    return out;
  } catch {
    return null;
  }
}

const base = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** One line per frame. */
export function symbolize(frames: readonly Frame[]): string[] {
  const byObj = new Map<string, number[]>();
  frames.forEach((f, k) => byObj.set(f.obj, [...(byObj.get(f.obj) ?? []), k]));
  const lines = frames.map((f) => `${f.sym ? `${f.sym} ` : ""}${base(f.obj)}+${f.off}`);
  for (const [obj, ks] of byObj) {
    const fixed = isFixedAddress(obj);
    const named = addr2line(obj, ks.map((k) => (fixed ? frames[k].pc : frames[k].off)));
    if (!named) continue;
    ks.forEach((k, j) => {
      if (named[j]) lines[k] = `${named[j]} (${base(obj)})`;
    });
  }
  return lines;
}

const demangled = new Map<string, string>();

/** A C++ kernel name as the source spells it (c++filt), else as it was. */
export function demangle(name: string): string {
  if (!name.startsWith("_Z")) return name;
  let d = demangled.get(name);
  if (d === undefined) {
    d = name;
    try {
      const r = new Deno.Command("c++filt", { args: [name], stdout: "piped", stderr: "null" }).outputSync();
      if (r.success) d = new TextDecoder().decode(r.stdout).trim() || name;
    } catch { /* no c++filt: the mangled name */ }
    demangled.set(name, d);
  }
  return d;
}
