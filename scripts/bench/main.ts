/**
 * `deno task bench`: runs every benchmark section and writes
 * reports/bench/bench.json and reports/bench/bench.md (backend, device, date,
 * one row per measurement); prints the Markdown table.
 *
 * Sections plug in by file: every `scripts/bench/*_bench.ts` that exports
 * `sections: BenchSection[]` is run, ffi_bench.ts first, the rest by file
 * name. Flags: --only <section> (repeatable), --quick (fewer repetitions),
 * --llama-bench PATH (llama.cpp's llama-bench, for the llamacpp section).
 * A section file imports only types from this file (`import type`): main.ts
 * imports the section files, so a value import would be a cycle.
 */
import { parseArgs } from "node:util";
import { runtime } from "../../mod.ts";
import type { Device, Runtime } from "../../mod.ts";

export interface BenchRow {
  /** Section name, e.g. "ffi". */
  section: string;
  /** What was measured, e.g. "fl_noop". */
  metric: string;
  value: number;
  /** "ns/call", "launches/s", "GB/s", "ratio", ... */
  unit: string;
  /** How it was measured (sizes, repetitions, what counts as a byte). */
  note?: string;
}

export interface BenchContext {
  runtime: Runtime;
  device: Device;
  /** Fewer repetitions and smaller sizes (for smoke runs). */
  quick: boolean;
  /** llama.cpp's llama-bench (--llama-bench), for the sections that compare with it. */
  llamaBench?: string;
}

export interface BenchSection {
  name: string;
  /** Runs only when named by --only (a long section, e.g. the sanitizer over the whole catalogue). */
  onlyWhenAsked?: boolean;
  run(ctx: BenchContext): BenchRow[] | Promise<BenchRow[]>;
}

export interface BenchReport {
  date: string;
  backend: string;
  device: string;
  deno: string;
  rows: BenchRow[];
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmtValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e6) return v.toExponential(3);
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export function markdown(r: BenchReport): string {
  const lines = [
    `# faultline benchmarks`,
    ``,
    `- date: ${r.date}`,
    `- backend: ${r.backend}`,
    `- device: ${r.device}`,
    `- deno: ${r.deno}`,
    ``,
    `| section | metric | value | unit | note |`,
    `| --- | --- | ---: | --- | --- |`,
    ...r.rows.map((x) =>
      `| ${x.section} | ${x.metric} | ${fmtValue(x.value)} | ${x.unit} | ${x.note ?? ""} |`
    ),
    ``,
  ];
  return lines.join("\n");
}

async function discover(): Promise<BenchSection[]> {
  const dir = new URL("./", import.meta.url);
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith("_bench.ts")) files.push(e.name);
  files.sort((a, b) => (a === "ffi_bench.ts" ? -1 : b === "ffi_bench.ts" ? 1 : a.localeCompare(b)));
  const sections: BenchSection[] = [];
  for (const f of files) {
    const mod = await import(new URL(f, dir).href);
    if (Array.isArray(mod.sections)) sections.push(...mod.sections);
  }
  return sections;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string", multiple: true },
      quick: { type: "boolean", default: false },
      "llama-bench": { type: "string" },
    },
  });
  const rt = runtime();
  const device = rt.device(0);
  const ctx: BenchContext = {
    runtime: rt,
    device,
    quick: values.quick ?? false,
    llamaBench: values["llama-bench"],
  };
  const rows: BenchRow[] = [];
  for (const s of await discover()) {
    if (values.only?.length ? !values.only.includes(s.name) : s.onlyWhenAsked) continue;
    const t0 = performance.now();
    console.error(`bench: ${s.name} ...`);
    rows.push(...await s.run(ctx));
    console.error(`bench: ${s.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const report: BenchReport = {
    date: new Date().toISOString(),
    backend: rt.backend,
    device: device.props.name,
    deno: Deno.version.deno,
    rows,
  };
  const outDir = new URL("../../reports/bench/", import.meta.url);
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(new URL("bench.json", outDir), JSON.stringify(report, null, 2) + "\n");
  const md = markdown(report);
  await Deno.writeTextFile(new URL("bench.md", outDir), md);
  console.log(md);
}
