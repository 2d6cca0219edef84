/**
 * Writes a run's records: verdict.json, report.md, trace.json, timeline.svg,
 * and journal.jsonl (the main trial's journal, unless it is already there).
 */

import { join } from "node:path";
import { journalText } from "../forensics/journal_read.ts";
import { buildMarkdown } from "./markdown.ts";
import { buildTimeline } from "./timeline.ts";
import { buildTrace } from "./trace.ts";
import { buildVerdict } from "./verdict.ts";
import type { RunReport } from "../../records.ts";

export interface WrittenReport {
  dir: string;
  files: string[];
}

export async function writeReport(
  dir: string,
  run: RunReport,
  opts: { journal?: boolean } = {},
): Promise<WrittenReport> {
  await Deno.mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ["verdict.json", JSON.stringify(buildVerdict(run), null, 2) + "\n"],
    ["report.md", buildMarkdown(run)],
    ["trace.json", JSON.stringify(buildTrace(run))],
    ["timeline.svg", buildTimeline(run)],
  ];
  if (opts.journal !== false) files.push(["journal.jsonl", journalText(run.records)]);
  for (const [name, text] of files) {
    const tmp = join(dir, `.${name}.tmp`);
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, join(dir, name));
  }
  return { dir, files: files.map(([n]) => join(dir, n)) };
}
