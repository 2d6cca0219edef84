/**
 * JSON from files the server does not trust: parsed only when its nesting is
 * shallow enough for every later walk over it (rendering, JSON.stringify) to
 * stay far from the stack's limit.
 */

/** Nesting the server accepts in verdict.json and in a journal line. */
export const MAX_JSON_DEPTH = 64;

export class JsonLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JsonLimitError";
  }
}

const QUOTE = 0x22,
  BACKSLASH = 0x5c,
  OPEN_OBJECT = 0x7b,
  CLOSE_OBJECT = 0x7d,
  OPEN_ARRAY = 0x5b,
  CLOSE_ARRAY = 0x5d;

/** True when `text` nests arrays and objects deeper than `limit` (brackets inside strings do not count). */
export function nestsDeeper(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

/** JSON.parse, refusing input nested deeper than `maxDepth` with a JsonLimitError. */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (nestsDeeper(text, maxDepth)) throw new JsonLimitError(`nests deeper than ${maxDepth} levels`);
  return JSON.parse(text);
}
