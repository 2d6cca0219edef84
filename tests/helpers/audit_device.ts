/**
 * The device the forensics tests run on (sim in CI; cuda or hip where a GPU
 * is), a fresh report directory, and a child-process runner for scenarios that
 * fault (a fault poisons the context for the rest of the process).
 */
import { runtime } from "../../ffi/runtime.ts";
import type { Device } from "../../ffi/device.ts";

export function testDevice(): Device {
  return runtime().device(0);
}

export function backend(): string {
  return runtime().backend;
}

export function reportDir(prefix = "fl-audit-"): string {
  return Deno.makeTempDirSync({ prefix });
}

/** Runs tests/helpers/<script> in a child Deno; returns its status and output. */
export async function runChild(
  script: string,
  args: string[] = [],
): Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`./${script}`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { FAULTLINE_QUIET: "1" },
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}
