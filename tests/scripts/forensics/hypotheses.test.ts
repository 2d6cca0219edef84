import assert from "node:assert/strict";
import { attribute } from "../../../scripts/forensics/attribution.ts";
import { emptyEvidence, evaluate, hypothesis, tally } from "../../../scripts/forensics/hypotheses.ts";
import { classifyFinding, stagingReuse, STOCK_HYPOTHESES } from "../../../scripts/forensics/stock.ts";
import { cleanJournal, ROPE_Q_OP, ropeFindings, ropeJournal } from "../../fixtures/report_records.ts";
import type { Evidence, Finding, OpRecord, TrialEvidence } from "../../../records.ts";

const tev = (records: OpRecord[], findings: Finding[] = []): TrialEvidence => ({
  outcome: null,
  records,
  findings,
  fault: null,
});

function evidence(over: Partial<Evidence>): Evidence {
  return emptyEvidence("t", over);
}

const byId = (rs: { id: string; status: string }[]) => Object.fromEntries(rs.map((r) => [r.id, r.status]));

/** A finding's allocation: a live 4096-byte buffer "x" unless said otherwise. */
function allocation(a: Partial<NonNullable<Finding["allocation"]>>): NonNullable<Finding["allocation"]> {
  return { id: 1, name: "x", offset: 0, bytes: 4, size: 4096, state: "live", ...a };
}

Deno.test("hypotheses: the stock set is the nine usual causes", () => {
  assert.deepEqual(STOCK_HYPOTHESES.map((h) => h.id).sort(), [
    "bad-launch-params",
    "byte-size-mismatch",
    "config-mismatch",
    "misaligned-pointer",
    "missing-stream-sync",
    "offset-overflow",
    "overlapping-async-copies",
    "staging-buffer-reuse",
    "use-after-free",
  ]);
});

Deno.test("hypotheses: RoPE pointer past its buffer → offset overflow CONFIRMED, race RULED_OUT", async () => {
  const a = await attribute(
    tev(ropeJournal(), ropeFindings),
    () => Promise.resolve(tev(ropeJournal({ syncs: true }))),
  );
  const res = evaluate(
    [...STOCK_HYPOTHESES],
    evidence({
      records: ropeJournal(),
      findings: ropeFindings,
      attribution: a,
      faulted: true,
      reproduced: true,
    }),
  );
  const s = byId(res);
  assert.equal(s["offset-overflow"], "CONFIRMED");
  assert.equal(s["missing-stream-sync"], "RULED_OUT");
  assert.equal(s["use-after-free"], "RULED_OUT");
  assert.equal(s["staging-buffer-reuse"], "RULED_OUT");
  assert.equal(s["overlapping-async-copies"], "RULED_OUT");
  assert.equal(res.filter((r) => r.status === "CONFIRMED").length, 1);
  assert.match(res.find((r) => r.id === "offset-overflow")!.evidence, new RegExp(`#${ROPE_Q_OP}`));
  assert.match(tally(res), /1 CONFIRMED, 8 RULED_OUT/);
});

Deno.test("hypotheses: a clean run yields nothing CONFIRMED (NOT_REPRODUCED / RULED_OUT)", () => {
  const res = evaluate([...STOCK_HYPOTHESES], evidence({ records: cleanJournal() }));
  assert.equal(res.filter((r) => r.status === "CONFIRMED").length, 0);
  assert.equal(byId(res)["use-after-free"], "NOT_REPRODUCED");
  assert.equal(byId(res)["staging-buffer-reuse"], "RULED_OUT");
});

Deno.test("hypotheses: a finding without a fault (silent overrun) is still CONFIRMED", () => {
  const f: Finding = {
    rail: "bounds",
    op: 7,
    argument: "x",
    invariant: "offset + bytes <= allocation size",
    allocation: allocation({ offset: 64 }),
    detail: "4096 B from offset 64 of a 4096 B buffer",
  };
  const res = evaluate([...STOCK_HYPOTHESES], evidence({ records: cleanJournal(), findings: [f] }));
  assert.equal(byId(res)["offset-overflow"], "CONFIRMED");
  assert.match(res.find((r) => r.id === "offset-overflow")!.evidence, /no fault, but/);
});

Deno.test("hypotheses: timing-dependent fault confirms the missing sync", async () => {
  const a = await attribute(
    tev(ropeJournal()),
    (how) =>
      Promise.resolve(
        tev(how.mode === "blocking" || how.syncAfter!.includes(2) ? cleanJournal() : ropeJournal()),
      ),
  );
  const res = evaluate(
    [...STOCK_HYPOTHESES],
    evidence({ records: ropeJournal(), attribution: a, faulted: true, reproduced: true }),
  );
  assert.equal(byId(res)["missing-stream-sync"], "CONFIRMED");
});

Deno.test("hypotheses: finding classification", () => {
  const f = (rail: string, invariant: string, extra: Partial<Finding> = {}): Finding => ({
    rail,
    op: 1,
    invariant,
    detail: "",
    ...extra,
  });
  assert.equal(
    classifyFinding(f("lifetime", "allocation is live", { allocation: allocation({ state: "freed" }) })),
    "use-after-free",
  );
  assert.equal(classifyFinding(f("pointer", "pointer is not null")), "misaligned-pointer");
  assert.equal(classifyFinding(f("alignment", "pointer aligned to its element size")), "misaligned-pointer");
  assert.equal(
    classifyFinding(f("race", "event recorded between producer and consumer streams")),
    "missing-stream-sync",
  );
  assert.equal(classifyFinding(f("params", "seq_len > 0")), "bad-launch-params");
  assert.equal(classifyFinding(f("params", "head_dim is even")), "bad-launch-params");
  assert.equal(classifyFinding(f("model-compat", "model ffn size matches the build")), "config-mismatch");
  assert.equal(classifyFinding(f("copy", "copy size mismatch: bytes <= buffer size")), "byte-size-mismatch");
  // the rails of scripts/guards/, by name
  assert.equal(classifyFinding(f("use_after_free", "x")), "use-after-free");
  assert.equal(
    classifyFinding(f("unknown_pointer", "pointer arguments point into an allocation")),
    "misaligned-pointer",
  );
  assert.equal(classifyFinding(f("null_pointer", "pointer arguments are not null")), "misaligned-pointer");
  assert.equal(
    classifyFinding(
      f("extent", "pointer + extent within the allocation", { allocation: allocation({ offset: 4096 }) }),
    ),
    "offset-overflow",
  );
  assert.equal(
    classifyFinding(
      f("extent", "pointer + extent within the allocation", { allocation: allocation({ offset: 0 }) }),
    ),
    "byte-size-mismatch",
  );
  assert.equal(classifyFinding(f("copies", "copy size > 0", { argument: "bytes" })), "byte-size-mismatch");
  assert.equal(classifyFinding(f("invariants", "head_dim even and > 0")), "bad-launch-params");
  assert.equal(
    classifyFinding(f("launch_limits", "grid and block within the device's limits")),
    "bad-launch-params",
  );
  assert.equal(classifyFinding(f("model_compat", "model ffn equals the engine build's")), "config-mismatch");
  assert.equal(
    classifyFinding(f("races", "accesses from two streams are ordered by an event wait or a sync")),
    "missing-stream-sync",
  );
});

Deno.test("hypotheses: staging-buffer reuse from the journal", () => {
  const d2h = (id: number, stream: number, host: number): OpRecord => ({
    id,
    kind: "d2h",
    name: "t",
    stream,
    scalars: { bytes: 64 },
    pointers: [],
    host,
    status: 0,
  });
  assert.equal(stagingReuse([d2h(1, 5, 0x1000), d2h(2, 5, 0x2000)]), null);
  assert.equal(stagingReuse([d2h(1, 5, 0x1000), d2h(2, 6, 0x1020)])?.second.id, 2);
  const sync: OpRecord = {
    id: 2,
    kind: "sync",
    name: "stream_synchronize",
    stream: 5,
    scalars: {},
    pointers: [],
    status: 0,
  };
  assert.equal(stagingReuse([d2h(1, 5, 0x1000), sync, d2h(3, 6, 0x1000)]), null);
});

Deno.test("hypotheses: custom predicates, and one that throws is INCONCLUSIVE", () => {
  const res = evaluate(
    [
      hypothesis({
        id: "a",
        title: "A",
        test: (ev) => ({ status: ev.faulted ? "CONFIRMED" : "RULED_OUT", evidence: "x" }),
      }),
      hypothesis({
        id: "b",
        title: "B",
        test: () => {
          throw new Error("boom");
        },
      }),
    ],
    evidence({ faulted: true }),
  );
  assert.deepEqual(res.map((r) => r.status), ["CONFIRMED", "INCONCLUSIVE"]);
  assert.match(res[1].evidence, /boom/);
});

Deno.test("hypotheses: a root-cause pointer in no allocation leaves offset overflow INCONCLUSIVE, not ruled out", async () => {
  const wild: Finding[] = [{
    ...ropeFindings[0],
    rail: "unknown_pointer",
    invariant: "pointer arguments point into an allocation",
    detail: "x=0x804438000000 is outside every allocation: 1 TiB past the end of q (alloc 7, 16384 bytes): " +
      "offset 1099511627776 of q, an offset overflow?",
  }];
  const a = await attribute(
    tev(ropeJournal(), wild),
    () => Promise.resolve(tev(ropeJournal({ syncs: true }))),
  );
  const res = evaluate(
    [...STOCK_HYPOTHESES],
    evidence({ records: ropeJournal(), findings: wild, attribution: a, faulted: true, reproduced: true }),
  );
  const s = byId(res);
  assert.equal(s["misaligned-pointer"], "CONFIRMED");
  assert.equal(s["offset-overflow"], "INCONCLUSIVE");
  assert.match(
    res.find((r) => r.id === "offset-overflow")!.evidence,
    /overflowed offset or a corrupted pointer/,
  );
  // a pointer in no allocation without an allocation below it says nothing of offsets
  const far = [{ ...wild[0], detail: "x=0x10 is outside every allocation" }];
  const res2 = evaluate(
    [...STOCK_HYPOTHESES],
    evidence({ records: ropeJournal(), findings: far, attribution: a, faulted: true, reproduced: true }),
  );
  assert.equal(byId(res2)["offset-overflow"], "RULED_OUT");
});
