// Fuzzing the journal readers (seeded; see tests/helpers/fuzz.ts):
// - the ring decoder (ffi/journal.ts): a mutated ring and side file is refused with a JournalFormatError
//   or decoded with its invariants held, and damage confined to one record's slot changes no other record;
// - the status server's journal.jsonl readers: the pages of a mutated journal, read one after the other,
//   hold exactly what parsing it whole gives, its summary and op lookup agree with that parse, and the
//   server's pages over it answer without a 5xx.

import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeJournalBytes, JournalFormatError, journalJsonl } from "../../ffi/journal.ts";
import {
  F_T_AFTER,
  F_T_BEFORE,
  H_PID,
  H_START_NOW,
  H_TIME_ORIGIN,
  HEADER_BYTES,
  JournalWriter,
  KINDS,
  MAX_POINTERS,
  MAX_SCALARS,
  RECORD_BYTES,
} from "../../ffi/journal_native.ts";
import { ReportsFiles } from "../../scripts/server/files.ts";
import { mergeById, parseJournal, summarize } from "../../scripts/server/journal.ts";
import { findOp, readPage, summarizeFile } from "../../scripts/server/journal_file.ts";
import { journalLib } from "../helpers/journal_lib.ts";
import { alloc, call, free, ptr, resetIds } from "../helpers/calls.ts";
import { jsonl, record, VERDICT } from "../fixtures/report_folders.ts";
import { createApp } from "../../scripts/server/app.tsx";
import { type Field, fuzz, fuzzCases } from "../helpers/fuzz.ts";

const CAPACITY = 16;

/** A ring of 19 records (wrapped once, the last in flight) with allocations, frees, launches and copies, and its side file. */
function baseRing(): { ring: Uint8Array; side: Uint8Array } {
  resetIds();
  const dir = Deno.makeTempDirSync({ prefix: "fl-journal-fuzz-" });
  const path = `${dir}/journal.bin`;
  const w = new JournalWriter({ path, capacity: CAPACITY, native: journalLib() });
  for (let k = 0; k < 5; k++) {
    const a = alloc(`buf${k}`, 4096);
    w.before(a);
    w.after(a, 0, 0x10000 * (k + 1));
    const l = call("launch", `kern${k}`, {
      scalars: { n: k, m: 2 * k },
      pointers: [ptr("x", 0x10000 * (k + 1) + 64, 256, "rw", 4), ptr("y", 0x10000 * (k + 1), 64, "r")],
      context: { step: k, layer: 0, op: `op${k}` },
    });
    w.before(l);
    w.after(l, k === 3 ? 700 : 0);
    const d = call("d2h", `buf${k}`, {
      scalars: { bytes: 64 },
      pointers: [ptr("src", 0x10000 * (k + 1), 64, "r")],
    });
    w.before(d);
    w.after(d, 0);
    if (k % 2 === 0) {
      const f = free(`buf${k}`, 0x10000 * (k + 1), 4096);
      w.before(f);
      w.after(f, 0);
    }
  }
  const late = call("launch", "in_flight", { pointers: [ptr("x", 0x20000, 4, "rw")] });
  w.before(late);
  w.close();
  const out = { ring: Deno.readFileSync(path), side: Deno.readFileSync(`${path}.side`) };
  Deno.removeSync(dir, { recursive: true });
  return { ...out, ring: fixedClock(out.ring) };
}

/** The ring with its pid and times set to fixed values, so the base input is the same on every run. */
function fixedClock(ring: Uint8Array): Uint8Array {
  const i32 = new Int32Array(ring.buffer), f64 = new Float64Array(ring.buffer);
  i32[H_PID] = 1;
  f64[H_TIME_ORIGIN] = 1.7e12;
  f64[H_START_NOW] = 0;
  for (let slot = 0; slot < CAPACITY; slot++) {
    const bf = (HEADER_BYTES + slot * RECORD_BYTES) >> 3;
    f64[bf + F_T_BEFORE] = 10 * slot;
    f64[bf + F_T_AFTER] = 10 * slot + 5;
  }
  return ring;
}

/** A fuzz input for the ring decoder: u32 ring length, the ring, then the side file. */
function pack(ring: Uint8Array, side: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + ring.length + side.length);
  new DataView(out.buffer).setUint32(0, ring.length, true);
  out.set(ring, 4);
  out.set(side, 4 + ring.length);
  return out;
}

function unpack(input: Uint8Array): { ring: Uint8Array; side: string } {
  const n = input.length < 4
    ? 0
    : Math.min(new DataView(input.buffer, input.byteOffset).getUint32(0, true), input.length - 4);
  return { ring: input.slice(4, 4 + n), side: new TextDecoder().decode(input.subarray(4 + n)) };
}

/** The ring's header fields and every slot's counts, markers and ids, as packed offsets. */
function ringFields(ringLength: number): Field[] {
  const f: Field[] = [0, 1, 2, 3].map((k) => ({ at: 4 + 4 * k, size: 4 as const }));
  for (let slot = 0; (slot + 1) * RECORD_BYTES + HEADER_BYTES <= ringLength; slot++) {
    const at = 4 + HEADER_BYTES + slot * RECORD_BYTES;
    for (const k of [0, 1, 2, 3, 5, 9, 10, 11]) f.push({ at: at + 4 * k, size: 4 });
    for (const k of [8, 9, 10, 16, 17]) f.push({ at: at + 8 * k, size: 8, float: true }); // id, times, a pointer
  }
  return f;
}

const base = baseRing();
const decodedBase = decodeJournalBytes(base.ring, new TextDecoder().decode(base.side));

function decodeOrRefuse(ring: Uint8Array, side: string) {
  try {
    return decodeJournalBytes(ring, side);
  } catch (e) {
    if (e instanceof JournalFormatError && e.message.length > 0) return null;
    throw e;
  }
}

/** The slot a mutation touched, when it changed bytes of one record slot only (same length, same side file). */
function touchedSlot(input: Uint8Array): number | null {
  const orig = pack(base.ring, base.side);
  if (input.length !== orig.length) return null;
  let lo = -1, hi = -1;
  for (let k = 0; k < input.length; k++) {
    if (input[k] !== orig[k]) {
      if (lo < 0) lo = k;
      hi = k;
    }
  }
  if (lo < 0) return null;
  const slotOf = (at: number) => Math.floor((at - 4 - HEADER_BYTES) / RECORD_BYTES);
  if (lo < 4 + HEADER_BYTES || hi >= 4 + base.ring.length || slotOf(lo) !== slotOf(hi)) return null;
  return slotOf(lo);
}

function checkRing(input: Uint8Array) {
  const { ring, side } = unpack(input);
  const d = decodeOrRefuse(ring, side);
  if (d === null) return;
  let prev = 0;
  for (const r of d.records) {
    assert.ok(r.seq > prev, `records in write order (${r.seq} after ${prev})`);
    prev = r.seq;
    assert.ok(r.seq <= d.written, `seq ${r.seq} past the newest ${d.written}`);
    assert.ok(r.pointers.length <= MAX_POINTERS && Object.keys(r.scalars).length <= MAX_SCALARS);
    assert.ok(r.kind === "unknown" || KINDS.includes(r.kind), `kind ${r.kind}`);
  }
  const lines = journalJsonl(d.records).split("\n").filter((l) => l !== "");
  assert.equal(lines.map((l) => JSON.parse(l)).length, d.records.length);
  // Damage inside one slot stays there: every other slot decodes as before (or, should the damage make
  // another slot's record impossible to place, is listed as set aside: never silently lost).
  const slot = touchedSlot(input);
  if (slot !== null) {
    const setAside = new Set(d.corrupt.map((c) => c.slot));
    const others = (records: typeof d.records) =>
      records.filter((r) => (r.seq - 1) % CAPACITY !== slot && !setAside.has((r.seq - 1) % CAPACITY))
        .map((r) => JSON.stringify(r));
    assert.deepEqual(
      others(d.records),
      others(decodedBase.records),
      `damage in slot ${slot} reached other records`,
    );
    assert.ok(setAside.size <= 2, `damage in slot ${slot} set aside ${setAside.size} slots`);
  }
}

Deno.test("journal fuzz: 3000 mutated rings are refused or decoded; damage to one record never reaches another", async () => {
  assert.equal(decodedBase.written, 19);
  assert.equal(decodedBase.records.length, CAPACITY, "the base ring wrapped: the newest 16 of 19 records");
  assert.equal(decodedBase.inFlight.length, 1);
  await fuzz({
    kind: "ring",
    ext: ".bin",
    cases: fuzzCases(3000),
    corpus: [{ bytes: pack(base.ring, base.side), fields: ringFields(base.ring.length) }],
    check: checkRing,
  });
});

/** A journal.jsonl with intents and results on separate lines, a malformed line and unicode. */
function baseJsonl(): Uint8Array {
  const recs = [
    record(1, { kind: "alloc", name: "q_proj", pointers: [], scalars: { bytes: 16384 } }),
    record(2, { kind: "h2d", name: "q_pröj ✓" }),
    record(3, { status: null }),
    record(3),
    record(4, { name: "<b>attn</b>", scalars: { nested: { a: [1, 2, { b: 3 }] } } }),
    record(5, { status: null }),
    record(5, { status: 700 }),
    record(6, { kind: "sync", pointers: [], status: -1 }),
  ];
  return new TextEncoder().encode(
    jsonl(recs.slice(0, 5)) + "{not json\n" + jsonl(recs.slice(5)) + '{"id":7,"ki',
  );
}

const dir = await Deno.makeTempDir({ prefix: "fl-jsonl-fuzz-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
await Deno.mkdir(join(dir, "exp", "run"), { recursive: true });
await Deno.writeTextFile(join(dir, "exp", "run", "verdict.json"), JSON.stringify(VERDICT));
const files = new ReportsFiles(dir);
const path = join(dir, "exp", "run", "journal.jsonl");
const app = createApp({ reportsDir: dir });

/** The server's pages over the journal answer, whatever it holds, and never with a 5xx. */
async function checkRoutes(rng: { below(n: number): number }) {
  const op = rng.below(9);
  for (
    const route of [
      "/runs/exp/run",
      "/api/runs/exp/run",
      "/runs/exp/run/journal?limit=2",
      `/runs/exp/run/ops/${op}`,
    ]
  ) {
    const res = await app.request(route);
    await res.body?.cancel();
    assert.ok(res.status < 500, `${route}: ${res.status}`);
  }
}

async function checkJsonl(input: Uint8Array, rng: { below(n: number): number }) {
  await Deno.writeFile(path, input);
  const whole = parseJournal(input);
  // Page after page, from any first page size: the same records and counts as one parse.
  const limit = 1 + rng.below(4);
  const paged = [];
  const counts = { records: 0, malformed: 0, partial: 0 };
  for (let from = 0, pages = 0;; pages++) {
    assert.ok(pages <= input.length + 1, "paging does not advance");
    const page = (await readPage(files, path, from, limit))!;
    paged.push(...page.records);
    counts.records += page.counts.records;
    counts.malformed += page.counts.malformed;
    counts.partial = page.counts.partial; // a half-written last line waits at `next`: the last page says so
    if (page.next === from) break;
    assert.ok(page.next > from);
    from = page.next;
  }
  assert.deepEqual(paged, whole.records, "pages hold what a whole parse holds");
  assert.deepEqual(counts, whole.counts);
  const summary = await summarizeFile(files, path);
  assert.ok(summary !== null && summary !== "too large");
  const expected = summarize(whole.records, whole.counts, summary.bytes);
  assert.deepEqual(summary, expected);
  for (const r of mergeById(whole.records).slice(0, 3)) {
    if (typeof r.id !== "number") continue;
    assert.deepEqual(
      await findOp(files, path, r.id),
      mergeById(whole.records.filter((x) => x.id === r.id))[0],
    );
  }
  if (rng.below(3) === 0) await checkRoutes(rng); // a third of the cases: the routes cost more than the readers
}

Deno.test("journal fuzz: 250 mutated journal.jsonl files read page by page equal one whole parse", async () => {
  const s = baseJsonl();
  const lineStarts: Field[] = [];
  for (let k = 0; k < s.length; k++) if (s[k] === 0x22) lineStarts.push({ at: k, size: 1 }); // quotes
  await fuzz({
    kind: "jsonl",
    ext: ".jsonl",
    cases: fuzzCases(250),
    corpus: [{ bytes: s, fields: lineStarts }],
    check: checkJsonl,
  });
});
