/** Which write a damaged redzone is put on: never one whose declared extent stays inside the buffer, unless a check right after it proves it. */
import assert from "node:assert/strict";
import type { RedzoneViolation, RedzoneWriter } from "../../../mod.ts";
import { redzoneCulprit, redzoneFinding } from "../../../scripts/guards/redzone.ts";

const writer = (op: number, offset: number, bytes: number): RedzoneWriter => ({
  op,
  kind: "launch",
  name: `k${op}`,
  arg: "dst",
  offset,
  bytes,
  stream: 0,
  step: 1,
  layer: op,
});

function violation(writers: RedzoneWriter[]): RedzoneViolation {
  return {
    alloc: { id: 1, name: "small", ptr: 0x10000, bytes: 4000, redzone: 256 },
    side: "after",
    firstBad: 4000,
    lastBad: 4039,
    badBytes: 40,
    found: [0, 0],
    window: { fromOp: 1, toOp: 9 },
    writers,
  };
}

Deno.test("redzone culprit: the write whose declared extent reaches the damaged bytes, even when not the last", () => {
  const v = violation([writer(2, 3000, 1040), writer(3, 0, 400)]);
  assert.equal(redzoneCulprit(v)?.op, 2);
  const f = redzoneFinding(v, 9);
  assert.equal(f.op, 2);
  assert.equal(f.layer, 2);
  assert.match(f.detail, /bytes 4000\.\.4039 \(0\.\.39 past its end\).*made by op 2/);
});

Deno.test("redzone culprit: writes declared inside are suspects, not blamed; filed at the op that found it", () => {
  for (const ws of [[writer(2, 0, 16)], [writer(2, 0, 16), writer(3, 0, 400)]]) {
    const v = violation(ws);
    assert.equal(redzoneCulprit(v), null);
    const f = redzoneFinding(v, 9);
    assert.equal(f.op, 9);
    assert.equal(f.kind, "redzone");
    assert.equal(f.argument, undefined);
    assert.deepEqual(f.suspects, ws.map((w) => w.op));
  }
});

Deno.test("redzone culprit: after a check right after each write, the one write of the window made it", () => {
  const v = violation([writer(5, 0, 16)]);
  assert.equal(redzoneCulprit(v, true)?.op, 5);
  assert.equal(redzoneFinding(v, 5, true).suspects, undefined);
  assert.equal(redzoneCulprit(violation([writer(5, 0, 16), writer(6, 0, 16)]), true), null);
});
