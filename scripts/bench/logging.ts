/**
 * The cost of traffic logging: each logging contender ("ours/node+log") set against the same
 * contender without logging ("ours/node"), measured in the same rounds (per-round ratios, see
 * on_off.ts).
 *
 * @module
 */

import type { BenchMode, BodyName, RunSample } from "./report.ts";
import { loggingBaseline } from "./report.ts";
import type { RatioSpread } from "./on_off.ts";
import { onOffComparisons } from "./on_off.ts";

export type { RatioSpread } from "./on_off.ts";

/** Logging on against logging off for one contender, mode and body. */
export type LoggingCost = {
  /** The contender without logging, e.g. "ours/node". */
  contender: string;
  /** The contender with logging, e.g. "ours/node+log". */
  variant: string;
  mode: BenchMode;
  body: BodyName;
  /** Medians over rounds of each side; null when the side without logging was not measured. */
  requestsPerSecondOff: number | null;
  requestsPerSecondOn: number;
  cpuMicrosPerRequestOff: number | null;
  cpuMicrosPerRequestOn: number;
  /** on / off, per round; null when no round measured both. */
  requestsPerSecondRatio: RatioSpread | null;
  cpuPerRequestRatio: RatioSpread | null;
  /** Requests wrk completed against the logging contender, summed over rounds. */
  requests: number;
  /** Traffic lines the receiver counted meanwhile; null when it did not count. */
  linesReceived: number | null;
  /** Datagrams the kernel dropped at the receiver meanwhile; null when unknown. */
  kernelDrops: number | null;
  /** Lines the proxy itself reported dropping (whole process life); null when it cannot tell. */
  senderDrops: number | null;
};

function sumOrNull(values: readonly (number | null)[]): number | null {
  return values.some((value) => value === null)
    ? null
    : values.reduce<number>((sum, value) => sum + value!, 0);
}

/**
 * One cost per logging contender, mode and body, in the order they first appear in the samples.
 * `senderDrops` maps a logging contender's name to the drops its proxy reported, when known.
 */
export function loggingCosts(
  samples: readonly RunSample[],
  senderDrops: ReadonlyMap<string, number | null> = new Map(),
): LoggingCost[] {
  return onOffComparisons(samples, loggingBaseline).map(({ samples: group, ...comparison }) => ({
    ...comparison,
    linesReceived: sumOrNull(group.map((sample) => sample.log?.lines ?? null)),
    kernelDrops: sumOrNull(group.map((sample) => sample.log?.kernelDrops ?? null)),
    senderDrops: senderDrops.get(comparison.variant) ?? null,
  }));
}

/**
 * The lines our proxy says it dropped, from its standard error: each report reads `Log target
 * "udp://..." dropped N lines (M in all): reason`, and the last total is the process's. 0 when it
 * reported none.
 */
export function proxyReportedDrops(stderr: string): number {
  let total = 0;
  for (const match of stderr.matchAll(/dropped \d+ lines? \((\d+) in all\)/g)) {
    total = Math.max(total, Number(match[1]));
  }
  return total;
}
