/**
 * The traced program: found the way a shell finds a command, started with
 * its stdin, stdout and stderr passed through, and waited for. Its exit
 * status is what `deno task trace` exits with (a signal as 128 + its number).
 */

export interface ResolvedProgram {
  /** The path that is executed. */
  path: string;
  /** As the user typed it. */
  name: string;
}

/** A program that cannot run: the shell's status (127 not found, 126 not executable) and one line why. */
export class ProgramNotRunnable extends Error {
  override name = "ProgramNotRunnable";
  constructor(readonly status: 126 | 127, message: string) {
    super(message);
  }
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

const executable = (info: Deno.FileInfo) => info.isFile && ((info.mode ?? 0) & 0o111) !== 0;

/** Finds `name` as a shell would: a path when it has a slash, else the first match on PATH. */
export function resolveProgram(name: string, env: Record<string, string | undefined> = Deno.env.toObject()) {
  if (name === "") throw new ProgramNotRunnable(127, "no program given");
  if (name.includes("/")) {
    const info = statOrNull(name);
    if (!info) throw new ProgramNotRunnable(127, `${name}: No such file or directory`);
    if (info.isDirectory) throw new ProgramNotRunnable(126, `${name}: Is a directory`);
    if (!executable(info)) throw new ProgramNotRunnable(126, `${name}: Permission denied`);
    return { path: name, name } satisfies ResolvedProgram;
  }
  let denied: string | null = null;
  for (const dir of (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const path = `${dir === "" ? "." : dir}/${name}`;
    const info = statOrNull(path);
    if (!info || info.isDirectory) continue;
    if (executable(info)) return { path, name } satisfies ResolvedProgram;
    denied ??= path;
  }
  if (denied) throw new ProgramNotRunnable(126, `${denied}: Permission denied`);
  throw new ProgramNotRunnable(127, `${name}: command not found`);
}

export interface ProgramRun {
  /** Exit status as a shell reports it: the code, or 128 + the signal's number. */
  status: number;
  /** The signal that ended it ("SIGSEGV"), or null when it exited. */
  signal: string | null;
  pid: number;
  wallMs: number;
  /** Killed at StartOptions.timeoutMs. */
  timedOut: boolean;
}

export interface StartOptions {
  program: ResolvedProgram;
  args: string[];
  /** Variables added to (or replacing) the inherited environment. */
  env: Record<string, string>;
  /** Run with stdin closed and stdout / stderr written to these files instead of passed through (replays). */
  capture?: { stdout: string; stderr: string };
  /** Called every `intervalMs` while the program runs (the journal follower). */
  tick?: () => void;
  intervalMs?: number;
  /** Kill the program (SIGKILL) after this long (replays: a program that waits for input). */
  timeoutMs?: number;
}

/**
 * Runs the program to its end. A Ctrl-C reaches the program from the terminal and ends it, not the
 * trace, which then still writes its report; SIGTERM sent to the trace is passed on to it.
 */
export async function runProgram(o: StartOptions): Promise<ProgramRun> {
  const t0 = performance.now();
  const cap = o.capture;
  const child = new Deno.Command(o.program.path, {
    args: o.args,
    env: o.env,
    stdin: cap ? "null" : "inherit",
    stdout: cap ? "piped" : "inherit",
    stderr: cap ? "piped" : "inherit",
  }).spawn();
  const copies = cap
    ? [
      child.stdout.pipeTo(Deno.openSync(cap.stdout, { write: true, create: true, truncate: true }).writable),
      child.stderr.pipeTo(Deno.openSync(cap.stderr, { write: true, create: true, truncate: true }).writable),
    ]
    : [];
  const forward = (sig: Deno.Signal) => () => {
    try {
      child.kill(sig);
    } catch { /* gone */ }
  };
  // the terminal sends SIGINT to the program too: passing it on would deliver it twice
  const onInt = () => {}, onTerm = forward("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const timer = o.tick ? setInterval(o.tick, o.intervalMs ?? 50) : undefined;
  let timedOut = false;
  const limit = o.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    forward("SIGKILL")();
  }, o.timeoutMs);
  try {
    const s = await child.status;
    await Promise.allSettled(copies);
    const wallMs = performance.now() - t0;
    return { status: s.code, signal: s.signal ?? null, pid: child.pid, wallMs, timedOut };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    if (limit !== undefined) clearTimeout(limit);
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}

/** "exited with 3", "killed by SIGSEGV (139)". */
export function describeExit(r: ProgramRun): string {
  if (r.timedOut) return `killed at the time limit (${r.status})`;
  return r.signal ? `killed by ${r.signal} (${r.status})` : `exited with ${r.status}`;
}
