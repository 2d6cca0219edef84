/**
 * The journal mapping exports for the forensics tests: from the built
 * libfaultline.so when it has them, otherwise from hip/host/journal_map.c
 * compiled on the spot into a small library of its own.
 */
import { type JournalMapSymbols, journalMapSymbols } from "../../ffi/journal_native.ts";

const root = decodeURIComponent(new URL("../../", import.meta.url).pathname);

function tryOpen(path: string): JournalMapSymbols | null {
  try {
    Deno.statSync(path);
    return Deno.dlopen(path, journalMapSymbols).symbols as unknown as JournalMapSymbols;
  } catch {
    return null;
  }
}

let cached: JournalMapSymbols | null = null;

/** Path of a library exporting fl_journal_map / fl_journal_unmap (compiling one if needed). */
export function journalLibPath(): string {
  for (const p of [Deno.env.get("FAULTLINE_LIB"), `${root}build/sim/libfaultline.so`]) {
    if (p && tryOpen(p)) return p;
  }
  const src = `${root}hip/host/journal_map.c`;
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/faultline-journal-${Deno.uid() ?? 0}`;
  Deno.mkdirSync(dir, { recursive: true });
  const out = `${dir}/libjournal_map.so`;
  let stale = true;
  try {
    stale = Deno.statSync(out).mtime! < Deno.statSync(src).mtime!;
  } catch { /* not built yet */ }
  if (stale) {
    const tmp = `${out}.${Deno.pid}`;
    const r = new Deno.Command("cc", {
      args: ["-std=c11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-o", tmp, src],
      stderr: "piped",
    }).outputSync();
    if (!r.success) throw new Error(`cc failed: ${new TextDecoder().decode(r.stderr)}`);
    Deno.renameSync(tmp, out);
  }
  return out;
}

/** The journal mapping symbols (one dlopen per process). */
export function journalLib(): JournalMapSymbols {
  if (cached === null) {
    const p = journalLibPath();
    cached = tryOpen(p);
    if (cached === null) throw new Error(`cannot open ${p}`);
  }
  return cached;
}
