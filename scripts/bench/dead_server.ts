/**
 * The dead-server scenario's pure parts (scripts/dead_server_bench.ts): options, the
 * configurations both proxies run with, how a "server is DOWN" line is recognised, and the
 * results table.
 *
 * The setup is the one of issue 17: three origins behind a proxy with `retries 3`, `option
 * redispatch` and health checks at HAProxy's defaults (`inter 2s`, `fall 3`, `rise 2`), wrk -c32,
 * one origin killed with SIGKILL in the middle of the run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatCount, formatLatency, markdownTable } from "./table.ts";
import type { WrkResult } from "./wrk_output.ts";
import { totalSocketErrors } from "./wrk_output.ts";

/** A proxy the scenario drives: ours on one runtime, or HAProxy. */
export type DeadServerContender = "node" | "bun" | "deno" | "haproxy";
/** Every contender, in report order. */
export const DEAD_SERVER_CONTENDERS: readonly DeadServerContender[] = ["node", "bun", "deno", "haproxy"];
/** The proxy modes measured. */
export type DeadServerMode = "http" | "tcp";
/** Whether the servers are health-checked. */
export type ChecksSetting = "on" | "off";

/** Origins behind the proxy; the last one is killed. */
export const ORIGIN_COUNT = 3;
/** The origin killed mid-run: the last one. */
export const VICTIM_NAME = `origin${ORIGIN_COUNT}`;
/** HAProxy's defaults, written out so that both proxies surely run with the same. */
export const CHECK_INTERVAL_S = 2;
export const CHECK_FALL = 3;
export const CHECK_RISE = 2;
export const RETRIES = 3;
/** Long enough that the turn-around is its maximum, 1 s (min(timeout connect, 1 s)). */
export const CONNECT_TIMEOUT_S = 5;

/** Everything one run is parameterised by. */
export type DeadServerOptions = {
  contenders: DeadServerContender[];
  modes: DeadServerMode[];
  checks: ChecksSetting[];
  durationSeconds: number;
  /** When the victim is killed, from the start of the load. */
  killAfterSeconds: number;
  connections: number;
  /** Also run each contender once without killing anything, to tell the dead server's cost from the proxy's own. */
  baseline: boolean;
  jsonPath: string | null;
  help: boolean;
};

export const DEFAULT_DURATION_SECONDS = 10;
export const DEFAULT_KILL_AFTER_SECONDS = 3;
export const DEFAULT_CONNECTIONS = 32;

/** Help text for `--help`. */
export const USAGE = `Usage: node scripts/dead_server_bench.ts [options]

Three origins behind each proxy (retries ${RETRIES}, redispatch, health checks inter
${CHECK_INTERVAL_S}s fall ${CHECK_FALL} rise ${CHECK_RISE}); wrk keeps a load on it and one origin is killed
with SIGKILL in the middle of the run. Reports the failed requests, the latency percentiles and
how long after the kill the proxy marked the server DOWN, for our proxy on Node, Bun and Deno and
for HAProxy in the same run. See docs/performance.md and docs/operations.md.

  --runtimes LIST      contenders, comma-separated: ${DEAD_SERVER_CONTENDERS.join(",")} (default all)
  --modes LIST         http,tcp (default both)
  --checks WHICH       on, off or both: run with health checks, without, or each way (default on)
  --duration S         length of each wrk run, seconds (default ${DEFAULT_DURATION_SECONDS})
  --kill-after S       seconds into the run when the origin is killed (default ${DEFAULT_KILL_AFTER_SECONDS})
  --connections N      wrk connections (default ${DEFAULT_CONNECTIONS})
  --no-baseline        skip the run without a kill that comes first for each contender (it tells
                       what the dead server costs from what the proxy costs anyway)
  --json PATH          also write the results as JSON
  --help               this text
`;

function positiveNumber(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`Invalid ${flag} "${text}": expected a positive number`);
  return value;
}

function listOf<T extends string>(text: string, allowed: readonly T[], flag: string): T[] {
  const items = text.split(",").map((item) => item.trim()).filter((item) => item !== "");
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`Invalid ${flag} "${item}": expected one of ${allowed.join(", ")}`);
    }
  }
  if (items.length === 0) throw new Error(`Invalid ${flag} "${text}": expected one of ${allowed.join(", ")}`);
  return items as T[];
}

/** Reads the command line; throws with a message for the user on anything invalid. */
export function parseDeadServerOptions(argv: readonly string[]): DeadServerOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runtimes: { type: "string" },
      modes: { type: "string" },
      checks: { type: "string" },
      duration: { type: "string" },
      "kill-after": { type: "string" },
      connections: { type: "string" },
      "no-baseline": { type: "boolean" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  const checks = values.checks ?? "on";
  if (checks !== "on" && checks !== "off" && checks !== "both") {
    throw new Error(`Invalid --checks "${checks}": expected on, off or both`);
  }
  const options: DeadServerOptions = {
    contenders: values.runtimes === undefined ? [...DEAD_SERVER_CONTENDERS] : listOf(values.runtimes, DEAD_SERVER_CONTENDERS, "--runtimes"),
    modes: values.modes === undefined ? ["http", "tcp"] : listOf(values.modes, ["http", "tcp"] as const, "--modes"),
    checks: checks === "both" ? ["on", "off"] : [checks],
    durationSeconds: values.duration === undefined ? DEFAULT_DURATION_SECONDS : positiveNumber(values.duration, "--duration"),
    killAfterSeconds: values["kill-after"] === undefined ? DEFAULT_KILL_AFTER_SECONDS : positiveNumber(values["kill-after"], "--kill-after"),
    connections: values.connections === undefined ? DEFAULT_CONNECTIONS : positiveNumber(values.connections, "--connections"),
    baseline: !(values["no-baseline"] ?? false),
    jsonPath: values.json ?? null,
    help: values.help ?? false,
  };
  if (!Number.isInteger(options.connections)) throw new Error(`Invalid --connections "${values.connections}": expected a whole number`);
  if (options.killAfterSeconds >= options.durationSeconds) {
    throw new Error(`Invalid --kill-after "${options.killAfterSeconds}": it must come before the end of the run (--duration ${options.durationSeconds})`);
  }
  return options;
}

/** Our configuration: the same servers, retries, redispatch, timeouts and checks as HAProxy's. */
export function ourDeadServerConfig(mode: DeadServerMode, port: number, backends: readonly string[], checks: ChecksSetting): string {
  return [
    "[defaults]",
    `mode = "${mode}"`,
    `retries = ${RETRIES}`,
    "redispatch = true",
    "",
    "[defaults.timeout]",
    `connect = "${CONNECT_TIMEOUT_S}s"`,
    'client = "30s"',
    'server = "30s"',
    "",
    "[frontends.bench]",
    `bind = "127.0.0.1:${port}"`,
    'default-backend = "origins"',
    "",
    "[backends.origins]",
    'balance = "roundrobin"',
    ...(checks === "on" ? [`check = { interval = "${CHECK_INTERVAL_S}s", fall = ${CHECK_FALL}, rise = ${CHECK_RISE} }`] : []),
    "servers = [",
    ...backends.map((address, index) => `  { name = "origin${index + 1}", address = "${address}" },`),
    "]",
    "",
  ].join("\n");
}

/** HAProxy's configuration: one thread, `retries`, `option redispatch`, `check` on every server. */
export function haproxyDeadServerConfig(mode: DeadServerMode, port: number, backends: readonly string[], checks: ChecksSetting): string {
  const check = checks === "on" ? ` check inter ${CHECK_INTERVAL_S}s fall ${CHECK_FALL} rise ${CHECK_RISE}` : "";
  return [
    "global",
    "    nbthread 1",
    "    maxconn 4096",
    "",
    "defaults",
    `    mode ${mode}`,
    `    retries ${RETRIES}`,
    "    option redispatch",
    `    timeout connect ${CONNECT_TIMEOUT_S}s`,
    "    timeout client 30s",
    "    timeout server 30s",
    ...(mode === "http" ? ["    option http-keep-alive"] : []),
    "",
    "frontend bench",
    `    bind 127.0.0.1:${port}`,
    "    default_backend origins",
    "",
    "backend origins",
    "    balance roundrobin",
    ...backends.map((address, index) => `    server origin${index + 1} ${address}${check}`),
    "",
  ].join("\n");
}

/**
 * Whether a proxy's standard error says the server went down: ours writes
 * `Server "origins/origin3" is DOWN, ...`, HAProxy `Server origins/origin3 is DOWN, ...`.
 */
export function saysServerDown(stderr: string, server: string): boolean {
  return new RegExp(`Server "?origins/${server}"? is DOWN`).test(stderr);
}

/** One run's outcome. */
export type DeadServerResult = {
  contender: DeadServerContender;
  mode: DeadServerMode;
  checks: ChecksSetting;
  /** Whether an origin was killed during this run (false: the baseline). */
  killed: boolean;
  /** The load result; null when the run did not complete (see `problem`). */
  wrk: WrkResult | null;
  /** From the kill to the DOWN line on the proxy's standard error; null: not marked down during the run. */
  downAfterMs: number | null;
  problem: string | null;
};

/** Requests that did not get a good answer: socket errors and statuses of 400 and above. */
export function failedRequests(wrk: WrkResult): number {
  return totalSocketErrors(wrk.socketErrors) + wrk.non2xxOr3xxResponses;
}

function contenderLabel(contender: DeadServerContender): string {
  return contender === "haproxy" ? "haproxy" : `ours/${contender}`;
}

/** The results as a Markdown table, one row per run. */
export function deadServerTable(results: readonly DeadServerResult[]): string {
  const header = ["contender", "mode", "checks", "origin killed", "requests", "failed", "req/s", "p50", "p99", "max", "marked down after"];
  const rows = results.map((result) => {
    const wrk = result.wrk;
    const down = !result.killed || result.checks === "off"
      ? "-"
      : result.downAfterMs === null ? "not during the run" : `${result.downAfterMs} ms`;
    const killed = result.killed ? "yes" : "no";
    if (wrk === null) {
      return [contenderLabel(result.contender), result.mode, result.checks, killed, result.problem ?? "no result", "", "", "", "", "", down];
    }
    return [
      contenderLabel(result.contender),
      result.mode,
      result.checks,
      killed,
      formatCount(wrk.requests),
      formatCount(failedRequests(wrk)),
      formatCount(wrk.requestsPerSecond),
      formatLatency(wrk.latencyPercentilesMicros.p50),
      formatLatency(wrk.latencyPercentilesMicros.p99),
      formatLatency(wrk.latencyMaxMicros),
      down,
    ];
  });
  return markdownTable(header, rows, new Set([4, 5, 6, 7, 8, 9]));
}
