/**
 * The contract between an experiment's parent process and its trials.
 *
 * A trial is one run of an experiment in a child process:
 * `deno run -A <experiment file> --trial '<TrialSpec as JSON>'`. The child runs
 * the experiment once in the given mode, writes its records under
 * `spec.runDir`, and prints a TrialResult as the last line of its stdout. The
 * parent never loads the native library, so a sticky GPU error, a segfault or
 * a hang ends one trial and never the run.
 */

import type { TrialResult } from "../../records.ts";

/** Marker prefix of the result line, so a stray last line of output is never mistaken for one. */
export const RESULT_PREFIX = "@@faultline-trial ";

/** Formats a TrialResult as the child's last stdout line. */
export function resultLine(result: TrialResult): string {
  return RESULT_PREFIX + JSON.stringify(result);
}

/** Finds the last result line in a child's stdout. */
export function parseResult(stdout: string): TrialResult | null {
  const lines = stdout.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (!line.startsWith(RESULT_PREFIX)) continue;
    try {
      const v = JSON.parse(line.slice(RESULT_PREFIX.length));
      if (v && typeof v === "object" && typeof v.status === "string") return v as TrialResult;
    } catch {
      return null;
    }
    return null;
  }
  return null;
}
