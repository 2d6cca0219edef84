/** The 32-bit wrap signature of a pointer outside every allocation, on a registry built by hand. */
import assert from "node:assert/strict";
import { Registry } from "../../../mod.ts";
import { wrappedFrom } from "../../../scripts/guards/unknown_pointer.ts";

function registry(): Registry {
  const r = new Registry();
  const add = (id: number, ptr: number, bytes: number, name: string, host = false) =>
    r.add({ id, ptr, bytes, name, align: 256, device: 0, base: ptr, allocBytes: bytes, redzone: 0, host });
  add(1, 0x7f0000000000, 65536, "x");
  add(2, 0x7f0000100000, 4096, "y");
  add(3, 0x7f0000200000, 1 << 20, "pinned", true);
  return r;
}

Deno.test("wrap: 2^32 past or before an offset inside an allocation names it, with the offset", () => {
  const r = registry();
  const x = 0x7f0000000000, y = 0x7f0000100000;
  assert.deepEqual(pick(wrappedFrom(r, x + 4096 + 2 ** 32)), { name: "x", offset: 4096, k: 1 });
  assert.deepEqual(pick(wrappedFrom(r, y + 100 - 2 ** 32)), { name: "y", offset: 100, k: -1 });
  assert.deepEqual(pick(wrappedFrom(r, x + 8 + 3 * 2 ** 32)), { name: "x", offset: 8, k: 3 });
});

Deno.test("wrap: no signature past the allocation's size, beyond 4·2^32, inside it, or in host memory", () => {
  const r = registry();
  const x = 0x7f0000000000;
  assert.equal(wrappedFrom(r, x + 65536 + 2 ** 32), null, "offset 65536 is past the end of x");
  assert.equal(wrappedFrom(r, x + 16 + 5 * 2 ** 32), null);
  assert.equal(wrappedFrom(r, x + 16), null, "inside x: no wrap");
  assert.equal(
    wrappedFrom(r, 0x7f0000200000 + 16 + 2 ** 32),
    null,
    "pinned host memory is not a device base",
  );
});

function pick(w: ReturnType<typeof wrappedFrom>) {
  return w && { name: w.a.name, offset: w.offset, k: w.k };
}
