/**
 * A trial runs in its own process group, so ending it ends everything it
 * started: a grandchild (a compiler, a helper, a forked worker) that would
 * otherwise outlive the time limit, or keep the trial's output pipes open, is
 * killed with it. Where `setsid` exists (Linux) the child is started through
 * it: setsid(1) makes its process the leader of a new session and group and
 * then execs the command in place, so the child's pid is the group's id.
 * Elsewhere only the child itself is killed.
 */

const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/** Whether trials get their own process group on this machine. */
export const HAS_PROCESS_GROUPS = Deno.build.os !== "windows" && SETSID !== undefined;

/** The command line that starts `command` as the leader of a new process group (unchanged where that is not possible). */
export function inOwnGroup(command: string[]): string[] {
  return HAS_PROCESS_GROUPS ? [SETSID!, ...command] : command;
}

/** Sends SIGKILL to the child's whole group (or to the child alone without groups); quiet when all are gone. */
export function killGroup(child: Deno.ChildProcess): void {
  try {
    if (HAS_PROCESS_GROUPS) Deno.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}
