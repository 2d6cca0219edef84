/**
 * One bad file never stalls the status server: FIFOs are refused without being opened, deeply nested
 * JSON is refused with a reason, a crafted journal ring is decoded in bounded time, and a large journal
 * is read in pages. Meanwhile every other request keeps being answered (checked over HTTP against a
 * server in its own process).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../../../scripts/server/app.tsx";
import { LiveStreams } from "../../../scripts/server/live.ts";
import { SUMMARY_BYTES } from "../../../scripts/server/journal_file.ts";
import {
  H_CAPACITY,
  HEADER_BYTES,
  JournalWriter,
  R_NPTR,
  RECORD_BYTES,
} from "../../../ffi/journal_native.ts";
import { journalLib } from "../../helpers/journal_lib.ts";
import { call, ptr } from "../../helpers/calls.ts";
import {
  FAULT_EXP,
  FAULT_RUN,
  jsonl,
  LIVE_RUN,
  makeReports,
  record,
  VERDICT,
} from "../../fixtures/report_folders.ts";
import { SseReader } from "../../fixtures/sse.ts";

async function mkfifo(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(r.code, 0, `mkfifo ${path}`);
}

/** A response within `ms`, or a failure naming the request that hung. */
async function within<T>(what: string, p: T | Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, no) =>
    timer = setTimeout(() => no(new Error(`${what}: no answer in ${ms} ms`)), ms)
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A verdict nested `depth` levels deep inside its config. */
function deepVerdict(depth: number): string {
  return JSON.stringify({ ...VERDICT, config: {} }).replace(
    '"config":{}',
    `"config":${"[".repeat(depth)}${"]".repeat(depth)}`,
  );
}

/** A journal of about `bytes` bytes: records 1.. with a failing op near the end. */
function bigJournal(bytes: number): { text: string; ops: number } {
  const line = JSON.stringify(record(1)) + "\n";
  const ops = Math.ceil(bytes / line.length);
  const parts: string[] = [];
  for (let id = 1; id <= ops; id++) {
    parts.push(JSON.stringify(record(id, id === ops - 1 ? { status: 700 } : {})) + "\n");
  }
  return { text: parts.join(""), ops };
}

/** A journal ring whose second record claims 2^31 - 1 pointers (and a capacity far past the file). */
function craftedRing(dir: string): void {
  const path = join(dir, "journal.bin");
  const w = new JournalWriter({ path, capacity: 16, native: journalLib() });
  for (let k = 0; k < 3; k++) {
    const c = call("launch", `k${k}`, { pointers: [ptr("x", 0x1000, 64, "rw")] });
    w.before(c);
    w.after(c, 0);
  }
  w.close();
  const b = Deno.readFileSync(path);
  const i32 = new Int32Array(b.buffer);
  i32[((HEADER_BYTES + RECORD_BYTES) >> 2) + R_NPTR] = 2 ** 31 - 1;
  i32[H_CAPACITY] = 2 ** 31 - 1;
  Deno.writeFileSync(path, b);
}

Deno.test({
  name: "a FIFO anywhere in a run folder is refused with a reason, never opened",
  ignore: Deno.build.os === "windows",
}, async () => {
  const r = await makeReports();
  const streams = new LiveStreams();
  const app = createApp({ reportsDir: r.root, streams, pollMs: 20 });
  try {
    await mkfifo(join(r.faultDir, "journal.jsonl"));
    await mkfifo(join(r.faultDir, "report.md"));
    const other = join(r.root, FAULT_EXP, "fifo-verdict");
    await Deno.mkdir(other);
    await mkfifo(join(other, "verdict.json"));
    await Deno.mkdir(join(r.liveDir, "trials", "001-run"), { recursive: true });
    await Deno.remove(join(r.liveDir, "journal.jsonl"));
    await mkfifo(join(r.liveDir, "trials", "001-run", "journal.jsonl"));
    await mkfifo(join(r.liveDir, "trials", "001-run", "journal.bin"));

    const page = await within("run page", app.request(FAULT_RUN));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /journal\.jsonl is a FIFO, not a regular file/);
    for (
      const path of [
        `${FAULT_RUN}/files/journal.jsonl`,
        `${FAULT_RUN}/files/report.md`,
        `/api${FAULT_RUN}/journal`,
      ]
    ) {
      const res = await within(path, app.request(path));
      assert.equal(res.status, 403, path);
      assert.match(await res.text(), /is a FIFO, not a regular file/, path);
    }
    const list = await within("/api/runs", app.request("/api/runs"));
    const runs = (await list.json()).runs as { id: string; status: string; verdictError?: string }[];
    const fifo = runs.find((x) => x.id === "fifo-verdict")!;
    assert.equal(fifo.status, "UNREADABLE");
    assert.match(fifo.verdictError!, /verdict\.json is a FIFO/);
    for (const path of ["/", `/api${FAULT_RUN}`, `${LIVE_RUN}/live`, LIVE_RUN]) {
      const res = await within(path, app.request(path));
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
    const ac = new AbortController();
    const sse = new SseReader(
      await within("live events", app.request(`${LIVE_RUN}/live/events`, { signal: ac.signal })),
    );
    await within("hello", sse.until((e) => e.event === "hello"));
    await sse.until((e) => e.event === "op", 300).catch(() => {});
    assert.ok(!sse.events.some((e) => e.event === "op"), "nothing is read from a FIFO");
    ac.abort();
    await sse.cancel();
  } finally {
    await streams.closeAll();
    await r.cleanup();
  }
});

Deno.test("deeply nested JSON is refused with a reason, not a 500", async () => {
  const r = await makeReports();
  const app = createApp({ reportsDir: r.root });
  try {
    await Deno.writeTextFile(join(r.faultDir, "verdict.json"), deepVerdict(100_000));
    // A journal line nested as deep: skipped and counted, the other lines kept.
    await Deno.writeTextFile(
      join(r.faultDir, "journal.jsonl"),
      jsonl([record(1)]) + `{"id":2,"scalars":${"[".repeat(50_000)}${"]".repeat(50_000)}}\n` +
        jsonl([record(3)]),
    );
    const page = await app.request(FAULT_RUN);
    assert.equal(page.status, 200);
    const body = await page.text();
    assert.match(body, /UNREADABLE/);
    assert.match(body, /verdict\.json is refused: nests deeper than 64 levels/);
    for (const path of ["/", "/api/runs", `/api${FAULT_RUN}`]) {
      assert.equal((await app.request(path)).status, 200, path);
    }
    const j = await (await app.request(`/api${FAULT_RUN}/journal`)).json();
    assert.deepEqual(j.records.map((x: { id: number }) => x.id), [1, 3]);
    assert.equal(j.counts.malformed, 1);
    // Nesting within the limit is fine.
    await Deno.writeTextFile(join(r.faultDir, "verdict.json"), deepVerdict(40));
    assert.match(await (await app.request(FAULT_RUN)).text(), /FAULT/);
  } finally {
    await r.cleanup();
  }
});

Deno.test("a journal larger than the summary limit is paged: first page, the failing op and the newest ops", async () => {
  const r = await makeReports();
  const streams = new LiveStreams();
  const app = createApp({ reportsDir: r.root, streams });
  try {
    const { text, ops } = bigJournal(SUMMARY_BYTES + (4 << 20));
    await Deno.writeTextFile(join(r.faultDir, "journal.jsonl"), text);
    const body = await (await app.request(FAULT_RUN)).text();
    assert.match(body, /journal\.jsonl is \d+\.\d MB, more than the 32\.0 MB summarized here/);
    const page = await (await app.request(`/api${FAULT_RUN}/journal?limit=100`)).json();
    assert.deepEqual(
      page.records.map((x: { id: number }) => x.id),
      Array.from({ length: 100 }, (_, k) => k + 1),
    );
    const lineBytes = new TextEncoder().encode(text.split("\n").slice(0, 100).join("\n") + "\n").length;
    assert.equal(page.next, lineBytes, "the next page starts right after the 100th line");
    assert.equal(page.more, true);
    const live = await (await app.request(`${FAULT_RUN}/live`)).text();
    assert.ok(live.includes(`data-id="${ops}"`), "the live view opens with the newest ops");
  } finally {
    await streams.closeAll();
    await r.cleanup();
  }
});

Deno.test("while bad files are being requested, every other request is answered (a server in its own process)", async () => {
  const r = await makeReports();
  await mkfifo(join(r.faultDir, "report.md"));
  await Deno.writeTextFile(join(r.faultDir, "verdict.json"), deepVerdict(200_000));
  const big = join(r.root, FAULT_EXP, "big");
  await Deno.mkdir(big);
  await Deno.writeTextFile(join(big, "journal.jsonl"), bigJournal(SUMMARY_BYTES - (1 << 20)).text);
  const trial = join(r.liveDir, "trials", "001-run");
  await Deno.mkdir(trial, { recursive: true });
  await Deno.remove(join(r.liveDir, "journal.jsonl"));
  craftedRing(trial);
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/server/main.ts", "--port", "0", "--reports", r.root],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const bad: Promise<unknown>[] = [];
  const aborts: AbortController[] = [];
  try {
    const base = await within("server start", readUrl(server.stdout), 20_000);
    const slow = [
      `${FAULT_RUN}/files/report.md`,
      FAULT_RUN,
      `/runs/${FAULT_EXP}/big`,
      `${LIVE_RUN}/live/events`,
      `${LIVE_RUN}/live`,
    ];
    for (const path of slow) {
      const ac = new AbortController();
      aborts.push(ac);
      bad.push(
        fetch(base + path, { signal: ac.signal }).then(async (res) => {
          if (path.endsWith("/events")) {
            const sse = new SseReader(res);
            await sse.until((e) => e.event === "op", 2000).catch(() => {});
            await sse.cancel();
          } else await res.body?.cancel();
          return { path, status: res.status };
        }),
      );
    }
    for (let k = 0; k < 10; k++) {
      const res = await within(`health ${k}`, fetch(`${base}/api/health`), 3000);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    const done = await within("bad requests", Promise.all(bad), 20_000) as { path: string; status: number }[];
    for (const d of done) assert.ok(d.status < 500, `${d.path}: ${d.status}`);
    assert.deepEqual(done.find((d) => d.path.endsWith("report.md"))?.status, 403);
  } finally {
    for (const ac of aborts) ac.abort();
    await Promise.allSettled(bad);
    server.kill("SIGTERM");
    await server.status;
    await r.cleanup();
  }
});

/** The server's address from its first line of output; the rest is drained. */
async function readUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server printed no address: ${text}`);
    text += value;
    const m = text.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
    if (m) {
      (async () => {
        while (!(await reader.read()).done);
      })();
      return `http://127.0.0.1:${m[1]}`;
    }
  }
}
