/**
 * Command-line options of scripts/bench.ts.
 *
 * @module
 */

import type { ProxyMode } from "./contenders.ts";

/** Every proxy mode the benchmark knows, in the order rows are run and printed. */
export const ALL_MODES: readonly ProxyMode[] = ["tcp", "http", "https"];

/** Everything one benchmark run is parameterised by. */
export type BenchOptions = {
  quick: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  idleConnections: number;
  jsonPath: string | null;
  /** Extra environment for our proxy processes, e.g. to select another socket implementation. */
  proxyEnv: Record<string, string>;
  /** Contender names to run (e.g. "ours/node", "haproxy"); empty runs all. */
  only: string[];
  /** Proxy modes to run; "origin direct" runs with tcp or http, the memory scenario with those too. */
  modes: ProxyMode[];
  /**
   * Where to save CPU profiles of ours under load, their summary and the syscall counts (see
   * profiles.ts); null takes none.
   */
  profileDirectory: string | null;
  pinCpus: boolean;
  keepTemp: boolean;
  help: boolean;
};

/**
 * Full run: five short rounds rather than three long ones, because the noise on a shared machine
 * comes in bursts that a median over more rounds absorbs; ~26 measurements stay under 10 minutes.
 */
export const FULL_DEFAULTS = { durationSeconds: 3, warmupSeconds: 2, rounds: 5, idleConnections: 10_000 };
/** Quick run: enough to see every contender work, about a minute and a half. */
export const QUICK_DEFAULTS = { durationSeconds: 1, warmupSeconds: 1, rounds: 3, idleConnections: 2_000 };
/** wrk connections: enough to keep a single-threaded proxy busy, few enough not to measure queueing. */
export const DEFAULT_CONNECTIONS = 64;

/** Help text for `--help`. */
export const USAGE = `Usage: node scripts/bench.ts [options]

Compares our proxy (Node, Bun, Deno, dist/proxy) with HAProxy and nginx behind the same origins,
and in http mode with the JavaScript peers (peer/bun-fetch, peer/deno-fetch, peer/http-proxy,
peer/undici: a few lines on each runtime's own http server and client) and the socket-layer floors
(floor/node, floor/bun, floor/deno: the least work a proxy can do on the socket layer ours uses on
that runtime, tcp and http mode), and measures the cost of traffic logging (the "+log" contenders: http mode, one syslog line per
request over UDP to a receiver the benchmark runs) and of the stats (the "+stats" contenders: http
mode plus a stats frontend on its own port, whose /metrics and /stats;csv the benchmark GETs once
a second while each is measured).

  --quick                 short run (1 s per measurement, 2,000 idle connections)
  --duration SECONDS      length of each wrk run (default ${FULL_DEFAULTS.durationSeconds})
  --warmup SECONDS        discarded wrk run per contender before round 1 (default ${FULL_DEFAULTS.warmupSeconds})
  --rounds N              interleaved rounds; medians are taken over them (default ${FULL_DEFAULTS.rounds})
  --connections N         wrk connections (default ${DEFAULT_CONNECTIONS})
  --idle-connections N    memory scenario size; 0 skips it (default ${FULL_DEFAULTS.idleConnections})
  --json FILE             also write the results as JSON
  --proxy-env KEY=VALUE   environment for our proxy processes (repeatable)
  --only NAMES            comma-separated contenders to run, e.g. ours/node,haproxy; the logging
                          ones are ours/node+log, ours/bun+log, ours/deno+log, haproxy+log; those
                          showing stats ours/node+stats, ours/bun+stats, ours/deno+stats (each is
                          compared with the same name without the suffix: run both); the peers
                          peer/bun-fetch, peer/deno-fetch, peer/http-proxy, peer/undici; the
                          floors floor/node, floor/bun, floor/deno (each divides the ours/ of its
                          runtime: run both)
  --modes LIST            comma-separated proxy modes: tcp, http, https (TLS termination, keep-alive
                          and one full handshake per request); default all. --modes https runs
                          the TLS rows only
  --profile DIR           after the rounds, profile ours/<runtime> once more in http and tcp mode
                          (16 B, one wrk run each): CPU profiles (.cpuprofile), DIR/summary.txt
                          (top functions, share per file), and with strace DIR/syscalls.txt
                          (system calls per request of ours, the floors and HAProxy, http mode)
  --no-pin                do not pin processes to CPUs with taskset
  --keep-temp             keep the temporary directory (configs, logs) for inspection
  --help                  this text
`;

function positiveInteger(option: string, text: string, allowZero: boolean): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || (!allowZero && value === 0)) {
    const expected = allowZero ? "a whole number" : "a positive whole number";
    throw new Error(`Invalid ${option} "${text}": expected ${expected}`);
  }
  return value;
}

function commaList(text: string): string[] {
  return text.split(",").map((name) => name.trim()).filter((name) => name !== "");
}

function parseModes(text: string | undefined): ProxyMode[] {
  if (text === undefined) return [...ALL_MODES];
  const names = commaList(text);
  if (names.length === 0) throw new Error(`Invalid --modes "${text}": expected one or more of ${ALL_MODES.join(", ")}`);
  for (const name of names) {
    if (!(ALL_MODES as readonly string[]).includes(name)) {
      throw new Error(`Invalid --modes "${name}": expected one of ${ALL_MODES.join(", ")}`);
    }
  }
  // In the usual order whatever the order given, each once.
  return ALL_MODES.filter((mode) => names.includes(mode));
}

/** Parses `argv` (without the runtime and script); throws on anything it does not know. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const given = new Map<string, string>();
  const proxyEnv: Record<string, string> = {};
  let quick = false;
  let pinCpus = true;
  let keepTemp = false;
  let help = false;

  const withValue = new Set([
    "--duration",
    "--warmup",
    "--rounds",
    "--connections",
    "--idle-connections",
    "--json",
    "--proxy-env",
    "--only",
    "--modes",
    "--profile",
  ]);

  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    const equals = argument.indexOf("=");
    const name = argument.startsWith("--") && equals > 0 ? argument.slice(0, equals) : argument;
    if (withValue.has(name)) {
      let value: string;
      if (name !== argument) value = argument.slice(equals + 1);
      else {
        const next = argv[index + 1];
        if (next === undefined) throw new Error(`Option "${name}" needs a value`);
        value = next;
        index++;
      }
      if (name === "--proxy-env") {
        const separator = value.indexOf("=");
        if (separator <= 0) throw new Error(`Invalid --proxy-env "${value}": expected KEY=VALUE`);
        proxyEnv[value.slice(0, separator)] = value.slice(separator + 1);
      } else given.set(name, value);
      continue;
    }
    switch (argument) {
      case "--quick":
        quick = true;
        break;
      case "--no-pin":
        pinCpus = false;
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

  const defaults = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const integer = (option: string, fallback: number, allowZero = false): number => {
    const text = given.get(option);
    return text === undefined ? fallback : positiveInteger(option, text, allowZero);
  };
  return {
    quick,
    durationSeconds: integer("--duration", defaults.durationSeconds),
    warmupSeconds: integer("--warmup", defaults.warmupSeconds, true),
    rounds: integer("--rounds", defaults.rounds),
    connections: integer("--connections", DEFAULT_CONNECTIONS),
    idleConnections: integer("--idle-connections", defaults.idleConnections, true),
    jsonPath: given.get("--json") ?? null,
    proxyEnv,
    only: commaList(given.get("--only") ?? ""),
    modes: parseModes(given.get("--modes")),
    profileDirectory: given.get("--profile") ?? null,
    pinCpus,
    keepTemp,
    help,
  };
}
