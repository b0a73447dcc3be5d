/**
 * Command-line options of scripts/reload_bench.ts.
 *
 * @module
 */

import type { LoadKind, ReloadMode } from "./reload_results.ts";

/** A proxy the reload benchmark drives: ours on one runtime, or HAProxy as the reference. */
export type ReloadContender = "node" | "bun" | "deno" | "haproxy";

/** Every contender, in report order. */
export const RELOAD_CONTENDERS: readonly ReloadContender[] = ["node", "bun", "deno", "haproxy"];

/** Everything one reload benchmark run is parameterised by. */
export type ReloadBenchOptions = {
  quick: boolean;
  contenders: ReloadContender[];
  reloadModes: ReloadMode[];
  loads: LoadKind[];
  proxyModes: ("http" | "tcp")[];
  /** The values of net.ipv4.tcp_migrate_req to measure with, in order. */
  migrateReq: number[];
  reloads: number;
  connections: number;
  /** Steady load after each completed reload before the next one starts. */
  intervalMs: number;
  /** A request without a complete answer after this long counts as a timeout. */
  timeoutMs: number;
  jsonPath: string | null;
  keepTemp: boolean;
  help: boolean;
};

/** Reloads per run: the figure. */
export const DEFAULT_RELOADS = 10;
/** --quick: enough reloads to see each combination work. */
export const QUICK_RELOADS = 3;
/**
 * Client loops: enough that a listener usually has connections waiting in its accept queue when
 * it closes (the case tcp_migrate_req is about), few enough that two cores are not saturated.
 */
export const DEFAULT_CONNECTIONS = 32;
/** Steady load between reloads: each reload starts from a settled state, as a real one would. */
export const DEFAULT_INTERVAL_MS = 500;
/** wrk's default timeout. */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** Help text for `--help`. */
export const USAGE = `Usage: node scripts/reload_bench.ts [options]

Keeps a steady request load on the proxy while it is reloaded N times with -sf (a new process
that takes over from the old one) and N times through the -W master (SIGUSR2), with
net.ipv4.tcp_migrate_req off and on, for our proxy on Node, Bun and Deno and for HAProxy; counts
every failed request by kind. Writes /proc/sys/net/ipv4/tcp_migrate_req (root) and restores it.
See docs/operations.md for the method and the results.

  --quick                 ${QUICK_RELOADS} reloads per run, new-connection load only
  --runtimes LIST         contenders, comma-separated: ${RELOAD_CONTENDERS.join(",")} (default all)
  --reloads N             reloads per run (default ${DEFAULT_RELOADS})
  --only sf|master        one reload mode only (default both)
  --loads LIST            close (a new connection per request), keepalive (default both;
                          --quick: close)
  --proxy-modes LIST      http, tcp (default http; tcp runs the close load only)
  --sysctl LIST           values of net.ipv4.tcp_migrate_req to measure with (default 0,1)
  --connections N         concurrent client loops (default ${DEFAULT_CONNECTIONS})
  --interval MS           steady load after each completed reload (default ${DEFAULT_INTERVAL_MS})
  --timeout MS            request timeout (default ${DEFAULT_TIMEOUT_MS})
  --json FILE             also write the results as JSON
  --keep-temp             keep the temporary directory (configs, logs) for inspection
  --help                  this text
`;

function wholeNumber(option: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new Error(`Invalid ${option} "${text}": expected a whole number from ${minimum}`);
  }
  return value;
}

function list<T extends string>(option: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(",").map((item) => item.trim()).filter((item) => item !== "");
  if (items.length === 0) {
    throw new Error(`Invalid ${option} "${text}": expected one or more of ${allowed.join(", ")}`);
  }
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new Error(`Invalid ${option} "${item}": expected one of ${allowed.join(", ")}`);
    }
  }
  return [...new Set(items as T[])];
}

const WITH_VALUE = new Set([
  "--runtimes",
  "--reloads",
  "--only",
  "--loads",
  "--proxy-modes",
  "--sysctl",
  "--connections",
  "--interval",
  "--timeout",
  "--json",
]);

/** Parses `argv` (without the runtime and script); throws on anything it does not know. */
export function parseReloadOptions(argv: readonly string[]): ReloadBenchOptions {
  const given = new Map<string, string>();
  let quick = false;
  let keepTemp = false;
  let help = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    const equals = argument.indexOf("=");
    const name = argument.startsWith("--") && equals > 0 ? argument.slice(0, equals) : argument;
    if (WITH_VALUE.has(name)) {
      let value: string;
      if (name !== argument) value = argument.slice(equals + 1);
      else {
        const next = argv[index + 1];
        if (next === undefined) throw new Error(`Option "${name}" needs a value`);
        value = next;
        index++;
      }
      given.set(name, value);
      continue;
    }
    switch (argument) {
      case "--quick":
        quick = true;
        break;
      case "--keep-temp":
        keepTemp = true;
        break;
      case "--help":
      case "-h":
        help = true;
        break;
      default:
        throw new Error(`Unknown option "${argument}" (see --help)`);
    }
  }

  const text = (option: string): string | undefined => given.get(option);
  const only = text("--only");
  const migrateReq = text("--sysctl") === undefined
    ? [0, 1]
    : list("--sysctl", text("--sysctl")!, ["0", "1"]).map(Number);
  return {
    quick,
    contenders: text("--runtimes") === undefined
      ? [...RELOAD_CONTENDERS]
      : list("--runtimes", text("--runtimes")!, RELOAD_CONTENDERS),
    reloadModes: only === undefined ? ["sf", "master"] : list("--only", only, ["sf", "master"] as const),
    loads: text("--loads") === undefined
      ? (quick ? ["close"] : ["close", "keepalive"])
      : list("--loads", text("--loads")!, ["close", "keepalive"] as const),
    proxyModes: text("--proxy-modes") === undefined
      ? ["http"]
      : list("--proxy-modes", text("--proxy-modes")!, ["http", "tcp"] as const),
    migrateReq,
    reloads: text("--reloads") === undefined
      ? (quick ? QUICK_RELOADS : DEFAULT_RELOADS)
      : wholeNumber("--reloads", text("--reloads")!, 1),
    connections: text("--connections") === undefined
      ? DEFAULT_CONNECTIONS
      : wholeNumber("--connections", text("--connections")!, 1),
    intervalMs: text("--interval") === undefined
      ? DEFAULT_INTERVAL_MS
      : wholeNumber("--interval", text("--interval")!, 0),
    timeoutMs: text("--timeout") === undefined
      ? DEFAULT_TIMEOUT_MS
      : wholeNumber("--timeout", text("--timeout")!, 100),
    jsonPath: text("--json") ?? null,
    keepTemp,
    help,
  };
}
