/**
 * A fault inside a kernel surfaces later, at a copy, and is sticky: the
 * launch succeeds, the next D2H copy fails with 700 "an illegal memory access
 * was encountered" (on CUDA possibly 717, by where the wild address lands),
 * every later call fails too with the same status, and fault info names the
 * status, the kernel and (where the backend knows it) the address and tag.
 * Runs in a child process, since the fault poisons the process's context.
 */
import assert from "node:assert/strict";
import { runChild } from "../helpers/child.ts";
import { STATUS_NAMES } from "../../ffi/errors.ts";
import { STICKY_FAULTS } from "../../scripts/forensics/codes.ts";

interface FaultInfo {
  status: number;
  address: number;
  op: string;
  tag: number;
  access: string;
  stream: number;
}

interface Outcome {
  ok: boolean;
  code?: number;
  codeName?: string;
  nativeMessage?: string;
  message?: string;
}

Deno.test("fault: a bad write surfaces at the next D2H copy and is sticky", async () => {
  const r = await runChild("sticky_fault_child.ts", { FAULTLINE_QUIET: "1" });
  assert.ok(r.json, `child printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json as {
    backend: string;
    addr: number;
    faultBefore: unknown;
    launched: Outcome;
    d2h: Outcome;
    later: Record<string, Outcome>;
    scoped: { name: string; code?: number; released: boolean[] };
    infoAtSurface: FaultInfo | null;
    info: FaultInfo | null;
    faultLaunch: { id: number; status: number };
  };
  assert.equal(j.faultBefore, null, "no fault before the bad launch");
  assert.deepEqual(j.launched, { ok: true }, "the launch itself returns success");
  assert.equal(j.faultLaunch.status, 0);

  assert.equal(j.d2h.ok, false, "the next D2H copy fails");
  // sim reports a wild write as 700 always; CUDA reports 700, or 717 where the
  // address lands in the shared or local window of the generic address space.
  const sticky = j.d2h.code!;
  if (j.backend === "sim") assert.equal(sticky, 700);
  else assert.ok(STICKY_FAULTS.has(sticky), `a sticky fault status, got ${sticky}`);
  assert.equal(j.d2h.nativeMessage, STATUS_NAMES[sticky][1]);
  if (sticky === 700) {
    assert.equal(j.d2h.nativeMessage, "an illegal memory access was encountered");
    assert.match(j.d2h.codeName!, /IllegalAddress/);
  }
  assert.equal(j.d2h.message, `fl_memcpy D2H failed: ${j.d2h.nativeMessage} (${j.d2h.codeName}, ${sticky})`);

  for (const [what, o] of Object.entries(j.later)) {
    assert.equal(o.ok, false, `${what} after the fault must fail`);
    assert.equal(o.code, sticky, `${what} after the fault: ${o.message}`);
  }

  assert.deepEqual(
    j.scoped,
    { name: "FaultlineError", code: sticky, released: [true, true, true] },
    "`using` releases quietly in a poisoned context; the copy's error reaches the caller",
  );

  assert.ok(j.infoAtSurface, "fault info once the fault surfaced");
  const info = j.infoAtSurface;
  assert.equal(info.status, sticky);
  assert.equal(info.op, "fault_write_at");
  if (j.backend === "sim") {
    assert.equal(info.address, j.addr, "sim knows the exact faulting address");
    assert.equal(info.access, "write");
    assert.equal(info.tag, j.faultLaunch.id, "the tag names the faulting launch");
  } else {
    if (info.address !== 0) assert.equal(info.address, j.addr);
    if (info.tag !== 0) assert.equal(info.tag, j.faultLaunch.id);
  }
  // still poisoned after every later call; the first fault is kept
  assert.ok(j.info, "fault info after the later calls");
  assert.equal(j.info.status, sticky);
  if (j.backend === "sim") assert.deepEqual(j.info, info, "sim keeps the first fault");
});
