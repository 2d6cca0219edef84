import assert from "node:assert/strict";
import {
  attribute,
  bisectCuts,
  blameInReplay,
  findSurfaced,
  isLaunchTimeFailure,
  mapOp,
  type ReplayFn,
} from "../../../scripts/forensics/attribution.ts";
import { normalizeJournal, opLabel, parseJournalText } from "../../../scripts/forensics/journal_read.ts";
import {
  cleanJournal,
  LOGITS_D2H_OP,
  ROPE_Q_OP,
  ropeFault,
  ropeFindings,
  ropeJournal,
  ropeJournalRaw,
} from "../../fixtures/report_records.ts";
import type { TrialEvidence } from "../../../records.ts";

/** The label of launch `ordinal` of the RoPE journal (the op a bisection names). */
const launchLabel = (ordinal: number) => opLabel(ropeJournal().filter((r) => r.kind === "launch")[ordinal]);

const ev = (records = ropeJournal(), extra: Partial<TrialEvidence> = {}): TrialEvidence => ({
  outcome: null,
  records,
  findings: [],
  fault: null,
  ...extra,
});

Deno.test("attribution: surfaced_at is the first record with an error status", () => {
  const s = findSurfaced(ropeJournal());
  assert.equal(s?.id, LOGITS_D2H_OP);
  assert.equal(s?.kind, "d2h");
  assert.equal(findSurfaced(cleanJournal()), null);
});

Deno.test("attribution: a journal read back from jsonl keeps intent+result merged and pointers resolved", () => {
  const raw = ropeJournalRaw();
  // the intent of the last op first (pending), then its result
  const text =
    [...raw.slice(0, -1), { ...raw.at(-1), status: null }, raw.at(-1)].map((r) => JSON.stringify(r))
      .join("\n") + '\n{"id": 99, "kind": "lau'; // a half-written line of a dead trial
  const recs = parseJournalText(text);
  assert.equal(recs.length, raw.length);
  assert.equal(recs.at(-1)?.status, 700);
  const rope = recs.find((r) => r.id === ROPE_Q_OP)!;
  assert.equal(rope.op, "RoPE Q");
  assert.equal(rope.step, 3);
  assert.equal(rope.layer, 0);
  assert.equal(rope.pointers[0].alloc, null);
  assert.equal(recs[0].step, undefined);
});

Deno.test("attribution: the blocking replay blames the launch before the first failing sync", () => {
  const replay = ropeJournal({ syncs: true });
  const b = blameInReplay(replay)!;
  assert.equal(b.failed.kind, "sync");
  assert.equal(b.blamed?.op, "RoPE Q");
  // ids differ between runs (the extra syncs); the op maps back by kind, name, step, layer, occurrence
  assert.notEqual(b.blamed!.id, ROPE_Q_OP);
  assert.equal(mapOp(replay, b.blamed!.id, ropeJournal())?.id, ROPE_Q_OP);
});

Deno.test("attribution: RoPE Q named from one blocking replay, with arguments, findings and witness", async () => {
  let calls = 0;
  const replay: ReplayFn = (how) => {
    calls++;
    assert.equal(how.mode, "blocking");
    const records = ropeJournal({ syncs: true });
    return Promise.resolve(ev(records, { fault: { ...ropeFault, tag: 11 } }));
  };
  const a = await attribute(ev(ropeJournal(), { findings: ropeFindings, fault: ropeFault }), replay);
  assert.equal(calls, 1);
  assert.equal(a.replays, 1);
  assert.equal(a.method, "blocking-replay");
  assert.equal(a.reproducedUnderBlocking, true);
  assert.equal(a.timingDependent, false);
  assert.equal(a.surfaced?.op, LOGITS_D2H_OP);
  assert.match(a.surfaced!.error, /illegal memory access.*700/);
  const rc = a.rootCause!;
  assert.equal(rc.op, ROPE_Q_OP);
  assert.equal(rc.name, "RoPE Q");
  assert.equal(rc.kernel, "rope");
  assert.equal(rc.step, 3);
  assert.equal(rc.layer, 0);
  assert.equal(rc.argument, "x");
  assert.equal(rc.invariant, "pointer lies inside a live allocation");
  assert.equal(rc.findings.length, 1);
  assert.match(rc.args[0].text, /in no allocation/);
  assert.equal(rc.scalars.head_dim, 128);
  assert.equal(a.witness?.agrees, true);
  assert.ok(a.evidence.some((e) => /sync after every launch/.test(e)));
});

Deno.test("attribution: without findings the journal alone names the argument (pointer in no allocation)", async () => {
  const a = await attribute(ev(), () => Promise.resolve(ev(ropeJournal({ syncs: true }))));
  assert.equal(a.rootCause?.op, ROPE_Q_OP);
  assert.equal(a.rootCause?.argument, "x");
  assert.equal(a.rootCause?.invariant, "pointer lies inside an allocation");
});

Deno.test("attribution: a launch refused at launch time is its own root cause, no replay", async () => {
  const recs = ropeJournal().slice(0, 9).map((r) => r.id === ROPE_Q_OP ? { ...r, status: 9 } : r);
  assert.ok(isLaunchTimeFailure(recs[8]));
  const a = await attribute(ev(recs), () => {
    throw new Error("must not replay");
  });
  assert.equal(a.method, "launch-status");
  assert.equal(a.replays, 0);
  assert.equal(a.rootCause?.op, ROPE_Q_OP);
  assert.match(a.surfaced!.error, /invalid configuration/);
});

Deno.test("attribution: no fault under per-launch syncs → timing-dependent, bisection finds the sync point", async () => {
  // launches (ordinals) before the surfacing copy: 0 rmsnorm, 1 Q proj, 2 RoPE Q, 3 RoPE K, 4 logits
  const critical = 2;
  const seen: (number[] | undefined)[] = [];
  const replay: ReplayFn = (how) => {
    seen.push(how.syncAfter);
    if (how.mode === "blocking") return Promise.resolve(ev(cleanJournal()));
    const gone = how.syncAfter!.includes(critical);
    return Promise.resolve(ev(gone ? cleanJournal() : ropeJournal()));
  };
  const a = await attribute(ev(), replay, { maxReplays: 6 });
  assert.equal(a.reproducedUnderBlocking, false);
  assert.equal(a.timingDependent, true);
  assert.equal(a.method, "bisect");
  assert.equal(a.criticalSync?.op, ROPE_Q_OP);
  assert.ok(a.replays <= 1 + Math.ceil(Math.log2(5)));
  assert.equal(a.rootCause?.op, ROPE_Q_OP);
  assert.ok(a.evidence.some((e) => /timing-dependent/.test(e)));
});

Deno.test("attribution: bisection cut points spread evenly inside the range, the midpoint alone", () => {
  assert.deepEqual(bisectCuts(0, 5, 1), [2]);
  assert.deepEqual(bisectCuts(0, 8, 3), [2, 4, 6]);
  assert.deepEqual(bisectCuts(3, 6, 4), [4, 5]); // no more cuts than points inside
  assert.deepEqual(bisectCuts(0, 100, 4), [20, 40, 60, 80]);
});

Deno.test("attribution: with 3 devices the bisection's replays run side by side and find the same sync", async () => {
  // launches (ordinals) before the surfacing copy: 0 rmsnorm, 1 Q proj, 2 RoPE Q, 3 RoPE K, 4 logits
  for (let critical = 0; critical < 5; critical++) {
    let running = 0, peak = 0;
    const replay: ReplayFn = async (how) => {
      if (how.mode === "blocking") return ev(cleanJournal());
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      return ev(how.syncAfter!.includes(critical) ? cleanJournal() : ropeJournal());
    };
    const a = await attribute(ev(), replay, { maxReplays: 8, sideBySide: () => Promise.resolve(3) });
    const one = await attribute(ev(), replay, { maxReplays: 8 });
    assert.equal(a.method, "bisect", `critical ${critical}`);
    assert.equal(a.criticalSync?.op, one.criticalSync?.op, `critical ${critical}`);
    assert.equal(a.criticalSync?.label, launchLabel(critical));
    assert.equal(peak, 3);
  }
});

Deno.test("attribution: bisection is bounded", async () => {
  const a = await attribute(
    ev(),
    (how) => Promise.resolve(ev(how.mode === "blocking" ? cleanJournal() : ropeJournal())),
    { maxReplays: 2 },
  );
  assert.equal(a.replays, 2);
  assert.equal(a.criticalSync, null);
  assert.ok(a.evidence.some((e) => /bisect stopped/.test(e)));
});

Deno.test("attribution: no fault but a guard finding (a silent overrun) names the op", async () => {
  const a = await attribute(ev(cleanJournal(), { findings: ropeFindings }), () => {
    throw new Error("must not replay");
  });
  assert.equal(a.method, "finding");
  assert.equal(a.surfaced, null);
  assert.equal(a.rootCause?.op, ROPE_Q_OP);
  assert.equal(a.replays, 0);
});

Deno.test("attribution: a clean run names nothing", async () => {
  const a = await attribute(ev(cleanJournal()), () => {
    throw new Error("must not replay");
  });
  assert.equal(a.rootCause, null);
  assert.equal(a.surfaced, null);
  assert.equal(a.method, "none");
});

Deno.test("attribution: a trial that died inside a call surfaces at the pending record", async () => {
  const raw = ropeJournalRaw().slice(0, 9);
  raw[8] = { ...raw[8], status: null };
  const recs = normalizeJournal(raw);
  const outcome = {
    spec: { experiment: "x", mode: "audit" as const, iteration: 0, runDir: "/tmp" },
    status: "CRASH" as const,
    code: null,
    signal: "SIGSEGV",
    result: null,
    stdoutTail: "",
    stderrTail: "",
    wallMs: 1,
    command: [],
    timedOut: false,
  };
  const a = await attribute(ev(recs, { outcome }), () => Promise.resolve(ev(ropeJournal({ syncs: true }))));
  assert.equal(a.surfaced?.op, ROPE_Q_OP);
  assert.match(a.surfaced!.error, /died inside/);
  assert.equal(a.rootCause?.op, ROPE_Q_OP);
});
