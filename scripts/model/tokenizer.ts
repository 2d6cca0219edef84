/**
 * Text to token ids and back, from a GGUF file's vocabulary (tokenizer.ggml.*), as llama.cpp reads it:
 *
 * - "llama" (SentencePiece): spaces become "▁" (and one is put in front when add_space_prefix, the
 *   default), pieces merge by score (tokenizer_spm.ts), characters that are no piece fall back to
 *   their bytes' <0xXX> tokens;
 * - "gpt2" (byte-level BPE, Llama 3): the pre-tokenizer named by tokenizer.ggml.pre (default, gpt2,
 *   llama-bpe), then merges by rank (tokenizer_bpe.ts).
 *
 * decode(encode(text)) is the text again (for "llama", except a literal "▁", which reads back as a
 * space). Control tokens (<s>, </s>) decode to nothing; a BOS is put first when add_bos_token says so
 * (the default for "llama").
 *
 *   const tok = Tokenizer.fromGguf((await openLlamaGguf("m.gguf")).file);
 *   const ids = tok.encode("Hello, world");   // [1, ...]
 *   tok.decode(ids);                           // "Hello, world"
 */
import type { GgufFile } from "./gguf_file.ts";
import { GgufError } from "./gguf_error.ts";
import { bpeEncode, type BpeVocab, byteAlphabet, PRE_TOKENIZERS } from "./tokenizer_bpe.ts";
import { spmEncode, type SpmVocab } from "./tokenizer_spm.ts";
import { byteTokenText, TokenType } from "./synth_vocab.ts";

export interface Vocabulary {
  /** tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE). */
  model: "llama" | "gpt2";
  tokens: readonly string[];
  scores?: readonly number[];
  /** llama.cpp token types (synth_vocab.ts TokenType); absent: byte tokens are told by their text. */
  types?: readonly number[];
  /** BPE merges, "a b", in rank order. */
  merges?: readonly string[];
  /** BPE pre-tokenizer (tokenizer.ggml.pre). */
  pre?: string;
  bos?: number;
  eos?: number;
  unk?: number;
  addBos?: boolean;
  addSpacePrefix?: boolean;
}

const SPACE = "▁";
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const ALPHABET = byteAlphabet();

export class Tokenizer {
  readonly vocab: Vocabulary;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly addBos: boolean;
  readonly #spm: SpmVocab | null = null;
  readonly #bpe: BpeVocab | null = null;
  /** Per token: its bytes when decoded (control tokens: none). */
  readonly #bytes: Uint8Array[];

  constructor(v: Vocabulary) {
    this.vocab = v;
    this.bos = v.bos;
    this.eos = v.eos;
    this.addBos = v.addBos ?? v.model === "llama";
    const ids = new Map<string, number>();
    v.tokens.forEach((t, i) => ids.has(t) || ids.set(t, i));
    if (v.model === "llama") this.#spm = spmVocab(v, ids);
    else this.#bpe = bpeVocab(v, ids);
    this.#bytes = v.tokens.map((t, i) => this.#tokenBytes(t, i));
  }

  /** The vocabulary of a GGUF file (tokenizer.ggml.model, tokens, scores, token_type, merges, ids). */
  static fromGguf(file: GgufFile): Tokenizer {
    return new Tokenizer(vocabularyOf(file));
  }

  get vocabSize(): number {
    return this.vocab.tokens.length;
  }

  /** Token ids of `text`; a BOS first when the vocabulary adds one (or `bos` says so). */
  encode(text: string, opts: { bos?: boolean } = {}): number[] {
    const out: number[] = [];
    if ((opts.bos ?? this.addBos) && this.bos !== undefined) out.push(this.bos);
    if (text.length === 0) return out;
    if (this.#spm) {
      const prefix = (this.vocab.addSpacePrefix ?? true) ? SPACE : "";
      out.push(...spmEncode(prefix + text.replaceAll(" ", SPACE), this.#spm));
    } else out.push(...bpeEncode(text, this.#bpe!));
    return out;
  }

  /** The text of token ids (control tokens give nothing; bytes that are not UTF-8 give U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.#bytes.length) {
        throw new RangeError(`token ${id} is outside the vocabulary (0..${this.#bytes.length - 1})`);
      }
      parts.push(this.#bytes[id]);
      n += this.#bytes[id].length;
    }
    const all = new Uint8Array(n);
    let at = 0;
    for (const p of parts) all.set(p, (at += p.length) - p.length);
    if (!this.#spm) return new TextDecoder().decode(all);
    // "▁" reads as a space whether it came as a piece or, where the vocabulary lacks it, as bytes
    const text = new TextDecoder().decode(all).replaceAll(SPACE, " ");
    return (this.vocab.addSpacePrefix ?? true) && text.startsWith(" ") ? text.slice(1) : text;
  }

  #tokenBytes(t: string, id: number): Uint8Array {
    const type = this.vocab.types?.[id];
    if (type === TokenType.CONTROL || id === this.bos || id === this.eos) return new Uint8Array(0);
    if (this.#bpe) {
      const bytes: number[] = [];
      for (const ch of t) {
        const b = ALPHABET.toByte.get(ch);
        if (b === undefined) return new TextEncoder().encode(t); // a special token spelled as text
        bytes.push(b);
      }
      return Uint8Array.from(bytes);
    }
    const byte = BYTE_TOKEN.exec(t);
    if (byte && (type === undefined || type === TokenType.BYTE)) return Uint8Array.of(parseInt(byte[1], 16));
    if (type === TokenType.UNKNOWN || (type === undefined && id === this.#spm?.unk)) {
      return new TextEncoder().encode("\uFFFD");
    }
    return new TextEncoder().encode(t);
  }
}

function spmVocab(v: Vocabulary, ids: Map<string, number>): SpmVocab {
  const byteIds = Array.from({ length: 256 }, (_, b) => ids.get(byteTokenText(b)) ?? -1);
  // llama.cpp's default unknown token for SentencePiece vocabularies is <unk> at 0
  const unk = v.unk ?? (v.tokens[0] === "<unk>" ? 0 : -1);
  return { ids, scores: v.scores ?? [], byteIds, unk };
}

function bpeVocab(v: Vocabulary, ids: Map<string, number>): BpeVocab {
  const pre = v.pre ?? "default";
  const pattern = PRE_TOKENIZERS[pre === "llama3" ? "llama-bpe" : pre];
  if (!pattern) {
    throw new RangeError(
      `BPE pre-tokenizer ${JSON.stringify(pre)} is not supported (${Object.keys(PRE_TOKENIZERS).join(", ")})`,
    );
  }
  const ranks = new Map((v.merges ?? []).map((m, i) => [m, i]));
  return { ids, ranks, pattern, toChar: ALPHABET.toChar };
}

/** The Vocabulary a GGUF file's tokenizer.ggml.* metadata describes. */
export function vocabularyOf(file: GgufFile): Vocabulary {
  const m = file.metadata;
  const fail = (problem: string) => new GgufError(file.path, "bad-metadata", problem);
  const model = m["tokenizer.ggml.model"];
  if (model !== "llama" && model !== "gpt2") {
    throw fail(
      model === undefined
        ? "no tokenizer.ggml.model: the file has no vocabulary to tokenize text with"
        : `tokenizer.ggml.model is ${
          JSON.stringify(model)
        }; faultline tokenizes "llama" and "gpt2" vocabularies`,
    );
  }
  const tokens = m["tokenizer.ggml.tokens"];
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== "string")) {
    throw fail("tokenizer.ggml.tokens is missing or not an array of strings");
  }
  const numbers = (key: string) => {
    const a = m[key];
    return Array.isArray(a) ? a.map(Number) : undefined;
  };
  const id = (key: string) => (m[key] === undefined ? undefined : Number(m[key]));
  const flag = (key: string) => (typeof m[key] === "boolean" ? m[key] as boolean : undefined);
  const merges = m["tokenizer.ggml.merges"];
  return {
    model,
    tokens: tokens as string[],
    scores: numbers("tokenizer.ggml.scores"),
    types: numbers("tokenizer.ggml.token_type"),
    merges: Array.isArray(merges) ? merges as string[] : undefined,
    pre: typeof m["tokenizer.ggml.pre"] === "string" ? m["tokenizer.ggml.pre"] as string : undefined,
    bos: id("tokenizer.ggml.bos_token_id"),
    eos: id("tokenizer.ggml.eos_token_id"),
    unk: id("tokenizer.ggml.unknown_token_id"),
    addBos: flag("tokenizer.ggml.add_bos_token"),
    addSpacePrefix: flag("tokenizer.ggml.add_space_prefix"),
  };
}
