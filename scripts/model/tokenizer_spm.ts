/**
 * SentencePiece-style encoding as llama.cpp's "llama" tokenizer does it (llm_tokenizer_spm): the
 * text (spaces as "▁") is split into characters, then the adjacent pair whose concatenation is a
 * token with the highest score is merged, again and again (equal scores: leftmost first); a character
 * that is no token falls back to its UTF-8 bytes' tokens (<0xXX>), else the unknown token.
 */

export interface SpmVocab {
  /** Token id of each piece. */
  ids: ReadonlyMap<string, number>;
  scores: readonly number[];
  /** Token id of each byte's <0xXX> token, or -1. */
  byteIds: readonly number[];
  /** The unknown token, or -1 when the vocabulary has none. */
  unk: number;
}

interface Sym {
  text: string;
  prev: number;
  next: number;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Characters of the merged piece: the pair is stale when its symbols changed. */
  length: number;
}

/** A max-heap of bigrams by score, then by left position (smaller first). */
class BigramHeap {
  #a: Bigram[] = [];
  get size(): number {
    return this.#a.length;
  }
  #before(x: Bigram, y: Bigram): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(b: Bigram): void {
    const a = this.#a;
    a.push(b);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.#before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Bigram {
    const a = this.#a, top = a[0], last = a.pop()!;
    if (a.length === 0) return top;
    a[0] = last;
    for (let i = 0;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < a.length && this.#before(a[l], a[m])) m = l;
      if (r < a.length && this.#before(a[r], a[m])) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m], a[i]];
      i = m;
    }
    return top;
  }
}

/** Token ids of `text` (already with "▁" for spaces and any space prefix). */
export function spmEncode(text: string, v: SpmVocab): number[] {
  const chars = Array.from(text); // code points
  const syms: Sym[] = chars.map((ch, i) => ({
    text: ch,
    prev: i - 1,
    next: i + 1 < chars.length ? i + 1 : -1,
  }));
  const heap = new BigramHeap();
  const tryPair = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const piece = syms[left].text + syms[right].text;
    const id = v.ids.get(piece);
    if (id !== undefined) heap.push({ left, right, score: v.scores[id] ?? 0, length: piece.length });
  };
  for (let i = 1; i < syms.length; i++) tryPair(i - 1, i);
  while (heap.size > 0) {
    const b = heap.pop();
    const l = syms[b.left], r = syms[b.right];
    if (l.text.length === 0 || r.text.length === 0 || l.text.length + r.text.length !== b.length) continue;
    l.text += r.text;
    r.text = "";
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    tryPair(l.prev, b.left);
    tryPair(b.left, l.next);
  }
  const out: number[] = [];
  for (let i = syms.length ? 0 : -1; i >= 0; i = syms[i].next) pieceIds(syms[i].text, v, out);
  return out;
}

function pieceIds(piece: string, v: SpmVocab, out: number[]): void {
  const id = v.ids.get(piece);
  if (id !== undefined) {
    out.push(id);
    return;
  }
  for (const byte of new TextEncoder().encode(piece)) {
    const b = v.byteIds[byte];
    if (b >= 0) out.push(b);
    else if (v.unk >= 0) out.push(v.unk);
    else {throw new RangeError(
        `the vocabulary has no token for byte 0x${byte.toString(16)} and no unknown token`,
      );}
  }
}
