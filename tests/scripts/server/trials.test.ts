/**
 * Runs still in their trials: reports/<exp>/<run-id>/trials/<NNN-purpose>/
 * holds the running trial's journal (journal.jsonl once the trial closes it,
 * a binary ring while it runs), as scripts/trials/experiment.ts lays it out.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../../../scripts/server/app.tsx";
import { LiveStreams } from "../../../scripts/server/live.ts";
import { ringPid } from "../../../scripts/server/trials.ts";
import { ReportsFiles } from "../../../scripts/server/files.ts";
import { JournalWriter } from "../../../ffi/journal_native.ts";
import { journalLib } from "../../helpers/journal_lib.ts";
import { call, ptr } from "../../helpers/calls.ts";
import { jsonl, record } from "../../fixtures/report_folders.ts";
import { SseReader } from "../../fixtures/sse.ts";

const EXP = "d2h_race_matrix";
const RUN = "20261123-071500-beef";

async function setup() {
  const root = await Deno.makeTempDir({ prefix: "faultline-trials-" });
  const run = join(root, EXP, RUN);
  await Deno.mkdir(join(run, "trials"), { recursive: true });
  const streams = new LiveStreams();
  const app = createApp({ reportsDir: root, streams, pollMs: 20, ringPollMs: 50 });
  return {
    root,
    run,
    app,
    streams,
    trial: async (name: string) => {
      const dir = join(run, "trials", name);
      await Deno.mkdir(dir, { recursive: true });
      return dir;
    },
    async done(sse?: SseReader) {
      await sse?.cancel();
      await streams.closeAll();
      await Deno.remove(root, { recursive: true });
    },
  };
}

const opIds = (sse: SseReader) => sse.ops().map((o) => o.id);

Deno.test("trials: a run with only trial folders is listed LIVE, and the live view follows the newest trial", async () => {
  const t = await setup();
  let sse: SseReader | undefined;
  try {
    const first = await t.trial("001-matrix");
    await Deno.writeTextFile(join(first, "journal.jsonl"), jsonl([record(1), record(2)]));
    const { runs } = await (await t.app.request("/api/runs")).json();
    assert.equal(runs.length, 1);
    assert.deepEqual([runs[0].status, runs[0].trial, runs[0].trials], ["LIVE", "001-matrix", 1]);
    const page = await t.app.request(`/runs/${EXP}/${RUN}/live`);
    assert.equal(page.status, 200);
    await page.body?.cancel();

    sse = new SseReader(await t.app.request(`/runs/${EXP}/${RUN}/live/events`));
    const src = await sse.until((e) => e.event === "source");
    assert.deepEqual(JSON.parse(src.data), { trial: "001-matrix", kind: "jsonl" });
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "2");
    await Deno.writeTextFile(join(first, "journal.jsonl"), jsonl([record(3)]), { append: true });
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "3");

    // The next trial starts: the view switches to it from its start.
    const second = await t.trial("002-replay");
    await Deno.writeTextFile(join(second, "journal.jsonl"), jsonl([record(1, { name: "replayed" })]));
    const next = await sse.until((e) => e.event === "source" && JSON.parse(e.data).trial === "002-replay");
    assert.ok(sse.events.indexOf(next) > 0);
    assert.equal(sse.events[sse.events.indexOf(next) - 1].event, "reset");
    await sse.until((e) =>
      e.event === "op" && JSON.parse(e.data).cells.some((c: string) => c.startsWith("replayed"))
    );

    // The trial's ring is replaced by its decoded journal.jsonl: same trial, no reset.
    const resets = sse.events.filter((e) => e.event === "reset").length;
    const third = await t.trial("003-replay");
    await Deno.writeFile(join(third, "journal.ring"), new Uint8Array(64));
    await sse.until((e) => e.event === "source" && JSON.parse(e.data).trial === "003-replay");
    await Deno.writeTextFile(join(third, "journal.jsonl"), jsonl([record(7)]));
    await sse.until((e) =>
      e.event === "source" && JSON.parse(e.data).kind === "jsonl" && JSON.parse(e.data).trial === "003-replay"
    );
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === "7");
    assert.equal(
      sse.events.filter((e) => e.event === "reset").length,
      resets + 1,
      "one reset, for the new trial only",
    );
    // A finished trial's folder removed (as the matrix does with passing trials): the view stays on it.
    await Deno.remove(third, { recursive: true });
    await new Promise((ok) => setTimeout(ok, 120));
    assert.notEqual(
      JSON.parse(sse.events.filter((e) => e.event === "source").at(-1)!.data).trial,
      "002-replay",
      "no step back to an older trial",
    );

    // The run ends: its own journal and verdict appear.
    await Deno.writeTextFile(
      join(t.run, "journal.jsonl"),
      jsonl([record(1), record(2), record(3), record(4)]),
    );
    await Deno.writeTextFile(join(t.run, "verdict.json"), JSON.stringify({ status: "FAULT" }));
    const end = await sse.until((e) => e.event === "end");
    assert.equal(JSON.parse(end.data).status, "FAULT");
    assert.ok(opIds(sse).includes("4"), "the run's own journal is sent before the end");
  } finally {
    await t.done(sse);
  }
});

Deno.test("trials: the live view decodes a running trial's journal ring", async () => {
  const t = await setup();
  let sse: SseReader | undefined;
  const dir = await t.trial("001-run");
  const w = new JournalWriter({ path: join(dir, "journal.bin"), capacity: 256, native: journalLib() });
  try {
    const k1 = call("launch", "rope", {
      pointers: [ptr("x", 0x1000, 64, "rw")],
      context: { step: 1, op: "RoPE Q" },
    });
    w.before(k1);
    w.after(k1, 0);
    const k2 = call("d2h", "logits", { scalars: { bytes: 64 }, pointers: [ptr("src", 0x2000, 64, "r")] });
    w.before(k2); // in flight

    assert.equal(await ringPid(new ReportsFiles(t.root), join(dir, "journal.bin")), Deno.pid);
    // The trial process is alive: LIVE even when its files look quiet.
    const old = new Date(Date.now() - 600_000);
    for (const f of ["journal.bin", "journal.bin.side"]) await Deno.utime(join(dir, f), old, old);
    await Deno.utime(join(t.run, "trials"), old, old);
    await Deno.utime(dir, old, old);
    const { runs } = await (await t.app.request("/api/runs")).json();
    assert.equal(runs[0].status, "LIVE");

    sse = new SseReader(await t.app.request(`/runs/${EXP}/${RUN}/live/events`));
    const src = await sse.until((e) => e.event === "source");
    assert.deepEqual(JSON.parse(src.data), { trial: "001-run", kind: "ring" });
    const pending = await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === String(k2.id));
    assert.equal(JSON.parse(pending.data).state, "pending");
    assert.ok(opIds(sse).includes(String(k1.id)));

    // The in-flight copy returns with an error; a new launch follows.
    w.after(k2, 700);
    const k3 = call("launch", "tick", {});
    w.before(k3);
    w.after(k3, 0);
    await sse.until((e) => e.event === "op" && JSON.parse(e.data).id === String(k3.id));
    const failed = sse.events.filter((e) => e.event === "op" && JSON.parse(e.data).id === String(k2.id)).at(
      -1,
    )!;
    assert.equal(JSON.parse(failed.data).state, "error");
    assert.equal(
      opIds(sse).filter((id) => id === String(k1.id)).length,
      1,
      "unchanged records are not sent again",
    );
  } finally {
    w.close();
    await t.done(sse);
  }
});

Deno.test("trials: a quiet run whose trial process is gone is INCOMPLETE", async () => {
  const t = await setup();
  try {
    const dir = await t.trial("001-run");
    // A ring header naming a pid that is not running.
    const header = new DataView(new ArrayBuffer(4096));
    header.setInt32(0, 0x4c4a4c46, true);
    header.setInt32(16, 2 ** 31 - 2, true);
    await Deno.writeFile(join(dir, "journal.bin"), new Uint8Array(header.buffer));
    const old = new Date(Date.now() - 600_000);
    for (const p of [join(dir, "journal.bin"), dir, join(t.run, "trials")]) await Deno.utime(p, old, old);
    const { runs } = await (await t.app.request("/api/runs")).json();
    assert.deepEqual([runs[0].status, runs[0].trial], ["INCOMPLETE", "001-run"]);
    // Its live view still opens, and a ring it cannot decode is not fatal.
    const page = await t.app.request(`/runs/${EXP}/${RUN}/live`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const sse = new SseReader(await t.app.request(`/runs/${EXP}/${RUN}/live/events`));
    await sse.until((e) => e.event === "source");
    await new Promise((ok) => setTimeout(ok, 150));
    assert.deepEqual(sse.ops(), []);
    await sse.cancel();
  } finally {
    await t.done();
  }
});

Deno.test("trials: a placed run shows the trial on each device; the live view of one device follows its trials", async () => {
  const t = await setup();
  let sse: SseReader | undefined;
  const placed = async (name: string, devices: number[], recs: unknown[]) => {
    const dir = await t.trial(name);
    await Deno.writeTextFile(join(dir, "trial.json"), JSON.stringify({ purpose: "matrix", devices }));
    await Deno.writeTextFile(join(dir, "journal.jsonl"), jsonl(recs));
  };
  try {
    await placed("001-matrix", [0], [record(1, { device: 0 })]);
    await placed("002-matrix", [1], [record(1, { device: 1, name: "on_one" })]);
    await placed("003-matrix", [0], [record(1, { device: 0, name: "zero_again" })]);
    const page = await (await t.app.request(`/runs/${EXP}/${RUN}`)).text();
    const running = page.slice(
      page.indexOf('id="running"'),
      page.indexOf("</table>", page.indexOf('id="running"')),
    );
    assert.match(running, /<td>0<\/td><td>003-matrix<\/td>.*live\?device=0/s);
    assert.match(running, /<td>1<\/td><td>002-matrix<\/td>.*live\?device=1/s);
    const live = await (await t.app.request(`/runs/${EXP}/${RUN}/live?device=1`)).text();
    assert.match(live, /the newest trial on device 1/);
    assert.match(live, /live\/events\?from=0&amp;device=1/);
    assert.equal((await t.app.request(`/runs/${EXP}/${RUN}/live?device=x`)).status, 400);
    assert.equal((await t.app.request(`/runs/${EXP}/${RUN}/live/events?device=1;rm`)).status, 400);

    sse = new SseReader(await t.app.request(`/runs/${EXP}/${RUN}/live/events?device=1`));
    const src = await sse.until((e) => e.event === "source");
    assert.deepEqual(JSON.parse(src.data), { trial: "002-matrix", kind: "jsonl" });
    const op = await sse.until((e) => e.event === "op");
    const cells = JSON.parse(op.data).cells as string[];
    assert.ok(cells.some((c) => c.startsWith("on_one")));
    assert.equal(cells[4], "1", "the op's device column");
    // a newer trial on another device does not move this view; one on device 1 does
    await placed("004-matrix", [0], [record(1, { device: 0 })]);
    await placed("005-replay", [1], [record(1, { device: 1, name: "replay_one" })]);
    const next = await sse.until((e) => e.event === "source" && JSON.parse(e.data).trial !== "002-matrix");
    assert.equal(JSON.parse(next.data).trial, "005-replay");

    // the verdict: the device the main trial ran on, the matrix by device; nothing is running any more
    const devices = [{ device: "0", trials: 2, errors: 0 }, { device: "1", trials: 2, errors: 2 }];
    await Deno.writeTextFile(
      join(t.run, "verdict.json"),
      JSON.stringify({
        status: "FAULT",
        device: "faultline sim (CPU)",
        device_id: 1,
        matrix: [{ name: "audit", mode: "audit", iterations: 4, errors: 2, status: "FAIL", devices }],
      }),
    );
    const done = await (await t.app.request(`/runs/${EXP}/${RUN}`)).text();
    assert.match(done, /faultline sim \(CPU\) \(device 1\)/);
    assert.match(done, /<td>0: 2, 1: 2 \(2 errors\)<\/td>/);
    assert.ok(!done.includes('id="running"'));
  } finally {
    await t.done(sse);
  }
});
