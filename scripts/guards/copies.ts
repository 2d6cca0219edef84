/**
 * Rail: copies and memsets move more than 0 bytes and stay within both ends:
 * the device side(s) inside their allocations, and the host side inside its
 * pinned allocation when it is one the runtime made.
 */
import type { NativeCall } from "../../mod.ts";
import {
  allocOf,
  finding,
  type GuardContext,
  hex,
  NO_FINDINGS,
  pointerFinding,
  type Rail,
  type RailMode,
} from "./types.ts";
import type { Finding } from "../../records.ts";

const isCopy = (k: string) =>
  k === "h2d" || k === "d2h" || k === "d2d" || k === "p2p" || k === "h2h" || k === "memset";

/** The copies rail in `mode`: a copy or memset of 0 bytes, or one that runs past either end. */
export function copiesRail(mode: RailMode = "warn"): Rail {
  return {
    name: "copies",
    mode,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      if (!isCopy(call.kind)) return NO_FINDINGS;
      let out: Finding[] | null = null;
      const bytes = call.scalars.bytes ?? 0;
      if (!(bytes > 0)) {
        (out ??= []).push(
          finding("copies", call, "copy size > 0", `${call.kind} ${call.name} copies ${bytes} bytes`, {
            argument: "bytes",
          }),
        );
      }
      const ps = call.pointers;
      for (let k = 0; k < ps.length; k++) {
        const p = ps[k];
        const a = allocOf(ctx, call, k);
        if (a === null) continue; // unknown_pointer / use_after_free say why
        const off = p.ptr - a.ptr;
        if (off >= 0 && off + p.bytes <= a.bytes) continue;
        (out ??= []).push(
          pointerFinding(
            "copies",
            call,
            p,
            a,
            "copy within both ends",
            off < 0
              ? `${p.arg} starts ${-off} bytes before ${a.name} (alloc ${a.id})`
              : `${p.arg}: ${p.bytes} bytes from offset ${off} of ${a.name} (alloc ${a.id}, ${a.bytes} bytes) ` +
                `run ${off + p.bytes - a.bytes} bytes past its end`,
          ),
        );
      }
      const host = call.host;
      if (host !== undefined && host !== 0 && call.kind !== "h2h") {
        const h = ctx.registry.lookup(host);
        if (h !== null && h.host && host + bytes > h.ptr + h.bytes) {
          (out ??= []).push(
            finding(
              "copies",
              call,
              "copy within both ends",
              `host side ${hex(host)}: ${bytes} bytes from offset ${host - h.ptr} of pinned ${h.name} ` +
                `(${h.bytes} bytes) run ${host + bytes - h.ptr - h.bytes} bytes past its end`,
              {
                argument: "host",
                ptr: host,
                allocation: {
                  id: h.id,
                  name: h.name,
                  offset: host - h.ptr,
                  bytes,
                  size: h.bytes,
                  state: h.state,
                },
              },
            ),
          );
        }
      }
      return out ?? NO_FINDINGS;
    },
  };
}
