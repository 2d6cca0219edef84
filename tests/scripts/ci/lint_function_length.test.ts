/** The function-length lint rule: long functions fail unless a comment says why. */
import assert from "node:assert/strict";
import plugin, { MAX_LINES } from "../../../scripts/ci/lint_function_length.ts";

/** A function body of `n` lines in all, from its signature to its closing brace. */
const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  x += ${i};`).join("\n");

function lint(source: string): string[] {
  return Deno.lint.runPlugin(plugin, "probe.ts", source).map((d) => d.message);
}

Deno.test("function length: a function of MAX_LINES lines passes, one more fails", () => {
  assert.deepEqual(lint(`export function f(x: number) {\n${body(MAX_LINES)}\n}\n`), []);
  assert.deepEqual(lint(`export function f(x: number) {\n${body(MAX_LINES + 1)}\n}\n`), [
    `function of ${MAX_LINES + 1} lines (at most ${MAX_LINES})`,
  ]);
});

Deno.test("function length: arrows, methods and function expressions count too", () => {
  const long = body(MAX_LINES + 5);
  assert.equal(lint(`const g = (x: number) => {\n${long}\n};\n`).length, 1);
  assert.equal(lint(`class C {\n  m(x: number) {\n${long}\n  }\n}\n`).length, 1);
  assert.equal(lint(`const h = function (x: number) {\n${long}\n};\n`).length, 1);
});

Deno.test("function length: a comment before it that says why lets it through; an empty one does not", () => {
  const long = body(MAX_LINES + 5);
  const why = "// long-function: one table of the twenty cases, each a few lines\n";
  assert.deepEqual(lint(`${why}export function f(x: number) {\n${long}\n}\n`), []);
  assert.deepEqual(lint(`${why}const g = (x: number) => {\n${long}\n};\n`), []);
  assert.equal(lint(`// long-function:\nexport function f(x: number) {\n${long}\n}\n`).length, 1);
  assert.equal(lint(`// long\nexport function f(x: number) {\n${long}\n}\n`).length, 1);
});
