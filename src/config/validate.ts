/**
 * Turns a raw configuration document (parsed TOML, or the document the quick-start flags build)
 * into the validated, frozen Config. Every problem is collected, not just the first: each issue
 * names the key path, what was found and what is allowed, with a "did you mean" for a misspelled
 * key or name. Where an issue is in the source (file:line:col, or a flag) is resolved by the caller.
 *
 * This module reads the sections ([global], [defaults], frontends, backends, their servers, binds
 * and timeouts) and checks what spans them (an address bound twice, a backend that does not
 * exist). The readers it builds on have their own modules: reader.ts (the issue list and generic
 * typed readers), balance_setting.ts, forwarded_headers.ts, tune.ts, health_check.ts (`check`),
 * log_setting.ts (`log`, `log-format`...), and for http mode http_section.ts with http_rules.ts, conditions.ts, http_syntax.ts and
 * errorfiles.ts.
 *
 * The validator does no I/O: errorfiles are read and the chroot directory looked at by the caller
 * (see `errorFilePaths`, `chrootPath` and `ValidationOptions`).
 *
 * @module
 */

import { FRONTEND_STATS_KEYS, readFrontendStats } from "./stats_setting.ts";
import { DEFAULT_WEIGHT, MAX_WEIGHT } from "../core/server.ts";
import { AddressError, parseBindAddress, parseServerAddress } from "./address.ts";
import { readBalance } from "./balance_setting.ts";
import type { BalanceSetting } from "./balance_setting.ts";
import { MATCHER_KEYS, readCondition } from "./conditions.ts";
import { closestMatch } from "./did_you_mean.ts";
import { FORWARDED_KEYS, NO_FORWARDED_HEADERS, readForwarded } from "./forwarded_headers.ts";
import { NO_CHECK, readCheck, serverHealthCheck } from "./health_check.ts";
import type { CheckLayer } from "./health_check.ts";
import { DEFAULT_HTTP_SECTION, HTTP_SECTION_KEYS, readHttpSection, warnNoEffectInTcp } from "./http_section.ts";
import { LOG_KEYS, readDefaultsLog, readFrontendLog, readGlobalLog, warnUnusedDefaultsLogFormat } from "./log_setting.ts";
import type { DefaultsLog, GlobalLog } from "./log_setting.ts";
import { describe, isTable, Reader } from "./reader.ts";
import { BIND_KEYS, readBindTls } from "./tls_bind.ts";
import type { ConfigPath, Table, ValidationIssue, ValidationOptions } from "./reader.ts";
import { formatTomlPath } from "./toml_positions.ts";
import { readTune } from "./tune.ts";
import { readServerTls } from "./server_tls.ts";
import { NO_SEND_PROXY, readSendProxy, SEND_PROXY_KEYS } from "./send_proxy.ts";
import { readProcessSettings } from "./process_settings.ts";
import { readStatsSockets } from "./stats_socket.ts";
import type { LocatedStatsSocket } from "./stats_socket.ts";
import { readSniRoutes } from "./sni_routes.ts";
import { DEFAULTS_MONITOR_KEYS, FRONTEND_MONITOR_KEYS, readDefaultsMonitor, readFrontendMonitor } from "./monitor_setting.ts";
import type { DefaultsMonitor } from "./monitor_setting.ts";
import { DEFAULTS } from "./types.ts";
import type {
  BackendConfig,
  BindConfig,
  Config,
  ForwardedHeadersConfig,
  FrontendConfig,
  GlobalConfig,
  HttpReuseMode,
  HttpSectionConfig,
  ProxyMode,
  RouteConfig,
  ServerConfig,
  SendProxyConfig,
  ServerTlsConfig,
  SniRouteConfig,
} from "./types.ts";

export { errorFilePaths } from "./errorfiles.ts";
export { chrootPath } from "./process_settings.ts";
export { tlsFilePaths } from "./tls_bind.ts";
export type { ConfigPath, ErrorFileText, PathCheck, TlsFileRead, TlsValidation, ValidationIssue, ValidationOptions } from "./reader.ts";

/** The outcome: a Config when there is no error, and every issue found. */
export interface ValidationResult {
  readonly config: Config | undefined;
  readonly issues: readonly ValidationIssue[];
}

/** Modes this build can run. */
export const AVAILABLE_MODES: readonly ProxyMode[] = ["tcp", "http"];

/** Upper bound of maxconn settings: far above what one process can hold. */
const MAX_MAXCONN = 10_000_000;
/** Retries beyond this only delay the answer to a client. */
const MAX_RETRIES = 100;
/** HAProxy's names: letters, digits and - _ . : */
const NAME = /^[A-Za-z0-9_.:-]+$/;

const TOP_KEYS = ["global", "defaults", "frontends", "backends"] as const;
const GLOBAL_KEYS = [
  "maxconn", "pidfile", "workers", "user", "group", "chroot", "cpu-map", "hard-stop-after", "log", "tune", "stats-socket",
  "server-state-file",
] as const;
const DEFAULTS_KEYS = [
  "mode", "balance", "retries", "redispatch", "allbackups", "maxconn", "backlog", "timeout", "http-reuse",
  "check", "slowstart",
  ...LOG_KEYS, ...FORWARDED_KEYS, ...HTTP_SECTION_KEYS, ...DEFAULTS_MONITOR_KEYS,
] as const;
const FRONTEND_KEYS = [
  "bind", "default-backend", "mode", "maxconn", "backlog", "reuseport", "timeout", "routes",
  ...LOG_KEYS, ...FORWARDED_KEYS, ...HTTP_SECTION_KEYS, ...FRONTEND_MONITOR_KEYS, ...FRONTEND_STATS_KEYS,
] as const;
const BACKEND_KEYS = [
  "tls", "mode", "balance", "retries", "redispatch", "allbackups", "servers", "check", "slowstart", "timeout", "http-reuse",
  ...SEND_PROXY_KEYS, ...FORWARDED_KEYS, ...HTTP_SECTION_KEYS,
] as const;
const SERVER_KEYS = [
  "name", "address", "weight", "maxconn", "maxqueue", "backup", "disabled", "slowstart", "check", "tls", ...SEND_PROXY_KEYS,
] as const;
const ROUTE_KEYS = ["backend", ...MATCHER_KEYS] as const;
const FRONTEND_TIMEOUTS = ["client", "http-request", "http-keep-alive", "inspect-delay"] as const;
const BACKEND_TIMEOUTS = ["connect", "server", "queue", "tunnel"] as const;
const ALL_TIMEOUTS = [...FRONTEND_TIMEOUTS, ...BACKEND_TIMEOUTS] as const;
type TimeoutKey = (typeof ALL_TIMEOUTS)[number];
/** Timeouts read so far; `queue` stays unset until given, since it then follows each backend's `connect`. */
type TimeoutValues = Record<Exclude<TimeoutKey, "queue">, number> & { queue: number | undefined };

const HTTP_REUSE_MODES: readonly HttpReuseMode[] = ["never", "safe", "always"];

function readMode(reader: Reader, path: ConfigPath, value: unknown): ProxyMode | undefined {
  const mode = reader.oneOf<ProxyMode>(path, value, ["tcp", "http"]);
  if (mode !== undefined && !AVAILABLE_MODES.includes(mode)) {
    // Still returned: the cross-checks between frontends and backends use it.
    reader.error(path, `Mode "${mode}" is not available in this version: only ${AVAILABLE_MODES.map((m) => `"${m}"`).join(", ")} (the HTTP engine is being built)`);
  }
  return mode;
}

/** Settings every frontend and backend inherits unless it sets its own. */
interface Inherited {
  mode: ProxyMode;
  balance: BalanceSetting;
  retries: number;
  redispatch: boolean;
  allBackups: boolean;
  maxconn: number;
  backlog: number;
  timeouts: TimeoutValues;
  forwarded: ForwardedHeadersConfig;
  httpReuse: HttpReuseMode;
  http: HttpSectionConfig;
  /** `check` of [defaults], under every backend's. */
  check: CheckLayer;
  /** Servers' default `slowstart`, ms. */
  slowstart: number;
  /** `log`, `log-format`, `dontlognull`, `log-separate-errors` of [defaults], and [global]'s targets. */
  log: DefaultsLog;
  /** `monitor-uri` and `grace` of [defaults]. */
  monitor: DefaultsMonitor;
}

function readTimeouts(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  allowed: readonly TimeoutKey[],
  inherited: TimeoutValues,
): TimeoutValues {
  const table = reader.table(path, value, allowed);
  const timeouts = { ...inherited };
  if (table === undefined) return timeouts;
  for (const key of allowed) {
    // An inspect delay of 0 would route every connection before its hello arrives.
    const ms = reader.duration([...path, key], table[key], key === "inspect-delay" ? 1 : 0);
    if (ms !== undefined) timeouts[key] = ms;
  }
  return timeouts;
}

function readGlobal(reader: Reader, value: unknown): { config: GlobalConfig; log: GlobalLog; statsSockets: LocatedStatsSocket[] } {
  const table = reader.table(["global"], value, GLOBAL_KEYS) ?? {};
  const statsSockets = readStatsSockets(reader, table["stats-socket"]);
  const tune = readTune(reader, table.tune);
  reader.bufsize = tune.bufsize;
  const log = readGlobalLog(reader, table.log);
  const config = {
    maxconn: reader.integer(["global", "maxconn"], table.maxconn, 1, MAX_MAXCONN) ?? DEFAULTS.globalMaxconn,
    pidfile: reader.string(["global", "pidfile"], table.pidfile) ?? null,
    tune,
    log: log.targets,
    ...readProcessSettings(reader, table),
    statsSockets: Object.freeze(statsSockets.map((socket) => socket.config)),
    serverStateFile: reader.string(["global", "server-state-file"], table["server-state-file"]) ?? null,
  };
  return { config, log, statsSockets };
}

function readDefaults(reader: Reader, value: unknown, globalLog: GlobalLog): Inherited {
  const table = reader.table(["defaults"], value, DEFAULTS_KEYS) ?? {};
  return {
    mode: readMode(reader, ["defaults", "mode"], table.mode) ?? "tcp",
    balance: readBalance(reader, ["defaults", "balance"], table.balance) ?? { algorithm: DEFAULTS.balance, hashKey: null },
    retries: reader.integer(["defaults", "retries"], table.retries, 0, MAX_RETRIES) ?? DEFAULTS.retries,
    redispatch: reader.boolean(["defaults", "redispatch"], table.redispatch) ?? DEFAULTS.redispatch,
    allBackups: reader.boolean(["defaults", "allbackups"], table.allbackups) ?? false,
    maxconn: reader.integer(["defaults", "maxconn"], table.maxconn, 1, MAX_MAXCONN) ?? DEFAULTS.frontendMaxconn,
    backlog: reader.integer(["defaults", "backlog"], table.backlog, 1, 65_535) ?? DEFAULTS.backlog,
    timeouts: readTimeouts(reader, ["defaults", "timeout"], table.timeout, ALL_TIMEOUTS, {
      connect: DEFAULTS.timeoutConnect,
      client: DEFAULTS.timeoutClient,
      server: DEFAULTS.timeoutServer,
      "http-request": DEFAULTS.timeoutHttpRequest,
      "http-keep-alive": DEFAULTS.timeoutHttpKeepAlive,
      "inspect-delay": DEFAULTS.timeoutInspectDelay,
      queue: undefined,
      tunnel: DEFAULTS.timeoutTunnel,
    }),
    forwarded: readForwarded(reader, ["defaults"], table, NO_FORWARDED_HEADERS, undefined),
    httpReuse: reader.oneOf(["defaults", "http-reuse"], table["http-reuse"], HTTP_REUSE_MODES) ?? "safe",
    http: readHttpSection(reader, ["defaults"], table, DEFAULT_HTTP_SECTION, undefined, "[defaults]"),
    check: readCheck(reader, ["defaults", "check"], table.check, NO_CHECK),
    slowstart: reader.duration(["defaults", "slowstart"], table.slowstart) ?? 0,
    log: readDefaultsLog(reader, table, globalLog),
    monitor: readDefaultsMonitor(reader, table),
  };
}

function readName(reader: Reader, path: ConfigPath, name: string, what: string): void {
  if (!NAME.test(name)) reader.error(path, `Invalid ${what} name "${name}": use letters, digits and - _ . :`);
}

/** Where each bind was written, to report an address bound twice at its second place. */
type BindPlaces = Array<{ readonly bind: BindConfig; readonly path: ConfigPath }>;

/** A backend named by a frontend (its default-backend or a route), to check once every backend is read. */
interface BackendReference {
  readonly frontend: string;
  readonly mode: ProxyMode;
  readonly backend: string;
  readonly path: ConfigPath;
  /** "monitor": counted by `monitor-fail`, which any mode of backend may be. */
  readonly kind: "default-backend" | "route" | "monitor";
}

function readBinds(reader: Reader, path: ConfigPath, value: unknown, reusePort: boolean, places: BindPlaces): BindConfig[] {
  if (value === undefined) {
    reader.error(path, `Missing "bind": give at least one address to listen on, e.g. bind = ":80"`);
    return [];
  }
  const single = typeof value === "string" || isTable(value);
  const list = single ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    reader.error(path, `Expected an address, a bind table or a non-empty array of them, found ${describe(value)}`);
    return [];
  }
  const binds: BindConfig[] = [];
  list.forEach((item: unknown, index) => {
    const itemPath = single ? path : [...path, index];
    let text = item;
    let table: Table | undefined;
    if (isTable(item)) {
      table = reader.table(itemPath, item, BIND_KEYS);
      text = item.address;
      if (text === undefined) {
        reader.error(itemPath, `Missing "address" in the bind table: where to listen, e.g. address = ":443"`);
        return;
      }
    }
    const addressPath = table === undefined ? itemPath : [...itemPath, "address"];
    if (typeof text !== "string") {
      reader.error(addressPath, `Expected an address such as ":80" or "127.0.0.1:8080", or a table with "address" and TLS settings, found ${describe(text)}`);
      return;
    }
    const tls = table === undefined ? null : readBindTls(reader, itemPath, table);
    const acceptProxy = table === undefined ? false : reader.boolean([...itemPath, "accept-proxy"], table["accept-proxy"]) ?? false;
    if (acceptProxy && table?.crt !== undefined && reader.tls?.support.readBeforeHandshake === false) {
      // The header comes in clear before the ClientHello: the runtime's TLS listener must let it be read first.
      reader.error(
        [...itemPath, "accept-proxy"],
        `"accept-proxy" cannot be honoured on a TLS bind (with "crt") on this runtime (its TLS listener cannot read the PROXY header before the handshake): put it on a plain bind, terminate TLS in front, or run the proxy on a runtime that honours it (docs/config.md)`,
      );
    }
    try {
      const address = parseBindAddress(text);
      const bind = Object.freeze({ text, host: address.host, port: address.port, reusePort, tls, acceptProxy });
      binds.push(bind);
      places.push({ bind, path: addressPath });
    } catch (error) {
      if (!(error instanceof AddressError)) throw error;
      reader.error(addressPath, error.message);
    }
  });
  return binds;
}

/**
 * `routes`: an array of { backend, matchers... } in http mode, of { backend, sni } in tcp mode,
 * tried in order.
 */
function readRoutes(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  frontend: string,
  mode: ProxyMode,
  references: BackendReference[],
): { routes: RouteConfig[]; sniRoutes: SniRouteConfig[] } {
  if (value === undefined) return { routes: [], sniRoutes: [] };
  if (!Array.isArray(value)) {
    const example = mode === "tcp" ? `{ backend = "www", sni = "www.example.com" }` : `{ backend = "api", path-prefix = "/api/" }`;
    reader.error(path, `Expected an array of routes such as [${example}], found ${describe(value)}`);
    return { routes: [], sniRoutes: [] };
  }
  if (mode === "tcp") {
    const sniReferences: Array<{ backend: string; path: ConfigPath }> = [];
    const sniRoutes = readSniRoutes(reader, path, value, frontend, sniReferences);
    for (const { backend, path: at } of sniReferences) references.push({ frontend, mode, backend, path: at, kind: "route" });
    return { routes: [], sniRoutes };
  }
  const routes: RouteConfig[] = [];
  value.forEach((item: unknown, index) => {
    const routePath = [...path, index];
    if (!isTable(item)) {
      reader.error(routePath, `Expected a route such as { backend = "api", path-prefix = "/api/" }, found ${describe(item)}`);
      return;
    }
    const table = reader.table(routePath, item, ROUTE_KEYS)!;
    const backend = reader.string([...routePath, "backend"], table.backend);
    if (table.backend === undefined) reader.error(routePath, `Missing "backend": name the backend this route leads to`);
    const { condition, matchers } = readCondition(reader, routePath, table);
    if (matchers === 0) {
      reader.error(
        routePath,
        `Route has no matcher: it would take every request, hiding default-backend and the routes after it; give at least one of ${MATCHER_KEYS.join(", ")} (or make "${backend ?? "it"}" the default-backend)`,
      );
      return;
    }
    if (backend === undefined) return;
    references.push({ frontend, mode, backend, path: [...routePath, "backend"], kind: "route" });
    routes.push(Object.freeze({ backend, condition }));
  });
  return { routes, sniRoutes: [] };
}

function readFrontend(
  reader: Reader,
  name: string,
  value: unknown,
  inherited: Inherited,
  places: BindPlaces,
  references: BackendReference[],
): FrontendConfig | undefined {
  const path = ["frontends", name];
  readName(reader, path, name, "frontend");
  const table = reader.table(path, value, FRONTEND_KEYS);
  if (table === undefined) return undefined;
  const reusePort = reader.boolean([...path, "reuseport"], table.reuseport) ?? true;
  const defaultBackend = reader.string([...path, "default-backend"], table["default-backend"]);
  const timeouts = readTimeouts(reader, [...path, "timeout"], table.timeout, FRONTEND_TIMEOUTS, inherited.timeouts);
  const mode = readMode(reader, [...path, "mode"], table.mode) ?? inherited.mode;
  const { routes, sniRoutes } = readRoutes(reader, [...path, "routes"], table.routes, name, mode, references);
  // As HAProxy without default_backend: requests that no route takes get a 503 (http mode), or
  // connections are closed (tcp mode).
  const routed = Array.isArray(table.routes) && table.routes.length > 0;
  const stats = readFrontendStats(reader, path, table, mode);
  // A frontend that only serves its stats (HAProxy's `listen stats`) needs no backend.
  if (table["default-backend"] === undefined && !routed && stats === null) {
    reader.error(path, `Frontend "${name}" has no "default-backend": name the backend that gets its connections`);
  }
  if (defaultBackend !== undefined) {
    references.push({ frontend: name, mode, backend: defaultBackend, path: [...path, "default-backend"], kind: "default-backend" });
  }
  const forwarded = readForwarded(reader, path, table, inherited.forwarded, mode);
  const http = readHttpSection(reader, path, table, inherited.http, mode, `frontend "${name}"`);
  const log = readFrontendLog(reader, path, table, inherited.log, mode, name);
  const monitorReferences: Array<{ backend: string; path: ConfigPath }> = [];
  const { monitor, grace } = readFrontendMonitor(reader, path, table, inherited.monitor, mode, monitorReferences);
  for (const reference of monitorReferences) references.push({ frontend: name, mode, ...reference, kind: "monitor" });
  return Object.freeze({
    name,
    mode,
    binds: Object.freeze(readBinds(reader, [...path, "bind"], table.bind, reusePort, places)),
    defaultBackend: defaultBackend ?? "",
    maxconn: reader.integer([...path, "maxconn"], table.maxconn, 1, MAX_MAXCONN) ?? inherited.maxconn,
    backlog: reader.integer([...path, "backlog"], table.backlog, 1, 65_535) ?? inherited.backlog,
    timeouts: Object.freeze({
      client: timeouts.client,
      httpRequest: timeouts["http-request"],
      httpKeepAlive: timeouts["http-keep-alive"],
      inspectDelay: timeouts["inspect-delay"],
    }),
    forwarded,
    routes: Object.freeze(routes),
    sniRoutes: Object.freeze(sniRoutes),
    http,
    log,
    monitor,
    stats,
    grace,
  });
}

/** What a backend's servers inherit from it. */
interface ServerDefaults {
  readonly backendName: string;
  readonly backendPath: ConfigPath;
  readonly mode: ProxyMode;
  readonly check: CheckLayer;
  readonly slowstart: number;
  /** The backend's `tls`, the default of its servers. */
  readonly tls: ServerTlsConfig | null;
  /** The backend's send-proxy keys, the default of its servers. */
  readonly sendProxy: SendProxyConfig;
  /** Inherited settings already reported for this backend, to say each once. */
  readonly reported: Set<string>;
}

function readServer(reader: Reader, path: ConfigPath, value: unknown, index: number, defaults: ServerDefaults): ServerConfig | undefined {
  const table = reader.table(path, value, SERVER_KEYS);
  if (table === undefined) return undefined;
  const name = reader.string([...path, "name"], table.name) ?? `s${index + 1}`;
  if (table.name === undefined) reader.error(path, `Server ${index + 1} has no "name"`);
  else readName(reader, [...path, "name"], name, "server");
  const addressText = reader.string([...path, "address"], table.address);
  if (table.address === undefined) reader.error(path, `Server "${name}" has no "address": give HOST[:PORT]`);
  let host = "";
  let port: number | null = null;
  if (addressText !== undefined) {
    try {
      const address = parseServerAddress(addressText);
      host = address.host;
      port = address.port;
    } catch (error) {
      if (!(error instanceof AddressError)) throw error;
      reader.error([...path, "address"], error.message);
    }
  }
  const checkLayer = readCheck(reader, [...path, "check"], table.check, defaults.check);
  const check = serverHealthCheck(reader, checkLayer, { ...defaults, path, name, port: host === "" ? undefined : port });
  const tls = serverTls(reader, [...path, "tls"], table.tls, defaults);
  const sendProxy = readSendProxy(reader, path, table, defaults.sendProxy);
  checkSendProxyWithTls(reader, path, name, tls, sendProxy, sendProxy.check === true);
  return Object.freeze({
    name,
    address: addressText ?? "",
    host,
    port,
    weight: reader.integer([...path, "weight"], table.weight, 0, MAX_WEIGHT) ?? DEFAULT_WEIGHT,
    maxconn: reader.integer([...path, "maxconn"], table.maxconn, 0, MAX_MAXCONN) ?? 0,
    maxqueue: reader.integer([...path, "maxqueue"], table.maxqueue, 0, MAX_MAXCONN) ?? 0,
    backup: reader.boolean([...path, "backup"], table.backup) ?? false,
    disabled: reader.boolean([...path, "disabled"], table.disabled) ?? false,
    slowstart: reader.duration([...path, "slowstart"], table.slowstart) ?? defaults.slowstart,
    check,
    tls,
    sendProxy,
  });
}

/**
 * The PROXY header goes in clear before the TLS ClientHello (HAProxy's order): refused where the
 * runtime's TLS client cannot put bytes before its hello (`TlsSupport.writeBeforeHandshake`),
 * rather than sent in the wrong place. Unknown without the runtime (a document checked alone).
 */
function checkSendProxyWithTls(reader: Reader, path: ConfigPath, name: string, tls: ServerTlsConfig | null, sendProxy: SendProxyConfig, checkSends: boolean): void {
  if (tls === null || reader.tls?.support.writeBeforeHandshake !== false) return;
  const why = "this runtime's TLS client cannot send the PROXY header before its handshake";
  if (sendProxy.version !== 0) {
    const key = sendProxy.version === 1 ? "send-proxy" : "send-proxy-v2";
    reader.error(path, `Server "${name}" has both "${key}" and "tls", which cannot be honoured together on this runtime (${why}): use one or the other, or run the proxy on a runtime that honours it (docs/config.md)`);
  } else if (checkSends) {
    reader.error(path, `Server "${name}" has both "check-send-proxy" and "tls", which cannot be honoured together on this runtime (${why}): use one or the other, or run the proxy on a runtime that honours it (docs/config.md)`);
  }
}

/** A server's `tls`; SNI from the request's Host needs a request (http mode). */
function serverTls(reader: Reader, path: ConfigPath, value: unknown, defaults: ServerDefaults): ServerTlsConfig | null {
  const tls = readServerTls(reader, path, value, defaults.tls);
  if (tls !== null && tls.sniFromHost && defaults.mode === "tcp") {
    reader.error(value === undefined ? [...defaults.backendPath, "tls"] : path, `sni = "req.hdr(host)" needs http mode: backend "${defaults.backendName}" is in tcp mode, where there is no request; give a fixed name`);
  }
  return tls;
}

function readBackend(reader: Reader, name: string, value: unknown, inherited: Inherited): BackendConfig | undefined {
  const path = ["backends", name];
  readName(reader, path, name, "backend");
  const table = reader.table(path, value, BACKEND_KEYS);
  if (table === undefined) return undefined;
  const mode = readMode(reader, [...path, "mode"], table.mode) ?? inherited.mode;
  const serverDefaults: ServerDefaults = {
    backendName: name,
    backendPath: path,
    mode,
    check: readCheck(reader, [...path, "check"], table.check, inherited.check),
    slowstart: reader.duration([...path, "slowstart"], table.slowstart) ?? inherited.slowstart,
    tls: readServerTls(reader, [...path, "tls"], table.tls, null),
    sendProxy: readSendProxy(reader, path, table, NO_SEND_PROXY),
    reported: new Set(),
  };
  const servers: ServerConfig[] = [];
  const serversValue = table.servers;
  if (serversValue === undefined || (Array.isArray(serversValue) && serversValue.length === 0)) {
    reader.warn(serversValue === undefined ? path : [...path, "servers"], `Backend "${name}" has no servers: its clients will be turned away`);
  } else if (!Array.isArray(serversValue)) {
    reader.error([...path, "servers"], `Expected an array of servers, found ${describe(serversValue)}`);
  } else {
    const seen = new Map<string, number>();
    serversValue.forEach((serverValue: unknown, index) => {
      const server = readServer(reader, [...path, "servers", index], serverValue, index, serverDefaults);
      if (server === undefined) return;
      const first = seen.get(server.name);
      if (first !== undefined) {
        reader.error([...path, "servers", index, "name"], `Server name "${server.name}" is already used by servers[${first}] of backend "${name}"`);
      } else {
        seen.set(server.name, index);
      }
      servers.push(server);
    });
  }
  const timeouts = readTimeouts(reader, [...path, "timeout"], table.timeout, BACKEND_TIMEOUTS, inherited.timeouts);
  const forwarded = readForwarded(reader, path, table, inherited.forwarded, mode);
  const ownBalance = readBalance(reader, [...path, "balance"], table.balance);
  const balance = ownBalance ?? inherited.balance;
  if (mode === "tcp" && balance.hashKey !== null) {
    const hashes = balance.algorithm === "uri" ? "the request's URI" : "a request header";
    if (table.balance !== undefined) {
      reader.error([...path, "balance"], `Balance "${balance.algorithm}" needs http mode (it hashes ${hashes}): backend "${name}" is in tcp mode`);
    } else {
      reader.error(path, `Backend "${name}" is in tcp mode but inherits balance "${balance.algorithm}" from [defaults], which needs http mode: give it its own balance`);
    }
  }
  const httpReuse = reader.oneOf([...path, "http-reuse"], table["http-reuse"], HTTP_REUSE_MODES) ?? inherited.httpReuse;
  const http = readHttpSection(reader, path, table, inherited.http, mode, `backend "${name}"`);
  if (mode === "tcp") warnNoEffectInTcp(reader, path, table, ["http-reuse"]);
  return Object.freeze({
    name,
    mode,
    balance: balance.algorithm,
    retries: reader.integer([...path, "retries"], table.retries, 0, MAX_RETRIES) ?? inherited.retries,
    redispatch: reader.boolean([...path, "redispatch"], table.redispatch) ?? inherited.redispatch,
    allBackups: reader.boolean([...path, "allbackups"], table.allbackups) ?? inherited.allBackups,
    timeouts: Object.freeze({
      connect: timeouts.connect,
      server: timeouts.server,
      // HAProxy's rule: without a `timeout queue`, a request may wait in a queue as long as a connect.
      queue: timeouts.queue ?? timeouts.connect,
      tunnel: timeouts.tunnel,
    }),
    servers: Object.freeze(servers),
    forwarded,
    hashKey: balance.hashKey,
    httpReuse,
    http,
  });
}

function checkReferences(
  reader: Reader,
  backends: readonly BackendConfig[],
  places: BindPlaces,
  references: readonly BackendReference[],
): void {
  const backendsByName = new Map(backends.map((backend) => [backend.name, backend]));
  const bindOwners = new Map<string, ConfigPath>();
  for (const { bind, path } of places) {
    // Port 0 asks for any free port: two of them never collide.
    if (bind.port === 0) continue;
    const key = `${bind.host}|${bind.port}`;
    const owner = bindOwners.get(key);
    if (owner !== undefined) reader.error(path, `Address "${bind.text}" is bound twice: also at ${formatTomlPath(owner)}`);
    else bindOwners.set(key, path);
  }
  for (const reference of references) {
    const backend = backendsByName.get(reference.backend);
    if (backend === undefined) {
      const suggestion = closestMatch(reference.backend, backendsByName.keys());
      reader.error(
        reference.path,
        `Backend "${reference.backend}" does not exist` +
          (suggestion !== undefined ? `: did you mean "${suggestion}"?` : backends.length > 0 ? `: defined are ${[...backendsByName.keys()].map((n) => `"${n}"`).join(", ")}` : ""),
      );
    } else if (reference.kind === "monitor") {
      continue;
    } else if (backend.mode === "tcp" && reference.kind === "route" && reference.mode === "http") {
      reader.error(reference.path, `Backend "${backend.name}" is in tcp mode: a route leads requests to an http backend`);
    } else if (backend.mode === "tcp" && reference.mode === "http") {
      reader.error(reference.path, `Frontend "${reference.frontend}" is in http mode but backend "${backend.name}" is in tcp mode`);
    }
  }
}

/** A runtime API address must not be a frontend's bind, nor a path or address used twice by the API. */
function checkStatsSocketAddresses(reader: Reader, sockets: readonly LocatedStatsSocket[], places: BindPlaces): void {
  const seen = new Map<string, ConfigPath>();
  for (const { config: socket, path } of sockets) {
    const key = socket.kind === "unix" ? `unix|${socket.path}` : `${socket.host}|${socket.port}`;
    const what = socket.kind === "unix" ? `Socket path "${socket.path}"` : `Address "${socket.text}"`;
    const owner = seen.get(key);
    if (owner !== undefined && !(socket.kind === "tcp" && socket.port === 0)) {
      reader.error(path, `${what} is used twice by the runtime API: also at ${formatTomlPath(owner)}`);
      continue;
    }
    seen.set(key, path);
    if (socket.kind !== "tcp" || socket.port === 0) continue;
    const bind = places.find((place) => place.bind.host === socket.host && place.bind.port === socket.port);
    if (bind !== undefined) reader.error(path, `Address "${socket.text}" is bound twice: also at ${formatTomlPath(bind.path)}`);
  }
}

/** Validates a raw document into a frozen Config, collecting every issue. */
export function validateConfigDocument(document: unknown, options: ValidationOptions = {}): ValidationResult {
  const reader = new Reader(options);
  const top = reader.table([], document, TOP_KEYS) ?? {};
  const global = readGlobal(reader, top.global);
  const inherited = readDefaults(reader, top.defaults, global.log);
  const frontendTables = reader.table(["frontends"], top.frontends, Object.keys(isTable(top.frontends) ? top.frontends : {})) ?? {};
  const backendTables = reader.table(["backends"], top.backends, Object.keys(isTable(top.backends) ? top.backends : {})) ?? {};
  const places: BindPlaces = [];
  const references: BackendReference[] = [];
  const frontends = Object.entries(frontendTables)
    .map(([name, value]) => readFrontend(reader, name, value, inherited, places, references))
    .filter((frontend): frontend is FrontendConfig => frontend !== undefined);
  warnUnusedDefaultsLogFormat(reader, inherited.log);
  const backends = Object.entries(backendTables)
    .map(([name, value]) => readBackend(reader, name, value, inherited))
    .filter((backend): backend is BackendConfig => backend !== undefined);
  if (Object.keys(frontendTables).length === 0) {
    reader.error(["frontends"], `No frontend is defined: nothing would listen (add a [frontends.NAME] table)`);
  }
  checkReferences(reader, backends, places, references);
  checkStatsSocketAddresses(reader, global.statsSockets, places);
  const config = reader.failed
    ? undefined
    : Object.freeze({ global: Object.freeze(global.config), frontends: Object.freeze(frontends), backends: Object.freeze(backends) });
  return { config, issues: reader.issues };
}
