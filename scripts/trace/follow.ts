/**
 * Follows every journal a traced run writes (one per process, in one folder:
 * journal.bin for the first process to journal, journal-<pid>.bin for the
 * others) while the program runs, and runs the guard rails on each.
 */
import type { NativeCall } from "../../ffi/boundary.ts";
import { JournalFileFollower } from "../../ffi/journal_file_follow.ts";
import { type ProcessCheck, processCheck } from "./check.ts";

const JOURNAL_NAME = /^journal(-\d+)*\.bin$/;

export interface FollowedJournal {
  /** The ring file. */
  path: string;
  follower: JournalFileFollower;
  check: ProcessCheck;
}

export class TraceWatch {
  readonly dir: string;
  readonly journals = new Map<string, FollowedJournal>();
  #watch?: (call: NativeCall, journal: string) => void;

  /** `watch` sees every call of every process (a policy script's onCall). */
  constructor(dir: string, watch?: (call: NativeCall, journal: string) => void) {
    this.dir = dir;
    this.#watch = watch;
  }

  /** Picks up new journals and hands every record on disk to the rails; returns the events read. */
  poll(): number {
    this.#discover();
    let n = 0;
    for (const j of this.journals.values()) n += j.follower.poll(j.check);
    return n;
  }

  /** Polls until nothing new is on disk (after the program ended). */
  drain(): void {
    for (let k = 0; k < 10_000 && this.poll() > 0; k++) { /* more */ }
  }

  #discover(): void {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isFile || !JOURNAL_NAME.test(e.name)) continue;
      const path = `${this.dir}/${e.name}`;
      if (this.journals.has(path)) continue;
      const watch = this.#watch;
      this.journals.set(path, {
        path,
        follower: new JournalFileFollower(path),
        check: processCheck(watch ? (call) => watch(call, path) : undefined),
      });
    }
  }

  close(): void {
    for (const j of this.journals.values()) j.follower.close();
  }
}
