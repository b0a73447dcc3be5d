/**
 * Parses the text wrk prints (`wrk --latency`) into numbers.
 *
 * The text is parsed rather than a Lua `done()` hook because a script changes how wrk drives
 * requests, and the text already carries every figure we report with enough precision
 * (latencies to 0.01 of their unit, request counts exact).
 *
 * @module
 */

/** Socket-level failures wrk counts; a proxy under load shows up here first. */
export type WrkSocketErrors = {
  connect: number;
  read: number;
  write: number;
  timeout: number;
};

/** One wrk run, in base units: microseconds, bytes, seconds. */
export type WrkResult = {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  bytesRead: number;
  bytesPerSecond: number;
  latencyAverageMicros: number;
  latencyMaxMicros: number;
  latencyPercentilesMicros: { p50: number; p75: number; p90: number; p99: number };
  socketErrors: WrkSocketErrors;
  /** wrk counts every response with a status of 400 or more here ("Non-2xx or 3xx responses"). */
  non2xxOr3xxResponses: number;
};

const MICROS_PER_TIME_UNIT: Readonly<Record<string, number>> = {
  us: 1,
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
};

// wrk's format_binary uses powers of 1024 and appends "B" to an empty, K, M, G, T or P prefix.
const BYTES_PER_SIZE_UNIT: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
  PB: 1024 ** 5,
};

/** Converts a wrk time such as "230.00us", "3.69ms" or "1.00m" to microseconds. */
export function parseWrkTime(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)$/.exec(text.trim());
  if (match === null) throw new Error(`Cannot parse wrk time "${text}"`);
  return Number(match[1]) * MICROS_PER_TIME_UNIT[match[2]!]!;
}

/** Converts a wrk size such as "57.86MB" or "512.00B" to bytes. */
export function parseWrkSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGTP]?B)$/.exec(text.trim());
  if (match === null) throw new Error(`Cannot parse wrk size "${text}"`);
  return Number(match[1]) * BYTES_PER_SIZE_UNIT[match[2]!]!;
}

function requireMatch(text: string, pattern: RegExp, what: string): RegExpExecArray {
  const match = pattern.exec(text);
  if (match === null) {
    const firstLine = text.trim().split("\n")[0] ?? "";
    throw new Error(`Cannot parse wrk output: no ${what} found (output starts with "${firstLine}")`);
  }
  return match;
}

/** Parses the complete stdout of `wrk --latency`; throws when wrk did not finish a run. */
export function parseWrkOutput(text: string): WrkResult {
  const totals = requireMatch(
    text,
    /^\s*(\d+) requests in (\S+), (\S+) read\s*$/m,
    '"N requests in T, S read" line',
  );
  const rate = requireMatch(text, /^Requests\/sec:\s+(\d+(?:\.\d+)?)\s*$/m, '"Requests/sec" line');
  const transfer = requireMatch(text, /^Transfer\/sec:\s+(\S+)\s*$/m, '"Transfer/sec" line');
  const latency = requireMatch(text, /^\s*Latency\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s*$/m, "latency statistics");

  const percentile = (label: string): number =>
    parseWrkTime(
      requireMatch(text, new RegExp(`^\\s*${label}%\\s+(\\S+)\\s*$`, "m"), `${label}% latency`)[1]!,
    );

  const socketErrors: WrkSocketErrors = { connect: 0, read: 0, write: 0, timeout: 0 };
  const errorsLine = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$/m.exec(
    text,
  );
  if (errorsLine !== null) {
    socketErrors.connect = Number(errorsLine[1]);
    socketErrors.read = Number(errorsLine[2]);
    socketErrors.write = Number(errorsLine[3]);
    socketErrors.timeout = Number(errorsLine[4]);
  }
  const statusLine = /^\s*Non-2xx or 3xx responses: (\d+)\s*$/m.exec(text);

  return {
    requests: Number(totals[1]),
    durationSeconds: parseWrkTime(totals[2]!) / 1_000_000,
    requestsPerSecond: Number(rate[1]),
    bytesRead: parseWrkSize(totals[3]!),
    bytesPerSecond: parseWrkSize(transfer[1]!),
    latencyAverageMicros: parseWrkTime(latency[1]!),
    latencyMaxMicros: parseWrkTime(latency[2]!),
    latencyPercentilesMicros: {
      p50: percentile("50"),
      p75: percentile("75"),
      p90: percentile("90"),
      p99: percentile("99"),
    },
    socketErrors,
    non2xxOr3xxResponses: statusLine === null ? 0 : Number(statusLine[1]),
  };
}

/** All socket errors of one run added up. */
export function totalSocketErrors(errors: WrkSocketErrors): number {
  return errors.connect + errors.read + errors.write + errors.timeout;
}
