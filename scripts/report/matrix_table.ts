/** The matrix of a run as markdown tables (report.md and the closing summary). */

import type { MatrixDeviceResult, MatrixResult } from "../../records.ts";

const byDevice = (a: MatrixDeviceResult, b: MatrixDeviceResult) =>
  a.device.localeCompare(b.device, "en", { numeric: true });

/** "0: 4, 1: 4, 2: 4 (4 errors)": a row's trials by device. */
function devicesCell(devices: MatrixDeviceResult[] | undefined): string {
  if (!devices?.length) return "-";
  return [...devices].sort(byDevice)
    .map((d) => `${d.device}: ${d.trials}${d.errors ? ` (${d.errors} error${d.errors > 1 ? "s" : ""})` : ""}`)
    .join(", ");
}

/** The results table: one row per matrix row (Test, Mode, Iterations, Errors, Status) and a Total row; a Devices column when the trials were placed. */
export function matrixTable(rows: MatrixResult[]): string {
  const placed = rows.some((r) => r.devices?.length);
  const lines = placed
    ? [
      "| Test | Mode | Iterations | Errors | Devices | Status |",
      "|------|------|------------|--------|---------|--------|",
    ]
    : ["| Test | Mode | Iterations | Errors | Status |", "|------|------|------------|--------|--------|"];
  rows.forEach((r, i) => {
    const test = String.fromCharCode(65 + (i % 26));
    const label = r.name === r.mode ? r.mode : `${r.name} (${r.mode})`;
    const devices = placed ? ` ${devicesCell(r.devices)} |` : "";
    lines.push(`| ${test} | ${label} | ${r.iterations} | ${r.errors} |${devices} ${r.status} |`);
  });
  const it = rows.reduce((s, r) => s + r.iterations, 0);
  const err = rows.reduce((s, r) => s + r.errors, 0);
  const all = placed ? ` ${devicesCell(deviceTotals(rows))} |` : "";
  // a verdict is only what was measured: no trial is no PASS
  const total = it === 0 ? "NO TRIALS" : err === 0 ? "PASS" : "FAIL";
  lines.push(`| **Total** | - | **${it}** | **${err}** |${all} **${total}** |`);
  return lines.join("\n");
}

/** Each device's trials over every row (empty when the trials were not placed). */
export function deviceTotals(rows: MatrixResult[]): MatrixDeviceResult[] {
  const out: MatrixDeviceResult[] = [];
  for (const d of rows.flatMap((r) => r.devices ?? [])) {
    const e = out.find((x) => x.device === d.device);
    if (e) {
      e.trials += d.trials;
      e.errors += d.errors;
    } else out.push({ ...d });
  }
  return out.sort(byDevice);
}

/** The matrix by device: one row per device, PASS when none of its trials failed; null under two devices. */
export function deviceTable(rows: MatrixResult[]): string | null {
  const totals = deviceTotals(rows);
  if (totals.length < 2) return null;
  return [
    "| Device | Trials | Errors | Status |",
    "|--------|--------|--------|--------|",
    ...totals.map((d) => `| ${d.device} | ${d.trials} | ${d.errors} | ${d.errors === 0 ? "PASS" : "FAIL"} |`),
  ].join("\n");
}
