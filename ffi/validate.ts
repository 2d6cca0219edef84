/** Input checks that run before any native call and throw FaultlineUsageError. */
import { FaultlineUsageError } from "./errors.ts";

/** A byte count or offset: a non-negative safe integer (below 2^53). */
export function checkSize(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new FaultlineUsageError(
      `${what} must be a non-negative integer below 2^53, got ${describe(value)}`,
    );
  }
  return value;
}

/** `offset + bytes` must fit in a region of `size` bytes. */
export function checkRange(offset: number, bytes: number, size: number, what: string): void {
  if (offset + bytes > size) {
    throw new FaultlineUsageError(
      `${what}: ${bytes} bytes at offset ${offset} run past its end (${size} bytes)`,
    );
  }
}

export function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `a ${ctor}` : typeof value;
}
