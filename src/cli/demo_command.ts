/**
 * `proxy demo`: two built-in origins on free loopback ports and the proxy in front of them.
 *
 * @module
 */

import type { ArgsDef } from "citty";
import type { Runtime } from "../runtime/types.ts";
import type { Logger } from "../core/logger.ts";
import { buildQuickStartConfig } from "../config/quick_start.ts";
import { formatHostPort } from "../runtime/net_error.ts";
import { COMMON_ARGS, listOf, parseStrict } from "./args.ts";
import { startDemoOrigin } from "./demo_origin.ts";
import { runProxy } from "./run_command.ts";

/** Where the demo listens unless told otherwise. */
export const DEMO_DEFAULT_BIND = "127.0.0.1:8080";

/** Flags of `proxy demo`. */
export const DEMO_ARGS = {
  bind: { type: "string", alias: ["b"], description: `Address to listen on (default ${DEMO_DEFAULT_BIND})` },
  balance: { type: "string", description: "Balancing algorithm (default roundrobin)" },
  ...COMMON_ARGS,
} as const satisfies ArgsDef;

/** Runs the demo until a stop signal; returns the exit code. */
export async function demoCommand(rawArgs: string[], runtime: Runtime, logger: Logger): Promise<number> {
  const args = parseStrict(rawArgs, DEMO_ARGS);
  const origins = [await startDemoOrigin(runtime, "origin 1"), await startDemoOrigin(runtime, "origin 2")];
  const binds = listOf(args.bind);
  const config = buildQuickStartConfig({
    bind: binds.length > 0 ? binds : [DEMO_DEFAULT_BIND],
    backend: origins.map((origin) => formatHostPort(origin.address.address, origin.address.port)),
    balance: args.balance === undefined ? undefined : String(args.balance),
    mode: "tcp",
  });
  logger.info(`Demo origins on ${origins.map((o) => formatHostPort(o.address.address, o.address.port)).join(" and ")}`);
  try {
    return await runProxy(config, runtime, logger, (proxy) => {
      // The bound address, not the configured one: port 0 means a free port chosen at bind time.
      const bound = proxy.frontends[0]!.boundAddresses[0]!;
      const host = bound.address === "0.0.0.0" ? "127.0.0.1" : bound.address === "::" ? "::1" : bound.address;
      logger.info(`Try: curl http://${formatHostPort(host, bound.port)}/ (run it twice: round robin)`);
    });
  } finally {
    await Promise.all(origins.map((origin) => origin.close()));
  }
}
