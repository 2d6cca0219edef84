/**
 * The short table gpu_perf.sh prints last, from reports/bench/bench.json (or the file given): per
 * weight type, decode tokens/s at depth 0 and 2048 with the ratio to the floor, prefill tokens/s at
 * 512 and 2048, llama.cpp's figures and faultline's ratio over them where the llamacpp section ran;
 * the attention decode ratio; the copy bandwidth and what the prefill GEMM ran on.
 *
 *   deno run -A scripts/bench/perf_table.ts [reports/bench/bench.json]
 */
import { fileFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
import type { BenchReport, BenchRow } from "./main.ts";

const fmt = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(digits);

export function perfTable(report: BenchReport): string {
  const rows = report.rows;
  const find = (section: string, metric: string): BenchRow | undefined =>
    rows.find((r) => r.section === section && r.metric === metric);
  const val = (section: string, metric: string) => find(section, metric)?.value;
  const lines: string[] = [
    `faultline performance: ${report.backend} on ${report.device} (${report.date})`,
    `copy bandwidth ${fmt(val("engine", "D2D copy"))} GB/s (read + written); prefill GEMM: ${
      find("engine", "prefill GEMM on cuBLAS")?.note ?? "?"
    }`,
  ];
  const depths = [
    ...new Set(
      rows.filter((r) => /^decode \S+ depth \d+$/.test(r.metric)).map((r) =>
        Number(r.metric.split(" ").pop())
      ),
    ),
  ];
  const [d0, d1] = [Math.min(...depths), Math.max(...depths)];
  const prompts = [
    ...new Set(
      rows.filter((r) => /^prefill \S+ \d+$/.test(r.metric)).map((r) => Number(r.metric.split(" ").pop())),
    ),
  ];
  const [p0, p1] = [Math.min(...prompts), Math.max(...prompts)];
  lines.push(
    "",
    `| weights | decode d${d0} tok/s (/ floor) | decode d${d1} tok/s (/ floor) | prefill ${p0} tok/s | prefill ${p1} tok/s |`,
    "| --- | ---: | ---: | ---: | ---: |",
  );
  for (const t of ["f16", "q8_0", "q4_k"]) {
    const dec = (d: number) =>
      `${fmt(val("engine", `decode ${t} depth ${d}`))} (${
        fmt(val("engine", `decode ${t} depth ${d} / floor`), 2)
      })`;
    lines.push(
      `| ${t} | ${dec(d0)} | ${dec(d1)} | ${fmt(val("engine", `prefill ${t} ${p0}`))} | ${
        fmt(val("engine", `prefill ${t} ${p1}`))
      } |`,
    );
  }
  if (rows.some((r) => r.section === "llamacpp")) {
    lines.push(
      "",
      "| same GGUF | faultline tok/s | llama.cpp tok/s | faultline / llama.cpp |",
      "| --- | ---: | ---: | ---: |",
    );
    for (const r of rows.filter((r) => r.section === "llamacpp" && r.metric.startsWith("llama.cpp "))) {
      const what = r.metric.slice("llama.cpp ".length);
      const ratio = find("llamacpp", `faultline / llama.cpp ${what}`);
      lines.push(
        `| ${what} | ${ratio?.note?.replace(/^faultline ([\d.]+) .*/, "$1") ?? "-"} | ${fmt(r.value)} | ${
          fmt(ratio?.value, 2)
        } |`,
      );
    }
  }
  const attn = rows.filter((r) => r.section === "engine_attention" && r.unit === "ratio");
  if (attn.length) {
    lines.push(
      "",
      ...attn.map((r) => `${r.metric}: ${fmt(r.value, 3)} (${r.note?.split(";")[0]})`),
    );
  }
  return lines.join("\n");
}

const CLI = {
  name: "perf_table",
  usage: `usage: deno run -A scripts/bench/perf_table.ts [bench.json]
  prints the short performance table of a bench run (default reports/bench/bench.json)`,
  options: {},
  positionals: { max: 1 },
} as const;

if (import.meta.main) {
  await runCli(CLI, async (args) => {
    const path = fileFlag(parseCli(CLI, args).positionals[0] ?? "reports/bench/bench.json", "<bench.json>")!;
    let report: BenchReport;
    try {
      report = JSON.parse(await Deno.readTextFile(path)) as BenchReport;
    } catch (e) {
      throw new UsageError(`${path}: not a bench report (${(e as Error).message})`);
    }
    if (!Array.isArray(report?.rows)) throw new UsageError(`${path}: not a bench report (no rows)`);
    console.log(perfTable(report));
  });
}
