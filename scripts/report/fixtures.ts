/**
 * Hand-built journals and findings in the shape the runtime writes them, for
 * the report, attribution and hypothesis tests and for previewing the
 * writers without a device: a decode step where the RoPE Q launch of layer 0
 * gets a pointer past the end of its buffer and the fault surfaces at the
 * logits copy.
 */

import { normalizeJournal } from "../forensics/journal_read.ts";
import type { FaultInfo, Finding, OpRecord } from "../../records.ts";

const BASE = 0x7f0000000000;
const Q = BASE + 0x100000;
const K = BASE + 0x200000;
const X = BASE;
const LOGITS = BASE + 0x300000;
const BAD_Q = Q + 0x10000000;

function ptr(
  arg: string,
  p: number,
  bytes: number,
  access: string,
  alloc: number | null,
  name?: string,
  offset?: number,
  size?: number,
) {
  return alloc === null
    ? { arg, ptr: p, bytes, access, elem: 4, alloc: null }
    : { arg, ptr: p, bytes, access, elem: 4, alloc, name, offset, size, state: "live", placement: "inside" };
}

/** The raw records of a faulting decode step; `syncs` inserts a sync after every launch (a blocking replay). */
export function ropeJournalRaw(
  opts: { syncs?: boolean; faultAt?: "logits" | "sync" } = {},
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let id = 0;
  let t = 0;
  const push = (r: Record<string, unknown>) => {
    id++;
    t += 5;
    out.push({
      id,
      seq: id,
      time: t,
      dur: 3,
      device: 0,
      stream: 0,
      scalars: {},
      pointers: [],
      step: null,
      layer: null,
      op: null,
      status: 0,
      ...r,
    });
  };
  let faulted = false;
  const launch = (
    name: string,
    op: string,
    layer: number,
    pointers: unknown[],
    scalars: Record<string, number>,
    bad = false,
  ) => {
    push({ kind: "launch", name, op, step: 3, layer, pointers, scalars, stream: 0x55 });
    if (bad) faulted = true;
    if (opts.syncs) {
      push({ kind: "sync", name: "stream_synchronize", stream: 0x55, status: faulted ? 700 : 0 });
    }
  };
  push({ kind: "alloc", name: "x", scalars: { bytes: 16384 }, result: X });
  push({ kind: "alloc", name: "q", scalars: { bytes: 16384 }, result: Q });
  push({ kind: "alloc", name: "k", scalars: { bytes: 16384 }, result: K });
  push({ kind: "alloc", name: "logits", scalars: { bytes: 128000 }, result: LOGITS });
  push({ kind: "stream_create", name: "stream", result: 0x55 });
  push({
    kind: "h2d",
    name: "x",
    pointers: [ptr("dst", X, 16384, "w", 1, "x", 0, 16384)],
    scalars: { bytes: 16384 },
    host: 0x5000,
  });
  launch("rmsnorm", "attn_norm", 0, [ptr("x", X, 16384, "rw", 1, "x", 0, 16384)], { n: 4096 });
  launch("matmul", "Q proj", 0, [
    ptr("y", Q, 16384, "w", 2, "q", 0, 16384),
    ptr("x", X, 16384, "r", 1, "x", 0, 16384),
  ], { m: 4096, k: 4096 });
  launch("rope", "RoPE Q", 0, [ptr("x", BAD_Q, 16384, "rw", null)], {
    seq_len: 1,
    num_heads: 32,
    head_dim: 128,
    pos: 3,
  }, true);
  if (!opts.syncs || !faulted) {
    launch("rope", "RoPE K", 0, [ptr("x", K, 16384, "rw", 3, "k", 0, 16384)], {
      seq_len: 1,
      num_heads: 32,
      head_dim: 128,
      pos: 3,
    });
    launch("matmul", "logits", 0, [
      ptr("y", LOGITS, 128000, "w", 4, "logits", 0, 128000),
      ptr("x", X, 16384, "r", 1, "x", 0, 16384),
    ], { m: 32000, k: 4096 });
    push({
      kind: "d2h",
      name: "logits",
      stream: 0x55,
      pointers: [ptr("src", LOGITS, 128000, "r", 4, "logits", 0, 128000)],
      scalars: { bytes: 128000 },
      host: 0x9000,
      status: 700,
    });
  }
  return out;
}

export const ropeJournal = (opts: { syncs?: boolean } = {}): OpRecord[] =>
  normalizeJournal(ropeJournalRaw(opts));

/** The op id of the RoPE Q launch in the original journal. */
export const ROPE_Q_OP = 9;
/** The op id of the logits copy in the original journal. */
export const LOGITS_D2H_OP = 12;

export const ropeFindings: Finding[] = [
  {
    rail: "bounds",
    op: ROPE_Q_OP,
    kind: "launch",
    name: "rope",
    step: 3,
    layer: 0,
    argument: "x",
    allocation: null,
    invariant: "pointer lies inside a live allocation",
    detail: `0x${BAD_Q.toString(16)} is 256 MiB past q (16384 B)`,
    severity: "error",
  },
];

export const ropeFault: FaultInfo = {
  status: 700,
  device: 0,
  address: BAD_Q + 64,
  stream: 0x55,
  tag: ROPE_Q_OP,
  op: "rope",
  access: "write",
};

/** A clean run's journal: the same decode with a good pointer. */
export function cleanJournal(): OpRecord[] {
  return ropeJournal().map((r) => {
    if (r.id === ROPE_Q_OP) {
      return {
        ...r,
        pointers: [{
          arg: "x",
          ptr: Q,
          bytes: 16384,
          access: "rw",
          alloc: 2,
          name: "q",
          offset: 0,
          size: 16384,
          state: "live",
        }],
      };
    }
    return { ...r, status: 0 };
  });
}
