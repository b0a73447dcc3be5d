/**
 * Turns the raw samples of a benchmark run into one summary per contender, mode and body, with
 * the ratios against HAProxy in the same mode (HAProxy logging too, for a logging row; HAProxy
 * showing stats for a "+stats" row, which is not run, so none) and against
 * the origin served directly.
 *
 * Medians over rounds, not means: one round hit by machine noise must not move the figure.
 *
 * @module
 */

import type { WrkResult } from "./wrk_output.ts";
import { totalSocketErrors } from "./wrk_output.ts";

/**
 * How traffic reaches the origin: through a proxy in tcp or http mode, in http mode behind the
 * proxy's own TLS termination ("https"), or directly.
 */
export type BenchMode = "tcp" | "http" | "https" | "direct";

/**
 * What each request of a run is: the response asked for ("small", "1mb") on keep-alive
 * connections, or the small one on a new connection per request ("small-close", wrk sending
 * `Connection: close`: over TLS, one full handshake per request).
 */
export type BodyName = "small" | "1mb" | "small-close";

/** The name of the row every contender is compared with, per mode. */
export const HAPROXY_CONTENDER = "haproxy";
/** The name of the row that measures the origin with no proxy in front. */
export const ORIGIN_DIRECT_CONTENDER = "origin direct";
/**
 * Appended to a contender's name for the same contender with traffic logging on ("ours/node+log",
 * "haproxy+log"): one httplog line per request over UDP to the benchmark's receiver.
 */
export const LOGGING_SUFFIX = "+log";

/**
 * Appended to a contender's name for the same contender showing its stats ("ours/node+stats"): a
 * second http frontend with the stats page and the Prometheus metrics, scraped once a second
 * while the contender is measured.
 */
export const STATS_SUFFIX = "+stats";
/** Every suffix that names a variant of a contender measured against the contender itself. */
export const VARIANT_SUFFIXES: readonly string[] = [LOGGING_SUFFIX, STATS_SUFFIX];

function withoutSuffix(contender: string, suffix: string): string | null {
  return contender.endsWith(suffix) && contender.length > suffix.length ? contender.slice(0, -suffix.length) : null;
}

/** "ours/node" for "ours/node+log"; null for a contender that does not log. */
export function loggingBaseline(contender: string): string | null {
  return withoutSuffix(contender, LOGGING_SUFFIX);
}

/** "ours/node" for "ours/node+stats"; null for a contender that shows no stats. */
export function statsBaseline(contender: string): string | null {
  return withoutSuffix(contender, STATS_SUFFIX);
}

/**
 * The contender a variant is measured against and the variant's suffix: `{ baseline: "ours/node",
 * suffix: "+stats" }` for "ours/node+stats"; null for a contender that is no variant.
 */
export function variantOf(contender: string): { baseline: string; suffix: string } | null {
  for (const suffix of VARIANT_SUFFIXES) {
    const baseline = withoutSuffix(contender, suffix);
    if (baseline !== null) return { baseline, suffix };
  }
  return null;
}

/** Traffic lines counted by the receiver during one wrk run of a logging contender. */
export type LogLineCount = {
  /** Lines that arrived between the start of the run and the moment the receiver fell quiet after it. */
  lines: number;
  /** Datagrams the kernel dropped at the receiver meanwhile (full receive buffer); null if unknown. */
  kernelDrops: number | null;
};

/** The stats scrapes made during one wrk run of a contender that shows its stats. */
export type ScrapeCount = {
  /** Scrapes started: each one GETs the metrics and the CSV, one after the other. */
  scrapes: number;
  /** Scrapes of which a request failed (no answer in time, not 200, a body that does not parse). */
  failed: number;
  /** What went wrong first, for the report; null when nothing did. */
  firstFailure: string | null;
  /** Bytes of the bodies received (metrics and CSV), summed. */
  bytes: number;
  /** The slowest scrape (both requests), in milliseconds; 0 when none completed. */
  maxMillis: number;
};

/** One wrk run against one contender, with the CPU its process tree spent meanwhile. */
export type RunSample = {
  contender: string;
  mode: BenchMode;
  body: BodyName;
  round: number;
  wrk: WrkResult;
  cpuMicros: number;
  /** Interrupt and softirq time on the contender's own CPU; null when processes are not pinned. */
  softirqMicros: number | null;
  /**
   * CPU time the machine spent on anything but this benchmark's processes while wrk ran (other
   * users' processes, hypervisor steal): the machine noise of this sample; null if not measured.
   */
  otherLoadMicros: number | null;
  /** Lines the log receiver counted during this run; null for a contender that does not log. */
  log: LogLineCount | null;
  /** The stats scrapes made during this run; null for a contender that shows no stats. */
  stats: ScrapeCount | null;
};

/** Ratios of a summary against the reference rows; null where the reference was not measured. */
export type SummaryRatios = {
  requestsPerSecondVsHaproxy: number | null;
  cpuPerRequestVsHaproxy: number | null;
  requestsPerSecondVsDirect: number | null;
};

/** Medians over all rounds for one contender, mode and body. */
export type Summary = {
  contender: string;
  mode: BenchMode;
  body: BodyName;
  rounds: number;
  requestsPerSecond: number;
  bytesPerSecond: number;
  latencyP50Micros: number;
  latencyP99Micros: number;
  cpuMicrosPerRequest: number;
  /**
   * Share of one core the contender's tree used while wrk ran. Below ~0.9 the contender was not
   * the bottleneck, and its CPU per request includes less batching than at saturation.
   */
  coreBusy: number;
  /** Kernel network work the contender's writes caused (softirq on its CPU), per request. */
  softirqMicrosPerRequest: number | null;
  /** Median other load on the machine during a run, in cores; null if not measured. */
  otherLoadCores: number | null;
  /** Socket errors (connect, read, write, timeout) summed over all rounds. */
  errors: number;
  /** Responses with status 400 or more, summed over all rounds (wrk's "Non-2xx or 3xx"). */
  non2xxResponses: number;
  ratios: SummaryRatios;
};

/** The middle value; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("Cannot take the median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** CPU microseconds per completed request; Infinity when nothing completed. */
export function cpuMicrosPerRequest(sample: RunSample): number {
  return sample.wrk.requests > 0 ? sample.cpuMicros / sample.wrk.requests : Number.POSITIVE_INFINITY;
}

function ratio(value: number, reference: number | undefined): number | null {
  if (reference === undefined || reference === 0 || !Number.isFinite(reference)) return null;
  if (!Number.isFinite(value)) return null;
  return value / reference;
}

function groupKey(contender: string, mode: BenchMode, body: BodyName): string {
  return `${contender}\u0000${mode}\u0000${body}`;
}

/** Summarises samples, keeping the order in which contender, mode and body first appear. */
export function summarize(samples: readonly RunSample[]): Summary[] {
  const groups = new Map<string, RunSample[]>();
  for (const sample of samples) {
    const key = groupKey(sample.contender, sample.mode, sample.body);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [sample]);
    else group.push(sample);
  }

  const summaries: Summary[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    summaries.push({
      contender: first.contender,
      mode: first.mode,
      body: first.body,
      rounds: group.length,
      requestsPerSecond: median(group.map((sample) => sample.wrk.requestsPerSecond)),
      bytesPerSecond: median(group.map((sample) => sample.wrk.bytesPerSecond)),
      latencyP50Micros: median(group.map((sample) => sample.wrk.latencyPercentilesMicros.p50)),
      latencyP99Micros: median(group.map((sample) => sample.wrk.latencyPercentilesMicros.p99)),
      cpuMicrosPerRequest: median(group.map(cpuMicrosPerRequest)),
      coreBusy: median(group.map((sample) => sample.cpuMicros / (sample.wrk.durationSeconds * 1_000_000))),
      softirqMicrosPerRequest: group.every((sample) =>
          sample.softirqMicros !== null && sample.wrk.requests > 0
        )
        ? median(group.map((sample) => sample.softirqMicros! / sample.wrk.requests))
        : null,
      otherLoadCores: group.every((sample) => sample.otherLoadMicros !== null)
        ? median(group.map((sample) => sample.otherLoadMicros! / (sample.wrk.durationSeconds * 1_000_000)))
        : null,
      errors: group.reduce((sum, sample) => sum + totalSocketErrors(sample.wrk.socketErrors), 0),
      non2xxResponses: group.reduce((sum, sample) => sum + sample.wrk.non2xxOr3xxResponses, 0),
      ratios: {
        requestsPerSecondVsHaproxy: null,
        cpuPerRequestVsHaproxy: null,
        requestsPerSecondVsDirect: null,
      },
    });
  }

  for (const summary of summaries) {
    // A variant's row is compared with the same variant of HAProxy (logging too): like with like.
    const reference = `${HAPROXY_CONTENDER}${variantOf(summary.contender)?.suffix ?? ""}`;
    const haproxy = summaries.find((other) =>
      other.contender === reference && other.mode === summary.mode && other.body === summary.body
    );
    const direct = summaries.find((other) =>
      other.contender === ORIGIN_DIRECT_CONTENDER && other.body === summary.body
    );
    summary.ratios = {
      requestsPerSecondVsHaproxy: ratio(summary.requestsPerSecond, haproxy?.requestsPerSecond),
      cpuPerRequestVsHaproxy: ratio(summary.cpuMicrosPerRequest, haproxy?.cpuMicrosPerRequest),
      requestsPerSecondVsDirect: ratio(summary.requestsPerSecond, direct?.requestsPerSecond),
    };
  }
  return summaries;
}

/** Other load on the machine (in cores) over all samples: the run's machine noise. */
export function otherLoadSummary(
  samples: readonly RunSample[],
): { median: number; worst: number; worstSample: string } | null {
  const shares = samples.filter((sample) => sample.otherLoadMicros !== null).map((sample) => ({
    share: sample.otherLoadMicros! / (sample.wrk.durationSeconds * 1_000_000),
    label: `${sample.contender}${
      sample.mode === "direct" ? "" : ` ${sample.mode}`
    } ${sample.body} round ${sample.round}`,
  }));
  if (shares.length === 0) return null;
  const worst = shares.reduce((highest, entry) => entry.share > highest.share ? entry : highest);
  return { median: median(shares.map((entry) => entry.share)), worst: worst.share, worstSample: worst.label };
}
