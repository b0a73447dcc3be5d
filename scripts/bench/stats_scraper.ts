/**
 * The stats scraper of the stats-cost scenario: while a contender that shows its stats
 * ("ours/node+stats") is measured, this process GETs its Prometheus metrics and its CSV once a
 * second, as a Prometheus server and a dashboard polling the CSV would, and checks every answer:
 * status 200 and a body that parses (the metrics by the project's Prometheus text-format parser,
 * the CSV by its CSV reader) with the measured frontend's counters in it. A scrape that fails is
 * counted and reported, so that a broken stats endpoint fails the row instead of looking cheap.
 *
 * The parsers are the ones the stats tests use (tests/helpers): strict, and already proven
 * against the format; the benchmark runs from a checkout, where they are.
 *
 * @module
 */

import { parsePrometheusText } from "../../tests/helpers/prometheus_text_parser.ts";
import { readStatsCsv } from "../../tests/helpers/csv_reader.ts";
import type { ScrapeCount } from "./report.ts";

/** What one scrape asks for, in this order, on the stats frontend. */
export const STATS_SCRAPE_PATHS = { metrics: "/metrics", csv: "/stats;csv" } as const;
/** One scrape a second: what the issue asks for, and Prometheus' usual interval is longer. */
export const SCRAPE_INTERVAL_MS = 1_000;
/** A request of a scrape not answered within this time fails the scrape. */
const SCRAPE_TIMEOUT_MS = 2_000;
/** The quick start's frontend: the one wrk's traffic goes through, whose counters must be shown. */
export const MEASURED_FRONTEND = "main";

/**
 * Why a metrics body is not what a Prometheus server could use, or null when it is: it must parse
 * as text format 0.0.4 and hold the request counter of `frontend`.
 */
export function checkMetricsBody(text: string, frontend: string = MEASURED_FRONTEND): string | null {
  let families: ReturnType<typeof parsePrometheusText>;
  try {
    families = parsePrometheusText(text);
  } catch (error) {
    return `metrics do not parse: ${(error as Error).message}`;
  }
  const requests = families.get("haproxy_frontend_http_requests_total")?.samples.filter((sample) =>
    sample.labels.proxy === frontend
  ) ?? [];
  if (requests.length !== 1 || !Number.isFinite(requests[0]!.value)) {
    return `metrics have no haproxy_frontend_http_requests_total{proxy="${frontend}"}`;
  }
  return null;
}

/**
 * Why a CSV body is not HAProxy's stats CSV, or null when it is: a "# pxname,svname,..." header,
 * every record as long as it, and a FRONTEND row for `frontend`.
 */
export function checkCsvBody(text: string, frontend: string = MEASURED_FRONTEND): string | null {
  let rows: Record<string, string>[];
  try {
    const csv = readStatsCsv(text);
    if (csv.header[0] !== "pxname" || csv.header[1] !== "svname") {
      return `CSV header starts "${csv.header.slice(0, 2).join(",")}", not "pxname,svname"`;
    }
    rows = csv.rows;
  } catch (error) {
    return `CSV does not parse: ${(error as Error).message}`;
  }
  if (!rows.some((row) => row.pxname === frontend && row.svname === "FRONTEND")) {
    return `CSV has no FRONTEND row for "${frontend}"`;
  }
  return null;
}

/** The outcome of one scrape: both bodies' bytes and its duration, or what went wrong first. */
export type ScrapeOutcome = { bytes: number; millis: number } | { failure: string };

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
  });
  return { status: response.status, text: await response.text() };
}

/** One scrape: the metrics, then the CSV, each checked. */
export async function scrapeOnce(port: number): Promise<ScrapeOutcome> {
  const started = performance.now();
  let bytes = 0;
  const checks = [
    { path: STATS_SCRAPE_PATHS.metrics, check: checkMetricsBody },
    { path: STATS_SCRAPE_PATHS.csv, check: checkCsvBody },
  ];
  for (const { path, check } of checks) {
    let answer: { status: number; text: string };
    try {
      answer = await get(port, path);
    } catch (error) {
      const reason = (error as Error).name === "TimeoutError"
        ? `no answer within ${SCRAPE_TIMEOUT_MS / 1_000} s`
        : (error as Error).message;
      return { failure: `GET ${path}: ${reason}` };
    }
    if (answer.status !== 200) return { failure: `GET ${path} answered ${answer.status}` };
    const problem = check(answer.text);
    if (problem !== null) return { failure: `GET ${path}: ${problem}` };
    bytes += Buffer.byteLength(answer.text);
  }
  return { bytes, millis: performance.now() - started };
}

/** Adds one scrape's outcome to a count (a new count: the one given is left as it was). */
export function countScrape(count: ScrapeCount, outcome: ScrapeOutcome): ScrapeCount {
  if ("failure" in outcome) {
    return {
      ...count,
      scrapes: count.scrapes + 1,
      failed: count.failed + 1,
      firstFailure: count.firstFailure ?? outcome.failure,
    };
  }
  return {
    ...count,
    scrapes: count.scrapes + 1,
    bytes: count.bytes + outcome.bytes,
    maxMillis: Math.max(count.maxMillis, outcome.millis),
  };
}

/** No scrape yet. */
export const NO_SCRAPES: ScrapeCount = { scrapes: 0, failed: 0, firstFailure: null, bytes: 0, maxMillis: 0 };

/** A scraper at work; `stop` waits for a scrape under way and gives the count. */
export type RunningScraper = { stop: () => Promise<ScrapeCount> };

/**
 * Scrapes the stats frontend on `port` at once and then every `intervalMs` (on a fixed schedule
 * from the start: a scrape that overran skips the ticks it missed), until stopped.
 */
export function startScraper(port: number, intervalMs: number = SCRAPE_INTERVAL_MS): RunningScraper {
  const started = performance.now();
  let count = NO_SCRAPES;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let current: Promise<void> | null = null;
  const tick = (): void => {
    timer = null;
    if (stopped) return;
    current = scrapeOnce(port).then((outcome) => {
      count = countScrape(count, outcome);
      current = null;
      if (stopped) return;
      const elapsed = performance.now() - started;
      timer = setTimeout(tick, intervalMs - (elapsed % intervalMs));
    });
  };
  tick();
  return {
    stop: async () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      while (current !== null) await current;
      return count;
    },
  };
}
