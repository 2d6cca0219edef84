/** Experiment params and run options are checked before any trial: a refusal runs nothing and writes nothing. */
import assert from "node:assert/strict";
import { checkParams, integerParam, orParam, paramsUsage } from "../../../scripts/cli/params.ts";
import { FaultlineUsageError } from "../../../mod.ts";
import { experiment as rope } from "../../../scripts/experiments/rope_forensics.ts";
import { experiment as raceMatrix } from "../../../scripts/experiments/d2h_race_matrix.ts";
import { defineExperiment, runExperiment } from "../../../scripts/trials/experiment.ts";

const refused = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof FaultlineUsageError && message.test(e.message));

const exp = {
  params: { n: 4, on: false, name: "a", mode: "auto" },
  paramRules: { mode: ["auto", "x"], n: integerParam(1, 8), k: orParam(["auto"], integerParam(0, 3)) },
  matrix: [{ name: "s", mode: "audit" as const, iterations: 1, params: { stress: true } }],
};

Deno.test("params: names and values are checked against the rules, else the default's type", () => {
  assert.deepEqual(checkParams(exp, { n: 8, k: "auto" }), {
    n: 8,
    on: false,
    name: "a",
    mode: "auto",
    k: "auto",
  });
  assert.equal(checkParams(exp, { k: 3, stress: false }).k, 3);
  refused(
    () => checkParams(exp, { nosuch: 1 }),
    /^--param nosuch: no such param \(the params are n, on, name/,
  );
  refused(() => checkParams(exp, { n: 9 }), /^--param n=9: must be an integer from 1 to 8$/);
  refused(() => checkParams(exp, { n: "abc" }), /^--param n=abc: must be an integer/);
  refused(() => checkParams(exp, { mode: "nonsense" }), /^--param mode=nonsense: must be one of auto, x$/);
  refused(() => checkParams(exp, { on: "yes" }), /^--param on=yes: must be true or false$/);
  refused(() => checkParams(exp, { name: 3 }), /^--param name=3: must be a string$/);
  refused(() => checkParams(exp, { k: 4 }), /^--param k=4: must be auto or an integer from 0 to 3$/);
  refused(() => checkParams(exp, { stress: 1 }), /^--param stress=1: must be true or false$/);
});

Deno.test("params: the experiments refuse what they cannot run, across params", () => {
  refused(
    () => checkParams(rope, { model: "nonsense" }),
    /model=nonsense: must be one of auto, tiny, llama2-7b/,
  );
  refused(() => checkParams(rope, { model: "tiny", layer: 2 }), /layer=2: must be an integer from 0 to 1$/);
  assert.equal(checkParams(rope, { model: "tiny", layers: 4, layer: 3 }).layer, 3);
  refused(() => checkParams(rope, { fault: "bogus" }), /fault=bogus: must be one of auto, stale-pointer/);
  refused(
    () => checkParams(raceMatrix, { race: "sometimes" }),
    /race=sometimes: must be one of none, skip-wait/,
  );
  assert.ok(paramsUsage(rope).includes("dtype=auto|f32|f16 (default auto)"));
  assert.ok(paramsUsage(rope).includes("step=<an integer from 0 to 58> (default 3)"));
});

Deno.test("run options: a bad param, scale, time limit or matrix is refused before any folder or trial", async () => {
  const reportsDir = await Deno.makeTempDir({ prefix: "faultline-refused-" });
  // never run: a refused run starts no child (the folder check below would see its trials/)
  const counted = defineExperiment({ name: "counted", params: { n: 1 }, run() {} });
  try {
    const cases: [Parameters<typeof runExperiment>[1], RegExp][] = [
      [{ params: { n: "x" } }, /--param n=x: must be a number/],
      [{ params: { m: 1 } }, /--param m: no such param/],
      [{ matrix: true, scale: 0 }, /scale must be a positive number, got 0/],
      [{ matrix: true, scale: NaN }, /scale must be a positive number/],
      [{ scale: 2 }, /a scale needs a matrix/],
      [{ timeoutMs: NaN }, /time limit must be a positive number/],
      [{ matrix: [] }, /a matrix needs rows/],
      [{ matrix: [{ name: "z", mode: "audit", iterations: 0 }] }, /a matrix needs rows of at least one/],
      [{ mode: "fast" as never }, /unknown mode fast/],
      [{ debugEnv: "xyz" }, /unknown debug environment preset xyz/],
    ];
    for (const [opts, message] of cases) {
      await assert.rejects(
        runExperiment(counted, { ...opts, reportsDir, print: false }),
        (e: unknown) => e instanceof FaultlineUsageError && message.test(e.message),
        JSON.stringify(opts),
      );
    }
    assert.deepEqual([...Deno.readDirSync(reportsDir)], [], "a refused run leaves no folder");
  } finally {
    await Deno.remove(reportsDir, { recursive: true });
  }
});
