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

export interface PointerArg {
  /** Argument name as declared for the kernel or copy ("q", "src", "dst"). */
  arg: string;
  /** Device address the call receives. */
  ptr: number;
  /** Bytes the call will touch from ptr on, as its arguments describe. */
  bytes: number;
  access: Access;
  /** Element size in bytes, for alignment checks (1 when untyped). */
  elem: number;
}

/** Where in the workload an op runs; set by the scheduler, copied into each call. */
export interface OpContext {
  step?: number;
  layer?: number;
  /** The scheduler's name for the op, e.g. "RoPE Q". */
  op?: string;
}

export interface NativeCall {
  /** Op id, increasing from 1 within a process; also passed to fl_set_tag. */
  id: number;
  kind: OpKind;
  /** Kernel name, tensor name, or the export's verb. */
  name: string;
  device: number;
  /** Stream handle; 0 is the default stream. */
  stream: number;
  /** Scalar arguments by name (sizes, counts, floats). */
  scalars: Record<string, number>;
  pointers: PointerArg[];
  /** Host address of the host side of a copy, when there is one. */
  host?: number;
  /** Event handle for event_record / event_wait. */
  event?: number;
  /** The launch geometry of a loaded kernel (built-in kernels' geometry is the library's). */
  geometry?: LaunchGeometry;
  /** A traced program's launch: its position among the process's launches, from 0. */
  ordinal?: number;
  context: OpContext;
}

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
  hold(call: NativeCall, release: () => number): boolean;
}

/** The process-wide boundary state: observers and the scheduler's current context. */
export class Boundary {
  #observers: CallObserver[] = [];
  #nextId = 1;
  #reuse = false;
  context: OpContext = {};
  /** Where device frees go while a quarantine is on (null: freed at once). */
  freeHold: FreeHold | null = null;

  get active(): boolean {
    return this.#observers.length > 0;
  }

  /** Whether every attached observer is transient: a call's objects may be reused after `after`. */
  get reuse(): boolean {
    return this.#reuse;
  }

  attach(observer: CallObserver): () => void {
    this.#observers = [...this.#observers, observer];
    this.#reuse = this.#observers.every((o) => o.transient === true);
    return () => this.detach(observer);
  }

  detach(observer: CallObserver): void {
    this.#observers = this.#observers.filter((o) => o !== observer);
    this.#reuse = this.#observers.length > 0 && this.#observers.every((o) => o.transient === true);
  }

  nextId(): number {
    return this.#nextId++;
  }

  before(call: NativeCall): void {
    const os = this.#observers;
    for (let k = 0; k < os.length; k++) os[k].before?.(call);
  }

  after(call: NativeCall, status: number, result?: number): void {
    const os = this.#observers;
    for (let k = 0; k < os.length; k++) os[k].after?.(call, status, result);
  }
}

export const boundary: Boundary = new Boundary();
