/**
 * A variant of a contender against the contender itself, measured in the same rounds: traffic
 * logging on against off ("ours/node+log" against "ours/node", logging.ts), stats shown and
 * scraped against not ("ours/node+stats", stats_cost.ts).
 *
 * The ratios are taken per round (the two runs of a pair follow each other, see rounds.ts) and
 * their median is reported with the range over rounds: a pair measured back to back shares the
 * machine's state, so the per-round ratio cancels slow drift that two separate medians keep, and
 * the range shows how far one round's figure can be trusted.
 *
 * @module
 */

import type { BenchMode, BodyName, RunSample } from "./report.ts";
import { cpuMicrosPerRequest, median } from "./report.ts";

/** A ratio over rounds: the median of the per-round ratios and their range. */
export type RatioSpread = { median: number; min: number; max: number; rounds: number };

/** One variant against its baseline, for one mode and body. */
export type OnOffComparison = {
  /** The contender without the variant's feature, e.g. "ours/node". */
  contender: string;
  /** The variant, e.g. "ours/node+log". */
  variant: string;
  mode: BenchMode;
  body: BodyName;
  /** Medians over rounds of each side; null when the baseline was not measured. */
  requestsPerSecondOff: number | null;
  requestsPerSecondOn: number;
  cpuMicrosPerRequestOff: number | null;
  cpuMicrosPerRequestOn: number;
  /** on / off, per round; null when no round measured both. */
  requestsPerSecondRatio: RatioSpread | null;
  cpuPerRequestRatio: RatioSpread | null;
  /** Requests wrk completed against the variant, summed over rounds. */
  requests: number;
  /** The variant's samples, in the order measured, for what each kind of variant counts on top. */
  samples: RunSample[];
};

/** The median and range of some per-round ratios; null when none is finite. */
export function spread(values: readonly number[]): RatioSpread | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    rounds: finite.length,
  };
}

/**
 * One comparison per variant, mode and body, in the order they first appear in the samples.
 * `baselineOf` names the contender a variant is compared with, null for a sample that is no
 * variant of the kind wanted.
 */
export function onOffComparisons(
  samples: readonly RunSample[],
  baselineOf: (contender: string) => string | null,
): OnOffComparison[] {
  const groups = new Map<string, RunSample[]>();
  for (const sample of samples) {
    if (baselineOf(sample.contender) === null) continue;
    const key = `${sample.contender}\u0000${sample.mode}\u0000${sample.body}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [sample]);
    else group.push(sample);
  }
  const comparisons: OnOffComparison[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const baseline = baselineOf(first.contender)!;
    const off = samples.filter((sample) =>
      sample.contender === baseline && sample.mode === first.mode && sample.body === first.body
    );
    const completed = (sample: RunSample): boolean => sample.wrk.requests > 0;
    const pairs = group.filter(completed).flatMap((on) => {
      const partner = off.find((sample) => sample.round === on.round && completed(sample));
      return partner === undefined ? [] : [{ on, off: partner }];
    });
    comparisons.push({
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
      samples: group,
    });
  }
  return comparisons;
}
