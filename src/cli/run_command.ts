/**
 * `proxy --bind ADDR --backend HOST[,HOST...]`: the quick start, and the run loop every way of
 * starting the proxy ends in.
 *
 * @module
 */

import type { ArgsDef } from "citty";
import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import type { Config } from "../config/types.ts";
import { buildQuickStartConfig } from "../config/quick_start.ts";
import { BALANCE_ALGORITHMS } from "../core/balance/mod.ts";
import { formatHostPort } from "../runtime/net_error.ts";
import { Proxy } from "../engine/proxy.ts";
import { waitForStopSignal } from "../lifecycle/stop_signals.ts";
import { COMMON_ARGS, listOf, parseStrict } from "./args.ts";
import { EXIT_OK } from "./exit_codes.ts";

/** Flags of the quick start. */
export const RUN_ARGS = {
  bind: {
    type: "string",
    alias: ["b"],
    description: "Address(es) to listen on: :80, 8080, 127.0.0.1:80, [::1]:80, *:80 (comma-separated or repeated)",
  },
  backend: {
    type: "string",
    description: "Server(s): HOST[:PORT] (comma-separated or repeated); no port = the port the client connected to",
  },
  mode: { type: "string", alias: ["m"], description: 'Proxy mode: "tcp" (http arrives with the HTTP engine)' },
  balance: { type: "string", description: `Balancing algorithm: ${BALANCE_ALGORITHMS.join(", ")} (default roundrobin)` },
  reuseport: { type: "boolean", default: true, description: "Bind with SO_REUSEPORT (--no-reuseport to disable)" },
  ...COMMON_ARGS,
} as const satisfies ArgsDef;

/** Parses the quick-start flags into a Config. */
export function quickStartConfigFromArgs(rawArgs: string[]): Config {
  const args = parseStrict(rawArgs, RUN_ARGS);
  return buildQuickStartConfig({
    bind: listOf(args.bind),
    backend: listOf(args.backend),
    mode: args.mode === undefined ? undefined : String(args.mode),
    balance: args.balance === undefined ? undefined : String(args.balance),
    reusePort: args.reuseport !== false,
  });
}

/** Starts a proxy from a Config and runs it until a stop signal; returns the exit code. */
export async function runProxy(config: Config, runtime: Runtime, logger: Logger): Promise<number> {
  const proxy = new Proxy(config, runtime, logger);
  await proxy.start();
  for (const frontend of proxy.frontends) {
    const addresses = frontend.boundAddresses.map((address) => formatHostPort(address.address, address.port));
    const backend = frontend.backend;
    logger.info(
      `Frontend "${frontend.name}" (${frontend.config.mode}) listening on ${addresses.join(", ")}, ` +
        `backend "${backend.name}": ${backend.servers.length} server(s)`,
    );
  }
  await waitForStopSignal(proxy, runtime, logger);
  proxy.close();
  return EXIT_OK;
}
