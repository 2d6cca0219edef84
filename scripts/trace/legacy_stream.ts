/**
 * The legacy default stream's ordering, for the race check of a traced
 * program: work on stream 0 starts after all earlier work on every blocking
 * stream (one created without CU_STREAM_NON_BLOCKING / hipStreamNonBlocking),
 * and work on a blocking stream starts after all earlier work on stream 0.
 * The race check (ffi/races.ts) treats every stream as non-blocking; these
 * edges are handed to it as event records and waits no program made, so a
 * program that relies on the legacy stream is not reported racing.
 */
import type { NativeCall } from "../../ffi/boundary.ts";

const NON_BLOCKING = 1;
/** Event handles no driver hands out: the edges' own (negative, per stream). */
const edgeEvent = (stream: number) => -1 - stream;

export class LegacyStream {
  #blocking = new Set<number>();

  /** Notes a stream's creation (its flags decide whether stream 0 orders it). */
  created(call: NativeCall, status: number, result: number | undefined): void {
    if (call.kind !== "stream_create" || status !== 0 || result === undefined) return;
    if (((call.scalars.flags ?? 0) & NON_BLOCKING) === 0) this.#blocking.add(result);
  }

  destroyed(call: NativeCall): void {
    if (call.kind === "stream_destroy") this.#blocking.delete(call.stream);
  }

  /** The edges to apply before `call` is checked: stream 0 waits for every blocking stream. */
  before(call: NativeCall): NativeCall[] {
    if (call.stream !== 0 || this.#blocking.size === 0 || !enqueues(call)) return [];
    return [...this.#blocking].flatMap((s) => edge(call, s, 0));
  }

  /** The edges to apply after `call` ran: every blocking stream waits for stream 0. */
  after(call: NativeCall): NativeCall[] {
    if (call.stream !== 0 || this.#blocking.size === 0 || !enqueues(call)) return [];
    return [...this.#blocking].flatMap((s) => edge(call, 0, s));
  }
}

const enqueues = (c: NativeCall) =>
  c.kind === "launch" || c.kind === "h2d" || c.kind === "d2h" || c.kind === "d2d" || c.kind === "memset" ||
  c.kind === "event_record" || c.kind === "event_wait";

/** `to` waits for what `from` has enqueued so far. */
function edge(c: NativeCall, from: number, to: number): NativeCall[] {
  const base = { id: c.id, name: "legacy stream", device: c.device, scalars: {}, pointers: [], context: {} };
  const event = edgeEvent(from);
  return [
    { ...base, kind: "event_record", stream: from, event },
    { ...base, kind: "event_wait", stream: to, event },
  ];
}
