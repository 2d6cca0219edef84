/**
 * Runs a native call through the boundary (ffi/boundary.ts) when an observer
 * is attached: builds the NativeCall, tags the ops it enqueues with the call's
 * id (fl_set_tag), shows it to the observers before and after. Call sites
 * check `boundary.active` first and skip all of this on the fast path.
 */
import { boundary, type NativeCall, type PointerArg } from "./boundary.ts";
import type { NativeSymbols } from "./symbols.ts";
import type { Access, OpKind } from "../records.ts";

/** The host's device ids of this process's ordinals (empty: each ordinal is its own id). */
let hostIds: readonly number[] = [];

/**
 * Sets the host's id of each device ordinal of this process (ffi/runtime.ts, from FAULTLINE_DEVICE_IDS):
 * a trial placed on host device 3 sees it as ordinal 0, and its calls are journaled as device 3.
 */
export function setHostDeviceIds(ids: readonly number[]): void {
  hostIds = [...ids];
}

/** The host's id of device `ordinal` of this process: what calls, journals and findings name. */
export function hostDeviceId(ordinal: number): number {
  return ordinal < hostIds.length ? hostIds[ordinal] : ordinal;
}

/** A pointer argument of a NativeCall: `bytes` touched from `ptr` on with `access` (elements of `elem` bytes). */
export function pointer(arg: string, ptr: number, bytes: number, access: Access, elem = 1): PointerArg {
  return { arg, ptr, bytes, access, elem };
}

/** A call on device `device` (the ordinal the native call takes; the call names its host id). */
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
    device: hostDeviceId(device),
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

/**
 * A native call that takes no pointer or scalar arguments (a sync, query, record, wait or destroy):
 * through the boundary, described as `kind` `name` on `stream`, when an observer is attached, else
 * the native call alone. Returns its status.
 */
export function callNative(
  sym: NativeSymbols,
  kind: OpKind,
  name: string,
  device: number,
  stream: number,
  invoke: () => number,
  extra?: { event?: number },
): number {
  return boundary.active
    ? through(sym, makeCall(kind, name, device, stream, {}, [], extra), invoke)
    : invoke();
}

/** `callNative` for a nonblocking native call. */
export function callNativeAsync(
  sym: NativeSymbols,
  kind: OpKind,
  name: string,
  device: number,
  stream: number,
  invoke: () => Promise<number>,
  extra?: { event?: number },
): Promise<number> {
  return boundary.active
    ? throughAsync(sym, makeCall(kind, name, device, stream, {}, [], extra), invoke)
    : invoke();
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
