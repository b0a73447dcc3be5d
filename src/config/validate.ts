/**
 * Turns a raw configuration document (parsed TOML, or the document the quick-start flags build)
 * into the validated, frozen Config. Every problem is collected, not just the first: each issue
 * names the key path, what was found and what is allowed, with a "did you mean" for a misspelled
 * key or name. Where an issue is in the source (file:line:col, or a flag) is resolved by the caller.
 *
 * @module
 */

import { BALANCE_ALGORITHMS, isBalanceAlgorithm } from "../core/balance/mod.ts";
import type { BalanceAlgorithmName } from "../core/balance/types.ts";
import { DEFAULT_WEIGHT, MAX_WEIGHT } from "../core/server.ts";
import { AddressError, parseBindAddress, parseServerAddress } from "./address.ts";
import { parseCidr } from "../core/cidr.ts";
import { closestMatch } from "./did_you_mean.ts";
import { parseDuration } from "./duration.ts";
import { formatTomlPath } from "./toml_positions.ts";
import { DEFAULTS } from "./types.ts";
import type {
  BackendConfig,
  BindConfig,
  Config,
  ForwardedHeadersConfig,
  ForwardForConfig,
  FrontendConfig,
  GlobalConfig,
  ProxyMode,
  ServerConfig,
} from "./types.ts";

/** A key path: table keys and array indexes, e.g. ["backends", "app", "servers", 1, "weight"]. */
export type ConfigPath = readonly (string | number)[];

/** One problem found in a document. */
export interface ValidationIssue {
  readonly path: ConfigPath;
  readonly message: string;
  readonly severity: "error" | "warning";
  /** What the position should point at: the key itself (unknown keys) or its value. */
  readonly at: "key" | "value";
}

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
const GLOBAL_KEYS = ["maxconn", "pidfile", "workers", "user", "group", "log"] as const;
const FORWARDED_KEYS = ["forwardfor", "forwarded-proto", "forwarded-host"] as const;
const FORWARDFOR_KEYS = ["except", "header", "if-none"] as const;
const DEFAULTS_KEYS = ["mode", "balance", "retries", "redispatch", "allbackups", "maxconn", "backlog", "log-format", "timeout", ...FORWARDED_KEYS] as const;
const FRONTEND_KEYS = ["bind", "default-backend", "mode", "maxconn", "backlog", "reuseport", "log-format", "timeout", ...FORWARDED_KEYS] as const;
const BACKEND_KEYS = ["mode", "balance", "retries", "redispatch", "allbackups", "servers", "check", "timeout", ...FORWARDED_KEYS] as const;
/** An HTTP header name (RFC 9110 5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SERVER_KEYS = ["name", "address", "weight", "maxconn", "backup", "check"] as const;
const FRONTEND_TIMEOUTS = ["client", "http-request", "http-keep-alive"] as const;
const BACKEND_TIMEOUTS = ["connect", "server", "queue", "tunnel"] as const;
const ALL_TIMEOUTS = [...FRONTEND_TIMEOUTS, ...BACKEND_TIMEOUTS] as const;
/** Timeouts of features still being built: accepted (they belong to the model) with a warning. */
const INACTIVE_TIMEOUTS: Partial<Record<(typeof ALL_TIMEOUTS)[number], string>> = {
  queue: "server queues, which arrive with the overload protection work",
};

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (isTable(value)) return "a table";
  return String(value);
}

/** Collects issues while reading a document. */
class Reader {
  readonly issues: ValidationIssue[] = [];

  error(path: ConfigPath, message: string, at: "key" | "value" = "value"): void {
    this.issues.push({ path, message, severity: "error", at });
  }

  warn(path: ConfigPath, message: string): void {
    this.issues.push({ path, message, severity: "warning", at: "value" });
  }

  get failed(): boolean {
    return this.issues.some((issue) => issue.severity === "error");
  }

  /** The value as a table, or undefined (with an error unless absent). */
  table(path: ConfigPath, value: unknown, allowed: readonly string[]): Table | undefined {
    if (value === undefined) return undefined;
    if (!isTable(value)) {
      this.error(path, `Expected a table, found ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (allowed.includes(key)) continue;
      const suggestion = closestMatch(key, allowed);
      this.error(
        [...path, key],
        `Unknown key "${key}"` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : `: expected one of ${allowed.join(", ")}`),
        "key",
      );
    }
    return value;
  }

  integer(path: ConfigPath, value: unknown, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.error(path, `Expected an integer from ${min} to ${max}, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  boolean(path: ConfigPath, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") {
      this.error(path, `Expected true or false, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  string(path: ConfigPath, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "") {
      this.error(path, `Expected a non-empty string, found ${value === "" ? "an empty string" : describe(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(path: ConfigPath, value: unknown, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    const suggestion = typeof value === "string" ? closestMatch(value, allowed) : undefined;
    this.error(
      path,
      `Expected one of ${allowed.map((each) => `"${each}"`).join(", ")}, found ${describe(value)}` +
        (suggestion !== undefined ? `: did you mean "${suggestion}"?` : ""),
    );
    return undefined;
  }

  duration(path: ConfigPath, value: unknown): number | undefined {
    if (value === undefined) return undefined;
    const parsed = parseDuration(value);
    if (typeof parsed === "string") {
      this.error(path, `Invalid duration: ${parsed}`);
      return undefined;
    }
    return parsed;
  }

  mode(path: ConfigPath, value: unknown): ProxyMode | undefined {
    const mode = this.oneOf<ProxyMode>(path, value, ["tcp", "http"]);
    if (mode !== undefined && !AVAILABLE_MODES.includes(mode)) {
      // Still returned: the cross-checks between frontends and backends use it.
      this.error(path, `Mode "${mode}" is not available in this version: only ${AVAILABLE_MODES.map((m) => `"${m}"`).join(", ")} (the HTTP engine is being built)`);
    }
    return mode;
  }

  balance(path: ConfigPath, value: unknown): BalanceAlgorithmName | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string" && isBalanceAlgorithm(value)) return value;
    return this.oneOf(path, value, BALANCE_ALGORITHMS);
  }

  /** `forwardfor`: true, false, or a table of except / header / if-none. null: off. */
  forwardFor(path: ConfigPath, value: unknown): ForwardForConfig | null | undefined {
    if (value === undefined) return undefined;
    if (value === false) return null;
    if (value === true) return Object.freeze({ except: null, header: DEFAULTS.forwardForHeader, ifNone: false });
    if (!isTable(value)) {
      this.error(path, `Expected true, false or a table such as { except = "127.0.0.0/8" }, found ${describe(value)}`);
      return undefined;
    }
    const table = this.table(path, value, FORWARDFOR_KEYS)!;
    let except = null;
    const exceptText = this.string([...path, "except"], table.except);
    if (exceptText !== undefined) {
      const parsed = parseCidr(exceptText);
      if (typeof parsed === "string") this.error([...path, "except"], `Invalid network "${exceptText}": ${parsed}`);
      else except = parsed;
    }
    let header = this.string([...path, "header"], table.header) ?? DEFAULTS.forwardForHeader;
    if (!HEADER_NAME.test(header)) {
      this.error([...path, "header"], `Invalid header name "${header}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
      header = DEFAULTS.forwardForHeader;
    }
    const ifNone = this.boolean([...path, "if-none"], table["if-none"]) ?? false;
    return Object.freeze({ except, header, ifNone });
  }

  /**
   * The three forwarded-header keys of a section, over the inherited ones. `mode` is the section's
   * (undefined for [defaults]): in tcp mode setting them has no effect, which gets a warning.
   */
  forwarded(path: ConfigPath, table: Table, inherited: ForwardedHeadersConfig, mode: ProxyMode | undefined): ForwardedHeadersConfig {
    if (mode === "tcp") {
      for (const key of FORWARDED_KEYS) {
        if (table[key] !== undefined && table[key] !== false) {
          this.warn([...path, key], `"${key}" has no effect in tcp mode: it adds a header to http requests`);
        }
      }
    }
    const forwardFor = this.forwardFor([...path, "forwardfor"], table.forwardfor);
    return Object.freeze({
      forwardFor: forwardFor === undefined ? inherited.forwardFor : forwardFor,
      forwardedProto: this.boolean([...path, "forwarded-proto"], table["forwarded-proto"]) ?? inherited.forwardedProto,
      forwardedHost: this.boolean([...path, "forwarded-host"], table["forwarded-host"]) ?? inherited.forwardedHost,
    });
  }

  /** Warns about forwarded-header keys set in a tcp-mode section: they only apply to http requests. */
  /** `log-format`: checked, with a warning that traffic logs do not exist yet. */
  logFormat(path: ConfigPath, value: unknown): void {
    if (value === undefined) return;
    this.string(path, value);
    this.warn(path, `"log-format" has no effect yet: traffic logs arrive with the logging work`);
  }

  /** A key this version parses but cannot honour: an error, so nobody relies on it silently. */
  unsupported(path: ConfigPath, value: unknown, feature: string): void {
    if (value !== undefined) this.error(path, `"${path[path.length - 1]}" is not supported by this version yet (${feature})`);
  }
}

/** Settings every frontend and backend inherits unless it sets its own. */
interface Inherited {
  mode: ProxyMode;
  balance: BalanceAlgorithmName;
  retries: number;
  redispatch: boolean;
  allBackups: boolean;
  maxconn: number;
  backlog: number;
  timeouts: Record<(typeof ALL_TIMEOUTS)[number], number>;
  forwarded: ForwardedHeadersConfig;
}

const NO_FORWARDED_HEADERS: ForwardedHeadersConfig = Object.freeze({ forwardFor: null, forwardedProto: false, forwardedHost: false });

function readTimeouts(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  allowed: readonly (typeof ALL_TIMEOUTS)[number][],
  inherited: Inherited["timeouts"],
): Inherited["timeouts"] {
  const table = reader.table(path, value, allowed);
  const timeouts = { ...inherited };
  if (table === undefined) return timeouts;
  for (const key of allowed) {
    const ms = reader.duration([...path, key], table[key]);
    if (ms === undefined) continue;
    timeouts[key] = ms;
    const waitsFor = INACTIVE_TIMEOUTS[key];
    if (waitsFor !== undefined) reader.warn([...path, key], `"timeout ${key}" has no effect yet: it applies to ${waitsFor}`);
  }
  return timeouts;
}

function readGlobal(reader: Reader, value: unknown): GlobalConfig {
  const table = reader.table(["global"], value, GLOBAL_KEYS) ?? {};
  const workers = table.workers;
  if (workers !== undefined && workers !== 1) {
    if (workers === "auto" || (typeof workers === "number" && Number.isInteger(workers) && workers > 1)) {
      reader.unsupported(["global", "workers"], workers, "several worker processes arrive with the process lifecycle work");
    } else {
      reader.error(["global", "workers"], `Expected a number of processes from 1 or "auto", found ${describe(workers)}`);
    }
  }
  reader.unsupported(["global", "user"], table.user, "privilege drop arrives with the process lifecycle work");
  reader.unsupported(["global", "group"], table.group, "privilege drop arrives with the process lifecycle work");
  reader.unsupported(["global", "log"], table.log, "syslog and stdout targets arrive with the logging work");
  return {
    maxconn: reader.integer(["global", "maxconn"], table.maxconn, 1, MAX_MAXCONN) ?? DEFAULTS.globalMaxconn,
    pidfile: reader.string(["global", "pidfile"], table.pidfile) ?? null,
  };
}

function readDefaults(reader: Reader, value: unknown): Inherited {
  const table = reader.table(["defaults"], value, DEFAULTS_KEYS) ?? {};
  reader.logFormat(["defaults", "log-format"], table["log-format"]);
  return {
    mode: reader.mode(["defaults", "mode"], table.mode) ?? "tcp",
    balance: reader.balance(["defaults", "balance"], table.balance) ?? DEFAULTS.balance,
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
      queue: DEFAULTS.timeoutQueue,
      tunnel: DEFAULTS.timeoutTunnel,
    }),
    forwarded: reader.forwarded(["defaults"], table, NO_FORWARDED_HEADERS, undefined),
  };
}

function readName(reader: Reader, path: ConfigPath, name: string, what: string): void {
  if (!NAME.test(name)) reader.error(path, `Invalid ${what} name "${name}": use letters, digits and - _ . :`);
}

/** Where each bind was written, to report an address bound twice at its second place. */
type BindPlaces = Array<{ readonly bind: BindConfig; readonly path: ConfigPath }>;

function readBinds(reader: Reader, path: ConfigPath, value: unknown, reusePort: boolean, places: BindPlaces): BindConfig[] {
  if (value === undefined) {
    reader.error(path, `Missing "bind": give at least one address to listen on, e.g. bind = ":80"`);
    return [];
  }
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    reader.error(path, `Expected an address or a non-empty array of addresses, found ${describe(value)}`);
    return [];
  }
  const binds: BindConfig[] = [];
  list.forEach((text: unknown, index) => {
    const itemPath = typeof value === "string" ? path : [...path, index];
    if (typeof text !== "string") {
      reader.error(itemPath, `Expected an address such as ":80" or "127.0.0.1:8080", found ${describe(text)}`);
      return;
    }
    try {
      const address = parseBindAddress(text);
      const bind = Object.freeze({ text, host: address.host, port: address.port, reusePort });
      binds.push(bind);
      places.push({ bind, path: itemPath });
    } catch (error) {
      if (!(error instanceof AddressError)) throw error;
      reader.error(itemPath, error.message);
    }
  });
  return binds;
}

function readFrontend(
  reader: Reader,
  name: string,
  value: unknown,
  inherited: Inherited,
  places: BindPlaces,
): FrontendConfig | undefined {
  const path = ["frontends", name];
  readName(reader, path, name, "frontend");
  const table = reader.table(path, value, FRONTEND_KEYS);
  if (table === undefined) return undefined;
  reader.logFormat([...path, "log-format"], table["log-format"]);
  const reusePort = reader.boolean([...path, "reuseport"], table.reuseport) ?? true;
  const defaultBackend = reader.string([...path, "default-backend"], table["default-backend"]);
  if (table["default-backend"] === undefined) {
    reader.error(path, `Frontend "${name}" has no "default-backend": name the backend that gets its connections`);
  }
  const timeouts = readTimeouts(reader, [...path, "timeout"], table.timeout, FRONTEND_TIMEOUTS, inherited.timeouts);
  const mode = reader.mode([...path, "mode"], table.mode) ?? inherited.mode;
  const forwarded = reader.forwarded(path, table, inherited.forwarded, mode);
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
    }),
    forwarded,
  });
}

function readServer(reader: Reader, path: ConfigPath, value: unknown, index: number): ServerConfig | undefined {
  const table = reader.table(path, value, SERVER_KEYS);
  if (table === undefined) return undefined;
  reader.unsupported([...path, "check"], table.check, "health checks arrive with the server health work");
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
  return Object.freeze({
    name,
    address: addressText ?? "",
    host,
    port,
    weight: reader.integer([...path, "weight"], table.weight, 0, MAX_WEIGHT) ?? DEFAULT_WEIGHT,
    maxconn: reader.integer([...path, "maxconn"], table.maxconn, 0, MAX_MAXCONN) ?? 0,
    backup: reader.boolean([...path, "backup"], table.backup) ?? false,
  });
}

function readBackend(reader: Reader, name: string, value: unknown, inherited: Inherited): BackendConfig | undefined {
  const path = ["backends", name];
  readName(reader, path, name, "backend");
  const table = reader.table(path, value, BACKEND_KEYS);
  if (table === undefined) return undefined;
  reader.unsupported([...path, "check"], table.check, "health checks arrive with the server health work");
  const servers: ServerConfig[] = [];
  const serversValue = table.servers;
  if (serversValue === undefined || (Array.isArray(serversValue) && serversValue.length === 0)) {
    reader.warn(serversValue === undefined ? path : [...path, "servers"], `Backend "${name}" has no servers: its clients will be turned away`);
  } else if (!Array.isArray(serversValue)) {
    reader.error([...path, "servers"], `Expected an array of servers, found ${describe(serversValue)}`);
  } else {
    const seen = new Map<string, number>();
    serversValue.forEach((serverValue: unknown, index) => {
      const server = readServer(reader, [...path, "servers", index], serverValue, index);
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
  const mode = reader.mode([...path, "mode"], table.mode) ?? inherited.mode;
  const forwarded = reader.forwarded(path, table, inherited.forwarded, mode);
  return Object.freeze({
    name,
    mode,
    balance: reader.balance([...path, "balance"], table.balance) ?? inherited.balance,
    retries: reader.integer([...path, "retries"], table.retries, 0, MAX_RETRIES) ?? inherited.retries,
    redispatch: reader.boolean([...path, "redispatch"], table.redispatch) ?? inherited.redispatch,
    allBackups: reader.boolean([...path, "allbackups"], table.allbackups) ?? inherited.allBackups,
    timeouts: Object.freeze({
      connect: timeouts.connect,
      server: timeouts.server,
      queue: timeouts.queue,
      tunnel: timeouts.tunnel,
    }),
    servers: Object.freeze(servers),
    forwarded,
  });
}

function checkReferences(
  reader: Reader,
  frontends: readonly FrontendConfig[],
  backends: readonly BackendConfig[],
  places: BindPlaces,
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
  for (const frontend of frontends) {
    const path = ["frontends", frontend.name];
    if (frontend.defaultBackend !== "") {
      const backend = backendsByName.get(frontend.defaultBackend);
      if (backend === undefined) {
        const suggestion = closestMatch(frontend.defaultBackend, backendsByName.keys());
        reader.error(
          [...path, "default-backend"],
          `Backend "${frontend.defaultBackend}" does not exist` +
            (suggestion !== undefined ? `: did you mean "${suggestion}"?` : backends.length > 0 ? `: defined are ${[...backendsByName.keys()].map((n) => `"${n}"`).join(", ")}` : ""),
        );
      } else if (frontend.mode === "http" && backend.mode === "tcp") {
        reader.error([...path, "default-backend"], `Frontend "${frontend.name}" is in http mode but backend "${backend.name}" is in tcp mode`);
      }
    }
  }
}

/** Validates a raw document into a frozen Config, collecting every issue. */
export function validateConfigDocument(document: unknown): ValidationResult {
  const reader = new Reader();
  const top = reader.table([], document, TOP_KEYS) ?? {};
  const global = readGlobal(reader, top.global);
  const inherited = readDefaults(reader, top.defaults);
  const frontendTables = reader.table(["frontends"], top.frontends, Object.keys(isTable(top.frontends) ? top.frontends : {})) ?? {};
  const backendTables = reader.table(["backends"], top.backends, Object.keys(isTable(top.backends) ? top.backends : {})) ?? {};
  const places: BindPlaces = [];
  const frontends = Object.entries(frontendTables)
    .map(([name, value]) => readFrontend(reader, name, value, inherited, places))
    .filter((frontend): frontend is FrontendConfig => frontend !== undefined);
  const backends = Object.entries(backendTables)
    .map(([name, value]) => readBackend(reader, name, value, inherited))
    .filter((backend): backend is BackendConfig => backend !== undefined);
  if (Object.keys(frontendTables).length === 0) {
    reader.error(["frontends"], `No frontend is defined: nothing would listen (add a [frontends.NAME] table)`);
  }
  checkReferences(reader, frontends, backends, places);
  const config = reader.failed
    ? undefined
    : Object.freeze({ global: Object.freeze(global), frontends: Object.freeze(frontends), backends: Object.freeze(backends) });
  return { config, issues: reader.issues };
}
