/** The matrix of a run as a markdown table (report.md and the closing summary). */

import type { MatrixResult } from "../../records.ts";

/** The results table in the seeds' shape, with a Total row. */
export function matrixTable(rows: MatrixResult[]): string {
  const lines = [
    "| Test | Mode | Iterations | Errors | Status |",
    "|------|------|------------|--------|--------|",
  ];
  rows.forEach((r, i) => {
    const test = String.fromCharCode(65 + (i % 26));
    const label = r.name === r.mode ? r.mode : `${r.name} (${r.mode})`;
    lines.push(`| ${test} | ${label} | ${r.iterations} | ${r.errors} | ${r.status} |`);
  });
  const it = rows.reduce((s, r) => s + r.iterations, 0);
  const err = rows.reduce((s, r) => s + r.errors, 0);
  lines.push(`| **Total** | - | **${it}** | **${err}** | **${err === 0 ? "PASS" : "FAIL"}** |`);
  return lines.join("\n");
}
