/**
 * The interposer's journal is the experiments' journal: what the C writer writes, ffi/journal.ts
 * decodes (kinds, allocations and frees, pointers resolved to allocation + offset, geometry,
 * launch ordinals, interned strings) and the file follower hands over in order. The sync policy
 * table selects launches by window and by kernel name, and a policy script changes it while the
 * program runs. Virtual memory mappings are allocations.
 */
import assert from "node:assert/strict";
import { JournalFileFollower } from "../../../ffi/journal_file_follow.ts";
import { decodeJournal } from "../../../ffi/journal.ts";
import type { JournalRecord } from "../../../records.ts";
import { simDriverDir, traceLibraryPath } from "../../../scripts/build.ts";
import { kernelModule, program, reportsDir, trace, traceReady } from "../../helpers/trace.ts";

const skip = traceReady();
const reports = reportsDir();

/** Runs a program under the interposer alone (no trace command) and decodes its journal. */
async function journaled(argv: string[], env: Record<string, string> = {}) {
  const dir = Deno.makeTempDirSync();
  const r = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: {
      LD_PRELOAD: traceLibraryPath("sim"),
      LD_LIBRARY_PATH: simDriverDir(),
      FAULTLINE_TRACE_DIR: dir,
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return { dir, journal: decodeJournal(`${dir}/journal.bin`) };
}

const kinds = (rs: JournalRecord[]) => rs.map((r) => (r.kind === "launch" ? `launch ${r.name}` : r.kind));
const policySyncs = (rs: JournalRecord[]) =>
  rs.flatMap((r, k) => (r.op === "sync policy" ? [rs[k - 1].ordinal] : []));

Deno.test(
  { name: "trace journal: the C writer's ring decodes as the experiments' journal", ignore: !!skip },
  async () => {
    const { journal: d } = await journaled([await program("linked"), await kernelModule(), "clean", "span"]);
    assert.deepEqual(kinds(d.records), [
      "alloc",
      "alloc",
      "alloc",
      "h2d",
      "memset",
      "launch fill_span",
      "launch scale",
      "launch scale",
      "launch scale",
      "launch scale",
      "launch add",
      "d2h",
      "free",
      "free",
      "free",
    ]);
    assert.deepEqual(d.records.map((r) => r.id), d.records.map((_, k) => k + 1));
    assert.ok(d.records.every((r) => r.status === 0 && r.result_name === "hipSuccess"));
    assert.deepEqual(d.records.filter((r) => r.kind === "launch").map((r) => r.ordinal), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(d.allocations.map((a) => [a.name, a.bytes, a.freedAt]), [
      ["cuMemAlloc#1", 16384, 13],
      ["cuMemAlloc#2", 16384, 14],
      ["cuMemAlloc#3", 16384, 15],
    ]);
    const span = d.records[5];
    assert.deepEqual(span.geometry, { grid: [16, 1, 1], block: [256, 1, 1], sharedBytes: 0 });
    assert.equal(span.pointers[0].arg, "arg0+0", "the pointer inside the by-value struct");
    assert.equal(span.pointers[0].name, "cuMemAlloc#1");
    const scale = d.records[6];
    assert.deepEqual(scale.pointers.map((p) => [p.arg, p.name, p.offset, p.state]), [
      ["arg0", "cuMemAlloc#1", 0, "live"],
      ["arg1", "cuMemAlloc#2", 0, "live"],
    ]);
    assert.deepEqual(scale.scalars, { arg2: 4096, arg3: 0x40000000, arg4: 0 });
    const h2d = d.records[3];
    assert.deepEqual([h2d.name, h2d.scalars, h2d.pointers[0].arg, h2d.pointers[0].name], [
      "cuMemcpyHtoD_v2",
      { bytes: 16384, sync: 1 },
      "dst",
      "cuMemAlloc#2",
    ]);
    assert.ok(h2d.host! > 0);
    const times = d.records.map((r) => r.time);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  },
);

Deno.test({
  name: "trace journal: the file follower hands over intents and outcomes in order",
  ignore: !!skip,
}, async () => {
  const { dir, journal: d } = await journaled([
    await program("linked"),
    await kernelModule(),
    "clean",
    "streams",
  ]);
  const f = new JournalFileFollower(`${dir}/journal.bin`);
  const seen: string[] = [];
  f.poll({
    intent: (c) => seen.push(`+${c.id}`),
    done: (c, status) => seen.push(`-${c.id}:${status}`),
  });
  f.close();
  assert.equal(seen.length, 2 * d.records.length);
  for (const r of d.records) assert.ok(seen.indexOf(`+${r.id}`) < seen.indexOf(`-${r.id}:0`), `#${r.id}`);
  assert.equal(f.lost, 0);
});

Deno.test({
  name: "trace journal: the policy table selects launches by window and by kernel name",
  ignore: !!skip,
}, async () => {
  const argv = [await program("linked"), await kernelModule(), "clean"];
  const window = await trace(reports, argv, ["--sync", "window:2-3"]);
  assert.equal(window.code, 0, window.stderr);
  const syncs = (r: typeof window) =>
    policySyncs(decodeJournal(`${r.dir}/trials/001-run/journal.bin`).records);
  assert.deepEqual(syncs(window), [2, 3]);
  const add = await trace(reports, argv, ["--sync", "kernel:a*"]);
  assert.deepEqual(syncs(add), [5]);
  const every = await trace(reports, argv, ["--sync", "launch"]);
  assert.deepEqual(syncs(every), [0, 1, 2, 3, 4, 5]);
  assert.equal(every.verdict.trace.policy, "a sync after every launch");
});

Deno.test({
  name: "trace journal: a policy script changes the policy while the program runs",
  ignore: !!skip,
}, async () => {
  const script = `${Deno.makeTempDirSync()}/policy.ts`;
  Deno.writeTextFileSync(
    script,
    `export const policy = "none";
     export function onCall(call, control) {
       if (call.kind === "launch" && call.ordinal === 1) control.set({ sync: true, from: 2 });
     }\n`,
  );
  const r = await trace(reports, [await program("linked"), await kernelModule(), "clean", "pause"], [
    "--policy",
    script,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recs = decodeJournal(`${r.dir}/trials/001-run/journal.bin`).records;
  assert.deepEqual(policySyncs(recs), [2, 3, 4, 5]);
});

Deno.test({
  name: "trace journal: virtual memory: a mapped range is an allocation, an unmapped pointer a finding",
  ignore: !!skip,
}, async () => {
  const clean = await trace(reports, [await program("vmm"), await kernelModule(), "clean"]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(clean.verdict.trace.processes[0].findings, 0);
  const recs = decodeJournal(`${clean.dir}/trials/001-run/journal.bin`).records;
  assert.deepEqual(recs.filter((x) => x.kind === "vmm").map((x) => x.name), [
    "cuMemAddressReserve",
    "cuMemCreate",
    "cuMemRelease",
    "cuMemAddressFree",
  ]);
  const map = recs.find((x) => x.op === "cuMemMap")!;
  assert.equal(map.kind, "alloc");
  assert.equal(recs.find((x) => x.kind === "launch")!.pointers[0].name, map.name);
  assert.equal(recs.find((x) => x.op === "cuMemUnmap")!.kind, "free");
  const hole = await trace(reports, [await program("vmm"), await kernelModule(), "unmapped"]);
  assert.equal(hole.code, 0);
  assert.equal(hole.verdict.root_cause.name, "fill launch 1");
  assert.equal(hole.verdict.root_cause.argument, "arg0");
  assert.equal(hole.verdict.root_cause.invariant, "pointer arguments point into an allocation");
});
