/**
 * Runs a native call through the boundary (ffi/boundary.ts) when an observer
 * is attached: builds the NativeCall, tags the ops it enqueues with the call's
 * id (fl_set_tag), shows it to the observers before and after. Call sites
 * check `boundary.active` first and skip all of this on the fast path.
 */
import { boundary, type NativeCall, type PointerArg } from "./boundary.ts";
import type { NativeSymbols } from "./symbols.ts";
import type { Access, OpKind } from "../records.ts";

export function pointer(arg: string, ptr: number, bytes: number, access: Access, elem = 1): PointerArg {
  return { arg, ptr, bytes, access, elem };
}

export function makeCall(
  kind: OpKind,
  name: string,
  device: number,
  stream: number,
  scalars: Record<string, number>,
  pointers: PointerArg[],
  extra?: { host?: number; event?: number },
): NativeCall {
  const call: NativeCall = {
    id: boundary.nextId(),
    kind,
    name,
    device,
    stream,
    scalars,
    pointers,
    context: { ...boundary.context },
  };
  if (extra?.host !== undefined) call.host = extra.host;
  if (extra?.event !== undefined) call.event = extra.event;
  return call;
}

/** Tags, shows `call` to the observers, runs `invoke`, reports its status (and result) and returns the status. */
export function through(
  sym: NativeSymbols,
  call: NativeCall,
  invoke: () => number,
  result?: () => number,
): number {
  sym.fl_set_tag(BigInt(call.id));
  boundary.before(call);
  const hold = boundary.freeHold;
  const status = hold !== null && call.kind === "free" && hold.hold(call, invoke) ? 0 : invoke();
  boundary.after(call, status, status === 0 && result ? result() : undefined);
  return status;
}

/** `through` for a nonblocking native call. */
export async function throughAsync(
  sym: NativeSymbols,
  call: NativeCall,
  invoke: () => Promise<number>,
): Promise<number> {
  sym.fl_set_tag(BigInt(call.id));
  boundary.before(call);
  const status = await invoke();
  boundary.after(call, status);
  return status;
}
