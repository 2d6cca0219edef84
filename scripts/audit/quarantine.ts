/**
 * The quarantine of freed device memory in audit mode. cudaMalloc and
 * hipMalloc hand a freed address to the next allocation of a fitting size,
 * so a stale pointer lands in a live buffer and nothing can tell; while a
 * session holds a free here, the memory stays allocated and its range is
 * not reused: the registry knows it as freed (the use-after-free rail names
 * the free and the use) until the quarantine releases it, oldest first, once
 * more than `bytes` or `count` frees are held, or when the session closes.
 *
 * The sim backend's allocator is its own quarantine (a freed range is
 * unmapped, so a use faults, and is not reused until the device's range
 * wraps): there frees are not held unless asked (`onSim`).
 */
import type { FreeHold, NativeCall } from "../../mod.ts";

/** Limits of the quarantine of freed device memory. */
export interface QuarantineOptions {
  /** Bytes held at most (default 256 MiB). */
  bytes?: number;
  /** Frees held at most (default 1024). */
  count?: number;
  /** Hold frees on the sim backend too (its allocator already keeps freed ranges unmapped). */
  onSim?: boolean;
}

export const QUARANTINE_BYTES = 256 * 2 ** 20;
export const QUARANTINE_COUNT = 1024;

interface Held {
  op: number;
  bytes: number;
  release: () => number;
}

/** Keeps freed device memory allocated so the allocator cannot hand its range to the next allocation: a stale pointer then stays a use after free. */
export class Quarantine implements FreeHold {
  /** Bytes held at most; past it the oldest frees are released. */
  readonly maxBytes: number;
  /** Frees held at most; past it the oldest are released. */
  readonly maxCount: number;
  #held: Held[] = [];
  #bytes = 0;
  /** Frees released by the quarantine since it opened. */
  released = 0;
  /** The native status of the last release that failed (0: none did). */
  lastError = 0;

  /** An empty quarantine with the given limits. */
  constructor(opts: QuarantineOptions = {}) {
    this.maxBytes = opts.bytes ?? QUARANTINE_BYTES;
    this.maxCount = opts.count ?? QUARANTINE_COUNT;
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.#bytes;
  }
  /** Frees held now. */
  get heldCount(): number {
    return this.#held.length;
  }

  hold(call: NativeCall, release: () => number): boolean {
    const bytes = call.scalars.bytes ?? 0;
    if (bytes > this.maxBytes || this.maxCount === 0) return false; // larger than the whole budget: freed now
    this.#held.push({ op: call.id, bytes, release });
    this.#bytes += bytes;
    while (this.#held.length > this.maxCount || this.#bytes > this.maxBytes) this.#releaseOldest();
    return true;
  }

  /** Releases every held free (the session closes). */
  releaseAll(): void {
    while (this.#held.length > 0) this.#releaseOldest();
  }

  #releaseOldest(): void {
    const h = this.#held.shift()!;
    this.#bytes -= h.bytes;
    this.released++;
    // a poisoned context fails every call: the memory goes with the process
    const st = h.release();
    if (st !== 0) this.lastError = st;
  }
}
