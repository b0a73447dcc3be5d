/**
 * A snapshot as HAProxy's stats rows: one row per frontend, per server and per backend, each a
 * list of columns in HAProxy's order ({@link STAT_FIELD_NAMES}), filled as HAProxy 2.6 fills
 * them (src/stats.c, stats_fill_fe_stats, stats_fill_sv_stats, stats_fill_be_stats): a column
 * HAProxy leaves empty for that object stays empty, and so does a column we have no data for.
 * The CSV, `show stat typed` and `show stat json` are three printings of these rows.
 *
 * Each filled column carries the type and the three tags HAProxy gives it (origin, nature, scope),
 * which `show stat typed` and `show stat json` print.
 *
 * @module
 */

import type { BackendStats, FrontendStats, ServerStats, StatsSnapshot, TrafficStats } from "./snapshot.ts";
import {
  STAT_FIELD_NAMES,
  STAT_FIELD_POSITION,
  STAT_TYPE,
  STAT_TYPE_MASK,
  type StatFieldName,
  type StatObjectType,
} from "./stat_fields.ts";

/** The value types of HAProxy's typed output. */
export type StatValueType = "u32" | "u64" | "s32" | "str";

/**
 * A filled column. `tags` are HAProxy's one-letter codes as `show stat typed` prints them:
 * origin (M metric, S status, K key, C config), nature (G gauge, L limit, M max, R rate,
 * C counter, D duration, A age, N name, O output, a average), scope (P process, S service).
 */
export interface StatValue {
  readonly type: StatValueType;
  readonly tags: string;
  readonly value: number | string;
}

/** One line of `show stat`. */
export interface StatRow {
  readonly type: StatObjectType;
  /** [iid] and [sid] (0 for a frontend or backend). */
  readonly proxyId: number;
  readonly serverId: number;
  /** Indexed like {@link STAT_FIELD_NAMES}; undefined where the column is empty. */
  readonly values: readonly (StatValue | undefined)[];
}

/**
 * `show stat <iid> <type> <sid>`: which proxies (an iid, or a name as HAProxy also accepts), which
 * object types (a mask of {@link STAT_TYPE_MASK} bits) and which server (a sid); -1 means all.
 */
export interface StatRowFilter {
  readonly proxy: number | string;
  readonly types: number;
  readonly serverId: number;
}

/** Which rows and columns to produce. */
export interface StatRowOptions {
  /** Default: every row. */
  readonly filter?: StatRowFilter;
  /** `show stat ... no-maint`: servers in maintenance are left out. */
  readonly hideMaintenance?: boolean;
  /** `show stat ... up`: servers down (and not going up) or in maintenance are left out. */
  readonly upOnly?: boolean;
  /**
   * Fill `addr` and `algo`: HAProxy does only with `stats show-legends` on the page, or at
   * the operator and admin levels of the runtime API. Default false, as HAProxy's page.
   */
  readonly showLegends?: boolean;
  /** The `pid` column: HAProxy's relative process number, always 1 in 2.6. */
  readonly processNumber?: number;
}

/** Every row, every type, every server. */
export const ALL_STAT_ROWS: StatRowFilter = Object.freeze({ proxy: -1, types: -1, serverId: -1 });

// HAProxy's tag combinations (origin, nature, scope), named by what they mark.
const NAME = "KNS";
const KEY_OF_PROCESS = "KGP";
const KEY_OF_SERVICE = "KGS";
const SETTING = "CGS";
const LIMIT = "CLP";
const GAUGE = "MGP";
const HIGHEST = "MMP";
const COUNTER = "MCP";
const RATE = "MRP";
const STATE = "SGP";
const AGE = "MAP";
const AVERAGE = "MaP";
const OUTPUT = "MOP";
const DURATION = "MDP";

/** Builds the rows of a snapshot in HAProxy's order: frontends, then each backend's servers followed by its BACKEND row. */
export function statRows(snapshot: StatsSnapshot, options: StatRowOptions = {}): StatRow[] {
  const filter = options.filter ?? ALL_STAT_ROWS;
  const processNumber = options.processNumber ?? 1;
  const rows: StatRow[] = [];
  for (const frontend of snapshot.frontends) {
    if (!proxySelected(filter, frontend.id, frontend.name) || !typeSelected(filter, STAT_TYPE_MASK.frontend)) continue;
    rows.push(frontendRow(frontend, processNumber));
  }
  for (const backend of snapshot.backends) {
    if (!proxySelected(filter, backend.id, backend.name)) continue;
    // HAProxy stops walking the servers at the first one when servers are not asked for.
    if (typeSelected(filter, STAT_TYPE_MASK.server)) {
      for (const server of backend.servers) {
        if (filter.serverId !== -1 && server.id !== filter.serverId) continue;
        if (options.hideMaintenance && isInMaintenance(server.status)) continue;
        if (options.upOnly && isDownForGood(server.status)) continue;
        rows.push(serverRow(backend, server, processNumber, options.showLegends ?? false));
      }
    }
    if (typeSelected(filter, STAT_TYPE_MASK.backend)) {
      const countServers = options.hideMaintenance === true || options.upOnly === true;
      rows.push(backendRow(backend, processNumber, options.showLegends ?? false, countServers));
    }
  }
  return rows;
}

/** The column `name` of a row, undefined when empty. */
export function statValue(row: StatRow, name: StatFieldName): StatValue | undefined {
  return row.values[STAT_FIELD_POSITION[name]];
}

/** The proxy a `show stat` argument names: a name, or a number (atoi, as HAProxy reads it); null for "No such proxy.". */
export function resolveStatProxy(snapshot: StatsSnapshot, argument: string): number | string | null {
  const proxies = [...snapshot.frontends, ...snapshot.backends];
  if (proxies.some((proxy) => proxy.name === argument)) return argument;
  const id = leadingInteger(argument);
  return id === 0 ? null : id;
}

/** C's atoi: the leading optional sign and digits, 0 when there are none. */
export function leadingInteger(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match === null ? 0 : Number.parseInt(match[1]!, 10);
}

/** HAProxy counts a server up for a backend's "(up/total)" unless it is stopped: down, going up, in maintenance. */
export function isServerRunning(status: string): boolean {
  return !(status.startsWith("DOWN") || isInMaintenance(status));
}

function isInMaintenance(status: string): boolean {
  return status.startsWith("MAINT");
}

/** What `show stat up` hides: maintenance, and down without a check on the way up ("DOWN 1/2" stays). */
function isDownForGood(status: string): boolean {
  return isInMaintenance(status) || status === "DOWN" || status === "DOWN (agent)";
}

function proxySelected(filter: StatRowFilter, id: number, name: string): boolean {
  if (typeof filter.proxy === "string") return filter.proxy === name;
  return filter.proxy === -1 || filter.proxy === id;
}

function typeSelected(filter: StatRowFilter, bit: number): boolean {
  return (filter.types & bit) !== 0;
}

/** A row under construction: columns set by name. */
class RowBuilder {
  readonly values: (StatValue | undefined)[] = new Array(STAT_FIELD_NAMES.length).fill(undefined);

  u32(name: StatFieldName, tags: string, value: number): void {
    this.values[STAT_FIELD_POSITION[name]] = { type: "u32", tags, value: Math.max(0, Math.round(value)) };
  }

  u64(name: StatFieldName, tags: string, value: number): void {
    this.values[STAT_FIELD_POSITION[name]] = { type: "u64", tags, value: Math.max(0, Math.round(value)) };
  }

  s32(name: StatFieldName, tags: string, value: number): void {
    this.values[STAT_FIELD_POSITION[name]] = { type: "s32", tags, value: Math.round(value) };
  }

  str(name: StatFieldName, tags: string, value: string): void {
    this.values[STAT_FIELD_POSITION[name]] = { type: "str", tags, value };
  }
}

function keys(row: RowBuilder, proxyName: string, serviceName: string, type: StatObjectType, proxyId: number, serverId: number, processNumber: number): void {
  row.str("pxname", NAME, proxyName);
  row.str("svname", NAME, serviceName);
  row.u32("pid", KEY_OF_PROCESS, processNumber);
  row.u32("iid", KEY_OF_SERVICE, proxyId);
  row.u32("sid", KEY_OF_SERVICE, serverId);
  row.u32("type", SETTING, type);
}

/** HAProxy fills the status classes in http mode only, for every object type. */
function responseClasses(row: RowBuilder, stats: TrafficStats): void {
  row.u64("hrsp_1xx", COUNTER, stats.responses["1xx"]);
  row.u64("hrsp_2xx", COUNTER, stats.responses["2xx"]);
  row.u64("hrsp_3xx", COUNTER, stats.responses["3xx"]);
  row.u64("hrsp_4xx", COUNTER, stats.responses["4xx"]);
  row.u64("hrsp_5xx", COUNTER, stats.responses["5xx"]);
  row.u64("hrsp_other", COUNTER, stats.responses.other);
}

/** What backends and servers count alike on the way to the server. */
function serverSide(row: RowBuilder, stats: TrafficStats): void {
  row.u64("econ", COUNTER, stats.connectionErrors);
  row.u64("eresp", COUNTER, stats.responseErrors);
  row.u64("wretr", COUNTER, stats.retries);
  row.u64("wredis", COUNTER, stats.redispatches);
  row.u64("connect", COUNTER, stats.connectionsOpened);
  row.u64("reuse", COUNTER, stats.connectionsReused);
  row.u64("cli_abrt", COUNTER, stats.clientAborts);
  row.u64("srv_abrt", COUNTER, stats.serverAborts);
}

function timeAverages(row: RowBuilder, stats: BackendStats | ServerStats): void {
  row.u32("qtime", AVERAGE, stats.queueTime);
  row.u32("ctime", AVERAGE, stats.connectTime);
  row.u32("rtime", AVERAGE, stats.responseTime);
  row.u32("ttime", AVERAGE, stats.totalTime);
  row.u32("qtime_max", HIGHEST, stats.queueTimeMax);
  row.u32("ctime_max", HIGHEST, stats.connectTimeMax);
  row.u32("rtime_max", HIGHEST, stats.responseTimeMax);
  row.u32("ttime_max", HIGHEST, stats.totalTimeMax);
}

function frontendRow(frontend: FrontendStats, processNumber: number): StatRow {
  const row = new RowBuilder();
  keys(row, frontend.name, "FRONTEND", STAT_TYPE.frontend, frontend.id, 0, processNumber);
  row.str("mode", SETTING, frontend.mode);
  row.u32("scur", GAUGE, frontend.sessionsCurrent);
  row.u32("smax", HIGHEST, frontend.sessionsMax);
  row.u32("slim", LIMIT, frontend.sessionsLimit);
  row.u64("stot", COUNTER, frontend.sessionsTotal);
  row.u64("bin", COUNTER, frontend.bytesIn);
  row.u64("bout", COUNTER, frontend.bytesOut);
  row.u64("dreq", COUNTER, frontend.deniedRequests);
  row.u64("ereq", COUNTER, frontend.requestErrors);
  row.u64("dcon", COUNTER, frontend.deniedConnections);
  row.str("status", STATE, frontend.status);
  row.u32("rate", RATE, frontend.sessionRate);
  row.u32("rate_max", HIGHEST, frontend.sessionRateMax);
  // HAProxy fills the request rate and total of a frontend in tcp mode too (they stay 0).
  row.u32("req_rate", RATE, frontend.requestRate);
  row.u32("req_rate_max", HIGHEST, frontend.requestRateMax);
  row.u64("req_tot", COUNTER, frontend.requestsTotal);
  if (frontend.mode === "http") {
    responseClasses(row, frontend);
    row.u64("intercepted", COUNTER, frontend.intercepted);
  }
  return { type: STAT_TYPE.frontend, proxyId: frontend.id, serverId: 0, values: row.values };
}

function serverRow(backend: BackendStats, server: ServerStats, processNumber: number, showLegends: boolean): StatRow {
  const row = new RowBuilder();
  keys(row, backend.name, server.name, STAT_TYPE.server, backend.id, server.id, processNumber);
  row.str("mode", SETTING, backend.mode);
  row.u32("qcur", GAUGE, server.queueCurrent);
  row.u32("qmax", HIGHEST, server.queueMax);
  row.u32("scur", GAUGE, server.sessionsCurrent);
  row.u32("smax", HIGHEST, server.sessionsMax);
  if (server.sessionsLimit > 0) row.u32("slim", LIMIT, server.sessionsLimit);
  row.u32("srv_icur", GAUGE, server.idleConnections);
  row.u64("stot", COUNTER, server.sessionsTotal);
  row.u64("bin", COUNTER, server.bytesIn);
  row.u64("bout", COUNTER, server.bytesOut);
  serverSide(row, server);
  row.str("status", STATE, server.status);
  row.u32("lastchg", AGE, server.lastChangeSeconds);
  row.u32("weight", AVERAGE, server.weight);
  row.u32("uweight", AVERAGE, server.configuredWeight);
  row.u32("act", STATE, server.backup ? 0 : 1);
  row.u32("bck", STATE, server.backup ? 1 : 0);
  if (server.queueLimit > 0) row.u32("qlimit", SETTING, server.queueLimit);
  // HAProxy shows the throttle only while a slow start runs.
  if (server.throttlePercent < 100) row.u32("throttle", AVERAGE, server.throttlePercent);
  row.u64("lbtot", COUNTER, server.selectedTotal);
  row.u32("rate", RATE, server.sessionRate);
  row.u32("rate_max", HIGHEST, server.sessionRateMax);
  checkColumns(row, server);
  if (backend.mode === "http") {
    row.u64("req_tot", COUNTER, server.requestsTotal);
    responseClasses(row, server);
  }
  row.s32("lastsess", AGE, server.lastSessionSeconds);
  timeAverages(row, server);
  if (showLegends) row.str("addr", SETTING, server.address);
  return { type: STAT_TYPE.server, proxyId: backend.id, serverId: server.id, values: row.values };
}

/**
 * The check columns. HAProxy fills the failure counters and the downtime while checks are enabled,
 * and the status, its description and rise/fall/health only while they also run (not paused by
 * maintenance, which our snapshot says with the status "MAINT"). A check code only exists for a
 * layer 7 result, a duration only once a check completed.
 */
function checkColumns(row: RowBuilder, server: ServerStats): void {
  const check = server.check;
  if (check === null || !check.enabled) return;
  row.u64("chkfail", COUNTER, server.checkFailures);
  row.u64("chkdown", COUNTER, server.downTransitions);
  row.u32("downtime", COUNTER, server.downtimeSeconds);
  if (check.status === "MAINT") return;
  row.str("check_status", OUTPUT, check.status);
  if (check.code !== null) row.u32("check_code", OUTPUT, check.code);
  if (check.durationMs >= 0) row.u64("check_duration", DURATION, check.durationMs);
  row.str("check_desc", OUTPUT, check.description);
  row.u32("check_rise", SETTING, check.rise);
  row.u32("check_fall", SETTING, check.fall);
  row.u32("check_health", SETTING, check.health);
}

function backendRow(backend: BackendStats, processNumber: number, showLegends: boolean, countServers: boolean): StatRow {
  const row = new RowBuilder();
  keys(row, backend.name, "BACKEND", STAT_TYPE.backend, backend.id, 0, processNumber);
  row.str("mode", SETTING, backend.mode);
  row.u32("qcur", GAUGE, backend.queueCurrent);
  row.u32("qmax", HIGHEST, backend.queueMax);
  row.u32("scur", GAUGE, backend.sessionsCurrent);
  row.u32("smax", HIGHEST, backend.sessionsMax);
  row.u32("slim", LIMIT, backend.sessionsLimit);
  row.u64("stot", COUNTER, backend.sessionsTotal);
  row.u64("bin", COUNTER, backend.bytesIn);
  row.u64("bout", COUNTER, backend.bytesOut);
  row.u64("dreq", COUNTER, backend.deniedRequests);
  serverSide(row, backend);
  // With "up" or "no-maint", HAProxy appends how many servers run out of how many.
  const running = backend.servers.filter((server) => isServerRunning(server.status)).length;
  row.str("status", STATE, countServers ? `${backend.status} (${running}/${backend.servers.length})` : backend.status);
  // HAProxy 2.6 prints 0 here; the per-state counts are the exporter's.
  row.u32("agg_server_check_status", GAUGE, 0);
  row.u32("weight", AVERAGE, backend.weight);
  row.u32("uweight", AVERAGE, backend.configuredWeight);
  row.u32("act", GAUGE, backend.activeServers);
  row.u32("bck", GAUGE, backend.backupServers);
  row.u64("chkdown", COUNTER, backend.downTransitions);
  row.u32("lastchg", AGE, backend.lastChangeSeconds);
  if (backend.servers.length > 0) row.u32("downtime", COUNTER, backend.downtimeSeconds);
  row.u64("lbtot", COUNTER, backend.selectedTotal);
  // HAProxy tags a backend's session rates as plain gauges, unlike a frontend's or a server's.
  row.u32("rate", GAUGE, backend.sessionRate);
  row.u32("rate_max", GAUGE, backend.sessionRateMax);
  if (showLegends) row.str("algo", SETTING, backend.algorithm);
  if (backend.mode === "http") {
    row.u64("req_tot", COUNTER, backend.requestsTotal);
    responseClasses(row, backend);
  }
  row.s32("lastsess", AGE, backend.lastSessionSeconds);
  timeAverages(row, backend);
  return { type: STAT_TYPE.backend, proxyId: backend.id, serverId: 0, values: row.values };
}
