// A journal ring that was damaged or crafted is refused or decoded in bounded time: its header and
// every record's counts are checked against the file and the format before any loop uses them.

import assert from "node:assert/strict";
import {
  F_ID,
  H_CAPACITY,
  H_MAGIC,
  H_RECORD_BYTES,
  HEADER_BYTES,
  JournalWriter,
  MAX_POINTERS,
  R_INTENT,
  R_NPTR,
  R_NSCALAR,
  RECORD_BYTES,
} from "../../ffi/journal_native.ts";
import { decodeJournalBytes, JournalFormatError } from "../../ffi/journal.ts";
import { journalLib } from "../helpers/journal_lib.ts";
import { call, ptr, resetIds } from "../helpers/calls.ts";

/** A real ring of three records (and its side file), as bytes. */
function ring(): { bytes: Uint8Array; side: string } {
  resetIds();
  const dir = Deno.makeTempDirSync({ prefix: "fl-journal-crafted-" });
  const path = `${dir}/journal.bin`;
  const w = new JournalWriter({ path, capacity: 8, native: journalLib() });
  for (let k = 0; k < 3; k++) {
    const c = call("launch", `k${k}`, {
      scalars: { n: k },
      pointers: [ptr("x", 0x1000 * (k + 1), 64, "rw")],
    });
    w.before(c);
    w.after(c, 0);
  }
  w.close();
  const out = { bytes: Deno.readFileSync(path), side: Deno.readTextFileSync(`${path}.side`) };
  Deno.removeSync(dir, { recursive: true });
  return out;
}

function refused(bytes: Uint8Array, side: string, re: RegExp) {
  assert.throws(() => decodeJournalBytes(bytes, side), (e: unknown) => {
    assert.ok(e instanceof JournalFormatError, `expected JournalFormatError, got ${e}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

Deno.test("journal crafted: header fields that would drive an unbounded loop are refused", () => {
  const { bytes, side } = ring();
  const edit = (index: number, value: number) => {
    const b = bytes.slice();
    new Int32Array(b.buffer, 0, HEADER_BYTES >> 2)[index] = value;
    return b;
  };
  refused(edit(H_RECORD_BYTES, 0), side, /record size 0; this decoder reads 512-byte records/);
  refused(edit(H_RECORD_BYTES, -512), side, /record size -512/);
  refused(edit(H_RECORD_BYTES, 8), side, /record size 8/);
  refused(edit(H_CAPACITY, 0), side, /capacity 0/);
  refused(edit(H_CAPACITY, -1), side, /capacity -1/);
  refused(edit(H_MAGIC, 0), side, /not a faultline journal \(bad magic\)/);
  refused(bytes.slice(0, 100), side, /100 bytes; a journal ring starts with a 4096-byte header/);
  // A capacity far past the file: the slots in the file are decoded, and the record count says so.
  const big = decodeJournalBytes(edit(H_CAPACITY, 2 ** 31 - 1), side);
  assert.ok(big.records.length <= 3);
});

Deno.test("journal crafted: a record with impossible counts is set aside as corrupt, the others kept", () => {
  const { bytes, side } = ring();
  for (
    const [field, value] of [[R_NPTR, 2 ** 31 - 1], [R_NPTR, -1], [R_NSCALAR, 1e9], [
      R_NPTR,
      MAX_POINTERS + 1,
    ]]
  ) {
    const b = bytes.slice();
    const i32 = new Int32Array(b.buffer);
    i32[((HEADER_BYTES + 1 * RECORD_BYTES) >> 2) + field] = value; // the second record
    const d = decodeJournalBytes(b, side);
    assert.deepEqual(d.records.map((r) => r.name), ["k0", "k2"]);
    assert.equal(d.corrupt.length, 1);
    assert.equal(d.corrupt[0].seq, 2);
    assert.match(d.corrupt[0].why, /pointers|scalars/);
  }
  // The file cut inside the records: the whole ones are decoded.
  const cut = decodeJournalBytes(bytes.slice(0, HEADER_BYTES + RECORD_BYTES * 2 + 100), side);
  assert.deepEqual(cut.records.map((r) => r.name), ["k0", "k1"]);
});

Deno.test("journal crafted: side-file lines of the wrong shape are skipped, never resolved", () => {
  const { bytes, side } = ring();
  const bad = side +
    '{"a":5,"ptr":"x","bytes":{},"base":null}\n{"s":1e400,"v":1}\n{"f":"x","op":[]}\n[1,2]\n{"s":-3,"v":"neg"}\n';
  const d = decodeJournalBytes(bytes, bad);
  assert.deepEqual(d.records.map((r) => r.name), ["k0", "k1", "k2"]);
  assert.ok(d.allocations.every((a) => typeof a.ptr === "number" && typeof a.bytes === "number"));
});

Deno.test("journal crafted: a damaged sequence number or op id changes no other record", () => {
  const { bytes, side } = ring();
  const i32 = (b: Uint8Array) => new Int32Array(b.buffer);
  // The first slot claims a sequence number a whole ring later (it still maps to slot 0).
  const late = bytes.slice();
  i32(late)[(HEADER_BYTES >> 2) + R_INTENT] = 1 + 8 * 1000;
  new Float64Array(late.buffer)[(HEADER_BYTES >> 3) + F_ID] = 1e6; // its id in order with that place
  const d = decodeJournalBytes(late, side);
  assert.deepEqual(d.records.map((r) => r.name), ["k1", "k2"]);
  assert.equal(d.overwritten, null);
  assert.match(d.corrupt[0].why, /sequence number 8001 lies outside the ring's window/);
  // The second record's op id made larger than every other: the others' pointers resolve as before.
  const ids = bytes.slice();
  new Float64Array(ids.buffer)[((HEADER_BYTES + RECORD_BYTES) >> 3) + F_ID] = 1e6;
  const clean = decodeJournalBytes(bytes, side).records;
  const e = decodeJournalBytes(ids, side).records;
  assert.deepEqual(e.map((r) => r.name), ["k0", "k1", "k2"]);
  assert.deepEqual([e[0].pointers, e[2].pointers], [clean[0].pointers, clean[2].pointers]);
});
