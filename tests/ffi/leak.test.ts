/** Objects collected without free()/destroy() are reported on stderr, once each, by name; nothing is freed for them. */
import assert from "node:assert/strict";
import { runChild } from "../helpers/child.ts";

Deno.test("leaks: a warning per object collected without free, naming it", async () => {
  const r = await runChild("leak_child.ts", { FAULTLINE_QUIET: "1" }, [], ["--v8-flags=--expose-gc"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json, { done: true });
  const warnings = r.stderr.split("\n").filter((l) => l.includes("garbage-collected without being freed"));
  const count = (re: RegExp) => warnings.filter((w) => re.test(w)).length;
  assert.equal(count(/DeviceBuffer "leaked_weights"/), 1, r.stderr);
  assert.equal(count(/PinnedBuffer "leaked_pinned"/), 1, r.stderr);
  assert.equal(count(/Stream \d+ of device 0/), 1, r.stderr);
  assert.equal(count(/Event \d+ of device 0/), 1, r.stderr);
  assert.equal(count(/freed_ok/), 0, "a freed buffer does not warn");
  assert.equal(warnings.length, 4, r.stderr);
});
