/**
 * The block scheduler: a llama forward pass as a sequence of named ops on two streams.
 *
 *   const engine = await LlamaEngine.create(device, model, { maxContext: 256 });
 *   const first = engine.prefill([1, 17, 42]);      // host positions, matmul kernels
 *   const next = engine.decodeStep(first);          // device position (d_pos), matvec kernels
 *   const tokens = engine.generate([1, 17, 42], 16);
 *   engine.free();
 *
 * `model` is a GpuModel (scripts/model/gpu_model.ts: random weights built on the device, or a GGUF
 * file already uploaded) or a LlamaGguf (openLlamaGguf), which is uploaded tensor by tensor and owned
 * (freed) by the engine.
 *
 * Each pass (a prefill chunk or a decode step) is one `step`; in it every op is a named launch or copy
 * ("step 3 layer 0 RoPE Q"), run with `boundary.context = {step, layer, op}` so that the journal and
 * the findings place it. Streams: `compute` runs the pass; `copy` carries the device-to-host copies of
 * the logits and the sampled token, ordered after the pass by the `logitsReady` event recorded on
 * compute ("logits event") and waited for on copy ("logits wait"); the host then synchronizes the copy
 * stream ("logits sync"). Greedy sampling (argmax) runs on the device.
 *
 * The decode ops are built once (and their argument objects reused): with no hooks set, the scheduler
 * itself allocates nothing per decode step. Hooks (ops.ts) run before/after any op, or replace its
 * action.
 */
import {
  boundary,
  type Device,
  DeviceBuffer,
  DeviceSlice,
  type Event,
  launch,
  type OpContext,
} from "../../mod.ts";
import type { KernelDescriptor, PinnedBuffer, PointerValue, Stream } from "../../mod.ts";
import { attentionDecodeScratchFloats, llamaKernels as K, memcpy } from "../../mod.ts";
import { checkCompatible, formatMismatches, type LlamaConfig } from "../model/config.ts";
import type { LlamaGguf } from "../model/gguf.ts";
import { type Allocator, type DeviceWeight, GpuModel, uploadGguf } from "../model/gpu_model.ts";
import {
  DEFAULT_NUMERICS,
  dequantKernel,
  type EngineNumerics,
  type KvCacheType,
  kvElementBytes,
  kvKernels,
  matvecKernel,
  prefillGemm,
} from "./kernel_choice.ts";
import { EngineHooks, Op, type OpArgs, type OpName, type Phase, type ScheduledKind } from "./ops.ts";

/** Options of LlamaEngine.create. */
export interface EngineOptions {
  /** KV-cache rows: the most tokens (prompt + generated) one sequence may hold. */
  maxContext: number;
  /** When uploading a GGUF model: convert the 2-D weights to this type (default: as stored). */
  dtype?: "f32" | "f16";
  /** KV-cache element type: "f16" (default, half the bytes per token) or "f32". */
  kvCache?: KvCacheType;
  /** Tokens per prefill pass (activation rows); longer prompts run in chunks. Default min(maxContext, 128). */
  maxPrefill?: number;
  /**
   * The shapes the engine is built for (a Llama-2-7B build: {ffnDim: 11008, ...}). The kernels run with
   * these shapes over the model's buffers, as a compiled engine would. Default: the model's config.
   */
  engineConfig?: Partial<LlamaConfig>;
  /**
   * Checks the model's config against engineConfig before anything is allocated. Default: throw when
   * any key differs (checkCompatible). Pass e.g. the guard rail
   * `(m, e) => checkModelCompat(m, e, {mode: "warn"})`, or null to run an incompatible model unchecked.
   */
  modelCheck?: ((model: LlamaConfig, engine: Partial<LlamaConfig>) => void) | null;
  /** Copy the logits to the host each pass ("logits D2H"). Default true. */
  copyLogits?: boolean;
  /** Allocation of activations, KV cache and the weights of a GGUF model it uploads (default device.malloc with the buffer's name). */
  allocate?: Allocator;
}

const MAX_I32 = 0x7fffffff;

/** Which layer and pass an op is built for. */
interface LayerAt {
  l: number;
  phase: Phase;
  rows: number;
  /** Position of the first row (prefill). */
  start: number;
}

/** Where each pass's result lands on the host. */
interface HostSide {
  tokens: PinnedBuffer;
  tokensI32: Int32Array;
  pos: PinnedBuffer;
  posI32: Int32Array;
  next: PinnedBuffer;
  nextI32: Int32Array;
  logits: PinnedBuffer;
  logitsF32: Float32Array;
}

/**
 * The activations, scratch and KV caches (of `kv` elements) of an engine of `rows` prefill rows and
 * `maxContext` positions.
 */
function allocateActivations(
  buffers: Map<string, DeviceBuffer>,
  cfg: LlamaConfig,
  rows: number,
  maxContext: number,
  kv: KvCacheType,
  allocate: (bytes: number, name: string) => DeviceBuffer,
): void {
  const qDim = cfg.nHeads * cfg.headDim;
  const kvDim = cfg.nKvHeads * cfg.headDim;
  const floats: [string, number][] = [
    ["x", rows * cfg.dim],
    ["x_norm", rows * cfg.dim],
    ["q", rows * qDim],
    ["k", rows * kvDim],
    ["v", rows * kvDim],
    ["attn", rows * qDim],
    ["attn_out", rows * cfg.dim],
    ["gate", rows * cfg.ffnDim],
    ["up", rows * cfg.ffnDim],
    ["ffn_hidden", rows * cfg.ffnDim],
    ["ffn_out", rows * cfg.dim],
    ["attn_scratch", attentionDecodeScratchFloats(cfg.nHeads, cfg.headDim, maxContext)],
    ["logits", cfg.vocabSize],
  ];
  const alloc = (name: string, bytes: number) => buffers.set(name, allocate(bytes, name));
  alloc("tokens", rows * 4);
  alloc("d_pos", 4);
  for (const [name, n] of floats) alloc(name, n * 4);
  alloc("next_token", 4);
  for (let l = 0; l < cfg.nLayers; l++) {
    alloc(`k_cache.L${l}`, maxContext * kvDim * kvElementBytes(kv));
    alloc(`v_cache.L${l}`, maxContext * kvDim * kvElementBytes(kv));
  }
}

/**
 * The prefill GEMM path's buffers, when some weight takes it: x16 (an input of `rows` tokens as f16)
 * and, when some weight is quantized, w16 (the largest such weight as f16).
 */
function prefillBuffers(model: GpuModel, c: LlamaConfig, rows: number): [string, number][] {
  const out: [string, number][] = [];
  let gemm = false, w16 = 0;
  for (const w of model.weights.values()) {
    if (w.layout.kind !== "linear" || w.layout.layer < 0 || !prefillGemm(w.dtype)) continue;
    gemm = true;
    if (dequantKernel(w.dtype)) w16 = Math.max(w16, w.shape[0] * w.shape[1] * 2);
  }
  if (gemm) out.push(["x16", rows * Math.max(c.dim, c.nHeads * c.headDim, c.ffnDim) * 2]);
  if (w16 > 0) out.push(["w16", w16]);
  return out;
}

/** The pinned host buffers (tokens, position, next token, logits), each also pushed to `pinned`. */
function allocateHostSide(device: Device, cfg: LlamaConfig, rows: number, pinned: PinnedBuffer[]): HostSide {
  const host = (name: string, bytes: number) => {
    const p = device.hostAlloc(bytes, { name });
    pinned.push(p);
    return p;
  };
  const tokens = host("tokens_host", rows * 4);
  const pos = host("pos_host", 4);
  const next = host("next_token_host", 4);
  const logits = host("logits_host", cfg.vocabSize * 4);
  return {
    tokens,
    tokensI32: new Int32Array(tokens.buffer, 0, rows),
    pos,
    posI32: new Int32Array(pos.buffer, 0, 1),
    next,
    nextI32: new Int32Array(next.buffer, 0, 1),
    logits,
    logitsF32: new Float32Array(logits.buffer, 0, cfg.vocabSize),
  };
}

/** A Llama decode engine on one device: prefill and greedy decode through named ops on two streams, every op hookable. */
export class LlamaEngine {
  /** The device the engine runs on. */
  readonly device: Device;
  /** The model whose weights it runs. */
  readonly model: GpuModel;
  /** The shapes the kernels run with (the model's config overridden by engineConfig). */
  readonly config: LlamaConfig;
  /** KV-cache rows: the most tokens one sequence may hold. */
  readonly maxContext: number;
  /** Tokens per prefill pass. */
  readonly maxPrefill: number;
  /** Stream of the forward pass. */
  readonly compute: Stream;
  /** Stream of the logits and token device-to-host copies. */
  readonly copy: Stream;
  /** Recorded on compute after argmax; copy waits for it before copying. */
  readonly logitsReady: Event;
  /** Hooks before, after or instead of any op (plant a fault, skip a wait, add a copy). */
  readonly hooks: EngineHooks = new EngineHooks();
  /** Activations and KV cache by name ("x", "q", "d_pos", "k_cache.L3", "logits", ...). */
  readonly buffers: ReadonlyMap<string, DeviceBuffer>;
  /** Whether each pass copies the logits to the host. */
  readonly copyLogits: boolean;
  /** The KV cache's element type and what else runs below f32 (kernel_choice.ts). */
  readonly numerics: Readonly<EngineNumerics>;
  readonly #ownsModel: boolean;
  readonly #host: HostSide;
  readonly #decodeOps: Op[];
  readonly #attnDecodeArgs: { n_ctx: number }[] = [];
  readonly #ctx: OpContext = {};
  #step = 0;
  #pos = 0;
  #freed = false;

  /** Uploads the model when given a GGUF file, then allocates activations and caches. */
  static async create(
    device: Device,
    model: GpuModel | LlamaGguf,
    opts: EngineOptions,
  ): Promise<LlamaEngine> {
    const config = model.config;
    if (opts.engineConfig) {
      const check = opts.modelCheck === undefined ? defaultModelCheck : opts.modelCheck;
      check?.(config, opts.engineConfig);
    }
    if (model instanceof GpuModel) return new LlamaEngine(device, model, opts, false);
    const uploaded = await uploadGguf(device, model, { dtype: opts.dtype, allocate: opts.allocate });
    try {
      return new LlamaEngine(device, uploaded, opts, true);
    } catch (e) {
      uploaded.free();
      throw e;
    }
  }

  private constructor(device: Device, model: GpuModel, opts: EngineOptions, ownsModel: boolean) {
    if (model.freed) throw new Error("LlamaEngine: the model's buffers were already freed");
    if (!Number.isInteger(opts.maxContext) || opts.maxContext <= 0 || opts.maxContext > MAX_I32) {
      throw new RangeError(`LlamaEngine: maxContext must be a positive integer, got ${opts.maxContext}`);
    }
    this.device = device;
    this.model = model;
    this.#ownsModel = ownsModel;
    const cfg: LlamaConfig = { ...model.config, ...opts.engineConfig };
    if (opts.engineConfig?.headDim === undefined) cfg.headDim = cfg.dim / cfg.nHeads;
    this.config = cfg;
    this.maxContext = opts.maxContext;
    this.maxPrefill = Math.max(1, Math.min(opts.maxPrefill ?? 128, opts.maxContext));
    this.copyLogits = opts.copyLogits ?? true;
    const kv = opts.kvCache ?? DEFAULT_NUMERICS.kv;
    if (kv !== "f16" && kv !== "f32") {
      throw new RangeError(`LlamaEngine: kvCache must be f16 or f32, got ${kv}`);
    }
    this.numerics = { ...DEFAULT_NUMERICS, kv };
    const allocate = opts.allocate ?? ((bytes: number, name: string) => device.malloc(bytes, { name }));

    const buffers = new Map<string, DeviceBuffer>();
    const pinned: PinnedBuffer[] = [];
    let compute: Stream | null = null;
    let copy: Stream | null = null;
    let event: Event | null = null;
    try {
      allocateActivations(buffers, cfg, this.maxPrefill, this.maxContext, kv, allocate);
      for (const [name, bytes] of prefillBuffers(model, cfg, this.maxPrefill)) {
        buffers.set(name, allocate(bytes, name));
      }
      this.#host = allocateHostSide(device, cfg, this.maxPrefill, pinned);
      compute = device.createStream();
      copy = device.createStream();
      event = device.createEvent();
    } catch (e) {
      for (const b of buffers.values()) if (!b.freed) b.free();
      for (const p of pinned) if (!p.freed) p.free();
      copy?.destroy();
      compute?.destroy();
      throw e;
    }
    this.buffers = buffers;
    this.compute = compute;
    this.copy = copy;
    this.logitsReady = event;
    try {
      this.#decodeOps = this.#buildDecodeOps();
    } catch (e) {
      this.#freed = true;
      this.#release(false);
      throw e;
    }
  }

  /** Tokens in the KV cache: the position the next token is written at. */
  get position(): number {
    return this.#pos;
  }

  /** The step the next pass runs as. */
  get step(): number {
    return this.#step;
  }

  /** Whether free() was called. */
  get freed(): boolean {
    return this.#freed;
  }

  /** A buffer by name (activations, caches); throws when there is none. */
  buffer(name: string): DeviceBuffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`LlamaEngine: no buffer named ${name}`);
    return b;
  }

  /** The decode ops, in order (built once; `step`/`pos` show the last run). */
  get decodeOps(): readonly Op[] {
    return this.#decodeOps;
  }

  /** The logits of the last pass (a copy of the pinned host buffer). */
  logits(): Float32Array {
    return this.#host.logitsF32.slice();
  }

  /** Forgets the sequence: the next prefill starts at position 0 and step 0. */
  reset(): void {
    this.#pos = 0;
    this.#step = 0;
  }

  /**
   * Runs the prompt through the model (chunks of maxPrefill tokens; host positions) and returns the
   * greedy next token.
   */
  prefill(tokens: ArrayLike<number>): number {
    this.#live();
    const n = tokens.length;
    if (n === 0) throw new RangeError("prefill: no tokens");
    if (this.#pos + n > this.maxContext) {
      throw new RangeError(
        `prefill: ${n} tokens at position ${this.#pos} exceed maxContext ${this.maxContext}`,
      );
    }
    for (let i = 0; i < n; i++) checkToken(tokens[i], "prefill");
    for (let start = 0; start < n; start += this.maxPrefill) {
      const len = Math.min(this.maxPrefill, n - start);
      const last = start + len === n;
      // tokens_host is reused: the previous chunk's token upload must have run
      if (start > 0) this.compute.synchronize();
      for (let i = 0; i < len; i++) this.#host.tokensI32[i] = tokens[start + i];
      const ops = this.#buildPrefillOps(len, this.#pos, last);
      this.#run(ops, this.#step, this.#pos);
      this.#step++;
      this.#pos += len;
    }
    return this.#host.nextI32[0];
  }

  /** Runs one token at the current position (device-side position, matvec kernels); returns the next token. */
  decodeStep(token: number): number {
    this.#live();
    checkToken(token, "decodeStep");
    const pos = this.#pos;
    if (pos >= this.maxContext) {
      throw new RangeError(`decodeStep: position ${pos} is past maxContext ${this.maxContext}`);
    }
    this.#host.tokensI32[0] = token;
    this.#host.posI32[0] = pos;
    const attn = this.#attnDecodeArgs;
    for (let i = 0; i < attn.length; i++) attn[i].n_ctx = pos + 1;
    this.#run(this.#decodeOps, this.#step, pos);
    this.#step++;
    this.#pos = pos + 1;
    return this.#host.nextI32[0];
  }

  /** Prefill `prompt`, then decode: returns the `n` generated tokens (the prefill's is the first). */
  generate(prompt: ArrayLike<number>, n: number): number[] {
    const out: number[] = [];
    if (n <= 0) return out;
    let t = this.prefill(prompt);
    out.push(t);
    while (out.length < n) {
      t = this.decodeStep(t);
      out.push(t);
    }
    return out;
  }

  /**
   * Waits for both streams, then frees activations, caches, pinned buffers, streams, the event, and the
   * model if the engine uploaded it. Every release is attempted; the first error is thrown after.
   */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    const err = this.#release(true);
    if (err !== null) throw err;
  }

  /** free(), except that after a device fault (a poisoned context) errors are not thrown: the fault was reported where it surfaced. */
  [Symbol.dispose](): void {
    try {
      this.free();
    } catch (e) {
      let faulted = true;
      try {
        faulted = this.device.faultInfo() !== null;
      } catch { /* a query that fails means the context is gone */ }
      if (!faulted) throw e;
    }
  }

  #release(sync: boolean): unknown {
    let first: unknown = null;
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        first ??= e;
      }
    };
    if (sync) {
      attempt(() => this.compute.synchronize());
      attempt(() => this.copy.synchronize());
    }
    for (const b of this.buffers.values()) if (!b.freed) attempt(() => b.free());
    const h = this.#host;
    for (const p of [h.tokens, h.pos, h.next, h.logits]) if (!p.freed) attempt(() => p.free());
    attempt(() => this.logitsReady.destroy());
    attempt(() => this.copy.destroy());
    attempt(() => this.compute.destroy());
    if (this.#ownsModel) attempt(() => this.model.free());
    return first;
  }

  // ---- running ----

  #run(ops: Op[], step: number, pos: number): void {
    const ctx = this.#ctx;
    const hooks = this.hooks;
    const prev = boundary.context;
    try {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        op.step = step;
        op.pos = pos;
        ctx.step = step;
        ctx.layer = op.layer >= 0 ? op.layer : undefined;
        ctx.op = op.name;
        boundary.context = ctx;
        if (hooks.empty) op.run(op.args);
        else hooks.run(op);
      }
    } finally {
      boundary.context = prev;
    }
  }

  #live(): void {
    if (this.#freed) throw new Error("LlamaEngine: already freed");
  }

  // ---- building ops ----

  #launchOp(name: OpName, layer: number, phase: Phase, kernel: KernelDescriptor, args: OpArgs): Op {
    const device = this.device;
    const stream = this.compute;
    return new Op(
      name,
      layer,
      phase,
      "launch",
      stream,
      kernel,
      args,
      (a) => launch(device, stream, kernel, a as never),
    );
  }

  #otherOp(name: OpName, phase: Phase, kind: ScheduledKind, stream: Stream, args: OpArgs): Op {
    const device = this.device;
    let run: (a: OpArgs) => void;
    switch (kind) {
      case "h2d":
        run = (a) => {
          const src = a.src as PinnedBuffer;
          const bytes = a.bytes as number;
          const dst = a.dst as PointerValue;
          if (dst instanceof DeviceBuffer) dst.upload(src, { bytes, stream });
          else if (dst instanceof DeviceSlice) dst.buffer.upload(src, { offset: dst.offset, bytes, stream });
          else memcpy(device, dst, src.ptr, bytes, 1, stream.handle, false, name, src.ptr);
        };
        break;
      case "d2h":
        run = (a) => {
          const dst = a.dst as PinnedBuffer;
          const bytes = a.bytes as number;
          const src = a.src as PointerValue;
          if (src instanceof DeviceBuffer) src.download(dst, { bytes, stream });
          else if (src instanceof DeviceSlice) {
            src.buffer.download(dst, { offset: src.offset, bytes, stream });
          } else memcpy(device, dst.ptr, src, bytes, 2, stream.handle, false, name, dst.ptr);
        };
        break;
      case "event_record":
        run = (a) => (a.event as Event).record(stream);
        break;
      case "event_wait":
        run = (a) => stream.waitEvent(a.event as Event);
        break;
      case "sync":
        run = () => stream.synchronize();
        break;
      default:
        throw new Error(`op kind ${kind} is not a copy, event or sync`);
    }
    return new Op(name, -1, phase, kind, stream, null, args, run);
  }

  #weight(name: string): DeviceWeight {
    return this.model.weight(name);
  }

  /** The block ops of one layer, for `rows` tokens (decode: rows 1, device position). */
  #layerOps(l: number, phase: Phase, rows: number, start: number, ops: Op[]): void {
    const c = this.config;
    const at: LayerAt = { l, phase, rows, start };
    const w = (n: string) => this.#weight(`blk.${l}.${n}.weight`);
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    // in file order, so that the first missing tensor is the one named
    const attnNorm = w("attn_norm");
    const [q, k, v, o] = [w("attn_q"), w("attn_k"), w("attn_v"), w("attn_output")];
    const ffnNorm = w("ffn_norm");
    const [gate, up, down] = [w("ffn_gate"), w("ffn_up"), w("ffn_down")];
    ops.push(
      this.#normOp(at, "RMSNorm attn", attnNorm),
      ...this.#inputF16Ops(at, "QKV in f16", "x_norm", c.dim, [q, k, v]),
      ...this.#projOps(at, "Q proj", "q", q, "x_norm", qDim, c.dim),
      ...this.#projOps(at, "K proj", "k", k, "x_norm", kvDim, c.dim),
      ...this.#projOps(at, "V proj", "v", v, "x_norm", kvDim, c.dim),
      this.#ropeOp(at, "RoPE Q", "q", c.nHeads),
      this.#ropeOp(at, "RoPE K", "k", c.nKvHeads),
      this.#kvAppendOp(at),
      this.#attentionOp(at),
      ...this.#inputF16Ops(at, "O in f16", "attn", qDim, [o]),
      ...this.#projOps(at, "O proj", "attn_out", o, "attn", c.dim, qDim),
      this.#addOp(at, "residual attn", "attn_out", rows * c.dim),
      this.#normOp(at, "RMSNorm ffn", ffnNorm),
      ...this.#inputF16Ops(at, "FFN in f16", "x_norm", c.dim, [gate, up]),
      ...this.#projOps(at, "gate proj", "gate", gate, "x_norm", c.ffnDim, c.dim),
      ...this.#projOps(at, "up proj", "up", up, "x_norm", c.ffnDim, c.dim),
      this.#launchOp("SiLU mul", l, phase, K.siluMul, {
        out: this.buffer("ffn_hidden"),
        gate: this.buffer("gate"),
        up: this.buffer("up"),
        n: rows * c.ffnDim,
      }),
      ...this.#inputF16Ops(at, "down in f16", "ffn_hidden", c.ffnDim, [down]),
      ...this.#projOps(at, "down proj", "ffn_out", down, "ffn_hidden", c.dim, c.ffnDim),
      this.#addOp(at, "residual ffn", "ffn_out", rows * c.dim),
    );
  }

  /**
   * y = W x: the mat-vec of the weight's type when decoding; in prefill matmul_f32 for f32 weights,
   * else the GEMM path (kernel_choice.ts): quantized weights dequantized into w16, then gemm_f16
   * over x16 (#inputF16Ops).
   */
  #projOps(
    at: LayerAt,
    name: ProjName,
    y: string,
    weight: DeviceWeight,
    x: string,
    outDim: number,
    inDim: number,
  ): Op[] {
    const args = { y: this.buffer(y), w: weight.buffer, x: this.buffer(x), out_dim: outDim, in_dim: inDim };
    if (at.phase === "decode") {
      return [this.#launchOp(name, at.l, at.phase, matvecKernel(weight.dtype), args)];
    }
    if (!prefillGemm(weight.dtype)) {
      return [this.#launchOp(name, at.l, at.phase, K.matmulF32, { ...args, n_tokens: at.rows })];
    }
    const ops: Op[] = [];
    let w16 = weight.buffer;
    const dequant = dequantKernel(weight.dtype);
    if (dequant) {
      w16 = this.buffer("w16");
      const d = { out: w16, w: weight.buffer, rows: outDim, cols: inDim };
      ops.push(this.#launchOp(DEQUANT_OP[name], at.l, at.phase, dequant, d));
    }
    const gemm = { ...args, w: w16, x: this.buffer("x16"), n_tokens: at.rows };
    ops.push(this.#launchOp(name, at.l, at.phase, K.gemmF16, gemm));
    return ops;
  }

  /** Prefill: `x` rounded to f16 into x16, when one of the projections reading it takes the GEMM path. */
  #inputF16Ops(at: LayerAt, name: OpName, x: string, width: number, readers: DeviceWeight[]): Op[] {
    if (at.phase === "decode" || !readers.some((r) => prefillGemm(r.dtype))) return [];
    const args = { out: this.buffer("x16"), x: this.buffer(x), n: at.rows * width };
    return [this.#launchOp(name, at.l, at.phase, K.convertF16, args)];
  }

  #normOp(at: LayerAt, name: OpName, weight: DeviceWeight): Op {
    const c = this.config;
    return this.#launchOp(name, at.l, at.phase, K.rmsnorm, {
      out: this.buffer("x_norm"),
      x: this.buffer("x"),
      weight: weight.buffer,
      rows: at.rows,
      dim: c.dim,
      eps: c.normEps,
    });
  }

  /** RoPE of `x`: at the device-side position when decoding, from `start` otherwise. */
  #ropeOp(at: LayerAt, name: OpName, x: string, heads: number): Op {
    const c = this.config;
    const common = { x: this.buffer(x), heads, head_dim: c.headDim, freq_base: c.ropeBase };
    return at.phase === "decode"
      ? this.#launchOp(name, at.l, at.phase, K.ropeDpos, { ...common, seq_len: 1, pos: this.buffer("d_pos") })
      : this.#launchOp(name, at.l, at.phase, K.rope, { ...common, seq_len: at.rows, pos_offset: at.start });
  }

  #kvAppendOp(at: LayerAt): Op {
    const c = this.config;
    const kv = {
      k_cache: this.buffer(`k_cache.L${at.l}`),
      v_cache: this.buffer(`v_cache.L${at.l}`),
      k: this.buffer("k"),
      v: this.buffer("v"),
      seq_len: at.rows,
      n_head_kv: c.nKvHeads,
      head_dim: c.headDim,
    };
    const kernels = kvKernels(this.numerics.kv);
    return at.phase === "decode"
      ? this.#launchOp("KV append", at.l, at.phase, kernels.appendDpos, {
        ...kv,
        pos: this.buffer("d_pos"),
        ctx_len: this.maxContext,
      })
      : this.#launchOp("KV append", at.l, at.phase, kernels.append, {
        ...kv,
        pos_offset: at.start,
        ctx_len: this.maxContext,
      });
  }

  /** Attention over the cache: decode keeps its args to update n_ctx every step. */
  #attentionOp(at: LayerAt): Op {
    const c = this.config;
    const common = {
      out: this.buffer("attn"),
      q: this.buffer("q"),
      k_cache: this.buffer(`k_cache.L${at.l}`),
      v_cache: this.buffer(`v_cache.L${at.l}`),
    };
    if (at.phase === "decode") {
      const args = {
        ...common,
        scratch: this.buffer("attn_scratch"),
        n_head: c.nHeads,
        n_head_kv: c.nKvHeads,
        head_dim: c.headDim,
        n_ctx: 1,
      };
      this.#attnDecodeArgs.push(args);
      return this.#launchOp("attention", at.l, at.phase, kvKernels(this.numerics.kv).decode, args);
    }
    return this.#launchOp("attention", at.l, at.phase, kvKernels(this.numerics.kv).prefill, {
      ...common,
      seq_len: at.rows,
      n_head: c.nHeads,
      n_head_kv: c.nKvHeads,
      head_dim: c.headDim,
      n_ctx: at.start + at.rows,
    });
  }

  /** x += `other` over n floats. */
  #addOp(at: LayerAt, name: OpName, other: string, n: number): Op {
    return this.#launchOp(name, at.l, at.phase, K.add, {
      out: this.buffer("x"),
      a: this.buffer("x"),
      b: this.buffer(other),
      n,
    });
  }

  /** Token upload and embedding for `rows` tokens. */
  #headOps(phase: Phase, rows: number, ops: Op[]): void {
    const c = this.config;
    const h = this.#host;
    ops.push(this.#otherOp("token H2D", phase, "h2d", this.compute, {
      dst: this.buffer("tokens"),
      src: h.tokens,
      bytes: rows * 4,
    }));
    if (phase === "decode") {
      ops.push(
        this.#otherOp("pos H2D", phase, "h2d", this.compute, {
          dst: this.buffer("d_pos"),
          src: h.pos,
          bytes: 4,
        }),
      );
    }
    const table = this.#weight("token_embd.weight");
    ops.push(this.#launchOp("embed", -1, phase, table.dtype === "f16" ? K.embedF16 : K.embedF32, {
      out: this.buffer("x"),
      table: table.buffer,
      tokens: this.buffer("tokens"),
      n_tokens: rows,
      dim: c.dim,
      vocab: c.vocabSize,
    }));
  }

  /** Final norm of the last row, logits, argmax, and the copies to the host on the copy stream. */
  #tailOps(phase: Phase, lastRow: number, ops: Op[]): void {
    const c = this.config;
    const h = this.#host;
    const x = this.buffer("x");
    const out = this.model.outputWeight;
    ops.push(this.#launchOp("final RMSNorm", -1, phase, K.rmsnorm, {
      out: this.buffer("x_norm"),
      x: lastRow === 0 ? x : x.at(lastRow * c.dim * 4),
      weight: this.#weight("output_norm.weight").buffer,
      rows: 1,
      dim: c.dim,
      eps: c.normEps,
    }));
    ops.push(this.#launchOp("logits proj", -1, phase, matvecKernel(out.dtype), {
      y: this.buffer("logits"),
      w: out.buffer,
      x: this.buffer("x_norm"),
      out_dim: c.vocabSize,
      in_dim: c.dim,
    }));
    ops.push(this.#launchOp("argmax", -1, phase, K.argmax, {
      out: this.buffer("next_token"),
      x: this.buffer("logits"),
      rows: 1,
      n: c.vocabSize,
    }));
    ops.push(this.#otherOp("logits event", phase, "event_record", this.compute, { event: this.logitsReady }));
    ops.push(this.#otherOp("logits wait", phase, "event_wait", this.copy, { event: this.logitsReady }));
    if (this.copyLogits) {
      ops.push(this.#otherOp("logits D2H", phase, "d2h", this.copy, {
        src: this.buffer("logits"),
        dst: h.logits,
        bytes: c.vocabSize * 4,
      }));
    }
    ops.push(this.#otherOp("token D2H", phase, "d2h", this.copy, {
      src: this.buffer("next_token"),
      dst: h.next,
      bytes: 4,
    }));
    ops.push(this.#otherOp("logits sync", phase, "sync", this.copy, {}));
  }

  #buildDecodeOps(): Op[] {
    const ops: Op[] = [];
    this.#headOps("decode", 1, ops);
    for (let l = 0; l < this.config.nLayers; l++) this.#layerOps(l, "decode", 1, 0, ops);
    this.#tailOps("decode", 0, ops);
    return ops;
  }

  #buildPrefillOps(rows: number, start: number, last: boolean): Op[] {
    const ops: Op[] = [];
    this.#headOps("prefill", rows, ops);
    for (let l = 0; l < this.config.nLayers; l++) this.#layerOps(l, "prefill", rows, start, ops);
    if (last) this.#tailOps("prefill", rows - 1, ops);
    return ops;
  }
}

type ProjName = "Q proj" | "K proj" | "V proj" | "O proj" | "gate proj" | "up proj" | "down proj";

/** The op that dequantizes a projection's weights to f16 before its prefill GEMM. */
const DEQUANT_OP: Record<ProjName, OpName> = {
  "Q proj": "Q dequant",
  "K proj": "K dequant",
  "V proj": "V dequant",
  "O proj": "O dequant",
  "gate proj": "gate dequant",
  "up proj": "up dequant",
  "down proj": "down dequant",
};

function checkToken(t: number, what: string): void {
  if (!Number.isInteger(t) || t < -0x80000000 || t > MAX_I32) {
    throw new RangeError(`${what}: token ${t} is not an int32`);
  }
}

function defaultModelCheck(model: LlamaConfig, engine: Partial<LlamaConfig>): void {
  const ms = checkCompatible(model, engine);
  if (ms.length) {
    throw new Error(
      `model incompatible with the engine build (pass modelCheck: null to run it anyway):\n${
        formatMismatches(ms)
      }`,
    );
  }
}
