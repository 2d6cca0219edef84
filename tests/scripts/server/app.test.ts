/** Status server routes and bad input, through app.request(). */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../../../scripts/server/app.tsx";
import { LiveStreams } from "../../../scripts/server/live.ts";
import {
  FAULT_EXP,
  FAULT_ID,
  FAULT_RUN,
  jsonl,
  LIVE_ID,
  LIVE_RUN,
  makeReports,
  record,
  VERDICT,
  writeBench,
} from "../../fixtures/report_folders.ts";

async function withApp(
  fn: (
    ctx: { app: ReturnType<typeof createApp>; root: string; faultDir: string; liveDir: string },
  ) => Promise<void>,
  extra: Partial<Parameters<typeof createApp>[0]> = {},
) {
  const r = await makeReports();
  const streams = new LiveStreams();
  try {
    await fn({ app: createApp({ reportsDir: r.root, streams, pollMs: 20, ...extra }), ...r });
  } finally {
    await streams.closeAll();
    await r.cleanup();
  }
}

async function get(app: ReturnType<typeof createApp>, path: string, init?: RequestInit) {
  const res = await app.request(path, init);
  return { res, body: await res.text() };
}

Deno.test("GET / lists runs with experiment, status, backend, device, time and root cause", async () => {
  await withApp(async ({ app }) => {
    const { res, body } = await get(app, "/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /text\/html/);
    assert.match(body, /^<!DOCTYPE html>/);
    assert.ok(body.includes(`href="${FAULT_RUN}"`));
    assert.ok(body.includes(`href="${LIVE_RUN}"`));
    assert.ok(body.includes(`href="${LIVE_RUN}/live"`), "live runs link their live view");
    assert.match(body, /class="badge s-FAULT">FAULT</);
    assert.match(body, /class="badge s-LIVE">LIVE</);
    assert.ok(body.includes("<td>sim</td>") && body.includes("<td>sim:0 (CPU)</td>"));
    assert.ok(body.includes("2026-11-23T06:00:04.000Z"));
    assert.ok(body.includes("rope_kernel, op 5, argument pos, broke pos &lt; max_seq"));
    assert.ok(!body.includes("bench"), "reports/bench is not a run");
    assert.match(res.headers.get("content-security-policy")!, /script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  });
});

Deno.test("GET /api/runs returns the same list as JSON, newest first", async () => {
  await withApp(async ({ app }) => {
    const res = await app.request("/api/runs");
    assert.equal(res.status, 200);
    const { runs } = await res.json();
    assert.equal(runs.length, 2);
    assert.equal(runs[0].id, LIVE_ID);
    assert.equal(runs[0].status, "LIVE");
    const f = runs.find((r: { id: string }) => r.id === FAULT_ID);
    assert.equal(f.status, "FAULT");
    assert.equal(f.backend, "sim");
    assert.equal(f.device, "sim:0 (CPU)");
    assert.equal(f.time, VERDICT.finished);
    assert.match(f.rootCause, /rope_kernel/);
    assert.deepEqual(f.files, ["journal.jsonl", "verdict.json", "report.md", "trace.json", "timeline.svg"]);
  });
});

Deno.test("GET /runs/:exp/:id renders the verdict data once: failing op linked, hypotheses, matrix, files", async () => {
  await withApp(async ({ app }) => {
    const { res, body } = await get(app, FAULT_RUN);
    assert.equal(res.status, 200);
    assert.equal((await get(app, `${FAULT_RUN}/`)).res.status, 200, "a trailing slash is the same page");
    // The root cause, with its op linked, and where the fault surfaced.
    assert.ok(body.includes(`<a id="failing-op" href="${FAULT_RUN}/ops/5">op #5</a>`));
    assert.ok(body.includes("<code>rope_kernel</code>, step 1, layer 0, argument <code>pos</code>"));
    assert.ok(body.includes("breaks “pos &lt; max_seq”"));
    assert.ok(body.includes("pos 4096 indexes past the 4096-row cos/sin cache"));
    assert.match(
      body,
      new RegExp(`<a\\s+href="${FAULT_RUN}/ops/7">op #7</a> d2h logits: an illegal memory access`),
    );
    assert.ok(
      body.includes("blocking-replay, 1 replay(s), 0.8 s, reproduced under blocking, fault info agrees"),
    );
    // Standing hypotheses in the table, ruled-out ones folded away; text escaped.
    assert.ok(body.includes('<table id="hypotheses">'));
    assert.ok(body.includes('class="badge h-CONFIRMED">CONFIRMED<'));
    assert.ok(body.includes("RoPE writes past &lt;q_proj&gt;"), "verdict text is escaped");
    assert.match(
      body,
      /<details id="ruled-out"><summary>1 ruled out<\/summary>.*D2H copy reads freed memory/,
    );
    assert.ok(body.includes("<td>blocking x3</td><td>blocking</td>"), "matrix rows with their trial names");
    assert.ok(body.includes("mode audit"));
    assert.ok(body.includes("took 4.0 s"));
    assert.ok(
      body.includes("<dt>command</dt><dd><code>deno run -A scripts/experiments/rope_fault.ts</code></dd>"),
    );
    assert.ok(body.includes("<dt>seq</dt><dd><code>4096</code></dd>"), "configuration");
    assert.ok(body.includes("<dt>AMD_LOG_LEVEL</dt><dd><code>3</code></dd>"), "debug environment");
    assert.ok(body.includes(`<img class="timeline" src="${FAULT_RUN}/files/timeline.svg"`));
    assert.ok(body.includes(`href="${FAULT_RUN}/files/trace.json"`));
    assert.ok(body.includes(`href="${FAULT_RUN}/files/report.md"`), "report.md is linked");
    // Each fact once: the root cause's detail and the error appear a single time; report.md is not inlined.
    assert.equal(body.split("pos 4096 indexes past").length, 2);
    assert.equal(body.split("an illegal memory access was encountered").length, 2);
    assert.ok(!body.includes("Fault report: rope_fault"), "report.md is not repeated on the page");
    // Journal: 6 ops, one malformed line, one half-written tail, counted; its pages linked.
    assert.ok(body.includes("6 ops"));
    assert.match(
      body,
      /skipped lines: <span id="skipped" data-malformed="1">1<\/span> malformed, 1 half-written/,
    );
    assert.ok(body.includes(`<a id="journal-pages" href="${FAULT_RUN}/journal">browse the ops</a>`));
  });
});

Deno.test("GET /runs/:exp/:id/ops/:op shows one op in full; the journal pages link every op", async () => {
  await withApp(async ({ app }) => {
    const { res, body } = await get(app, `${FAULT_RUN}/ops/5`);
    assert.equal(res.status, 200);
    assert.ok(body.includes("This op is the root cause of the run."));
    assert.ok(body.includes("rope_kernel (RoPE Q)"));
    assert.match(
      body,
      /<tr\s*><td>q<\/td><td>0x7f0000001000<\/td><td>16384<\/td><td>rw<\/td><td>q_proj<\/td>/,
    );
    assert.ok(body.includes("n=4096 pos=2048"));
    assert.ok(body.includes(`<a href="${FAULT_RUN}/ops/4">op #4</a>`));
    assert.ok(body.includes("&quot;status&quot;: 0"), "the merged record: the result supersedes the intent");
    assert.equal(
      (await get(app, `${FAULT_RUN}/ops/7`)).res.status,
      404,
      "op 7 never completed a journal line",
    );
    assert.equal((await get(app, `${FAULT_RUN}/ops/99`)).res.status, 404);
    assert.equal((await get(app, `${FAULT_RUN}/ops/abc`)).res.status, 404);
    const journal = await get(app, `${FAULT_RUN}/journal?limit=2`);
    assert.equal(journal.res.status, 200);
    assert.ok(journal.body.includes(`<a href="${FAULT_RUN}/ops/1">1</a>`));
    assert.ok(!journal.body.includes(`${FAULT_RUN}/ops/3"`), "a page of 2 records");
    const next = journal.body.match(/<a id="next-page" href="([^"]+)">/)![1].replaceAll("&amp;", "&");
    const second = await get(app, next);
    assert.ok(second.body.includes(`<a href="${FAULT_RUN}/ops/3">3</a>`));
    assert.equal((await get(app, `${FAULT_RUN}/journal?from=x`)).res.status, 400);
  });
});

Deno.test("GET / shows each run's duration and filters by status and experiment", async () => {
  await withApp(async ({ app, root }) => {
    const other = join(root, "other_exp", "20261124T000000Z-ffff");
    await Deno.mkdir(other, { recursive: true });
    await Deno.writeTextFile(
      join(other, "verdict.json"),
      JSON.stringify({ status: "OK", started: "2026-11-24T00:00:00Z", finished: "2026-11-24T00:02:05Z" }),
    );
    let { body } = await get(app, "/");
    assert.ok(body.includes('<td class="num">4.0 s</td>'));
    assert.ok(body.includes('<td class="num">2 min 5 s</td>'));
    assert.ok(body.includes('<a href="/?status=OK">OK (1)</a>'));
    assert.ok(body.includes('<a href="/?experiment=other_exp">other_exp (1)</a>'));
    ({ body } = await get(app, "/?status=OK"));
    assert.ok(body.includes("other_exp") && !body.includes(`data-run="${FAULT_EXP}/`));
    ({ body } = await get(app, `/?experiment=${FAULT_EXP}`));
    assert.ok(body.includes(`data-run="${FAULT_EXP}/${FAULT_ID}"`) && !body.includes('data-run="other_exp/'));
    ({ body } = await get(app, `/?experiment=${FAULT_EXP}&status=OK`));
    assert.ok(body.includes("No run matches this filter."));
    const api = await (await app.request("/api/runs?status=FAULT")).json();
    assert.deepEqual(api.runs.map((r: { id: string }) => r.id), [FAULT_ID]);
  });
});

Deno.test("GET /api/runs/:exp/:id returns the run as JSON", async () => {
  await withApp(async ({ app }) => {
    const res = await app.request(`/api${FAULT_RUN}`);
    assert.equal(res.status, 200);
    const run = await res.json();
    assert.equal(run.status, "FAULT");
    assert.equal(run.live, false);
    assert.equal(run.verdict.root_cause.argument, "pos");
    assert.equal(run.verdict.hypotheses.length, 2);
    assert.deepEqual(run.journal.counts, { records: 8, malformed: 1, partial: 1 });
    assert.equal(run.journal.ops, 6);
    assert.equal(run.journal.errors, 1);
    assert.equal(run.links.files["trace.json"], `${FAULT_RUN}/files/trace.json`);
    const live = await (await app.request(`/api${LIVE_RUN}`)).json();
    assert.equal(live.live, true);
    assert.equal(live.verdict, null);
  });
});

Deno.test("GET /runs/:exp/:id/live renders the ops so far and points at the event stream", async () => {
  await withApp(async ({ app, liveDir }) => {
    const { res, body } = await get(app, `${LIVE_RUN}/live`);
    assert.equal(res.status, 200);
    assert.ok(body.includes('<tr class="op ok" data-id="1">'));
    assert.ok(body.includes('<tr class="op pending" data-id="2">'));
    const size = (await Deno.readTextFile(join(liveDir, "journal.jsonl"))).lastIndexOf("\n") + 1;
    assert.ok(
      body.includes(`data-events="${LIVE_RUN}/live/events?from=${size}"`),
      "resumes after the last complete line",
    );
    assert.ok(body.includes('<script src="/assets/live.js" defer></script>'));
    assert.ok(
      body.includes('id="live-state" class="badge s-CONNECTING">CONNECTING<'),
      "LIVE once the stream opens",
    );
    assert.ok(!/<script>/.test(body), "no inline script");
  });
});

Deno.test("GET /runs/:exp/:id/files/:name serves known files with safe types", async () => {
  await withApp(async ({ app }) => {
    const expect: Record<string, RegExp> = {
      "trace.json": /^application\/json/,
      "timeline.svg": /^image\/svg\+xml$/,
      "journal.jsonl": /^text\/plain/,
      "verdict.json": /^application\/json/,
      "report.md": /^text\/plain/,
    };
    for (const [name, type] of Object.entries(expect)) {
      const { res, body } = await get(app, `${FAULT_RUN}/files/${name}`);
      assert.equal(res.status, 200, name);
      assert.match(res.headers.get("content-type")!, type, name);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.match(res.headers.get("content-security-policy")!, /default-src 'none'.*sandbox/);
      assert.ok(body.length > 0);
    }
    assert.match((await get(app, `${FAULT_RUN}/files/trace.json`)).body, /traceEvents/);
    assert.equal((await get(app, `${FAULT_RUN}/files/other.txt`)).res.status, 404);
    assert.equal((await get(app, `${LIVE_RUN}/files/trace.json`)).res.status, 404, "a file the run lacks");
  });
});

Deno.test("GET /api/runs/:exp/:id/journal returns pages of merged records, counts and the next offset", async () => {
  await withApp(async ({ app, liveDir }) => {
    let res = await app.request(`/api${FAULT_RUN}/journal`);
    assert.equal(res.status, 200);
    let j = await res.json();
    assert.deepEqual(j.records.map((r: { id: number }) => r.id), [1, 2, 3, 4, 5, 6], "lines of one id merge");
    assert.equal(j.records.find((r: { id: number }) => r.id === 5).status, 0);
    assert.equal(j.counts.malformed, 1);
    assert.equal(j.counts.partial, 1);
    assert.equal(j.more, true, "the half-written last line is still to come");
    // Page by page: each `next` is where the following page starts.
    const ids: number[] = [];
    let from = 0;
    for (let pages = 0; pages < 10; pages++) {
      const page = await (await app.request(`/api${FAULT_RUN}/journal?from=${from}&limit=2`)).json();
      assert.ok(page.records.length <= 2);
      ids.push(...page.records.map((r: { id: number }) => r.id));
      if (page.next === from) break;
      from = page.next;
    }
    assert.deepEqual([...new Set(ids)], [1, 2, 3, 4, 5, 6]);

    res = await app.request(`/api${LIVE_RUN}/journal`);
    j = await res.json();
    assert.equal(j.records.length, 2);
    await Deno.writeTextFile(join(liveDir, "journal.jsonl"), 'nd":"launch"}\n' + jsonl([record(4)]), {
      append: true,
    });
    res = await app.request(`/api${LIVE_RUN}/journal?from=${j.next}`);
    const k = await res.json();
    assert.deepEqual(k.records.map((r: { id: number }) => r.id), [3, 4], "the half-written line completes");

    assert.equal((await app.request(`/api${LIVE_RUN}/journal?from=-1`)).status, 400);
    assert.equal((await app.request(`/api${LIVE_RUN}/journal?limit=abc`)).status, 400);
    assert.equal((await app.request(`/api${LIVE_RUN}/journal?limit=0`)).status, 400);
  });
});

Deno.test("GET /api/health names backend and device from the newest verdict, else hints, else unknown", async () => {
  await withApp(async ({ app }) => {
    for (const path of ["/api/health", "/health"]) {
      const res = await app.request(path);
      assert.equal(res.status, 200);
      const h = await res.json();
      assert.equal(h.status, "ok");
      assert.equal(h.backend, "sim");
      assert.equal(h.device, "sim:0 (CPU)");
      assert.match(h.source, /verdict of rope_fault/);
      assert.equal(h.runs, 2);
    }
  });
  const empty = await Deno.makeTempDir();
  try {
    let h = await (await createApp({ reportsDir: empty }).request("/api/health")).json();
    assert.equal(h.backend, "unknown");
    assert.equal(h.device, "unknown");
    h = await (await createApp({ reportsDir: empty, env: { backend: "cuda", device: "H100" } }).request(
      "/api/health",
    ))
      .json();
    assert.deepEqual([h.backend, h.device, h.source], ["cuda", "H100", "environment"]);
    // A benchmark's record names the device when no verdict does, ahead of the environment.
    await writeBench(empty, "hip", "AMD Instinct MI250X");
    h = await (await createApp({ reportsDir: empty, env: { backend: "cuda", device: "H100" } }).request(
      "/api/health",
    ))
      .json();
    assert.deepEqual([h.backend, h.device, h.source], [
      "hip",
      "AMD Instinct MI250X",
      "reports/bench/bench.json",
    ]);
    assert.equal(h.runs, 0, "bench/ holds no runs");
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("assets are served with their types", async () => {
  await withApp(async ({ app }) => {
    let { res, body } = await get(app, "/assets/style.css");
    assert.match(res.headers.get("content-type")!, /^text\/css/);
    assert.ok(body.includes(".badge"));
    ({ res, body } = await get(app, "/assets/live.js"));
    assert.match(res.headers.get("content-type")!, /^text\/javascript/);
    assert.ok(body.includes("EventSource"));
  });
});

Deno.test("unknown run ids and experiments get 404 on every run route", async () => {
  await withApp(async ({ app }) => {
    const unknown = [
      `/runs/${FAULT_EXP}/nope`,
      `/runs/nope/${FAULT_ID}`,
      `/runs/${FAULT_EXP}/nope/live`,
      `/runs/${FAULT_EXP}/nope/live/events`,
      `/runs/${FAULT_EXP}/nope/files/trace.json`,
      `/api/runs/${FAULT_EXP}/nope`,
      `/api/runs/${FAULT_EXP}/nope/journal`,
      "/runs/bench/2026-11-23",
      "/runs/bench/bench.json",
      "/runs/bench/2026-11-23/files/journal.jsonl",
      "/no/such/route",
    ];
    for (const path of unknown) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      const body = await res.text();
      if (path.startsWith("/api/")) assert.equal(JSON.parse(body).error, "not found");
      else assert.ok(body.includes("Not found"), path);
    }
  });
});

Deno.test("paths outside the reports folder are refused", async () => {
  await withApp(async ({ app, root }) => {
    const outside = await Deno.makeTempDir({ prefix: "faultline-outside-" });
    try {
      await Deno.writeTextFile(join(outside, "secret.json"), '{"secret": 1}');
      await Deno.mkdir(join(outside, "run"), { recursive: true });
      await Deno.writeTextFile(join(outside, "run", "verdict.json"), JSON.stringify(VERDICT));
      await Deno.writeTextFile(join(outside, "run", "trace.json"), '{"secret": 2}');
      // Symlinks that point out of the root: an experiment folder, a run folder and a run file.
      await Deno.symlink(outside, join(root, "escape_exp"));
      await Deno.symlink(join(outside, "run"), join(root, FAULT_EXP, "escape_run"));
      await Deno.remove(join(root, FAULT_EXP, FAULT_ID, "trace.json"));
      await Deno.symlink(join(outside, "secret.json"), join(root, FAULT_EXP, FAULT_ID, "trace.json"));

      const refused = [
        "/runs/..%2F..%2Fetc/passwd",
        `/runs/${FAULT_EXP}/..%2F..%2F..%2Fetc`,
        `${FAULT_RUN}/files/..%2Fverdict.json`,
        `${FAULT_RUN}/files/..%2F..%2F..%2Fetc%2Fpasswd`,
        `${FAULT_RUN}/files/%2Fetc%2Fpasswd`,
        `${FAULT_RUN}/files/..%5C..%5Csecret.json`,
        `/api/runs/%2E%2E%2F%2E%2E/x`,
        "/runs/escape_exp/run",
        `/runs/${FAULT_EXP}/escape_run`,
        `/api/runs/${FAULT_EXP}/escape_run`,
        `/runs/${FAULT_EXP}/escape_run/live/events`,
        `${FAULT_RUN}/files/trace.json`,
      ];
      for (const path of refused) {
        const res = await app.request(path);
        const body = await res.text();
        assert.equal(res.status, 403, path);
        assert.doesNotMatch(body, /secret("|&quot;):/, path);
      }
      // Dot segments are removed by URL parsing before routing; whatever they become is not a file.
      for (
        const path of [
          "/runs/../../etc/passwd",
          "/runs/%2e%2e/%2e%2e/files/trace.json",
          `${FAULT_RUN}/files/../../x`,
        ]
      ) {
        const res = await app.request(path);
        await res.body?.cancel();
        assert.equal(res.status, 404, path);
      }
      const { body } = await get(app, "/");
      assert.ok(!body.includes("escape"), "runs outside the root are not listed");
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("a non-loopback Host header is refused (DNS rebinding) unless serving remotely", async () => {
  await withApp(async ({ app }) => {
    const res = await app.request("http://evil.example/api/health");
    await res.body?.cancel();
    assert.equal(res.status, 421);
    for (const host of ["127.0.0.1:8787", "localhost:1", "[::1]:8787"]) {
      const ok = await app.request(`http://${host}/api/health`);
      await ok.body?.cancel();
      assert.equal(ok.status, 200, host);
    }
  });
  const r = await makeReports();
  try {
    const res = await createApp({ reportsDir: r.root, loopbackOnly: false }).request(
      "http://box.lan/api/health",
    );
    await res.body?.cancel();
    assert.equal(res.status, 200);
  } finally {
    await r.cleanup();
  }
});

Deno.test("the server stays up when report files are deleted or rewritten under it", async () => {
  await withApp(async ({ app, root, faultDir, liveDir }) => {
    // Half-written verdict: the run shows as UNREADABLE with the reason; the page still renders.
    await Deno.writeTextFile(join(faultDir, "verdict.json"), '{"experiment": "rope_fault", "status": "FA');
    let { res, body } = await get(app, FAULT_RUN);
    assert.equal(res.status, 200);
    assert.match(body, /s-UNREADABLE/);
    assert.match(body, /verdict.json does not parse/);
    ({ res, body } = await get(app, "/"));
    assert.equal(res.status, 200);
    assert.match(body, /UNREADABLE/);
    // A verdict that is JSON but not an object, and one with odd field types.
    await Deno.writeTextFile(join(faultDir, "verdict.json"), "[1,2]");
    assert.equal((await get(app, FAULT_RUN)).res.status, 200);
    await Deno.writeTextFile(
      join(faultDir, "verdict.json"),
      JSON.stringify({
        status: "OK",
        hypotheses: "none",
        matrix: [null, 3],
        root_cause: 7,
        surfaced_at: "x",
      }),
    );
    ({ res, body } = await get(app, FAULT_RUN));
    assert.equal(res.status, 200);
    assert.match(body, /s-OK/);
    // Files deleted: the page no longer links them.
    await Deno.remove(join(faultDir, "report.md"));
    await Deno.remove(join(faultDir, "timeline.svg"));
    ({ res, body } = await get(app, FAULT_RUN));
    assert.equal(res.status, 200);
    assert.ok(!body.includes("/files/report.md"));
    assert.ok(!body.includes("timeline.svg"));
    assert.equal((await get(app, `${FAULT_RUN}/files/timeline.svg`)).res.status, 404);
    // Journal rewritten with garbage only.
    await Deno.writeTextFile(join(liveDir, "journal.jsonl"), "\u0000\u0001garbage\n[]\n{}\n");
    ({ res, body } = await get(app, `${LIVE_RUN}/live`));
    assert.equal(res.status, 200);
    assert.match(body, /data-malformed="3"/);
    // The whole run deleted: 404, and the list no longer shows it.
    await Deno.remove(faultDir, { recursive: true });
    assert.equal((await get(app, FAULT_RUN)).res.status, 404);
    assert.equal((await get(app, `/api${FAULT_RUN}`)).res.status, 404);
    ({ body } = await get(app, "/"));
    assert.ok(!body.includes(FAULT_ID));
    // The reports folder itself deleted.
    await Deno.remove(root, { recursive: true });
    await Deno.mkdir(root);
    ({ res, body } = await get(app, "/"));
    assert.equal(res.status, 200);
    assert.ok(body.includes("No runs under"));
    assert.equal((await (await app.request("/api/health")).json()).backend, "unknown");
  });
});

Deno.test("a run without verdict whose journal went quiet is INCOMPLETE, not LIVE", async () => {
  await withApp(async ({ app, liveDir }) => {
    const old = new Date(Date.now() - 120_000);
    await Deno.utime(join(liveDir, "journal.jsonl"), old, old);
    const { runs } = await (await app.request("/api/runs")).json();
    assert.equal(runs.find((r: { id: string }) => r.id === LIVE_ID).status, "INCOMPLETE");
  });
});
