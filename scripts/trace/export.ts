/**
 * A trace turned into a single-file experiment skeleton to iterate on: the
 * program's allocations (sizes and names), copies, memsets, streams, events,
 * syncs and launches in the order it made them, each launch with its
 * geometry and arguments (pointers as buffer + offset), and one declaration
 * per kernel from the parameter layout the driver reported. What the trace
 * cannot know is marked TODO: the kernels' source, the data, the types of
 * arguments it only saw as bytes.
 *
 *   deno task trace --export reports/trace/<run-id> [--out my_experiment.ts]
 */
import { dirname, relative, resolve } from "node:path";
import type { OpRecord } from "../../records.ts";
import { type KernelLayout, type ProcessJournal, readProcessJournal } from "./journals.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

export class ExportError extends Error {
  override name = "ExportError";
}

/** The main process's journal of a trace run folder, or the ring file given. */
export function journalToExport(source: string): ProcessJournal {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(source);
  } catch {
    throw new ExportError(`${source}: no such trace run or journal`);
  }
  if (info.isFile) return readProcessJournal(source);
  let verdict: { trace?: { main_pid?: number; processes?: { pid: number; journal: string }[] } };
  try {
    verdict = JSON.parse(Deno.readTextFileSync(`${source}/verdict.json`));
  } catch {
    throw new ExportError(`${source}: not a trace run folder (no readable verdict.json)`);
  }
  const ps = verdict.trace?.processes ?? [];
  const p = ps.find((x) => x.pid === verdict.trace?.main_pid) ?? ps[0];
  if (!p) throw new ExportError(`${source}: the trace journaled no process (the program made no GPU call)`);
  return readProcessJournal(`${source}/${p.journal}`);
}

const ident = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(\d)/, "_$1");

/** A 4-byte value that reads as a float of ordinary size is most likely one. */
function looksFloat(v: number): boolean {
  const f = new Float32Array(new Uint32Array([v]).buffer)[0];
  return v > 0xffffff && Number.isFinite(f) && Math.abs(f) > 1e-6 && Math.abs(f) < 1e7;
}

interface KernelDecl {
  name: string;
  ident: string;
  args: { name: string; type: string; note?: string }[];
}

function declareKernel(name: string, layout: KernelLayout | undefined, launches: OpRecord[]): KernelDecl {
  const pointerArgs = new Set(launches.flatMap((r) => r.pointers.map((p) => p.arg.replace(/\+\d+$/, ""))));
  const first = launches[0];
  const count = layout?.params?.length ??
    (first ? first.pointers.length + Object.keys(first.scalars).length : 0);
  const args = Array.from({ length: count }, (_, i) => {
    const name = `arg${i}`;
    const size = layout?.params?.[i]?.[1];
    if (pointerArgs.has(name) && (size === undefined || size === 8)) return { name, type: "ptr" };
    if (size !== undefined && size > 8) return { name, type: "u64", note: `TODO: a ${size}-byte struct` };
    if (size === 8) return { name, type: "u64" };
    const v = first?.scalars[name];
    if (size !== undefined && size < 4) return { name, type: "u32", note: `TODO: ${size} byte(s)` };
    return { name, type: v !== undefined && looksFloat(v) ? "f32" : "u32" };
  });
  return { name, ident: `k_${ident(name)}`, args };
}

class Names {
  #buffers = new Map<number, string>(); // alloc id -> variable
  #streams = new Map<number, string>();
  #events = new Map<number, string>();
  buffer(id: number): string {
    return this.#buffers.get(id) ?? `a${id}`;
  }
  addBuffer(id: number): string {
    this.#buffers.set(id, `a${id}`);
    return `a${id}`;
  }
  stream(handle: number): string {
    return handle === 0
      ? "null"
      : this.#streams.get(handle) ?? "null /* a stream the trace did not see made */";
  }
  addStream(handle: number): string {
    const v = `s${this.#streams.size + 1}`;
    this.#streams.set(handle, v);
    return v;
  }
  event(handle: number): string | null {
    return this.#events.get(handle) ?? null;
  }
  addEvent(handle: number): string {
    const v = `e${this.#events.size + 1}`;
    this.#events.set(handle, v);
    return v;
  }
}

function pointerExpr(p: OpRecord["pointers"][number], names: Names): string {
  if (p.alloc === null || p.alloc === undefined || p.offset === undefined) {
    return `${p.ptr} /* 0x${(p.ptr ?? 0).toString(16)}: in no allocation in the trace */`;
  }
  const v = names.buffer(p.alloc);
  if (p.size !== undefined && (p.offset < 0 || p.offset > p.size)) {
    return `${v}.ptr + ${p.offset} /* outside ${v} */`;
  }
  return p.offset === 0 ? v : `${v}.at(${p.offset})`;
}

function opLine(r: OpRecord, names: Names, decls: Map<string, KernelDecl>): string[] {
  const s = r.scalars;
  const src = r.pointers.find((p) => p.arg === "src"), dst = r.pointers.find((p) => p.arg === "dst");
  const streamOpt = r.stream !== 0 && s.sync === 0 ? `, stream: ${names.stream(r.stream)}` : "";
  const at = (p: typeof src) => (p?.offset ? `offset: ${p.offset}` : "");
  const opts = (p: typeof src) => {
    const o = [at(p), streamOpt.slice(2)].filter(Boolean).join(", ");
    return o ? `, { ${o} }` : "";
  };
  switch (r.kind) {
    case "alloc":
      return [
        `const ${names.addBuffer(r.id)} = dev.malloc(${s.bytes ?? 0}, { name: ${JSON.stringify(r.name)} });`,
      ];
    case "free":
      return freeLine(r, names);
    case "h2d":
      return dst?.alloc
        ? [`${names.buffer(dst.alloc)}.upload(new Uint8Array(${s.bytes})${opts(dst)}); // TODO: the data`]
        : [];
    case "d2h":
      return src?.alloc
        ? [`${names.buffer(src.alloc)}.download(new Uint8Array(${s.bytes})${opts(src)});`]
        : [];
    case "memset":
      return dst?.alloc
        ? [`${names.buffer(dst.alloc)}.fill(${(s.value ?? 0) & 0xff}${opts(dst)}); // ${r.name}`]
        : [];
    case "stream_create":
      return r.extra?.result !== undefined
        ? [`const ${names.addStream(Number(r.extra.result))} = dev.createStream();`]
        : [];
    case "event_create":
      return r.extra?.result !== undefined
        ? [`const ${names.addEvent(Number(r.extra.result))} = dev.createEvent();`]
        : [];
    case "event_record": {
      const e = r.event !== undefined ? names.event(r.event) : null;
      return e ? [`${e}.record(${names.stream(r.stream)});`] : [];
    }
    case "event_wait": {
      const e = r.event !== undefined ? names.event(r.event) : null;
      return e && r.stream !== 0 ? [`${names.stream(r.stream)}.waitEvent(${e});`] : [];
    }
    case "sync":
      if (r.name === "device_synchronize") return ["dev.synchronize();"];
      if (r.name === "stream_synchronize") {
        return [
          r.stream === 0 ? "dev.defaultStream.synchronize();" : `${names.stream(r.stream)}.synchronize();`,
        ];
      }
      return [];
    case "launch":
      return launchLine(r, names, decls);
    default:
      return [];
  }
}

function freeLine(r: OpRecord, names: Names): string[] {
  const id = r.extra?.freed_alloc;
  return id !== undefined ? [`${names.buffer(Number(id))}.free();`] : [];
}

function launchLine(r: OpRecord, names: Names, decls: Map<string, KernelDecl>): string[] {
  const d = decls.get(r.name);
  const ord = typeof r.extra?.ordinal === "number" ? r.extra.ordinal : "?";
  if (!d) return [`// launch ${ord}: ${r.name} (a graph replay: its captured launches are above)`];
  const args = d.args.map((a) => {
    const p = r.pointers.find((x) => x.arg === a.name);
    if (p) return `${a.name}: ${pointerExpr(p, names)}`;
    return `${a.name}: ${r.scalars[a.name] ?? 0}`;
  });
  const g = r.extra?.geometry as { grid: number[]; block: number[]; sharedBytes: number } | undefined;
  const geo = g
    ? `, { grid: [${g.grid.join(", ")}], block: [${g.block.join(", ")}], sharedBytes: ${g.sharedBytes} }`
    : "";
  return [
    `// launch ${ord} (op #${r.id})${r.status !== 0 && r.status !== null ? `: returned ${r.status}` : ""}`,
    `launch(dev, ${names.stream(r.stream)}, ${d.ident}, { ${args.join(", ")} }${geo});`,
  ];
}

/** Which allocation each free releases (the journal names frees by the allocation, and by its address). */
function markFrees(records: OpRecord[], p: ProcessJournal): void {
  const freedBy = new Map(
    p.decoded.allocations.filter((a) => a.freedAt !== null).map((a) => [a.freedAt!, a.id]),
  );
  for (const r of records) {
    if (r.kind === "free" && freedBy.has(r.id)) {
      r.extra = { ...(r.extra ?? {}), freed_alloc: freedBy.get(r.id) };
    }
  }
}

export interface ExportOptions {
  /** Where the skeleton will be written (its imports are relative to it). */
  out: string;
  /** Ops exported at most (default 2000). */
  limit?: number;
  name?: string;
}

/** The skeleton's source text. */
export function experimentSkeleton(p: ProcessJournal, o: ExportOptions): string {
  const records = p.records.filter((r) => r.status === 0 || r.kind === "launch");
  markFrees(records, p);
  const limit = o.limit ?? 2000;
  const launches = new Map<string, OpRecord[]>();
  for (const r of records) {
    if (r.kind === "launch" && r.name !== "cuGraphLaunch") {
      launches.set(r.name, [...(launches.get(r.name) ?? []), r]);
    }
  }
  const layouts = new Map(p.notes.kernels.map((k) => [k.name, k]));
  const decls = new Map(
    [...launches].map(([name, rs]) => [name, declareKernel(name, layouts.get(name), rs)]),
  );
  const rel = relative(dirname(resolve(o.out)), REPO) || ".";
  const imp = (f: string) => JSON.stringify(`${rel.startsWith(".") ? rel : `./${rel}`}/${f}`);
  const names = new Names();
  const body = records.slice(0, limit).flatMap((r) => opLine(r, names, decls));
  if (records.length > limit) body.push(`// ... ${records.length - limit} more op(s) not exported (--limit)`);
  const exe = p.notes.proc?.argv?.join(" ") ?? "the traced program";
  const name = o.name ?? ident((p.notes.proc?.exe ?? "traced").split("/").pop() ?? "traced");
  return [
    "/**",
    ` * Experiment skeleton exported from the trace of \`${exe}\` (pid ${p.pid}):`,
    ` * its ${records.filter((r) => r.kind === "alloc").length} allocation(s) and ` +
    `${records.filter((r) => r.kind === "launch").length} launch(es) in the order it made them.`,
    " * TODO: point `source` at the kernels (HIP dialect) and check each argument's type.",
    ` *   deno run -A ${o.out}`,
    " */",
    `import { defineExperiment, main } from ${imp("scripts/trials/experiment.ts")};`,
    `import { defineKernel } from ${imp("mod.ts")};`,
    "",
    ...[...decls.values()].map((d) =>
      `export const ${d.ident} = defineKernel({ name: ${JSON.stringify(d.name)}, args: [\n` +
      d.args.map((a) =>
        `  { name: "${a.name}", type: "${a.type}"${a.type === "ptr" ? ', access: "rw"' : ""} },` +
        (a.note ? ` // ${a.note}` : "")
      ).join("\n") + "\n] });"
    ),
    "",
    "export const experiment = defineExperiment({",
    `  name: ${JSON.stringify(name)},`,
    `  title: ${JSON.stringify(`the launches of ${exe}, from its trace`)},`,
    "  async run(ctx) {",
    "    const { launch, loadKernels } = ctx.ffi;",
    "    const dev = ctx.device;",
    `    await loadKernels(dev, { source: new URL("./kernels.hip", import.meta.url), kernels: [${
      [...decls.values()].map((d) => d.ident).join(", ")
    }] }); // TODO: the kernels' source`,
    ...body.map((l) => `    ${l}`),
    "  },",
    "});",
    "",
    "if (import.meta.main) await main(experiment);",
    "",
  ].join("\n");
}
