/** The live view's server-sent events: ops as they are appended, resets, skipped lines, end, disconnects. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../../../scripts/server/app.tsx";
import { LiveStreams, RESEND_LIMIT, sleep } from "../../../scripts/server/live.ts";
import { SseReader } from "../../fixtures/sse.ts";
import { jsonl, LIVE_EXP, LIVE_ID, makeReports, record, VERDICT } from "../../fixtures/report_folders.ts";

const EVENTS = `/runs/${LIVE_EXP}/${LIVE_ID}/live/events`;

async function setup() {
  const r = await makeReports();
  const streams = new LiveStreams();
  const app = createApp({ reportsDir: r.root, streams, pollMs: 20 });
  const journal = join(r.liveDir, "journal.jsonl");
  return {
    ...r,
    app,
    streams,
    journal,
    async done(sse?: SseReader) {
      await sse?.cancel();
      await streams.idle();
      assert.equal(streams.size, 0, "no stream loop outlives its client");
      await r.cleanup();
    },
  };
}

Deno.test("events: existing ops, then each appended op, with partial lines completed across writes", async () => {
  const t = await setup();
  const res = await t.app.request(EVENTS);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const sse = new SseReader(res);
  try {
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    assert.deepEqual(sse.ops().map((o) => o.id), ["1", "2"]);
    assert.equal(sse.ops()[1].state, "pending");
    // Complete the half-written line, then write half of another.
    await Deno.writeTextFile(t.journal, 'nd": "launch", "name": "attn"}\n{"id": 4, "kind": "sy', {
      append: true,
    });
    const three = await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "3");
    assert.ok(JSON.parse(three.data).cells.includes("attn"), "a record without op shows its name alone");
    await sleep(100, new AbortController().signal);
    assert.ok(!sse.ops().some((o) => o.id === "4"), "a half-written line waits for its newline");
    await Deno.writeTextFile(t.journal, 'nc", "status": 700}\n', { append: true });
    const four = await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "4");
    assert.equal(JSON.parse(four.data).state, "error");
    assert.ok(four.id, "the last op of a batch carries the resume offset");
    // The result of op 2 arrives as a second record with the same id.
    await Deno.writeTextFile(t.journal, jsonl([record(2, { status: 0 })]), { append: true });
    await sse.until((e) =>
      e.event === "op" && JSON.parse(e.data).id === "2" && JSON.parse(e.data).state === "ok"
    );
  } finally {
    await t.done(sse);
  }
});

Deno.test("events: resume from an offset sends only what follows; a bad offset starts over", async () => {
  const t = await setup();
  const text = await Deno.readTextFile(t.journal);
  const after1 = text.indexOf("\n") + 1;
  let sse = new SseReader(await t.app.request(`${EVENTS}?from=${after1}`));
  try {
    await sse.until((e) => e.event === "op");
    assert.deepEqual(sse.ops().map((o) => o.id), ["2"]);
    await sse.cancel();
    // Mid-line offset: not after a newline, so everything is sent again.
    sse = new SseReader(await t.app.request(`${EVENTS}?from=${after1 + 3}`));
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    assert.deepEqual(sse.ops().map((o) => o.id), ["1", "2"]);
    await sse.cancel();
    // Last-Event-ID (EventSource reconnects) wins over ?from.
    sse = new SseReader(
      await t.app.request(`${EVENTS}?from=0`, { headers: { "Last-Event-ID": String(after1) } }),
    );
    await sse.until((e) => e.event === "op");
    assert.deepEqual(sse.ops().map((o) => o.id), ["2"]);
    // Garbage offsets are ignored.
    await sse.cancel();
    sse = new SseReader(await t.app.request(`${EVENTS}?from=-5`));
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    assert.deepEqual(sse.ops().map((o) => o.id), ["1", "2"]);
  } finally {
    await t.done(sse);
  }
});

Deno.test("events: a truncated or replaced journal sends reset and starts over", async () => {
  const t = await setup();
  const sse = new SseReader(await t.app.request(EVENTS));
  try {
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    await Deno.writeTextFile(t.journal, jsonl([record(1, { name: "again" })]));
    await sse.until((e) => e.event === "reset");
    const op = await sse.until((e) =>
      e.event === "op" && JSON.parse(e.data).cells.some((c: string) => c.startsWith("again"))
    );
    assert.equal(JSON.parse(op.data).id, "1");
    // Replaced by rename with a longer file that differs from the first bytes on.
    const tmp = t.journal + ".tmp";
    await Deno.writeTextFile(tmp, jsonl([record(10), record(11), record(12), record(13)]));
    await Deno.rename(tmp, t.journal);
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "13");
    assert.equal(sse.events.filter((e) => e.event === "reset").length, 2);
  } finally {
    await t.done(sse);
  }
});

Deno.test("events: malformed lines are skipped and counted", async () => {
  const t = await setup();
  const sse = new SseReader(await t.app.request(EVENTS));
  try {
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    await Deno.writeTextFile(t.journal, 'nd": "launch"}\nnot json\n{"no": "id"}\n' + jsonl([record(5)]), {
      append: true,
    });
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "5");
    const skipped = await sse.until((e) => e.event === "skipped" && JSON.parse(e.data).malformed === 2);
    assert.equal(JSON.parse(skipped.data).records, 4);
  } finally {
    await t.done(sse);
  }
});

Deno.test("events: the stream ends with the verdict's status once verdict.json appears", async () => {
  const t = await setup();
  const sse = new SseReader(await t.app.request(EVENTS));
  try {
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    await Deno.writeTextFile(t.journal, 'nd": "launch"}\n', { append: true });
    await Deno.writeTextFile(join(t.liveDir, "verdict.json"), JSON.stringify({ ...VERDICT, status: "OK" }));
    const end = await sse.until((e) => e.event === "end");
    assert.deepEqual(JSON.parse(end.data), { status: "OK" });
    assert.ok(sse.ops().some((o) => o.id === "3"), "ops written before the verdict are sent before end");
    await sse.drain();
  } finally {
    await t.done();
  }
});

Deno.test("events: the stream ends when the run folder is deleted", async () => {
  const t = await setup();
  const sse = new SseReader(await t.app.request(EVENTS));
  try {
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    await Deno.remove(t.liveDir, { recursive: true });
    const end = await sse.until((e) => e.event === "end");
    assert.equal(JSON.parse(end.data).status, "GONE");
    await sse.drain();
  } finally {
    await t.done();
  }
});

Deno.test("events: a client that disconnects stops its poll loop; closeAll ends every stream", async () => {
  const t = await setup();
  const a = new SseReader(await t.app.request(EVENTS));
  const b = new SseReader(await t.app.request(EVENTS));
  try {
    await a.until((e) => e.event === "op");
    await b.until((e) => e.event === "op");
    assert.equal(t.streams.size, 2);
    await a.cancel();
    const deadline = Date.now() + 2000;
    while (t.streams.size > 1 && Date.now() < deadline) await sleep(10, new AbortController().signal);
    assert.equal(t.streams.size, 1);
    await t.streams.closeAll();
    assert.equal(t.streams.size, 0);
    await b.drain();
  } finally {
    await t.done();
  }
});

Deno.test("events: a finished run replays its journal and ends at once", async () => {
  const t = await setup();
  const { FAULT_EXP, FAULT_ID } = await import("../../fixtures/report_folders.ts");
  const sse = new SseReader(await t.app.request(`/runs/${FAULT_EXP}/${FAULT_ID}/live/events`));
  try {
    const end = await sse.until((e) => e.event === "end");
    assert.equal(JSON.parse(end.data).status, "FAULT");
    assert.deepEqual(sse.ops().map((o) => o.id), ["1", "2", "3", "3", "4", "5", "5", "6"]);
    await sse.drain();
  } finally {
    await t.done();
  }
});

Deno.test("events: a long journal sends only its newest ops at once", async () => {
  const t = await setup();
  const recs = Array.from({ length: RESEND_LIMIT + 500 }, (_, k) => record(k + 1));
  await Deno.writeTextFile(t.journal, jsonl(recs));
  const sse = new SseReader(await t.app.request(EVENTS));
  try {
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === String(RESEND_LIMIT + 500), 10_000);
    const ops = sse.ops();
    assert.equal(ops.length, RESEND_LIMIT);
    assert.equal(ops[0].id, "501");
  } finally {
    await t.done(sse);
  }
});
