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

import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createApp } from "./app.tsx";
import { LiveStreams } from "./live.ts";

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = "127.0.0.1";

const USAGE = `usage: deno task serve [--port N] [--host ADDR] [--allow-remote] [--reports DIR]

  --port N         port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR      address to bind (default ${DEFAULT_HOST}); a non-loopback
                   address also needs --allow-remote
  --allow-remote   permit binding a non-loopback address (prints a warning)
  --reports DIR    reports folder (default <repo>/reports)
`;

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: String(DEFAULT_PORT) },
        host: { type: "string", default: DEFAULT_HOST },
        reports: { type: "string", default: join(REPO_ROOT, "reports") },
        "allow-remote": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`serve: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) {
    console.error(`serve: --port must be 0..65535, got ${JSON.stringify(values.port)}`);
    return 2;
  }
  const host = values.host.replace(/^\[(.*)\]$/, "$1");
  const remote = !isLoopback(host);
  if (remote && !values["allow-remote"]) {
    console.error(
      `serve: refusing to bind ${host}: it is not a loopback address. ` +
        `Pass --allow-remote to serve the runs to other machines.`,
    );
    return 2;
  }
  if (remote) {
    console.warn(
      `serve: WARNING: binding ${host}, reachable from other machines. ` +
        `Anyone who can reach it can read every report, journal and trace; there is no authentication.`,
    );
  }
  const reportsDir = resolve(values.reports);
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
  const server = Deno.serve({
    hostname: host,
    port: Number(values.port),
    signal: ac.signal,
    onListen: ({ hostname, port }) => {
      const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
      console.log(`faultline status server: http://${shown}:${port}/ (reports: ${reportsDir})`);
    },
  }, app.fetch);
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

if (import.meta.main) Deno.exit(await main(Deno.args));
