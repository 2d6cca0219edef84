/**
 * A session's findings in the order of the ops they were found at. A finding
 * read later than it was made (the audit worker's, a pipelined redzone
 * check's) goes where the inline check would have put it.
 */
import type { Finding } from "../../records.ts";

export class FindingLog {
  /** Every finding, in op order (for the same op: in the order recorded). */
  readonly list: Finding[] = [];
  /** The op during which each finding of `list` was recorded. */
  #at: number[] = [];
  #verbose: boolean;

  constructor(verbose: boolean) {
    this.#verbose = verbose;
  }

  /** Records `fs` as found during op `at`: after every finding of ops up to `at`, before later ones. */
  add(fs: readonly Finding[], at: number): void {
    let k = this.list.length;
    while (k > 0 && this.#at[k - 1] > at) k--;
    for (const f of fs) {
      this.list.splice(k, 0, f);
      this.#at.splice(k, 0, at);
      k++;
      if (this.#verbose) {
        console.error(`faultline: [${f.rail}] op ${f.op} ${f.kind} ${f.name}: ${f.invariant}: ${f.detail}`);
      }
    }
  }
}
