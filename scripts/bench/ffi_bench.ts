/**
 * The FFI layer's costs: one native call (fl_noop), kernel launch throughput
 * from TypeScript against the same launches from a C loop (fl_bench_tick_loop),
 * and copy bandwidth (D2H pinned and pageable against D2D, as ratios).
 */
import { boundary, type Device, type DeviceBuffer, launch, type Stream, tick } from "../../mod.ts";
// type-only: main.ts imports this file, so a value import would be a cycle
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const MiB = 1 << 20;

function noop(ctx: BenchContext): BenchRow[] {
  const sym = ctx.runtime.symbols;
  const n = ctx.quick ? 200_000 : 2_000_000;
  for (let i = 0; i < 100_000; i++) sym.fl_noop(); // warm up (JIT)
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) sym.fl_noop();
    times.push(((performance.now() - t) * 1e6) / n);
  }
  return [{
    section: "ffi",
    metric: "fl_noop",
    value: median(times),
    unit: "ns/call",
    note: `${n} calls, median of 5`,
  }];
}

/** Four ways to launch `n` ticks and wait: launch() from TS, a loop in C, the raw symbol, launch() observed. */
function launchPaths(dev: Device, stream: Stream, counter: DeviceBuffer, n: number) {
  const s64 = stream.handle64;
  const c64 = counter.ptr64;
  const sym = dev.symbols;
  const check = (st: number, what: string) => {
    if (st !== 0) throw new Error(`${what} returned ${st}`);
  };
  const timed = (fn: () => void) => {
    const t = performance.now();
    fn();
    stream.synchronize();
    return performance.now() - t;
  };
  const fromTs = () =>
    timed(() => {
      for (let i = 0; i < n; i++) launch(dev, stream, tick, { counter });
    });
  return {
    fromTs,
    fromC: () => timed(() => check(sym.fl_bench_tick_loop(dev.ordinal, s64, c64, n), "fl_bench_tick_loop")),
    raw: () =>
      timed(() => {
        const launchTick = sym.fl_launch_tick;
        for (let i = 0; i < n; i++) check(launchTick(dev.ordinal, s64, c64), "fl_launch_tick");
      }),
    observed: () => {
      const detach = boundary.attach({});
      try {
        return fromTs();
      } finally {
        detach();
      }
    },
  };
}

function launches(ctx: BenchContext): BenchRow[] {
  const dev = ctx.device;
  const n = ctx.quick ? 20_000 : 100_000;
  // launch rates on a shared host are noisy: more repetitions, interleaved, median
  const reps = ctx.quick ? 3 : 9;
  using stream = dev.createStream();
  using counter = dev.malloc(4, { name: "tick_counter" });
  counter.fill(0);
  const p = launchPaths(dev, stream, counter, n);
  for (let i = 0; i < 2; i++) p.fromTs(), p.fromC(), p.raw(); // warm up every path
  const ts: number[] = [], c: number[] = [], rw: number[] = [], obs: number[] = [];
  // interleaved, so drift on a shared machine hits all alike
  for (let r = 0; r < reps; r++) ts.push(p.fromTs()), c.push(p.fromC()), rw.push(p.raw());
  p.observed();
  for (let r = 0; r < reps; r++) obs.push(p.observed());
  stream.synchronize();
  const out = new Uint32Array(1);
  counter.download(out);
  const expected = ((2 + reps) * 3 + 1 + reps) * n;
  if (out[0] !== expected % 2 ** 32) {
    throw new Error(`tick counter ${out[0]}, expected ${expected}: launches went missing`);
  }
  const rate = (times: number[]) => n / (median(times) / 1e3);
  return launchRows(
    rate(ts),
    rate(c),
    rate(rw),
    rate(obs),
    `${n} tick launches + stream sync, median of ${reps}`,
  );
}

function launchRows(
  tsRate: number,
  cRate: number,
  rawRate: number,
  obsRate: number,
  note: string,
): BenchRow[] {
  const row = (metric: string, value: number, unit: string, rowNote = note): BenchRow => ({
    section: "ffi",
    metric,
    value,
    unit,
    note: rowNote,
  });
  return [
    row("launch tick from TS (launch(), boundary inactive)", tsRate, "launches/s"),
    row("launch tick from C (fl_bench_tick_loop)", cRate, "launches/s"),
    row("launch throughput TS/C", tsRate / cRate, "ratio", "goal >= 0.9"),
    row(
      "launch tick from TS, raw symbol (no validation)",
      rawRate,
      "launches/s",
      "the FFI call alone, for comparison",
    ),
    row(
      "launch tick from TS, boundary active (one empty observer)",
      obsRate,
      "launches/s",
      "NativeCall built, tagged, before/after",
    ),
  ];
}

function bandwidth(ctx: BenchContext): BenchRow[] {
  const dev = ctx.device;
  const bytes = (ctx.quick ? 32 : 256) * MiB;
  const reps = ctx.quick ? 3 : 5;
  using src = dev.malloc(bytes, { name: "bw_src" });
  using dst = dev.malloc(bytes, { name: "bw_dst" });
  using pinned = dev.hostAlloc(bytes, { name: "bw_pinned" });
  const pageable = new Uint8Array(bytes);
  src.fill(0x5a);
  const time = (fn: () => void) => {
    fn(); // warm up (first touch of pages)
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      fn();
      ts.push(performance.now() - t);
    }
    return median(ts) / 1e3;
  };
  const gbs = (b: number, s: number) => b / s / 1e9;
  const d2hPinned = gbs(bytes, time(() => src.download(pinned)));
  const d2hPageable = gbs(bytes, time(() => src.download(pageable)));
  const d2d = gbs(
    2 * bytes,
    time(() => {
      // A device-to-device copy returns before it finishes on the GPU
      // backends (as cudaMemcpy D2D does): the time must include the sync.
      dst.copyFrom(src);
      dev.synchronize();
    }),
  );
  const probe = new Uint8Array(1);
  dst.download(probe, { offset: bytes - 1 });
  if (pageable[bytes - 1] !== 0x5a || pinned.view[0] !== 0x5a || probe[0] !== 0x5a) {
    throw new Error("bandwidth copies moved no data");
  }
  const size = `${bytes / MiB} MiB, sync copies (D2D timed to its device sync), median of ${reps}`;
  return [
    { section: "ffi", metric: "D2H pinned", value: d2hPinned, unit: "GB/s", note: size },
    { section: "ffi", metric: "D2H pageable", value: d2hPageable, unit: "GB/s", note: size },
    {
      section: "ffi",
      metric: "D2D",
      value: d2d,
      unit: "GB/s",
      note: `${size}; bytes read + written (2x size)`,
    },
    { section: "ffi", metric: "D2H pinned / D2D", value: d2hPinned / d2d, unit: "ratio", note: "same run" },
    {
      section: "ffi",
      metric: "D2H pageable / D2D",
      value: d2hPageable / d2d,
      unit: "ratio",
      note: "same run",
    },
  ];
}

export const sections: BenchSection[] = [
  {
    name: "ffi",
    run(ctx) {
      return [...noop(ctx), ...launches(ctx), ...bandwidth(ctx)];
    },
  },
];
