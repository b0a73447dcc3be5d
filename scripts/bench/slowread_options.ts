/**
 * Command-line options of scripts/slowread_bench.ts.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Everything one slow-reader benchmark run is parameterised by. */
export type SlowReadOptions = {
  quick: boolean;
  /** Connections slowhttptest -X opens (-c). */
  slowReaders: number;
  /** Connections slowhttptest opens per second (-r). */
  rampRate: number;
  /** What the slow readers ask for. */
  slowPath: string;
  /** The normal client: requests per second, how long beside the attack and alone before it. */
  clientRate: number;
  durationSeconds: number;
  baselineSeconds: number;
  timeoutMs: number;
  rounds: number;
  /** Contender names (ours/node, ours/bun, ours/deno, ours/binary, haproxy, nginx); empty: ours and haproxy. */
  only: string[];
  proxyEnv: Record<string, string>;
  /**
   * net.ipv4.tcp_wmem's maximum in the private network namespace the run moves into (0: stay on
   * the host's network, kernel settings as they are).
   */
  wmemMax: number;
  jsonPath: string | null;
  pinCpus: boolean;
  keepTemp: boolean;
  help: boolean;
};

/** The attack: 1,000 slow readers of a 1 MiB page. */
export const FULL_DEFAULTS = { slowReaders: 1_000, durationSeconds: 20, baselineSeconds: 5 };
/** A smaller attack that still shows the effect, in about a minute per contender less. */
export const QUICK_DEFAULTS = { slowReaders: 300, durationSeconds: 8, baselineSeconds: 3 };
/** slowhttptest's default rate is 50 connections/s: 1,000 would take 20 s to open. */
export const DEFAULT_RAMP_RATE = 250;
/** The normal client's pace: enough samples for a p99 in a few seconds, little load by itself. */
export const DEFAULT_CLIENT_RATE = 100;
/** wrk's default timeout. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/**
 * A stalled connection's send buffer over a real link stays near its initial size (initial
 * congestion window x 1448-byte segments, tens of KiB); on loopback, whose segments are 64 KiB,
 * the kernel grows it to tcp_wmem's maximum (4 MiB) and takes a whole 1 MiB page per slow reader.
 */
export const DEFAULT_WMEM_MAX = 128 * 1024;
/** Run by default: our proxy on each runtime, and HAProxy as the reference. */
export const DEFAULT_CONTENDERS = ["ours/node", "ours/bun", "ours/deno", "haproxy"];

/** Help text for `--help`. */
export const USAGE = `Usage: node scripts/slowread_bench.ts [options]

Slow readers (issue 17): slowhttptest -X opens N connections that each ask for a 1 MiB page and
read the answer a few bytes at a time, while a normal client asks for GET / at a steady pace on
new connections; for our proxy on Node, Bun and Deno and for HAProxy, in http mode, one contender
at a time behind the same origins. Reports the normal client's latency and failures, alone and
under the attack, and the contender's memory. See docs/performance.md, "Slow readers".

  --quick                 ${QUICK_DEFAULTS.slowReaders} slow readers, ${QUICK_DEFAULTS.durationSeconds} s under attack
  --slow-readers N        slowhttptest connections (default ${FULL_DEFAULTS.slowReaders})
  --ramp-rate N           slow connections opened per second (default ${DEFAULT_RAMP_RATE})
  --slow-path PATH        what the slow readers ask for: /1mb or / (default /1mb)
  --rate N                normal client requests per second (default ${DEFAULT_CLIENT_RATE})
  --duration SECONDS      normal client under the attack (default ${FULL_DEFAULTS.durationSeconds})
  --baseline SECONDS      normal client alone before the attack; 0 skips (default ${FULL_DEFAULTS.baselineSeconds})
  --timeout MS            a normal request without its answer after this long fails (default ${DEFAULT_TIMEOUT_MS})
  --rounds N              rounds, contenders in rotated order; medians over rounds (default 1)
  --only NAMES            comma-separated: ours/node, ours/bun, ours/deno, ours/binary, haproxy,
                          nginx (default ${DEFAULT_CONTENDERS.join(",")})
  --proxy-env KEY=VALUE   environment for our proxy processes (repeatable)
  --wmem-max BYTES        run in a private network namespace (root, unshare) whose
                          net.ipv4.tcp_wmem maximum is BYTES, as over a real link; 0 runs on
                          the host's loopback as it is (default ${DEFAULT_WMEM_MAX})
  --json FILE             also write every run as JSON
  --no-pin                do not pin processes to CPUs with taskset
  --keep-temp             keep the temporary directory (configs, logs) for inspection
  --help                  this text
`;

function wholeNumber(option: string, text: string | undefined, fallback: number, minimum: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new Error(`Invalid --${option} "${text}": expected a whole number from ${minimum}`);
  }
  return value;
}

/** Parses `argv` (without the runtime and script); throws on anything it does not know. */
export function parseSlowReadOptions(argv: readonly string[]): SlowReadOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean" },
        "slow-readers": { type: "string" },
        "ramp-rate": { type: "string" },
        "slow-path": { type: "string" },
        rate: { type: "string" },
        duration: { type: "string" },
        baseline: { type: "string" },
        timeout: { type: "string" },
        rounds: { type: "string" },
        only: { type: "string" },
        "proxy-env": { type: "string", multiple: true },
        "wmem-max": { type: "string" },
        json: { type: "string" },
        "no-pin": { type: "boolean" },
        "keep-temp": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new Error(`${(error as Error).message} (see --help)`);
  }
  const values = parsed.values;
  const quick = values.quick === true;
  const defaults = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const proxyEnv: Record<string, string> = {};
  for (const pair of values["proxy-env"] ?? []) {
    const separator = pair.indexOf("=");
    if (separator <= 0) throw new Error(`Invalid --proxy-env "${pair}": expected KEY=VALUE`);
    proxyEnv[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  const slowPath = values["slow-path"] ?? "/1mb";
  if (slowPath !== "/1mb" && slowPath !== "/") {
    throw new Error(`Invalid --slow-path "${slowPath}": expected /1mb or /`);
  }
  const wmemMax = wholeNumber("wmem-max", values["wmem-max"], DEFAULT_WMEM_MAX, 0);
  if (wmemMax !== 0 && wmemMax < 16_384) throw new Error(`Invalid --wmem-max "${wmemMax}": expected 0 or at least 16384`);
  const only = (values.only ?? "").split(",").map((name) => name.trim()).filter((name) => name !== "");
  return {
    quick,
    slowReaders: wholeNumber("slow-readers", values["slow-readers"], defaults.slowReaders, 1),
    rampRate: wholeNumber("ramp-rate", values["ramp-rate"], DEFAULT_RAMP_RATE, 1),
    slowPath,
    clientRate: wholeNumber("rate", values.rate, DEFAULT_CLIENT_RATE, 1),
    durationSeconds: wholeNumber("duration", values.duration, defaults.durationSeconds, 1),
    baselineSeconds: wholeNumber("baseline", values.baseline, defaults.baselineSeconds, 0),
    timeoutMs: wholeNumber("timeout", values.timeout, DEFAULT_TIMEOUT_MS, 100),
    rounds: wholeNumber("rounds", values.rounds, 1, 1),
    only: only.length > 0 ? only : [...DEFAULT_CONTENDERS],
    proxyEnv,
    wmemMax,
    jsonPath: values.json ?? null,
    pinCpus: values["no-pin"] !== true,
    keepTemp: values["keep-temp"] === true,
    help: values.help === true,
  };
}
