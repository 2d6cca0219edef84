/**
 * Tokenizers from GGUF vocabularies (scripts/model/tokenizer.ts): SentencePiece merges by score
 * (leftmost first on ties), byte fallback to <0xXX> tokens then the unknown token, byte-level BPE by
 * merge rank under the gpt2 and llama-bpe pre-tokenizers, and decode(encode(text)) === text for
 * random text (ASCII, accents, CJK, emoji, whitespace runs) through synth's vocabulary read back from
 * a GGUF file. Bad vocabularies are refused by name.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { presetConfig } from "../../../scripts/model/config.ts";
import { GgufError, openLlamaGguf } from "../../../scripts/model/gguf.ts";
import { synthGguf } from "../../../scripts/model/synth.ts";
import { synthVocab } from "../../../scripts/model/synth_vocab.ts";
import { Tokenizer } from "../../../scripts/model/tokenizer.ts";
import { byteAlphabet } from "../../../scripts/model/tokenizer_bpe.ts";
import { rngFor } from "../../../scripts/reference/harness.ts";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789 .,!?\n\t  éüß中文字😀🦀";

function randomText(seed: string, n: number): string {
  const rng = rngFor(seed);
  const chars = Array.from(ALPHABET);
  return Array.from({ length: n }, () => chars[rng.int(0, chars.length)]).join("");
}

Deno.test("tokenizer (llama): merges by score, leftmost on ties", () => {
  const spm = (scores: Record<string, number>) => {
    const tokens = ["<unk>", "<s>", "</s>", "▁", "a", "b", "c", ...Object.keys(scores)];
    return new Tokenizer({
      model: "llama",
      tokens,
      scores: tokens.map((t) => scores[t] ?? 0),
      bos: 1,
      eos: 2,
      addSpacePrefix: false,
      addBos: false,
    });
  };
  const pieces = (t: Tokenizer, s: string) => t.encode(s).map((i) => t.vocab.tokens[i]);
  assert.deepEqual(pieces(spm({ ab: -1, bc: -2 }), "abc"), ["ab", "c"]);
  assert.deepEqual(pieces(spm({ ab: -2, bc: -1 }), "abc"), ["a", "bc"]);
  assert.deepEqual(pieces(spm({ ab: -1, ba: -1 }), "aba"), ["ab", "a"]); // tie: the leftmost pair
  assert.deepEqual(pieces(spm({ ab: -1, abc: -5 }), "abc"), ["abc"]); // "ab" first, then "ab" + "c"
  assert.deepEqual(pieces(spm({ ab: -1, abc: -5 }), "abcab"), ["abc", "ab"]);
  assert.deepEqual(pieces(spm({ abc: -5 }), "abc"), ["a", "b", "c"]); // no pair of pieces makes "abc"
});

Deno.test("tokenizer (llama): characters outside the vocabulary fall back to bytes, then to <unk>", () => {
  const v = synthVocab(300);
  const tok = new Tokenizer({ model: "llama", ...v, bos: 1, eos: 2, addBos: false });
  const ids = tok.encode("é");
  assert.deepEqual(ids.map((i) => v.tokens[i]), ["▁", "<0xC3>", "<0xA9>"]);
  assert.equal(tok.decode(ids), "é");
  const noBytes = new Tokenizer({ model: "llama", tokens: ["<unk>", "▁", "a"], addBos: false });
  assert.deepEqual(noBytes.encode("aé"), [1, 2, 0, 0]); // one <unk> per byte of "é", as llama.cpp
  assert.equal(noBytes.decode([2, 0]), "a\uFFFD");
  const none = new Tokenizer({ model: "llama", tokens: ["▁", "a"], addBos: false });
  assert.throws(() => none.encode("é"), /no token for byte 0xc3 and no unknown token/);
  assert.throws(() => tok.decode([300]), /token 300 is outside the vocabulary/);
});

Deno.test("tokenizer (llama): decode(encode(text)) is the text, from a synth GGUF file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faultline-tok-" });
  try {
    const path = join(dir, "tok.gguf");
    await synthGguf(path, presetConfig("tiny", { vocabSize: 1024 }), { seed: 1 });
    const tok = Tokenizer.fromGguf((await openLlamaGguf(path)).file);
    assert.equal(tok.vocabSize, 1024);
    const hello = tok.encode("hello world");
    assert.equal(hello[0], 1); // BOS
    assert.deepEqual(hello.slice(1).map((i) => tok.vocab.tokens[i]), ["▁hello", "▁world"]);
    for (let i = 0; i < 40; i++) {
      const text = randomText(`spm ${i}`, 1 + (i * 7) % 60);
      assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
    }
    assert.equal(tok.decode(tok.encode("  two leading spaces")), "  two leading spaces");
    assert.deepEqual(tok.encode("", { bos: false }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function bpeTokenizer(pre: string) {
  const { toChar } = byteAlphabet();
  const merges = ["h e", "Ġ t", "Ġt he", "t he", "l l", "e ll"];
  const tokens = [...toChar, "he", "the", "Ġt", "Ġthe", "ll", "ell", "<|begin_of_text|>"];
  const types = tokens.map((t) => (t.startsWith("<|") ? 3 : 1));
  return new Tokenizer({ model: "gpt2", tokens, merges, types, pre, bos: tokens.length - 1, addBos: true });
}

Deno.test("tokenizer (gpt2): byte-level BPE by merge rank, lossless on any text", () => {
  for (const pre of ["gpt2", "llama-bpe"]) {
    const tok = bpeTokenizer(pre);
    const ids = tok.encode("the the hello"); // " hello": "h e" ranks before "l l"; "he ll" is no merge
    assert.equal(ids[0], tok.bos);
    assert.deepEqual(ids.slice(1).map((i) => tok.vocab.tokens[i]), ["the", "Ġthe", "Ġ", "he", "ll", "o"]);
    assert.equal(tok.decode(ids), "the the hello");
    for (let i = 0; i < 20; i++) {
      const text = randomText(`bpe ${pre} ${i}`, 5 + i * 3);
      assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
    }
  }
  assert.throws(() => bpeTokenizer("qwen9"), /pre-tokenizer "qwen9" is not supported/);
});

Deno.test("tokenizer: a file without a usable vocabulary is refused by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faultline-tok-" });
  try {
    const path = join(dir, "none.gguf");
    await synthGguf(path, presetConfig("tiny"), { seed: 1 });
    const m = await openLlamaGguf(path);
    m.file.metadata["tokenizer.ggml.model"] = "bert";
    assert.throws(() => Tokenizer.fromGguf(m.file), (e) => {
      assert.ok(e instanceof GgufError && e.code === "bad-metadata", String(e));
      assert.match(e.message, /tokenizer\.ggml\.model is "bert"; faultline tokenizes "llama" and "gpt2"/);
      return true;
    });
    delete m.file.metadata["tokenizer.ggml.model"];
    assert.throws(() => Tokenizer.fromGguf(m.file), /no tokenizer\.ggml\.model/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
