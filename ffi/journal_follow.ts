/**
 * Follows a journal ring while it is being written (ffi/journal_native.ts),
 * from another thread of the same process: a worker views the ring at its
 * address and reads each record once it is committed, rebuilding the
 * NativeCall the writer was shown, and hands the intents and outcomes over in
 * the order they happened (each carries its number in the writer's one event
 * count: a nonblocking call's outcome comes after the intents of the calls
 * made while it waited). Strings are read from the side file as new ids
 * appear.
 *
 * The writer must not lap the follower: it keeps at most capacity records
 * ahead of `consumedSeq` (the audit session waits for the follower first).
 */
import type { NativeCall, OpContext, PointerArg } from "./boundary.ts";
import {
  ACCESS_CODES,
  F_EVENT,
  F_HOST,
  F_ID,
  F_ORDINAL,
  F_PTR,
  F_RESULT,
  F_SCALAR,
  F_STREAM,
  FLAG_BLOCKED,
  FLAG_EVENT,
  FLAG_GEOMETRY,
  FLAG_HOST,
  FLAG_ORDINAL,
  FLAG_RESULT,
  HEADER_BYTES,
  KINDS,
  NONE,
  R_DEVICE,
  R_DONE,
  R_EV_DONE,
  R_EV_INTENT,
  R_FLAGS,
  R_GEOMETRY,
  R_INTENT,
  R_KIND,
  R_LAYER,
  R_NAME,
  R_NPTR,
  R_NSCALAR,
  R_OP,
  R_PTR_META,
  R_SCALAR_NAME,
  R_STATUS,
  R_STEP,
  readGeometry,
  RECORD_BYTES,
} from "./journal_native.ts";
import type { OpKind } from "../records.ts";

/** What a JournalFollower hands each call's intent and outcome to, in the order they happened. */
export interface FollowHandlers {
  /** A call's intent (before the native call ran). */
  intent(call: NativeCall): void;
  /** Its outcome: status, result, and whether a guard rail blocked it (then it never ran). */
  done(call: NativeCall, status: number, result: number | undefined, blocked: boolean): void;
}

/** Reads the side file's strings as they are appended. */
export class SideStrings {
  #path: string;
  #file: Deno.FsFile | null = null;
  #strings: string[] = [""];
  #rest = "";
  #buf = new Uint8Array(1 << 16);
  #dec = new TextDecoder();

  constructor(path: string) {
    this.#path = path;
  }

  get(id: number): string {
    if (id < this.#strings.length && this.#strings[id] !== undefined) return this.#strings[id];
    this.#read();
    return this.#strings[id] ?? `#${id}`;
  }

  #read(): void {
    if (this.#file === null) {
      try {
        this.#file = Deno.openSync(this.#path, { read: true });
      } catch {
        return;
      }
    }
    for (;;) {
      const n = this.#file.readSync(this.#buf);
      if (n === null || n === 0) break;
      this.#rest += this.#dec.decode(this.#buf.subarray(0, n), { stream: true });
    }
    const lines = this.#rest.split("\n");
    this.#rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") continue;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof e.s === "number") this.#strings[e.s] = String(e.v);
    }
  }

  close(): void {
    try {
      this.#file?.close();
    } catch { /* closed */ }
    this.#file = null;
  }
}

/** Reads a journal ring while it is written (from a worker of the same process), record by record. */
export class JournalFollower {
  /** Slots in the ring. */
  readonly capacity: number;
  #i32: Int32Array;
  #f64: Float64Array;
  #side: SideStrings;
  /** Next record whose intent is to be read. */
  #seq = 1;
  /** Next event number to hand over. */
  #event = 1;
  // calls whose intent was handed over and whose outcome was not: seq and call
  #openSeq: number[] = [];
  #openCall: NativeCall[] = [];

  /** Views the ring at `address` (`capacity` slots) and its side file at `sidePath`. */
  constructor(address: bigint, capacity: number, sidePath: string) {
    this.capacity = capacity;
    const bytes = HEADER_BYTES + capacity * RECORD_BYTES;
    const ptr = Deno.UnsafePointer.create(address);
    if (ptr === null) throw new Error("journal follower: null ring address");
    const buf = Deno.UnsafePointerView.getArrayBuffer(ptr, bytes);
    this.#i32 = new Int32Array(buf);
    this.#f64 = new Float64Array(buf);
    this.#side = new SideStrings(sidePath);
  }

  /** Events handed over so far. */
  get consumedEvents(): number {
    return this.#event - 1;
  }

  /** Records whose intent was handed over. */
  get consumedSeq(): number {
    return this.#seq - 1;
  }

  /** Hands over every event committed so far, in order; returns how many. */
  poll(h: FollowHandlers): number {
    const i = this.#i32;
    let n = 0;
    for (;;) {
      const e = this.#event;
      // the next record's intent?
      const seq = this.#seq;
      const bi = (HEADER_BYTES + ((seq - 1) % this.capacity) * RECORD_BYTES) >> 2;
      if (i[bi + R_INTENT] === seq && i[bi + R_EV_INTENT] === e) {
        const call = this.#call(bi);
        this.#openSeq.push(seq);
        this.#openCall.push(call);
        this.#seq = seq + 1;
        this.#event = e + 1;
        n++;
        h.intent(call);
        continue;
      }
      // an open call's outcome? (almost always the newest)
      let found = -1;
      const os = this.#openSeq;
      for (let k = os.length - 1; k >= 0; k--) {
        const s = os[k];
        const b = (HEADER_BYTES + ((s - 1) % this.capacity) * RECORD_BYTES) >> 2;
        if (i[b + R_DONE] === s && i[b + R_EV_DONE] === e) {
          found = k;
          break;
        }
      }
      if (found < 0) return n;
      const s = os[found];
      const call = this.#openCall[found];
      os.splice(found, 1);
      this.#openCall.splice(found, 1);
      const b = (HEADER_BYTES + ((s - 1) % this.capacity) * RECORD_BYTES) >> 2;
      const flags = i[b + R_FLAGS];
      const status = i[b + R_STATUS];
      const result = (flags & FLAG_RESULT) !== 0 ? this.#f64[(b >> 1) + F_RESULT] : undefined;
      this.#event = e + 1;
      n++;
      h.done(call, status, result, (flags & FLAG_BLOCKED) !== 0);
    }
  }

  #call(bi: number): NativeCall {
    return callOfRecord(this.#i32, this.#f64, bi, (id) => this.#side.get(id));
  }

  /** Stops reading: the views are dropped and the side file is closed. */
  close(): void {
    this.#side.close();
    this.#i32 = new Int32Array(0);
    this.#f64 = new Float64Array(0);
  }
}

/**
 * The NativeCall of the record at Int32 index `bi` of a ring view (`str` reads the side
 * file's strings): what the writer was shown.
 */
export function callOfRecord(
  i: Int32Array,
  f: Float64Array,
  bi: number,
  str: (id: number) => string,
): NativeCall {
  const bf = bi >> 1;
  const np = i[bi + R_NPTR], ns = i[bi + R_NSCALAR];
  const pointers: PointerArg[] = [];
  for (let k = 0; k < np; k++) {
    const meta = i[bi + R_PTR_META + 2 * k + 1];
    pointers.push({
      arg: str(i[bi + R_PTR_META + 2 * k]),
      ptr: f[bf + F_PTR + 2 * k],
      bytes: f[bf + F_PTR + 2 * k + 1],
      access: ACCESS_CODES[meta & 3] ?? "rw",
      elem: meta >> 2,
    });
  }
  const scalars: Record<string, number> = {};
  for (let k = 0; k < ns; k++) scalars[str(i[bi + R_SCALAR_NAME + k])] = f[bf + F_SCALAR + k];
  const context: OpContext = {};
  const step = i[bi + R_STEP], layer = i[bi + R_LAYER], op = i[bi + R_OP];
  if (step !== NONE) context.step = step;
  if (layer !== NONE) context.layer = layer;
  if (op !== 0) context.op = str(op);
  const flags = i[bi + R_FLAGS];
  const call: NativeCall = {
    id: f[bf + F_ID],
    kind: (KINDS[i[bi + R_KIND]] ?? "launch") as OpKind,
    name: str(i[bi + R_NAME]),
    device: i[bi + R_DEVICE],
    stream: f[bf + F_STREAM],
    scalars,
    pointers,
    context,
  };
  if (flags & FLAG_HOST) call.host = f[bf + F_HOST];
  if (flags & FLAG_EVENT) call.event = f[bf + F_EVENT];
  if (flags & FLAG_GEOMETRY) call.geometry = readGeometry(i, bi + R_GEOMETRY);
  if (flags & FLAG_ORDINAL) call.ordinal = f[bf + F_ORDINAL];
  return call;
}
