/**
 * The stats in Prometheus' text exposition format 0.0.4, under the names and labels of HAProxy
 * 2.6's exporter (addons/promex/service-prometheus.c), so that dashboards and alerts written for
 * HAProxy work unchanged: `haproxy_process_*`, `haproxy_frontend_*{proxy}`,
 * `haproxy_backend_*{proxy}`, `haproxy_server_*{proxy,server}`.
 *
 * As HAProxy's exporter: metrics come metric by metric (each family's samples together), process
 * first, then frontends, backends and servers; states are one sample per possible state with
 * value 1 for the current one (`haproxy_server_status{state="UP"} 1`, DOWN/UP/MAINT/DRAIN/NOLB
 * for servers, DOWN/UP for frontends and backends); http-only metrics only for http proxies;
 * times in seconds; and where HAProxy has a metric for an object but leaves its stats field empty
 * (a server's limit_sessions without maxconn, its check counters without a check, its throttle
 * outside a slow start) the value is NaN, as 2.6 prints it.
 *
 * Beyond HAProxy's: `haproxy_process_resident_memory_bytes` and `haproxy_process_heap_used_bytes`
 * (HAProxy reports its pools instead), and a `runtime` label on `haproxy_process_build_info`.
 * Metrics we have no data for (compression, caches, SSL, denied responses...) are left out.
 * Label values are escaped as the format requires (HAProxy 2.6 does not escape them).
 *
 * @module
 */

import type { BackendStats, FrontendStats, ProcessStats, ServerStats, StatsSnapshot, TrafficStats } from "./snapshot.ts";

/** The Content-Type of this format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** HAProxy's exporter scopes (its `scope` query parameter). */
export type PrometheusScope = "global" | "frontend" | "backend" | "server";

/** What to expose. */
export interface PrometheusOptions {
  /** Default: all four, as HAProxy's exporter. */
  readonly scopes?: readonly PrometheusScope[];
  /** HAProxy's `no-maint` parameter: leave out servers in maintenance. */
  readonly hideMaintenanceServers?: boolean;
}

type MetricType = "gauge" | "counter";

/** Labels beyond the object's own, and the value. */
type LabelledValue = readonly [labels: Readonly<Record<string, string>>, value: number];

/** A metric of one kind of object: null leaves the object out of it. */
interface Metric<T> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly read: (object: T) => number | readonly LabelledValue[] | null;
}

/** A family being written: its samples, each a line without its name. */
interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly lines: string[];
}

/** Server states of HAProxy's exporter, in its order. */
export const SERVER_STATES = Object.freeze(["DOWN", "UP", "MAINT", "DRAIN", "NOLB"] as const);

/** Frontend and backend states of HAProxy's exporter. */
export const PROXY_STATES = Object.freeze(["DOWN", "UP"] as const);

/**
 * The check results HAProxy 2.6's exporter lists in `haproxy_server_check_status{state}`: every
 * finished check status whose result is a failure or a success (its check_statuses[] table).
 */
export const CHECK_STATES = Object.freeze([
  "HANA",
  "SOCKERR",
  "L4OK",
  "L4TOUT",
  "L4CON",
  "L6OK",
  "L6TOUT",
  "L6RSP",
  "L7TOUT",
  "L7RSP",
  "L7OK",
  "L7OKC",
  "L7STS",
  "PROCERR",
  "PROCTOUT",
  "PROCOK",
] as const);

const RESPONSE_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"] as const;

/** The exporter's page for a snapshot. */
export function formatPrometheus(snapshot: StatsSnapshot, options: PrometheusOptions = {}): string {
  const scopes = new Set<PrometheusScope>(options.scopes ?? ["global", "frontend", "backend", "server"]);
  const families: Family[] = [];
  if (scopes.has("global")) addFamilies(families, "haproxy_process_", PROCESS_METRICS, [snapshot.info], () => ({}));
  if (scopes.has("frontend")) addFamilies(families, "haproxy_frontend_", FRONTEND_METRICS, snapshot.frontends, (frontend) => ({ proxy: frontend.name }));
  if (scopes.has("backend")) addFamilies(families, "haproxy_backend_", BACKEND_METRICS, snapshot.backends, (backend) => ({ proxy: backend.name }));
  if (scopes.has("server")) {
    const servers = snapshot.backends.flatMap((backend) =>
      backend.servers
        .filter((server) => !(options.hideMaintenanceServers && serverState(server.status) === "MAINT"))
        .map((server) => ({ backend, server }))
    );
    addFamilies(families, "haproxy_server_", SERVER_METRICS, servers, ({ backend, server }) => ({ proxy: backend.name, server: server.name }));
  }
  let text = "";
  for (const family of families) {
    text += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
    for (const line of family.lines) text += `${family.name}${line}\n`;
  }
  return text;
}

/** HAProxy's exporter state of a server status string (promex_srv_status). */
export function serverState(status: string): (typeof SERVER_STATES)[number] {
  if (status.startsWith("MAINT")) return "MAINT";
  if (status.startsWith("DRAIN")) return "DRAIN";
  if (status.startsWith("NOLB")) return "NOLB";
  if (status.startsWith("UP") || status === "no check") return "UP";
  return "DOWN";
}

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** Metric by metric, object by object, as HAProxy's exporter walks them; a family without samples is not printed. */
function addFamilies<T>(
  families: Family[],
  prefix: string,
  metrics: readonly Metric<T>[],
  objects: readonly T[],
  labelsOf: (object: T) => Record<string, string>,
): void {
  for (const metric of metrics) {
    const family: Family = { name: prefix + metric.name, type: metric.type, help: metric.help, lines: [] };
    for (const object of objects) {
      const read = metric.read(object);
      if (read === null) continue;
      if (typeof read === "number") {
        family.lines.push(`${formatLabels(labelsOf(object))} ${formatValue(read)}`);
        continue;
      }
      for (const [labels, value] of read) {
        family.lines.push(`${formatLabels({ ...labelsOf(object), ...labels })} ${formatValue(value)}`);
      }
    }
    if (family.lines.length > 0) families.push(family);
  }
}

function seconds(milliseconds: number): number {
  return milliseconds / 1_000;
}

function states(all: readonly string[], current: string): LabelledValue[] {
  return all.map((state) => [{ state }, state === current ? 1 : 0] as const);
}

function responseClasses(stats: TrafficStats & { readonly mode: "tcp" | "http" }): LabelledValue[] | null {
  if (stats.mode !== "http") return null;
  return RESPONSE_CLASSES.map((code) => [{ code }, stats.responses[code]] as const);
}

function httpOnly<T extends { readonly mode: "tcp" | "http" }>(read: (object: T) => number): (object: T) => number | null {
  return (object) => (object.mode === "http" ? read(object) : null);
}

/** HAProxy's process metrics we have, in its order (promex_global_metrics), then ours. */
const PROCESS_METRICS: readonly Metric<ProcessStats>[] = [
  { name: "nbthread", type: "gauge", help: "Threads per process (one event loop each).", read: () => 1 },
  { name: "nbproc", type: "gauge", help: "Processes whose counters these are (the workers of a -W master).", read: (info) => info.processes },
  { name: "relative_process_id", type: "gauge", help: "Relative process number (always 1, as HAProxy 2.6).", read: () => 1 },
  { name: "uptime_seconds", type: "gauge", help: "Seconds since the process started.", read: (info) => Math.floor(info.uptimeSeconds) },
  { name: "start_time_seconds", type: "gauge", help: "Start time, seconds since the epoch.", read: (info) => Math.floor(info.startedAt / 1_000) },
  { name: "max_connections", type: "gauge", help: "Connection limit of the process (global maxconn).", read: (info) => info.maxconn },
  { name: "current_connections", type: "gauge", help: "Connections open now.", read: (info) => info.currentConnections },
  { name: "connections_total", type: "counter", help: "Connections accepted since the process started.", read: (info) => info.totalConnections },
  { name: "requests_total", type: "counter", help: "HTTP requests received since the process started.", read: (info) => info.totalRequests },
  { name: "current_connection_rate", type: "gauge", help: "Connections accepted over the last second.", read: (info) => info.connectionRate },
  { name: "max_connection_rate", type: "gauge", help: "Highest connections per second seen.", read: (info) => info.connectionRateMax },
  { name: "idle_time_percent", type: "gauge", help: "Share of the last interval the event loop was idle, percent.", read: (info) => info.idlePercent },
  { name: "stopping", type: "gauge", help: "1 while the process stops gracefully, else 0.", read: (info) => (info.stopping ? 1 : 0) },
  {
    name: "build_info",
    type: "gauge",
    help: "Build information, in the labels.",
    read: (info) => [[{ version: info.version, runtime: info.runtime }, 1]],
  },
  { name: "resident_memory_bytes", type: "gauge", help: "Resident set size, bytes (not in HAProxy).", read: (info) => info.memoryRss },
  { name: "heap_used_bytes", type: "gauge", help: "JavaScript heap in use, bytes (not in HAProxy).", read: (info) => info.memoryHeapUsed },
];

const FRONTEND_METRICS: readonly Metric<FrontendStats>[] = [
  { name: "current_sessions", type: "gauge", help: "Sessions open now.", read: (fe) => fe.sessionsCurrent },
  { name: "max_sessions", type: "gauge", help: "Highest number of sessions open at once.", read: (fe) => fe.sessionsMax },
  { name: "limit_sessions", type: "gauge", help: "Session limit (maxconn).", read: (fe) => fe.sessionsLimit },
  { name: "sessions_total", type: "counter", help: "Sessions since the process started.", read: (fe) => fe.sessionsTotal },
  { name: "bytes_in_total", type: "counter", help: "Bytes received from clients.", read: (fe) => fe.bytesIn },
  { name: "bytes_out_total", type: "counter", help: "Bytes sent to clients.", read: (fe) => fe.bytesOut },
  { name: "requests_denied_total", type: "counter", help: "Requests denied by rules.", read: (fe) => fe.deniedRequests },
  { name: "request_errors_total", type: "counter", help: "Invalid, cut or timed out requests.", read: (fe) => fe.requestErrors },
  {
    name: "status",
    type: "gauge",
    help: "Current status of the service, per state label value.",
    read: (fe) => states(PROXY_STATES, fe.status === "STOP" ? "DOWN" : "UP"),
  },
  { name: "max_session_rate", type: "gauge", help: "Highest sessions per second seen.", read: (fe) => fe.sessionRateMax },
  { name: "http_responses_total", type: "counter", help: "HTTP responses by status class.", read: responseClasses },
  { name: "http_requests_rate_max", type: "gauge", help: "Highest HTTP requests per second seen.", read: httpOnly((fe) => fe.requestRateMax) },
  { name: "http_requests_total", type: "counter", help: "HTTP requests received.", read: httpOnly((fe) => fe.requestsTotal) },
  { name: "intercepted_requests_total", type: "counter", help: "HTTP requests answered by the proxy itself.", read: httpOnly((fe) => fe.intercepted) },
  { name: "denied_connections_total", type: "counter", help: "Connections refused before a session.", read: (fe) => fe.deniedConnections },
];

/** What backends and servers share, before their own, in HAProxy's field order. */
function serverSideMetrics<T extends TrafficStats>(): Metric<T>[] {
  return [
    { name: "connection_errors_total", type: "counter", help: "Server connections that failed for good.", read: (o) => o.connectionErrors },
    { name: "response_errors_total", type: "counter", help: "Invalid, cut or late responses.", read: (o) => o.responseErrors },
    { name: "retry_warnings_total", type: "counter", help: "Server connection attempts retried.", read: (o) => o.retries },
    { name: "redispatch_warnings_total", type: "counter", help: "Requests sent to another server after a failure.", read: (o) => o.redispatches },
  ];
}

function timeMetrics<T extends BackendStats | ServerStats>(): { averages: Metric<T>[]; maxima: Metric<T>[] } {
  return {
    averages: [
      { name: "queue_time_average_seconds", type: "gauge", help: "Average queue time over the last 1024 requests.", read: (o) => seconds(o.queueTime) },
      { name: "connect_time_average_seconds", type: "gauge", help: "Average connect time over the last 1024 requests.", read: (o) => seconds(o.connectTime) },
      { name: "response_time_average_seconds", type: "gauge", help: "Average response time over the last 1024 requests.", read: (o) => seconds(o.responseTime) },
      { name: "total_time_average_seconds", type: "gauge", help: "Average total time over the last 1024 requests.", read: (o) => seconds(o.totalTime) },
    ],
    maxima: [
      { name: "max_queue_time_seconds", type: "gauge", help: "Longest time spent in the queue.", read: (o) => seconds(o.queueTimeMax) },
      { name: "max_connect_time_seconds", type: "gauge", help: "Longest time to connect to a server.", read: (o) => seconds(o.connectTimeMax) },
      { name: "max_response_time_seconds", type: "gauge", help: "Longest wait for a server's response.", read: (o) => seconds(o.responseTimeMax) },
      { name: "max_total_time_seconds", type: "gauge", help: "Longest total request and response time.", read: (o) => seconds(o.totalTimeMax) },
    ],
  };
}

const BACKEND_TIMES = timeMetrics<BackendStats>();

const BACKEND_METRICS: readonly Metric<BackendStats>[] = [
  { name: "current_queue", type: "gauge", help: "Requests waiting for a server now.", read: (be) => be.queueCurrent },
  { name: "max_queue", type: "gauge", help: "Longest queue seen.", read: (be) => be.queueMax },
  { name: "current_sessions", type: "gauge", help: "Sessions open now.", read: (be) => be.sessionsCurrent },
  { name: "max_sessions", type: "gauge", help: "Highest number of sessions open at once.", read: (be) => be.sessionsMax },
  { name: "limit_sessions", type: "gauge", help: "Session limit (fullconn).", read: (be) => be.sessionsLimit },
  { name: "sessions_total", type: "counter", help: "Sessions (http: requests) since the process started.", read: (be) => be.sessionsTotal },
  { name: "bytes_in_total", type: "counter", help: "Bytes received from clients.", read: (be) => be.bytesIn },
  { name: "bytes_out_total", type: "counter", help: "Bytes sent to clients.", read: (be) => be.bytesOut },
  { name: "requests_denied_total", type: "counter", help: "Requests denied by rules.", read: (be) => be.deniedRequests },
  ...serverSideMetrics<BackendStats>(),
  {
    name: "status",
    type: "gauge",
    help: "Current status of the service, per state label value.",
    read: (be) => states(PROXY_STATES, be.status),
  },
  { name: "weight", type: "gauge", help: "Sum of the usable servers' weights.", read: (be) => be.weight },
  { name: "active_servers", type: "gauge", help: "Usable active servers.", read: (be) => be.activeServers },
  { name: "backup_servers", type: "gauge", help: "Usable backup servers.", read: (be) => be.backupServers },
  { name: "check_up_down_total", type: "counter", help: "Times the backend lost its last usable server.", read: (be) => be.downTransitions },
  { name: "check_last_change_seconds", type: "gauge", help: "Seconds since the last change of status.", read: (be) => be.lastChangeSeconds },
  {
    name: "downtime_seconds_total",
    type: "counter",
    help: "Seconds without a usable server.",
    read: (be) => (be.servers.length > 0 ? be.downtimeSeconds : Number.NaN),
  },
  { name: "loadbalanced_total", type: "counter", help: "Times a server was picked.", read: (be) => be.selectedTotal },
  { name: "max_session_rate", type: "gauge", help: "Highest sessions per second seen.", read: (be) => be.sessionRateMax },
  { name: "http_responses_total", type: "counter", help: "HTTP responses by status class.", read: responseClasses },
  { name: "http_requests_total", type: "counter", help: "HTTP requests sent on.", read: httpOnly((be) => be.requestsTotal) },
  { name: "client_aborts_total", type: "counter", help: "Transfers cut by the client.", read: (be) => be.clientAborts },
  { name: "server_aborts_total", type: "counter", help: "Transfers cut by the server.", read: (be) => be.serverAborts },
  { name: "last_session_seconds", type: "gauge", help: "Seconds since the last session, -1 before any.", read: (be) => be.lastSessionSeconds },
  ...BACKEND_TIMES.averages,
  { name: "connection_attempts_total", type: "counter", help: "Server connections dialled.", read: (be) => be.connectionsOpened },
  { name: "connection_reuses_total", type: "counter", help: "Idle server connections reused.", read: (be) => be.connectionsReused },
  ...BACKEND_TIMES.maxima,
  { name: "uweight", type: "gauge", help: "Sum of the usable servers' configured weights.", read: (be) => be.configuredWeight },
  {
    name: "agg_server_check_status",
    type: "gauge",
    help: "Servers per state.",
    read: (be) => {
      if (be.servers.length === 0) return null;
      return SERVER_STATES.map((state) => [{ state }, be.servers.filter((server) => serverState(server.status) === state).length] as const);
    },
  },
];

/** A server with its backend, which gives it its mode. */
interface ServerInBackend {
  readonly backend: BackendStats;
  readonly server: ServerStats;
}

/** Checks enabled (HAProxy's CHK_ST_ENABLED), and running (not paused by maintenance). */
function checkEnabled(server: ServerStats): boolean {
  return server.check !== null && server.check.enabled;
}

function checkRunning(server: ServerStats): boolean {
  return checkEnabled(server) && server.check!.status !== "MAINT";
}

function ofServer(read: (server: ServerStats) => number | readonly LabelledValue[] | null): (object: ServerInBackend) => number | readonly LabelledValue[] | null {
  return (object) => read(object.server);
}

function serverMetrics(metrics: readonly Metric<ServerStats>[]): Metric<ServerInBackend>[] {
  return metrics.map((metric) => ({ ...metric, read: ofServer(metric.read) }));
}

const SERVER_TIMES = timeMetrics<ServerStats>();

const SERVER_METRICS: readonly Metric<ServerInBackend>[] = [
  ...serverMetrics([
    { name: "current_queue", type: "gauge", help: "Requests waiting for this server now.", read: (sv) => sv.queueCurrent },
    { name: "max_queue", type: "gauge", help: "Longest queue seen.", read: (sv) => sv.queueMax },
    { name: "current_sessions", type: "gauge", help: "Sessions open now.", read: (sv) => sv.sessionsCurrent },
    { name: "max_sessions", type: "gauge", help: "Highest number of sessions open at once.", read: (sv) => sv.sessionsMax },
    { name: "limit_sessions", type: "gauge", help: "Session limit (maxconn), NaN without one.", read: (sv) => (sv.sessionsLimit > 0 ? sv.sessionsLimit : Number.NaN) },
    { name: "sessions_total", type: "counter", help: "Sessions (http: requests) since the process started.", read: (sv) => sv.sessionsTotal },
    { name: "bytes_in_total", type: "counter", help: "Bytes received from clients.", read: (sv) => sv.bytesIn },
    { name: "bytes_out_total", type: "counter", help: "Bytes sent to clients.", read: (sv) => sv.bytesOut },
    ...serverSideMetrics<ServerStats>(),
    {
      name: "status",
      type: "gauge",
      help: "Current status of the service, per state label value.",
      read: (sv) => states(SERVER_STATES, serverState(sv.status)),
    },
    { name: "weight", type: "gauge", help: "Weight in effect.", read: (sv) => sv.weight },
    { name: "check_failures_total", type: "counter", help: "Failed health checks, NaN without checks.", read: (sv) => (checkEnabled(sv) ? sv.checkFailures : Number.NaN) },
    { name: "check_up_down_total", type: "counter", help: "Times the server went down, NaN without checks.", read: (sv) => (checkEnabled(sv) ? sv.downTransitions : Number.NaN) },
    { name: "check_last_change_seconds", type: "gauge", help: "Seconds since the last change of state.", read: (sv) => sv.lastChangeSeconds },
    { name: "downtime_seconds_total", type: "counter", help: "Seconds down, NaN without checks.", read: (sv) => (checkEnabled(sv) ? sv.downtimeSeconds : Number.NaN) },
    { name: "queue_limit", type: "gauge", help: "Queue limit (maxqueue), NaN without one.", read: (sv) => (sv.queueLimit > 0 ? sv.queueLimit : Number.NaN) },
    { name: "current_throttle", type: "gauge", help: "Slow start: percent of the weight in effect, NaN outside one.", read: (sv) => (sv.throttlePercent < 100 ? sv.throttlePercent : Number.NaN) },
    { name: "loadbalanced_total", type: "counter", help: "Times the server was picked.", read: (sv) => sv.selectedTotal },
    { name: "max_session_rate", type: "gauge", help: "Highest sessions per second seen.", read: (sv) => sv.sessionRateMax },
    {
      name: "check_status",
      type: "gauge",
      help: "Status of last health check, per state label value.",
      read: (sv) => (checkRunning(sv) ? states(CHECK_STATES, sv.check!.status) : null),
    },
    {
      name: "check_code",
      type: "gauge",
      help: "HTTP status of the last check, 0 for a check without one.",
      read: (sv) => (checkRunning(sv) ? sv.check!.code ?? 0 : null),
    },
    {
      name: "check_duration_seconds",
      type: "gauge",
      help: "Duration of the last health check, in seconds.",
      read: (sv) => (sv.check !== null && sv.check.durationMs >= 0 ? seconds(sv.check.durationMs) : null),
    },
  ]),
  { name: "http_responses_total", type: "counter", help: "HTTP responses by status class.", read: ({ backend, server }) => responseClasses({ ...server, mode: backend.mode }) },
  ...serverMetrics([
    { name: "client_aborts_total", type: "counter", help: "Transfers cut by the client.", read: (sv) => sv.clientAborts },
    { name: "server_aborts_total", type: "counter", help: "Transfers cut by the server.", read: (sv) => sv.serverAborts },
    { name: "last_session_seconds", type: "gauge", help: "Seconds since the last session, -1 before any.", read: (sv) => sv.lastSessionSeconds },
    ...SERVER_TIMES.averages,
    { name: "connection_attempts_total", type: "counter", help: "Connections dialled to this server.", read: (sv) => sv.connectionsOpened },
    { name: "connection_reuses_total", type: "counter", help: "Idle connections to this server reused.", read: (sv) => sv.connectionsReused },
    { name: "idle_connections_current", type: "gauge", help: "Idle connections to this server in the pool.", read: (sv) => sv.idleConnections },
    ...SERVER_TIMES.maxima,
    { name: "uweight", type: "gauge", help: "Configured weight.", read: (sv) => sv.configuredWeight },
  ]),
];
