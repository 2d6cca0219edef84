/**
 * deno task trace [options] [--] PROGRAM [ARGS...]
 * deno task trace --export <run folder | journal.bin> [--out FILE]
 *
 * Options come before the program; everything from the program on is its own.
 * Exits with the program's status (a signal as 128 + N; 127 / 126 when it is
 * not found / not executable, as a shell does), 2 for a bad trace option.
 */
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

class UsageError extends Error {}

interface Parsed {
  trace?: TraceOptions;
  export?: { source: string; out?: string; limit?: number };
  help?: boolean;
}

const VALUE_OPTIONS = new Set([
  "--backend",
  "--sync",
  "--policy",
  "--capacity",
  "--reports",
  "--run-id",
  "--export",
  "--out",
  "--limit",
]);

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got ${v}`);
  return n;
}

export function parseCommandLine(argv: string[]): Parsed {
  const opts = new Map<string, string>();
  const flags = new Set<string>();
  let k = 0;
  for (; k < argv.length; k++) {
    const a = argv[k];
    if (a === "--") {
      k++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    if (a === "-h" || a === "--help") return { help: true };
    if (VALUE_OPTIONS.has(a)) {
      if (k + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      opts.set(a, argv[++k]);
    } else if (a === "--no-replay" || a === "--quiet") flags.add(a);
    else throw new UsageError(`unknown option ${a}`);
  }
  const limit = opts.has("--limit") ? positiveInt("--limit", opts.get("--limit")!) : undefined;
  if (opts.has("--export")) {
    if (k < argv.length) throw new UsageError("--export takes no program");
    return { export: { source: opts.get("--export")!, out: opts.get("--out"), limit } };
  }
  if (k >= argv.length) throw new UsageError("no program given");
  let policy: TracePolicy | undefined;
  if (opts.has("--sync")) policy = parsePolicySpec(opts.get("--sync")!);
  return {
    trace: {
      program: argv[k],
      args: argv.slice(k + 1),
      backend: opts.get("--backend"),
      policy,
      policyScript: opts.get("--policy"),
      replay: !flags.has("--no-replay"),
      capacity: opts.has("--capacity") ? positiveInt("--capacity", opts.get("--capacity")!) : undefined,
      reportsDir: opts.get("--reports"),
      runId: opts.get("--run-id"),
      quiet: flags.has("--quiet"),
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
  try {
    const p = parseCommandLine(argv);
    if (p.help) {
      console.log(USAGE);
      return 0;
    }
    if (p.export) return await exportSkeleton(p.export);
    return (await runTrace(p.trace!)).status;
  } catch (e) {
    if (e instanceof UsageError || e instanceof PolicyError) {
      console.error(`faultline trace: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof SetupError || e instanceof ExportError) {
      console.error(`faultline trace: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
