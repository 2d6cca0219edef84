/**
 * Usage errors as findings: a call the runtime refused in TypeScript before it
 * reached the library (FaultlineUsageError) becomes a finding of rail "usage"
 * on the refused call (its kind and name as the journal would have written
 * them, its step, layer and op name, the object it was refused for and the
 * rule in words), and the journal names the earlier op that made it wrong
 * (the first free of the buffer, the destroy of the stream or event).
 */
import type { OpContext } from "../../mod.ts";
import type { Finding, OpRecord } from "../../records.ts";

/** What a usage error is about, read from its message. */
export interface UsageObject {
  kind: "buffer" | "pinned" | "stream" | "event" | "value";
  /** The buffer's name, or the stream's or event's handle. */
  name: string;
}

export const RULES: Readonly<Record<UsageObject["kind"], string>> = {
  buffer: "a buffer is used only while it is allocated, and freed once",
  pinned: "a pinned buffer is used only while it is allocated, and freed once",
  stream: "a stream is used only until it is destroyed",
  event: "an event is used only until it is destroyed",
  value: "arguments are valid (sizes, ranges, objects of the call's device)",
};

/** "free x", "launch rope", "stream waitEvent"...: the refused call's kind and name, as the journal names calls. */
function callOf(what: string, object: UsageObject): { kind: string; name: string } {
  if (what === "free") return { kind: object.kind === "pinned" ? "host_free" : "free", name: object.name };
  const verbs: [RegExp, string][] = [
    [/^free (.+)$/, "free"],
    [/^upload to (.+)$/, "h2d"],
    [/^download from (.+)$/, "d2h"],
    [/^copy .+ to (.+)$/, "d2d"],
    [/^peer copy .+ to (.+)$/, "p2p"],
    [/^fill (.+)$/, "memset"],
    [/^launch (\S+)$/, "launch"],
  ];
  for (const [re, kind] of verbs) {
    const m = re.exec(what);
    if (m) return { kind, name: m[1] };
  }
  const named: Record<string, [string, string]> = {
    "stream waitEvent": ["event_wait", "stream_wait_event"],
    "stream synchronize": ["sync", "stream_synchronize"],
    "stream query": ["query", "stream_query"],
    "stream destroy": ["stream_destroy", "stream_destroy"],
    "event record": ["event_record", "event_record"],
    "event synchronize": ["sync", "event_synchronize"],
    "event query": ["query", "event_query"],
    "event elapsedMs": ["query", "event_elapsed_ms"],
    "event destroy": ["event_destroy", "event_destroy"],
  };
  const n = named[what];
  return n ? { kind: n[0], name: n[1] } : { kind: "call", name: what };
}

const RELEASED =
  /^(?<what>.+?): (?:argument (?<arg>\w+): )?(?<obj>device buffer|pinned buffer|stream|event) (?<name>"(?:[^"\\]|\\.)*"|\S+)(?: \(.*\))? was already (?:freed|destroyed)$/;

/** The refused call, the object and the argument a usage error's message names. */
export function parseUsage(message: string): { what: string; arg: string | null; object: UsageObject } {
  const m = RELEASED.exec(message);
  if (!m?.groups) {
    const what = message.split(":")[0];
    return { what, arg: null, object: { kind: "value", name: "" } };
  }
  const g = m.groups;
  const kind = g.obj === "device buffer" ? "buffer" : g.obj === "pinned buffer" ? "pinned" : g.obj;
  // buffer names are quoted as JSON strings in messages
  const name = g.name.startsWith('"') ? JSON.parse(g.name) as string : g.name;
  return { what: g.what, arg: g.arg ?? null, object: { kind: kind as UsageObject["kind"], name } };
}

/** The argument at fault: a launch's argument, the stream or event, else the buffer by name. */
function argumentOf(u: ReturnType<typeof parseUsage>): string | undefined {
  if (u.arg !== null) return u.arg;
  if (u.object.kind === "stream" || u.object.kind === "event") return u.object.kind;
  return u.object.name || undefined;
}

/** The finding for a refused call; `op` is the id the call would have had. */
export function usageFinding(message: string, context: OpContext, op: number): Finding {
  const u = parseUsage(message);
  const call = callOf(u.what, u.object);
  const f: Finding = {
    rail: "usage",
    op,
    kind: call.kind,
    name: call.name,
    argument: argumentOf(u),
    invariant: RULES[u.object.kind],
    detail: message,
    severity: "error",
    object: u.object,
  };
  if (context.step !== undefined) f.step = context.step;
  if (context.layer !== undefined) f.layer = context.layer;
  if (context.op !== undefined) f.label = context.op;
  return f;
}

/** The earlier op that released what a usage finding is about: the first free of the buffer, the destroy. */
export function usageCause(f: Finding, records: readonly OpRecord[]): OpRecord | null {
  const o = f.object as UsageObject | undefined;
  if (!o) return null;
  const before = records.filter((r) => r.id < f.op);
  switch (o.kind) {
    case "buffer":
      return before.findLast((r) => r.kind === "free" && r.name === o.name) ?? null;
    case "pinned":
      return before.findLast((r) => r.kind === "host_free" && r.name === o.name) ?? null;
    case "stream":
      return before.find((r) => r.kind === "stream_destroy" && r.stream === Number(o.name)) ?? null;
    case "event":
      return before.find((r) => r.kind === "event_destroy" && r.event === Number(o.name)) ?? null;
  }
  return null;
}
