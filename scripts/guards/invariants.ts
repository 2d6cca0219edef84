/**
 * Per-kernel invariants, declared beside each launch by kernel name, and the
 * rail that checks them before the launch. An invariant names what must
 * hold (the sentence a report shows) and says why a launch breaks it.
 *
 * Add one for a kernel of your own:
 *
 *   declareInvariants("my_kernel", positive("n"), {
 *     name: "n a multiple of 4",
 *     argument: "n",
 *     broken: (s) => s.n % 4 !== 0 ? `n=${s.n}` : null,
 *   });
 *
 * The llama kernels (ffi/kernels_llama.ts) are declared below with their C
 * argument names; the position checks need the model's context length
 * (GuardContext.contextLength) and are skipped without it.
 */
import type { NativeCall } from "../../mod.ts";
import { CleanRepeats } from "./memo.ts";
import {
  finding,
  type GuardContext,
  NO_FINDINGS,
  type Rail,
  railDeclarations,
  type RailMode,
} from "./types.ts";
import type { Finding } from "../../records.ts";

/** A rule a kernel's scalar arguments must hold, checked before every launch of the kernel. */
export interface Invariant {
  /** What must hold, as a report shows it: "head_dim even and > 0". */
  name: string;
  /** The argument it is about (for the finding). */
  argument?: string;
  /** null when it holds; otherwise why not ("head_dim=127"). */
  broken(s: Readonly<Record<string, number>>, ctx: GuardContext, call: NativeCall): string | null;
}

// ---- building blocks ----

/** `arg > 0`. */
export function positive(arg: string): Invariant {
  return { name: `${arg} > 0`, argument: arg, broken: (s) => (s[arg] > 0 ? null : `${arg}=${s[arg]}`) };
}

/** `arg` even and > 0. */
export function evenPositive(arg: string): Invariant {
  return {
    name: `${arg} even and > 0`,
    argument: arg,
    broken: (s) => (s[arg] > 0 && s[arg] % 2 === 0 ? null : `${arg}=${s[arg]}`),
  };
}

/** A quantized row of `arg` weights is whole blocks of `block` (ggml's layout; kernels refuse others). */
export function wholeBlocks(arg: string, block: number): Invariant {
  return {
    name: `${arg} a multiple of the ${block}-weight block`,
    argument: arg,
    broken: (s) => (s[arg] % block === 0 ? null : `${arg}=${s[arg]} is ${s[arg] % block} past a whole block`),
  };
}

/** `arg` finite and > 0 (not NaN, not infinite). */
export function finitePositive(arg: string): Invariant {
  return {
    name: `${arg} finite and > 0`,
    argument: arg,
    broken: (s) => (Number.isFinite(s[arg]) && s[arg] > 0 ? null : `${arg}=${s[arg]}`),
  };
}

/** `arg <= limit`, with `why` the report shows. */
export function atMost(arg: string, limit: number, why = ""): Invariant {
  return {
    name: `${arg} <= ${limit}${why ? ` (${why})` : ""}`,
    argument: arg,
    broken: (s) => (s[arg] <= limit ? null : `${arg}=${s[arg]}`),
  };
}

/** pos_offset >= 0 and pos_offset + seq_len <= the context length (the model's, or an argument). */
export function positionsInContext(pos: string, len: string, ctxArg?: string): Invariant {
  return {
    name: `${pos} + ${len} <= context length`,
    argument: pos,
    broken: (s, ctx) => {
      const n = ctxArg !== undefined ? s[ctxArg] : ctx.contextLength;
      if (n === undefined) return null;
      if (s[pos] < 0) return `${pos}=${s[pos]} is negative`;
      return s[pos] + s[len] <= n ? null : `${pos}=${s[pos]} + ${len}=${s[len]} = ${s[pos] + s[len]} > ${n}`;
    },
  };
}

/** A kernel's context argument within the model's context length. */
export function withinModelContext(arg: string): Invariant {
  return {
    name: `${arg} <= context length`,
    argument: arg,
    broken: (s, ctx) =>
      ctx.contextLength === undefined || s[arg] <= ctx.contextLength
        ? null
        : `${arg}=${s[arg]} > ${ctx.contextLength}`,
  };
}

// ---- the declarations ----

const table = new Map<string, Invariant[]>();
let tableVersion = 0;

/** Adds invariants for kernel `name` (kept in declaration order). */
export function declareInvariants(name: string, ...inv: Invariant[]): void {
  table.set(name, [...(table.get(name) ?? []), ...inv]);
  tableVersion++;
  railDeclarations.version++;
}

/** Replaces every invariant of kernel `name` (none: `[]`). */
export function setInvariants(name: string, inv: Invariant[]): void {
  table.set(name, inv);
  tableVersion++;
  railDeclarations.version++;
}

/** The invariants declared for kernel `name` (none: an empty list). */
export function invariantsOf(name: string): readonly Invariant[] {
  return table.get(name) ?? [];
}

const gqa: Invariant = {
  name: "n_head a multiple of n_head_kv, group <= 32",
  argument: "n_head_kv",
  broken: (s) =>
    s.n_head_kv > 0 && s.n_head % s.n_head_kv === 0 && s.n_head / s.n_head_kv <= 32
      ? null
      : `n_head=${s.n_head}, n_head_kv=${s.n_head_kv}`,
};

// RoPE: zero or odd dimensions, and a freq_base that is not finite and positive (the angles go NaN or inf).
for (const k of ["rope", "rope_dpos"]) {
  declareInvariants(
    k,
    positive("seq_len"),
    positive("heads"),
    evenPositive("head_dim"),
    finitePositive("freq_base"),
  );
}
declareInvariants("rope", positionsInContext("pos_offset", "seq_len"));
for (const k of ["attention_decode", "attention_prefill", "attention_decode_f16", "attention_prefill_f16"]) {
  declareInvariants(
    k,
    positive("n_head"),
    positive("n_head_kv"),
    positive("head_dim"),
    atMost("head_dim", 256, "FL_LLAMA_MAX_HEAD_DIM"),
    gqa,
    positive("n_ctx"),
    withinModelContext("n_ctx"),
  );
}
for (const k of ["attention_prefill", "attention_prefill_f16"]) {
  declareInvariants(k, positive("seq_len"), {
    name: "seq_len <= n_ctx",
    argument: "seq_len",
    broken: (s) => (s.seq_len <= s.n_ctx ? null : `seq_len=${s.seq_len} > n_ctx=${s.n_ctx}`),
  });
}
for (const k of ["kv_append", "kv_append_dpos", "kv_append_f16", "kv_append_dpos_f16"]) {
  declareInvariants(k, positive("seq_len"), positive("n_head_kv"), positive("head_dim"), positive("ctx_len"));
}
for (const k of ["kv_append", "kv_append_f16"]) {
  declareInvariants(k, positionsInContext("pos_offset", "seq_len", "ctx_len"));
}
declareInvariants("rmsnorm", positive("rows"), positive("dim"), finitePositive("eps"));
for (const k of ["matvec_f32", "matvec_f16"]) declareInvariants(k, positive("out_dim"), positive("in_dim"));
for (const [k, block] of [["matvec_q8_0", 32], ["matvec_q4_0", 32], ["matvec_q4_k", 256]] as const) {
  declareInvariants(k, positive("out_dim"), positive("in_dim"), wholeBlocks("in_dim", block));
}
for (const [k, block] of [["dequant_q8_0", 32], ["dequant_q4_0", 32], ["dequant_q4_k", 256]] as const) {
  declareInvariants(k, positive("rows"), positive("cols"), wholeBlocks("cols", block));
}
for (const k of ["matmul_f32", "matmul_f16", "gemm_f16"]) {
  declareInvariants(k, positive("n_tokens"), positive("out_dim"), positive("in_dim"));
}
declareInvariants("convert_f16", positive("n"));
for (const k of ["embed_f32", "embed_f16"]) {
  declareInvariants(k, positive("n_tokens"), positive("dim"), positive("vocab"));
}
declareInvariants("silu_mul", positive("n"));
declareInvariants("add", positive("n"));
declareInvariants("argmax", positive("rows"), positive("n"), atMost("n", 0x7fffffff, "an int32 index"));
// kernels/faults.hip: fault_fill writes n floats; fault_write_at and tick have no scalar to check.
declareInvariants("fault_fill", positive("n"));

/**
 * The rail: every declared invariant of the launched kernel. Invariants are
 * functions of the scalars and the context: a launch whose scalars repeat
 * the kernel's last clean launch (same context) is not checked again.
 */
export function invariantsRail(mode: RailMode = "warn"): Rail {
  const memo = new CleanRepeats();
  let version = tableVersion;
  return {
    name: "invariants",
    mode,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      if (call.kind !== "launch") return NO_FINDINGS;
      const inv = table.get(call.name);
      if (inv === undefined) return NO_FINDINGS;
      if (version !== tableVersion) {
        memo.clear();
        version = tableVersion;
      }
      if (memo.skip(call, ctx)) return NO_FINDINGS;
      let out: Finding[] | null = null;
      const s = call.scalars;
      for (let k = 0; k < inv.length; k++) {
        const why = inv[k].broken(s, ctx, call);
        if (why === null) continue;
        (out ??= []).push(finding("invariants", call, inv[k].name, why, { argument: inv[k].argument }));
      }
      memo.record(call, ctx, out === null);
      return out ?? NO_FINDINGS;
    },
  };
}
