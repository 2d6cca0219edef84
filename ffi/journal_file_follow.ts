/**
 * Follows a journal ring file that another process writes (the trace
 * interposer's, hip/trace/trace_journal.c, or any ffi/journal_native.ts
 * ring): reads the records it has not seen yet with positional reads, and
 * hands intents and outcomes over in the order they happened (the writer's
 * one event count), as ./journal_follow.ts does for a ring viewed in-process.
 *
 * The writer does not wait for this reader. When it laps the reader (writes
 * more than a ring's worth of records between two polls), the records it
 * overwrote are counted as lost and following resumes at the oldest record
 * still there; an outcome that never comes (its record was overwritten, or
 * the process died inside the call) is skipped once a later event is on disk,
 * since the writer commits events in order.
 */
import type { NativeCall } from "./boundary.ts";
import type { FollowHandlers } from "./journal_follow.ts";
import { callOfRecord, SideStrings } from "./journal_follow.ts";
import {
  F_RESULT,
  FLAG_BLOCKED,
  FLAG_RESULT,
  H_CAPACITY,
  H_MAGIC,
  H_RECORD_BYTES,
  HEADER_BYTES,
  JOURNAL_MAGIC,
  R_DONE,
  R_EV_DONE,
  R_EV_INTENT,
  R_FLAGS,
  R_INTENT,
  R_STATUS,
  RECORD_BYTES,
} from "./journal_native.ts";

/** Records read per poll at most (a poll that finds more leaves them for the next one). */
const BATCH = 4096;

export class JournalFileFollower {
  readonly path: string;
  #file: Deno.FsFile | null = null;
  #capacity = 0;
  #buf = new ArrayBuffer(0);
  #i32 = new Int32Array(0);
  #f64 = new Float64Array(0);
  #side: SideStrings;
  #seq = 1;
  #event = 1;
  #open = new Map<number, NativeCall>();
  #lost = 0;

  constructor(path: string) {
    this.path = path;
    this.#side = new SideStrings(`${path}.side`);
  }

  /** Records overwritten before this reader saw them. */
  get lost(): number {
    return this.#lost;
  }

  /** Records whose intent was handed over. */
  get consumedSeq(): number {
    return this.#seq - 1;
  }

  /** Calls whose intent was handed over and whose outcome was not (yet). */
  get openCalls(): number {
    return this.#open.size;
  }

  /** Hands over every event on disk so far, in order; returns how many. */
  poll(h: FollowHandlers): number {
    if (!this.#ready()) return 0;
    let n = 0;
    for (;;) {
      const from = this.#seq;
      const batch = Math.min(BATCH, this.#capacity);
      // the next records first, then the open ones: an outcome committed before a later intent
      // that this read saw is then seen too
      this.#readSlots(from, batch);
      for (const seq of this.#open.keys()) this.#readSlots(seq, 1);
      n += this.#drain(h);
      if (this.#seq - from < batch) return n;
    }
  }

  #ready(): boolean {
    if (this.#capacity > 0) return true;
    try {
      this.#file ??= Deno.openSync(this.path, { read: true });
    } catch {
      return false;
    }
    const head = new Int32Array(HEADER_BYTES / 4);
    if (!this.#readAt(0, new Uint8Array(head.buffer))) return false;
    if (head[H_MAGIC] !== JOURNAL_MAGIC || head[H_RECORD_BYTES] !== RECORD_BYTES) return false;
    this.#capacity = head[H_CAPACITY];
    this.#buf = new ArrayBuffer(HEADER_BYTES + this.#capacity * RECORD_BYTES);
    this.#i32 = new Int32Array(this.#buf);
    this.#f64 = new Float64Array(this.#buf);
    return true;
  }

  #readAt(offset: number, into: Uint8Array): boolean {
    const f = this.#file!;
    f.seekSync(offset, Deno.SeekMode.Start);
    let off = 0;
    while (off < into.length) {
      const r = f.readSync(into.subarray(off));
      if (r === null || r === 0) return false;
      off += r;
    }
    return true;
  }

  /** Copies `count` slots from the one of record `seq` on (wrapping) into the local view. */
  #readSlots(seq: number, count: number): void {
    let slot = (seq - 1) % this.#capacity;
    let left = count;
    while (left > 0) {
      const run = Math.min(left, this.#capacity - slot);
      const at = HEADER_BYTES + slot * RECORD_BYTES;
      this.#readAt(at, new Uint8Array(this.#buf, at, run * RECORD_BYTES));
      left -= run;
      slot = 0;
    }
  }

  #bi(seq: number): number {
    return (HEADER_BYTES + ((seq - 1) % this.#capacity) * RECORD_BYTES) >> 2;
  }

  #drain(h: FollowHandlers): number {
    const i = this.#i32;
    let n = 0;
    for (;;) {
      const e = this.#event;
      const bi = this.#bi(this.#seq);
      const intent = i[bi + R_INTENT];
      if (intent === this.#seq && i[bi + R_EV_INTENT] === e) {
        const call = callOfRecord(i, this.#f64, bi, (id) => this.#side.get(id));
        this.#open.set(this.#seq, call);
        this.#seq++;
        this.#event++;
        n++;
        h.intent(call);
        continue;
      }
      if (this.#outcome(h, e)) {
        n++;
        continue;
      }
      if (intent === this.#seq && i[bi + R_EV_INTENT] > e) {
        // event e belongs to a record this reader will never see complete: skip it
        this.#dropOverwritten();
        this.#event = i[bi + R_EV_INTENT];
        continue;
      }
      if (intent > this.#seq && (intent - 1) % this.#capacity === (this.#seq - 1) % this.#capacity) {
        this.#resync();
        continue;
      }
      return n;
    }
  }

  /** Hands over the outcome with event number `e`, if an open call has it. */
  #outcome(h: FollowHandlers, e: number): boolean {
    const i = this.#i32;
    for (const [seq, call] of this.#open) {
      const b = this.#bi(seq);
      if (i[b + R_DONE] !== seq || i[b + R_EV_DONE] !== e) continue;
      this.#open.delete(seq);
      this.#event++;
      const flags = i[b + R_FLAGS];
      const result = (flags & FLAG_RESULT) !== 0 ? this.#f64[(b >> 1) + F_RESULT] : undefined;
      h.done(call, i[b + R_STATUS], result, (flags & FLAG_BLOCKED) !== 0);
      return true;
    }
    return false;
  }

  /** Forgets open calls whose slots now hold newer records (their outcomes are gone). */
  #dropOverwritten(): void {
    for (const seq of [...this.#open.keys()]) {
      if (this.#i32[this.#bi(seq) + R_INTENT] !== seq) this.#open.delete(seq);
    }
  }

  /** The writer lapped this reader: resume at the oldest whole record in the ring. */
  #resync(): void {
    this.#readSlots(1, this.#capacity);
    const i = this.#i32;
    let oldest = Infinity;
    for (let slot = 0; slot < this.#capacity; slot++) {
      const seq = i[(HEADER_BYTES + slot * RECORD_BYTES) >> 2];
      if (seq >= this.#seq && seq < oldest) oldest = seq;
    }
    if (!Number.isFinite(oldest)) return;
    this.#lost += oldest - this.#seq;
    this.#seq = oldest;
    this.#event = i[this.#bi(oldest) + R_EV_INTENT];
    this.#dropOverwritten();
  }

  close(): void {
    this.#side.close();
    try {
      this.#file?.close();
    } catch { /* closed */ }
    this.#file = null;
  }
}
