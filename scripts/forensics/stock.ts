/**
 * The stock hypothesis set: the usual causes of an asynchronous GPU fault, decided from
 * the guard findings, the attribution (with its replays) and the journal.
 *
 * Common rules for a hypothesis H about the cause of a fault:
 *   - a finding of H's class at the root-cause op     → CONFIRMED
 *   - no fault and no finding of H's class in any trial → NOT_REPRODUCED
 *     (a finding of H's class without a fault is still CONFIRMED: a silent
 *     overrun corrupts memory without faulting)
 *   - a root cause is named and H does not explain it   → RULED_OUT
 *   - a fault with no named root cause                  → INCONCLUSIVE
 * Some hypotheses add their own evidence (the replay rules a race out when the
 * fault comes back with a sync after every launch; the journal rules out
 * staging-buffer reuse when no host range is reused by copies in flight).
 */

import { opLabel } from "./journal_read.ts";
import { confirmed, inconclusive, notReproduced, ruledOut } from "./hypotheses.ts";
import type { Evidence, Finding, Hypothesis, HypothesisVerdict, OpRecord } from "../../records.ts";

export type StockClass =
  | "use-after-free"
  | "offset-overflow"
  | "byte-size-mismatch"
  | "missing-stream-sync"
  | "misaligned-pointer"
  | "staging-buffer-reuse"
  | "overlapping-async-copies"
  | "bad-launch-params"
  | "config-mismatch";

const text = (f: Finding) => `${f.rail} ${f.invariant} ${f.kind ?? ""}`.toLowerCase();

const COPY_KINDS = new Set(["h2d", "d2h", "d2d", "p2p", "h2h", "memset"]);

/** Out of bounds from the start of a buffer is a wrong size; from an offset into it, a wrong offset. */
function boundsClass(f: Finding): StockClass {
  const off = f.allocation?.offset;
  if (f.argument === "bytes" || f.argument === "host") return "byte-size-mismatch";
  if (off === 0) return "byte-size-mismatch";
  return "offset-overflow";
}

/**
 * The stock class of a guard finding: by the rail that made it (scripts/guards/),
 * then by the words of its invariant for rails an experiment adds.
 */
export function classifyFinding(f: Finding): StockClass | null {
  switch (f.rail) {
    case "use_after_free":
      return "use-after-free";
    case "unknown_pointer":
      // 2^32 bytes away from inside an allocation: an offset that wrapped
      return f.wrap ? "offset-overflow" : "misaligned-pointer";
    case "null_pointer":
    case "alignment":
    case "device": // another device's memory: not a pointer this device can use
      return "misaligned-pointer";
    case "races": {
      // two copies racing each other are "overlapping async copies"; anything else is a missing sync
      const race = f.race as { first?: { kind?: string }; second?: { kind?: string } } | undefined;
      const kinds = race ? [race.first?.kind, race.second?.kind] : [];
      return kinds.length === 2 && kinds.every((k) => COPY_KINDS.has(String(k)))
        ? "overlapping-async-copies"
        : "missing-stream-sync";
    }
    case "copies":
    case "extent":
      return boundsClass(f);
    case "invariants":
    case "launch_limits":
      return "bad-launch-params";
    case "model_compat":
      return "config-mismatch";
    case "redzone":
      // a write past its buffer's end (or before its start) that no fault showed: a size mismatch
      return "byte-size-mismatch";
    case "usage":
      // a buffer, stream or event used after its release is a use after free; any other refused call, bad input
      return (f.object as { kind?: string } | undefined)?.kind === "value"
        ? "bad-launch-params"
        : "use-after-free";
  }
  const t = text(f);
  if (f.allocation?.state === "freed" || /free|dangling/.test(t)) return "use-after-free";
  if (/stag/.test(t)) return "staging-buffer-reuse";
  if (/overlap.*cop|cop.*overlap/.test(t)) return "overlapping-async-copies";
  if (/race|event|sync|hazard|order|happens/.test(t)) return "missing-stream-sync";
  if (
    /align|null|not a device|unknown allocation|no allocation|invalid pointer|point into an allocation/.test(
      t,
    )
  ) {
    return "misaligned-pointer";
  }
  if (/model|compat|config|gguf|hidden|ffn|vocab/.test(t)) return "config-mismatch";
  if (/size mismatch|byte.?size|bytes mismatch|copy size|length mismatch|mismatch/.test(t)) {
    return "byte-size-mismatch";
  }
  if (/bound|overflow|overrun|offset|range|inside|redzone|past|extent|within/.test(t)) return boundsClass(f);
  if (/param|grid|block|dim|seq_len|head|zero|even|odd|launch|limit|rope|theta|base|> 0/.test(t)) {
    return "bad-launch-params";
  }
  return null;
}

function findingLine(f: Finding, records: OpRecord[]): string {
  const r = records.find((x) => x.id === f.op);
  const at = r ? opLabel(r) : `op #${f.op}`;
  const arg = f.argument ? ` argument ${f.argument}` : "";
  const alloc = f.allocation?.name
    ? ` (${f.allocation.name}+${f.allocation.offset ?? "?"}, ${f.allocation.state ?? "?"})`
    : "";
  return `${f.rail}: ${at}${arg}${alloc} breaks "${f.invariant}"${f.detail ? ` — ${f.detail}` : ""}`;
}

/** The generic rule set over findings of one class. */
function byFindings(ev: Evidence, cls: StockClass, extraRuleOut?: () => string | null): HypothesisVerdict {
  const mine = ev.findings.filter((f) => classifyFinding(f) === cls);
  const rc = ev.attribution?.rootCause ?? null;
  if (rc) {
    const atRoot = mine.find((f) => f.op === rc.op);
    if (atRoot) return confirmed(findingLine(atRoot, ev.records));
  }
  if (!ev.reproduced) {
    if (mine.length) return confirmed(`no fault, but ${findingLine(mine[0], ev.records)}`);
    const copies = ev.records.filter((r) => r.kind === "d2h").length;
    const trials = ev.matrix ? ` (${ev.matrix.reduce((s, r) => s + r.iterations, 0)} matrix trials)` : "";
    const calls = ev.records.length
      ? `; ${ev.records.length} calls${copies ? ` (${copies} D2H copies)` : ""} returned success`
      : "";
    return notReproduced(`no trial faulted${trials}${calls} and no guard rail reported it`);
  }
  if (rc) {
    const other = rc.invariant ? `"${rc.invariant}"` : "another cause";
    if (mine.length) {
      return ruledOut(
        `the root cause op #${rc.op} (${rc.name}) breaks ${other}; ` +
          `a finding of this kind exists elsewhere: ${findingLine(mine[0], ev.records)}`,
      );
    }
    const extra = extraRuleOut?.();
    return ruledOut(
      `the root cause is op #${rc.op} ${rc.name}${
        rc.argument ? ` (${rc.argument})` : ""
      }, which breaks ${other}` +
        (extra ? `; ${extra}` : ""),
    );
  }
  if (mine.length) return inconclusive(`fault not attributed; ${findingLine(mine[0], ev.records)}`);
  return inconclusive("a fault surfaced but no op was attributed and no guard rail reported this");
}

/** Host ranges written by two device-to-host copies in flight at once on a stream. */
export function stagingReuse(records: OpRecord[]): { first: OpRecord; second: OpRecord } | null {
  const inflight = new Map<number, OpRecord[]>(); // stream -> async d2h copies since its last sync
  for (const r of records) {
    if (r.kind === "sync") {
      if (r.stream === 0 || r.name.includes("device")) inflight.clear();
      else inflight.delete(r.stream);
      continue;
    }
    if (r.kind !== "d2h" || r.host === undefined || r.stream === 0) continue;
    const bytes = r.scalars.bytes ?? r.pointers[0]?.bytes ?? 0;
    for (const list of inflight.values()) {
      for (const o of list) {
        const ob = o.scalars.bytes ?? o.pointers[0]?.bytes ?? 0;
        if (o.host! < r.host + bytes && r.host < o.host! + ob) return { first: o, second: r };
      }
    }
    const l = inflight.get(r.stream) ?? [];
    l.push(r);
    inflight.set(r.stream, l);
  }
  return null;
}

/** Async copies on different streams touching the same device bytes with no sync between them. */
export function overlappingCopies(records: OpRecord[]): { first: OpRecord; second: OpRecord } | null {
  const copies = new Set(["h2d", "d2h", "d2d", "p2p", "memset"]);
  const inflight: OpRecord[] = [];
  for (const r of records) {
    if (r.kind === "sync") {
      if (r.stream === 0 || r.name.includes("device")) inflight.length = 0;
      else {
        for (let i = inflight.length - 1; i >= 0; i--) {
          if (inflight[i].stream === r.stream) inflight.splice(i, 1);
        }
      }
      continue;
    }
    if (r.kind === "event_wait") continue;
    if (!copies.has(r.kind) || r.stream === 0) continue;
    for (const o of inflight) {
      if (o.stream === r.stream) continue;
      for (const a of o.pointers) {
        for (const b of r.pointers) {
          if (a.ptr === undefined || b.ptr === undefined) continue;
          if (!(a.access?.includes("w") || b.access?.includes("w"))) continue;
          if (a.ptr < b.ptr + (b.bytes ?? 0) && b.ptr < a.ptr + (a.bytes ?? 0)) {
            return { first: o, second: r };
          }
        }
      }
    }
    inflight.push(r);
  }
  return null;
}

export const useAfterFree: Hypothesis = {
  id: "use-after-free",
  title: "Use-after-free of GPU buffers",
  description: "an op touches an allocation after it was freed",
  test: (ev) => byFindings(ev, "use-after-free"),
};

export const offsetOverflow: Hypothesis = {
  id: "offset-overflow",
  title: "Offset calculation overflow",
  description: "a pointer plus offset lands past the end of its allocation",
  test: (ev) => {
    const v = byFindings(ev, "offset-overflow");
    if (v.status !== "RULED_OUT") return v;
    // A root-cause pointer in no allocation, past the end of one: an overflowed
    // offset and a corrupted pointer look the same to the journal.
    const rc = ev.attribution?.rootCause;
    const wild = rc &&
      ev.findings.find((f) =>
        f.op === rc.op && f.rail === "unknown_pointer" && /offset overflow\?/.test(f.detail ?? "")
      );
    if (!wild) return v;
    return inconclusive(
      `${findingLine(wild, ev.records)}; a pointer past the end of an allocation is an overflowed offset ` +
        `or a corrupted pointer, and the journal cannot tell which`,
    );
  },
};

export const byteSizeMismatch: Hypothesis = {
  id: "byte-size-mismatch",
  title: "Byte size mismatch",
  description: "a copy or kernel moves more bytes than the buffer holds",
  test: (ev) => byFindings(ev, "byte-size-mismatch"),
};

export const missingStreamSync: Hypothesis = {
  id: "missing-stream-sync",
  title: "Stream not synchronized (missing sync or event)",
  description: "an op uses results of another stream before they are ready",
  test(ev) {
    const a = ev.attribution;
    const mine = ev.findings.filter((f) => classifyFinding(f) === "missing-stream-sync");
    if (a?.timingDependent && a.criticalSync) {
      return confirmed(
        `the fault disappears with a sync after every launch and comes back without one; ` +
          `a sync after ${a.criticalSync.label} alone is enough`,
      );
    }
    const rc = a?.rootCause;
    if (rc && mine.some((f) => f.op === rc.op)) {
      return confirmed(findingLine(mine.find((f) => f.op === rc.op)!, ev.records));
    }
    if (a?.reproducedUnderBlocking) {
      return ruledOut(
        "the fault comes back with a sync after every launch, so no missing sync explains it" +
          (rc ? ` (root cause: op #${rc.op} ${rc.name})` : ""),
      );
    }
    if (a?.timingDependent) {
      return inconclusive("the fault is timing-dependent, but the bisection did not isolate one sync point");
    }
    return byFindings(ev, "missing-stream-sync");
  },
};

export const misalignedPointer: Hypothesis = {
  id: "misaligned-pointer",
  title: "Misaligned or invalid device pointer",
  description: "a pointer argument is null, misaligned, or points into no allocation",
  test: (ev) => byFindings(ev, "misaligned-pointer"),
};

export const stagingBufferReuse: Hypothesis = {
  id: "staging-buffer-reuse",
  title: "Incorrect reuse of staging buffers",
  description: "two copies in flight write the same host staging range",
  test(ev) {
    const reuse = stagingReuse(ev.records);
    if (reuse) {
      const v = `${opLabel(reuse.second)} writes the host range of ${opLabel(reuse.first)} before a sync`;
      const rc = ev.attribution?.rootCause;
      if (!ev.reproduced || !rc || rc.op === reuse.first.id || rc.op === reuse.second.id) return confirmed(v);
      return inconclusive(`${v}, but the root cause is op #${rc.op} ${rc.name}`);
    }
    const found = byFindings(ev, "staging-buffer-reuse");
    if (found.status === "CONFIRMED") return found;
    const n = ev.records.filter((r) => r.kind === "d2h").length;
    return ruledOut(`no host range is written by two device-to-host copies in flight (${n} copies checked)`);
  },
};

export const overlappingAsyncCopies: Hypothesis = {
  id: "overlapping-async-copies",
  title: "Overlapping async copies",
  description: "async copies on different streams touch the same device bytes with no sync between them",
  test(ev) {
    const o = overlappingCopies(ev.records);
    const found = byFindings(ev, "overlapping-async-copies");
    if (found.status === "CONFIRMED") return found;
    if (o) {
      const v = `${opLabel(o.second)} and ${
        opLabel(o.first)
      } touch the same bytes from two streams with no sync`;
      const rc = ev.attribution?.rootCause;
      if (!rc || rc.op === o.first.id || rc.op === o.second.id) return confirmed(v);
      return inconclusive(`${v}, but the root cause is op #${rc.op} ${rc.name}`);
    }
    if (ev.attribution?.reproducedUnderBlocking) {
      return ruledOut("the fault comes back with every launch serialized, and no async copies overlap");
    }
    const n =
      ev.records.filter((r) => ["h2d", "d2h", "d2d", "p2p"].includes(r.kind) && r.stream !== 0).length;
    return ruledOut(`no two async copies in flight touch the same bytes (${n} async copies checked)`);
  },
};

export const badLaunchParams: Hypothesis = {
  id: "bad-launch-params",
  title: "Bad launch parameters",
  description: "zero or odd dimensions, a grid over the device limits, a bad scalar",
  test(ev) {
    const rc = ev.attribution?.rootCause;
    if (ev.attribution?.method === "launch-status" && rc) {
      return confirmed(
        `op #${rc.op} ${rc.name} was refused at launch: ${ev.attribution.surfaced?.error ?? ""}`,
      );
    }
    return byFindings(ev, "bad-launch-params");
  },
};

export const configMismatch: Hypothesis = {
  id: "config-mismatch",
  title: "Model / build configuration mismatch",
  description: "the model's shapes differ from what the build or the buffers were sized for",
  test: (ev) => byFindings(ev, "config-mismatch"),
};

/** The nine stock hypotheses, in the order report.md lists them. */
export const STOCK_HYPOTHESES: readonly Hypothesis[] = [
  byteSizeMismatch,
  useAfterFree,
  missingStreamSync,
  misalignedPointer,
  stagingBufferReuse,
  overlappingAsyncCopies,
  offsetOverflow,
  badLaunchParams,
  configMismatch,
];

/** The stock set, optionally without some ids. */
export function stockHypotheses(...except: string[]): Hypothesis[] {
  return STOCK_HYPOTHESES.filter((h) => !except.includes(h.id));
}
