/**
 * One snapshot for a -W master from its workers' snapshots, so the page, CSV, JSON and metrics
 * describe the whole proxy. Each worker balances, queues and checks on its own, so:
 *
 * - Counters (sessions, bytes, errors, responses, retries, check failures...), current values
 *   (sessions, queues, idle connections) and current rates are summed.
 * - Limits (maxconn, a server's maxconn and maxqueue) are summed: each worker enforces its own,
 *   so the proxy as a whole admits their sum.
 * - Maxima of counts and rates (smax, qmax, rate_max, MaxConnRate) are the highest worker's: a
 *   lower bound of the true maximum of the sum, which the workers may have reached at different
 *   moments (the sum of their maxima is an upper bound). Maxima of times (qtime_max...) are exact:
 *   the slowest request of any worker is the slowest request.
 * - Time averages are weighted by each worker's sessionsTotal of that object (a worker with no
 *   traffic does not pull an average to 0); all weights 0 gives the plain mean.
 * - States: the same status in every worker is that status. When workers disagree (one saw a
 *   check fail before the others), the least healthy status is shown, in the order
 *   MAINT, DOWN, going up ("DOWN 1/2"), NOLB, DRAIN, going down ("UP 1/3"), UP, "no check"; a
 *   backend is UP only if it is UP in every worker, a frontend STOP if any worker stopped, else
 *   FULL if any is full. What belongs with a status (weight, throttle, check result, last change,
 *   usable servers) is taken from the worker whose status is shown, so a row stays coherent.
 * - Events every worker sees for itself in a shared state (a server going down, a backend losing
 *   its last server) and the time spent down are the highest worker's, not the sum, which would
 *   count one outage once per worker.
 * - Seconds since the last session: the most recent of any worker (-1 if none had one).
 * - Process: processes summed (each snapshot says how many it holds), memory summed, idle
 *   percent averaged, stopping if any worker stops; name, version, runtime and pid come from the
 *   first snapshot (the answering worker puts its own first), uptime is the longest and the
 *   start the earliest.
 *
 * Objects are matched by name (servers by name within their backend); an object only some
 * workers have (a reload in progress) is merged from those, in the first worker's order.
 *
 * @module
 */

import type {
  BackendStats,
  CheckStats,
  FrontendStats,
  HttpResponseClasses,
  ProcessStats,
  ServerStats,
  StatsSnapshot,
  TimeStats,
  TrafficStats,
} from "./snapshot.ts";

/** Merges worker snapshots into one; throws on an empty list. */
export function mergeSnapshots(snapshots: readonly StatsSnapshot[]): StatsSnapshot {
  if (snapshots.length === 0) throw new Error("Cannot merge stats: no snapshot was given");
  if (snapshots.length === 1) return snapshots[0]!;
  return {
    info: mergeProcess(snapshots.map((snapshot) => snapshot.info)),
    frontends: groupByName(snapshots.map((snapshot) => snapshot.frontends)).map(mergeFrontends),
    backends: groupByName(snapshots.map((snapshot) => snapshot.backends)).map(mergeBackends),
  };
}

/**
 * Server statuses from least to most healthy, by their first word or whole text; a merged status
 * is the one found first in this order.
 */
const SERVER_STATUS_SEVERITY: readonly ((status: string) => boolean)[] = [
  (status) => status.startsWith("MAINT"),
  (status) => status === "DOWN" || status.startsWith("DOWN ("),
  (status) => status.startsWith("DOWN"),
  (status) => status.startsWith("NOLB"),
  (status) => status.startsWith("DRAIN"),
  (status) => status.startsWith("UP "),
  (status) => status === "UP",
  (status) => status === "no check",
];

/** Lower is less healthy; unknown words rank after every known one. */
export function serverStatusSeverity(status: string): number {
  const rank = SERVER_STATUS_SEVERITY.findIndex((matches) => matches(status));
  return rank === -1 ? SERVER_STATUS_SEVERITY.length : rank;
}

const FRONTEND_STATUS_SEVERITY: readonly FrontendStats["status"][] = ["STOP", "FULL", "OPEN"];
const BACKEND_STATUS_SEVERITY: readonly BackendStats["status"][] = ["DOWN", "UP"];

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function max(values: readonly number[]): number {
  return Math.max(...values);
}

function min(values: readonly number[]): number {
  return Math.min(...values);
}

/** Each worker's value weighted by its weight, rounded to the millisecond as the averages are. */
function weightedAverage(values: readonly number[], weights: readonly number[]): number {
  const totalWeight = sum(weights);
  if (totalWeight === 0) return Math.round(sum(values) / values.length);
  return Math.round(sum(values.map((value, index) => value * weights[index]!)) / totalWeight);
}

/** The most recent of "seconds since", -1 meaning never. */
function mostRecent(values: readonly number[]): number {
  const seen = values.filter((value) => value >= 0);
  return seen.length === 0 ? -1 : min(seen);
}

/** The first item whose rank is lowest (the least healthy, ties to the first worker). */
function leastHealthy<T>(items: readonly T[], rank: (item: T) => number): T {
  let chosen: T = items[0]!;
  for (const item of items) if (rank(item) < rank(chosen)) chosen = item;
  return chosen;
}

/** Objects by name across workers, in the first worker's order, then any only later workers have. */
function groupByName<T extends { readonly name: string }>(lists: readonly (readonly T[])[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const list of lists) {
    for (const item of list) {
      const group = groups.get(item.name);
      if (group === undefined) groups.set(item.name, [item]);
      else group.push(item);
    }
  }
  return [...groups.values()];
}

function mergeProcess(infos: readonly ProcessStats[]): ProcessStats {
  const first = infos[0]!;
  const field = (read: (info: ProcessStats) => number) => infos.map(read);
  return {
    name: first.name,
    version: first.version,
    runtime: first.runtime,
    pid: first.pid,
    processes: sum(field((info) => info.processes)),
    uptimeSeconds: max(field((info) => info.uptimeSeconds)),
    startedAt: min(field((info) => info.startedAt)),
    maxconn: sum(field((info) => info.maxconn)),
    currentConnections: sum(field((info) => info.currentConnections)),
    totalConnections: sum(field((info) => info.totalConnections)),
    connectionRate: sum(field((info) => info.connectionRate)),
    connectionRateMax: max(field((info) => info.connectionRateMax)),
    totalRequests: sum(field((info) => info.totalRequests)),
    requestRate: sum(field((info) => info.requestRate)),
    requestRateMax: max(field((info) => info.requestRateMax)),
    memoryRss: sum(field((info) => info.memoryRss)),
    memoryHeapUsed: sum(field((info) => info.memoryHeapUsed)),
    idlePercent: Math.round(sum(field((info) => info.idlePercent)) / infos.length),
    stopping: infos.some((info) => info.stopping),
  };
}

function mergeResponses(items: readonly TrafficStats[]): HttpResponseClasses {
  return {
    "1xx": sum(items.map((item) => item.responses["1xx"])),
    "2xx": sum(items.map((item) => item.responses["2xx"])),
    "3xx": sum(items.map((item) => item.responses["3xx"])),
    "4xx": sum(items.map((item) => item.responses["4xx"])),
    "5xx": sum(items.map((item) => item.responses["5xx"])),
    other: sum(items.map((item) => item.responses.other)),
  };
}

function mergeTraffic(items: readonly TrafficStats[]): TrafficStats {
  const field = (read: (item: TrafficStats) => number) => items.map(read);
  return {
    sessionsCurrent: sum(field((item) => item.sessionsCurrent)),
    sessionsMax: max(field((item) => item.sessionsMax)),
    sessionsLimit: sum(field((item) => item.sessionsLimit)),
    sessionsTotal: sum(field((item) => item.sessionsTotal)),
    sessionRate: sum(field((item) => item.sessionRate)),
    sessionRateMax: max(field((item) => item.sessionRateMax)),
    bytesIn: sum(field((item) => item.bytesIn)),
    bytesOut: sum(field((item) => item.bytesOut)),
    deniedRequests: sum(field((item) => item.deniedRequests)),
    requestErrors: sum(field((item) => item.requestErrors)),
    connectionErrors: sum(field((item) => item.connectionErrors)),
    responseErrors: sum(field((item) => item.responseErrors)),
    retries: sum(field((item) => item.retries)),
    redispatches: sum(field((item) => item.redispatches)),
    responses: mergeResponses(items),
    requestsTotal: sum(field((item) => item.requestsTotal)),
    requestRate: sum(field((item) => item.requestRate)),
    requestRateMax: max(field((item) => item.requestRateMax)),
    clientAborts: sum(field((item) => item.clientAborts)),
    serverAborts: sum(field((item) => item.serverAborts)),
    connectionsOpened: sum(field((item) => item.connectionsOpened)),
    connectionsReused: sum(field((item) => item.connectionsReused)),
  };
}

function mergeTimes(items: readonly (TimeStats & TrafficStats)[]): TimeStats {
  const weights = items.map((item) => item.sessionsTotal);
  const average = (read: (item: TimeStats) => number) => weightedAverage(items.map(read), weights);
  const highest = (read: (item: TimeStats) => number) => max(items.map(read));
  return {
    queueTime: average((item) => item.queueTime),
    connectTime: average((item) => item.connectTime),
    responseTime: average((item) => item.responseTime),
    totalTime: average((item) => item.totalTime),
    queueTimeMax: highest((item) => item.queueTimeMax),
    connectTimeMax: highest((item) => item.connectTimeMax),
    responseTimeMax: highest((item) => item.responseTimeMax),
    totalTimeMax: highest((item) => item.totalTimeMax),
  };
}

function mergeFrontends(items: readonly FrontendStats[]): FrontendStats {
  const shown = leastHealthy(items, (item) => FRONTEND_STATUS_SEVERITY.indexOf(item.status));
  return {
    ...mergeTraffic(items),
    name: shown.name,
    id: shown.id,
    mode: shown.mode,
    status: shown.status,
    intercepted: sum(items.map((item) => item.intercepted)),
    deniedConnections: sum(items.map((item) => item.deniedConnections)),
    failedHandshakes: sum(items.map((item) => item.failedHandshakes)),
    failedProxyHeaders: sum(items.map((item) => item.failedProxyHeaders)),
  };
}

function mergeBackends(items: readonly BackendStats[]): BackendStats {
  const shown = leastHealthy(items, (item) => BACKEND_STATUS_SEVERITY.indexOf(item.status));
  return {
    ...mergeTraffic(items),
    ...mergeTimes(items),
    name: shown.name,
    id: shown.id,
    mode: shown.mode,
    algorithm: shown.algorithm,
    status: shown.status,
    queueCurrent: sum(items.map((item) => item.queueCurrent)),
    queueMax: max(items.map((item) => item.queueMax)),
    weight: shown.weight,
    configuredWeight: shown.configuredWeight,
    activeServers: shown.activeServers,
    backupServers: shown.backupServers,
    downTransitions: max(items.map((item) => item.downTransitions)),
    lastChangeSeconds: shown.lastChangeSeconds,
    downtimeSeconds: max(items.map((item) => item.downtimeSeconds)),
    lastSessionSeconds: mostRecent(items.map((item) => item.lastSessionSeconds)),
    selectedTotal: sum(items.map((item) => item.selectedTotal)),
    queueFailures: sum(items.map((item) => item.queueFailures)),
    servers: groupByName(items.map((item) => item.servers)).map(mergeServers),
  };
}

function mergeServers(items: readonly ServerStats[]): ServerStats {
  const shown = leastHealthy(items, (item) => serverStatusSeverity(item.status));
  return {
    ...mergeTraffic(items),
    ...mergeTimes(items),
    name: shown.name,
    id: shown.id,
    address: shown.address,
    status: shown.status,
    weight: shown.weight,
    configuredWeight: shown.configuredWeight,
    backup: shown.backup,
    queueCurrent: sum(items.map((item) => item.queueCurrent)),
    queueMax: max(items.map((item) => item.queueMax)),
    queueLimit: sum(items.map((item) => item.queueLimit)),
    throttlePercent: shown.throttlePercent,
    checkFailures: sum(items.map((item) => item.checkFailures)),
    downTransitions: max(items.map((item) => item.downTransitions)),
    lastChangeSeconds: shown.lastChangeSeconds,
    downtimeSeconds: max(items.map((item) => item.downtimeSeconds)),
    lastSessionSeconds: mostRecent(items.map((item) => item.lastSessionSeconds)),
    selectedTotal: sum(items.map((item) => item.selectedTotal)),
    check: mergeCheck(shown.check, items),
    idleConnections: sum(items.map((item) => item.idleConnections)),
  };
}

/** The shown worker's check; if it has none (workers of different configurations), the first that has one. */
function mergeCheck(shown: CheckStats | null, items: readonly ServerStats[]): CheckStats | null {
  return shown ?? items.find((item) => item.check !== null)?.check ?? null;
}
