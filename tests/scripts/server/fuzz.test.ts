// Fuzzing the status server's routes with random request paths (seeded; see tests/helpers/fuzz.ts):
// traversal segments, encodings, links out of the reports folder, a FIFO, odd queries. Every request
// is answered (no hang), never with a 5xx, and nothing outside the reports folder is ever shown.

import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../../../scripts/server/app.tsx";
import { RUN_FILES } from "../../../scripts/server/paths.ts";
import { FAULT_EXP, FAULT_ID, LIVE_EXP, LIVE_ID, makeReports } from "../../fixtures/report_folders.ts";
import { fuzz, fuzzCases, mutate, type Prng } from "../../helpers/fuzz.ts";

const SECRET = "OUTSIDE_SECRET_7c1f";

const r = await makeReports();
const outside = await Deno.makeTempDir({ prefix: "faultline-outside-" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(r.root, { recursive: true });
  Deno.removeSync(outside, { recursive: true });
});
await Deno.writeTextFile(join(outside, "secret.json"), JSON.stringify({ status: "FAULT", device: SECRET }));
await Deno.mkdir(join(outside, "run"));
await Deno.writeTextFile(
  join(outside, "run", "verdict.json"),
  JSON.stringify({ status: "OK", device: SECRET }),
);
await Deno.symlink(outside, join(r.root, "escape"));
await Deno.symlink(join(outside, "run"), join(r.root, FAULT_EXP, "escape_run"));
await Deno.remove(join(r.faultDir, "trace.json"));
await Deno.symlink(join(outside, "secret.json"), join(r.faultDir, "trace.json"));
const fifoRun = join(r.root, FAULT_EXP, "fifo_run");
await Deno.mkdir(fifoRun);
await new Deno.Command("mkfifo", { args: [join(fifoRun, "journal.jsonl")] }).output();
const app = createApp({ reportsDir: r.root });

const NAMES = [FAULT_EXP, FAULT_ID, LIVE_EXP, LIVE_ID, "escape", "escape_run", "fifo_run", "bench", "x"];
const SEGMENTS = [
  "..",
  ".",
  "%2e%2e",
  "%2E%2E%2F",
  "..%2F..",
  "%2F",
  "%5C",
  "%00",
  "%ff",
  "%",
  "é",
  "%C3%A9",
  "a".repeat(300),
  "",
  "~",
  ":",
  "@",
  ";x=1",
];
const FILES = [...Object.keys(RUN_FILES), "secret.json", "../verdict.json", "trials"];
const QUERIES = ["", "?from=0", "?from=18446744073709551616", "?from=-1", "?limit=0", "?limit=99999999"];

/** A path from the routes' shapes, names real and made up, and hostile segments; then byte mutations on it. */
function basePaths(): Uint8Array[] {
  const e = new TextEncoder();
  const runs = [
    `${FAULT_EXP}/${FAULT_ID}`,
    `${LIVE_EXP}/${LIVE_ID}`,
    `${FAULT_EXP}/escape_run`,
    `${FAULT_EXP}/fifo_run`,
  ];
  const out: string[] = ["/", "/api/runs", "/api/health", "/health", "/assets/style.css", "/favicon.ico"];
  for (const run of runs) {
    out.push(`/runs/${run}`, `/api/runs/${run}`, `/api/runs/${run}/journal`, `/runs/${run}/journal`);
    out.push(`/runs/${run}/ops/5`, `/runs/${run}/live`, ...FILES.map((f) => `/runs/${run}/files/${f}`));
  }
  return out.map((p) => e.encode(p));
}

/** Splices hostile pieces into a path: a segment replaced, a query added, a name swapped. */
function hostile(path: string, rng: Prng): string {
  const parts = path.split("/");
  for (let k = rng.below(3); k > 0; k--) {
    const at = 1 + rng.below(Math.max(1, parts.length - 1));
    parts[at] = rng.chance(0.5) ? rng.pick(SEGMENTS) : rng.pick(NAMES);
  }
  if (rng.chance(0.3)) parts.splice(1 + rng.below(parts.length), 0, rng.pick(SEGMENTS));
  return parts.join("/") + (rng.chance(0.3) ? rng.pick(QUERIES) : "");
}

/** A case: a base path with hostile pieces spliced in, and half the time its bytes mutated too. */
function makePath(rng: Prng, base: Uint8Array): Uint8Array {
  const e = new TextEncoder();
  const spliced = e.encode(hostile(new TextDecoder().decode(base), rng));
  return rng.chance(0.5) ? mutate(rng, spliced) : spliced;
}

async function check(input: Uint8Array) {
  let path = new TextDecoder().decode(input);
  if (!path.startsWith("/")) path = "/" + path;
  let url: URL;
  try {
    url = new URL(path, "http://127.0.0.1");
  } catch {
    return; // no client can send it
  }
  if (/\/live\/events\b/.test(url.pathname)) return; // a stream: tested elsewhere
  const res = await app.request(path);
  const body = await res.text();
  assert.ok(res.status < 500, `${JSON.stringify(path)} answered ${res.status}: ${body.slice(0, 200)}`);
  assert.ok(!body.includes(SECRET), `${JSON.stringify(path)} showed a file outside the reports folder`);
  if (res.status === 200 && /^\/runs\/[^/]+\/[^/]+\/files\//.test(url.pathname)) {
    assert.ok(Object.values(RUN_FILES).includes(res.headers.get("content-type") ?? ""), path);
  }
}

Deno.test("server fuzz: 1500 random request paths are answered without a 5xx and show nothing from outside", async () => {
  await fuzz({
    kind: "paths",
    ext: ".txt",
    cases: fuzzCases(1500),
    corpus: basePaths().map((bytes) => ({ bytes })),
    mutate: makePath,
    check,
  });
});
