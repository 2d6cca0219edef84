/**
 * The hip backend's target choice (scripts/hip_build/arch.ts): the GPU that
 * amdgpu-arch or rocminfo reports, from fake executables on PATH in a temp
 * dir; the default set without one; which compiler builds each target.
 */
import assert from "node:assert/strict";
import {
  chooseHipTargets,
  compilerKnows,
  DEFAULT_HIP_TARGETS,
  detectAmdGpus,
  parseHipArch,
  parseRocminfo,
} from "../../../scripts/hip_build/arch.ts";
import { findClang, findHipcc, isFile, type ToolSearch } from "../../../scripts/hip_build/tools.ts";

/** rocminfo's shape on an MI300X host (trimmed): a CPU agent, then a GPU agent with its ISA. */
const ROCMINFO_MI300X = `ROCk module is loaded
HSA System Attributes
=====================
Runtime Version:         1.1
==========
HSA Agents
==========
*******
Agent 1
*******
  Name:                    AMD EPYC 9654 96-Core Processor
  Marketing Name:          AMD EPYC 9654 96-Core Processor
  Device Type:             CPU
*******
Agent 2
*******
  Name:                    gfx942
  Uuid:                    GPU-4b3b3a6a5e4c3b2a
  Marketing Name:          AMD Instinct MI300X
  Device Type:             GPU
  ISA Info:
    ISA 1
      Name:                    amdgcn-amd-amdhsa--gfx942:sramecc+:xnack-
*** Done ***
`;

/** A temp dir holding executables named after `scripts`' keys, each a shell script body. */
async function fakeTools(scripts: Record<string, string>): Promise<ToolSearch> {
  const dir = await Deno.makeTempDir({ prefix: "fl_fake_rocm_" });
  for (const [name, body] of Object.entries(scripts)) {
    await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return { path: dir, dirs: [] };
}

/** A compiler that accepts --offload-arch=<t> (with or without features) for the given targets only. */
function fakeCompiler(knows: string[]): string {
  const cases = knows.map((t) => `*--offload-arch=${t}[:\\ ]*) exit 0 ;;`).join("\n  ");
  return `case "$* " in\n  ${cases}\nesac\nexit 1`;
}

const noGpu = "echo 'Failed to get device count' >&2; exit 1";

Deno.test("hip arch: amdgpu-arch's report wins, one target per distinct GPU", async () => {
  const search = await fakeTools({
    "amdgpu-arch": "printf 'gfx942\\ngfx942\\ngfx90a\\n'",
    rocminfo: "exit 1",
  });
  assert.deepEqual(await detectAmdGpus(search), { targets: ["gfx942", "gfx90a"], tool: "amdgpu-arch" });
});

Deno.test("hip arch: rocminfo's GPU agent when amdgpu-arch finds no GPU", async () => {
  const search = await fakeTools({ "amdgpu-arch": noGpu, rocminfo: `cat <<'EOF'\n${ROCMINFO_MI300X}EOF` });
  assert.deepEqual(await detectAmdGpus(search), { targets: ["gfx942"], tool: "rocminfo" });
  assert.deepEqual(parseRocminfo(ROCMINFO_MI300X.replaceAll("gfx942", "gfx90a")), ["gfx90a"]);
});

Deno.test("hip arch: with the process's own PATH, a fake amdgpu-arch put first is the one asked", async () => {
  const search = await fakeTools({ "amdgpu-arch": "echo gfx942" });
  const arch = new URL("../../../scripts/hip_build/arch.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { detectAmdGpus } from "${arch}"; console.log(JSON.stringify(await detectAmdGpus()));`,
    ],
    env: { PATH: `${search.path}:${Deno.env.get("PATH")}` },
    stdout: "piped",
  }).output();
  assert.ok(out.success);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    targets: ["gfx942"],
    tool: "amdgpu-arch",
  });
});

Deno.test("hip arch: no GPU reported (tools fail, print nothing, or are absent) is null", async () => {
  assert.equal(await detectAmdGpus(await fakeTools({ "amdgpu-arch": noGpu, rocminfo: "exit 0" })), null);
  assert.equal(await detectAmdGpus(await fakeTools({})), null);
});

Deno.test("hip arch: a detected gfx942 goes to clang when hipcc does not know it", async () => {
  const search = await fakeTools({
    "amdgpu-arch": "echo gfx942",
    hipcc: fakeCompiler(["gfx90a"]),
    clang: fakeCompiler(["gfx90a", "gfx942"]),
  });
  const t = await chooseHipTargets(`${search.path}/hipcc`, undefined, search, `${search.path}/clang`);
  assert.deepEqual(t.targets, ["gfx942"]);
  assert.equal(t.chosenBy, "amdgpu-arch");
  assert.deepEqual([t.hipcc, t.clang], [[], ["gfx942"]]);
  assert.deepEqual(t.hipccArch, ["gfx90a"], "hipcc runs with a stand-in target, dropped later");
  assert.equal(t.compilers.gfx942, `${search.path}/clang`);
});

Deno.test("hip arch: no GPU builds the default set; hipcc takes what it knows", async () => {
  const search = await fakeTools({
    hipcc: fakeCompiler(["gfx90a"]),
    clang: fakeCompiler(["gfx90a", "gfx942"]),
  });
  const t = await chooseHipTargets(`${search.path}/hipcc`, undefined, search, `${search.path}/clang`);
  assert.deepEqual(t.targets, [...DEFAULT_HIP_TARGETS]);
  assert.ok(t.targets.includes("gfx942") && t.targets.includes("gfx90a"));
  assert.deepEqual([t.hipcc, t.clang, t.hipccArch], [["gfx90a"], ["gfx942"], ["gfx90a"]]);
  assert.match(t.chosenBy, /^default/);

  const bare = await chooseHipTargets(`${search.path}/hipcc`, undefined, search, null);
  assert.deepEqual(bare.targets, ["gfx90a"]);
  assert.match(bare.notes.join("\n"), /gfx942 left out: .*no clang-19/);
});

Deno.test("hip arch: --hip-arch overrides the detected GPU; a target no compiler knows is an error", async () => {
  const search = await fakeTools({
    "amdgpu-arch": "echo gfx90a",
    hipcc: fakeCompiler(["gfx90a", "gfx942"]),
    clang: fakeCompiler([]),
  });
  const hipcc = `${search.path}/hipcc`;
  const t = await chooseHipTargets(hipcc, ["gfx942", "gfx90a:xnack+"], search, `${search.path}/clang`);
  assert.deepEqual([t.targets, t.chosenBy, t.clang], [["gfx942", "gfx90a:xnack+"], "--hip-arch", []]);
  await assert.rejects(() => chooseHipTargets(hipcc, ["gfx950"], search, null), /gfx950: .*cannot compile/);
  assert.throws(() => parseHipArch(["sm_90"]), /bad --hip-arch sm_90/);
  assert.throws(() => parseHipArch([" "]), /bad --hip-arch/);
});

const hipcc = findHipcc();
const clang = findClang();
Deno.test({
  name:
    "hip arch: the installed compilers answer the probe (hipcc: gfx90a, clang-19: gfx942, nobody: gfx9999)",
  ignore: !hipcc || !clang,
  fn: async () => {
    assert.equal(await compilerKnows(hipcc!, "gfx90a"), true);
    assert.equal(await compilerKnows(clang!, "gfx942"), true);
    assert.equal(await compilerKnows(clang!, "gfx9999"), false);
    assert.equal(await compilerKnows(hipcc!, "gfx9999"), false);
  },
});
if (!hipcc || !clang) {
  console.warn(`hip arch: compiler probe skipped (${!hipcc ? "no hipcc" : "no clang-19"})`);
}

Deno.test({
  name: "hip arch: build.ts refuses a bad or unknown target with one clear line and keeps the built library",
  ignore: !hipcc,
  fn: async () => {
    const build = new URL("../../../scripts/build.ts", import.meta.url).pathname;
    const lib = new URL("../../../build/hip/libfaultline.so", import.meta.url).pathname;
    const mtime = () => Deno.statSync(lib).mtime?.getTime();
    const before = isFile(lib) ? mtime() : null;
    for (
      const [arch, message] of [["sm_90", /bad --hip-arch sm_90/], [
        "gfx9999",
        /gfx9999: .*cannot compile/,
      ]] as const
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", build, "--backend", "hip", "--hip-arch", arch],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1);
      assert.match(err, message);
      assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
    }
    assert.equal(isFile(lib) ? mtime() : null, before, "the library is left as it was");
  },
});
