/**
 * Named ops of the block scheduler and the hooks an experiment attaches to them.
 *
 * Every native action the scheduler takes in a forward pass is one Op: a kernel launch ("RoPE Q"), a
 * copy ("logits D2H"), an event record or wait, or a host sync. An Op carries where it runs (step,
 * layer, phase, stream), its kernel and its arguments, and a default action. Hooks run before and
 * after matching ops, and a replacement can take over an op's action (to plant a fault: a freed
 * pointer, seq_len 0, a skipped event wait) without editing the scheduler:
 *
 *   engine.hooks.before({ name: "RoPE Q" }, (op) => console.log(op.label, op.args));
 *   engine.hooks.replace({ step: 3, layer: 0, name: "RoPE Q" }, (op, launchDefault) =>
 *     launchDefault({ pos: freed.ptr }));          // the default action with some arguments changed
 *   engine.hooks.replace({ name: "logits wait" }, () => {}); // skip the wait: the copy races
 */
import type { KernelDescriptor, Stream } from "../../mod.ts";
import type { OpKind } from "../../records.ts";

/** The scheduler's op names, as the journal, the findings and the reports carry them. */
export const OP_NAMES = [
  "token H2D",
  "pos H2D",
  "embed",
  "RMSNorm attn",
  "QKV in f16",
  "Q dequant",
  "Q proj",
  "K dequant",
  "K proj",
  "V dequant",
  "V proj",
  "RoPE Q",
  "RoPE K",
  "KV append",
  "attention",
  "O in f16",
  "O dequant",
  "O proj",
  "residual attn",
  "RMSNorm ffn",
  "FFN in f16",
  "gate dequant",
  "gate proj",
  "up dequant",
  "up proj",
  "SiLU mul",
  "down in f16",
  "down dequant",
  "down proj",
  "residual ffn",
  "final RMSNorm",
  "logits proj",
  "argmax",
  "logits event",
  "logits wait",
  "logits D2H",
  "token D2H",
  "logits sync",
] as const;

/** The name of one of the scheduler's ops ("RoPE Q", "logits D2H"). */
export type OpName = typeof OP_NAMES[number];

/** What a scheduled op does natively: the native call kinds the scheduler issues. */
export type ScheduledKind = Extract<
  OpKind,
  "launch" | "h2d" | "d2h" | "event_record" | "event_wait" | "sync"
>;

/** Which kind of forward pass an op belongs to. */
export type Phase = "prefill" | "decode";

/** An op's arguments: the kernel's arguments for a launch, the copy/event operands otherwise. */
export type OpArgs = Record<string, unknown>;

/**
 * One named op of a forward pass. The scheduler builds the decode ops once and reuses them (and
 * their `args` objects) every step; `step` and `pos` are updated before each run. Treat `args` as
 * read-only in hooks: pass changes to `launchDefault(overrides)` instead.
 */
export class Op {
  /** Forward pass number: 0 for the first prefill chunk, then one per prefill chunk or decode step. */
  step = 0;
  /** Position of the first token this pass processes (the KV-cache row it writes). */
  pos = 0;
  /** The op's name. */
  readonly name: OpName;
  /** Transformer block, or -1 for ops outside the blocks (embed, logits, copies). */
  readonly layer: number;
  /** The pass it belongs to. */
  readonly phase: Phase;
  /** What it does natively. */
  readonly kind: ScheduledKind;
  /** The stream the op is enqueued on (or, for "logits sync", the stream the host waits for). */
  readonly stream: Stream;
  /** The kernel of a launch op, else null. */
  readonly kernel: KernelDescriptor | null;
  /** Its arguments (read-only in hooks). */
  readonly args: OpArgs;
  /** The default action, with the given arguments (op.args or a modified copy). */
  readonly run: (args: OpArgs) => void;

  /** An op of the scheduler (the engine builds its ops; hooks receive them). */
  constructor(
    name: OpName,
    layer: number,
    phase: Phase,
    kind: ScheduledKind,
    stream: Stream,
    kernel: KernelDescriptor | null,
    args: OpArgs,
    run: (args: OpArgs) => void,
  ) {
    this.name = name;
    this.layer = layer;
    this.phase = phase;
    this.kind = kind;
    this.stream = stream;
    this.kernel = kernel;
    this.args = args;
    this.run = run;
  }

  /** "step 3 layer 0 RoPE Q" (no layer for ops outside the blocks). */
  get label(): string {
    return this.layer >= 0
      ? `step ${this.step} layer ${this.layer} ${this.name}`
      : `step ${this.step} ${this.name}`;
  }
}

/**
 * Which ops a hook applies to: a predicate, a label ("step 3 layer 0 RoPE Q"), or fields that must all
 * equal (name may list several).
 */
export type OpMatch =
  | ((op: Op) => boolean)
  | string
  | {
    step?: number;
    layer?: number;
    name?: OpName | readonly OpName[];
    phase?: Phase;
    kind?: ScheduledKind;
  };

/** Runs before or after an op. */
export type OpHook = (op: Op) => void;
/**
 * Takes over an op. `launchDefault()` runs the op's default action; `launchDefault(overrides)` runs
 * it with some arguments replaced (e.g. `{ seq_len: 0 }` or `{ pos: freedBuffer }`). Not calling it
 * skips the op.
 */
export type OpReplacement = (op: Op, launchDefault: (overrides?: OpArgs) => void) => void;

/** Whether `op` is one of the ops `m` names (no match: every op). */
export function matches(m: OpMatch | undefined, op: Op): boolean {
  if (m === undefined) return true;
  if (typeof m === "function") return m(op);
  if (typeof m === "string") return m === op.label;
  if (m.step !== undefined && m.step !== op.step) return false;
  if (m.layer !== undefined && m.layer !== op.layer) return false;
  if (m.phase !== undefined && m.phase !== op.phase) return false;
  if (m.kind !== undefined && m.kind !== op.kind) return false;
  if (m.name !== undefined) {
    if (typeof m.name === "string" ? m.name !== op.name : !m.name.includes(op.name)) return false;
  }
  return true;
}

interface Entry<F> {
  match: OpMatch | undefined;
  fn: F;
}

/**
 * The hooks of one engine. Each registration returns a function that removes it. With no hooks
 * registered the scheduler runs each op's default action directly (`empty` is checked once per op).
 */
export class EngineHooks {
  #before: Entry<OpHook>[] = [];
  #after: Entry<OpHook>[] = [];
  #replace: Entry<OpReplacement>[] = [];
  /** True when no hook is registered. */
  empty = true;

  /** Runs `fn` before every op (`before(fn)`) or before the matching ops (`before(match, fn)`). */
  before(matchOrFn: OpMatch | OpHook, fn?: OpHook): () => void {
    return this.#add(this.#before, ...split(matchOrFn, fn));
  }

  /** Runs `fn` after every op, or after the matching ops, once its action returned. */
  after(matchOrFn: OpMatch | OpHook, fn?: OpHook): () => void {
    return this.#add(this.#after, ...split(matchOrFn, fn));
  }

  /** Replaces the matching ops' action; when several replacements match, the latest registered wins. */
  replace(match: OpMatch, fn: OpReplacement): () => void {
    return this.#add(this.#replace, match, fn);
  }

  /** Removes every hook. */
  clear(): void {
    this.#before = [];
    this.#after = [];
    this.#replace = [];
    this.empty = true;
  }

  /** Runs `op` through the hooks (the scheduler calls this only when `empty` is false). */
  run(op: Op): void {
    for (const h of this.#before) if (matches(h.match, op)) h.fn(op);
    let rep: OpReplacement | null = null;
    for (let i = this.#replace.length - 1; i >= 0; i--) {
      if (matches(this.#replace[i].match, op)) {
        rep = this.#replace[i].fn;
        break;
      }
    }
    if (rep === null) op.run(op.args);
    else rep(op, (overrides?: OpArgs) => op.run(overrides ? { ...op.args, ...overrides } : op.args));
    for (const h of this.#after) if (matches(h.match, op)) h.fn(op);
  }

  #add<F>(list: Entry<F>[], match: OpMatch | undefined, fn: F): () => void {
    if (typeof fn !== "function") throw new TypeError("hook: the callback must be a function");
    const e = { match, fn };
    list.push(e);
    this.empty = false;
    return () => {
      const i = list.indexOf(e);
      if (i >= 0) list.splice(i, 1);
      this.empty = this.#before.length + this.#after.length + this.#replace.length === 0;
    };
  }
}

function split(matchOrFn: OpMatch | OpHook, fn?: OpHook): [OpMatch | undefined, OpHook] {
  if (fn === undefined) return [undefined, matchOrFn as OpHook];
  return [matchOrFn as OpMatch, fn];
}
