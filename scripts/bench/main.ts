/**
 * `deno task bench`: runs every benchmark section and writes
 * reports/bench/bench.json and reports/bench/bench.md (under $FAULTLINE_REPORTS
 * when set: backend, device, date, one row per measurement); prints the
 * Markdown table.
 *
 * Sections plug in by file: every `scripts/bench/*_bench.ts` that exports
 * `sections: BenchSection[]` is run, ffi_bench.ts first, the rest by file
 * name. Flags: --only <section> (repeatable), --quick (fewer repetitions),
 * --llama-bench PATH (llama.cpp's llama-bench, for the llamacpp section).
 * A section file imports only types from this file (`import type`): main.ts
 * imports the section files, so a value import would be a cycle.
 */
import { resolve } from "node:path";
import { fileFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
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

const CLI = {
  name: "bench",
  usage: `usage: deno task bench [--only SECTION]... [--quick] [--llama-bench PATH]
  runs every benchmark section (those marked "when asked" only with --only) and writes
  reports/bench/bench.json and bench.md; prints the table
  --only SECTION   run only this section (repeatable); an unknown name is refused before anything runs
  --quick          fewer repetitions and smaller sizes
  --llama-bench P  llama.cpp's llama-bench, for the sections that compare with it`,
  options: {
    only: { type: "string", multiple: true },
    quick: { type: "boolean" },
    "llama-bench": { type: "string" },
  },
} as const;

/** The sections to run: every one not run only when asked, or the ones --only names (each must exist). */
function chosen(all: BenchSection[], only: string[] | undefined): BenchSection[] {
  if (!only?.length) return all.filter((s) => !s.onlyWhenAsked);
  const names = all.map((s) => `${s.name}${s.onlyWhenAsked ? " (when asked)" : ""}`);
  const unknown = only.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) {
    throw new UsageError(`--only: no section ${unknown.join(", ")} (sections: ${names.join(", ")})`);
  }
  return all.filter((s) => only.includes(s.name));
}

async function main(args: string[]): Promise<number> {
  const { values } = parseCli(CLI, args);
  const sections = chosen(await discover(), values.only);
  const llama = fileFlag(values["llama-bench"], "llama-bench");
  const rt = runtime();
  const device = rt.device(0);
  const ctx: BenchContext = {
    runtime: rt,
    device,
    quick: values.quick ?? false,
    llamaBench: llama,
  };
  const rows: BenchRow[] = [];
  for (const s of sections) {
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
  const reports = Deno.env.get("FAULTLINE_REPORTS");
  const outDir = reports
    ? new URL(`file://${resolve(reports, "bench")}/`)
    : new URL("../../reports/bench/", import.meta.url);
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(new URL("bench.json", outDir), JSON.stringify(report, null, 2) + "\n");
  const md = markdown(report);
  await Deno.writeTextFile(new URL("bench.md", outDir), md);
  console.log(md);
  return 0;
}

if (import.meta.main) await runCli(CLI, main);
