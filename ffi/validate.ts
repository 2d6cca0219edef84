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
  return ctor ? `${/^[AEIOU]/.test(ctor) ? "an" : "a"} ${ctor}` : typeof value;
}

/** An options argument: undefined (no options) or an object; returns it as an object. */
export function checkOptions<T extends object>(value: T | undefined, what: string): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FaultlineUsageError(`${what}: options must be an object, got ${describe(value)}`);
  }
  return value;
}

/** An optional name: undefined or a string. */
export function checkName(value: unknown, what: string): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw new FaultlineUsageError(`${what}: name must be a string, got ${describe(value)}`);
}

/**
 * The handle classes brand their instances here, so a module can check "is
 * this a Stream / an Event" without importing the class (which would make the
 * ffi modules import each other in a cycle).
 */
export type HandleKind = "Stream" | "Event";
const brands = new WeakMap<object, HandleKind>();

export function brand(handle: object, kind: HandleKind): void {
  brands.set(handle, kind);
}

/** Throws FaultlineUsageError unless `value` is a handle of `kind`. */
export function checkHandle(value: unknown, kind: HandleKind, what: string): void {
  if (typeof value === "object" && value !== null && brands.get(value) === kind) return;
  const article = kind === "Event" ? "an" : "a";
  throw new FaultlineUsageError(`${what} must be ${article} ${kind}, got ${describe(value)}`);
}
