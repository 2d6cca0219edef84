/**
 * The sync policy of a trace: which launches the interposer follows with a
 * synchronization of their stream, written as the table hip/trace/trace_policy.h
 * describes (a 512-byte file the traced program maps and reads at every
 * launch). Changing it while the program runs takes effect at its next launch.
 *
 *   none            no syncs (the default: the program runs as it would)
 *   launch          a sync after every launch (what attribution replays with)
 *   kernel:<glob>   after launches of kernels matching the glob ("rope*", "*gemm*")
 *   window:<a>-<b>  after launches a..b (ordinals from 0; "window:40-" has no end)
 * Specs combine with "+": "kernel:rope*+window:100-200".
 */

export interface TracePolicy {
  /** Synchronize after each selected launch. */
  sync: boolean;
  /** A glob (fnmatch) the kernel name must match; absent: every kernel. */
  kernels?: string;
  /** First selected launch ordinal (default 0). */
  from?: number;
  /** Last selected launch ordinal, inclusive (absent: no end). */
  to?: number;
  /** Record the host backtrace of a launch whose sync fails. */
  backtrace?: boolean;
}

export const NO_SYNC: TracePolicy = { sync: false };
/** What the replay runs with: the first launch whose sync fails is the one that faulted. */
export const SYNC_EVERY_LAUNCH: TracePolicy = { sync: true, backtrace: true };

export const POLICY_MAGIC = 0x50534c46; // "FLSP"
export const POLICY_VERSION = 1;
export const POLICY_BYTES = 512;
const PATTERN_AT = 64, PATTERN_BYTES = 256;

export class PolicyError extends Error {
  override name = "PolicyError";
}

/** Parses a policy spec (see the file comment). */
export function parsePolicySpec(spec: string): TracePolicy {
  const s = spec.trim();
  if (s === "none") return { ...NO_SYNC };
  if (s === "launch") return { ...SYNC_EVERY_LAUNCH };
  const p: TracePolicy = { sync: true, backtrace: true };
  for (const part of s.split("+")) {
    const m = /^(kernel|window):(.*)$/.exec(part.trim());
    if (!m) {
      throw new PolicyError(
        `bad sync policy ${JSON.stringify(spec)} (none, launch, kernel:<glob>, window:<a>-<b>)`,
      );
    }
    if (m[1] === "kernel") {
      if (m[2] === "") throw new PolicyError(`kernel: needs a glob, e.g. kernel:rope*`);
      p.kernels = m[2];
      continue;
    }
    const w = /^(\d+)-(\d*)$/.exec(m[2]);
    if (!w) throw new PolicyError(`bad window ${JSON.stringify(m[2])} (e.g. window:40-60, window:40-)`);
    p.from = Number(w[1]);
    if (w[2] !== "") p.to = Number(w[2]);
    if (p.to !== undefined && p.to < p.from) throw new PolicyError(`window ${m[2]} ends before it starts`);
  }
  return p;
}

/** Checks a policy a script handed over; returns it or throws PolicyError. */
export function checkPolicy(p: unknown): TracePolicy {
  if (typeof p === "string") return parsePolicySpec(p);
  const o = p as TracePolicy;
  if (!o || typeof o !== "object" || typeof o.sync !== "boolean") {
    throw new PolicyError("a policy is a spec string or {sync: boolean, kernels?, from?, to?, backtrace?}");
  }
  const intOk = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
  if (!intOk(o.from) || !intOk(o.to)) {
    throw new PolicyError("policy from/to are launch ordinals (integers >= 0)");
  }
  if (o.kernels !== undefined && typeof o.kernels !== "string") {
    throw new PolicyError("policy kernels is a glob");
  }
  if (o.kernels !== undefined && new TextEncoder().encode(o.kernels).length >= PATTERN_BYTES) {
    throw new PolicyError(`policy kernels glob is longer than ${PATTERN_BYTES - 1} bytes`);
  }
  return o;
}

/** The table's bytes (generation 0). */
export function encodePolicy(p: TracePolicy, generation = 0): Uint8Array {
  const buf = new Uint8Array(POLICY_BYTES);
  const v = new DataView(buf.buffer);
  v.setUint32(0, POLICY_MAGIC, true);
  v.setUint32(4, POLICY_VERSION, true);
  v.setUint32(8, generation, true);
  v.setUint32(12, p.sync ? 1 : 0, true);
  v.setBigInt64(16, BigInt(p.from ?? 0), true);
  v.setBigInt64(24, BigInt(p.to ?? -1), true);
  v.setUint32(32, p.backtrace ? 1 : 0, true);
  const pattern = new TextEncoder().encode(p.kernels ?? "");
  buf.set(pattern.subarray(0, PATTERN_BYTES - 1), PATTERN_AT);
  return buf;
}

/** One line describing a policy, for reports. */
export function describePolicy(p: TracePolicy): string {
  if (!p.sync) return "no syncs";
  const what = p.kernels ? `launches of kernels matching ${p.kernels}` : "every launch";
  const window = p.from !== undefined || p.to !== undefined ? ` ${p.from ?? 0}..${p.to ?? "end"}` : "";
  return `a sync after ${what}${window}`;
}

/**
 * The policy file a traced program maps. It is rewritten in place, never
 * truncated (a mapped file cut short would fault in the reader), with the
 * generation odd while the fields change.
 */
export class PolicyTable {
  readonly path: string;
  #generation = 0;
  #policy: TracePolicy;

  constructor(path: string, initial: TracePolicy) {
    this.path = path;
    this.#policy = checkPolicy(initial);
    Deno.writeFileSync(path, encodePolicy(this.#policy, 0));
  }

  get policy(): TracePolicy {
    return this.#policy;
  }

  /** Changes the policy; the program's next launch reads the new one. */
  set(p: TracePolicy | string): void {
    const next = checkPolicy(p);
    const f = Deno.openSync(this.path, { write: true });
    try {
      const gen = new Uint8Array(4);
      new DataView(gen.buffer).setUint32(0, ++this.#generation, true); // odd: being written
      this.#writeAt(f, 8, gen);
      this.#writeAt(f, 12, encodePolicy(next).subarray(12));
      new DataView(gen.buffer).setUint32(0, ++this.#generation, true);
      this.#writeAt(f, 8, gen);
    } finally {
      f.close();
    }
    this.#policy = next;
  }

  #writeAt(f: Deno.FsFile, offset: number, bytes: Uint8Array): void {
    f.seekSync(offset, Deno.SeekMode.Start);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
  }
}
