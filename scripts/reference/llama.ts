/**
 * Float64 references of the llama decode kernels (ffi/kernels_llama.ts): the
 * definitions the GPU kernels and the sim backend's C references are tested
 * against (tests/kernels/*.test.ts). Inputs are the values the kernels see
 * (f32 or f16 values widened to float64); every result is float64.
 *
 * Layouts: row-major; x [seq_len, heads, head_dim]; KV cache [ctx, n_head_kv, head_dim].
 */

export type Vec = ArrayLike<number>;

/** out[t, :] = table[tokens[t], :]; a row of NaN for an id outside [0, vocab). */
export function embed(table: Vec, tokens: Vec, dim: number, vocab: number): Float64Array {
  const out = new Float64Array(tokens.length * dim);
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t];
    for (let i = 0; i < dim; i++) out[t * dim + i] = tok >= 0 && tok < vocab ? table[tok * dim + i] : NaN;
  }
  return out;
}

/** out[r, i] = x[r, i] / sqrt(mean(x[r, :]^2) + eps) * weight[i]. */
export function rmsnorm(x: Vec, weight: Vec, rows: number, dim: number, eps: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const scale = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * scale * weight[i];
  }
  return out;
}

/** y[t, o] = sum_i w[o, i] x[t, i]; W [out_dim, in_dim]. matvec is n_tokens = 1. */
export function matmul(w: Vec, x: Vec, nTokens: number, outDim: number, inDim: number): Float64Array {
  const y = new Float64Array(nTokens * outDim);
  for (let t = 0; t < nTokens; t++) {
    for (let o = 0; o < outDim; o++) {
      let acc = 0;
      const wo = o * inDim, xt = t * inDim;
      for (let i = 0; i < inDim; i++) acc += w[wo + i] * x[xt + i];
      y[t * outDim + o] = acc;
    }
  }
  return y;
}

/**
 * RoPE, GGML "normal" mode (llama GGUF): pairs (2i, 2i+1) of each head rotate by
 * theta = (pos_offset + s) * base^(-2i/head_dim).
 */
export function rope(
  x: Vec,
  seqLen: number,
  heads: number,
  headDim: number,
  posOffset: number,
  freqBase: number,
): Float64Array {
  const out = Float64Array.from(x);
  for (let s = 0; s < seqLen; s++) {
    const pos = posOffset + s;
    for (let i = 0; i < headDim / 2; i++) {
      const theta = pos * freqBase ** (-2 * i / headDim);
      const c = Math.cos(theta), sn = Math.sin(theta);
      for (let h = 0; h < heads; h++) {
        const p = (s * heads + h) * headDim + 2 * i;
        const x0 = x[p], x1 = x[p + 1];
        out[p] = x0 * c - x1 * sn;
        out[p + 1] = x0 * sn + x1 * c;
      }
    }
  }
  return out;
}

/**
 * Causal attention: query s of seq_len (position n_ctx - seq_len + s) over cache
 * rows 0 ..= that position; head h reads KV head h / (n_head / n_head_kv);
 * scale 1/sqrt(head_dim). Decode is seq_len = 1.
 */
export function attention(
  q: Vec,
  kCache: Vec,
  vCache: Vec,
  seqLen: number,
  nHead: number,
  nHeadKv: number,
  headDim: number,
  nCtx: number,
): Float64Array {
  const D = headDim, group = nHead / nHeadKv, row = nHeadKv * D;
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(seqLen * nHead * D);
  const w = new Float64Array(nCtx);
  for (let s = 0; s < seqLen; s++) {
    const last = nCtx - seqLen + s;
    for (let h = 0; h < nHead; h++) {
      const qo = (s * nHead + h) * D, hk = Math.floor(h / group);
      let m = -Infinity;
      for (let j = 0; j <= last; j++) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += q[qo + i] * kCache[j * row + hk * D + i];
        w[j] = dot * scale;
        if (w[j] > m) m = w[j];
      }
      let l = 0;
      for (let j = 0; j <= last; j++) {
        w[j] = Math.exp(w[j] - m);
        l += w[j];
      }
      for (let i = 0; i < D; i++) {
        let acc = 0;
        for (let j = 0; j <= last; j++) acc += w[j] * vCache[j * row + hk * D + i];
        out[qo + i] = acc / l;
      }
    }
  }
  return out;
}

/** The caches after appending seq_len rows of k and v at pos_offset (rows outside [0, ctx_len) skipped). */
export function kvAppend(
  kCache: Vec,
  vCache: Vec,
  k: Vec,
  v: Vec,
  seqLen: number,
  nHeadKv: number,
  headDim: number,
  posOffset: number,
  ctxLen: number,
): { k: Float64Array; v: Float64Array } {
  const row = nHeadKv * headDim;
  const ko = Float64Array.from(kCache), vo = Float64Array.from(vCache);
  for (let s = 0; s < seqLen; s++) {
    const pos = posOffset + s;
    if (pos < 0 || pos >= ctxLen) continue;
    for (let i = 0; i < row; i++) {
      ko[pos * row + i] = k[s * row + i];
      vo[pos * row + i] = v[s * row + i];
    }
  }
  return { k: ko, v: vo };
}

/** out = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
export function siluMul(gate: Vec, up: Vec): Float64Array {
  const out = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
  return out;
}

/** out = a + b. */
export function add(a: Vec, b: Vec): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** First index of the max of each row (NaN ignored; -1 when the row is all NaN). */
export function argmax(x: Vec, rows: number, n: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -1, bv = 0;
    for (let i = 0; i < n; i++) {
      const v = x[r * n + i];
      if (Number.isNaN(v)) continue;
      if (best < 0 || v > bv) {
        best = i;
        bv = v;
      }
    }
    out[r] = best;
  }
  return out;
}

/** ‖out − ref‖ / ‖ref‖ over the elements; Infinity when `out` has a NaN or an infinity where `ref` is finite. */
export function relativeError(out: Vec, ref: Vec): number {
  if (out.length !== ref.length) throw new Error(`length ${out.length} != ${ref.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(out[i])) return Infinity;
    num += (out[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}
