/** How the status server shows a journal record, in the shape ffi/journal.ts writes it. */

import assert from "node:assert/strict";
import { OP_COLUMNS, opRow } from "../../../scripts/server/format.ts";
import { record } from "../../fixtures/report_folders.ts";

const cell = (r: Record<string, unknown>, column: string) =>
  opRow(r as { id: number }).cells[OP_COLUMNS.indexOf(column)];

Deno.test("op rows: wall time, duration, op name, resolved pointers, status names", () => {
  const r = record(7, { status: 700 });
  const row = opRow(r as { id: number });
  assert.equal(row.id, "7");
  assert.equal(row.state, "error");
  assert.equal(row.cells.length, OP_COLUMNS.length);
  assert.equal(cell(r, "time"), "06:00:00.010");
  assert.equal(cell(r, "dur"), "12.0 µs");
  assert.equal(cell(r, "name"), "rope_kernel (RoPE Q)");
  assert.equal(cell(r, "pointers"), "q→q_proj[16384] rw");
  assert.equal(cell(r, "scalars"), "n=4096 pos=2048");
  assert.equal(cell(r, "status"), "hipErrorIllegalAddress (700)");
  assert.equal(cell({ ...r, device: 2 }, "device"), "2");
  assert.equal(cell(record(1), "status"), "hipSuccess");
  assert.equal(cell(record(1, { status: null }), "status"), "in flight");
  assert.equal(cell(record(1, { dur: 2500 }), "dur"), "2.50 ms");
});

Deno.test("op rows: blocked calls, freed and stray pointers, minimal records", () => {
  const blocked = record(3, { status: -1 });
  assert.equal(opRow(blocked as { id: number }).state, "blocked");
  assert.equal(cell(blocked, "status"), "blocked");
  const ptrs = record(4, {
    pointers: [
      {
        arg: "src",
        alloc: 2,
        name: "kv",
        offset: 64,
        bytes: 128,
        access: "r",
        state: "freed",
        placement: "inside",
      },
      { arg: "dst", alloc: 5, name: "out", offset: 4096, bytes: 8, access: "w", placement: "redzone_after" },
      { arg: "x", alloc: null, bytes: 4, access: "r" },
    ],
  });
  assert.equal(
    cell(ptrs, "pointers"),
    "src→kv+64[128] r (freed), dst→out+4096[8] w (redzone_after), x→(no allocation)[4] r",
  );
  // A hand-written record with only an id, and odd field types.
  const bare = opRow({ id: "x" });
  assert.deepEqual(bare.cells, ["x", "", "", "", "", "", "", "", "", "", "", "pending"]);
  const odd = opRow({ id: 1, time: 1500, name: { a: 1 }, pointers: "p", scalars: [1], status: "weird" });
  assert.equal(odd.cells[1], "+1.500 ms");
  assert.equal(odd.cells[OP_COLUMNS.indexOf("name")], '{"a":1}');
  assert.equal(odd.state, "error");
});
