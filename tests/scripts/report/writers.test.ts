import assert from "node:assert/strict";
import { join } from "node:path";
import { attribute } from "../../../scripts/forensics/attribution.ts";
import { DEBUG_ENVS } from "../../../scripts/forensics/debugenv.ts";
import { emptyEvidence, evaluate } from "../../../scripts/forensics/hypotheses.ts";
import { parseJournalText } from "../../../scripts/forensics/journal_read.ts";
import { STOCK_HYPOTHESES } from "../../../scripts/forensics/stock.ts";
import {
  cleanJournal,
  LOGITS_D2H_OP,
  ROPE_Q_OP,
  ropeFault,
  ropeFindings,
  ropeJournal,
} from "../../fixtures/report_records.ts";
import { buildMarkdown, headline } from "../../../scripts/report/markdown.ts";
import { buildTimeline, timelineSlots } from "../../../scripts/report/timeline.ts";
import { buildTrace } from "../../../scripts/report/trace.ts";
import { buildVerdict } from "../../../scripts/report/verdict.ts";
import { writeReport } from "../../../scripts/report/write.ts";
import type { Evidence, RunReport, TrialEvidence } from "../../../records.ts";

async function faultRun(): Promise<RunReport> {
  const tev = (records = ropeJournal()): TrialEvidence => ({
    outcome: null,
    records,
    findings: ropeFindings,
    fault: ropeFault,
  });
  const a = await attribute(
    tev(),
    () => Promise.resolve({ ...tev(ropeJournal({ syncs: true })), fault: { ...ropeFault, tag: 11 } }),
  );
  const ev: Evidence = {
    experiment: "rope_forensics",
    records: ropeJournal(),
    findings: ropeFindings,
    attribution: a,
    faulted: true,
    reproduced: true,
    matrix: null,
    trials: [],
    fault: ropeFault,
    sanitizer: null,
    config: {},
    values: {},
  };
  return {
    experiment: "rope_forensics",
    runId: "20261123-070000-abc",
    status: "FAULT",
    backend: "sim",
    device: "faultline sim device",
    config: { model: "llama-7b-shaped", head_dim: 128 },
    mode: "audit",
    debugEnv: DEBUG_ENVS.hip,
    command: "deno run -A scripts/experiments/rope_forensics.ts",
    started: "2026-11-23T07:00:00.000Z",
    finished: "2026-11-23T07:00:02.000Z",
    records: ropeJournal(),
    findings: ropeFindings,
    attribution: a,
    hypotheses: evaluate([...STOCK_HYPOTHESES], ev),
    matrix: null,
    fault: ropeFault,
    sanitizer: null,
    trials: [
      { purpose: "run", mode: "audit", status: "FAULT", wallMs: 900, detail: "d2h logits failed" },
      { purpose: "replay", mode: "blocking", status: "FAULT", wallMs: 800, detail: "sync failed" },
    ],
  };
}

function cleanRun(): RunReport {
  const records = cleanJournal();
  const ev: Evidence = emptyEvidence("d2h_race_matrix", { records });
  return {
    experiment: "d2h_race_matrix",
    runId: "r1",
    status: "OK",
    backend: "sim",
    device: "sim",
    config: {},
    mode: "audit",
    debugEnv: null,
    command: "deno run -A x.ts",
    started: "2026-11-23T07:00:00.000Z",
    finished: "2026-11-23T07:00:02.000Z",
    records,
    findings: [],
    attribution: null,
    hypotheses: evaluate([...STOCK_HYPOTHESES], ev),
    matrix: [
      {
        name: "baseline",
        mode: "off",
        iterations: 50,
        errors: 0,
        status: "PASS",
        outcomes: { OK: 50 },
        wallMs: 1,
      },
      {
        name: "audit",
        mode: "audit",
        iterations: 50,
        errors: 0,
        status: "PASS",
        outcomes: { OK: 50 },
        wallMs: 1,
      },
      {
        name: "stress",
        mode: "audit",
        iterations: 100,
        errors: 0,
        status: "PASS",
        outcomes: { OK: 100 },
        wallMs: 1,
      },
    ],
    fault: null,
    sanitizer: null,
    trials: [],
  };
}

Deno.test("report: verdict.json has DESIGN.md's fields", async () => {
  const v = buildVerdict(await faultRun());
  for (
    const k of [
      "experiment",
      "backend",
      "device",
      "config",
      "status",
      "surfaced_at",
      "root_cause",
      "hypotheses",
      "matrix",
      "started",
      "finished",
      "command",
    ]
  ) {
    assert.ok(k in v, k);
  }
  assert.equal(v.status, "FAULT");
  assert.deepEqual(Object.keys(v.surfaced_at!), ["op", "kind", "name", "error"]);
  assert.equal(v.surfaced_at!.op, LOGITS_D2H_OP);
  assert.deepEqual(Object.keys(v.root_cause!), [
    "op",
    "kind",
    "kernel",
    "name",
    "step",
    "layer",
    "argument",
    "invariant",
    "detail",
    "cause",
  ]);
  assert.equal(v.root_cause!.cause, null);
  assert.equal(v.root_cause!.name, "RoPE Q");
  assert.equal(v.root_cause!.step, 3);
  assert.equal(v.root_cause!.layer, 0);
  assert.equal(v.attribution!.replays, 1);
  for (const h of v.hypotheses) {
    assert.ok(["CONFIRMED", "RULED_OUT", "INCONCLUSIVE", "NOT_REPRODUCED"].includes(h.status));
  }
  assert.deepEqual(buildVerdict(cleanRun()).matrix[2], {
    name: "stress",
    mode: "audit",
    iterations: 100,
    errors: 0,
    status: "PASS",
  });
  assert.equal(buildVerdict(cleanRun()).root_cause, null);
});

Deno.test("report: report.md names the stage and the root cause", async () => {
  const md = buildMarkdown(await faultRun());
  assert.match(md, /^# rope_forensics — FAULT/);
  const order = [
    "## Summary",
    "## Error Observed",
    "## Hypothesis verdicts",
    "## Exact stage of the fault",
    "## Most likely root cause",
    "## Timeline",
    "## Next steps",
    "## Configuration",
  ];
  let at = 0;
  for (const h of order) {
    const i = md.indexOf(h);
    assert.ok(i > at, `${h} in order`);
    at = i;
  }
  assert.match(md, /\| Hypothesis \| Status \| Evidence \|/);
  assert.match(md, /\| Offset calculation overflow \| \*\*CONFIRMED\*\* \|/);
  assert.match(md, new RegExp(`\\*\\*Surfaced at:\\*\\* op #${LOGITS_D2H_OP}, d2h \`logits\``));
  assert.match(
    md,
    new RegExp(
      `\\*\\*Root cause:\\*\\* op #${ROPE_Q_OP}, launch \`rope\` — \\*\\*RoPE Q\\*\\*, step 3, layer 0`,
    ),
  );
  assert.match(md, /\*\*Argument:\*\* `x`/);
  assert.match(md, /\*\*Invariant broken:\*\* pointer lies inside a live allocation/);
  assert.match(md, /!\[timeline[^\]]*\]\(timeline\.svg\)/);
  assert.match(md, /HIP_LAUNCH_BLOCKING=1 AMD_SERIALIZE_KERNEL=3 AMD_SERIALIZE_COPY=3 HSA_ENABLE_SDMA=0/);
  assert.match(md, /\| Command \| `deno run -A scripts\/experiments\/rope_forensics.ts` \|/);
  assert.match(md, /\*\*Time to root cause:\*\* [\d.]+ s, 1 replay\(s\)/);
  assert.match(headline(await faultRun()), /RoPE Q \(step 3, layer 0\) is the root cause, argument x/);
});

Deno.test("report: a clean matrix run reads NOT REPRODUCED with the matrix's results table", () => {
  const md = buildMarkdown(cleanRun());
  assert.match(md, /^# d2h_race_matrix — OK/);
  assert.match(md, /not reproduced/);
  assert.match(md, /\| A \| baseline \(off\) \| 50 \| 0 \| PASS \|/);
  assert.match(md, /\| \*\*Total\*\* \| - \| \*\*200\*\* \| \*\*0\*\* \| \*\*PASS\*\* \|/);
  assert.doesNotMatch(md, /CONFIRMED\*\*/);
  assert.match(md, /\*\*Root cause:\*\* NOT REPRODUCED/);
});

Deno.test("report: trace.json is Chrome trace events with a track per stream", async () => {
  const t = buildTrace(await faultRun());
  assert.equal(t.displayTimeUnit, "ms");
  const x = t.traceEvents.filter((e) => e.ph === "X");
  assert.equal(x.length, ropeJournal().length);
  for (const e of x) {
    assert.equal(typeof e.ts, "number");
    assert.ok(e.dur! >= 1);
    assert.equal(typeof e.pid, "number");
    assert.equal(typeof e.tid, "number");
  }
  const tids = new Set(x.map((e) => e.tid));
  assert.equal(tids.size, 2); // default stream and stream 0x55
  const names = t.traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) =>
    e.args!.name
  );
  assert.ok(names.includes("default stream"));
  const rope = x.find((e) => e.args!.op === ROPE_Q_OP)!;
  assert.equal(rope.args!.root_cause, true);
  assert.match(String(rope.args!.x), /no allocation/);
  assert.ok(t.traceEvents.some((e) => e.ph === "i" && e.name === "ROOT CAUSE"));
  JSON.parse(JSON.stringify(t));
});

Deno.test("report: timeline.svg has lanes, marks the faulting launch and the surfacing copy, and a legend", async () => {
  const svg = buildTimeline(await faultRun());
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /default stream/);
  assert.match(svg, /stream 1 \(0x55\)/);
  assert.match(svg, new RegExp(`root cause: #${ROPE_Q_OP} RoPE Q \\(step 3 layer 0\\)`));
  assert.match(svg, new RegExp(`surfaced: #${LOGITS_D2H_OP} d2h logits`));
  assert.match(svg, /guard finding/);
  assert.match(svg, /<\/svg>\n$/);
  // well-formed enough for an XML parser: every tag closed
  const opens = (svg.match(/<(rect|text|line|path|title)\b/g) ?? []).length;
  const closes = (svg.match(/<\/(rect|text|line|path|title)>|\/>/g) ?? []).length;
  assert.equal(opens, closes);
});

Deno.test("report: a long journal keeps the ops around the marks and elides the rest", () => {
  const recs = Array.from({ length: 2000 }, (_, i) => ({
    id: i + 1,
    kind: "launch",
    name: "k",
    stream: 0,
    scalars: {},
    pointers: [],
    status: 0,
  }));
  const slots = timelineSlots(recs, [700, 1990], 160);
  assert.ok(slots.length < 260);
  const ids = slots.flatMap((s) => ("rec" in s ? [s.rec.id] : []));
  assert.ok(ids.includes(700) && ids.includes(1990));
  assert.ok(slots.some((s) => "gap" in s));
});

Deno.test("report: writeReport writes the five files a run folder holds", async () => {
  const dir = join(await Deno.makeTempDir(), "rope_forensics", "run1");
  const w = await writeReport(dir, await faultRun());
  const names = w.files.map((f) => f.split("/").at(-1)).sort();
  assert.deepEqual(names, ["journal.jsonl", "report.md", "timeline.svg", "trace.json", "verdict.json"]);
  const back = parseJournalText(await Deno.readTextFile(join(dir, "journal.jsonl")));
  assert.equal(back.length, ropeJournal().length);
  assert.equal(back.find((r) => r.id === ROPE_Q_OP)?.op, "RoPE Q");
  JSON.parse(await Deno.readTextFile(join(dir, "verdict.json")));
});
