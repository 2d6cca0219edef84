/**
 * End to end in a real headless Chromium (Debian's `chromium` package, driven
 * by playwright-core): open the run list, follow a run, open the live view of
 * a running trial and see an op appended to its journal arrive.
 * Skipped where /usr/bin/chromium is absent (GPU machines); CI installs it
 * with scripts/ci/install_chromium.sh.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { createApp } from "../../../scripts/server/app.tsx";
import { LiveStreams } from "../../../scripts/server/live.ts";
import {
  FAULT_EXP,
  FAULT_ID,
  jsonl,
  LIVE_EXP,
  LIVE_ID,
  makeReports,
  record,
} from "../../fixtures/report_folders.ts";

const CHROMIUM = "/usr/bin/chromium";

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const available = hasChromium();
if (!available) {
  console.warn(`server e2e: SKIPPED, ${CHROMIUM} is not installed (scripts/ci/install_chromium.sh)`);
}

// launch() gives the browser a fresh temporary profile (user data dir) and removes it on close.
function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 60_000,
  });
}

/** The tallest the run page of the demo's run may be in a 1280 px wide window (it was 5660 px). */
const RUN_PAGE_MAX_PX = 1800;

Deno.test({
  name: available
    ? "e2e: a real run's page fits in one screen or two, and its failing op is one click away (headless Chromium)"
    : `e2e: SKIPPED (${CHROMIUM} not installed)`,
  ignore: !available,
  fn: async () => {
    const reports = await Deno.makeTempDir({ prefix: "faultline-e2e-run-" });
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/experiments/rope_forensics.ts", "--reports", reports],
      env: { FAULTLINE_QUIET: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 1, `a FAULT run exits 1: ${new TextDecoder().decode(run.stderr)}`);
    const verdict = JSON.parse(
      await Deno.readTextFile(
        join(
          reports,
          "rope_forensics",
          [...Deno.readDirSync(join(reports, "rope_forensics"))][0].name,
          "verdict.json",
        ),
      ),
    );
    const app = createApp({ reportsDir: reports });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      await page.getByRole("link", { name: "FAULT (1)" }).click();
      await page.locator("#runs tbody tr").first().getByRole("link", { name: verdict.run_id }).click();
      await page.waitForURL(`**/runs/rope_forensics/${verdict.run_id}`);
      await page.waitForFunction("document.querySelector('img.timeline')?.complete");
      const height = await page.evaluate("document.documentElement.scrollHeight") as number;
      assert.ok(height <= RUN_PAGE_MAX_PX, `the run page is ${height} px tall`);
      // The failing op: one click from the run page to the op that caused the fault.
      const failing = page.locator("#failing-op");
      assert.equal(await failing.innerText(), `op #${verdict.root_cause.op}`);
      await failing.click();
      await page.waitForURL(`**/runs/rope_forensics/${verdict.run_id}/ops/${verdict.root_cause.op}`);
      assert.match(await page.locator("#op-role").innerText(), /the root cause of the run/);
      assert.match(await page.locator("#op").innerText(), new RegExp(verdict.root_cause.kernel));
      assert.equal(await page.locator("tr.culprit td").first().innerText(), verdict.root_cause.argument);
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(reports, { recursive: true });
    }
  },
});

Deno.test({
  name: available
    ? "e2e: run list → run page → live view receives an appended op (headless Chromium)"
    : `e2e: SKIPPED (${CHROMIUM} not installed)`,
  ignore: !available,
  fn: async () => {
    const r = await makeReports();
    const streams = new LiveStreams();
    const app = createApp({ reportsDir: r.root, streams });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await launchBrowser();
    const problems: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(String(e)));

      // The run list.
      await page.goto(`${base}/`);
      assert.equal(await page.locator("#runs tbody tr").count(), 2);
      const faultRow = page.locator(`tr[data-run="${FAULT_EXP}/${FAULT_ID}"]`);
      assert.match(await faultRow.innerText(), /FAULT\s+sim\s+sim:0 \(CPU\)/);
      assert.match(await faultRow.innerText(), /rope_kernel, op 5, argument pos/);

      // Follow the finished run.
      await faultRow.getByRole("link", { name: FAULT_ID }).click();
      await page.waitForURL(`**/runs/${FAULT_EXP}/${FAULT_ID}`);
      assert.equal(await page.locator("#hypotheses tbody tr").count(), 1);
      assert.match(await page.locator("#hypotheses").innerText(), /CONFIRMED\s+RoPE writes past <q_proj>/);
      const timeline = page.locator("img.timeline");
      await timeline.waitFor();
      await page.waitForFunction("document.querySelector('img.timeline')?.naturalWidth > 0");
      assert.equal(
        await page.locator("#trace").getAttribute("href"),
        `/runs/${FAULT_EXP}/${FAULT_ID}/files/trace.json`,
      );

      // Back to the list, then the live run's live view.
      await page.goto(`${base}/`);
      await page.locator(`tr[data-run="${LIVE_EXP}/${LIVE_ID}"]`).getByRole("link", { name: "live" }).click();
      await page.waitForURL(`**/runs/${LIVE_EXP}/${LIVE_ID}/live`);
      await page.locator("#live-state", { hasText: /^LIVE$/ }).waitFor({ timeout: 5000 });
      assert.equal(await page.locator("#ops tbody tr").count(), 2);

      // The trial journals its next op: complete the half-written line and add one more.
      await Deno.writeTextFile(
        join(r.liveDir, "journal.jsonl"),
        'nd": "launch", "status": null}\n' + jsonl([record(42, { name: "e2e_marker_kernel", status: 700 })]),
        { append: true },
      );
      const row = page.locator('#ops tr[data-id="42"]');
      await row.waitFor({ timeout: 5000 });
      assert.match(await row.innerText(), /e2e_marker_kernel/);
      assert.equal(await row.getAttribute("class"), "op error");
      assert.equal(await page.locator("#ops tbody tr").count(), 4);
      assert.equal(await page.locator("#op-count").innerText(), "4");
      assert.match(
        await page.locator("#last-error").innerText(),
        /^42 \|.*e2e_marker_kernel.*\| hipErrorIllegalAddress \(700\)$/,
      );

      // A second viewer that goes away: the server stops following the journal for it.
      const second = await browser.newPage();
      await second.goto(`${base}/runs/${LIVE_EXP}/${LIVE_ID}/live`);
      await second.locator("#live-state", { hasText: /^LIVE$/ }).waitFor({ timeout: 5000 });
      for (const end = Date.now() + 5000; streams.size < 2 && Date.now() < end;) {
        await new Promise((ok) => setTimeout(ok, 50));
      }
      assert.equal(streams.size, 2);
      await second.close();
      const deadline = Date.now() + 5000;
      while (streams.size > 1 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
      assert.equal(streams.size, 1, "a disconnected viewer's stream ends");

      // The trial ends: the view says so and stops listening.
      await Deno.writeTextFile(join(r.liveDir, "verdict.json"), JSON.stringify({ status: "FAULT" }));
      await page.locator("#live-state", { hasText: /^FAULT$/ }).waitFor({ timeout: 5000 });
      assert.deepEqual(problems, [], "no console errors (CSP violations included)");
      while (streams.size > 0 && Date.now() < deadline + 5000) await new Promise((ok) => setTimeout(ok, 50));
      assert.equal(streams.size, 0, "the stream ends with the run");
    } finally {
      await browser.close();
      await streams.closeAll();
      await server.shutdown();
      await r.cleanup();
    }
  },
});
