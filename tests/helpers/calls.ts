/** Synthetic NativeCalls for the forensics tests that need no device. */
import type { NativeCall, OpContext, PointerArg } from "../../ffi/boundary.ts";
import type { Access, OpKind } from "../../records.ts";

let nextId = 1;

export function resetIds(to = 1): void {
  nextId = to;
}

export function ptr(arg: string, p: number, bytes: number, access: Access = "r", elem = 4): PointerArg {
  return { arg, ptr: p, bytes, access, elem };
}

export function call(
  kind: OpKind,
  name: string,
  opts: {
    stream?: number;
    scalars?: Record<string, number>;
    pointers?: PointerArg[];
    host?: number;
    event?: number;
    context?: OpContext;
    device?: number;
    id?: number;
  } = {},
): NativeCall {
  const c: NativeCall = {
    id: opts.id ?? nextId++,
    kind,
    name,
    device: opts.device ?? 0,
    stream: opts.stream ?? 0,
    scalars: opts.scalars ?? {},
    pointers: opts.pointers ?? [],
    context: opts.context ?? {},
  };
  if (opts.host !== undefined) c.host = opts.host;
  if (opts.event !== undefined) c.event = opts.event;
  return c;
}

/** An alloc call as ffi/device.ts describes it (result: the base address). */
export function alloc(name: string, bytes: number, redzone = 0): NativeCall {
  const allocBytes = redzone === 0 ? bytes : redzone + Math.ceil(bytes / 256) * 256 + redzone;
  return call("alloc", name, { scalars: { bytes, redzone, allocBytes } });
}

/** A free call as ffi/buffer.ts describes it. */
export function free(name: string, base: number, allocBytes: number): NativeCall {
  return call("free", name, { scalars: { ptr: base, bytes: allocBytes } });
}
