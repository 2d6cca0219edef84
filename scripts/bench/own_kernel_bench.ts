/**
 * Kernels loaded at run time (loadKernels): the launch cost of a loaded
 * kernel against the built-in kernel doing the same work, in the same run
 * (goal <= 1.05), and the time to first compile and to load from the cache.
 */
import { boundary, defineKernel, launch, loadKernels, tick } from "../../mod.ts";
// type-only: main.ts imports this file, so a value import would be a cycle
import type { BenchContext, BenchRow, BenchSection } from "./main.ts";

const SOURCE = new URL("./tick_user.hip", import.meta.url);

const tickUser = defineKernel({
  name: "tick_user",
  args: [{ name: "counter", type: "ptr", access: "rw", elem: 4, extent: () => 4 }],
  grid: 1,
  block: 1,
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function loadTimes(ctx: BenchContext): Promise<BenchRow[]> {
  const cacheDir = await Deno.makeTempDir({ prefix: "faultline-bench-kernels-" });
  try {
    let t = performance.now();
    const first = await loadKernels(ctx.device, { source: SOURCE, kernels: [tickUser], cacheDir });
    const firstMs = performance.now() - t;
    t = performance.now();
    const again = await loadKernels(ctx.device, { source: SOURCE, kernels: [tickUser], cacheDir });
    const cachedMs = performance.now() - t;
    if (first.cached || !again.cached) {
      throw new Error("the cache did not behave: first load cached or second not");
    }
    const note = `${first.compiler}; a one-line kernel`;
    return [
      { section: "own_kernels", metric: "first load (compile + load)", value: firstMs, unit: "ms", note },
      {
        section: "own_kernels",
        metric: "cached load",
        value: cachedMs,
        unit: "ms",
        note: "same source, from build/kernels",
      },
    ];
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
}

async function launchCost(ctx: BenchContext): Promise<BenchRow[]> {
  const dev = ctx.device;
  await loadKernels(dev, { source: SOURCE, kernels: [tickUser] });
  const n = ctx.quick ? 10_000 : 50_000, reps = ctx.quick ? 3 : 9;
  using stream = dev.createStream();
  using counter = dev.malloc(4, { name: "tick_counter" });
  counter.fill(0);
  // the launching thread's time per launch (the sim runs kernels on a worker thread, at its own pace)
  const time = (k: typeof tick | typeof tickUser) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) launch(dev, stream, k, { counter });
    const ns = ((performance.now() - t) * 1e6) / n;
    stream.synchronize();
    return ns;
  };
  const rows: BenchRow[] = [];
  for (const observed of [false, true]) {
    const detach = observed ? boundary.attach({ transient: true }) : null;
    try {
      time(tick), time(tickUser); // warm up
      const builtIn: number[] = [], loaded: number[] = [];
      for (let r = 0; r < reps; r++) {
        builtIn.push(time(tick));
        loaded.push(time(tickUser));
      }
      const how = observed ? "boundary active (one empty observer)" : "boundary inactive";
      const note = `launching thread, ${n} launches, median of ${reps}, interleaved; ${how}`;
      rows.push(
        {
          section: "own_kernels",
          metric: `built-in tick, ${how}`,
          value: median(builtIn),
          unit: "ns/launch",
          note,
        },
        {
          section: "own_kernels",
          metric: `loaded tick_user, ${how}`,
          value: median(loaded),
          unit: "ns/launch",
          note,
        },
        {
          section: "own_kernels",
          metric: `loaded / built-in launch cost, ${how}`,
          value: median(loaded) / median(builtIn),
          unit: "ratio",
          note: "goal <= 1.05",
        },
      );
    } finally {
      detach?.();
    }
  }
  const out = new Uint32Array(1);
  counter.download(out);
  const expected = 2 * (2 + 2 * reps) * n;
  if (out[0] !== expected) {
    throw new Error(`tick counter ${out[0]}, expected ${expected}: launches went missing`);
  }
  return rows;
}

export const sections: BenchSection[] = [
  {
    name: "own_kernels",
    async run(ctx) {
      return [...(await loadTimes(ctx)), ...(await launchCost(ctx))];
    },
  },
];
