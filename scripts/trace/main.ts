/**
 * deno task trace [options] [--] PROGRAM [ARGS...]
 * deno task trace --export <run folder | journal.bin> [--out FILE]
 *
 * Options come before the program; everything from the program on is its own.
 * Exits with the program's status (a signal as 128 + N; 127 / 126 when it is
 * not found / not executable, as a shell does), 2 for a bad trace option.
 */
import { intFlag, parseCliWithCommand, runCli, UsageError } from "../cli/flags.ts";
import { experimentSkeleton, ExportError, journalToExport } from "./export.ts";
import { parsePolicySpec, PolicyError, type TracePolicy } from "./policy.ts";
import { SetupError } from "./setup.ts";
import { runTrace, type TraceOptions } from "./trace.ts";

export const USAGE = `usage: deno task trace [options] [--] PROGRAM [ARGS...]
       deno task trace --export <reports/trace/RUN | journal.bin> [--out FILE] [--limit N]

Runs PROGRAM under faultline's interposer: every allocation, copy, launch, stream, event and sync
is journaled and checked by the guard rails; a sticky fault is attributed by replaying the program
with a sync after every launch. The report goes to reports/trace/<run-id>/.

options:
  --backend B       sim, cuda or hip (default: $FAULTLINE_BACKEND, else the GPU present, else sim)
  --sync SPEC       sync policy of the run: none (default), launch, kernel:<glob>, window:<a>-<b>
  --policy FILE     a policy script: exports \`policy\` (a SPEC or {sync, kernels, from, to}) and/or
                    \`onCall(call, control)\`, which may control.set(policy) as calls are followed
  --no-replay       do not replay a fault (the launch behind it is then not named)
  --capacity N      journal ring records per process (default 65536)
  --reports DIR     reports folder (default: $FAULTLINE_REPORTS or reports/)
  --run-id ID       the run's folder name
  --quiet           print nothing but errors
  --export SRC      write an experiment skeleton of a trace (its allocations and launches)
  --out FILE        where --export writes (default: stdout)
  --limit N         ops --export writes at most (default 2000)`;

const CLI = {
  name: "faultline trace",
  usage: USAGE,
  options: {
    backend: { type: "string" },
    sync: { type: "string" },
    policy: { type: "string" },
    capacity: { type: "string" },
    reports: { type: "string" },
    "run-id": { type: "string" },
    export: { type: "string" },
    out: { type: "string" },
    limit: { type: "string" },
    "no-replay": { type: "boolean" },
    quiet: { type: "boolean" },
  },
} as const;

interface Parsed {
  trace?: TraceOptions;
  export?: { source: string; out?: string; limit?: number };
}

/** The command line: the trace's options, then the program and its own arguments (a UsageError when wrong). */
export function parseCommandLine(argv: string[]): Parsed {
  const { values: v, command } = parseCliWithCommand(CLI, argv);
  const limit = intFlag(v.limit, "limit", { positive: true });
  if (v.export !== undefined) {
    if (command.length) throw new UsageError("--export takes no program");
    return { export: { source: v.export, out: v.out, limit } };
  }
  if (command.length === 0) throw new UsageError("no program given");
  let policy: TracePolicy | undefined;
  try {
    if (v.sync !== undefined) policy = parsePolicySpec(v.sync);
  } catch (e) {
    throw e instanceof PolicyError ? new UsageError(e.message) : e;
  }
  return {
    trace: {
      program: command[0],
      args: command.slice(1),
      backend: v.backend,
      policy,
      policyScript: v.policy,
      replay: !v["no-replay"],
      capacity: intFlag(v.capacity, "capacity", { positive: true }),
      reportsDir: v.reports,
      runId: v["run-id"],
      quiet: v.quiet ?? false,
    },
  };
}

async function exportSkeleton(e: NonNullable<Parsed["export"]>): Promise<number> {
  const journal = journalToExport(e.source);
  const text = experimentSkeleton(journal, { out: e.out ?? "skeleton.ts", limit: e.limit });
  if (e.out) {
    await Deno.writeTextFile(e.out, text);
    console.error(`faultline trace: wrote ${e.out}`);
  } else {
    console.log(text);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const p = parseCommandLine(argv);
  try {
    if (p.export) return await exportSkeleton(p.export);
    return (await runTrace(p.trace!)).status;
  } catch (e) {
    // a policy script or an --export source the trace cannot use is bad input (the usage follows);
    // a report folder it cannot make is not the command line's fault
    if (e instanceof PolicyError || e instanceof ExportError) throw new UsageError(e.message);
    if (e instanceof SetupError) {
      console.error(`faultline trace: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) await runCli(CLI, main);
