/**
 * Decodes a journal ring a trial left (journal.bin and its journal.bin.side), for example after the
 * trial's process died: one JSON record a line on stdout, or with --d2h the D2H audit lines; records
 * overwritten, torn or never returned are said on stderr.
 *
 *   deno run -A scripts/journal.ts reports/<experiment>/<run>/trials/001-run/journal.bin [--d2h]
 */
import { d2hAuditLines, decodeJournal, JournalFormatError } from "../mod.ts";
import { fileFlag, parseCli, runCli, UsageError } from "./cli/flags.ts";

const CLI = {
  name: "journal",
  usage: `usage: deno run -A scripts/journal.ts <journal.bin> [--d2h]
  prints the ring's records as JSON lines (the side file journal.bin.side sits next to it)
  --d2h   print the D2H audit lines instead ([D2H_AUDIT_START] / [D2H_AUDIT_END] per copy)`,
  options: { d2h: { type: "boolean" } },
  positionals: { min: 1, max: 1, name: "<journal.bin>" },
} as const;

function main(args: string[]): number {
  const { values, positionals } = parseCli(CLI, args);
  const ring = fileFlag(positionals[0], "<journal.bin>")!;
  let d;
  try {
    d = decodeJournal(ring);
  } catch (e) {
    if (e instanceof JournalFormatError) throw new UsageError(`${ring}: ${e.message}`);
    throw e;
  }
  if (values.d2h) {
    for (const line of d2hAuditLines(d.records)) console.log(line);
    return 0;
  }
  for (const r of d.records) console.log(JSON.stringify(r));
  if (d.overwritten) {
    console.error(`journal: records ${d.overwritten.firstSeq}..${d.overwritten.lastSeq} overwritten`);
  }
  if (d.torn) console.error(`journal: record ${d.torn.seq} was being written when the writer stopped`);
  for (const r of d.inFlight) console.error(`journal: op ${r.id} ${r.kind} ${r.name} never returned`);
  return 0;
}

if (import.meta.main) await runCli(CLI, main);
