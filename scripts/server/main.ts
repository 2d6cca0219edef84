/**
 * `deno task serve`: the faultline status server.
 *
 *   deno task serve [--port 8787] [--host 127.0.0.1] [--reports <dir>] [--allow-remote]
 *
 * It binds to loopback unless --host names another address, which also needs
 * --allow-remote and prints a warning: the pages show kernel names, tensor
 * names and configurations of the runs, and there is no authentication.
 * FAULTLINE_BACKEND and FAULTLINE_DEVICE, when set, name the backend and
 * device on /api/health until a run's verdict names them.
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { dirFlag, intFlag, parseCli, runCli, UsageError } from "../cli/flags.ts";
import { createApp } from "./app.tsx";
import { LiveStreams } from "./live.ts";

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = "127.0.0.1";

const CLI = {
  name: "serve",
  usage: `usage: deno task serve [--port N] [--host ADDR] [--allow-remote] [--reports DIR]

  --port N         port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR      address to bind (default ${DEFAULT_HOST}); a non-loopback
                   address also needs --allow-remote
  --allow-remote   permit binding a non-loopback address (prints a warning)
  --reports DIR    reports folder (default <repo>/reports)`,
  options: {
    port: { type: "string" },
    host: { type: "string" },
    reports: { type: "string" },
    "allow-remote": { type: "boolean" },
  },
} as const;

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(CLI, args);
  const port = intFlag(values.port, "port", { min: 0, max: 65535 }) ?? DEFAULT_PORT;
  const host = (values.host ?? DEFAULT_HOST).replace(/^\[(.*)\]$/, "$1");
  const remote = !isLoopback(host);
  if (remote && !values["allow-remote"]) {
    throw new UsageError(
      `refusing to bind ${host}: it is not a loopback address. ` +
        `Pass --allow-remote to serve the runs to other machines.`,
    );
  }
  if (remote) {
    console.warn(
      `serve: WARNING: binding ${host}, reachable from other machines. ` +
        `Anyone who can reach it can read every report, journal and trace; there is no authentication.`,
    );
  }
  // the default folder may not exist yet (no run so far); a folder the user names must
  const reportsDir = resolve(dirFlag(values.reports, "reports") ?? join(REPO_ROOT, "reports"));
  const streams = new LiveStreams();
  const app = createApp({
    reportsDir,
    streams,
    loopbackOnly: !remote,
    env: {
      backend: Deno.env.get("FAULTLINE_BACKEND") || undefined,
      device: Deno.env.get("FAULTLINE_DEVICE") || undefined,
    },
  });
  const ac = new AbortController();
  const server = listen(host, port, ac.signal, reportsDir, app.fetch);
  const stop = () => {
    streams.closeAll().finally(() => ac.abort());
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(sig, stop);
    } catch {
      // Signals not available on this platform.
    }
  }
  await server.finished;
  return 0;
}

/** Deno.serve on host:port; a port in use or an address that cannot be bound is a usage error. */
function listen(
  host: string,
  port: number,
  signal: AbortSignal,
  reportsDir: string,
  handler: (req: Request) => Response | Promise<Response>,
): Deno.HttpServer {
  try {
    return Deno.serve({
      hostname: host,
      port,
      signal,
      onListen: ({ hostname, port }) => {
        const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
        console.log(`faultline status server: http://${shown}:${port}/ (reports: ${reportsDir})`);
      },
    }, handler);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${port} on ${host} is in use (--port N picks another, --port 0 a free one)`);
    }
    if (e instanceof Deno.errors.AddrNotAvailable || e instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(`cannot listen on ${host}:${port}: ${(e as Error).message}`);
    }
    throw e;
  }
}

if (import.meta.main) await runCli(CLI, main);
