import assert from "node:assert/strict";
import { join } from "node:path";
import { describeOutcome, makeSpec, runTrial } from "../../../scripts/trials/runner.ts";
import { matrixTable } from "../../../scripts/report/matrix_table.ts";
import { matrixVerdict } from "../../../scripts/report/verdict.ts";
import { runMatrix } from "../../../scripts/trials/matrix.ts";
import { parseResult, RESULT_PREFIX, resultLine } from "../../../scripts/trials/spec.ts";

/**
 * A real segfault inside a native call (strlen on an unmapped address), as a
 * crashing native library would die. (Deno ignores a SIGSEGV sent with kill:
 * V8's trap handler catches it.)
 */
const SEGFAULT = `Deno.dlopen("libc.so.6", { strlen: { parameters: ["pointer"], result: "usize" } })` +
  `.symbols.strlen(Deno.UnsafePointer.create(16n));`;

/** Writes a tiny child script that reads its --trial spec and behaves as `body` says. */
async function child(dir: string, name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await Deno.writeTextFile(
    file,
    `const spec = JSON.parse(Deno.args[Deno.args.indexOf("--trial") + 1]);\n` +
      `const say = (r) => console.log(${JSON.stringify(RESULT_PREFIX)} + JSON.stringify(r));\n${body}\n`,
  );
  return file;
}

Deno.test("trial: a child that prints a result is classified by that result", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(
    dir,
    "ok.ts",
    `console.log("noise"); say({ status: "OK", values: { mode: spec.mode, it: spec.iteration } });`,
  );
  const o = await runTrial(file, makeSpec("t", dir, "audit", { iteration: 7 }), { timeoutMs: 20_000 });
  assert.equal(o.status, "OK");
  assert.equal(o.code, 0);
  assert.equal(o.signal, null);
  assert.deepEqual(o.result?.values, { mode: "audit", it: 7 });
  assert.equal(o.timedOut, false);
  assert.ok(o.command.includes("--trial"));
});

Deno.test("trial: a reported fault keeps its error", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(
    dir,
    "fault.ts",
    `say({ status: "FAULT", error: { code: 700, name: "ILLEGAL_ADDRESS", message: "d2h failed", op: 9 } }); Deno.exit(3);`,
  );
  const o = await runTrial(file, makeSpec("t", dir, "audit"), { timeoutMs: 20_000 });
  assert.equal(o.status, "FAULT");
  assert.equal(o.code, 3);
  assert.equal(o.result?.error?.code, 700);
  assert.match(describeOutcome(o), /FAULT: ILLEGAL_ADDRESS d2h failed/);
});

Deno.test("trial: a segfault ends the trial as CRASH, not the parent", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(dir, "crash.ts", `console.error("about to die"); ${SEGFAULT}`);
  const o = await runTrial(file, makeSpec("t", dir, "audit"), { timeoutMs: 20_000 });
  assert.equal(o.status, "CRASH");
  assert.equal(o.signal, "SIGSEGV");
  assert.equal(o.result, null);
  assert.match(o.stderrTail, /about to die/);
  assert.match(describeOutcome(o), /SIGSEGV/);
});

Deno.test("trial: a hang past the time limit is killed and reported as HANG", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(dir, "hang.ts", `await new Promise(() => setInterval(() => {}, 1000));`);
  const t0 = performance.now();
  const o = await runTrial(file, makeSpec("t", dir, "audit"), { timeoutMs: 1500 });
  assert.equal(o.status, "HANG");
  assert.equal(o.timedOut, true);
  assert.ok(performance.now() - t0 < 15_000);
});

Deno.test("trial: exiting without a result line is an ERROR; a stray last line is not a result", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(dir, "noresult.ts", `console.log('{"status":"OK"}'); Deno.exit(1);`);
  const o = await runTrial(file, makeSpec("t", dir, "audit"), { timeoutMs: 20_000 });
  assert.equal(o.status, "ERROR");
  assert.equal(o.code, 1);
  assert.match(describeOutcome(o), /no result/);
});

Deno.test("trial: environment reaches the child", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(
    dir,
    "env.ts",
    `say({ status: "OK", values: { v: Deno.env.get("HIP_LAUNCH_BLOCKING") } });`,
  );
  const o = await runTrial(file, makeSpec("t", dir, "audit"), {
    timeoutMs: 20_000,
    env: { HIP_LAUNCH_BLOCKING: "1" },
  });
  assert.equal(o.result?.values?.v, "1");
});

Deno.test("trial: result line round-trips and only the marked line counts", () => {
  const line = resultLine({ status: "BLOCKED", findings: [] });
  assert.deepEqual(parseResult(`a\n${line}\ntrailing\n`), { status: "BLOCKED", findings: [] });
  assert.equal(parseResult(`{"status":"OK"}\n`), null);
  assert.equal(parseResult(`${RESULT_PREFIX}{broken\n`), null);
});

Deno.test("matrix: rows × iterations with real children; crashes and hangs count as errors", async () => {
  const dir = await Deno.makeTempDir();
  const file = await child(
    dir,
    "matrix.ts",
    `if (spec.mode === "blocking" && spec.iteration === 1) ${SEGFAULT}
     if (spec.params?.hang && spec.iteration === 0) await new Promise(() => setInterval(() => {}, 1000));
     say({ status: "OK" });`,
  );
  const seen: number[] = [];
  const { rows, outcomes } = await runMatrix(
    [
      { name: "baseline", mode: "off", iterations: 2 },
      { mode: "blocking", iterations: 2 },
      { name: "stress", mode: "audit", iterations: 1, params: { hang: true } },
    ],
    (row, i) =>
      runTrial(file, makeSpec("m", dir, row.mode, { iteration: i, params: row.params }), { timeoutMs: 2000 }),
    { progress: (p) => seen.push(p.done) },
  );
  assert.equal(outcomes.length, 5);
  assert.deepEqual(
    rows.map((r) => [r.name, r.iterations, r.errors, r.status]),
    [["baseline", 2, 0, "PASS"], ["blocking", 2, 1, "FAIL"], ["stress", 1, 1, "FAIL"]],
  );
  assert.equal(rows[1].outcomes.CRASH, 1);
  assert.equal(rows[1].firstError?.iteration, 1);
  assert.equal(rows[2].outcomes.HANG, 1);
  assert.equal(seen.at(-1), 5);
  const table = matrixTable(rows);
  assert.match(table, /\| A \| baseline \(off\) \| 2 \| 0 \| PASS \|/);
  assert.match(table, /\| B \| blocking \| 2 \| 1 \| FAIL \|/);
  assert.match(table, /\| \*\*Total\*\* \| - \| \*\*5\*\* \| \*\*2\*\* \| \*\*FAIL\*\* \|/);
  assert.deepEqual(matrixVerdict(rows)[0], {
    name: "baseline",
    mode: "off",
    iterations: 2,
    errors: 0,
    status: "PASS",
  });
});

Deno.test("matrix: concurrency and early stop", async () => {
  let running = 0;
  let peak = 0;
  const { rows } = await runMatrix(
    [{ mode: "audit", iterations: 6 }],
    async (row, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return {
        spec: makeSpec("x", "/tmp", row.mode, { iteration: i }),
        status: i >= 2 ? "FAULT" : "OK",
        code: 0,
        signal: null,
        result: null,
        stdoutTail: "",
        stderrTail: "",
        wallMs: 20,
        command: [],
        timedOut: false,
      };
    },
    { concurrency: 2, progress: false, maxErrorsPerRow: 1 },
  );
  assert.equal(peak, 2);
  assert.ok(rows[0].iterations < 6);
  assert.equal(rows[0].status, "FAIL");
});

/** True while `pid` is a running (not zombie) process. */
/** Whether `pid` is still alive after up to `waitMs` (a killed process takes a moment to go). */
async function stillRunning(pid: number, waitMs = 3000): Promise<boolean> {
  const end = performance.now() + waitMs;
  while (running(pid)) {
    if (performance.now() > end) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** A trial that starts `sleep` as a grandchild (holding the trial's stdout or not), records its pid, then hangs or exits. */
async function grandchildTrial(dir: string, name: string, holdStdout: boolean, hang: boolean) {
  const pidFile = join(dir, `${name}.pid`);
  const file = await child(
    dir,
    `${name}.ts`,
    `const g = new Deno.Command("sleep", { args: ["30"], stdout: ${
      holdStdout ? '"inherit"' : '"null"'
    }, stderr: "null" }).spawn();
     g.unref();
     Deno.writeTextFileSync(${JSON.stringify(pidFile)}, String(g.pid));
     ${hang ? "await new Promise(() => setInterval(() => {}, 1000));" : 'say({ status: "OK" });'}`,
  );
  const t0 = performance.now();
  // long enough for the child to start and spawn on a loaded machine; a trial that exits ends sooner
  const o = await runTrial(file, makeSpec("t", dir, "audit"), { timeoutMs: hang ? 4000 : 30_000 });
  return { o, wallMs: performance.now() - t0, pid: Number(await Deno.readTextFile(pidFile)) };
}

Deno.test({
  name: "trial: a time limit ends the trial's whole process group; no grandchild is left",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const dir = await Deno.makeTempDir();
  for (const hold of [false, true]) {
    const { o, wallMs, pid } = await grandchildTrial(dir, `hang-${hold}`, hold, true);
    assert.equal(o.status, "HANG");
    assert.ok(wallMs < 12_000, `the trial took ${wallMs} ms; a grandchild held it open`);
    assert.equal(await stillRunning(pid), false, `grandchild ${pid} outlived the trial`);
  }
  const { o, pid } = await grandchildTrial(dir, "exits", true, false);
  assert.equal(o.status, "OK");
  assert.equal(await stillRunning(pid), false, `grandchild ${pid} of a finished trial is still running`);
});
