/** Runs a helper script in a child Deno process (a sticky fault or a failed load poisons only the child). */

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON, or null. */
  json: Record<string, unknown> | null;
}

/** Path of a script under tests/helpers/. */
export function helperPath(name: string): string {
  return decodeURIComponent(new URL(name, import.meta.url).pathname);
}

/** `deno run -A tests/helpers/<script> ...args` with extra environment variables (undefined removes one). */
export async function runChild(
  script: string,
  env: Record<string, string | undefined> = {},
  args: string[] = [],
  /** Extra `deno run` flags, e.g. "--v8-flags=--expose-gc". */
  denoFlags: string[] = [],
): Promise<ChildResult> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) childEnv[k] = v;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...denoFlags, helperPath(script), ...args],
    env: childEnv,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const lines = stdout.trim().split("\n");
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(lines[lines.length - 1]);
  } catch {
    json = null;
  }
  return { code: out.code, stdout, stderr, json };
}
