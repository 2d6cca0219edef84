/**
 * Every guard rail, the race check and redzones stay silent on a clean decode
 * of the tiny model, in enforce mode (so any finding would block), and the
 * audit changes no token.
 */
import assert from "node:assert/strict";
import { presetConfig } from "../../../scripts/model/config.ts";
import { gpuModel } from "../../../scripts/model/gpu_model.ts";
import { LlamaEngine } from "../../../scripts/scheduler/mod.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import { findRaces } from "../../../ffi/races.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

const PROMPT = [1, 5, 9, 13];

async function decode(audited: boolean) {
  const device = testDevice();
  const dir = reportDir("fl-clean-");
  const audit = audited
    ? openAudit({ device, reportDir: dir, mode: "enforce", redzones: 256, contextLength: 32, keepRing: true })
    : null;
  const model = gpuModel(device, presetConfig("tiny"), 3);
  const engine = await LlamaEngine.create(device, model, { maxContext: 32 });
  let tokens: number[];
  try {
    tokens = engine.generate(PROMPT, 12);
  } finally {
    engine.free();
    model.free();
  }
  const journal = audit?.decode() ?? null;
  audit?.close();
  return { tokens, audit, journal, dir };
}

Deno.test({
  name: "guards: a clean decode of the tiny model finds nothing in enforce mode, with redzones",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const plain = await decode(false);
  const audited = await decode(true);
  assert.deepEqual(audited.tokens, plain.tokens);
  assert.deepEqual(audited.audit!.findings, []);
  const j = audited.journal!;
  assert.ok(j.records.filter((r) => r.kind === "launch").length > 100);
  // every pointer of every call resolved to a live allocation
  for (const r of j.records) {
    for (const p of r.pointers) {
      assert.ok(p.alloc !== null && p.state === "live" && p.placement === "inside", `${r.name} ${p.arg}`);
    }
  }
  assert.deepEqual(findRaces(j.records, { allocations: j.allocations }), []);
  assert.ok(audited.audit!.redzones!.tracked === 0); // all freed by the end
  const lines = Deno.readTextFileSync(`${audited.dir}/findings.jsonl`);
  assert.equal(lines, "");
});
