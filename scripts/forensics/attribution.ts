/**
 * Fault attribution: from the journal of a trial where a fault surfaced (a
 * copy or a sync returned an illegal-address status) to the launch that
 * caused it.
 *
 * 1. surfaced_at: the first journal record with an error status.
 * 2. A launch that failed at launch time (a bad configuration) is its own root
 *    cause: no replay.
 * 3. Otherwise the trial is replayed in a fresh child in "blocking" mode (a
 *    sync after every launch): the first sync that fails names the launch
 *    just before it. The replay's op is mapped back to the original journal
 *    (same kind, name, step, layer and occurrence), its pointer arguments are
 *    resolved from its record, and the guard findings for that op are attached.
 * 4. If the fault does not come back under per-launch syncs it is
 *    timing-dependent: a bisection over sync points (syncs after a subset of
 *    the launches) narrows down the launch after which one sync makes it
 *    disappear, within a bounded number of replays.
 * 5. Where the backend knows the faulting op (sim's fault info carries the op
 *    id as its tag), that is recorded as a second witness.
 *
 * Everything but `attribute` is pure; `attribute` only calls the replay
 * callback it is given (normally a child trial).
 */

import { describeStatus, STATUS_BLOCKED, statusName, STICKY_FAULTS } from "./codes.ts";
import { usageCause } from "./usage.ts";
import { opLabel } from "./journal_read.ts";
import type {
  Attribution,
  FaultInfo,
  Finding,
  OpRecord,
  PointerRecord,
  ResolvedArg,
  RootCause,
  SurfacedAt,
  TrialEvidence,
} from "../../records.ts";

/** The first record with an error status; for a trial that died inside a call, the call left pending. */
export function findSurfaced(records: OpRecord[], died = false): OpRecord | null {
  for (const r of records) if (r.status !== null && r.status !== 0 && r.status !== STATUS_BLOCKED) return r;
  if (died) {
    for (let i = records.length - 1; i >= 0; i--) if (records[i].status === null) return records[i];
  }
  return null;
}

export function surfacedAt(r: OpRecord): SurfacedAt {
  return {
    op: r.id,
    kind: r.kind,
    name: r.name,
    error: describeStatus(r.status, r.extra?.result_name),
    status: r.status,
    stream: r.stream,
    step: r.step,
    layer: r.layer,
    opName: r.op,
    label: opLabel(r),
  };
}

/** A launch that failed when launched (not a sticky fault from an earlier op): its own root cause. */
export function isLaunchTimeFailure(r: OpRecord): boolean {
  return r.kind === "launch" && r.status !== null && r.status !== 0 && r.status !== STATUS_BLOCKED &&
    !STICKY_FAULTS.has(r.status);
}

/**
 * In a replay with a sync after every launch: the op that the first failing
 * record blames. A failing launch blames itself. A failing sync or copy blames
 * the latest launch before it on its stream (any stream for a device-wide
 * sync) that no successful sync has covered since; when every earlier launch
 * was synced, the failing op faulted by itself (a copy with a bad pointer).
 */
export function blameInReplay(records: OpRecord[]): { failed: OpRecord; blamed: OpRecord | null } | null {
  const k = records.findIndex((r) => r.status !== null && r.status !== 0 && r.status !== STATUS_BLOCKED);
  if (k < 0) return null;
  const failed = records[k];
  if (failed.kind === "launch") return { failed, blamed: failed };
  const sameLane = (r: OpRecord) => failed.stream === 0 || r.stream === failed.stream || r.stream === 0;
  for (let i = k - 1; i >= 0; i--) {
    const r = records[i];
    if (r.kind === "sync" && r.status === 0 && (r.stream === 0 || sameLane(r) || /device/.test(r.name))) {
      // everything before this sync on this lane had completed cleanly
      return { failed, blamed: failed.kind === "sync" ? null : failed };
    }
    if (r.kind === "launch" && sameLane(r)) return { failed, blamed: r };
  }
  return { failed, blamed: failed.kind === "sync" ? null : failed };
}

/** Key of an op that is stable across trials whose op ids differ (extra syncs shift them). */
function occurrenceKeys(records: OpRecord[]): Map<number, string> {
  const seen = new Map<string, number>();
  const keys = new Map<number, string>();
  for (const r of records) {
    if (r.kind === "sync" || r.kind === "query") continue;
    const base = `${r.kind}|${r.name}|${r.step ?? ""}|${r.layer ?? ""}|${r.op ?? ""}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    keys.set(r.id, `${base}#${n}`);
  }
  return keys;
}

/** The record in `target` that is the same op as `op` of `source`. */
export function mapOp(source: OpRecord[], op: number, target: OpRecord[]): OpRecord | null {
  const key = occurrenceKeys(source).get(op);
  if (key === undefined) return null;
  for (const [id, k] of occurrenceKeys(target)) {
    if (k === key) return target.find((r) => r.id === id) ?? null;
  }
  return null;
}

function fmtBytes(n: number | undefined): string {
  return n === undefined ? "?" : `${n} B`;
}

export function resolveArg(p: PointerRecord): ResolvedArg {
  const where = p.alloc === null
    ? `0x${(p.ptr ?? 0).toString(16)} (in no allocation)`
    : `${p.name ?? `alloc ${p.alloc ?? "?"}`}+${p.offset ?? "?"}`;
  const size = p.size !== undefined ? ` of ${fmtBytes(p.size)}` : "";
  const state = p.state ? `, ${p.state}` : "";
  const access = p.access ? `, ${p.access}` : "";
  return { ...p, text: `${p.arg} = ${where} (${fmtBytes(p.bytes)}${size}${state}${access})` };
}

/** The pointer argument whose touched range holds `address`, if any. */
export function argumentAt(r: OpRecord, address: number | undefined): PointerRecord | null {
  if (!address) return null;
  for (const p of r.pointers) {
    if (p.ptr === undefined) continue;
    if (address >= p.ptr && address < p.ptr + Math.max(p.bytes ?? 1, 1)) return p;
  }
  return null;
}

/** The pointer argument that looks wrong from the journal alone (no allocation, freed, or past its end). */
export function suspectArgument(r: OpRecord): { arg: PointerRecord; invariant: string } | null {
  for (const p of r.pointers) {
    if (p.alloc === null || (p.ptr === 0)) {
      return { arg: p, invariant: p.ptr === 0 ? "pointer is not null" : "pointer lies inside an allocation" };
    }
    if (p.state === "freed") return { arg: p, invariant: "allocation is live (not freed)" };
    if (
      p.size !== undefined && p.offset !== undefined && p.bytes !== undefined && p.offset + p.bytes > p.size
    ) {
      return { arg: p, invariant: "offset + bytes <= allocation size" };
    }
  }
  return null;
}

/**
 * When one op has several findings, the most specific names the root cause:
 * a kernel's own invariant before a pointer rail, a pointer rail before the
 * generic extent and copy checks, those before the launch-limit check that a
 * bad parameter also trips, and races last.
 */
const RAIL_ORDER = [
  "invariants",
  "model_compat",
  "null_pointer",
  "use_after_free",
  "unknown_pointer",
  "alignment",
  "extent",
  "copies",
  "launch_limits",
  "redzones",
  "races",
];

function railRank(f: Finding): number {
  const sev = f.severity === "error" ? 0 : 0.5;
  const k = RAIL_ORDER.indexOf(f.rail);
  return (k < 0 ? RAIL_ORDER.length : k) + sev;
}

/** Builds the root cause for op `r` of a journal, with its resolved arguments and findings. */
export function rootCauseOf(
  r: OpRecord,
  findings: Finding[],
  fault: FaultInfo | null = null,
  replayOp?: number,
): RootCause {
  const own = findings.filter((f) => f.op === r.id).sort((a, b) => railRank(a) - railRank(b));
  const first = own[0];
  let argument: string | null = first?.argument ?? null;
  let invariant: string | null = first?.invariant ?? null;
  let detail = first?.detail ?? "";
  if (!argument) {
    const at = argumentAt(r, fault?.address);
    if (at) argument = at.arg;
  }
  if (!invariant || !argument) {
    const s = suspectArgument(r);
    if (s) {
      argument ??= s.arg.arg;
      invariant ??= s.invariant;
    }
  }
  if (!detail && fault?.address) {
    detail = `the ${fault.access && fault.access !== "unknown" ? fault.access + " " : ""}fault address ` +
      `0x${fault.address.toString(16)}${argument ? ` is reached through ${argument}` : ""}`;
  }
  return {
    op: r.id,
    kind: r.kind,
    kernel: r.name,
    name: r.op ?? r.name,
    step: r.step ?? null,
    layer: r.layer ?? null,
    stream: r.stream,
    argument,
    invariant,
    detail,
    scalars: r.scalars,
    args: r.pointers.map(resolveArg),
    findings: own,
    replayOp,
  };
}

/** The op the backend's fault info names (its tag is the journal op id), in that trial's journal. */
export function opOfFaultInfo(records: OpRecord[], fault: FaultInfo | null): OpRecord | null {
  if (!fault || !fault.tag) return null;
  return records.find((r) => r.id === fault.tag) ?? null;
}

/**
 * A journal-like record for a finding that no native call carries (a check
 * made outside the call path, such as the model-compatibility rail at load).
 */
export function findingRecord(f: Finding): OpRecord {
  return {
    id: f.op,
    kind: f.kind ?? "check",
    name: f.name ?? f.rail,
    stream: 0,
    scalars: {},
    pointers: [],
    step: f.step,
    layer: f.layer,
    op: typeof f.label === "string" ? f.label : undefined,
    status: f.severity === "error" ? STATUS_BLOCKED : 0,
  };
}

/** Findings that count (not overridden on purpose), in op order, blocking ones first within an op. */
export function rankedFindings(findings: Finding[]): Finding[] {
  const sev = (f: Finding) => (f.severity === "error" ? 0 : 1);
  return findings.filter((f) => f.status !== "overridden").sort((a, b) => a.op - b.op || sev(a) - sev(b));
}

/** Launch ordinals (0-based, in journal order) of the launches before op `before`. */
export function launchOrdinals(records: OpRecord[], before: number): { ordinal: number; record: OpRecord }[] {
  const out: { ordinal: number; record: OpRecord }[] = [];
  let n = 0;
  for (const r of records) {
    if (r.kind !== "launch") continue;
    if (r.id < before) out.push({ ordinal: n, record: r });
    n++;
  }
  return out;
}

export type ReplayFn = (
  how: { mode: "blocking" | "audit"; syncAfter?: number[]; purpose: string; redzoneEachWrite?: boolean },
) => Promise<TrialEvidence>;

export interface AttributeOptions {
  /** Most replays for the bisection over sync points (default 6). */
  maxReplays?: number;
  /**
   * How many of the bisection's replays can run side by side (one per device), asked once when a
   * bisection starts; default 1.
   */
  sideBySide?: () => Promise<number>;
  /** Wall-clock start of the fault (default: now). */
  startedAt?: number;
}

function faulted(e: TrialEvidence): boolean {
  if (e.outcome && (e.outcome.status === "CRASH" || e.outcome.status === "HANG")) return true;
  return findSurfaced(e.records) !== null || (e.fault !== null && e.fault.status !== 0);
}

/**
 * Attributes the fault of `original` (the trial where it surfaced), replaying
 * through `replay` as needed.
 */
export async function attribute(
  original: TrialEvidence,
  replay: ReplayFn,
  opts: AttributeOptions = {},
): Promise<Attribution> {
  const t0 = opts.startedAt ?? performance.now();
  const died = original.outcome?.status === "CRASH" || original.outcome?.status === "HANG";
  const surfacedRec = findSurfaced(original.records, died);
  const res = emptyAttribution(original, surfacedRec);
  const done = () => {
    if (res.rootCause) nameTheFree(res.rootCause, original.records);
    res.wallMs = performance.now() - t0;
    return res;
  };
  if (!surfacedRec) {
    // No fault: a guard finding can still name a root cause (a silent overrun, a blocked call).
    const first = rankedFindings(original.findings)[0];
    if (first?.suspects !== undefined && await nameByRedzoneReplay(original, first, replay, res)) {
      return done();
    }
    nameByFinding(original, res, Infinity, "no fault surfaced; ");
    return done();
  }
  res.evidence.push(
    `the fault surfaced at ${opLabel(surfacedRec)}: ${
      describeStatus(surfacedRec.status, surfacedRec.extra?.result_name)
    }`,
  );
  if (isLaunchTimeFailure(surfacedRec)) {
    res.method = "launch-status";
    res.rootCause = rootCauseOf(surfacedRec, original.findings, original.fault);
    res.evidence.push(
      `the launch itself returned ${statusName(surfacedRec.status)}: it failed before running`,
    );
    return done();
  }
  const blocking = await replay({ mode: "blocking", purpose: "replay" });
  res.replays++;
  if (!nameByBlockingReplay(original, blocking, res)) {
    res.reproducedUnderBlocking = false;
    res.timingDependent = true;
    res.evidence.push(
      "replayed with a sync after every launch: the fault did not come back, so it is timing-dependent",
    );
    const width = opts.sideBySide ? await opts.sideBySide() : 1;
    await bisect(original, surfacedRec, replay, res, { maxReplays: opts.maxReplays ?? 6, width });
  }
  settleWitness(original, res);
  if (!res.rootCause) nameByFinding(original, res, surfacedRec.id, "", " before the fault");
  return done();
}

/** An attribution that names nothing yet; the backend's fault info, when it has one, is its witness. */
function emptyAttribution(original: TrialEvidence, surfacedRec: OpRecord | null): Attribution {
  const witnessOp = opOfFaultInfo(original.records, original.fault);
  return {
    method: "none",
    surfaced: surfacedRec ? surfacedAt(surfacedRec) : null,
    rootCause: null,
    reproducedUnderBlocking: null,
    timingDependent: false,
    criticalSync: null,
    replays: 0,
    wallMs: 0,
    witness: original.fault && original.fault.status
      ? { fault: original.fault, op: witnessOp?.id ?? null, agrees: null }
      : null,
    evidence: [],
  };
}

/** Names the op of the first finding that counts, at or before op `upTo`. */
function nameByFinding(
  original: TrialEvidence,
  res: Attribution,
  upTo: number,
  prefix: string,
  suffix = "",
): void {
  const f = rankedFindings(original.findings).find((x) => x.op <= upTo);
  if (!f) return;
  const r = original.records.find((x) => x.id === f.op) ?? (upTo === Infinity ? findingRecord(f) : undefined);
  if (!r) return;
  res.method = "finding";
  res.rootCause = rootCauseOf(r, original.findings);
  if (f.rail === "usage") {
    nameUsageCause(f, original, res);
    return;
  }
  res.evidence.push(`${prefix}guard rail ${f.rail} flagged ${opLabel(r)}${suffix}: ${f.invariant}`);
}

/**
 * A damaged redzone whose window holds several writes, each declared inside the buffer: a replay with a
 * redzone check after every write pins it on the one write after which the redzone is damaged.
 */
async function nameByRedzoneReplay(
  original: TrialEvidence,
  f: Finding,
  replay: ReplayFn,
  res: Attribution,
): Promise<boolean> {
  res.evidence.push(
    `no fault surfaced; a redzone of ${f.allocation?.name} was damaged between op ${
      (f.window as { fromOp: number }).fromOp
    } ` +
      `and op ${(f.window as { toOp: number }).toOp} by one of ops ${(f.suspects as number[]).join(", ")}, ` +
      `each declared inside the buffer`,
  );
  const e = await replay({ mode: "audit", purpose: "redzone-replay", redzoneEachWrite: true });
  res.replays++;
  const g = e.findings.find((x) =>
    x.rail === "redzone" && x.suspects === undefined && x.allocation?.name === f.allocation?.name
  );
  const rec = g ? e.records.find((r) => r.id === g.op) : undefined;
  const orig = rec ? mapOp(e.records, rec.id, original.records) : null;
  if (!g || !rec || !orig) {
    res.evidence.push("replayed with a redzone check after every write: no single write damaged it");
    return false;
  }
  res.method = "redzone-replay";
  res.rootCause = rootCauseOf(rec, e.findings, null, rec.id);
  res.rootCause.op = orig.id;
  res.evidence.push(
    `replayed with a redzone check after every write: the redzone was intact before and damaged right after ` +
      `${
        opLabel(rec)
      } (op #${orig.id} in the original run), whose declared extent stays inside the buffer: ` +
      `it writes more than it declares`,
  );
  return true;
}

/** A use after free: the free that released the memory (op, step, layer), from the journal, in the cause and detail. */
function nameTheFree(rc: RootCause, records: readonly OpRecord[]): void {
  const f = rc.findings.find((x) => x.rail === "use_after_free" && typeof x.freed_at === "number");
  const free = f
    ? records.find((r) => r.id === f.freed_at && (r.kind === "free" || r.kind === "host_free"))
    : undefined;
  if (!free || rc.cause) return;
  rc.cause = {
    op: free.id,
    kind: free.kind,
    name: free.name,
    step: free.step ?? null,
    layer: free.layer ?? null,
    label: free.op ?? null,
  };
  const where = [
    free.step !== undefined ? `step ${free.step}` : "",
    free.layer !== undefined ? `layer ${free.layer}` : "",
    free.op ?? "",
  ]
    .filter(Boolean).join(", ");
  rc.detail = `${rc.detail} (${free.kind} ${free.name}${where ? `, ${where}` : ""})`;
}

/** A refused call: the rule it broke and the earlier op that made it wrong, from the journal. */
function nameUsageCause(f: Finding, original: TrialEvidence, res: Attribution): void {
  const rc = res.rootCause!;
  res.method = "usage-error";
  res.evidence.push(
    `the runtime refused ${opLabel(findingRecord(f))} before it reached the device: ${f.detail}`,
  );
  const c = usageCause(f, original.records);
  rc.cause = c === null ? null : {
    op: c.id,
    kind: c.kind,
    name: c.name,
    step: c.step ?? null,
    layer: c.layer ?? null,
    label: c.op ?? null,
  };
  if (c === null) {
    res.evidence.push("no earlier op in the journal released what it was refused for");
    return;
  }
  const what = c.kind === "free" || c.kind === "host_free"
    ? `freed by op ${c.id} (${c.kind} ${c.name}`
    : `destroyed by op ${c.id} (${c.kind} of ${(f.object as { kind: string; name: string }).kind} ${
      (f.object as { name: string }).name
    }`;
  const where = [
    c.step !== undefined ? `step ${c.step}` : "",
    c.layer !== undefined ? `layer ${c.layer}` : "",
    c.op ?? "",
  ]
    .filter(Boolean).join(", ");
  rc.detail = `${rc.detail}; ${what}${where ? `, ${where}` : ""})`;
  res.evidence.push(`the journal: ${what}${where ? `, ${where}` : ""}): that op made the call wrong`);
}

/**
 * The replay with a sync after every launch: the first sync that fails names the launch before it.
 * False when the fault did not come back (it is timing-dependent).
 */
function nameByBlockingReplay(original: TrialEvidence, blocking: TrialEvidence, res: Attribution): boolean {
  const blame = blameInReplay(blocking.records);
  if (blame && blame.blamed) {
    res.reproducedUnderBlocking = true;
    nameBlamedLaunch(original, blocking, blame as { failed: OpRecord; blamed: OpRecord }, res);
    return true;
  }
  if (blame) {
    res.reproducedUnderBlocking = true;
    res.evidence.push(
      `replayed with a sync after every launch: ${opLabel(blame.failed)} failed with no launch before it`,
    );
    const orig = mapOp(blocking.records, blame.failed.id, original.records) ?? blame.failed;
    res.method = "blocking-replay";
    res.rootCause = rootCauseOf(orig, original.findings, blocking.fault);
    return true;
  }
  if (faulted(blocking)) {
    res.reproducedUnderBlocking = true;
    res.evidence.push(
      `the replay with a sync after every launch ended ${blocking.outcome?.status ?? "in a fault"}`,
    );
    return true;
  }
  return false;
}

/** The launch the replay blamed, mapped back to the original trial, with its findings and the replay's witness. */
function nameBlamedLaunch(
  original: TrialEvidence,
  blocking: TrialEvidence,
  blame: { failed: OpRecord; blamed: OpRecord },
  res: Attribution,
): void {
  const orig = mapOp(blocking.records, blame.blamed.id, original.records) ?? blame.blamed;
  res.method = "blocking-replay";
  res.rootCause = rootCauseOf(orig, original.findings, blocking.fault ?? original.fault, blame.blamed.id);
  // guard findings of the replay (same checks, replay op ids) for the same op
  if (res.rootCause.findings.length === 0 && blocking.findings.some((f) => f.op === blame.blamed.id)) {
    res.rootCause = rootCauseOf(blame.blamed, blocking.findings, blocking.fault, blame.blamed.id);
    res.rootCause.op = orig.id;
  }
  res.evidence.push(
    blame.blamed === blame.failed && blame.failed.kind !== "launch"
      ? `replayed with a sync after every launch: every launch before it completed cleanly, and ` +
        `${opLabel(blame.failed)} failed by itself (op #${orig.id} in the original run)`
      : blame.blamed === blame.failed
      ? `replayed with a sync after every launch: ${opLabel(blame.failed)} failed at launch ` +
        `(op #${orig.id} in the original run)`
      : `replayed with a sync after every launch: ${opLabel(blame.failed)} failed right after ` +
        `${opLabel(blame.blamed)}, so that launch faulted (op #${orig.id} in the original run)`,
  );
  const bw = opOfFaultInfo(blocking.records, blocking.fault);
  if (blocking.fault && blocking.fault.status) {
    res.witness = {
      fault: blocking.fault,
      op: bw ? (mapOp(blocking.records, bw.id, original.records)?.id ?? bw.id) : null,
      agrees: bw ? bw.id === blame.blamed.id : null,
    };
  }
}

/** The backend's fault info as a second witness (or the only one, when nothing else named an op). */
function settleWitness(original: TrialEvidence, res: Attribution): void {
  const w = res.witness;
  if (w && w.agrees === null && res.rootCause && w.op !== null) w.agrees = w.op === res.rootCause.op;
  const witnessOp = opOfFaultInfo(original.records, original.fault);
  if (!res.rootCause && witnessOp) {
    res.method = "fault-info";
    res.rootCause = rootCauseOf(witnessOp, original.findings, original.fault);
    res.evidence.push(`the backend's fault info names ${opLabel(witnessOp)}`);
  }
  if (!w) return;
  const f = w.fault;
  const whose = w.fault === original.fault ? "" : " of the replay";
  const addr = f.address ? ` at 0x${f.address.toString(16)}` : "";
  const agree = w.agrees === true
    ? " (agrees with the replay)"
    : w.agrees === false
    ? " (DISAGREES with the replay)"
    : "";
  res.evidence.push(
    `backend fault info: ${f.op ?? "?"} ${f.access ?? ""} fault${addr}, op #${f.tag ?? "?"}${whose}${agree}`,
  );
}

/**
 * The cut points of one bisection round over [lo, hi): `k` of them (at most hi - lo - 1), spread evenly,
 * each strictly inside (one cut is the classic midpoint).
 */
export function bisectCuts(lo: number, hi: number, k: number): number[] {
  const n = Math.max(1, Math.min(k, hi - lo - 1));
  const cuts: number[] = [];
  for (let j = 1; j <= n; j++) {
    cuts.push(lo + Math.floor((j * (hi - lo)) / (n + 1))); // n < hi - lo: distinct, inside (lo, hi)
  }
  return cuts;
}

/**
 * Bisection over sync points: a replay with syncs after the launches [lo, c) only makes the fault disappear
 * when the sync that matters is in [lo, c). Each round replays `width` cut points side by side (one per
 * device): the first cut where the fault disappeared bounds it from above, the cut before it from below.
 * Assumes one critical sync point; bounded by maxReplays (the blocking replay included).
 */
async function bisect(
  original: TrialEvidence,
  surfaced: OpRecord,
  replay: ReplayFn,
  res: Attribution,
  o: { maxReplays: number; width: number },
): Promise<void> {
  const launches = launchOrdinals(original.records, surfaced.id);
  if (launches.length === 0) return;
  let lo = 0;
  let hi = launches.length;
  while (hi - lo > 1 && res.replays < o.maxReplays) {
    const cuts = bisectCuts(lo, hi, Math.min(o.width, o.maxReplays - res.replays));
    const from = lo;
    const gone = await Promise.all(cuts.map(async (c) => {
      const e = await replay({
        mode: "audit",
        syncAfter: launches.slice(from, c).map((l) => l.ordinal),
        purpose: "bisect",
      });
      return !faulted(e);
    }));
    res.replays += cuts.length;
    cuts.forEach((c, j) =>
      res.evidence.push(
        `bisect: syncs after launches ${from}..${c - 1}: the fault ${gone[j] ? "disappeared" : "came back"}`,
      )
    );
    const j = gone.indexOf(true);
    if (j < 0) lo = cuts[cuts.length - 1];
    else [lo, hi] = [j > 0 ? cuts[j - 1] : lo, cuts[j]];
  }
  if (hi - lo === 1) {
    const r = launches[lo].record;
    res.method = "bisect";
    res.criticalSync = { op: r.id, label: opLabel(r) };
    res.evidence.push(
      `a sync after ${opLabel(r)} is enough to make the fault disappear: an op after it uses its memory ` +
        `before it has finished (a missing sync or event)`,
    );
    res.rootCause = rootCauseOf(r, original.findings, original.fault);
    if (!res.rootCause.invariant) res.rootCause.invariant = "completes before its results are used";
  } else {
    res.evidence.push(
      `bisect stopped after ${res.replays} replays with ${hi - lo} candidate sync points left`,
    );
  }
}
