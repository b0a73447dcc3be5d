/**
 * The cost of showing the stats: each "+stats" contender (the same command line plus `--stats`, a
 * second http frontend with the stats page and the metrics, scraped once a second while it is
 * measured) set against the same contender without stats, measured in the same rounds (per-round
 * ratios, see on_off.ts). Issue 20 asks for CPU per request at most 2% apart.
 *
 * @module
 */

import type { RatioSpread } from "./on_off.ts";
import { onOffComparisons } from "./on_off.ts";
import type { BenchMode, BodyName, RunSample } from "./report.ts";
import { statsBaseline } from "./report.ts";

/** CPU per request with the stats shown and scraped, at most this many times without (issue 20). */
export const STATS_CPU_LIMIT = 1.02;

/** Stats shown and scraped against not shown, for one contender, mode and body. */
export type StatsCost = {
  /** The contender without stats, e.g. "ours/node". */
  contender: string;
  /** The contender with stats, e.g. "ours/node+stats". */
  variant: string;
  mode: BenchMode;
  body: BodyName;
  /** Medians over rounds of each side; null when the side without stats was not measured. */
  requestsPerSecondOff: number | null;
  requestsPerSecondOn: number;
  cpuMicrosPerRequestOff: number | null;
  cpuMicrosPerRequestOn: number;
  /** with / without, per round; null when no round measured both. */
  requestsPerSecondRatio: RatioSpread | null;
  cpuPerRequestRatio: RatioSpread | null;
  /** Requests wrk completed against the contender with stats, summed over rounds. */
  requests: number;
  /** Scrapes made during its runs, summed over rounds, and how many of them failed. */
  scrapes: number;
  failedScrapes: number;
  /** What went wrong in the first failed scrape; null when none failed. */
  firstFailure: string | null;
  /** Runs made without any scrape (which would make the row look cheaper than it is). */
  runsWithoutScrapes: number;
  /** Mean size of one scrape (metrics and CSV), in bytes; null when no scrape succeeded. */
  bytesPerScrape: number | null;
  /** The slowest scrape of every round, in milliseconds; null when no scrape succeeded. */
  maxScrapeMillis: number | null;
};

/**
 * Why the row cannot stand as a measurement of the stats' cost, or null when it can: a scrape
 * failed, or a run made none.
 */
export function statsCostFailure(cost: StatsCost): string | null {
  if (cost.failedScrapes > 0) {
    return `${cost.failedScrapes} of ${cost.scrapes} scrapes failed${
      cost.firstFailure === null ? "" : `, first: ${cost.firstFailure}`
    }`;
  }
  if (cost.runsWithoutScrapes > 0) return `${cost.runsWithoutScrapes} runs made no scrape`;
  return null;
}

/** One cost per "+stats" contender, mode and body, in the order they first appear in the samples. */
export function statsCosts(samples: readonly RunSample[]): StatsCost[] {
  return onOffComparisons(samples, statsBaseline).map(({ samples: group, ...comparison }) => {
    const counts = group.map((sample) => sample.stats);
    const scrapes = counts.reduce((sum, count) => sum + (count?.scrapes ?? 0), 0);
    const failedScrapes = counts.reduce((sum, count) => sum + (count?.failed ?? 0), 0);
    const succeeded = scrapes - failedScrapes;
    const bytes = counts.reduce((sum, count) => sum + (count?.bytes ?? 0), 0);
    return {
      ...comparison,
      scrapes,
      failedScrapes,
      firstFailure: counts.find((count) => count?.firstFailure != null)?.firstFailure ?? null,
      runsWithoutScrapes: counts.filter((count) => count === null || count.scrapes === 0).length,
      bytesPerScrape: succeeded > 0 ? bytes / succeeded : null,
      maxScrapeMillis: succeeded > 0 ? Math.max(...counts.map((count) => count?.maxMillis ?? 0)) : null,
    };
  });
}
