/**
 * Rail: the grid and block of a launch fit the device's limits.
 *
 * The launch geometry of each built-in kernel mirrors kernels/launch_config.h and
 * kernels/llama/launch_config_llama.h (the formulas the launchers use, and
 * fl_llama_fit's per-dimension thread limit), in
 * TypeScript, from the launch's scalar arguments (the rail runs where the library is not
 * loaded, in the audit worker); tests/kernel_declarations.test.ts compares it with
 * the library's own geometry (fl_kernel_geometry) on random sizes. Keep them in step when a
 * launcher changes. A kernel loaded at run time is checked against the
 * geometry its launch carries (NativeCall.geometry). Any other kernel with no
 * geometry here is not checked.
 */
import type { NativeCall } from "../../ffi/boundary.ts";
import { CleanRepeats } from "./memo.ts";
import {
  type Finding,
  finding,
  type GuardContext,
  type LaunchLimits,
  NO_FINDINGS,
  type Rail,
  railDeclarations,
  type RailMode,
} from "./types.ts";

/** One launch's grid and block. */
export interface LaunchDims {
  /** Blocks in x, y and z. */
  grid: [number, number, number];
  /** Threads per block in x, y and z. */
  block: [number, number, number];
}

/** A kernel's launch geometry from its scalar arguments: the grid and block of each of its launches. */
export type Geometry = (s: Readonly<Record<string, number>>) => LaunchDims[];

const dims = (gx: number, gy: number, gz: number, bx: number, by: number, bz: number): LaunchDims => ({
  grid: [gx, gy, gz],
  block: [bx, by, bz],
});
/** fl_llama_blocks: ceil(units / per_block), saturated at 2^32 - 1. */
const blocks = (units: number, per: number) => Math.min(Math.ceil(units / per), 0xffffffff);
const LANES = 32,
  BLOCK = 256,
  MATVEC_ROWS = 2,
  MATVEC_SPLIT = 4,
  MATMUL_TILE = 64,
  ROPE_HEADS = 4,
  ATTN_BLOCK = 256;
const PREFILL_Q = 4, ATTN_CHUNK = 64, ELEMWISE_MAX_GRID = 65535, FILL_MAX_GRID = 65535;
const MATVEC_Q_ROWS = 8, MATVEC_Q_SPLIT = 2, DEQUANT_GROUP = 32;
const FLASH_Q = 64, FLASH_THREADS = 128, FLASH_MAX_HEAD_DIM = 128;

const elementwise = (n: number) => [dims(Math.min(blocks(n, BLOCK), ELEMWISE_MAX_GRID), 1, 1, BLOCK, 1, 1)];
const matvecQ = (s: Readonly<Record<string, number>>) => [
  dims(blocks(s.out_dim, MATVEC_Q_ROWS), 1, 1, (MATVEC_Q_ROWS / 2) * MATVEC_Q_SPLIT * LANES, 1, 1),
];
const matmul = (s: Readonly<Record<string, number>>) => [
  dims(blocks(s.out_dim, MATMUL_TILE), blocks(s.n_tokens, MATMUL_TILE), 1, BLOCK, 1, 1),
];
const attentionPrefill = (s: Readonly<Record<string, number>>) => [
  dims(blocks(s.seq_len * s.n_head, PREFILL_Q), 1, 1, PREFILL_Q * LANES, 1, 1),
];
const attentionDecode = (s: Readonly<Record<string, number>>) => [
  dims(Math.ceil(s.n_ctx / ATTN_CHUNK), s.n_head_kv, 1, ATTN_BLOCK, 1, 1),
  dims(s.n_head, 1, 1, ATTN_BLOCK, 1, 1),
];
/** fl_config_llama_attention_prefill_f16: flash tiles for heads of 32..128 in steps of 32, else per query. */
const attentionPrefillF16 = (s: Readonly<Record<string, number>>) =>
  s.head_dim <= FLASH_MAX_HEAD_DIM && s.head_dim % 32 === 0
    ? [dims(blocks(s.seq_len, FLASH_Q), s.n_head, 1, FLASH_THREADS, 1, 1)]
    : attentionPrefill(s);

const geometry = new Map<string, Geometry>([
  ["fault_write_at", () => [dims(1, 1, 1, 1, 1, 1)]],
  ["tick", () => [dims(1, 1, 1, 1, 1, 1)]],
  ["fault_fill", (s) => [dims(Math.min(Math.max(blocks(s.n, 256), 1), FILL_MAX_GRID), 1, 1, 256, 1, 1)]],
  ["embed_f32", (s) => [dims(s.n_tokens, 1, 1, BLOCK, 1, 1)]],
  ["embed_f16", (s) => [dims(s.n_tokens, 1, 1, BLOCK, 1, 1)]],
  ["rmsnorm", (s) => [dims(s.rows, 1, 1, BLOCK, 1, 1)]],
  [
    "matvec_f32",
    (s) => [dims(blocks(s.out_dim, MATVEC_ROWS), 1, 1, MATVEC_ROWS * MATVEC_SPLIT * LANES, 1, 1)],
  ],
  [
    "matvec_f16",
    (s) => [dims(blocks(s.out_dim, MATVEC_ROWS), 1, 1, MATVEC_ROWS * MATVEC_SPLIT * LANES, 1, 1)],
  ],
  ["matmul_f32", matmul],
  ["matmul_f16", matmul],
  ["gemm_f16", matmul],
  ["matvec_q8_0", matvecQ],
  ["matvec_q4_0", matvecQ],
  ["matvec_q4_k", matvecQ],
  ...["dequant_q8_0", "dequant_q4_0", "dequant_q4_k"].map((k): [string, Geometry] => [
    k,
    (s) => elementwise(s.rows * Math.floor(s.cols / DEQUANT_GROUP)),
  ]),
  ["convert_f16", (s) => elementwise(s.n)],
  ...["rope", "rope_dpos"].map((k): [string, Geometry] => [
    k,
    (
      s,
    ) => [
      dims(blocks(s.seq_len * (s.head_dim / 2) * Math.ceil(s.heads / ROPE_HEADS), BLOCK), 1, 1, BLOCK, 1, 1),
    ],
  ]),
  ["attention_prefill", attentionPrefill],
  ["attention_prefill_f16", attentionPrefillF16],
  ["attention_decode", attentionDecode],
  ["attention_decode_f16", attentionDecode],
  ...["kv_append", "kv_append_dpos", "kv_append_f16", "kv_append_dpos_f16"].map((k): [string, Geometry] => [
    k,
    (s) => elementwise(s.seq_len * s.n_head_kv * s.head_dim),
  ]),
  ["silu_mul", (s) => elementwise(s.n)],
  ["add", (s) => elementwise(s.n)],
  ["argmax", (s) => [dims(s.rows, 1, 1, BLOCK, 1, 1)]],
]);

/** Declares (or replaces) the launch geometry of a kernel. */
export function declareGeometry(kernel: string, g: Geometry): void {
  geometry.set(kernel, g);
  railDeclarations.version++;
}

/** The grids and blocks a launch of `kernel` with `scalars` uses (one per native kernel), or null if unknown. */
export function launchDims(kernel: string, scalars: Readonly<Record<string, number>>): LaunchDims[] | null {
  const g = geometry.get(kernel);
  return g === undefined ? null : g(scalars);
}

/** Why `d` does not fit `l`, or null when it does (fl_launch_dims_check). */
export function dimsProblem(d: LaunchDims, l: LaunchLimits): string | null {
  const axis = ["x", "y", "z"];
  let threads = 1;
  for (let i = 0; i < 3; i++) {
    if (!(d.grid[i] >= 1)) return `grid.${axis[i]}=${d.grid[i]} (a dimension is 0)`;
    if (!(d.block[i] >= 1)) return `block.${axis[i]}=${d.block[i]} (a dimension is 0)`;
    if (d.grid[i] > l.maxGrid[i]) return `grid.${axis[i]}=${d.grid[i]} > max ${l.maxGrid[i]}`;
    if (d.block[i] > l.maxBlock[i]) return `block.${axis[i]}=${d.block[i]} > max ${l.maxBlock[i]}`;
    threads *= d.block[i];
  }
  if (threads > l.maxThreadsPerBlock) return `${threads} threads per block > max ${l.maxThreadsPerBlock}`;
  // HIP also refuses more than 2^32 - 1 threads along one dimension (fl_llama_fit)
  for (let i = 0; i < 3; i++) {
    if (d.grid[i] * d.block[i] > 0xffffffff) {
      return `${d.grid[i] * d.block[i]} threads along ${axis[i]} > 2^32 - 1 (HIP's limit)`;
    }
  }
  return null;
}

/** The launch-limits rail in `mode`: a launch whose grid or block is over the device's limits. */
export function launchLimitsRail(mode: RailMode = "warn"): Rail {
  const memo = new CleanRepeats();
  return {
    name: "launch_limits",
    mode,
    check(call: NativeCall, ctx: GuardContext): readonly Finding[] {
      if (call.kind !== "launch") return NO_FINDINGS;
      // a loaded kernel's launch carries the geometry it was given; a built-in one's is mirrored above
      const given = call.geometry;
      const g = given === undefined ? geometry.get(call.name) : undefined;
      if (given === undefined && g === undefined) return NO_FINDINGS;
      if (given === undefined && memo.skip(call, ctx)) return NO_FINDINGS;
      let out: Finding[] | null = null;
      for (const d of given !== undefined ? [given] : g!(call.scalars)) {
        const why = dimsProblem(d, ctx.limits);
        if (why === null) continue;
        (out ??= []).push(
          finding(
            "launch_limits",
            call,
            "grid and block within the device's limits",
            `grid [${d.grid.join(", ")}] block [${d.block.join(", ")}]: ${why}`,
          ),
        );
      }
      if (given === undefined) memo.record(call, ctx, out === null);
      return out ?? NO_FINDINGS;
    },
  };
}
