/**
 * Formats summaries as Markdown tables with aligned columns: readable in a terminal and
 * pasteable into docs/performance.md unchanged.
 *
 * @module
 */

import type { FloorComparison, FloorMemoryComparison } from "./floor_comparison.ts";
import type { LoggingCost } from "./logging.ts";
import type { RatioSpread } from "./on_off.ts";
import type { StatsCost } from "./stats_cost.ts";
import { statsCostFailure } from "./stats_cost.ts";
import type { BodyName, Summary } from "./report.ts";
import type { IdleMemoryResult, TargetCheck } from "./targets.ts";

const MEGABYTE = 1024 * 1024;

/** Renders rows as a Markdown table; columns listed in `rightAligned` are numbers. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number> = new Set(),
): string {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const pad = (text: string, column: number): string =>
    rightAligned.has(column) ? text.padStart(widths[column]!) : text.padEnd(widths[column]!);
  const line = (cells: readonly string[]): string =>
    `| ${header.map((_, column) => pad(cells[column] ?? "", column)).join(" | ")} |`;
  const rule = `|${
    widths.map((width, column) =>
      rightAligned.has(column) ? `${"-".repeat(width + 1)}:` : "-".repeat(width + 2)
    )
      .join("|")
  }|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** A latency in the largest unit that keeps it at or above 1: "230us", "3.69ms", "1.20s". */
export function formatLatency(micros: number): string {
  if (micros < 1_000) return `${Math.round(micros)}us`;
  if (micros < 1_000_000) return `${(micros / 1_000).toFixed(2)}ms`;
  return `${(micros / 1_000_000).toFixed(2)}s`;
}

/** A ratio such as "0.87x", or "-" when there was nothing to compare with. */
export function formatRatio(value: number | null): string {
  return value === null ? "-" : `${value.toFixed(2)}x`;
}

/** A whole count with thousands separators. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Megabytes with one decimal. */
export function formatMegabytes(bytes: number): string {
  return (bytes / MEGABYTE).toFixed(1);
}

const BODY_TITLES: Readonly<Record<BodyName, string>> = {
  small: "16-byte responses",
  "1mb": "1 MB responses",
  "small-close": "16-byte responses, one connection per request (Connection: close; over TLS one full handshake each)",
};

/** The throughput table for one response body. */
export function throughputTable(summaries: readonly Summary[], body: BodyName): string {
  const rows = summaries.filter((summary) => summary.body === body).map((summary) => [
    summary.contender,
    summary.mode,
    formatCount(summary.requestsPerSecond),
    formatMegabytes(summary.bytesPerSecond),
    formatLatency(summary.latencyP50Micros),
    formatLatency(summary.latencyP99Micros),
    Number.isFinite(summary.cpuMicrosPerRequest) ? summary.cpuMicrosPerRequest.toFixed(2) : "-",
    `${Math.round(summary.coreBusy * 100)}%`,
    summary.softirqMicrosPerRequest === null ? "-" : summary.softirqMicrosPerRequest.toFixed(2),
    formatCount(summary.errors),
    formatCount(summary.non2xxResponses),
    formatRatio(summary.ratios.requestsPerSecondVsHaproxy),
    formatRatio(summary.ratios.cpuPerRequestVsHaproxy),
    formatRatio(summary.ratios.requestsPerSecondVsDirect),
  ]);
  const header = [
    "contender",
    "mode",
    "req/s",
    "MB/s",
    "p50",
    "p99",
    "CPU us/req",
    "CPU busy",
    "softirq us/req",
    "errors",
    "non-2xx",
    "req/s vs HAProxy",
    "CPU vs HAProxy",
    "req/s vs direct",
  ];
  return `${BODY_TITLES[body]} (medians over rounds; errors and non-2xx summed)\n\n` +
    markdownTable(header, rows, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
}

/** A per-round ratio as its median with the range over rounds: "1.12x (1.08-1.15)". */
export function formatRatioSpread(value: RatioSpread | null): string {
  if (value === null) return "-";
  return value.rounds === 1
    ? formatRatio(value.median)
    : `${formatRatio(value.median)} (${value.min.toFixed(2)}-${value.max.toFixed(2)})`;
}

/** The traffic logging table: each logging contender against itself without logging. */
export function loggingTable(costs: readonly LoggingCost[]): string {
  const rows = costs.map((cost) => [
    cost.contender,
    cost.mode,
    BODY_TITLES[cost.body].replace(" responses", ""),
    cost.requestsPerSecondOff === null ? "-" : formatCount(cost.requestsPerSecondOff),
    formatCount(cost.requestsPerSecondOn),
    formatRatioSpread(cost.requestsPerSecondRatio),
    cost.cpuMicrosPerRequestOff === null || !Number.isFinite(cost.cpuMicrosPerRequestOff)
      ? "-"
      : cost.cpuMicrosPerRequestOff.toFixed(2),
    Number.isFinite(cost.cpuMicrosPerRequestOn) ? cost.cpuMicrosPerRequestOn.toFixed(2) : "-",
    formatRatioSpread(cost.cpuPerRequestRatio),
    cost.linesReceived === null ? "-" : formatCount(cost.linesReceived),
    formatCount(cost.requests),
    cost.linesReceived === null || cost.requests === 0
      ? "-"
      : `${((cost.linesReceived / cost.requests) * 100).toFixed(2)}%`,
    cost.kernelDrops === null ? "-" : formatCount(cost.kernelDrops),
    cost.senderDrops === null ? "-" : formatCount(cost.senderDrops),
  ]);
  const header = [
    "contender",
    "mode",
    "body",
    "req/s off",
    "req/s on",
    "req/s on/off",
    "CPU us/req off",
    "CPU us/req on",
    "CPU/req on/off",
    "lines received",
    "requests",
    "lines/requests",
    "lost in kernel",
    "dropped by proxy",
  ];
  return "Traffic logging, on vs off (one httplog line per request over UDP; medians over rounds; " +
    "on/off: median of per-round ratios, range over rounds in brackets; lines and requests summed)\n\n" +
    markdownTable(header, rows, new Set([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]));
}

/** A per-round ratio with three decimals, for costs of a few percent: "1.012x (0.998-1.031)". */
export function formatFineRatioSpread(value: RatioSpread | null): string {
  if (value === null) return "-";
  const median = `${value.median.toFixed(3)}x`;
  return value.rounds === 1 ? median : `${median} (${value.min.toFixed(3)}-${value.max.toFixed(3)})`;
}

/** The stats cost table: each "+stats" contender against itself without stats. */
export function statsCostTable(costs: readonly StatsCost[]): string {
  const rows = costs.map((cost) => {
    const failure = statsCostFailure(cost);
    return [
      cost.contender,
      cost.mode,
      BODY_TITLES[cost.body].replace(" responses", ""),
      cost.requestsPerSecondOff === null ? "-" : formatCount(cost.requestsPerSecondOff),
      formatCount(cost.requestsPerSecondOn),
      formatRatioSpread(cost.requestsPerSecondRatio),
      cost.cpuMicrosPerRequestOff === null || !Number.isFinite(cost.cpuMicrosPerRequestOff)
        ? "-"
        : cost.cpuMicrosPerRequestOff.toFixed(2),
      Number.isFinite(cost.cpuMicrosPerRequestOn) ? cost.cpuMicrosPerRequestOn.toFixed(2) : "-",
      formatFineRatioSpread(cost.cpuPerRequestRatio),
      `${formatCount(cost.scrapes - cost.failedScrapes)} / ${formatCount(cost.scrapes)}`,
      cost.bytesPerScrape === null ? "-" : formatCount(cost.bytesPerScrape),
      cost.maxScrapeMillis === null ? "-" : cost.maxScrapeMillis.toFixed(1),
      failure === null ? "ok" : `FAILED: ${failure}`,
    ];
  });
  const header = [
    "contender",
    "mode",
    "body",
    "req/s without",
    "req/s with",
    "req/s with/without",
    "CPU us/req without",
    "CPU us/req with",
    "CPU/req with/without",
    "scrapes ok",
    "bytes/scrape",
    "slowest scrape (ms)",
    "scrapes",
  ];
  return "Stats shown and scraped, vs not (a second frontend with stats-uri and metrics-uri; " +
    "GET /metrics and /stats;csv once a second while measured; medians over rounds; " +
    "with/without: median of per-round ratios, range over rounds in brackets)\n\n" +
    markdownTable(header, rows, new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]));
}

/** The idle-connection memory table. */
export function memoryTable(results: readonly IdleMemoryResult[]): string {
  const rows = results.map((result) => [
    result.contender,
    result.mode,
    `${formatCount(result.held)} / ${formatCount(result.requested)}`,
    formatMegabytes(result.rssBeforeBytes),
    formatMegabytes(result.rssAfterBytes),
    result.held > 0 ? ((result.rssAfterBytes - result.rssBeforeBytes) / result.held / 1024).toFixed(1) : "-",
  ]);
  return markdownTable(
    ["contender", "mode", "idle connections held", "RSS before (MB)", "RSS held (MB)", "KB per connection"],
    rows,
    new Set([2, 3, 4, 5]),
  );
}

/** A CPU figure in microseconds per request with two decimals, or "-" when not measured. */
function formatMicros(value: number | null): string {
  return value === null ? "-" : value.toFixed(2);
}

/** Ours against the socket-layer floor of the same runtime: CPU per request, and the floor's ratio to HAProxy. */
export function floorTable(comparisons: readonly FloorComparison[]): string {
  const rows = comparisons.map((row) => [
    `${row.runtime} (${row.socketLayer})`,
    row.mode,
    BODY_TITLES[row.body].replace(" responses", ""),
    formatMicros(row.oursCpuMicrosPerRequest),
    formatMicros(row.floorCpuMicrosPerRequest),
    formatMicros(row.haproxyCpuMicrosPerRequest),
    formatRatio(row.oursVsFloor),
    formatRatio(row.floorVsHaproxy),
    formatRatio(row.oursVsHaproxy),
    row.goalVsHaproxy === null ? "-" : `at most ${row.goalVsHaproxy.toFixed(1)}x`,
    row.verdict ?? "-",
  ]);
  const header = [
    "runtime (socket layer)",
    "mode",
    "body",
    "ours us/req",
    "floor us/req",
    "HAProxy us/req",
    "ours vs floor",
    "floor vs HAProxy",
    "ours vs HAProxy",
    "goal vs HAProxy",
    "floor against the goal",
  ];
  return "Ours against the socket-layer floor (CPU per request, medians over rounds; floor/<runtime>: the least " +
    "work a proxy can do on the socket layer ours uses on that runtime; ours vs floor: ours/<runtime> divided " +
    "by it)\n\n" + markdownTable(header, rows, new Set([3, 4, 5, 6, 7, 8]));
}

/** Idle-connection memory of ours against the floor of the same runtime. */
export function floorMemoryTable(rows: readonly FloorMemoryComparison[]): string {
  const kilobytes = (bytes: number | null): string => bytes === null ? "-" : (bytes / 1024).toFixed(1);
  const body = rows.map((row) => [
    row.runtime,
    row.mode,
    kilobytes(row.oursBytesPerConnection),
    kilobytes(row.floorBytesPerConnection),
    row.oursBytesPerConnection === null || row.floorBytesPerConnection === null ||
      row.floorBytesPerConnection <= 0
      ? "-"
      : formatRatio(row.oursBytesPerConnection / row.floorBytesPerConnection),
  ]);
  // RSS at start is left out: the Node floor runs from TypeScript and carries Node's type stripper.
  return "Idle connections against the socket-layer floor (RSS growth per held connection; the http floor " +
    "holds the client socket alone, its origin connections are shared)\n\n" +
    markdownTable(["runtime", "mode", "ours KB/conn", "floor KB/conn", "ours vs floor"], body, new Set([2, 3, 4]));
}

/** A target's goal with its unit: "at most 1.3x HAProxy", "at most 100 MB"; "-" for an informative row. */
export function formatGoal(check: TargetCheck): string {
  if (check.limit === null) return "-";
  if (check.unit === "MB") return `${check.comparison} ${check.limit} MB`;
  // "x HAProxy" reads "1.3x HAProxy": the ratio's number joins the unit's "x".
  const limit = check.limit.toFixed(Number.isInteger(check.limit * 10) ? 1 : 2);
  return `${check.comparison} ${limit}${check.unit}`;
}

/** The targets table: where our proxy stands against each goal. */
export function targetsTable(checks: readonly TargetCheck[]): string {
  // A few percent need more decimals than the ratios against HAProxy do.
  const decimals = (check: TargetCheck): number => check.unit === "x without stats" ? 3 : 2;
  const rows = checks.map((check) => [
    check.target,
    check.contender,
    check.mode,
    formatGoal(check),
    check.measured === null
      ? "-"
      : check.unit === "MB"
      ? `${check.measured.toFixed(1)} MB`
      : `${check.measured.toFixed(decimals(check))}x`,
    check.note === null ? check.status : `${check.status} (${check.note})`,
  ]);
  return markdownTable(["target", "contender", "mode", "goal", "measured", "status"], rows, new Set([4]));
}
