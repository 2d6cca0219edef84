/**
 * `deno task trace` as a good citizen: the program's stdin, stdout and stderr are its own, the
 * trace exits with the program's status (signals as 128 + N, 127 / 126 for a program not found
 * / not executable), and a report folder is always written: for a program that makes no GPU
 * call, for one that crashes itself (its journal intact) or is killed with SIGKILL, and for
 * one that forks (a journal per process, tied together by pid). Bad trace options are exit 2.
 * A trace exports to an experiment skeleton.
 */
import assert from "node:assert/strict";
import { decodeJournal } from "../../../ffi/journal.ts";
import { RunsIndex } from "../../../scripts/server/runs.ts";
import {
  finished,
  kernelModule,
  program,
  reportsDir,
  spawnTrace,
  trace,
  traceReady,
} from "../../helpers/trace.ts";

const skip = traceReady();
const reports = reportsDir();
const REPORT_FILES = ["verdict.json", "report.md", "trace.json", "timeline.svg", "journal.jsonl"];

function assertReportFiles(dir: string) {
  for (const f of REPORT_FILES) assert.ok(Deno.statSync(`${dir}/${f}`).isFile, `${dir}/${f}`);
}

Deno.test(
  { name: "trace cli: stdin, stdout and the exit status are the program's", ignore: !!skip },
  async () => {
    const t = spawnTrace(
      reports,
      ["sh", "-c", 'read x; echo "got:$x"; echo "to stderr" >&2; exit 4'],
      [],
      "piped",
    );
    const w = t.child.stdin.getWriter();
    await w.write(new TextEncoder().encode("hello\n"));
    await w.close();
    const r = await finished(t);
    assert.equal(r.code, 4);
    assert.equal(r.stdout, "got:hello\n");
    assert.match(r.stderr, /^to stderr\n/);
  },
);

Deno.test({
  name: "trace cli: a program with no GPU call: OK, 0 launches, a report all the same",
  ignore: !!skip,
}, async () => {
  const r = await trace(reports, ["sh", "-c", "echo hello; exit 5"]);
  assert.equal(r.code, 5);
  assert.equal(r.stdout, "hello\n");
  assertReportFiles(r.dir);
  assert.equal(r.verdict.status, "OK");
  assert.equal(r.verdict.trace.exit_status, 5);
  assert.deepEqual(r.verdict.trace.processes, []);
  assert.match(Deno.readTextFileSync(`${r.dir}/report.md`), /made no GPU call/);
});

Deno.test({
  name: "trace cli: not found is 127, not executable 126, each a one-line error and a report",
  ignore: !!skip,
}, async () => {
  const missing = await trace(reports, ["faultline-no-such-program"]);
  assert.equal(missing.code, 127);
  assert.equal(missing.stderr.trim(), "faultline trace: faultline-no-such-program: command not found");
  assertReportFiles(missing.dir);
  assert.equal(missing.verdict.trace.exit_status, 127);
  const gone = await trace(reports, ["./faultline/no/such/file"]);
  assert.equal(gone.code, 127);
  assert.match(gone.stderr, /No such file or directory\n$/);
  const plain = Deno.makeTempFileSync({ suffix: ".sh" });
  Deno.writeTextFileSync(plain, "echo never\n");
  Deno.chmodSync(plain, 0o644);
  const denied = await trace(reports, [plain]);
  assert.equal(denied.code, 126);
  assert.equal(denied.stderr.trim(), `faultline trace: ${plain}: Permission denied`);
  assert.equal(denied.stdout, "");
  const dir = await trace(reports, [Deno.makeTempDirSync()]);
  assert.equal(dir.code, 126);
  assert.match(dir.stderr, /Is a directory/);
});

Deno.test({ name: "trace cli: bad trace options are exit 2 with the usage", ignore: !!skip }, async () => {
  for (const opts of [["--bogus"], ["--sync", "kernel:"], ["--sync", "window:9-3"], ["--capacity", "0"]]) {
    const r = await trace(reports, ["true"], opts);
    assert.equal(r.code, 2, opts.join(" "));
    assert.match(r.stderr, /^faultline trace: .*\nusage: deno task trace/, opts.join(" "));
  }
  const nowhere = await finished(spawnTrace("/proc/faultline-no-such-folder", ["true"]));
  assert.equal(nowhere.code, 2);
  assert.match(
    nowhere.stderr,
    /^faultline trace: cannot make the report folder \/proc\/faultline-no-such-folder\/trace\/.*\n$/,
  );
  const none = await finished(spawnTrace(reports, []));
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no program given/);
});

Deno.test({
  name: "trace cli: a program that crashes itself: 128 + SIGSEGV, journal intact, verdict says so",
  ignore: !!skip,
}, async () => {
  const r = await trace(reports, [await program("linked"), await kernelModule(), "oob", "crash"]);
  assert.equal(r.code, 139);
  assert.equal(r.verdict.status, "FAULT");
  assert.equal(r.verdict.trace.signal, "SIGSEGV");
  assert.match(Deno.readTextFileSync(`${r.dir}/report.md`), /killed by SIGSEGV\. Its journal is intact/);
  const launches = Deno.readTextFileSync(`${r.dir}/journal.jsonl`).trim().split("\n").map((l) =>
    JSON.parse(l)
  )
    .filter((x) => x.kind === "launch");
  assert.equal(launches.length, 5, "launches 0..4 were journaled before the crash");
  // no call failed: the rails' finding on the planted launch names it
  assert.equal(r.verdict.root_cause.name, "scale launch 4");
  assert.equal(r.verdict.root_cause.argument, "arg0");
  assert.equal(r.verdict.attribution.method, "finding");
});

Deno.test({
  name: "trace cli: SIGKILL of the program leaves a readable journal and a report",
  ignore: !!skip,
}, async () => {
  const t = spawnTrace(reports, [await program("linked"), await kernelModule(), "oob", "wait"]);
  const ring = `${t.dir}/trials/001-run/journal.bin`;
  let pid = 0;
  for (let k = 0; k < 400 && pid === 0; k++) {
    await new Promise((res) => setTimeout(res, 25));
    try {
      const d = decodeJournal(ring);
      if (d.records.filter((x) => x.kind === "launch").length === 5) pid = d.pid;
    } catch { /* not there yet */ }
  }
  assert.ok(pid > 0, "the program journaled its five launches");
  Deno.kill(pid, "SIGKILL");
  const r = await finished(t);
  assert.equal(r.code, 137);
  assert.equal(r.verdict.trace.signal, "SIGKILL");
  const d = decodeJournal(ring);
  assert.equal(d.torn, null);
  assert.equal(d.records.filter((x) => x.kind === "launch").length, 5);
  assert.ok(d.records.every((x) => x.status === 0));
  assertReportFiles(r.dir);
});

Deno.test({
  name: "trace cli: a forked child is traced in a journal of its own, tied to its parent",
  ignore: !!skip,
}, async () => {
  const r = await trace(reports, [await program("linked"), await kernelModule(), "clean", "fork"]);
  assert.equal(r.code, 0, r.stderr);
  const ps = r.verdict.trace.processes as { pid: number; ppid: number; records: number; launches: number }[];
  assert.equal(ps.length, 2);
  const parent = ps.find((p) => p.launches > 0)!, child = ps.find((p) => p.launches === 0)!;
  assert.equal(child.ppid, parent.pid);
  assert.equal(child.records, 2, "the child's cuMemAlloc and cuMemFree");
  assert.equal(r.verdict.trace.main_pid, parent.pid);
  for (const p of ps) assert.ok(Deno.statSync(`${r.dir}/processes/${p.pid}.jsonl`).isFile);
});

Deno.test({
  name: "trace cli: --export writes an experiment skeleton of the allocations and launches",
  ignore: !!skip,
}, async () => {
  const r = await trace(reports, [await program("linked"), await kernelModule(), "oob"]);
  const out = `${Deno.makeTempDirSync()}/skeleton.ts`;
  const e = await finished(spawnTrace(reports, [], ["--export", r.dir, "--out", out]));
  assert.equal(e.code, 0, e.stderr);
  const text = Deno.readTextFileSync(out);
  assert.equal(text.match(/dev\.malloc\(16384, \{ name: "cuMemAlloc#\d" \}\)/g)?.length, 3);
  const launches = [...text.matchAll(/^ {4}launch\(dev, null, (k_\w+),/gm)].map((m) => m[1]);
  assert.deepEqual(launches, ["k_fill", "k_scale", "k_scale", "k_scale", "k_scale", "k_add"]);
  assert.match(text, /\{ name: "arg3", type: "f32" \}/, "2.0f read as a float");
  assert.match(text, /arg0: \d+ \/\* 0x[0-9a-f]+: in no allocation in the trace \*\//);
  const mod = await import(`file://${out}`);
  assert.equal(mod.experiment.name, "linked");
  assert.equal(mod.k_scale.args.length, 5);
});

Deno.test(
  { name: "trace cli: the status server lists trace runs with their verdict", ignore: !!skip },
  async () => {
    const r = await trace(reports, [await program("linked"), await kernelModule(), "oob"]);
    const id = r.dir.slice(r.dir.lastIndexOf("/") + 1);
    const runs = await new RunsIndex(reports).list();
    const run = runs.find((x) => x.experiment === "trace" && x.id === id);
    assert.ok(run, runs.map((x) => `${x.experiment}/${x.id}`).join(", "));
    assert.equal(run.status, "FAULT");
    assert.match(run.rootCause ?? "", /^scale, op \d+, argument arg0/);
  },
);
