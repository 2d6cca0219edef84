/**
 * The status server under load: requests/s, median and p99 latency, and the
 * server's resident memory, for the runs list, a run page, and a run whose
 * journal.jsonl is 300 MB (30 MB with --quick): its page, its journal's
 * first and middle pages, and looking up its last op. The server runs in its
 * own process (`deno task serve`), over a reports folder written for the
 * bench; clients keep CONCURRENCY requests in flight. Each target's first
 * request is timed alone first: it pays for what the server then keeps (a
 * journal's summary, an op looked up by a scan).
 */
import { join } from "node:path";
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

const CONCURRENCY = 8;
const RUNS = 40;
const EXP = "bench_server";

const record = (id: number, status: number | null = 0) =>
  JSON.stringify({
    id,
    seq: id,
    time: id * 10,
    dur: 5,
    wall: 1.7e12 + id,
    kind: id % 7 === 0 ? "d2h" : "launch",
    device: 0,
    stream: 1,
    name: `kernel_${id % 13}`,
    scalars: { n: 4096, pos: id % 4096 },
    pointers: [{
      arg: "x",
      ptr: 0x7f0000000000 + id * 256,
      bytes: 256,
      access: "rw",
      elem: 4,
      alloc: 3,
      name: "x",
    }],
    step: id % 16,
    layer: id % 32,
    op: "RoPE Q",
    status,
    result_name: status === 0 ? "hipSuccess" : "hipErrorIllegalAddress",
  }) + "\n";

function verdict(id: string, failingOp: number) {
  return {
    experiment: EXP,
    run_id: id,
    backend: "sim",
    device: "bench",
    config: { model: "tiny", layers: 2 },
    status: "FAULT",
    surfaced_at: {
      op: failingOp + 3,
      kind: "sync",
      name: "stream_synchronize",
      error: "illegal address (700)",
    },
    root_cause: {
      op: failingOp,
      kind: "launch",
      kernel: "rope",
      name: "RoPE Q",
      step: 3,
      layer: 0,
      argument: "x",
      invariant: "pointer arguments point into live allocations",
      detail: "x is at offset 0 of a freed allocation",
    },
    hypotheses: Array.from({ length: 16 }, (_, k) => ({
      id: `h${k}`,
      title: `hypothesis ${k}`,
      status: k < 3 ? "CONFIRMED" : "RULED_OUT",
      evidence: "evidence ".repeat(12),
    })),
    matrix: [],
    mode: "audit",
    started: "2026-01-01T00:00:00Z",
    finished: "2026-01-01T00:00:02Z",
    command: "deno task demo",
  };
}

/** A journal of about `bytes` bytes, written in large pieces; returns the number of ops. */
async function writeJournal(path: string, bytes: number): Promise<number> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let written = 0, id = 0;
  try {
    while (written < bytes) {
      let chunk = "";
      while (chunk.length < 1 << 20) chunk += record(++id);
      const b = enc.encode(chunk);
      for (let off = 0; off < b.length;) off += await f.write(b.subarray(off));
      written += b.length;
    }
  } finally {
    f.close();
  }
  return id;
}

async function writeReports(root: string, bigBytes: number): Promise<{ bigOps: number }> {
  for (let k = 0; k < RUNS; k++) {
    const id = `run-${String(k).padStart(3, "0")}`;
    const dir = join(root, EXP, id);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "verdict.json"), JSON.stringify(verdict(id, 235)));
    await Deno.writeTextFile(
      join(dir, "journal.jsonl"),
      Array.from({ length: 300 }, (_, i) => record(i + 1)).join(""),
    );
  }
  const big = join(root, EXP, "big");
  await Deno.mkdir(big, { recursive: true });
  const bigOps = await writeJournal(join(big, "journal.jsonl"), bigBytes);
  await Deno.writeTextFile(join(big, "verdict.json"), JSON.stringify(verdict("big", bigOps - 1)));
  return { bigOps };
}

/** Resident memory of a process in MB, from /proc (null where there is none). */
function rssMb(pid: number): number | null {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

/** Keeps CONCURRENCY requests to `url` in flight for `ms`; latencies in ms and the server's peak RSS. */
async function load(url: string, ms: number, pid: number) {
  const latencies: number[] = [];
  let failed = 0, peak = rssMb(pid) ?? 0;
  const end = performance.now() + ms;
  const sampler = setInterval(() => peak = Math.max(peak, rssMb(pid) ?? 0), 20);
  const client = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status >= 500) failed++;
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const wall = performance.now() - t0;
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (wall / 1000),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    failed,
    peak,
  };
}

async function startServer(root: string): Promise<{ base: string; child: Deno.ChildProcess }> {
  const main = new URL("../server/main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "--port", "0", "--reports", root],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server bench: the server printed no address: ${text}`);
    text += value;
    const m = text.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
    if (m) {
      (async () => {
        while (!(await reader.read()).done);
      })();
      return { base: `http://127.0.0.1:${m[1]}`, child };
    }
  }
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const bigBytes = ctx.quick ? 30 << 20 : 300 << 20;
  const ms = ctx.quick ? 1000 : 3000;
  const root = await Deno.makeTempDir({ prefix: "faultline-bench-server-" });
  const rows: BenchRow[] = [];
  try {
    const { bigOps } = await writeReports(root, bigBytes);
    const { base, child } = await startServer(root);
    try {
      const idle = rssMb(child.pid);
      const mb = `${Math.round(bigBytes / (1 << 20))} MB journal`;
      const targets: [string, string, string][] = [
        ["list", "/", `runs list of ${RUNS + 1} runs`],
        ["run page", `/runs/${EXP}/run-000`, "a run with 16 hypotheses and a 300-op journal"],
        [`run page, ${mb}`, `/runs/${EXP}/big`, `${bigOps} ops`],
        [`journal first page, ${mb}`, `/api/runs/${EXP}/big/journal?limit=1000`, "1000 records"],
        [
          `journal middle page, ${mb}`,
          `/api/runs/${EXP}/big/journal?from=${bigBytes >> 1}&limit=1000`,
          "1000 records",
        ],
        [`last op, ${mb}`, `/runs/${EXP}/big/ops/${bigOps}`, "one scan of the whole journal, then kept"],
      ];
      for (const [what, path, note] of targets) {
        const t0 = performance.now();
        await (await fetch(base + path)).arrayBuffer();
        const first = performance.now() - t0;
        const r = await load(base + path, ms, child.pid);
        const tail = `${CONCURRENCY} clients, ${note}${r.failed ? `, ${r.failed} 5xx` : ""}`;
        rows.push(
          {
            section: "server",
            metric: `${what}: first request`,
            value: first,
            unit: "ms",
            note: "alone, nothing kept yet",
          },
          { section: "server", metric: `${what}: requests`, value: r.rps, unit: "req/s", note: tail },
          { section: "server", metric: `${what}: p50`, value: r.p50, unit: "ms" },
          { section: "server", metric: `${what}: p99`, value: r.p99, unit: "ms" },
          {
            section: "server",
            metric: `${what}: peak RSS`,
            value: r.peak,
            unit: "MB",
            note: `idle ${idle?.toFixed(0)} MB`,
          },
        );
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  return rows;
}

export const sections: BenchSection[] = [{ name: "server", run }];
