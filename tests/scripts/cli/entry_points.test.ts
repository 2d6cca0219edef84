/**
 * Every entry point behaves like a CLI (child processes): --help prints the usage and exits 0; an
 * unknown flag, an ill-typed value, an unknown param, a missing file or a used port prints one line
 * naming the program and what is wrong, then the usage, on stderr, exits 2, with no stack trace,
 * and leaves nothing behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", FAULTLINE_QUIET: "1", ...env },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const script = (path: string, ...args: string[]) => ["run", "-A", join(REPO, path), ...args];

/** Exit 2; stderr's first line is `name: <message>`, the usage follows; no stack trace. */
function assertUsageError(r: Run, name: string, message: RegExp, what: string): void {
  const lines = r.stderr.split("\n");
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.ok(lines[0].startsWith(`${name}: `), `${what}: first line ${JSON.stringify(lines[0])}`);
  assert.match(lines[0].slice(name.length + 2), message, what);
  assert.match(lines[1] ?? "", /^usage: /, `${what}: no usage after the message`);
  assert.doesNotMatch(r.stderr, /^\s+at .*:\d+:\d+\)?$/m, `${what}: a stack trace`);
  assert.doesNotMatch(r.stderr, /Uncaught|error: /, what);
}

const experiments = [...Deno.readDirSync(join(REPO, "scripts/experiments"))]
  .filter((e) => e.isFile && e.name.endsWith(".ts"))
  .map((e) => e.name.slice(0, -3))
  .sort();

/** Each entry point: its name in messages and how to run it. */
const ENTRY_POINTS: { name: string; args: string[] }[] = [
  { name: "demo", args: ["task", "-q", "demo"] },
  { name: "bench", args: ["task", "-q", "bench"] },
  { name: "serve", args: ["task", "-q", "serve"] },
  { name: "build", args: script("scripts/build.ts") },
  { name: "generate", args: script("scripts/scheduler/generate.ts") },
  { name: "synth", args: script("scripts/model/synth.ts") },
  { name: "journal", args: script("scripts/journal.ts") },
  { name: "code_objects", args: script("scripts/hip_build/code_objects.ts") },
  { name: "audit_bench", args: script("scripts/bench/audit_bench.ts") },
  { name: "faultline trace", args: script("scripts/trace/main.ts") },
  { name: "generate", args: ["task", "-q", "generate"] },
  { name: "perf_table", args: script("scripts/bench/perf_table.ts") },
  { name: "check_public", args: script("scripts/ci/check_public.ts") },
  { name: "multi_gpu_check", args: script("scripts/ci/multi_gpu_check.ts") },
  ...experiments.map((e) => ({ name: e, args: script(`scripts/experiments/${e}.ts`) })),
];

Deno.test("cli: every entry point prints its usage for --help and refuses an unknown flag", async () => {
  assert.ok(experiments.includes("rope_forensics") && experiments.length >= 6, experiments.join(" "));
  await Promise.all(ENTRY_POINTS.map(async ({ name, args }) => {
    const help = await run([...args, "--help"]);
    assert.equal(help.code, 0, `${name} --help: ${help.stderr}`);
    assert.match(help.stdout, /^usage: /m, `${name} --help`);
    assertUsageError(await run([...args, "--bogus"]), name, /^unknown option --bogus$/, `${name} --bogus`);
  }));
});

Deno.test("cli: an experiment refuses an ill-typed or unknown --param, a bad scale or time limit, before any trial", async () => {
  const reports = await Deno.makeTempDir({ prefix: "faultline-cli-" });
  const rope = script("scripts/experiments/rope_forensics.ts", "--reports", reports);
  const race = script("scripts/experiments/d2h_race_matrix.ts", "--reports", reports);
  try {
    const cases: [string, string[], RegExp][] = [
      [
        "rope_forensics",
        [...rope, "--param", "model=nonsense"],
        /^--param model=nonsense: must be one of auto, tiny/,
      ],
      ["rope_forensics", [...rope, "--param", "nosuch=1"], /^--param nosuch: no such param/],
      [
        "rope_forensics",
        [...rope, "--param", "step=abc"],
        /^--param step=abc: must be an integer from 0 to 58$/,
      ],
      ["rope_forensics", [...rope, "--timeout", "abc"], /^--timeout must be a positive number, got "abc"$/],
      ["rope_forensics", [...rope, "--mode", "fast"], /^--mode must be one of off, audit, enforce, blocking/],
      ["rope_forensics", [...rope, "--debug-env", "xyz"], /^unknown debug environment preset xyz/],
      ["rope_forensics", [...rope, "--reports", join(REPO, "deno.json")], /^--reports: not a folder: /],
      ["rope_forensics", [...rope, "--devices", "x"], /^--devices: "x" is not a device number or range/],
      ["d2h_race_matrix", [...race, "--scale", "small"], /^--scale must be a positive number, got "small"$/],
      ["d2h_race_matrix", [...race, "--scale", "0"], /^--scale must be a positive number, got "0"$/],
      [
        "d2h_race_matrix",
        [...race, "--param", "race=sometimes"],
        /^--param race=sometimes: must be one of none/,
      ],
      [
        "demo",
        ["task", "-q", "demo", "--reports", reports, "--param", "model=nonsense"],
        /^--param model=nonsense/,
      ],
    ];
    await Promise.all(cases.map(async ([name, args, message]) => {
      assertUsageError(await run(args), name, message, args.slice(-2).join(" "));
    }));
    assert.deepEqual([...Deno.readDirSync(reports)], [], "a refused run leaves no report folder");
  } finally {
    await Deno.remove(reports, { recursive: true });
  }
});

Deno.test("cli: serve refuses a used port and a missing reports folder", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = String((listener.addr as Deno.NetAddr).port);
    const serve = script("scripts/server/main.ts");
    assertUsageError(
      await run([...serve, "--port", port]),
      "serve",
      new RegExp(`^port ${port} on 127\\.0\\.0\\.1 is in use`),
      "used port",
    );
    assertUsageError(
      await run([...serve, "--port", "0", "--reports", "/nonexistent/reports"]),
      "serve",
      /^--reports: no such folder/,
      "missing folder",
    );
    assertUsageError(
      await run([...serve, "--port", "70000"]),
      "serve",
      /^--port must be an integer from 0 to 65535/,
      "port range",
    );
  } finally {
    listener.close();
  }
});

Deno.test("cli: bench --only with an unknown section runs nothing and leaves bench.json as it was", async () => {
  const reports = await Deno.makeTempDir({ prefix: "faultline-bench-" });
  try {
    await Deno.mkdir(join(reports, "bench"));
    const before = '{"rows": ["the last full run"]}\n';
    await Deno.writeTextFile(join(reports, "bench", "bench.json"), before);
    const r = await run(["task", "-q", "bench", "--only", "nosuch"], { FAULTLINE_REPORTS: reports });
    assertUsageError(r, "bench", /^--only: no section nosuch \(sections: ffi, /, "--only nosuch");
    assert.doesNotMatch(r.stderr, /bench: \w+ \.\.\./, "no section ran");
    assert.equal(await Deno.readTextFile(join(reports, "bench", "bench.json")), before);
  } finally {
    await Deno.remove(reports, { recursive: true });
  }
});

Deno.test("cli: synth, generate, journal and trace refuse bad values and missing files before writing anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faultline-cli-" });
  const out = join(dir, "m.gguf");
  try {
    const synth = script("scripts/model/synth.ts", "--out", out);
    const cases: [string, string[], RegExp][] = [
      ["synth", [...synth, "--alignment", "4294967296"], /^--alignment must be an integer from 1 to 65536/],
      ["synth", [...synth, "--alignment", "48"], /^--alignment must be a power of two, got 48$/],
      ["synth", [...synth, "--layers", "abc"], /^--layers must be a positive integer, got "abc"$/],
      ["synth", [...synth, "--preset", "llama9"], /^unknown preset llama9/],
      ["synth", [...synth, "--heads", "5"], /^dim 64 is not a multiple of nHeads 5/],
      ["synth", script("scripts/model/synth.ts", "--out", join(dir, "no", "m.gguf")), /^--out: no folder /],
      ["synth", script("scripts/model/synth.ts"), /^--out is required$/],
      [
        "generate",
        script("scripts/scheduler/generate.ts", "--model", join(dir, "none.gguf")),
        /^--model: no such file/,
      ],
      [
        "generate",
        script("scripts/scheduler/generate.ts", "--preset", "tiny", "--tokens", "x"),
        /^--tokens must be/,
      ],
      ["generate", script("scripts/scheduler/generate.ts"), /^give exactly one of --model and --preset$/],
      ["journal", script("scripts/journal.ts", join(dir, "journal.bin")), /^<journal.bin>: no such file/],
      [
        "journal",
        script("scripts/journal.ts", join(REPO, "deno.json")),
        /journal ring starts with a \d+-byte header/,
      ],
      ["code_objects", script("scripts/hip_build/code_objects.ts", join(REPO, "deno.json")), /not a 64-bit/],
      [
        "faultline trace",
        script("scripts/trace/main.ts", "--export", join(dir, "none")),
        /no such trace run/,
      ],
      [
        "faultline trace",
        script("scripts/trace/main.ts", "--capacity", "0", "true"),
        /^--capacity must be a pos/,
      ],
      ["faultline trace", script("scripts/trace/main.ts", "--quiet"), /^no program given$/],
      ["perf_table", script("scripts/bench/perf_table.ts", join(REPO, "deno.json")), /not a bench report/],
    ];
    await Promise.all(cases.map(async ([name, args, message]) => {
      assertUsageError(await run(args), name, message, args.slice(3).join(" "));
    }));
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was written");
    const junk = join(dir, "junk.gguf");
    await Deno.writeTextFile(junk, "junk");
    const r = await run(script("scripts/scheduler/generate.ts", "--model", junk));
    assertUsageError(r, "generate", /^--model: .*not a GGUF file/, "a file that is not GGUF");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
