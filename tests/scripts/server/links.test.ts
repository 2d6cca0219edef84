/**
 * Symlinks inside a run folder never make the status server read a file outside the reports folder:
 * not on the run page, the run list, the JSON routes, the file route or the live view. Links that
 * stay inside the reports folder still work.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../../../scripts/server/app.tsx";
import { LiveStreams } from "../../../scripts/server/live.ts";
import {
  FAULT_EXP,
  FAULT_ID,
  FAULT_RUN,
  jsonl,
  LIVE_RUN,
  makeReports,
  record,
  VERDICT,
} from "../../fixtures/report_folders.ts";
import { SseReader } from "../../fixtures/sse.ts";
import { JournalWriter } from "../../../ffi/journal_native.ts";
import { journalLib } from "../../helpers/journal_lib.ts";
import { call, ptr } from "../../helpers/calls.ts";

const SECRET = "TOPSECRET_OUTSIDE_THE_REPORTS";

/** A reports folder whose run files link to files outside it, each holding SECRET in its own format. */
async function linkedReports() {
  const r = await makeReports();
  const outside = await Deno.makeTempDir({ prefix: "faultline-outside-" });
  const secretJournal = jsonl([record(1, { name: SECRET }), record(2, { name: SECRET, status: 700 })]);
  const files: Record<string, string> = {
    "report.md": `# ${SECRET}\n`,
    "journal.jsonl": secretJournal,
    "verdict.json": JSON.stringify({ ...VERDICT, status: "FAULT", device: SECRET }),
    "timeline.svg": `<svg xmlns="http://www.w3.org/2000/svg"><text>${SECRET}</text></svg>`,
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(outside, name), text);
    await Deno.remove(join(r.faultDir, name)).catch(() => {});
    await Deno.symlink(join(outside, name), join(r.faultDir, name));
  }
  // The live run: its journal and a trial's journal link out too.
  await Deno.remove(join(r.liveDir, "journal.jsonl"));
  await Deno.mkdir(join(r.liveDir, "trials", "001-run"), { recursive: true });
  await Deno.symlink(join(outside, "journal.jsonl"), join(r.liveDir, "trials", "001-run", "journal.jsonl"));
  const streams = new LiveStreams();
  const app = createApp({ reportsDir: r.root, streams, pollMs: 20 });
  return {
    ...r,
    app,
    outside,
    async close() {
      await streams.closeAll();
      await r.cleanup();
      await Deno.remove(outside, { recursive: true });
    },
  };
}

Deno.test("run files that link outside the reports folder are never read", async () => {
  const r = await linkedReports();
  try {
    for (
      const path of [
        FAULT_RUN,
        `/api/runs/${FAULT_EXP}/${FAULT_ID}`,
        "/",
        "/api/runs",
        `${FAULT_RUN}/live`,
        LIVE_RUN,
      ]
    ) {
      const res = await r.app.request(path);
      const body = await res.text();
      assert.ok(res.status < 500, `${path}: ${res.status}`);
      assert.ok(!body.includes(SECRET), `${path} shows a file outside the reports folder`);
    }
    for (const name of ["report.md", "journal.jsonl", "verdict.json", "timeline.svg"]) {
      const res = await r.app.request(`${FAULT_RUN}/files/${name}`);
      const body = await res.text();
      assert.equal(res.status, 403, name);
      assert.match(body, /outside the reports folder/, name);
      assert.ok(!body.includes(SECRET), name);
    }
    const api = await r.app.request(`/api${FAULT_RUN}/journal`);
    const apiBody = await api.text();
    assert.ok(!apiBody.includes(SECRET), "the journal API follows the link");
    // The run page says why the files were not read.
    const page = await (await r.app.request(FAULT_RUN)).text();
    assert.match(page, /verdict\.json links outside the reports folder/);
  } finally {
    await r.close();
  }
});

Deno.test("the live view does not follow a trial journal that links outside the reports folder", async () => {
  const r = await linkedReports();
  try {
    for (const path of [`${LIVE_RUN}/live/events`, `${FAULT_RUN}/live/events`]) {
      const ac = new AbortController();
      const res = await r.app.request(path, { signal: ac.signal });
      const sse = new SseReader(res);
      await sse.until((e) => e.event === "hello");
      // Several polls' worth of events: an op from the linked journal would arrive in the first.
      await sse.until((e) => e.event === "op" || e.event === "end", 1000).catch(() => {});
      assert.ok(!sse.events.some((e) => e.data.includes(SECRET)), `${path}: ${JSON.stringify(sse.events)}`);
      ac.abort();
      await sse.cancel();
    }
  } finally {
    await r.close();
  }
});

Deno.test("links that stay inside the reports folder are followed", async () => {
  const r = await makeReports();
  const app = createApp({ reportsDir: r.root });
  try {
    const copy = join(r.root, FAULT_EXP, "copy");
    await Deno.mkdir(copy);
    for (const name of ["verdict.json", "report.md", "journal.jsonl"]) {
      await Deno.symlink(join(r.faultDir, name), join(copy, name));
    }
    const res = await app.request(`/runs/${FAULT_EXP}/copy/files/report.md`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Fault report: rope_fault/);
    const page = await (await app.request(`/runs/${FAULT_EXP}/copy`)).text();
    assert.match(page, /rope_kernel/);
  } finally {
    await r.cleanup();
  }
});

Deno.test("a ring's side file that links outside the reports folder is not read", async () => {
  const root = await Deno.makeTempDir({ prefix: "faultline-links-ring-" });
  const outside = await Deno.makeTempDir({ prefix: "faultline-outside-" });
  const dir = join(root, "exp", "run", "trials", "001-run");
  await Deno.mkdir(dir, { recursive: true });
  const w = new JournalWriter({ path: join(dir, "journal.bin"), capacity: 64, native: journalLib() });
  const streams = new LiveStreams();
  let sse: SseReader | undefined;
  try {
    const k = call("launch", "rope", { pointers: [ptr("x", 0x1000, 64, "rw")] });
    w.before(k);
    w.after(k, 0);
    // The side file names the strings the records use: make it a link to one that names them SECRET.
    const side = await Deno.readTextFile(join(dir, "journal.bin.side"));
    await Deno.writeTextFile(join(outside, "side"), side.replaceAll('"rope"', JSON.stringify(SECRET)));
    await Deno.remove(join(dir, "journal.bin.side"));
    await Deno.symlink(join(outside, "side"), join(dir, "journal.bin.side"));
    const app = createApp({ reportsDir: root, streams, pollMs: 20, ringPollMs: 20 });
    sse = new SseReader(await app.request("/runs/exp/run/live/events"));
    const op = await sse.until((e) => e.event === "op");
    assert.ok(!op.data.includes(SECRET), op.data);
  } finally {
    await sse?.cancel();
    await streams.closeAll();
    w.close();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
