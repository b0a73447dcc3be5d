/**
 * The reload benchmark's figures: what the load client reports, how its failures line up with the
 * reloads, and the tables printed and written to docs/operations.md.
 *
 * @module
 */

import type { FailureKind } from "./reload_http.ts";
import { FAILURE_KINDS } from "./reload_http.ts";
import { markdownTable } from "./table.ts";

/** How the client uses connections: a new one per request, or kept alive. */
export type LoadKind = "close" | "keepalive";

/** How the proxy is reloaded: a new process with -sf, or SIGUSR2 to the -W master. */
export type ReloadMode = "sf" | "master";

/** At most this many failures are reported one by one (all are counted). */
export const MAX_FAILURE_SAMPLES = 2_000;

/** One failed request, for lining failures up with reloads. */
export type FailureSample = {
  /** When it failed, in milliseconds since the epoch. */
  at: number;
  kind: FailureKind;
  code: string | null;
  /** The TCP handshake had completed (a reset after it, with no answer, is the accept-queue drop). */
  connected: boolean;
  /** It was sent on a reused keep-alive connection. */
  reused: boolean;
  status?: number;
};

/** What the load client prints when it stops. */
export type ClientReport = {
  load: LoadKind;
  connections: number;
  startedAt: number;
  stoppedAt: number;
  successes: number;
  failures: Record<FailureKind, number>;
  /** Failures a client may retry by itself (RFC 9112 section 9.3.1), counted in `failures` too. */
  retryable: number;
  connectionsOpened: number;
  /** The longest time without any completed request, and when it ended (epoch ms). */
  longestStallMs: number;
  longestStallEndedAt: number;
  samples: FailureSample[];
  samplesDropped: number;
  /** Some loops were still waiting for an answer when the client gave up waiting for them. */
  cutShort: boolean;
};

function requireNumber(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`Invalid client report: "${field}" is not a number`);
  }
  return value;
}

/** Reads the client's JSON line; throws when a field is missing or of the wrong type. */
export function parseClientReport(text: string): ClientReport {
  const line = text.trim().split("\n").filter((candidate) => candidate.startsWith("{")).at(-1);
  if (line === undefined) throw new Error(`No client report found in "${text.trim().slice(0, 120)}"`);
  const raw = JSON.parse(line) as Record<string, unknown>;
  if (raw.load !== "close" && raw.load !== "keepalive") {
    throw new Error(`Invalid client report: load "${raw.load}"`);
  }
  const rawFailures = raw.failures as Record<string, unknown> | undefined;
  if (typeof rawFailures !== "object" || rawFailures === null) {
    throw new Error('Invalid client report: no "failures"');
  }
  const failures = Object.fromEntries(
    FAILURE_KINDS.map((kind) => [kind, requireNumber(rawFailures[kind], `failures.${kind}`)]),
  ) as Record<FailureKind, number>;
  if (!Array.isArray(raw.samples)) throw new Error('Invalid client report: "samples" is not a list');
  const samples = (raw.samples as Record<string, unknown>[]).map((sample, index): FailureSample => {
    if (!FAILURE_KINDS.includes(sample.kind as FailureKind)) {
      throw new Error(`Invalid client report: samples[${index}].kind "${sample.kind}"`);
    }
    return {
      at: requireNumber(sample.at, `samples[${index}].at`),
      kind: sample.kind as FailureKind,
      code: typeof sample.code === "string" ? sample.code : null,
      connected: sample.connected === true,
      reused: sample.reused === true,
      ...(typeof sample.status === "number" ? { status: sample.status } : {}),
    };
  });
  return {
    load: raw.load,
    connections: requireNumber(raw.connections, "connections"),
    startedAt: requireNumber(raw.startedAt, "startedAt"),
    stoppedAt: requireNumber(raw.stoppedAt, "stoppedAt"),
    successes: requireNumber(raw.successes, "successes"),
    failures,
    retryable: requireNumber(raw.retryable, "retryable"),
    connectionsOpened: requireNumber(raw.connectionsOpened, "connectionsOpened"),
    longestStallMs: requireNumber(raw.longestStallMs, "longestStallMs"),
    longestStallEndedAt: requireNumber(raw.longestStallEndedAt, "longestStallEndedAt"),
    samples,
    samplesDropped: requireNumber(raw.samplesDropped, "samplesDropped"),
    cutShort: raw.cutShort === true,
  };
}

/** All failures of a report added up. */
export function totalFailures(failures: Record<FailureKind, number>): number {
  return FAILURE_KINDS.reduce((sum, kind) => sum + failures[kind], 0);
}

/** "reset 3, closed 1", or "-" when nothing failed. */
export function formatFailureKinds(failures: Record<FailureKind, number>): string {
  const parts = FAILURE_KINDS.filter((kind) => failures[kind] > 0).map((kind) => `${kind} ${failures[kind]}`);
  return parts.length > 0 ? parts.join(", ") : "-";
}

/** One reload as the benchmark drove it, in epoch milliseconds. */
export type ReloadWindow = {
  /** The new process was started (-sf) or the master was signalled (-W). */
  startedAt: number;
  /** The old process(es) had exited; null when they did not within the wait. */
  finishedAt: number | null;
};

/** How many failures fell into a reload (or just after it), and how many outside any. */
export type FailureAttribution = {
  /** Failures per reload, by reload index. */
  perReload: number[];
  outside: number;
};

/**
 * Assigns each failure to the reload it happened in: the last reload started before it, if the
 * failure came no later than `graceMs` after that reload's old processes exited (a client learns
 * of a reset a little after the fact). A reload that did not complete lasts until the next one
 * starts. Failures outside every window are counted apart: they are not the reload's doing.
 * `windows` are in start order, as the reloads run one after the other.
 */
export function attributeFailures(
  samples: readonly FailureSample[],
  windows: readonly ReloadWindow[],
  graceMs: number,
): FailureAttribution {
  const perReload = windows.map(() => 0);
  let outside = 0;
  for (const sample of samples) {
    let index = -1;
    for (let candidate = windows.length - 1; candidate >= 0; candidate--) {
      if (windows[candidate]!.startedAt <= sample.at) {
        index = candidate;
        break;
      }
    }
    const window = windows[index];
    const inside = window !== undefined &&
      (window.finishedAt === null || sample.at <= window.finishedAt + graceMs);
    if (inside) perReload[index]!++;
    else outside++;
  }
  return { perReload, outside };
}

/** The middle value; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One measured combination: a contender, a reload mode, the sysctl, a load. */
export type RunResult = {
  contender: string;
  reloadMode: ReloadMode;
  proxyMode: "http" | "tcp";
  /** The value of net.ipv4.tcp_migrate_req during the run. */
  migrateReq: number;
  load: LoadKind;
  reloadsAsked: number;
  reloadsDone: number;
  /** Median time from the start of a reload until the old process(es) had exited. */
  reloadMedianMs: number;
  wallSeconds: number;
  requests: number;
  failed: number;
  failures: Record<FailureKind, number>;
  retryable: number;
  /** Failures that fell into no reload window. */
  failedOutsideReloads: number;
  longestStallMs: number;
  /** What went wrong with the run itself (a reload that did not complete, a crash). */
  incidents: string[];
};

/** Builds a run's result from the client's report and the reload windows. */
export function runResult(
  base: Pick<RunResult, "contender" | "reloadMode" | "proxyMode" | "migrateReq" | "load" | "reloadsAsked">,
  report: ClientReport,
  windows: readonly ReloadWindow[],
  wallSeconds: number,
  incidents: readonly string[],
  graceMs: number,
): RunResult {
  const failed = totalFailures(report.failures);
  const done = windows.filter((window) => window.finishedAt !== null);
  const attribution = attributeFailures(report.samples, windows, graceMs);
  return {
    ...base,
    reloadsDone: done.length,
    reloadMedianMs: median(done.map((window) => window.finishedAt! - window.startedAt)),
    wallSeconds,
    requests: report.successes + failed,
    failed,
    failures: report.failures,
    retryable: report.retryable,
    // Samples stop at MAX_FAILURE_SAMPLES: the ones not sampled cannot be placed.
    failedOutsideReloads: attribution.outside,
    longestStallMs: report.longestStallMs,
    incidents: [...incidents],
  };
}

const RELOAD_MODE_LABELS: Readonly<Record<ReloadMode, string>> = { sf: "-sf", master: "-W, SIGUSR2" };
const LOAD_LABELS: Readonly<Record<LoadKind, string>> = {
  close: "new connection per request",
  keepalive: "keep-alive",
};

/** The results as a Markdown table, one row per run. */
export function resultsTable(results: readonly RunResult[]): string {
  const header = [
    "contender",
    "reload",
    "load",
    "tcp_migrate_req",
    "reloads",
    "requests",
    "failed",
    "failed by kind",
    "wall time",
    "reload (median)",
    "longest stall",
  ];
  const rows = results.map((result) => [
    result.proxyMode === "http" ? result.contender : `${result.contender} (tcp)`,
    RELOAD_MODE_LABELS[result.reloadMode],
    LOAD_LABELS[result.load],
    String(result.migrateReq),
    `${result.reloadsDone}/${result.reloadsAsked}`,
    result.requests.toLocaleString("en-US"),
    result.failed.toLocaleString("en-US"),
    formatFailureKinds(result.failures) +
    (result.retryable > 0 ? ` (${result.retryable} retryable)` : ""),
    `${result.wallSeconds.toFixed(1)} s`,
    Number.isNaN(result.reloadMedianMs) ? "-" : `${Math.round(result.reloadMedianMs)} ms`,
    `${result.longestStallMs} ms`,
  ]);
  return markdownTable(header, rows, new Set([4, 5, 6, 8, 9, 10]));
}
