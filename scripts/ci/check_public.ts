/**
 * The public surface's check (`deno task check` runs it): every entry point deno.json's `exports`
 * names passes `deno doc --lint` (each exported symbol documented, no public type referring to a
 * private one, explicit types), and `deno publish --dry-run` passes (no slow types; the type check
 * itself is `deno check`'s). Prints each tool's own errors; exits 1 when either fails.
 */
import { fileURLToPath } from "node:url";
import { parseCli, runCli } from "../cli/flags.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The entry points deno.json exports, as paths relative to the repository root. */
export function entryPoints(config: { exports?: string | Record<string, string> }): string[] {
  const e = config.exports;
  if (e === undefined) return [];
  return typeof e === "string" ? [e] : Object.values(e);
}

async function run(what: string, args: string[]): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  if (out.success) {
    console.log(`check_public: ${what}: ok`);
    return true;
  }
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  console.error(`check_public: ${what} failed:\n${text.replace(/\nStack backtrace:[\s\S]*$/, "")}`);
  return false;
}

const CLI = {
  name: "check_public",
  usage: `usage: deno run -A scripts/ci/check_public.ts
  deno doc --lint on every entry point deno.json exports, then deno publish --dry-run`,
  options: {},
} as const;

if (import.meta.main) {
  await runCli(CLI, async (args) => {
    parseCli(CLI, args);
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
    const entries = entryPoints(config);
    const doc = await run(`deno doc --lint (${entries.length} entry points)`, ["doc", "--lint", ...entries]);
    const publish = await run("deno publish --dry-run", [
      "publish",
      "--dry-run",
      "--allow-dirty",
      "--no-check",
    ]);
    return doc && publish ? 0 : 1;
  });
}
