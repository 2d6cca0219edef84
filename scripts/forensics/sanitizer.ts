/**
 * compute-sanitizer (NVIDIA): run a trial under memcheck and fold its first
 * error (kernel, access, address, nearest allocation) into the report.
 */

import type { OpRecord, RootCause, SanitizerError } from "../../records.ts";

const num = (s: string) => Number(s.replaceAll(",", ""));

/** Parses compute-sanitizer output; the first error, or null when it reported none. */
export function parseSanitizer(text: string): SanitizerError | null {
  const lines = text.split("\n").map((l) => l.replace(/^=+\s?/, "").trimEnd());
  const summary = /ERROR SUMMARY: ([\d,]+) error/.exec(text);
  const errors = summary ? num(summary[1]) : null;
  let start = lines.findIndex((l) => /Invalid .*(read|write) of size/.test(l));
  if (start < 0) start = lines.findIndex((l) => /^\s*Program hit /.test(l));
  if (start < 0) return null;
  const raw: string[] = [lines[start].trim()];
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i];
    if (!/^\s{2,}/.test(l) || /Saved host backtrace/.test(l)) break;
    raw.push(l.trim());
  }
  const body = raw.join("\n");
  const head = /Invalid (?:__\w+__ )?(read|write) of size (\d+) bytes?/.exec(raw[0]);
  const kernel = /^at (.+?)(?:\+0x[0-9a-f]+)?(?: in .*)?$/m.exec(body);
  const thr = /by thread (\([^)]*\)) in block (\([^)]*\))/.exec(body);
  const addr = /Address (0x[0-9a-fA-F]+)(?: is ([^\n]+?))?\s*$/m.exec(body);
  const near =
    /and is ([\d,]+) bytes (before|after) the nearest allocation at (0x[0-9a-fA-F]+) of size ([\d,]+) bytes/
      .exec(body);
  let kname = kernel ? kernel[1].trim() : null;
  if (kname) kname = kname.replace(/\(.*\)$/, "").replace(/^void /, "");
  return {
    headline: raw[0],
    access: head ? (head[1] as "read" | "write") : null,
    size: head ? Number(head[2]) : null,
    kernel: kname,
    thread: thr ? thr[1] : null,
    block: thr ? thr[2] : null,
    address: addr ? Number(BigInt(addr[1])) : null,
    problem: addr && addr[2] ? addr[2].trim() : null,
    nearest: near
      ? {
        distance: num(near[1]),
        side: near[2] as "before" | "after",
        address: Number(BigInt(near[3])),
        size: num(near[4]),
      }
      : null,
    errors,
    raw,
  };
}

/** Resolves the sanitizer's address against the pointers the journal saw. */
export function foldSanitizer(err: SanitizerError, records: OpRecord[]): SanitizerError {
  const target = err.nearest?.address ?? err.address;
  if (target === null || target === undefined) return err;
  for (const r of records) {
    // an allocation's own record: its address is the call's result
    const result = r.extra?.result;
    if (r.kind === "alloc" && typeof result === "number") {
      const base = result + (r.scalars.redzone ?? 0);
      const size = r.scalars.bytes ?? 0;
      if (target >= base && target < base + Math.max(size, 1)) {
        return {
          ...err,
          allocation: {
            id: r.id,
            name: r.name,
            offset: err.address !== null ? err.address - base : undefined,
          },
        };
      }
    }
    for (const p of r.pointers) {
      if (p.ptr === undefined || p.offset === undefined) continue;
      const base = p.ptr - p.offset;
      const size = p.size ?? p.bytes ?? 0;
      if (target >= base && target < base + Math.max(size, 1)) {
        return {
          ...err,
          allocation: {
            id: p.alloc ?? undefined,
            name: p.name,
            offset: err.address !== null ? err.address - base : undefined,
          },
        };
      }
    }
  }
  return { ...err, allocation: null };
}

/** One line for reports. */
export function describeSanitizer(err: SanitizerError): string {
  const parts = [err.headline];
  if (err.kernel) parts.push(`in ${err.kernel}`);
  if (err.address !== null) {
    parts.push(`at 0x${err.address.toString(16)}${err.problem ? ` (${err.problem})` : ""}`);
  }
  if (err.nearest) {
    parts.push(
      `${err.nearest.distance} bytes ${err.nearest.side} the nearest allocation` +
        (err.allocation?.name ? ` ${err.allocation.name}` : "") +
        ` (0x${err.nearest.address.toString(16)}, ${err.nearest.size} bytes)`,
    );
  }
  return parts.join(", ");
}

/**
 * The command prefix that runs a trial under memcheck, writing its report to `logFile`; null when
 * compute-sanitizer is not installed. $FAULTLINE_SANITIZER names the tool (or a memcheck-compatible
 * wrapper) to use instead of the one on PATH.
 */
export async function sanitizerWrap(logFile: string, tool = "memcheck"): Promise<string[] | null> {
  const args = ["--tool", tool, "--print-limit", "1", "--show-backtrace", "no", "--log-file", logFile];
  const own = Deno.env.get("FAULTLINE_SANITIZER");
  if (own) return [own, ...args];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/local/cuda/bin"])) {
    if (!dir) continue;
    const p = `${dir}/compute-sanitizer`;
    try {
      if ((await Deno.stat(p)).isFile) return [p, ...args];
    } catch {
      // not here
    }
  }
  return null;
}

/** Whether compute-sanitizer and faultline name the same kernel and allocation (null: not comparable). */
export interface SanitizerAgreement {
  kernel: boolean | null;
  allocation: boolean | null;
  /** Every comparable part agrees (null: nothing to compare). */
  agrees: boolean | null;
}

/** A device function's base name: no return type, parameters, template arguments or _kernel suffix. */
function kernelBase(name: string): string {
  return name.replace(/^void\s+/, "").replace(/\(.*$/, "").replace(/<.*$/, "").replace(/_kernel$/, "");
}

/** Compares memcheck's first error with faultline's root cause: the kernel, and the allocation it hit. */
export function compareSanitizer(err: SanitizerError, rc: RootCause | null): SanitizerAgreement {
  let kernel: boolean | null = null;
  if (err.kernel && rc && rc.kind === "launch") {
    const s = kernelBase(err.kernel), f = rc.kernel;
    kernel = s === f || f.startsWith(s) || s.startsWith(f);
  }
  const ours = rc?.args.find((a) => a.arg === rc.argument)?.name ?? null;
  const theirs = err.allocation?.name ?? null;
  const allocation = ours !== null && theirs !== null ? ours === theirs : null;
  const parts = [kernel, allocation].filter((x): x is boolean => x !== null);
  return { kernel, allocation, agrees: parts.length ? parts.every(Boolean) : null };
}
