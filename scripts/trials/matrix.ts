/**
 * The matrix runner: modes × iterations, one trial per iteration, `concurrency`
 * trials at a time (one per device slot when the trials are placed: the next
 * trial, of whichever row, starts as soon as one ends), with a progress bar on
 * stderr and a results table with a Total row (scripts/report/matrix_table.ts
 * renders it). Each row counts its trials by the device they ran on.
 */

import type {
  MatrixDeviceResult,
  MatrixResult,
  MatrixRow,
  TrialOutcome,
  TrialStatus,
} from "../../records.ts";
import { slotLabel } from "./devices.ts";

/** The default matrix: baseline 50 (no instrumentation), audit 50, stress 100. */
export const DEFAULT_MATRIX: MatrixRow[] = [
  { name: "baseline", mode: "off", iterations: 50 },
  { name: "audit", mode: "audit", iterations: 50 },
  { name: "stress", mode: "audit", iterations: 100, params: { stress: true } },
];

/** Statuses that count as an error in the matrix (a guard block counts too: the run did not complete clean). */
export function isError(status: TrialStatus): boolean {
  return status !== "OK";
}

export interface MatrixOptions {
  /** Trials run at once (default 1): the device slots of a placed run. */
  concurrency?: number;
  /** Progress output: a function, false for none; default a bar on stderr. */
  progress?: ((p: MatrixProgress) => void) | false;
  /** Stop a row after this many errors (default: run every iteration). */
  maxErrorsPerRow?: number;
}

/** One device's (or device group's) trials so far. */
export interface DeviceProgress {
  device: string;
  done: number;
  errors: number;
}

export interface MatrixProgress {
  done: number;
  total: number;
  row: string;
  errors: number;
  last?: TrialOutcome;
  /** Per device, once a placed trial has ended. */
  devices?: DeviceProgress[];
}

/** A row's running tally. */
interface RowState {
  row: MatrixRow;
  res: MatrixResult;
  started: number;
  ended: number;
  stop: boolean;
}

function newRow(row: MatrixRow): RowState {
  const res: MatrixResult = {
    name: row.name ?? row.mode,
    mode: row.mode,
    iterations: 0,
    errors: 0,
    status: "PASS",
    outcomes: {},
    wallMs: 0,
  };
  return { row, res, started: 0, ended: 0, stop: false };
}

/** The entry of `device` in `list`, made by `make` the first time. */
function entryOf<T extends { device: string }>(list: T[], device: string, make: () => T): T {
  let e = list.find((x) => x.device === device);
  if (e === undefined) list.push(e = make());
  return e;
}

/** Adds a finished trial to its row. */
function tally(st: RowState, i: number, o: TrialOutcome, maxErrors: number | undefined): void {
  const res = st.res;
  res.iterations++;
  res.outcomes[o.status] = (res.outcomes[o.status] ?? 0) + 1;
  if (o.spec.devices !== undefined) {
    const device = slotLabel(o.spec.devices);
    const e: MatrixDeviceResult = entryOf(
      res.devices ??= [],
      device,
      () => ({ device, trials: 0, errors: 0 }),
    );
    e.trials++;
    if (isError(o.status)) e.errors++;
  }
  if (!isError(o.status)) return;
  res.errors++;
  if (!res.firstError || i < res.firstError.iteration) {
    res.firstError = {
      iteration: i,
      status: o.status,
      detail: o.result?.error?.message ?? o.signal ?? (o.timedOut ? "time limit" : o.status),
    };
  }
  if (maxErrors !== undefined && res.errors >= maxErrors) st.stop = true;
}

/**
 * Runs every row. `runOne(row, iteration)` runs one trial (normally
 * runTrial on the experiment file, placed on a free device) and returns its outcome.
 */
export async function runMatrix(
  rows: MatrixRow[],
  runOne: (row: MatrixRow, iteration: number) => Promise<TrialOutcome>,
  opts: MatrixOptions = {},
): Promise<{ rows: MatrixResult[]; outcomes: TrialOutcome[] }> {
  const total = rows.reduce((s, r) => s + r.iterations, 0);
  const progress = opts.progress === false ? undefined : (opts.progress ?? progressBar(total));
  const states = rows.map(newRow);
  const queue = states.flatMap((st) => Array.from({ length: st.row.iterations }, (_, i) => ({ st, i })));
  const all: TrialOutcome[] = [];
  const devices: DeviceProgress[] = [];
  let done = 0, errors = 0, next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const { st, i } = queue[next++];
      if (st.stop) continue;
      if (st.started === 0) st.started = performance.now();
      const o = await runOne(st.row, i);
      all.push(o);
      st.ended = performance.now();
      tally(st, i, o, opts.maxErrorsPerRow);
      if (o.spec.devices !== undefined) {
        const device = slotLabel(o.spec.devices);
        const d = entryOf(devices, device, () => ({ device, done: 0, errors: 0 }));
        d.done++;
        if (isError(o.status)) d.errors++;
      }
      done++;
      if (isError(o.status)) errors++;
      progress?.({
        done,
        total,
        row: st.res.name,
        errors,
        last: o,
        devices: devices.length ? devices : undefined,
      });
    }
  };
  const width = Math.max(1, Math.min(opts.concurrency ?? 1, queue.length));
  await Promise.all(Array.from({ length: width }, worker));
  const results = states.map((st) => {
    st.res.wallMs = st.ended - st.started;
    st.res.status = st.res.errors === 0 ? "PASS" : "FAIL";
    st.res.devices?.sort((a, b) => a.device.localeCompare(b.device, "en", { numeric: true }));
    return st.res;
  });
  progress?.({ done: total, total, row: "", errors, devices: devices.length ? devices : undefined });
  return { rows: results, outcomes: all };
}

/** " | dev 0:12 1:12 2:11(11 err)": each device's trials so far, its errors marked. */
export function deviceBar(devices: DeviceProgress[] | undefined): string {
  if (!devices?.length) return "";
  const sorted = [...devices].sort((a, b) => a.device.localeCompare(b.device, "en", { numeric: true }));
  return ` | dev ${
    sorted.map((d) => `${d.device}:${d.done}${d.errors ? `(${d.errors} err)` : ""}`).join(" ")
  }`;
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
      (p.row ? ` ${p.row}` : "") + ` errors=${p.errors}${deviceBar(p.devices)}`;
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
