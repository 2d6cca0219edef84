/**
 * The import graph: no module imports itself through others (type-only
 * imports count), no folder of ffi/ or scripts/ imports itself through
 * another folder, ffi/ (mechanism) never imports scripts/ (policy), records.ts
 * imports nothing, and the C sources have no include cycle.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

type Graph = Map<string, string[]>;

/** The strongly connected components with more than one node (or a self-loop): Tarjan's algorithm. */
export function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next), low.set(v, next), next++;
    stack.push(v), onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do scc.push(w = stack.pop()!), onStack.delete(w); while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function sourceFiles(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) {
      out.push(...sourceFiles(p, ext));
    } else if (e.isFile && ext.test(e.name)) out.push(p);
  }
  return out;
}

/** The repository's TypeScript module graph (code and type-only imports), from `deno info --json`. */
async function moduleGraph(): Promise<Graph> {
  const files = [
    join(ROOT, "mod.ts"),
    join(ROOT, "records.ts"),
    ...["ffi", "scripts", "tests"].flatMap((d) => sourceFiles(join(ROOT, d), /\.tsx?$/)),
  ];
  const tmp = await Deno.makeTempDir();
  try {
    const entry = join(tmp, "entry.ts");
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(f).href)};`).join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(ROOT, "deno.json"), entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    const rootUrl = pathToFileURL(ROOT).href + "/";
    const local = (s: string | undefined) => s?.startsWith(rootUrl) ? s.slice(rootUrl.length) : undefined;
    const graph: Graph = new Map();
    for (const m of info.modules) {
      const from = local(m.specifier);
      if (!from) continue;
      const deps = new Set<string>();
      for (
        const d of (m.dependencies ?? []) as { code?: { specifier: string }; type?: { specifier: string } }[]
      ) {
        for (const s of [local(d.code?.specifier), local(d.type?.specifier)]) {
          if (s !== undefined) deps.add(s);
        }
      }
      graph.set(from, [...deps]);
    }
    return graph;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Folder graph of ffi/ and scripts/: an edge per import from one folder into another. */
function folderGraph(graph: Graph): Graph {
  const folders: Graph = new Map();
  const inScope = (p: string) => p.startsWith("ffi/") || p.startsWith("scripts/");
  for (const [from, deps] of graph) {
    if (!inScope(from)) continue;
    const a = dirname(from);
    const edges = folders.get(a) ?? [];
    for (const d of deps) {
      if (inScope(d) && dirname(d) !== a && !edges.includes(dirname(d))) edges.push(dirname(d));
    }
    folders.set(a, edges);
  }
  return folders;
}

/** The C include graph of hip/ and kernels/: quoted includes resolved next to the including file. */
function includeGraph(): Graph {
  const graph: Graph = new Map();
  const files = ["hip", "kernels"].flatMap((d) => sourceFiles(join(ROOT, d), /\.(c|cpp|h|hip)$/));
  for (const f of files) {
    const deps: string[] = [];
    for (const m of Deno.readTextFileSync(f).matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const candidates = [join(dirname(f), m[1]), join(ROOT, "hip", m[1]), join(ROOT, "kernels", m[1])];
      const hit = candidates.find((c) => files.includes(c));
      if (hit) deps.push(relative(ROOT, hit));
    }
    graph.set(relative(ROOT, f), deps);
  }
  return graph;
}

const graph = moduleGraph();

Deno.test("import graph: the cycle finder finds a cycle, a self-loop and nothing in a tree", () => {
  const g: Graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a", "d"]], ["d", []], ["e", ["e"]]]);
  assert.deepEqual(cycles(g), [["a", "b", "c"], ["e"]]);
  assert.deepEqual(cycles(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), []);
});

Deno.test("import graph: no TypeScript module imports itself through others", async () => {
  const g = await graph;
  assert.ok(
    g.has("mod.ts") && g.has("ffi/device.ts") && g.has("tests/import_graph.test.ts"),
    "graph is complete",
  );
  assert.deepEqual(cycles(g), [], "import cycles (each line one cycle's modules)");
});

Deno.test("import graph: no folder of ffi/ or scripts/ imports itself through another folder", async () => {
  assert.deepEqual(cycles(folderGraph(await graph)), []);
});

Deno.test("import graph: ffi/ imports nothing of scripts/ or tests/; records.ts imports nothing", async () => {
  const g = await graph;
  const wrong = [...g].flatMap(([from, deps]) =>
    from.startsWith("ffi/")
      ? deps.filter((d) => !d.startsWith("ffi/") && d !== "records.ts").map((d) => `${from} -> ${d}`)
      : []
  );
  assert.deepEqual(wrong, []);
  assert.deepEqual(g.get("records.ts"), []);
});

Deno.test("import graph: no C include cycle in hip/ and kernels/", () => {
  const g = includeGraph();
  assert.ok(g.has("hip/faultline.h"));
  assert.deepEqual(cycles(g), []);
});
