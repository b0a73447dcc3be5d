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
import { BALANCE_ALGORITHMS } from "../core/balance/mod.ts";
import type { Proxy } from "../engine/proxy.ts";
import type { QuickStartOptions } from "../config/quick_start.ts";
import { runStandalone } from "../lifecycle/standalone.ts";
import { runMaster } from "../lifecycle/master.ts";
import { DEFAULT_PROCESS_OPTIONS } from "../lifecycle/process_options.ts";
import { configReadIo, readConfig } from "../lifecycle/config_handover.ts";
import type { ConfigHandover } from "../lifecycle/config_handover.ts";
import type { FinishOldProcesses, ProcessOptions } from "../lifecycle/process_options.ts";
import { COMMON_ARGS, listOf, parseStrict } from "./args.ts";
import { EXIT_OK, UsageError } from "./exit_codes.ts";
import { formatConfigIssue } from "../config/load.ts";
import type { ConfigIssue } from "../config/load.ts";

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
  reuseport: {
    type: "boolean",
    default: true,
    description: "Bind with SO_REUSEPORT (--no-reuseport: bind every listener without it, also with -f)",
  },
  pidfile: { type: "string", alias: ["p"], description: "Write the process id to FILE once listening (overrides global.pidfile)" },
  "soft-finish": {
    type: "string",
    description: "Once listening, tell these old processes to finish gracefully (SIGUSR1); HAProxy's -sf PID... is accepted",
  },
  "hard-finish": {
    type: "string",
    description: "Once listening, tell these old processes to stop now (SIGTERM); HAProxy's -st PID... is accepted",
  },
  "master-worker": {
    type: "boolean",
    alias: ["W"],
    description: "Run a master process that starts the workers, reloads on SIGUSR2 or SIGHUP and restarts dead workers",
  },
  log: {
    type: "string",
    description: "Log target(s) for traffic lines and operator messages: stdout, stderr, udp://HOST[:PORT], tcp://HOST[:PORT] (comma-separated or repeated)",
  },
  cert: {
    type: "string",
    description: "Serve TLS on every --bind address with this certificate: a PEM file (chain and key) or a directory of them (comma-separated or repeated; the first is the default)",
  },
  stats: {
    type: "string",
    description: "Serve the stats page at / and /stats (CSV at /stats;csv, JSON at /stats;json) and Prometheus metrics at /metrics on this address",
  },
  "stats-auth": {
    type: "string",
    description: "Ask for this user:password on the --stats listener (basic auth; repeat for several users)",
  },
  ...COMMON_ARGS,
} as const satisfies ArgsDef;

/** Flags that describe the proxy on the command line, which a configuration file replaces. */
const QUICK_START_FLAGS = ["bind", "backend", "mode", "balance", "log", "cert", "stats", "stats-auth"] as const;

/** A configuration and where it came from. */
export interface ConfigChoice {
  readonly config: Config;
  readonly warnings: readonly ConfigIssue[];
  /** The files read, empty for the quick start. */
  readonly files: readonly string[];
  /** What a -W master hands its workers: the texts read (no file is read twice) or the quick-start flags. */
  readonly handover: ConfigHandover;
  /** -c: check only. */
  readonly checkOnly: boolean;
  /** The quick-start flags when there are no files (a master rebuilds the workers' config from them). */
  readonly quickStart: QuickStartOptions | null;
  /** The lifecycle flags. */
  readonly process: ProcessOptions;
}

/** Builds the Config from `-f` files or from the quick-start flags (never both). */
export async function configFromArgs(rawArgs: string[], runtime: Runtime): Promise<ConfigChoice> {
  rawArgs = expandFinishFlags(rawArgs);
  const args = parseStrict(rawArgs, RUN_ARGS);
  const files = listOf(args.config);
  const checkOnly = args.check === true;
  const process = processOptions(args);
  if (files.length > 0) {
    const given: string[] = QUICK_START_FLAGS.filter((flag) => args[flag] !== undefined);
    if (given.length > 0) {
      throw new UsageError(
        `Options ${given.map((flag) => `--${flag}`).join(", ")} cannot be combined with -f: describe the proxy in the configuration file`,
      );
    }
    const read = await readConfig(files, null, process.noReusePort, configReadIo(runtime));
    return { ...read, files, checkOnly, quickStart: null, process };
  }
  if (checkOnly && args.bind === undefined && args.backend === undefined) {
    throw new UsageError("Nothing to check: give a configuration file with -f FILE");
  }
  const quickStart: QuickStartOptions = {
    bind: listOf(args.bind),
    backend: listOf(args.backend),
    mode: args.mode === undefined ? undefined : String(args.mode),
    balance: args.balance === undefined ? undefined : String(args.balance),
    reusePort: !process.noReusePort,
    log: listOf(args.log),
    cert: listOf(args.cert),
    stats: listOf(args.stats),
    statsAuth: listOf(args["stats-auth"]),
  };
  const read = await readConfig([], quickStart, process.noReusePort, configReadIo(runtime));
  return { ...read, files: [], checkOnly, quickStart, process };
}

/** HAProxy's `-sf PID...` / `-st PID...` (every number that follows) as --soft-finish / --hard-finish. */
export function expandFinishFlags(rawArgs: readonly string[]): string[] {
  const expanded: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") {
      expanded.push(...rawArgs.slice(i));
      break;
    }
    if (arg !== "-sf" && arg !== "-st") {
      expanded.push(arg);
      continue;
    }
    const pids: string[] = [];
    while (i + 1 < rawArgs.length && /^\d+$/.test(rawArgs[i + 1]!)) pids.push(rawArgs[++i]!);
    if (pids.length === 0) throw new UsageError(`Option "${arg}" needs one or more process ids`);
    expanded.push(`--${arg === "-sf" ? "soft" : "hard"}-finish=${pids.join(",")}`);
  }
  return expanded;
}

function processOptions(args: Record<string, unknown>): ProcessOptions {
  const soft = pidList("--soft-finish", args["soft-finish"]);
  const hard = pidList("--hard-finish", args["hard-finish"]);
  if (soft.length > 0 && hard.length > 0) throw new UsageError("Options -sf and -st cannot be combined: pick one way to finish the old processes");
  const finish: FinishOldProcesses | null = soft.length > 0
    ? { mode: "soft", pids: soft }
    : hard.length > 0
    ? { mode: "hard", pids: hard }
    : null;
  const pidfile = args.pidfile === undefined ? null : String(args.pidfile);
  if (pidfile === "") throw new UsageError('Option "-p" needs a file name');
  return { pidfile, finish, masterWorker: args["master-worker"] === true, noReusePort: args.reuseport === false };
}

function pidList(flag: string, value: unknown): number[] {
  return listOf(value).flatMap((text) => text.split(",")).filter((text) => text !== "").map((text) => {
    const pid = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(pid) || pid < 1) {
      throw new UsageError(`Option "${flag}" expects process ids, found "${text}"`);
    }
    return pid;
  });
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
  if (choice.process.masterWorker || choice.config.global.workers !== 1) return await runMaster(choice, runtime, logger);
  return await runStandalone(choice.config, choice.process, runtime, logger);
}

/** Starts a proxy from a Config in this process and runs it until a stop signal; returns the exit code. */
export function runProxy(
  config: Config,
  runtime: Runtime,
  logger: Logger,
  onListening?: (proxy: Proxy) => void,
): Promise<number> {
  return runStandalone(config, DEFAULT_PROCESS_OPTIONS, runtime, logger, onListening);
}
