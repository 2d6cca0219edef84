/**
 * What a traced run left, per process: its journal ring decoded
 * (ffi/journal.ts), the records as the forensics reads them, and the notes
 * the interposer adds to the side file besides strings and allocations:
 *
 *   {"proc": {pid, ppid, exe, argv}}            who wrote the journal
 *   {"device": {ordinal, name}}                 the device of its first journaled call
 *   {"kernel": name, "handle", "params": [[offset, size], ...] | null}
 *   {"unhooked": name, version, flags, found}   a cuGetProcAddress answer passed through
 *   {"gpa": name, variant, ...}                 one identified by version and flags
 *   {"graph": handle, "ops": [...]}             launches captured into a graph
 *   {"exec": handle, "graph": handle}           its instantiation
 *   {"bt": op, "frames": [{obj, off, pc, sym}]} the host backtrace of a launch whose sync failed
 */
import { type DecodedJournal, decodeJournal, journalJsonl } from "../../ffi/journal.ts";
import { parseJournalText } from "../forensics/journal_read.ts";
import type { Finding, OpRecord } from "../../records.ts";

export interface Frame {
  obj: string;
  off: string;
  pc: string;
  sym: string;
}

export interface KernelLayout {
  name: string;
  /** [offset, size] per parameter; null when the driver could not tell. */
  params: [number, number][] | null;
}

export interface SideNotes {
  proc: { pid: number; ppid: number; exe: string; argv: string[] } | null;
  device: { ordinal: number; name: string } | null;
  kernels: KernelLayout[];
  unhooked: { name: string; version: number; flags: number; found: boolean }[];
  identified: { name: string; variant: string; version: number }[];
  /** graph handle -> the launch ops captured into it */
  graphs: Map<number, number[]>;
  /** graph exec handle -> graph handle */
  execs: Map<number, number>;
  /** launch op -> its backtrace */
  backtraces: Map<number, Frame[]>;
}

export interface ProcessJournal {
  path: string;
  pid: number;
  decoded: DecodedJournal;
  records: OpRecord[];
  notes: SideNotes;
  /** The rails' findings, from following the journal while the program ran. */
  findings: Finding[];
  /** Records the follower lost to the ring wrapping past it. */
  lost: number;
}

function emptyNotes(): SideNotes {
  return {
    proc: null,
    device: null,
    kernels: [],
    unhooked: [],
    identified: [],
    graphs: new Map(),
    execs: new Map(),
    backtraces: new Map(),
  };
}

/** Reads the interposer's notes from a side file (lines cut short by a dying process are skipped). */
export function readSideNotes(sidePath: string): SideNotes {
  const n = emptyNotes();
  let text = "";
  try {
    text = Deno.readTextFileSync(sidePath);
  } catch {
    return n;
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith('{"s":') || line.startsWith('{"a":') || line.startsWith('{"f":')) {
      continue;
    }
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    note(n, e);
  }
  return n;
}

function note(n: SideNotes, e: Record<string, unknown>): void {
  if (e.proc && typeof e.proc === "object") n.proc = e.proc as SideNotes["proc"];
  else if (e.device && typeof e.device === "object") n.device = e.device as SideNotes["device"];
  else if (typeof e.kernel === "string") {
    n.kernels.push({
      name: e.kernel,
      params: Array.isArray(e.params) ? e.params as [number, number][] : null,
    });
  } else if (typeof e.unhooked === "string") {
    n.unhooked.push({
      name: e.unhooked,
      version: Number(e.version),
      flags: Number(e.flags),
      found: e.found === true,
    });
  } else if (typeof e.gpa === "string") {
    n.identified.push({ name: e.gpa, variant: String(e.variant), version: Number(e.version) });
  } else if (typeof e.graph === "number" && Array.isArray(e.ops)) n.graphs.set(e.graph, e.ops as number[]);
  else if (typeof e.exec === "number" && typeof e.graph === "number") n.execs.set(e.exec, e.graph);
  else if (typeof e.bt === "number" && Array.isArray(e.frames)) n.backtraces.set(e.bt, e.frames as Frame[]);
}

/** Decodes one process's journal (files only). */
export function readProcessJournal(path: string, findings: Finding[] = [], lost = 0): ProcessJournal {
  const decoded = decodeJournal(path);
  const records = parseJournalText(journalJsonl(decoded.records));
  return { path, pid: decoded.pid, decoded, records, notes: readSideNotes(`${path}.side`), findings, lost };
}

/** The launches captured into the graph a cuGraphLaunch record replays (its scalar `graph`). */
export function capturedBy(p: ProcessJournal, launch: OpRecord): number[] {
  const exec = launch.scalars.graph;
  if (exec === undefined) return [];
  const graph = p.notes.execs.get(exec);
  return graph === undefined ? [] : p.notes.graphs.get(graph) ?? [];
}

/** The first record with an error status (the fault, where it surfaced), if any. */
export function firstFailure(p: ProcessJournal): OpRecord | null {
  return p.records.find((r) => r.status !== null && r.status !== 0) ?? null;
}
