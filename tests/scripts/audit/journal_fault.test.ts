import assert from "node:assert/strict";
import { recoverJournal } from "../../../scripts/audit/session.ts";
import { STICKY_FAULTS } from "../../../scripts/forensics/codes.ts";
import { reportDir, runChild } from "../../helpers/audit_device.ts";

Deno.test("journal: a child whose fault surfaces at the D2H copy and then dies by SIGKILL leaves its whole journal", async () => {
  const dir = reportDir("fl-fault-");
  const r = await runChild("audit_fault_child.ts", ["--dir", dir, "--mode", "audit"]);
  assert.equal(r.signal, "SIGKILL", r.stderr);
  const seen = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(seen.surfaced, "d2h");
  // sim: 700 always; CUDA: 700, or 717 where the address lands in the shared or local window
  const sticky = seen.status;
  assert.ok(STICKY_FAULTS.has(sticky), `a sticky fault status, got ${sticky}`);
  if (seen.backend === "sim") assert.equal(sticky, 700);

  const j = recoverJournal(dir, { d2hAudit: true })!;
  assert.ok(j);
  const launch = j.records.find((x) => x.kind === "launch" && x.name === "fault_write_at")!;
  const d2h = j.records.find((x) => x.kind === "d2h")!;
  assert.equal(launch.status, 0); // the launch itself succeeded: the fault is asynchronous
  assert.equal(launch.step, 0);
  assert.equal(launch.layer, 3);
  assert.equal(launch.op, "RoPE Q");
  assert.equal(launch.pointers[0].arg, "addr");
  assert.equal(launch.pointers[0].alloc, null); // outside every allocation
  assert.equal(d2h.status, sticky);
  if (sticky === 700) assert.equal(d2h.result_name.endsWith("IllegalAddress"), true);
  assert.equal(d2h.pointers[0].name, "logits");
  // fault info's tag names the launch that faulted, and the journal has it
  assert.equal(seen.tag, launch.id);
  assert.ok(d2h.id > launch.id);
  // the D2H audit lines, from the recovered journal
  const lines = Deno.readTextFileSync(`${dir}/d2h_audit.log`).trim().split("\n");
  assert.match(
    lines[0],
    /^\[D2H_AUDIT_START\] op_id=\d+ ts=\d+\.\d{6} stream=0x0 dev_ptr=0x[0-9a-f]+ host_ptr=0x[0-9a-f]+ bytes=4096 tensor=logits step=0 layer=-1$/,
  );
  assert.match(
    lines[1],
    new RegExp(
      `^\\[D2H_AUDIT_END\\] op_id=\\d+ ts=\\d+\\.\\d{6} stream=0x0 result=${d2h.result_name} tensor=logits$`,
    ),
  );
  // journal.jsonl was written from the ring
  const jsonl = Deno.readTextFileSync(`${dir}/journal.jsonl`).trim().split("\n");
  assert.equal(jsonl.length, j.records.length);
});

Deno.test("journal: a child that calls Deno.exit without closing its session still writes journal.jsonl", async () => {
  const dir = reportDir("fl-exit-");
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { openAudit } from "${new URL("../../../scripts/audit/session.ts", import.meta.url).href}";
       import { runtime } from "${new URL("../../../ffi/runtime.ts", import.meta.url).href}";
       const device = runtime().device(0);
       openAudit({ device, reportDir: ${JSON.stringify(dir)}, mode: "audit" });
       const b = device.malloc(256, { name: "kept" });
       b.fill(1);
       Deno.exit(3);`,
    ],
    env: { FAULTLINE_QUIET: "1" },
    stderr: "piped",
  }).output();
  assert.equal(child.code, 3, new TextDecoder().decode(child.stderr));
  const recs = Deno.readTextFileSync(`${dir}/journal.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(recs.map((r) => r.kind), ["alloc", "memset"]);
  assert.equal(recs[1].pointers[0].name, "kept");
});
