/**
 * journal.jsonl as the rest of the runtime reads it: the forensics' record
 * normalization (scripts/forensics/records.ts) sees every field the audit
 * session writes (op, kind, stream, name, scalars, resolved pointers, step,
 * layer, status), and findings.jsonl parses as findings.
 */
import assert from "node:assert/strict";
import { boundary } from "../../../ffi/boundary.ts";
import { launch } from "../../../ffi/kernels.ts";
import { faultFill } from "../../../ffi/kernels_base.ts";
import { openAudit } from "../../../scripts/audit/session.ts";
import { parseFindingsText, parseJournalText } from "../../../scripts/forensics/journal_read.ts";
import { reportDir, testDevice } from "../../helpers/audit_device.ts";

Deno.test("journal: journal.jsonl and findings.jsonl read back through the forensics' normalization", () => {
  const device = testDevice();
  const dir = reportDir();
  const audit = openAudit({ device, reportDir: dir, mode: "audit" });
  const s = device.createStream();
  const x = device.malloc(4000, { name: "attn_out" }); // inside one page: the overrun below is silent
  const host = new Float32Array(1000);
  try {
    boundary.context = { step: 2, layer: 7, op: "O proj" };
    launch(device, s, faultFill, { dst: x.at(256), n: 937, value: 1 }); // 4 bytes past the end: a finding
    boundary.context = { step: 2, op: "logits D2H" };
    x.download(host, { stream: s });
    s.synchronize();
  } finally {
    boundary.context = {};
    x.free();
    s.destroy();
    audit.close();
  }
  const recs = parseJournalText(Deno.readTextFileSync(`${dir}/journal.jsonl`));
  const k = recs.find((r) => r.kind === "launch")!;
  assert.equal(k.name, "fault_fill");
  assert.equal(k.step, 2);
  assert.equal(k.layer, 7);
  assert.equal(k.op, "O proj");
  assert.equal(k.status, 0);
  assert.equal(k.scalars.n, 937);
  const p = k.pointers[0];
  assert.equal(p.arg, "dst");
  assert.equal(p.name, "attn_out");
  assert.equal(p.offset, 256);
  assert.equal(p.bytes, 3748);
  assert.equal(p.size, 4000);
  assert.equal(p.state, "live");
  assert.equal(p.access, "w");
  assert.equal(typeof p.alloc, "number");
  const d = recs.find((r) => r.kind === "d2h")!;
  assert.equal(d.name, "attn_out");
  assert.ok(d.host !== undefined && d.host > 0);
  assert.equal(d.layer, undefined);
  const fs = parseFindingsText(Deno.readTextFileSync(`${dir}/findings.jsonl`));
  assert.equal(fs.length, 1);
  assert.equal(fs[0].rail, "extent");
  assert.equal(fs[0].op, k.id);
  assert.equal(fs[0].argument, "dst");
  assert.equal(fs[0].allocation?.name, "attn_out");
  assert.equal(fs[0].layer, 7);
});
