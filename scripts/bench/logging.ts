/**
 * The cost of traffic logging: each logging contender ("ours/node+log") set against the same
 * contender without logging ("ours/node"), measured in the same rounds.
 *
 * The ratios are taken per round (the two runs of a pair follow each other, see rounds.ts) and
 * their median is reported with the range over rounds: a pair measured back to back shares the
 * machine's state, so the per-round ratio cancels slow drift that two separate medians keep, and
 * the range shows how far one round's figure can be trusted.
 *
 * @module
 */

import type { BenchMode, BodyName, RunSample } from "./report.ts";
import { cpuMicrosPerRequest, loggingBaseline, median } from "./report.ts";

/** A ratio over rounds: the median of the per-round ratios and their range. */
export type RatioSpread = { median: number; min: number; max: number; rounds: number };

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

function spread(values: readonly number[]): RatioSpread | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    rounds: finite.length,
  };
}

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
  const groups = new Map<string, RunSample[]>();
  for (const sample of samples) {
    if (loggingBaseline(sample.contender) === null) continue;
    const key = `${sample.contender}\u0000${sample.mode}\u0000${sample.body}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [sample]);
    else group.push(sample);
  }
  const costs: LoggingCost[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const baseline = loggingBaseline(first.contender)!;
    const off = samples.filter((sample) =>
      sample.contender === baseline && sample.mode === first.mode && sample.body === first.body
    );
    const completed = (sample: RunSample): boolean => sample.wrk.requests > 0;
    const pairs = group.filter(completed).flatMap((on) => {
      const partner = off.find((sample) => sample.round === on.round && completed(sample));
      return partner === undefined ? [] : [{ on, off: partner }];
    });
    costs.push({
      contender: baseline,
      variant: first.contender,
      mode: first.mode,
      body: first.body,
      requestsPerSecondOff: off.length === 0
        ? null
        : median(off.map((sample) => sample.wrk.requestsPerSecond)),
      requestsPerSecondOn: median(group.map((sample) => sample.wrk.requestsPerSecond)),
      cpuMicrosPerRequestOff: off.length === 0 ? null : median(off.map(cpuMicrosPerRequest)),
      cpuMicrosPerRequestOn: median(group.map(cpuMicrosPerRequest)),
      requestsPerSecondRatio: spread(
        pairs.map((pair) => pair.on.wrk.requestsPerSecond / pair.off.wrk.requestsPerSecond),
      ),
      cpuPerRequestRatio: spread(
        pairs.map((pair) => cpuMicrosPerRequest(pair.on) / cpuMicrosPerRequest(pair.off)),
      ),
      requests: group.reduce((sum, sample) => sum + sample.wrk.requests, 0),
      linesReceived: sumOrNull(group.map((sample) => sample.log?.lines ?? null)),
      kernelDrops: sumOrNull(group.map((sample) => sample.log?.kernelDrops ?? null)),
      senderDrops: senderDrops.get(first.contender) ?? null,
    });
  }
  return costs;
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
