/**
 * The forensics core's costs.
 *
 * Section "audit-calls": TypeScript-side cost per native call of the audit
 * session (journal, registry, every guard rail, race check), measured two ways:
 * - observer: a decode layer's worth of NativeCalls (the shapes a 7B layer's
 *   launches and copies have) shown to the boundary's observers before and
 *   after, with no native call; off is the same loop with nothing attached;
 *   the inline rows run every check on the launching thread (offThread:
 *   false); the off-thread row gives the launching thread's own CPU time and
 *   the audit worker's apart;
 * - launch: launch(tick) on the device, with the session against without it
 *   (this one includes the FFI layer's own NativeCall construction and tag).
 *
 * Section "audit-decode": the 7B-shaped decode (Llama-2-7B shapes, f16
 * weights, on cuda/hip; the tiny model on sim) through the block scheduler in
 * each mode: off; audit (the journal on the launching thread; registry,
 * rails and race check in the audit worker); audit with redzones checked at
 * every sync (pipelined: read at the next one); blocking (a stream sync after
 * every launch); and, where compute-sanitizer is on PATH, memcheck on the same decode (a
 * child process running this file with --decode) as the reference point.
 *
 * Also runnable alone: `deno run -A scripts/bench/audit_bench.ts --decode --mode off --tokens 8`
 * prints {"msPerToken": …} (that is what compute-sanitizer runs).
 */
import process from "node:process";
import { choiceFlag, intFlag, parseCli, runCli } from "../cli/flags.ts";
import { boundary, type Device, launch, type NativeCall, type PointerArg, runtime, tick } from "../../mod.ts";
import { type AuditOptions, openAudit } from "../audit/session.ts";
import { type LlamaConfig, presetConfig } from "../model/config.ts";
import { gpuModel } from "../model/gpu_model.ts";
import { LlamaEngine } from "../scheduler/mod.ts";
// type-only: main.ts imports this file, so a value import would be a cycle
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";
import { type Mode, MODES } from "../../records.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---- observer cost over synthetic calls ----

const ptr = (arg: string, p: number, bytes: number, access: "r" | "w" | "rw", elem = 4): PointerArg => ({
  arg,
  ptr: p,
  bytes,
  access,
  elem,
});

// long-function: one table, the 17 calls of a 7B decode layer over its 22 allocations, in issue order
/**
 * One 7B decode layer's calls (the shapes the scheduler issues), over fake
 * addresses, with the allocations they point into: for profiling the
 * observers without a device.
 */
export function decodeLayerCalls(): {
  allocs: { name: string; bytes: number; base: number }[];
  calls: NativeCall[];
} {
  const D = 4096, F = 11008, H = 32, Dh = 128, CTX = 512;
  const allocs: { name: string; bytes: number }[] = [
    { name: "x", bytes: D * 4 },
    { name: "xn", bytes: D * 4 },
    { name: "q", bytes: D * 4 },
    { name: "k", bytes: D * 4 },
    { name: "v", bytes: D * 4 },
    { name: "attn", bytes: D * 4 },
    { name: "o", bytes: D * 4 },
    { name: "gate", bytes: F * 4 },
    { name: "up", bytes: F * 4 },
    { name: "h", bytes: F * 4 },
    { name: "k_cache", bytes: CTX * D * 4 },
    { name: "v_cache", bytes: CTX * D * 4 },
    { name: "scratch", bytes: 8 * H * (Dh + 2) * 4 },
    { name: "wq", bytes: D * D * 2 },
    { name: "wk", bytes: D * D * 2 },
    { name: "wv", bytes: D * D * 2 },
    { name: "wo", bytes: D * D * 2 },
    { name: "w_gate", bytes: F * D * 2 },
    { name: "w_up", bytes: F * D * 2 },
    { name: "w_down", bytes: D * F * 2 },
    { name: "norm", bytes: D * 4 },
    { name: "d_pos", bytes: 4 },
  ];
  const base = new Map<string, number>();
  let at = 0x7f0000000000;
  for (const a of allocs) {
    base.set(a.name, at);
    at += Math.ceil((a.bytes + 1) / 65536) * 65536;
  }
  const b = (n: string) => base.get(n)!;
  const mk = (
    name: string,
    scalars: Record<string, number>,
    pointers: PointerArg[],
    op: string,
  ): NativeCall => ({
    id: 0,
    kind: "launch",
    name,
    device: 0,
    stream: 0x1000,
    scalars,
    pointers,
    context: { step: 0, layer: 0, op },
  });
  const matvec = (y: string, w: string, x: string, out: number, inn: number, op: string) =>
    mk("matvec_f16", { out_dim: out, in_dim: inn }, [
      ptr("y", b(y), out * 4, "w"),
      ptr("w", b(w), out * inn * 2, "r", 2),
      ptr("x", b(x), inn * 4, "r"),
    ], op);
  const calls: NativeCall[] = [
    mk("rmsnorm", { rows: 1, dim: D, eps: 1e-5 }, [
      ptr("out", b("xn"), D * 4, "w"),
      ptr("x", b("x"), D * 4, "r"),
      ptr("weight", b("norm"), D * 4, "r"),
    ], "RMSNorm attn"),
    matvec("q", "wq", "xn", D, D, "Q proj"),
    matvec("k", "wk", "xn", D, D, "K proj"),
    matvec("v", "wv", "xn", D, D, "V proj"),
    mk("rope_dpos", { seq_len: 1, heads: H, head_dim: Dh, freq_base: 10000 }, [
      ptr("x", b("q"), D * 4, "rw"),
      ptr("pos", b("d_pos"), 4, "r"),
    ], "RoPE Q"),
    mk("rope_dpos", { seq_len: 1, heads: H, head_dim: Dh, freq_base: 10000 }, [
      ptr("x", b("k"), D * 4, "rw"),
      ptr("pos", b("d_pos"), 4, "r"),
    ], "RoPE K"),
    mk("kv_append_dpos", { seq_len: 1, n_head_kv: H, head_dim: Dh, ctx_len: CTX }, [
      ptr("k_cache", b("k_cache"), CTX * D * 4, "w"),
      ptr("v_cache", b("v_cache"), CTX * D * 4, "w"),
      ptr("k", b("k"), D * 4, "r"),
      ptr("v", b("v"), D * 4, "r"),
      ptr("pos", b("d_pos"), 4, "r"),
    ], "KV append"),
    mk("attention_decode", { n_head: H, n_head_kv: H, head_dim: Dh, n_ctx: 100 }, [
      ptr("out", b("attn"), D * 4, "w"),
      ptr("q", b("q"), D * 4, "r"),
      ptr("k_cache", b("k_cache"), 100 * D * 4, "r"),
      ptr("v_cache", b("v_cache"), 100 * D * 4, "r"),
      ptr("scratch", b("scratch"), 2 * H * (Dh + 2) * 4, "w"),
    ], "attention"),
    matvec("o", "wo", "attn", D, D, "O proj"),
    mk("add", { n: D }, [
      ptr("out", b("x"), D * 4, "w"),
      ptr("a", b("x"), D * 4, "r"),
      ptr("b", b("o"), D * 4, "r"),
    ], "residual attn"),
    mk("rmsnorm", { rows: 1, dim: D, eps: 1e-5 }, [
      ptr("out", b("xn"), D * 4, "w"),
      ptr("x", b("x"), D * 4, "r"),
      ptr("weight", b("norm"), D * 4, "r"),
    ], "RMSNorm ffn"),
    matvec("gate", "w_gate", "xn", F, D, "gate proj"),
    matvec("up", "w_up", "xn", F, D, "up proj"),
    mk("silu_mul", { n: F }, [
      ptr("out", b("h"), F * 4, "w"),
      ptr("gate", b("gate"), F * 4, "r"),
      ptr("up", b("up"), F * 4, "r"),
    ], "SiLU mul"),
    matvec("x", "w_down", "h", D, F, "down proj"),
    mk("add", { n: D }, [
      ptr("out", b("x"), D * 4, "w"),
      ptr("a", b("x"), D * 4, "r"),
      ptr("b", b("o"), D * 4, "r"),
    ], "residual ffn"),
  ];
  // the allocations as alloc calls would describe them; the same base addresses
  return { allocs: allocs.map((a) => ({ ...a, base: b(a.name) })), calls };
}

/** Closes a bench session and removes its report folder (journal.jsonl of a long run is large). */
function closeAndRemove(session: { close(): void; reportDir: string } | null): void {
  if (session === null) return;
  session.close();
  try {
    Deno.removeSync(session.reportDir, { recursive: true });
  } catch { /* already gone */ }
}

/** CPU time of the launching (main) thread so far, in ns (Linux: schedstat), or NaN. */
function mainThreadCpuNs(): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${Deno.pid}/schedstat`);
    return Number(s.split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** Wall, process CPU and launching-thread CPU time per call, in ns. */
function syntheticLoop(calls: NativeCall[], n: number): [number, number, number] {
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuNs();
  const t = performance.now();
  const m = calls.length;
  for (let i = 0; i < n; i++) {
    const c = calls[i % m];
    c.id = boundary.nextId();
    boundary.before(c);
    boundary.after(c, 0);
  }
  const wall = ((performance.now() - t) * 1e6) / n;
  const cpu = process.cpuUsage(cpu0);
  const main = (mainThreadCpuNs() - main0) / n;
  return [wall, ((cpu.user + cpu.system) * 1e3) / n, main];
}

type BenchSession = { close(): void; reportDir: string; readonly findings: unknown[] };

/** The layer's allocations as alloc calls through the boundary, so the registry knows them. */
function announceAllocations(allocs: { name: string; bytes: number; base: number }[]): void {
  for (const a of allocs) {
    const c: NativeCall = {
      id: boundary.nextId(),
      kind: "alloc",
      name: a.name,
      device: 0,
      stream: 0,
      scalars: { bytes: a.bytes, redzone: 0, allocBytes: a.bytes },
      pointers: [],
      context: {},
    };
    boundary.before(c);
    boundary.after(c, 0, a.base);
  }
}

/** Medians of wall, process CPU and launching-thread CPU per call over `reps` loops of `n` calls. */
function observerTimes(
  calls: NativeCall[],
  n: number,
  reps: number,
  session: BenchSession | null,
  offThread: boolean,
) {
  syntheticLoop(calls, Math.min(n, 100_000)); // warm up (JIT)
  const wall: number[] = [], cpu: number[] = [], main: number[] = [];
  for (let r = 0; r < reps; r++) {
    const [w, c, m] = syntheticLoop(calls, n);
    wall.push(w), cpu.push(c), main.push(m);
    // the worker catches up between repetitions (reading the findings waits for it)
    if (offThread) void session!.findings.length;
  }
  return { wall: median(wall), cpu: median(cpu), main: median(main) };
}

function observerRows(
  label: string,
  t: { wall: number; cpu: number; main: number },
  note: string,
  offThread: boolean,
): BenchRow[] {
  const row = (metric: string, value: number, rowNote: string): BenchRow => ({
    section: "audit-calls",
    metric: `observer, ${label}${metric}`,
    value,
    unit: "ns/call",
    note: rowNote,
  });
  if (!offThread) {
    return [
      row("", t.wall, note),
      row(
        ", CPU time",
        t.cpu,
        "process CPU time (user + system) per call: steadier than wall time on a shared machine",
      ),
    ];
  }
  return [
    row(
      ", launching thread CPU time",
      t.main,
      note + "; the launching thread's own CPU time (schedstat): what the workload's thread pays",
    ),
    row(
      ", worker CPU time",
      t.cpu - t.main,
      "process CPU time less the launching thread's: the audit worker's checks (on another core)",
    ),
    row(
      "",
      t.wall,
      "wall time of the launching thread; it waits when the worker falls half a ring behind " +
        "(this loop makes calls far faster than a decode does)",
    ),
  ];
}

function observerCost(ctx: BenchContext): BenchRow[] {
  const n = ctx.quick ? 100_000 : 1_000_000;
  const reps = ctx.quick ? 3 : 5;
  const { allocs, calls } = decodeLayerCalls();
  const note = `${n} calls of a 7B decode layer (${calls.length} launches, 1-5 pointers each), ` +
    `before+after, no native call, median of ${reps}`;
  const run = (label: string, open: (() => BenchSession) | null, offThread = false): BenchRow[] => {
    const session = open?.() ?? null;
    try {
      announceAllocations(allocs);
      return observerRows(label, observerTimes(calls, n, reps, session, offThread), note, offThread);
    } finally {
      closeAndRemove(session);
    }
  };
  const audit = (o: Partial<AuditOptions>) => () =>
    openAudit({
      device: ctx.device,
      reportDir: Deno.makeTempDirSync({ prefix: "fl-bench-audit-" }),
      mode: "audit",
      journalCapacity: 8192,
      ...o,
    });
  return [
    ...run("off (nothing attached)", null),
    ...run("journal only", audit({ guards: [], races: false })),
    ...run("journal + registry + rails", audit({ races: false, offThread: false })),
    ...run("audit (journal + registry + rails + races)", audit({ offThread: false })),
    ...run(
      "audit off-thread (journal; registry + rails + races in the audit worker)",
      audit({ journalCapacity: 65536 }),
      true,
    ),
  ];
}

function launchCost(ctx: BenchContext): BenchRow[] {
  const dev = ctx.device;
  const n = ctx.quick ? 20_000 : 100_000;
  const reps = ctx.quick ? 3 : 5;
  const measure = (how: "off" | "observer" | "audit" | "audit inline"): number => {
    const session = how === "audit" || how === "audit inline"
      ? openAudit({
        device: dev,
        reportDir: Deno.makeTempDirSync({ prefix: "fl-bench-audit-" }),
        mode: "audit",
        offThread: how === "audit",
      })
      : null;
    const detach = how === "observer" ? boundary.attach({}) : null;
    const stream = dev.createStream();
    const counter = dev.malloc(4, { name: "tick_counter" });
    try {
      const times: number[] = [];
      for (let r = 0; r < reps + 1; r++) {
        const t = performance.now();
        for (let i = 0; i < n; i++) launch(dev, stream, tick, { counter });
        const dt = performance.now() - t;
        stream.synchronize();
        if (r > 0) times.push((dt * 1e6) / n);
      }
      return median(times);
    } finally {
      counter.free();
      stream.destroy();
      detach?.();
      closeAndRemove(session);
    }
  };
  const off = measure("off");
  const observed = measure("observer");
  const audit = measure("audit");
  const inline = measure("audit inline");
  const note =
    `launch(tick) on a stream, ${n} launches (enqueue time, synchronized after), median of ${reps}`;
  return [
    { section: "audit-calls", metric: "launch, off", value: off, unit: "ns/launch", note },
    {
      section: "audit-calls",
      metric: "launch, boundary active (empty observer)",
      value: observed,
      unit: "ns/launch",
      note: "the FFI layer's NativeCall construction and fl_set_tag, no forensics",
    },
    {
      section: "audit-calls",
      metric: "launch, audit",
      value: audit,
      unit: "ns/launch",
      note: note + "; the checks in the audit worker",
    },
    {
      section: "audit-calls",
      metric: "launch, audit inline",
      value: inline,
      unit: "ns/launch",
      note: note + "; the checks on the launching thread (offThread: false)",
    },
    {
      section: "audit-calls",
      metric: "launch, audit - empty observer",
      value: audit - observed,
      unit: "ns/launch",
      note: "the forensics' TypeScript cost per launch, end to end" +
        (ctx.runtime.backend === "sim"
          ? " (on sim, enqueue contention with the stream's worker thread adds noise)"
          : ""),
    },
  ];
}

// ---- the decode in each mode ----

export interface DecodeTiming {
  mode: string;
  msPerToken: number;
  callsPerToken: number;
  /** Host time inside synchronizing calls per token (the GPU's lead over the host's enqueueing). */
  syncWaitMsPerToken: number;
  findings: number;
}

function decodeConfig(
  backend: string,
  quick: boolean,
): { config: LlamaConfig; dtype: "f16" | "f32"; label: string } {
  if (backend === "sim") {
    return { config: presetConfig("tiny"), dtype: "f32", label: "tiny (sim)" };
  }
  return quick
    ? {
      config: presetConfig("llama2-7b", { nLayers: 4 }),
      dtype: "f16",
      label: "Llama-2-7B shapes, 4 layers, f16",
    }
    : { config: presetConfig("llama2-7b"), dtype: "f16", label: "Llama-2-7B shapes, f16" };
}

/** Builds the model and engine inside the session (so redzones and the registry see every buffer) and times decode steps. */
export async function timeDecode(
  device: Device,
  mode: Mode | "audit+redzones",
  opts: { tokens: number; warmup: number; config: LlamaConfig; dtype: "f16" | "f32"; maxContext?: number },
): Promise<DecodeTiming> {
  const session = mode === "off" ? null : openAudit({
    device,
    reportDir: Deno.makeTempDirSync({ prefix: "fl-bench-decode-" }),
    mode: mode === "audit+redzones" ? "audit" : mode,
    redzones: mode === "audit+redzones" ? 256 : 0,
    contextLength: opts.maxContext ?? 512,
  });
  const model = gpuModel(device, opts.config, 1, { dtype: opts.dtype });
  const engine = await LlamaEngine.create(device, model, { maxContext: opts.maxContext ?? 512 });
  let calls = 0, waitMs = 0, syncStart = 0;
  const counter = boundary.attach({
    transient: true,
    before: (c) => {
      calls++;
      if (c.kind === "sync") syncStart = performance.now();
    },
    after: (c) => {
      if (c.kind === "sync") waitMs += performance.now() - syncStart;
    },
  });
  try {
    let t = engine.prefill([1, 5, 9, 13]);
    for (let i = 0; i < opts.warmup; i++) t = engine.decodeStep(t);
    calls = 0;
    waitMs = 0;
    const start = performance.now();
    for (let i = 0; i < opts.tokens; i++) t = engine.decodeStep(t);
    const ms = (performance.now() - start) / opts.tokens;
    return {
      mode,
      msPerToken: ms,
      callsPerToken: calls / opts.tokens,
      syncWaitMsPerToken: waitMs / opts.tokens,
      findings: session?.findings.length ?? 0,
    };
  } finally {
    counter();
    engine.free();
    model.free();
    closeAndRemove(session);
  }
}

function onPath(cmd: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return `${dir}/${cmd}`;
    } catch { /* not here */ }
  }
  return null;
}

async function sanitizerDecode(tokens: number, quick: boolean): Promise<number | null> {
  const cs = onPath("compute-sanitizer") ?? (() => {
    try {
      return Deno.statSync("/usr/local/cuda/bin/compute-sanitizer").isFile
        ? "/usr/local/cuda/bin/compute-sanitizer"
        : null;
    } catch {
      return null;
    }
  })();
  if (cs === null) return null;
  const args = [
    "--tool",
    "memcheck",
    Deno.execPath(),
    "run",
    "-A",
    new URL(import.meta.url).pathname,
    "--decode",
    "--mode",
    "off",
    "--tokens",
    String(tokens),
    ...(quick ? ["--quick"] : []),
  ];
  const child = new Deno.Command(cs, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { FAULTLINE_QUIET: "1" },
  })
    .spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 540_000);
  const out = await child.output();
  clearTimeout(timer);
  const m = /"msPerToken":([0-9.eE+-]+)/.exec(new TextDecoder().decode(out.stdout));
  return m ? Number(m[1]) : null;
}

async function decodeModes(ctx: BenchContext): Promise<BenchRow[]> {
  const backend = ctx.runtime.backend;
  const { config, dtype, label } = decodeConfig(backend, ctx.quick);
  const tokens = ctx.quick ? 8 : 32;
  const rows: BenchRow[] = [];
  // warm the JIT on every audit path first (a 2-layer model of the same shapes)
  await timeDecode(ctx.device, "audit+redzones", {
    tokens: 2,
    warmup: 1,
    config: { ...config, nLayers: 2 },
    dtype,
  });
  await timeDecode(ctx.device, "blocking", {
    tokens: 2,
    warmup: 1,
    config: { ...config, nLayers: 2 },
    dtype,
  });
  const results: DecodeTiming[] = [];
  for (const mode of ["off", "audit", "audit+redzones", "blocking"] as const) {
    results.push(await timeDecode(ctx.device, mode, { tokens, warmup: 3, config, dtype }));
  }
  const off = results[0].msPerToken;
  for (const r of results) {
    rows.push({
      section: "audit-decode",
      metric: `decode, ${r.mode}`,
      value: r.msPerToken,
      unit: "ms/token",
      note: `${label}, ${tokens} tokens after 3, ${
        Math.round(r.callsPerToken)
      } native calls/token, ${r.findings} findings, host waits ${
        r.syncWaitMsPerToken.toFixed(2)
      } ms/token in syncs`,
    });
    if (r.mode !== "off") {
      rows.push({
        section: "audit-decode",
        metric: `decode, ${r.mode} / off`,
        value: r.msPerToken / off,
        unit: "ratio",
        note: r.mode === "audit" ? "goal <= 1.03" : r.mode === "audit+redzones" ? "goal <= 1.10" : "",
      });
    }
  }
  if (backend === "cuda") {
    const ms = await sanitizerDecode(ctx.quick ? 2 : 4, ctx.quick);
    if (ms !== null) {
      rows.push({
        section: "audit-decode",
        metric: "decode, compute-sanitizer memcheck",
        value: ms,
        unit: "ms/token",
        note: `${label}, the off-mode decode under compute-sanitizer --tool memcheck (child process)`,
      });
      rows.push({
        section: "audit-decode",
        metric: "decode, memcheck / off",
        value: ms / off,
        unit: "ratio",
      });
    }
  }
  return rows;
}

export const sections: BenchSection[] = [
  { name: "audit-calls", run: (ctx) => [...observerCost(ctx), ...launchCost(ctx)] },
  { name: "audit-decode", run: decodeModes },
];

const CLI = {
  name: "audit_bench",
  usage: `usage: deno run -A scripts/bench/audit_bench.ts [--decode [--mode M] [--tokens N]] [--quick]
  without --decode: the audit-calls and audit-decode sections, one JSON row a line
  --decode     time one decode and print {"msPerToken": ...} (what compute-sanitizer runs)
  --mode M     the decode's mode: ${MODES.join(", ")} (default off)
  --tokens N   decode tokens (default 8)
  --quick      smaller sizes`,
  options: {
    decode: { type: "boolean" },
    mode: { type: "string", default: "off" },
    tokens: { type: "string", default: "8" },
    quick: { type: "boolean" },
  },
} as const;

if (import.meta.main) {
  await runCli(CLI, async (args) => {
    const { values } = parseCli(CLI, args);
    const mode = choiceFlag(values.mode, "mode", MODES)!;
    const tokens = intFlag(values.tokens, "tokens", { positive: true })!;
    await runAlone(values.decode ?? false, mode, tokens, values.quick ?? false);
  });
}

/** The command line's run: one timed decode, or the sections. */
async function runAlone(decode: boolean, mode: Mode, tokens: number, quick: boolean): Promise<void> {
  const rt = runtime();
  const device = rt.device(0);
  if (decode) {
    const { config, dtype } = decodeConfig(rt.backend, quick);
    const r = await timeDecode(device, mode, {
      tokens,
      warmup: 1,
      config,
      dtype,
    });
    console.log(JSON.stringify(r));
  } else {
    const ctx = { runtime: rt, device, quick };
    for (const s of sections) for (const row of await s.run(ctx)) console.log(JSON.stringify(row));
  }
}
