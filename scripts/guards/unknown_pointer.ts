/**
 * Rail: every pointer argument points into some allocation (live or freed:
 * freed is use_after_free's). A pointer that is a multiple of 2^32 bytes away
 * from an address inside an allocation is that allocation's base plus an
 * offset that wrapped at 32 bits (kept in 32 bits, or computed in 32-bit
 * arithmetic that overflowed): it is described from that base.
 */
import type { Allocation, NativeCall, Registry } from "../../mod.ts";
import { allocOf, hex, pointerFinding, pointerRail, type Rail, type RailMode } from "./types.ts";
import type { Finding } from "../../records.ts";

/** The unknown-pointer rail in `mode`: a pointer argument outside every allocation. */
export function unknownPointerRail(mode: RailMode = "warn"): Rail {
  return pointerRail("unknown_pointer", mode, (call, p, k, ctx) => {
    if (p.ptr === 0 || allocOf(ctx, call, k) !== null) return null;
    if (ctx.registry.lookupFreed(p.ptr) !== null) return null;
    return outsideFinding(call, p, ctx.registry);
  });
}

const INVARIANT = "pointer arguments point into an allocation";
const TWO_32 = 2 ** 32;

/** The allocation `ptr` is k·2^32 bytes away from (|k| <= 4, the smallest |k| first), with the offset inside it. */
export function wrappedFrom(
  registry: Registry,
  ptr: number,
): { a: Allocation; offset: number; k: number } | null {
  let best: { a: Allocation; offset: number; k: number } | null = null;
  for (const a of registry.live()) {
    if (a.host) continue;
    const r = ptr - a.ptr;
    const offset = ((r % TWO_32) + TWO_32) % TWO_32;
    const k = (r - offset) / TWO_32;
    if (offset >= a.bytes || k === 0 || Math.abs(k) > 4) continue;
    if (best === null || Math.abs(k) < Math.abs(best.k)) best = { a, offset, k };
  }
  return best;
}

function outsideFinding(call: NativeCall, p: NativeCall["pointers"][number], registry: Registry): Finding {
  const head = `${p.arg}=${hex(p.ptr)} is outside every allocation`;
  const w = wrappedFrom(registry, p.ptr);
  if (w !== null) {
    const { a, offset, k } = w;
    const shift = k === 1 ? "2^32" : k === -1 ? "-2^32" : `${k}·2^32`;
    const f = pointerFinding(
      "unknown_pointer",
      call,
      p,
      null,
      INVARIANT,
      `${head}: ${Math.abs(k) === 1 ? "" : `${Math.abs(k)}·`}2^32 bytes ${
        k > 0 ? "past" : "before"
      } offset ${offset} ` +
        `of ${a.name} (alloc ${a.id}, ${a.bytes} bytes at ${hex(a.ptr)}): ${a.name} + ${offset} ${
          k > 0 ? "+" : "-"
        } ` +
        `${Math.abs(k) === 1 ? "" : `${Math.abs(k)}·`}2^32, an offset that wrapped at 32 bits (${shift})`,
    );
    f.allocation = {
      id: a.id,
      name: a.name,
      offset: p.ptr - a.ptr,
      bytes: p.bytes,
      size: a.bytes,
      state: a.state,
    };
    f.wrap = { alloc: a.id, offset, k };
    return f;
  }
  const near = registry.nearestBelow(p.ptr);
  const where = near === null
    ? "below every allocation"
    : `${p.ptr - (near.ptr + near.bytes)} bytes past the end of ${near.name} (alloc ${near.id}, ` +
      `${near.bytes} bytes at ${hex(near.ptr)}): offset ${
        p.ptr - near.ptr
      } of ${near.name}, an offset overflow?`;
  return pointerFinding("unknown_pointer", call, p, null, INVARIANT, `${head}: ${where}`);
}
