/**
 * Every built library exports exactly the symbols of ffi/symbols.ts (the
 * fl_* functions), per `nm -D --defined-only build/<backend>/libfaultline.so`.
 * Backends that are not built are skipped.
 */
import assert from "node:assert/strict";
import { BACKENDS, expectedExports, libraryPath } from "../../mod.ts";

function built(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function hasNm(): boolean {
  try {
    return new Deno.Command("nm", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

const nm = hasNm();

for (const backend of BACKENDS) {
  const path = libraryPath(backend);
  Deno.test({
    name: `abi: build/${backend}/libfaultline.so exports exactly ffi/symbols.ts`,
    ignore: !nm || !built(path),
    fn: async () => {
      const out = await new Deno.Command("nm", { args: ["-D", "--defined-only", path] }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const exported = new TextDecoder().decode(out.stdout).split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length >= 3 && /^[TtWi]$/.test(f[1]) && f[2].startsWith("fl_"))
        .map((f) => f[2].replace(/@.*$/, ""));
      const have = new Set(exported);
      const want = new Set(expectedExports());
      const missing = [...want].filter((s) => !have.has(s)).sort();
      const extra = [...have].filter((s) => !want.has(s)).sort();
      assert.deepEqual(
        { missing, extra },
        { missing: [], extra: [] },
        `${path}: missing from the library: ${missing.join(", ") || "none"}; ` +
          `exported but not in ffi/symbols.ts: ${extra.join(", ") || "none"}`,
      );
    },
  });
}
