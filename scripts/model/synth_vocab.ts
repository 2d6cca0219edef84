/**
 * The vocabulary synth.ts writes: a SentencePiece-style ("llama") vocabulary that GGUF readers with
 * byte fallback (llama.cpp's, faultline's tokenizer.ts) can tokenize any text with.
 *
 * - 0 `<unk>` (unknown), 1 `<s>`, 2 `</s>` (control);
 * - 3 .. 258: `<0x00>` .. `<0xFF>` (byte tokens), as many as the vocabulary holds;
 * - then text pieces, "▁" standing for a space: the space, letters, digits and punctuation, common
 *   English words with every prefix (so each word is reachable by merging pairs), then letter pairs and
 *   triples, until the vocabulary is full. Scores fall with the index (earlier pieces merge first).
 */

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SynthVocab {
  tokens: string[];
  scores: number[];
  types: number[];
}

const WORDS = (
  "the of and to in is that it was for on are as with his they at be this from have or by one had not but " +
  "what all were when we there can an your which their said if do will each about how up out them then she " +
  "many some so these would other into has more her two like him see time could no make than first been its " +
  "who now people my made over did down only way find use may water long little very after words called just " +
  "where most know get through back much before go good new write our used me man too any day same right " +
  "look think also around another came come work three word must because does part even place well such " +
  "hello world fault line kernel device memory stream launch token model"
).split(" ");

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

function* pieces(): Generator<string> {
  yield "▁";
  for (const c of LETTERS + LETTERS.toUpperCase() + "0123456789.,!?'-:;()\"/") yield c;
  for (const c of LETTERS) yield `▁${c}`;
  for (const w of WORDS) {
    for (let i = 2; i <= w.length; i++) yield `▁${w.slice(0, i)}`;
  }
  for (const a of LETTERS) for (const b of LETTERS) yield a + b;
  for (const a of LETTERS) for (const b of LETTERS) yield `▁${a}${b}`;
  for (const a of LETTERS) for (const b of LETTERS) for (const c of LETTERS) yield a + b + c;
  for (const a of LETTERS) {
    for (const b of LETTERS) {
      for (const c of LETTERS) {
        for (const d of LETTERS) {
          yield a + b + c + d;
        }
      }
    }
  }
}

/** The byte token of byte `b` (`<0x41>`). */
export function byteTokenText(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** A vocabulary of exactly `size` tokens (see the file comment). */
export function synthVocab(size: number): SynthVocab {
  const tokens: string[] = [], scores: number[] = [], types: number[] = [];
  const add = (t: string, score: number, type: number) => {
    tokens.push(t);
    scores.push(score);
    types.push(type);
  };
  const specials: [string, number][] = [["<unk>", TokenType.UNKNOWN], ["<s>", TokenType.CONTROL], [
    "</s>",
    TokenType.CONTROL,
  ]];
  for (const [t, type] of specials) if (tokens.length < size) add(t, 0, type);
  for (let b = 0; b < 256 && tokens.length < size; b++) add(byteTokenText(b), 0, TokenType.BYTE);
  const seen = new Set(tokens);
  for (const p of pieces()) {
    if (tokens.length >= size) break;
    if (seen.has(p)) continue;
    seen.add(p);
    add(p, -tokens.length, TokenType.NORMAL);
  }
  if (tokens.length < size) throw new RangeError(`synthVocab: cannot make ${size} distinct pieces`);
  return { tokens, scores, types };
}
