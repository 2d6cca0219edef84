/**
 * The command line of every entry point (demo, bench, serve, build, generate, synth, the experiments):
 * flags parsed strictly with node:util's parseArgs, `--help` / `-h` printing the usage, typed flag
 * values, and one way to refuse bad input: `name: what is wrong` on one line, the usage after it on
 * stderr, exit status 2, no stack trace.
 *
 *   const cli = { name: "serve", usage: USAGE, options: { port: { type: "string" } } } as const;
 *   await runCli(cli, async (args) => {
 *     const { values } = parseCli(cli, args);
 *     const port = intFlag(values.port, "port", { min: 0, max: 65535 });
 *     ...
 *     return 0;
 *   });
 */
import { existsSync, statSync } from "node:fs";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** Input the command line cannot run with: the entry point prints it on one line with the usage, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An entry point's name (as messages start), usage text and parseArgs options. */
export interface CliSpec<O extends ParseArgsOptionsConfig = ParseArgsOptionsConfig> {
  name: string;
  usage: string;
  options: O;
  /** Positional arguments allowed: at least `min`, at most `max` (default none), called `name` in messages. */
  positionals?: { min?: number; max?: number; name?: string };
}

/** What parseCli returns: the values of the options given (typed by the options), and the positionals. */
export interface CliArgs<O extends ParseArgsOptionsConfig> {
  values: ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>["values"];
  positionals: string[];
}

/** Thrown by parseCli for --help: runCli prints the usage on stdout and exits 0. */
class HelpAsked extends Error {}

const HELP = { help: { type: "boolean", short: "h" } } as const;

/**
 * Parses `args` against the spec's options (strict: an unknown flag, a missing value or an
 * unexpected positional is a UsageError). `--help` or `-h` anywhere ends the parse (runCli prints the
 * usage, exit 0).
 */
export function parseCli<O extends ParseArgsOptionsConfig>(spec: CliSpec<O>, args: string[]): CliArgs<O> {
  if (args.includes("--help") || args.includes("-h")) throw new HelpAsked();
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...HELP, ...spec.options }, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error));
  }
  const { min = 0, max = 0, name = "argument" } = spec.positionals ?? {};
  const n = parsed.positionals.length;
  if (n > max) {
    throw new UsageError(
      `unexpected argument${n - max > 1 ? "s" : ""} ${parsed.positionals.slice(max).join(" ")}`,
    );
  }
  if (n < min) throw new UsageError(`missing ${name}`);
  return parsed as unknown as CliArgs<O>;
}

/**
 * Parses a command line whose options come before a program it runs (like env or strace): the
 * options end at `--` or at the first argument that is neither an option nor an option's value;
 * everything from there on is `command`, the program and its own arguments, untouched.
 */
export function parseCliWithCommand<O extends ParseArgsOptionsConfig>(
  spec: CliSpec<O>,
  args: string[],
): CliArgs<O> & { command: string[] } {
  const takesValue = (a: string) => {
    const long = a.startsWith("--") ? a.slice(2) : undefined;
    const entry = long !== undefined
      ? spec.options[long]
      : Object.values(spec.options).find((o) => o.short === a.slice(1));
    return entry?.type === "string" && !a.includes("=");
  };
  let k = 0;
  while (k < args.length && args[k] !== "--" && args[k].startsWith("-") && args[k] !== "-") {
    k += takesValue(args[k]) ? 2 : 1;
  }
  const options = args.slice(0, Math.min(k, args.length));
  const command = args.slice(args[k] === "--" ? k + 1 : k);
  return { ...parseCli({ ...spec, positionals: undefined }, options), command };
}

/** node:util's messages, shortened to what the user typed ("Unknown option '--x'. To specify ..."). */
function parseArgsMessage(e: Error): string {
  const unknown = /^Unknown option '([^']+)'/.exec(e.message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = /^Option '(?:-\w, )?(--[^ ]+) <value>' argument missing/.exec(e.message);
  if (missing) return `${missing[1]} needs a value`;
  const noValue = /^Option '(--[^']+)' does not take an argument/.exec(e.message);
  if (noValue) return `${noValue[1]} takes no value`;
  const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(e.message);
  if (ambiguous) return `${ambiguous[1]} needs a value (one that starts with a dash: ${ambiguous[1]}=-X)`;
  return e.message.split("\n")[0];
}

/**
 * Runs an entry point's body and exits with what it returns. A UsageError (from parseCli, a flag
 * reader or the body) prints `name: message` and the usage on stderr and exits 2; --help prints the
 * usage and exits 0. Other errors are not usage errors and keep their stack.
 */
export async function runCli(
  spec: Pick<CliSpec, "name" | "usage">,
  body: (args: string[]) => number | void | Promise<number | void>,
  args: string[] = Deno.args,
): Promise<never> {
  let code: number;
  try {
    code = (await body(args)) ?? 0;
  } catch (e) {
    if (e instanceof HelpAsked) {
      console.log(spec.usage);
      code = 0;
    } else if (e instanceof UsageError) {
      console.error(`${spec.name}: ${e.message}\n${spec.usage}`);
      code = 2;
    } else throw e;
  }
  Deno.exit(code);
}

/** The range a number flag accepts (inclusive). */
export interface NumberRange {
  min?: number;
  max?: number;
  /** Refuse 0 and below (a count, a scale, a time limit). */
  positive?: boolean;
}

function rangeText(what: string, r: NumberRange): string {
  const parts = [r.positive ? `a positive ${what}` : `${/^[aeiou]/.test(what) ? "an" : "a"} ${what}`];
  if (r.min !== undefined && r.max !== undefined) parts.push(`from ${r.min} to ${r.max}`);
  else if (r.min !== undefined) parts.push(`>= ${r.min}`);
  else if (r.max !== undefined) parts.push(`<= ${r.max}`);
  return parts.join(" ");
}

function inRange(n: number, r: NumberRange): boolean {
  return (!r.positive || n > 0) && (r.min === undefined || n >= r.min) && (r.max === undefined || n <= r.max);
}

/** A finite number flag in range, or undefined when absent ("abc", "1e999", "" are refused). */
export function numberFlag(v: string | undefined, flag: string, range: NumberRange = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n) || !inRange(n, range)) {
    throw new UsageError(`--${flag} must be ${rangeText("number", range)}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** An integer flag in range (decimal digits only: "3.5", "0x10", "1e3" are refused), or undefined. */
export function intFlag(v: string | undefined, flag: string, range: NumberRange = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = /^[+-]?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || !inRange(n, range)) {
    throw new UsageError(`--${flag} must be ${rangeText("integer", range)}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A flag that takes one of `choices`, or undefined when absent. */
export function choiceFlag<C extends string>(
  v: string | undefined,
  flag: string,
  choices: readonly C[],
): C | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as C;
}

/** How a message names a flag ("port": `--port`) or a positional argument ("<journal.bin>" as is). */
const shownFlag = (flag: string) => flag.startsWith("<") ? flag : `--${flag}`;

/** A flag (or positional) naming a file that exists and is a regular file (symlinks followed), or undefined. */
export function fileFlag(v: string | undefined, flag: string): string | undefined {
  if (v === undefined) return undefined;
  if (!existsSync(v)) throw new UsageError(`${shownFlag(flag)}: no such file: ${v}`);
  if (!statSync(v).isFile()) throw new UsageError(`${shownFlag(flag)}: not a regular file: ${v}`);
  return v;
}

/** A flag naming a folder: an existing one, or (with `mayCreate`) a path where none exists yet. */
export function dirFlag(
  v: string | undefined,
  flag: string,
  opts: { mayCreate?: boolean } = {},
): string | undefined {
  if (v === undefined) return undefined;
  if (!existsSync(v)) {
    if (opts.mayCreate) return v;
    throw new UsageError(`${shownFlag(flag)}: no such folder: ${v}`);
  }
  if (!statSync(v).isDirectory()) throw new UsageError(`${shownFlag(flag)}: not a folder: ${v}`);
  return v;
}
