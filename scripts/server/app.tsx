/**
 * The status server's hono app. It reads the reports folder and nothing else:
 * it never loads the native GPU library, so a crashing experiment cannot take
 * it down (a running trial's binary journal ring is decoded by ffi/journal.ts,
 * which reads files only and is imported on first use). Routes:
 *
 *   GET /?status=&experiment=              runs list (HTML), filtered
 *   GET /runs/:exp/:id                     run page: verdict, failing op, hypotheses, matrix, timeline, files
 *   GET /runs/:exp/:id/ops/:op             one op of the run's journal in full
 *   GET /runs/:exp/:id/journal?from=       the run's journal, a page of ops at a time
 *   GET /runs/:exp/:id/live                live view of the run's ops
 *   GET /runs/:exp/:id/live/events         server-sent events: "op" per journal record, "source" when
 *                                          the followed journal changes (next trial), "reset",
 *                                          "skipped" (line counts), "end" (verdict status)
 *   GET /runs/:exp/:id/files/:name         the run's known files (trace.json, timeline.svg, ...)
 *   GET /api/runs                          runs list (JSON)
 *   GET /api/runs/:exp/:id                 run detail (JSON)
 *   GET /api/runs/:exp/:id/journal         a page of journal records (JSON; ?from=byte offset, ?limit=;
 *                                          `next` is the following page's from)
 *   GET /api/health                        liveness, backend and device (also /health)
 *   GET /assets/style.css, /assets/live.js static assets
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { isSafeName, isTraversal, RefusedPath, RUN_FILES, UnreadableFile } from "./paths.ts";
import { DEFAULT_LIVE_WINDOW_MS, RunsIndex } from "./runs.ts";
import type { RunDetail } from "./runs.ts";
import { MessagePage, runPath } from "./pages.tsx";
import { filterRuns, RunListPage } from "./run_list_page.tsx";
import type { RunFilter } from "./run_list_page.tsx";
import { RunPage } from "./run_page.tsx";
import { JournalPageView, LivePage, OpPage } from "./op_pages.tsx";
import { LIVE_JS, STYLE_CSS } from "./assets.ts";
import { liveEvents, LiveStreams, RESEND_LIMIT } from "./live.ts";
import { readPage } from "./journal_file.ts";
import { mergeById } from "./journal.ts";
import { join } from "node:path";

export interface AppOptions {
  reportsDir: string;
  /** A run without verdict.json whose journal changed within this window counts as LIVE. */
  liveWindowMs?: number;
  /** How often a live stream polls the journal. */
  pollMs?: number;
  /** How often a live stream decodes a running trial's binary journal ring. */
  ringPollMs?: number;
  heartbeatMs?: number;
  /** Open event streams; pass one to close them at shutdown. */
  streams?: LiveStreams;
  /**
   * Accept only requests whose Host names the loopback interface (guards a
   * loopback-bound server against DNS rebinding). Off when serving remotely.
   */
  loopbackOnly?: boolean;
  /** Backend and device hints for /api/health when no verdict names them. */
  env?: { backend?: string; device?: string };
}

const PAGE_CSP =
  "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

/** Ops per page of the journal view. */
const JOURNAL_PAGE = 200;

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

function wantsJson(c: Context): boolean {
  return c.req.path.startsWith("/api/");
}

function notFound(c: Context, what: string) {
  if (wantsJson(c)) return c.json({ error: "not found", what }, 404);
  return c.html(<MessagePage title="Not found" message={what} />, 404);
}

function badRequest(c: Context, what: string) {
  if (wantsJson(c)) return c.json({ error: what }, 400);
  return c.html(<MessagePage title="Bad request" message={what} />, 400);
}

/** ?device= of a live view: "2" or "0+1"; undefined when absent, null when malformed. */
function deviceParam(v: string | undefined): string | undefined | null {
  if (v === undefined || v === "") return undefined;
  return /^\d{1,4}(\+\d{1,4}){0,15}$/.test(v) ? v : null;
}

function refused(c: Context, err: UnreadableFile) {
  if (wantsJson(c)) return c.json({ error: err.message }, err.status);
  return c.html(<MessagePage title="Refused" message={err.message} />, err.status);
}

/** ?status= and ?experiment= of the runs list; other values are ignored. */
function runFilter(c: Context): RunFilter {
  const status = c.req.query("status");
  const experiment = c.req.query("experiment");
  return {
    status: status && /^[A-Z_]{1,20}$/.test(status) ? status : undefined,
    experiment: experiment && isSafeName(experiment) ? experiment : undefined,
  };
}

/** A page size from ?limit= (default and maximum given); null when it is not a positive integer. */
function limitOf(c: Context, fallback: number, max: number): number | null {
  const q = c.req.query("limit") ?? String(fallback);
  if (!/^\d{1,7}$/.test(q) || Number(q) < 1) return null;
  return Math.min(Number(q), max);
}

/** A byte offset from ?from=; null when it is not a non-negative integer. */
function fromOf(c: Context): number | null {
  const q = c.req.query("from") ?? "0";
  return /^\d{1,15}$/.test(q) ? Number(q) : null;
}

function publicDetail(run: RunDetail) {
  return {
    ...run,
    live: run.status === "LIVE",
    links: {
      page: runPath(run),
      live: runPath(run, "/live"),
      events: runPath(run, "/live/events"),
      journal: runPath(run).replace("/runs/", "/api/runs/") + "/journal",
      files: Object.fromEntries(run.files.map((f) => [f, runPath(run, `/files/${f}`)])),
    },
  };
}

export function createApp(opts: AppOptions): Hono {
  const index = new RunsIndex(opts.reportsDir, { liveWindowMs: opts.liveWindowMs ?? DEFAULT_LIVE_WINDOW_MS });
  const streams = opts.streams ?? new LiveStreams();
  const pollMs = opts.pollMs ?? 200;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const started = Date.now();
  const app = new Hono({ strict: false });

  app.use(async (c, next) => {
    if (opts.loopbackOnly !== false) {
      const host = c.req.header("host") ?? new URL(c.req.url).host;
      if (!LOOPBACK_HOST.test(host)) return c.text("refused: this server answers only on loopback", 421);
    }
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    if (!c.res.headers.has("Content-Security-Policy")) c.header("Content-Security-Policy", PAGE_CSP);
  });

  app.onError((err, c) => {
    if (err instanceof UnreadableFile) return refused(c, err);
    console.error(`status server: ${c.req.method} ${c.req.path}: ${err.message}`);
    if (wantsJson(c)) return c.json({ error: "internal error" }, 500);
    return c.html(<MessagePage title="Error" message="The server could not read this run." />, 500);
  });
  app.notFound((c) => notFound(c, `no route for ${c.req.path}`));

  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/assets/style.css", (c) => c.body(STYLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" }));
  app.get(
    "/assets/live.js",
    (c) => c.body(LIVE_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }),
  );

  app.get("/", async (c) => {
    const runs = await index.list();
    return c.html(<RunListPage all={runs} filter={runFilter(c)} reportsDir={opts.reportsDir} />);
  });

  app.get("/runs/:exp/:id", async (c) => {
    const { exp, id } = c.req.param();
    const run = await index.detail(exp, id);
    if (!run) return notFound(c, `unknown run ${exp}/${id}`);
    return c.html(<RunPage run={run} />);
  });

  app.get("/runs/:exp/:id/ops/:op", async (c) => {
    const { exp, id, op } = c.req.param();
    if (!/^\d{1,15}$/.test(op)) return notFound(c, `no op ${op}: op ids are numbers`);
    const run = await index.detail(exp, id);
    const dir = await index.runDir(exp, id);
    if (!run || !dir) return notFound(c, `unknown run ${exp}/${id}`);
    const record = await index.op(dir, Number(op));
    if (!record) return notFound(c, `no op #${op} in the journal of ${exp}/${id}`);
    return c.html(<OpPage run={run} op={record} />);
  });

  app.get("/runs/:exp/:id/journal", async (c) => {
    const { exp, id } = c.req.param();
    const from = fromOf(c);
    const limit = limitOf(c, JOURNAL_PAGE, 5000);
    if (from === null || limit === null) {
      return c.html(
        <MessagePage title="Bad request" message="from and limit must be non-negative integers" />,
        400,
      );
    }
    const run = await index.detail(exp, id);
    const dir = await index.runDir(exp, id);
    if (!run || !dir) return notFound(c, `unknown run ${exp}/${id}`);
    const page = await readPage(index.files, join(dir, "journal.jsonl"), from, limit);
    if (!page) return notFound(c, `no journal.jsonl in run ${exp}/${id}`);
    return c.html(<JournalPageView run={run} page={page} limit={limit} />);
  });

  app.get("/runs/:exp/:id/live", async (c) => {
    const { exp, id } = c.req.param();
    const run = await index.detail(exp, id);
    const dir = await index.runDir(exp, id);
    if (!run || !dir) return notFound(c, `unknown run ${exp}/${id}`);
    const device = deviceParam(c.req.query("device"));
    if (device === null) return badRequest(c, "device must be a device number, or numbers joined by +");
    const recent = device === undefined ? await index.recent(dir, RESEND_LIMIT) : null;
    return c.html(
      <LivePage run={run} recent={recent?.records ?? []} resumeAt={recent?.end ?? 0} device={device} />,
    );
  });

  app.get("/runs/:exp/:id/live/events", async (c) => {
    const { exp, id } = c.req.param();
    const dir = await index.runDir(exp, id);
    if (!dir) return notFound(c, `unknown run ${exp}/${id}`);
    const resume = c.req.header("last-event-id") ?? c.req.query("from") ?? "0";
    const from = /^\d{1,15}$/.test(resume) ? Number(resume) : 0;
    const device = deviceParam(c.req.query("device"));
    if (device === null) return badRequest(c, "device must be a device number, or numbers joined by +");
    return liveEvents(c, {
      dir,
      device,
      files: index.files,
      from,
      pollMs,
      ringPollMs: opts.ringPollMs ?? 1000,
      heartbeatMs,
      streams,
      finished: async () => {
        try {
          const text = await index.files.text(join(dir, "verdict.json"), 8 << 20);
          if (text === null) return null;
          const v = JSON.parse(text);
          return typeof v?.status === "string" ? v.status : "UNREADABLE";
        } catch {
          return "UNREADABLE";
        }
      },
    });
  });

  app.get("/runs/:exp/:id/files/:name", async (c) => {
    const { exp, id, name } = c.req.param();
    if (isTraversal(name)) throw new RefusedPath(JSON.stringify(name));
    if (!Object.hasOwn(RUN_FILES, name)) return notFound(c, `no file ${name} is served for a run`);
    const file = await index.runFile(exp, id, name);
    if (!file) return notFound(c, `no ${name} in run ${exp}/${id}`);
    return c.body(file.readable, 200, {
      "Content-Type": RUN_FILES[name],
      "Content-Security-Policy": FILE_CSP,
      "Content-Disposition": `inline; filename="${name}"`,
      "Cache-Control": "no-store",
    });
  });

  app.get("/api/runs", async (c) => c.json({ runs: filterRuns(await index.list(), runFilter(c)) }));

  app.get("/api/runs/:exp/:id", async (c) => {
    const { exp, id } = c.req.param();
    const run = await index.detail(exp, id);
    if (!run) return notFound(c, `unknown run ${exp}/${id}`);
    return c.json(publicDetail(run));
  });

  app.get("/api/runs/:exp/:id/journal", async (c) => {
    const { exp, id } = c.req.param();
    const dir = await index.runDir(exp, id);
    if (!dir) return notFound(c, `unknown run ${exp}/${id}`);
    const from = fromOf(c);
    const limit = limitOf(c, 1000, 100_000);
    if (from === null || limit === null) {
      return c.json({ error: "from must be a non-negative integer and limit a positive one" }, 400);
    }
    const page = await readPage(index.files, join(dir, "journal.jsonl"), from, limit);
    if (!page) return c.json({ experiment: exp, id, missing: true, records: [] });
    // Lines of one op (intent, then result) merge within a page; an op split across two pages is in both.
    return c.json({ experiment: exp, id, missing: false, ...page, records: mergeById(page.records) });
  });

  const health = async (c: Context) => {
    const runs = await index.list();
    // What names the device, most direct first: the newest verdict, the last benchmark, the environment.
    const seen = index.newestDeviceOf(runs) ?? await index.benchDevice();
    const backend = seen?.backend ?? opts.env?.backend ?? "unknown";
    const device = seen?.device ?? opts.env?.device ?? "unknown";
    const source = seen
      ? seen.source
      : opts.env?.backend || opts.env?.device
      ? "environment"
      : "nothing names them yet";
    return c.json({
      status: "ok",
      backend,
      device,
      source,
      runs: runs.length,
      liveStreams: streams.size,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
    });
  };
  app.get("/api/health", health);
  app.get("/health", health);

  return app;
}
