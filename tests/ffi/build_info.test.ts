/**
 * Build info: scripts/build.ts writes <library>.json beside each library; the
 * runtime reads it on load, and ignores one that does not belong to the file
 * (missing, unreadable, or written for a library of another size).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildInfoPath } from "../../ffi/build_info.ts";
import { readBuildInfo } from "../../mod.ts";
import { ffiTest, testRuntime } from "../helpers/env.ts";

Deno.test({
  name: "build info: the loaded library's targets, as its build wrote them",
  ...ffiTest,
  fn: () => {
    const rt = testRuntime();
    assert.ok(rt.build, `${rt.path} has no build info`);
    assert.equal(rt.build.backend, rt.backend);
    assert.equal(rt.build.library_bytes, Deno.statSync(rt.path).size);
    assert.ok(rt.build.targets.length > 0 && rt.build.targets.every((t) => rt.build!.compilers[t]));
    if (rt.backend === "sim") assert.deepEqual(rt.build.targets, [Deno.build.arch]);
    if (rt.backend === "hip") assert.ok(rt.build.targets.every((t) => t.startsWith("gfx")));
  },
});

Deno.test({
  name: "build info: none for a copy without it, a stale one, or a broken one",
  ...ffiTest,
  fn: async () => {
    const rt = testRuntime();
    const dir = await Deno.makeTempDir();
    const lib = join(dir, "libfaultline.so");
    await Deno.copyFile(rt.path, lib);
    assert.equal(readBuildInfo(lib), null, "no JSON beside the copy");
    const info = JSON.parse(await Deno.readTextFile(buildInfoPath(rt.path)));
    await Deno.writeTextFile(buildInfoPath(lib), JSON.stringify(info));
    assert.deepEqual(readBuildInfo(lib), info, "the same library, copied with its JSON");
    await Deno.writeTextFile(
      buildInfoPath(lib),
      JSON.stringify({ ...info, library_bytes: info.library_bytes + 1 }),
    );
    assert.equal(readBuildInfo(lib), null, "written for another build");
    await Deno.writeTextFile(buildInfoPath(lib), "{ not json");
    assert.equal(readBuildInfo(lib), null);
  },
});
