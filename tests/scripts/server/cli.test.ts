/** `deno task serve`: binding, flags, warnings, shutdown, and a module graph free of the GPU library. */

import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { join } from "node:path";
import { makeReports } from "../../fixtures/report_folders.ts";

const REPO = join(fromFileUrl(new URL(".", import.meta.url)), "../../..");
const MAIN = join(REPO, "scripts", "server", "main.ts");

function serve(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Reads the child's stdout until the start line, returning the URL it prints. */
async function startLine(child: Deno.ChildProcess): Promise<{ url: string; line: string }> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    while (!out.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      out += value;
    }
  } finally {
    reader.releaseLock();
  }
  const m = /(http:\/\/\S+\/)/.exec(out);
  assert.ok(m, `no URL in ${JSON.stringify(out)}`);
  return { url: m[1], line: out };
}

async function stop(child: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  child.kill("SIGTERM");
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.cancel().catch(() => {}),
  ]);
  return { code: status.code, stderr };
}

Deno.test("serve binds loopback by default, prints its address, answers health, stops on SIGTERM", async () => {
  const r = await makeReports();
  const child = serve(["--port", "0", "--reports", r.root]);
  try {
    const { url, line } = await startLine(child);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(line.includes(r.root), "the reports folder is printed");
    const health = await (await fetch(new URL("api/health", url))).json();
    assert.deepEqual([health.status, health.backend, health.device], ["ok", "sim", "sim:0 (CPU)"]);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    await page.body?.cancel();
  } finally {
    const { code, stderr } = await stop(child);
    await r.cleanup();
    assert.equal(code, 0, stderr);
    assert.ok(!/WARNING/.test(stderr));
  }
});

Deno.test("serve refuses a non-loopback address without --allow-remote", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--host", "0.0.0.0", "--port", "0"],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /refusing to bind 0\.0\.0\.0.*--allow-remote/s);
});

Deno.test("serve binds another address with --allow-remote and prints a warning", async () => {
  const r = await makeReports();
  const child = serve(["--host", "0.0.0.0", "--allow-remote", "--port", "0", "--reports", r.root]);
  try {
    const { url } = await startLine(child);
    assert.match(url, /^http:\/\/0\.0\.0\.0:\d+\/$/);
    const port = new URL(url).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    const { code, stderr } = await stop(child);
    await r.cleanup();
    assert.equal(code, 0);
    assert.match(stderr, /WARNING: binding 0\.0\.0\.0, reachable from other machines/);
  }
});

Deno.test("serve rejects bad flags", async () => {
  for (const args of [["--port", "http"], ["--port", "70000"], ["--bogus"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: REPO,
      stderr: "piped",
    })
      .output();
    assert.equal(out.code, 2, args.join(" "));
  }
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--help"],
    cwd: REPO,
    stdout: "piped",
  })
    .output();
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /--allow-remote/);
});

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string }; isDynamic?: boolean }[];
}

Deno.test("the server's module graph never reaches the GPU library", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", MAIN],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const modules = new Map<string, GraphModule>(
    (JSON.parse(new TextDecoder().decode(out.stdout)).modules as GraphModule[]).map((m) => [m.specifier, m]),
  );
  const rel = (s: string) => fromFileUrl(s).slice(REPO.length + 1);
  // What the server loads at start: only its own files.
  const staticLocal = new Set<string>();
  const walk = (spec: string) => {
    if (!spec.startsWith("file://") || staticLocal.has(spec)) return;
    staticLocal.add(spec);
    for (const d of modules.get(spec)?.dependencies ?? []) {
      if (!d.isDynamic && d.code) walk(d.code.specifier);
    }
  };
  walk(new URL(`file://${MAIN}`).href);
  assert.ok(staticLocal.size > 5);
  for (const spec of staticLocal) {
    // its own files, and the command-line helper every entry point shares (node:util and node:fs only)
    const ok = rel(spec).startsWith("scripts/server/") || rel(spec) === "scripts/cli/flags.ts";
    assert.ok(ok, `server imports ${rel(spec)}`);
  }
  // Everything it may load later (the journal ring decoder) opens no library and does not import the loader.
  const all = [...modules.keys()].filter((s) => s.startsWith("file://")).map(rel);
  for (const path of all) {
    assert.ok(!["ffi/library.ts", "ffi/runtime.ts", "mod.ts"].includes(path), `server graph holds ${path}`);
    assert.ok(
      !(await Deno.readTextFile(join(REPO, path))).includes("Deno.dlopen("),
      `${path} calls Deno.dlopen`,
    );
  }
});
