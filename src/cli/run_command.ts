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
import { EXIT_OK, UsageError } from "./exit_codes.ts";
import { formatConfigIssue, loadConfigFiles } from "../config/load.ts";
import type { ConfigIssue } from "../config/load.ts";
import { writePidFile } from "../lifecycle/pidfile.ts";

/** Flags of a run: configuration files, or the quick start. */
export const RUN_ARGS = {
  config: {
    type: "string",
    alias: ["f"],
    description: "Configuration file (TOML); repeat to merge several, later ones override earlier ones",
  },
  check: { type: "boolean", alias: ["c"], description: "Check the configuration and exit (0 valid, 1 invalid)" },
  bind: {
    type: "string",
    alias: ["b"],
    description: "Address(es) to listen on: :80, 8080, 127.0.0.1:80, [::1]:80, *:80 (comma-separated or repeated)",
  },
  backend: {
    type: "string",
    description: "Server(s): HOST[:PORT] (comma-separated or repeated); no port = the port the client connected to",
  },
  mode: { type: "string", alias: ["m"], description: 'Proxy mode: "http" (default: requests parsed, rebuilt and balanced one by one) or "tcp" (bytes spliced untouched)' },
  balance: { type: "string", description: `Balancing algorithm: ${BALANCE_ALGORITHMS.join(", ")} (default roundrobin)` },
  reuseport: { type: "boolean", default: true, description: "Bind with SO_REUSEPORT (--no-reuseport to disable)" },
  log: {
    type: "string",
    description: "Log target(s) for traffic lines and operator messages: stdout, stderr, udp://HOST[:PORT], tcp://HOST[:PORT] (comma-separated or repeated)",
  },
  ...COMMON_ARGS,
} as const satisfies ArgsDef;

/** Flags that describe the proxy on the command line, which a configuration file replaces. */
const QUICK_START_FLAGS = ["bind", "backend", "mode", "balance", "log"] as const;

/** A configuration and where it came from. */
export interface ConfigChoice {
  readonly config: Config;
  readonly warnings: readonly ConfigIssue[];
  /** The files read, empty for the quick start. */
  readonly files: readonly string[];
  /** -c: check only. */
  readonly checkOnly: boolean;
}

/** Builds the Config from `-f` files or from the quick-start flags (never both). */
export async function configFromArgs(rawArgs: string[], runtime: Runtime): Promise<ConfigChoice> {
  const args = parseStrict(rawArgs, RUN_ARGS);
  const files = listOf(args.config);
  const checkOnly = args.check === true;
  if (files.length > 0) {
    const given: string[] = QUICK_START_FLAGS.filter((flag) => args[flag] !== undefined);
    // --reuseport has a default, so only its presence on the command line tells it was given.
    if (rawArgs.some((arg) => arg === "--reuseport" || arg === "--no-reuseport")) given.push("reuseport");
    if (given.length > 0) {
      throw new UsageError(
        `Options ${given.map((flag) => `--${flag}`).join(", ")} cannot be combined with -f: describe the proxy in the configuration file`,
      );
    }
    const loaded = await loadConfigFiles(files, (path) => runtime.readTextFile(path));
    return { config: loaded.config, warnings: loaded.warnings, files: loaded.files, checkOnly };
  }
  if (checkOnly && args.bind === undefined && args.backend === undefined) {
    throw new UsageError("Nothing to check: give a configuration file with -f FILE");
  }
  const config = buildQuickStartConfig({
    bind: listOf(args.bind),
    backend: listOf(args.backend),
    mode: args.mode === undefined ? undefined : String(args.mode),
    balance: args.balance === undefined ? undefined : String(args.balance),
    reusePort: args.reuseport !== false,
    log: listOf(args.log),
  });
  return { config, warnings: [], files: [], checkOnly };
}

/** The one-line summary of a valid configuration. */
export function configSummary(choice: ConfigChoice): string {
  const { frontends, backends } = choice.config;
  const servers = backends.reduce((sum, backend) => sum + backend.servers.length, 0);
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  const origin = choice.files.length > 0 ? ` (${choice.files.join(", ")})` : " (command line)";
  return `Configuration is valid: ${plural(frontends.length, "frontend")}, ${plural(backends.length, "backend")}, ` +
    `${plural(servers, "server")}${origin}`;
}

/** Runs `proxy [-c] -f FILE...` or the quick start; returns the exit code. */
export async function runCommand(rawArgs: string[], runtime: Runtime, logger: Logger): Promise<number> {
  const choice = await configFromArgs(rawArgs, runtime);
  for (const warning of choice.warnings) logger.warn(formatConfigIssue(warning));
  if (choice.checkOnly) {
    runtime.writeStdout(configSummary(choice) + "\n");
    return EXIT_OK;
  }
  return await runProxy(choice.config, runtime, logger);
}

/** Starts a proxy from a Config and runs it until a stop signal; returns the exit code. */
export async function runProxy(
  config: Config,
  runtime: Runtime,
  logger: Logger,
  onListening?: (proxy: Proxy) => void,
): Promise<number> {
  const proxy = new Proxy(config, runtime, logger);
  await proxy.start();
  // From here on operator messages also reach the [global] log targets.
  logger = proxy.logger;
  if (config.global.pidfile !== null) await writePidFile(config.global.pidfile, runtime);
  for (const frontend of proxy.frontends) {
    const addresses = frontend.boundAddresses.map((address) => formatHostPort(address.address, address.port));
    const backend = frontend.backend;
    const routes = frontend.config.routes.length;
    const target = [
      ...(routes > 0 ? [`${routes} route(s)`] : []),
      ...(backend !== null ? [`backend "${backend.name}": ${backend.servers.length} server(s)`] : []),
    ].join(", default ");
    logger.info(`Frontend "${frontend.name}" (${frontend.config.mode}) listening on ${addresses.join(", ")}, ${target}`);
  }
  onListening?.(proxy);
  const reason = await waitForStopSignal(proxy, runtime, logger);
  logger.notice(reason === "graceful-stop" ? "Proxy stopped: every session finished" : "Proxy stopped");
  await proxy.close();
  return EXIT_OK;
}
