/**
 * The instrumented boundary: every native call that touches a device is
 * described as a NativeCall and shown to the attached observers, before the
 * call (which may throw to block it) and after it (with its status).
 *
 * With no observer attached the runtime builds no NativeCall at all, so the
 * "off" mode costs one property check per call.
 */

import type { Access, LaunchGeometry, OpKind } from "../records.ts";

// ffi/kernels.ts and ffi/kernel_module.ts take these from here.
export type { Access, LaunchGeometry, OpKind };

/** A pointer argument of a native call: the address and what the call does with the memory behind it. */
export interface PointerArg {
  /** Argument name as declared for the kernel or copy ("q", "src", "dst"). */
  arg: string;
  /** Device address the call receives. */
  ptr: number;
  /** Bytes the call will touch from ptr on, as its arguments describe. */
  bytes: number;
  /** How the call touches the memory. */
  access: Access;
  /** Element size in bytes, for alignment checks (1 when untyped). */
  elem: number;
}

/** Where in the workload an op runs; set by the scheduler, copied into each call. */
export interface OpContext {
  /** The workload's step (a prefill chunk or decode step). */
  step?: number;
  /** The model layer. */
  layer?: number;
  /** The scheduler's name for the op, e.g. "RoPE Q". */
  op?: string;
}

/** One native call that touches a device, described before it runs: what the observers see. */
export interface NativeCall {
  /** Op id, increasing from 1 within a process; also passed to fl_set_tag. */
  id: number;
  /** What the call does. */
  kind: OpKind;
  /** Kernel name, tensor name, or the export's verb. */
  name: string;
  /** Device ordinal. */
  device: number;
  /** Stream handle; 0 is the default stream. */
  stream: number;
  /** Scalar arguments by name (sizes, counts, floats). */
  scalars: Record<string, number>;
  /** Pointer arguments with the bytes each call touches. */
  pointers: PointerArg[];
  /** Host address of the host side of a copy, when there is one. */
  host?: number;
  /** Event handle for event_record / event_wait. */
  event?: number;
  /** The launch geometry of a loaded kernel (built-in kernels' geometry is the library's). */
  geometry?: LaunchGeometry;
  /** A traced program's launch: its position among the process's launches, from 0. */
  ordinal?: number;
  /** Where in the workload the call was made (a copy of the boundary's context then). */
  context: OpContext;
}

/** Sees every native call before and after it runs (a guard rail set, the journal, the race check). */
export interface CallObserver {
  /**
   * A promise that the observer keeps no reference to a call, its scalars,
   * pointers or context once `after` returns (it copies what it keeps). When
   * every attached observer makes it, the runtime reuses those objects for
   * later calls of the same kind and kernel instead of allocating new ones.
   */
  readonly transient?: boolean;
  /** Runs before the native call; throwing blocks the call (the error reaches the caller). */
  before?(call: NativeCall): void;
  /** Runs after the native call with its status; `result` is the pointer or handle it produced. */
  after?(call: NativeCall, status: number, result?: number): void;
}

/**
 * Holds the native release of freed device memory (a quarantine): given a free call and the native
 * free, it either keeps the memory allocated and releases it later itself (true: the free is reported
 * done now, status 0) or lets it run now (false).
 */
export interface FreeHold {
  /** Keeps the memory of a free call allocated (true) or lets the native free run now (false). */
  hold(call: NativeCall, release: () => number): boolean;
}

/** The process-wide boundary state: observers and the scheduler's current context. */
export class Boundary {
  #observers: CallObserver[] = [];
  #nextId = 1;
  #reuse = false;
  /** Where in the workload the next calls are made; the scheduler sets it, each call copies it. */
  context: OpContext = {};
  /** Where device frees go while a quarantine is on (null: freed at once). */
  freeHold: FreeHold | null = null;

  /** Whether any observer is attached (with none, no NativeCall is built). */
  get active(): boolean {
    return this.#observers.length > 0;
  }

  /** Whether every attached observer is transient: a call's objects may be reused after `after`. */
  get reuse(): boolean {
    return this.#reuse;
  }

  /** Attaches an observer; returns the function that detaches it. */
  attach(observer: CallObserver): () => void {
    this.#observers = [...this.#observers, observer];
    this.#reuse = this.#observers.every((o) => o.transient === true);
    return () => this.detach(observer);
  }

  /** Detaches an observer (no-op when it is not attached). */
  detach(observer: CallObserver): void {
    this.#observers = this.#observers.filter((o) => o !== observer);
    this.#reuse = this.#observers.length > 0 && this.#observers.every((o) => o.transient === true);
  }

  /** The next op id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Shows a call to every observer before it runs; an observer that throws blocks it. */
  before(call: NativeCall): void {
    const os = this.#observers;
    for (let k = 0; k < os.length; k++) os[k].before?.(call);
  }

  /** Shows a call and its status (and produced pointer or handle) to every observer. */
  after(call: NativeCall, status: number, result?: number): void {
    const os = this.#observers;
    for (let k = 0; k < os.length; k++) os[k].after?.(call, status, result);
  }
}

/** The process-wide boundary every native call of the runtime goes through. */
export const boundary: Boundary = new Boundary();
