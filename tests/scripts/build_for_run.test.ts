/**
 * `deno task demo|test|bench` build only what the run loads (--for-run): sim,
 * plus the GPU backend of the GPU present or of $FAULTLINE_BACKEND; a machine
 * with nvcc but no GPU does not build cuda.
 */
import assert from "node:assert/strict";
import { backendsForRun } from "../../scripts/build.ts";

function withEnv<T>(value: string | undefined, f: () => T): T {
  const before = Deno.env.get("FAULTLINE_BACKEND");
  if (value === undefined) Deno.env.delete("FAULTLINE_BACKEND");
  else Deno.env.set("FAULTLINE_BACKEND", value);
  try {
    return f();
  } finally {
    if (before === undefined) Deno.env.delete("FAULTLINE_BACKEND");
    else Deno.env.set("FAULTLINE_BACKEND", before);
  }
}

const hasNvidia = ["/dev/nvidiactl", "/dev/nvidia0"].some((p) => {
  try {
    return Deno.statSync(p) !== null;
  } catch {
    return false;
  }
});

Deno.test("build --for-run: sim alone when asked for sim, whatever compilers exist", () => {
  assert.deepEqual(withEnv("sim", backendsForRun), ["sim"]);
});

Deno.test({
  name: "build --for-run: no GPU here, so no GPU backend even where nvcc is installed",
  ignore: hasNvidia,
  fn: () => assert.deepEqual(withEnv(undefined, backendsForRun), ["sim"]),
});

Deno.test("build --for-run: $FAULTLINE_BACKEND=cuda builds cuda beside sim where nvcc exists", () => {
  const nvcc =
    new Deno.Command("sh", { args: ["-c", "command -v nvcc"], stdout: "null" }).outputSync().success;
  assert.deepEqual(withEnv("cuda", backendsForRun), nvcc ? ["sim", "cuda"] : ["sim"]);
});
