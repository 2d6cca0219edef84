/**
 * The matrix runner: modes × iterations, one trial per iteration, with a
 * progress bar on stderr and a results table in the seeds' shape
 * (scripts/report/matrix_table.ts renders it).
 */

import type { MatrixResult, MatrixRow, TrialOutcome, TrialStatus } from "../../records.ts";

/** The seeds' B3.63 matrix: baseline 50, audit 50, stress 100. */
export const SEED_MATRIX: MatrixRow[] = [
  { name: "baseline", mode: "off", iterations: 50 },
  { name: "audit", mode: "audit", iterations: 50 },
  { name: "stress", mode: "audit", iterations: 100, params: { stress: true } },
];

/** Statuses that count as an error in the matrix (a guard block counts too: the run did not complete clean). */
export function isError(status: TrialStatus): boolean {
  return status !== "OK";
}

export interface MatrixOptions {
  /** Trials run at once (default 1). */
  concurrency?: number;
  /** Progress output: a function, false for none; default a bar on stderr. */
  progress?: ((p: MatrixProgress) => void) | false;
  /** Stop a row after this many errors (default: run every iteration). */
  maxErrorsPerRow?: number;
}

export interface MatrixProgress {
  done: number;
  total: number;
  row: string;
  errors: number;
  last?: TrialOutcome;
}

/**
 * Runs every row. `runOne(row, iteration)` runs one trial (normally
 * runTrial on the experiment file) and returns its outcome.
 */
export async function runMatrix(
  rows: MatrixRow[],
  runOne: (row: MatrixRow, iteration: number) => Promise<TrialOutcome>,
  opts: MatrixOptions = {},
): Promise<{ rows: MatrixResult[]; outcomes: TrialOutcome[] }> {
  const total = rows.reduce((s, r) => s + r.iterations, 0);
  const progress = opts.progress === false ? undefined : (opts.progress ?? progressBar(total));
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const results: MatrixResult[] = [];
  const all: TrialOutcome[] = [];
  let done = 0;
  for (const row of rows) {
    const name = row.name ?? row.mode;
    const res: MatrixResult = {
      name,
      mode: row.mode,
      iterations: 0,
      errors: 0,
      status: "PASS",
      outcomes: {},
      wallMs: 0,
    };
    const t0 = performance.now();
    let next = 0;
    let stop = false;
    const worker = async () => {
      while (!stop && next < row.iterations) {
        const i = next++;
        const o = await runOne(row, i);
        all.push(o);
        res.iterations++;
        res.outcomes[o.status] = (res.outcomes[o.status] ?? 0) + 1;
        if (isError(o.status)) {
          res.errors++;
          if (!res.firstError || i < res.firstError.iteration) {
            res.firstError = {
              iteration: i,
              status: o.status,
              detail: o.result?.error?.message ?? o.signal ?? (o.timedOut ? "time limit" : o.status),
            };
          }
          if (opts.maxErrorsPerRow !== undefined && res.errors >= opts.maxErrorsPerRow) stop = true;
        }
        done++;
        progress?.({ done, total, row: name, errors: res.errors, last: o });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, row.iterations) }, worker));
    res.wallMs = performance.now() - t0;
    res.status = res.errors === 0 ? "PASS" : "FAIL";
    results.push(res);
  }
  progress?.({ done: total, total, row: "", errors: results.reduce((s, r) => s + r.errors, 0) });
  return { rows: results, outcomes: all };
}

/** A one-line progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise). */
export function progressBar(total: number, width = 30): (p: MatrixProgress) => void {
  const enc = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  let lastDecile = -1;
  let finished = false;
  return (p) => {
    if (finished || Deno.env.get("FAULTLINE_QUIET")) return;
    const frac = total === 0 ? 1 : p.done / total;
    const fill = Math.round(frac * width);
    const bar = `[${"#".repeat(fill)}${".".repeat(width - fill)}] ${p.done}/${total}` +
      (p.row ? ` ${p.row}` : "") + ` errors=${p.errors}`;
    if (tty) {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${bar}${p.done >= total ? "\n" : ""}`));
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        Deno.stderr.writeSync(enc.encode(bar + "\n"));
      }
    }
    if (p.done >= total && !p.row) finished = true;
  };
}
