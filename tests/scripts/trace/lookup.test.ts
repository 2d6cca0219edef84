/**
 * `deno task trace` on C programs written against the real cuda.h, one per way a program
 * reaches the driver (linked -lcuda; dlopen + cuGetProcAddress_v2 alone, as static cudart does;
 * a null symbolStatus with the per-thread stream variants; arguments through `extra`; stream
 * capture + graph launch), each with an out-of-bounds launch planted as launch 4 that surfaces
 * at a later device-to-host copy: the trace names that launch (kernel, ordinal, argument,
 * allocation). The clean runs of the same programs give no finding.
 */
import assert from "node:assert/strict";
import {
  kernelModule,
  program,
  type ProgramName,
  reportsDir,
  trace,
  traceReady,
} from "../../helpers/trace.ts";

const skip = traceReady();
const reports = reportsDir();

async function planted(name: ProgramName, mode: "oob" | "overrun", flags: string[] = []) {
  const r = await trace(reports, [await program(name), await kernelModule(), mode, ...flags]);
  assert.equal(r.code, 3, `the program's own status (stderr: ${r.stderr})`);
  assert.match(r.stderr, /failed: an illegal memory access was encountered \(700\)/);
  const v = r.verdict;
  assert.equal(v.status, "FAULT");
  assert.equal(v.surfaced_at.kind, "d2h");
  assert.match(v.surfaced_at.name, /^cuMemcpyDtoH_v2/);
  assert.match(v.surfaced_at.error, /CUDA_ERROR_ILLEGAL_ADDRESS, 700/);
  assert.equal(v.root_cause.kernel, "scale");
  assert.equal(v.root_cause.name, "scale launch 4");
  assert.equal(v.trace.launch.ordinal, 4);
  assert.deepEqual(v.trace.launch.block, [256, 1, 1]);
  return r;
}

/** The planted wild pointer: named as the argument, outside every allocation. */
function assertWildPointer(r: Awaited<ReturnType<typeof trace>>) {
  const v = r.verdict;
  assert.equal(v.root_cause.argument, "arg0");
  assert.equal(v.root_cause.invariant, "pointer arguments point into an allocation");
  assert.match(
    v.root_cause.detail,
    /outside every allocation: \d+ bytes past the end of cuMemAlloc(Async)?#3/,
  );
  assert.match(v.trace.launch.arguments[0], /^arg0 = 0x[0-9a-f]+ \(in no allocation\)/);
  assert.match(v.trace.launch.arguments[1], /^arg1 = cuMemAlloc#2\+0 /);
}

async function clean(name: ProgramName, flags: string[] = []) {
  const r = await trace(reports, [await program(name), await kernelModule(), "clean", ...flags]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").at(-1), "ok");
  const v = r.verdict;
  assert.equal(v.status, "OK");
  assert.equal(v.root_cause, null);
  assert.equal(v.surfaced_at, null);
  assert.equal(v.trace.processes.length, 1);
  assert.equal(v.trace.processes[0].findings, 0, "a clean program gives no finding");
  assert.equal(v.trace.replays.length, 0);
  return r;
}

Deno.test({
  name: "trace: linked -lcuda: the planted wild pointer is named, with the launch's backtrace",
  ignore: !!skip,
}, async () => {
  const r = await planted("linked", "oob");
  assertWildPointer(r);
  assert.equal(r.verdict.attribution.method, "blocking-replay");
  const bt = r.verdict.trace.launch.backtrace.join("\n");
  assert.match(bt, /run_scenario at .*tests\/fixtures\/trace\/(scenario\.h|linked\.c):\d+/);
  assert.match(bt, /main at .*linked\.c:\d+/);
});

Deno.test({
  name: "trace: linked -lcuda: a kernel overrun with valid pointers is named by the replay",
  ignore: !!skip,
}, async () => {
  const r = await planted("linked", "overrun");
  assert.equal(r.verdict.attribution.method, "blocking-replay");
  assert.equal(r.verdict.attribution.reproduced_under_blocking, true);
  assert.match(
    r.verdict.trace.launch.arguments.join("\n"),
    /arg0 = cuMemAlloc#1\+0 .*\narg1 = cuMemAlloc#2\+0 .*arg4 = 16777216/s,
  );
});

Deno.test({
  name: "trace: dlopen + cuGetProcAddress_v2 only: wrapped, and the planted launch named",
  ignore: !!skip,
}, async () => {
  const r = await planted("getproc", "oob");
  assertWildPointer(r);
  assert.match(r.stdout, /device: faultline sim \(CPU\) \(stand-in libcuda\)/);
  assert.equal(r.verdict.device, "faultline sim (CPU) (stand-in libcuda)", "named once the driver is up");
});

Deno.test({
  name: "trace: null symbolStatus, per-thread stream variants, arguments through `extra`: named",
  ignore: !!skip,
}, async () => {
  const r = await planted("getproc_ptsz", "oob", ["extra"]);
  assertWildPointer(r);
  assert.match(r.verdict.surfaced_at.name, /^cuMemcpyDtoH_v2_ptds$/);
  assert.equal(r.verdict.trace.launch.stream, "0x2", "the per-thread default stream");
});

Deno.test({
  name: "trace: stream capture + graph launch: the flagged captured launch behind the graph is named",
  ignore: !!skip,
}, async () => {
  const r = await planted("linked", "oob", ["graph"]);
  assertWildPointer(r);
  const md = Deno.readTextFileSync(`${r.dir}/report.md`);
  assert.match(md, /the graph launched by #\d+ launch cuGraphLaunch holds 4 captured launch\(es\)/);
});

Deno.test({
  name: "trace: an unknown versioned name passes through; unwrapped entry points run",
  ignore: !!skip,
}, async () => {
  const r = await clean("getproc");
  assert.match(r.stdout, /cuFaultlineFuture_v9: not found/);
  assert.match(r.stdout, /device: faultline sim/);
  const unhooked = r.verdict.trace.processes[0].unhooked as string[];
  assert.ok(unhooked.includes("cuDeviceGetName"), unhooked.join(", "));
  assert.ok(!unhooked.includes("cuLaunchKernel"), "cuLaunchKernel is wrapped");
  const side = Deno.readTextFileSync(`${r.dir}/trials/001-run/journal.bin.side`);
  assert.match(side, /\{"unhooked":"cuFaultlineFuture_v9","version":12080,"flags":0,"found":false\}/);
});

Deno.test({
  name: "trace: cuLaunchKernelEx and stream-ordered allocations: the planted launch named",
  ignore: !!skip,
}, async () => {
  const r = await planted("linked", "oob", ["ex", "async"]);
  assertWildPointer(r);
  const recs = Deno.readTextFileSync(`${r.dir}/journal.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(recs.find((x) => x.name === "cuMemAllocAsync#3")?.op, "cuMemAllocAsync");
});

Deno.test({
  name: "trace: the legacy stream orders blocking streams; an unordered non-blocking one races the copy",
  ignore: !!skip,
}, async () => {
  await clean("linked", ["blocking"]);
  const r = await trace(reports, [await program("linked"), await kernelModule(), "clean", "racy"]);
  assert.equal(r.code, 0, r.stderr);
  const races = r.verdict.findings.filter((f: { rail: string }) => f.rail === "races");
  assert.ok(races.length > 0, "the copy on the legacy stream races the work on the non-blocking stream");
  assert.ok(races.every((f: { kind: string }) => f.kind === "d2h"), JSON.stringify(races));
});

Deno.test({ name: "trace: clean runs of every lookup path give no finding", ignore: !!skip }, async () => {
  await clean("linked");
  await clean("linked", ["ex", "async"]);
  await clean("linked", ["graph", "extra"]);
  await clean("getproc_ptsz", ["streams", "extra"]);
});

Deno.test({
  name: "trace: a cuGetProcAddress answer no export has is wrapped by version and flags, or passed through",
  ignore: !!skip,
}, async () => {
  const argv = [await program("getproc"), await kernelModule(), "oob"];
  const thunks = { FAULTLINE_SIM_PROC_THUNKS: "1" };
  const r = await trace(reports, argv, [], thunks);
  assertWildPointer(r);
  const side = Deno.readTextFileSync(`${r.dir}/trials/001-run/journal.bin.side`);
  assert.match(
    side,
    /\{"gpa":"cuLaunchKernel","version":12080,"flags":0,"found":true,"variant":"cuLaunchKernel"\}/,
  );
  assert.match(
    side,
    /\{"gpa":"cuMemAlloc","version":12080,"flags":0,"found":true,"variant":"cuMemAlloc_v2"\}/,
  );
  // strict: only pointer matches are wrapped; the rest runs untraced, and the program still works
  const strict = await trace(reports, argv, [], { ...thunks, FAULTLINE_TRACE_GPA_STRICT: "1" });
  assert.equal(strict.code, 3);
  assert.match(strict.stderr, /failed: an illegal memory access was encountered \(700\)/);
  assert.equal(strict.verdict.trace.processes[0].launches, 0);
  assert.ok(strict.verdict.trace.processes[0].unhooked.includes("cuLaunchKernel"));
  assert.equal(strict.verdict.root_cause.kind, "d2h", "no launch journaled: the copy is all the journal has");
  assert.match(
    Deno.readTextFileSync(`${strict.dir}/report.md`),
    /among them cuMemAlloc, cuLaunchKernel: the calls/,
  );
});
