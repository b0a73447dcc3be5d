/**
 * The slow-reader benchmark's figures: what the normal client reports, what one run of a contender
 * measured, and the table that compares the contenders with HAProxy.
 *
 * @module
 */

import type { FailureKind } from "./reload_http.ts";
import { median } from "./reload_results.ts";
import { formatLatency, formatMegabytes, formatRatio, markdownTable } from "./table.ts";

/** What the normal client (slowread_client.ts) prints as one JSON line. */
export type ClientLatencyReport = {
  requests: number;
  successes: number;
  failures: Record<FailureKind, number>;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
};

/** One contender in one round: the client alone, then the client beside the slow readers. */
export type SlowReadRun = {
  contender: string;
  round: number;
  baseline: ClientLatencyReport;
  underAttack: ClientLatencyReport;
  /** Slow-reader connections the contender held when the client started, and when it stopped. */
  slowReadersAtStart: number;
  slowReadersAtEnd: number;
  /** RSS of the contender's process tree before the attack, and the most seen during it. */
  rssIdleBytes: number;
  rssPeakBytes: number;
};

/** The value at `fraction` of sorted `values` (nearest rank); null for no values. */
export function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1]!;
}

/** Failed requests of a report, all kinds together. */
export function failureCount(report: ClientLatencyReport): number {
  return Object.values(report.failures).reduce((sum, count) => sum + count, 0);
}

/** "3 timeout, 1 reset", or "0". */
export function failureSummary(report: ClientLatencyReport): string {
  const parts = Object.entries(report.failures).filter(([, count]) => count > 0).map(([kind, count]) =>
    `${count} ${kind}`
  );
  return parts.length === 0 ? "0" : parts.join(", ");
}

/** Reads the client's JSON line; throws when it is not one. */
export function parseClientReport(text: string): ClientLatencyReport {
  const line = text.trim().split("\n").at(-1) ?? "";
  const parsed = JSON.parse(line) as ClientLatencyReport;
  if (typeof parsed.requests !== "number" || typeof parsed.failures !== "object") {
    throw new Error(`Unexpected client report "${line.slice(0, 80)}"`);
  }
  return parsed;
}

/** The median of `values`, or null for none. */
function medianOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : median(values);
}

/** One contender over every round: medians, failures summed, worst latency and memory kept. */
export type SlowReadSummary = {
  contender: string;
  rounds: number;
  slowReaders: number;
  baselineP99Ms: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  requests: number;
  failures: number;
  failureKinds: string;
  rssIdleBytes: number;
  rssPeakBytes: number;
  /** Growth of RSS under the attack per slow reader held. */
  bytesPerSlowReader: number | null;
};

/** Summarises the runs of each contender, in the order they first appear. */
export function summarizeSlowReads(runs: readonly SlowReadRun[]): SlowReadSummary[] {
  const names = [...new Set(runs.map((run) => run.contender))];
  return names.map((contender) => {
    const own = runs.filter((run) => run.contender === contender);
    const summed: ClientLatencyReport = {
      requests: 0,
      successes: 0,
      failures: { ...own[0]!.underAttack.failures },
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
    };
    for (const key of Object.keys(summed.failures) as FailureKind[]) summed.failures[key] = 0;
    for (const run of own) {
      summed.requests += run.underAttack.requests;
      for (const [kind, count] of Object.entries(run.underAttack.failures)) {
        summed.failures[kind as FailureKind] += count;
      }
    }
    const perReader = own.map((run) =>
      run.slowReadersAtStart > 0 ? (run.rssPeakBytes - run.rssIdleBytes) / run.slowReadersAtStart : null
    ).filter((value): value is number => value !== null);
    const present = (values: (number | null)[]): number[] => values.filter((value): value is number => value !== null);
    return {
      contender,
      rounds: own.length,
      slowReaders: medianOrNull(own.map((run) => run.slowReadersAtStart)) ?? 0,
      baselineP99Ms: medianOrNull(present(own.map((run) => run.baseline.p99Ms))),
      p50Ms: medianOrNull(present(own.map((run) => run.underAttack.p50Ms))),
      p99Ms: medianOrNull(present(own.map((run) => run.underAttack.p99Ms))),
      maxMs: Math.max(...present(own.map((run) => run.underAttack.maxMs)), 0) || null,
      requests: summed.requests,
      failures: failureCount(summed),
      failureKinds: failureSummary(summed),
      rssIdleBytes: medianOrNull(own.map((run) => run.rssIdleBytes)) ?? 0,
      rssPeakBytes: Math.max(...own.map((run) => run.rssPeakBytes)),
      bytesPerSlowReader: medianOrNull(perReader),
    };
  });
}

const MS = 1_000;

/** The report table; ratios are against the contender named `haproxy` in the same run. */
export function slowReadTable(summaries: readonly SlowReadSummary[]): string {
  const reference = summaries.find((summary) => summary.contender === "haproxy") ?? null;
  const latency = (ms: number | null): string => ms === null ? "-" : formatLatency(ms * MS);
  const rows = summaries.map((summary) => [
    summary.contender,
    String(summary.slowReaders),
    latency(summary.baselineP99Ms),
    latency(summary.p50Ms),
    latency(summary.p99Ms),
    latency(summary.maxMs),
    `${summary.failures} / ${summary.requests}`,
    formatRatio(
      reference === null || reference.p99Ms === null || summary.p99Ms === null || reference.p99Ms === 0
        ? null
        : summary.p99Ms / reference.p99Ms,
    ),
    formatMegabytes(summary.rssIdleBytes),
    formatMegabytes(summary.rssPeakBytes),
    summary.bytesPerSlowReader === null ? "-" : (summary.bytesPerSlowReader / 1024).toFixed(1),
  ]);
  return markdownTable(
    [
      "contender",
      "slow readers held",
      "p99 alone",
      "p50 attacked",
      "p99 attacked",
      "max attacked",
      "failed / requests",
      "p99 vs HAProxy",
      "RSS idle (MB)",
      "RSS peak (MB)",
      "KiB per slow reader",
    ],
    rows,
    new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
  );
}
