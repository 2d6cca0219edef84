/**
 * Byte-level BPE as GPT-2 and Llama 3 GGUF vocabularies ("gpt2" tokenizers) use it: the text is split
 * by the pre-tokenizer's pattern, each piece's UTF-8 bytes are spelled in GPT-2's byte alphabet (a
 * printable character per byte), and the merges are applied by rank (lowest first).
 */

/** GPT-2's byte alphabet: printable bytes stand for themselves, the others map past U+0100. */
export function byteAlphabet(): { toChar: string[]; toByte: Map<string, number> } {
  const toChar: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    toChar[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return { toChar, toByte: new Map(toChar.map((c, b) => [c, b])) };
}

/** Pre-tokenizer patterns by tokenizer.ggml.pre. */
export const PRE_TOKENIZERS: Readonly<Record<string, RegExp>> = {
  default: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  gpt2: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  "llama-bpe":
    /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
};

export interface BpeVocab {
  ids: ReadonlyMap<string, number>;
  /** Rank of each merge "a b" (lower merges first). */
  ranks: ReadonlyMap<string, number>;
  pattern: RegExp;
  toChar: readonly string[];
}

/** Token ids of `text`. */
export function bpeEncode(text: string, v: BpeVocab): number[] {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (const m of text.matchAll(v.pattern)) {
    const word = Array.from(enc.encode(m[0]), (b) => v.toChar[b]);
    for (const piece of merge(word, v.ranks)) {
      const id = v.ids.get(piece);
      if (id === undefined) {
        throw new RangeError(`BPE piece ${JSON.stringify(piece)} is not in the vocabulary`);
      }
      out.push(id);
    }
  }
  return out;
}

/** Applies the best-ranked merge until none applies. */
function merge(parts: string[], ranks: ReadonlyMap<string, number>): string[] {
  while (parts.length > 1) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) break;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
  return parts;
}
