/**
 * Lint rule `faultline/function-length`: a function (declaration, expression,
 * arrow or method) longer than MAX_LINES lines, signature to closing brace, is
 * an error unless a comment right before it says why, starting with
 * `long-function:` (`// long-function: one table of the 20 cases`).
 * Loaded by deno.json's lint.plugins, so `deno lint` and `deno task check` run it.
 */

export const MAX_LINES = 80;
const MARKER = /long-function:\s*\S.{8,}/;

/**
 * Functions in files being restructured on other branches (the build, the GGUF writer, the status
 * server), by path and name: they are split there. Remove an entry once its function is split.
 */
export const NOT_YET_SPLIT: ReadonlySet<string> = new Set([
  "scripts/build.ts#plan",
  "scripts/model/gguf_write.ts#writeGguf",
  "scripts/server/app.tsx#createApp",
  "tests/scripts/server/e2e.test.ts#fn",
]);

type FunctionNode =
  | Deno.lint.FunctionDeclaration
  | Deno.lint.FunctionExpression
  | Deno.lint.ArrowFunctionExpression;

/** The nodes a comment before the function may sit in front of: the function and the statement holding it. */
function holders(node: Deno.lint.Node): Deno.lint.Node[] {
  const out: Deno.lint.Node[] = [node];
  const wrappers = new Set([
    "MethodDefinition",
    "Property",
    "PropertyDefinition",
    "VariableDeclarator",
    "VariableDeclaration",
    "ExportNamedDeclaration",
    "ExportDefaultDeclaration",
  ]);
  let p = (node as { parent?: Deno.lint.Node }).parent;
  while (p && wrappers.has(p.type)) {
    out.push(p);
    p = (p as { parent?: Deno.lint.Node }).parent;
  }
  return out;
}

/** The function's name: its own, its method's or property's key, or the variable it is assigned to. */
function nameOf(node: Deno.lint.Node): string {
  const id = (node as { id?: { name?: string } | null }).id;
  if (id?.name) return id.name;
  const p = (node as { parent?: Deno.lint.Node }).parent as
    | { type: string; key?: { name?: string }; id?: { name?: string } }
    | undefined;
  return p?.key?.name ?? p?.id?.name ?? "<anonymous>";
}

/** The file's path from the repository root (deno.json's folder), for NOT_YET_SPLIT. */
function repoPath(filename: string): string {
  const root = new URL("../../", import.meta.url).pathname;
  const path = filename.startsWith("file://") ? new URL(filename).pathname : filename;
  return path.startsWith(root) ? path.slice(root.length) : path;
}

function lineCount(source: string, range: readonly [number, number]): number {
  let n = 1;
  for (let i = range[0]; i < range[1]; i++) if (source.charCodeAt(i) === 10) n++;
  return n;
}

const plugin: Deno.lint.Plugin = {
  name: "faultline",
  rules: {
    "function-length": {
      create(ctx) {
        const check = (node: FunctionNode) => {
          const lines = lineCount(ctx.sourceCode.text, node.range);
          if (lines <= MAX_LINES) return;
          if (NOT_YET_SPLIT.has(`${repoPath(ctx.filename)}#${nameOf(node)}`)) return;
          const explained = holders(node).some((h) =>
            ctx.sourceCode.getCommentsBefore(h).some((c) => MARKER.test(c.value))
          );
          if (explained) return;
          ctx.report({
            node,
            message: `function of ${lines} lines (at most ${MAX_LINES})`,
            hint: "split it by what each part decides, or say why it is long in a comment before it: " +
              "`// long-function: <why>`",
          });
        };
        return { FunctionDeclaration: check, FunctionExpression: check, ArrowFunctionExpression: check };
      },
    },
  },
};

export default plugin;
