/**
 * The devices a trial would see, listed by a child process (the parent that
 * places trials never loads the native library): run as a program it loads
 * the runtime and prints one marked line; `probeDevices` runs it.
 */
import { runtime } from "../../mod.ts";
import type { Inventory } from "./devices.ts";
import { inOwnGroup, killGroup } from "./process_group.ts";

const PREFIX = "@@faultline-devices ";

export interface ProbeOptions {
  /** Environment of the probe (the run's trials' own: debug presets, FAULTLINE_SIM_DEVICES...). */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs the probe; throws an Error saying why when it prints no device list. */
export async function probeDevices(opts: ProbeOptions = {}): Promise<Inventory> {
  const cmd = inOwnGroup([
    Deno.execPath(),
    "run",
    "-A",
    decodeURIComponent(new URL(import.meta.url).pathname),
  ]);
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: opts.cwd,
    env: { NO_COLOR: "1", FAULTLINE_QUIET: "1", ...(opts.env ?? {}) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => killGroup(child), opts.timeoutMs ?? 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").reverse().find((l) => l.startsWith(PREFIX));
  let said: Inventory & { error?: string } | null = null;
  try {
    said = line === undefined ? null : JSON.parse(line.slice(PREFIX.length));
  } catch { /* said below */ }
  if (said?.error !== undefined) {
    throw new Error(`the device probe could not load the runtime: ${said.error}`);
  }
  if (said !== null && Array.isArray(said.devices)) return said;
  const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
  throw new Error(
    `the device probe ${out.signal ? `was killed by ${out.signal}` : `exited with ${out.code}`}` +
      `${err ? `: ${err}` : " and listed no device"}`,
  );
}

if (import.meta.main) {
  try {
    const rt = runtime();
    const inv: Inventory = {
      backend: rt.backend,
      devices: rt.devices().map((d) => ({
        ordinal: d.ordinal,
        id: d.id,
        busId: d.busId,
        name: d.props.name,
      })),
    };
    console.log(PREFIX + JSON.stringify(inv));
  } catch (e) {
    console.log(PREFIX + JSON.stringify({ error: (e as Error).message ?? String(e) }));
  }
}
