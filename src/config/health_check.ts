/**
 * The `check` key of [defaults], backends and servers: active health checks (tcp connect or http
 * request) and passive health (`observe`), read into each server's HealthCheckConfig.
 *
 * `check` is `true`, `false` or a table. The tables are layers merged key by key, the server's
 * over its backend's over [defaults]'s, the way HAProxy's `default-server` settings sit under a
 * `server` line; `true` and `false` only switch checking on or off and keep the inherited
 * settings, so a server's `check = true` under a backend's `check = false` gets [defaults]'s
 * settings. Every value keeps the path it was written at, so that a problem found once the
 * layers are merged (an http key under a tcp check, a missing port, `observe = "layer7"` in a
 * tcp backend) is reported where the value is.
 *
 * @module
 */

import { AddressError, parseServerAddress } from "./address.ts";
import { HEADER_NAME, headerValueProblem, pathProblem } from "./http_syntax.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader } from "./reader.ts";
import { formatTomlPath } from "./toml_positions.ts";
import { DEFAULTS } from "./types.ts";
import type { HealthCheckConfig, ObserveMode, OnErrorAction, ProxyMode, StatusRangeConfig } from "./types.ts";

/** Keys of a `check` table. */
export const CHECK_KEYS = [
  "type", "interval", "fastinter", "downinter", "rise", "fall", "timeout", "port", "address",
  "method", "path", "host", "expect-status", "expect-body",
  "observe", "error-limit", "on-error", "on-marked-down", "on-marked-up",
] as const;

type CheckKey = (typeof CHECK_KEYS)[number];

/** Keys that only an http check has a use for. */
const HTTP_CHECK_KEYS: readonly CheckKey[] = ["method", "path", "host", "expect-status", "expect-body"];

const CHECK_TYPES: readonly HealthCheckConfig["type"][] = ["tcp", "http"];
const OBSERVE_MODES: readonly ObserveMode[] = ["layer4", "layer7"];
const ON_ERROR_ACTIONS: readonly OnErrorAction[] = ["fastinter", "fail-check", "sudden-death", "mark-down"];

/** HAProxy's names for some check keys, which are spelled out here. */
const HAPROXY_SPELLINGS: Record<string, CheckKey> = { inter: "interval", addr: "address", uri: "path", meth: "method", expect: "expect-status" };

/** Checks closer together than this would load a server more than they tell about it. */
export const MIN_CHECK_INTERVAL_MS = 10;
/** HAProxy's limit for rise and fall. */
const MAX_RISE_FALL = 1_000;
/** Far above any burst of errors worth waiting for. */
const MAX_ERROR_LIMIT = 1_000_000;

const STATUS_FORMS = `a status such as "200", a class such as "2xx" or a range such as "200-299"`;

/** The value of each check key once read. */
interface CheckValues {
  type: HealthCheckConfig["type"];
  interval: number;
  fastinter: number;
  downinter: number;
  rise: number;
  fall: number;
  timeout: number;
  port: number;
  address: string;
  method: string;
  path: string;
  host: string;
  "expect-status": readonly StatusRangeConfig[];
  "expect-body": string;
  observe: ObserveMode;
  "error-limit": number;
  "on-error": OnErrorAction;
  "on-marked-down": boolean;
  "on-marked-up": boolean;
}

/** A setting and the path it was written at. */
export interface PlacedValue<T> {
  readonly value: T;
  readonly path: ConfigPath;
}

/** The check settings given so far along the inheritance, each with where it was written. */
export type CheckSettings = { readonly [K in CheckKey]?: PlacedValue<CheckValues[K]> };

/** What [defaults], a backend or a server says about checks, merged over what it inherits. */
export interface CheckLayer {
  /** Checks on or off; undefined: nobody said, which is off. */
  readonly enabled: boolean | undefined;
  readonly settings: CheckSettings;
}

/** Nothing said about checks: the start of the inheritance. */
export const NO_CHECK: CheckLayer = Object.freeze({ enabled: undefined, settings: Object.freeze({}) });

/** `check`: true, false or a table, merged over `inherited`. */
export function readCheck(reader: Reader, path: ConfigPath, value: unknown, inherited: CheckLayer): CheckLayer {
  if (value === undefined) return inherited;
  if (typeof value === "boolean") return { enabled: value, settings: inherited.settings };
  if (!isTable(value)) {
    reader.error(path, `Expected true, false or a table such as { type = "http", path = "/health" }, found ${describe(value)}`);
    return inherited;
  }
  // HAProxy's own spelling is what people coming from it type first: name its key here.
  const table: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    const ours = HAPROXY_SPELLINGS[name];
    if (ours === undefined) table[name] = item;
    else reader.error([...path, name], `Unknown key "${name}": did you mean "${ours}"? (HAProxy's "${name}")`, "key");
  }
  reader.table(path, table, CHECK_KEYS);
  const at = (key: CheckKey): ConfigPath => [...path, key];
  const own: { -readonly [K in CheckKey]?: PlacedValue<CheckValues[K]> } = {};
  const put = <K extends CheckKey>(key: K, parsed: CheckValues[K] | undefined): void => {
    if (parsed !== undefined) own[key] = { value: parsed, path: at(key) } as (typeof own)[K];
  };
  put("type", reader.oneOf(at("type"), table.type, CHECK_TYPES));
  put("interval", reader.duration(at("interval"), table.interval, MIN_CHECK_INTERVAL_MS));
  put("fastinter", reader.duration(at("fastinter"), table.fastinter, MIN_CHECK_INTERVAL_MS));
  put("downinter", reader.duration(at("downinter"), table.downinter, MIN_CHECK_INTERVAL_MS));
  put("rise", reader.integer(at("rise"), table.rise, 1, MAX_RISE_FALL));
  put("fall", reader.integer(at("fall"), table.fall, 1, MAX_RISE_FALL));
  put("timeout", reader.duration(at("timeout"), table.timeout, 1));
  put("port", reader.integer(at("port"), table.port, 1, 65_535));
  put("address", readCheckAddress(reader, at("address"), table.address));
  put("method", readMethod(reader, at("method"), table.method));
  put("path", readCheckPath(reader, at("path"), table.path));
  put("host", readHost(reader, at("host"), table.host));
  put("expect-status", readExpectStatus(reader, at("expect-status"), table["expect-status"]));
  put("expect-body", reader.string(at("expect-body"), table["expect-body"]));
  put("observe", reader.oneOf(at("observe"), table.observe, OBSERVE_MODES));
  put("error-limit", reader.integer(at("error-limit"), table["error-limit"], 1, MAX_ERROR_LIMIT));
  put("on-error", reader.oneOf(at("on-error"), table["on-error"], ON_ERROR_ACTIONS));
  put("on-marked-down", flag(reader.oneOf(at("on-marked-down"), table["on-marked-down"], ["shutdown-sessions"])));
  put("on-marked-up", flag(reader.oneOf(at("on-marked-up"), table["on-marked-up"], ["shutdown-backup-sessions"])));

  const settings: { -readonly [K in CheckKey]?: PlacedValue<CheckValues[K]> } = { ...inherited.settings };
  const ownType = own.type?.value;
  // A layer that turns the check back into a tcp one drops the http settings it inherited.
  if (ownType === "tcp") for (const key of HTTP_CHECK_KEYS) delete settings[key];
  const inheritedType = inherited.settings.type;
  if ((ownType ?? inheritedType?.value ?? "tcp") === "tcp") {
    const why = ownType === "tcp"
      ? `but this check has type "tcp"`
      : inheritedType !== undefined
      ? `and this check is a tcp check (type "tcp" at ${formatTomlPath(inheritedType.path)}): give type = "http"`
      : `and this check is a tcp check (the default type): give type = "http"`;
    for (const key of HTTP_CHECK_KEYS) {
      if (table[key] !== undefined) reader.error(at(key), `Key "${key}" applies to http checks, ${why}`, "key");
    }
  }
  return { enabled: true, settings: Object.freeze(Object.assign(settings, own)) };
}

/** Where a server is, for the checks that depend on it. */
export interface CheckedServer {
  readonly path: ConfigPath;
  readonly name: string;
  /** null: the port the client connected to, which a check does not have; undefined: the address is invalid (already reported). */
  readonly port: number | null | undefined;
  readonly backendName: string;
  readonly backendPath: ConfigPath;
  readonly mode: ProxyMode;
  /** Paths already reported for an inherited `observe = "layer7"` in this backend (one error each). */
  readonly reported: Set<string>;
}

/** The final check of a server, or null when it has none; reports what depends on the server. */
export function serverHealthCheck(reader: Reader, layer: CheckLayer, server: CheckedServer): HealthCheckConfig | null {
  if (layer.enabled !== true) return null;
  const s = layer.settings;
  if (server.port === null && s.port === undefined) {
    reader.error(server.path, `Server "${server.name}" has no port: give the check a "port"`);
  }
  const observe = s.observe;
  if (observe?.value === "layer7" && server.mode === "tcp") {
    const inBackend = isUnder(observe.path, server.backendPath);
    const target = inBackend ? observe.path : server.backendPath;
    const key = formatTomlPath(target);
    if (!server.reported.has(key)) {
      server.reported.add(key);
      reader.error(
        target,
        inBackend
          ? `Observe "layer7" needs http mode (it judges http responses): backend "${server.backendName}" is in tcp mode; use "layer4"`
          : `Backend "${server.backendName}" is in tcp mode but its checks inherit observe "layer7" from ${formatTomlPath(observe.path)}, which needs http mode: give the backend check = { observe = "layer4" }`,
      );
    }
  }
  const interval = s.interval?.value ?? DEFAULTS.checkInterval;
  const type = s.type?.value ?? "tcp";
  return Object.freeze({
    type,
    interval,
    fastInterval: s.fastinter?.value ?? interval,
    downInterval: s.downinter?.value ?? interval,
    rise: s.rise?.value ?? DEFAULTS.checkRise,
    fall: s.fall?.value ?? DEFAULTS.checkFall,
    // HAProxy's rule when `timeout check` is unset: a check may take one interval.
    timeout: s.timeout?.value ?? interval,
    port: s.port?.value ?? null,
    address: s.address?.value ?? null,
    http: type === "tcp" ? null : Object.freeze({
      method: s.method?.value ?? DEFAULTS.checkHttpMethod,
      path: s.path?.value ?? DEFAULTS.checkHttpPath,
      host: s.host?.value ?? null,
      expectStatus: s["expect-status"]?.value ?? DEFAULTS.checkExpectStatus,
      expectBody: s["expect-body"]?.value ?? null,
    }),
    observe: observe?.value ?? null,
    errorLimit: s["error-limit"]?.value ?? DEFAULTS.checkErrorLimit,
    onError: s["on-error"]?.value ?? DEFAULTS.checkOnError,
    shutdownSessionsOnDown: s["on-marked-down"]?.value ?? false,
    shutdownBackupSessionsOnUp: s["on-marked-up"]?.value ?? false,
  });
}

function isUnder(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.every((segment, index) => path[index] === segment);
}

function flag(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : true;
}

/** `address`: a host name or an IP address, without a port (the check's port is `port`). */
function readCheckAddress(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const text = reader.string(path, value);
  if (text === undefined) return undefined;
  try {
    const address = parseServerAddress(text);
    if (address.port !== null) {
      reader.error(path, `Invalid check address "${text}": give a host or an IP address only, and the port in "port"`);
      return undefined;
    }
    return address.host;
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    reader.error(path, error.message);
    return undefined;
  }
}

/** `method`: an HTTP token (RFC 9110 9.1). */
function readMethod(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const method = reader.string(path, value);
  if (method === undefined) return undefined;
  if (!HEADER_NAME.test(method)) {
    reader.error(path, `Invalid method "${method}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
    return undefined;
  }
  return method;
}

/** `path`: the request target, from "/", with an optional query string. */
function readCheckPath(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const target = reader.string(path, value);
  if (target === undefined) return undefined;
  const question = target.indexOf("?");
  const problem = pathProblem(question === -1 ? target : target.slice(0, question)) ??
    (question !== -1 && pathProblem(`/${target.slice(question + 1)}`) !== undefined
      ? `spaces, "#", control and non-ASCII characters cannot appear in a query string: write them percent-encoded`
      : undefined);
  if (problem !== undefined) {
    reader.error(path, `Invalid check path "${target}": ${problem}`);
    return undefined;
  }
  return target;
}

/** `host`: the Host header's value. */
function readHost(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const host = reader.string(path, value);
  if (host === undefined) return undefined;
  const problem = /\s/.test(host) ? "it contains a space" : headerValueProblem(host);
  if (problem !== undefined) {
    reader.error(path, `Invalid host ${JSON.stringify(host)}: ${problem}`);
    return undefined;
  }
  return host;
}

/** `expect-status`: one status form or a non-empty array of them. */
function readExpectStatus(reader: Reader, path: ConfigPath, value: unknown): readonly StatusRangeConfig[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" || typeof value === "number") {
    const range = readStatusRange(reader, path, value);
    return range === undefined ? undefined : Object.freeze([range]);
  }
  if (!Array.isArray(value) || value.length === 0) {
    reader.error(path, `Expected ${STATUS_FORMS}, or an array of them, found ${Array.isArray(value) ? "an empty array" : describe(value)}`);
    return undefined;
  }
  const ranges: StatusRangeConfig[] = [];
  let valid = true;
  value.forEach((item: unknown, index) => {
    const range = readStatusRange(reader, [...path, index], item);
    if (range === undefined) valid = false;
    else ranges.push(range);
  });
  return valid ? Object.freeze(ranges) : undefined;
}

function readStatusRange(reader: Reader, path: ConfigPath, value: unknown): StatusRangeConfig | undefined {
  const fail = (why: string): undefined => {
    reader.error(path, why);
    return undefined;
  };
  const isStatus = (status: number) => status >= 100 && status <= 599;
  if (typeof value === "number") {
    if (!Number.isInteger(value) || !isStatus(value)) return fail(`Expected a status from 100 to 599, found ${value}`);
    return Object.freeze({ min: value, max: value });
  }
  if (typeof value !== "string") return fail(`Expected ${STATUS_FORMS}, found ${describe(value)}`);
  const text = value.trim();
  const single = /^[0-9]{3}$/.test(text) ? Number(text) : undefined;
  if (single !== undefined) {
    if (!isStatus(single)) return fail(`Invalid status "${value}": expected a status from 100 to 599`);
    return Object.freeze({ min: single, max: single });
  }
  const statusClass = /^([1-5])xx$/i.exec(text);
  if (statusClass !== null) {
    const base = Number(statusClass[1]) * 100;
    return Object.freeze({ min: base, max: base + 99 });
  }
  const range = /^([0-9]{3})-([0-9]{3})$/.exec(text);
  if (range !== null) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (!isStatus(min) || !isStatus(max)) return fail(`Invalid status range "${value}": expected statuses from 100 to 599`);
    if (min > max) return fail(`Invalid status range "${value}": the first status is above the second`);
    return Object.freeze({ min, max });
  }
  return fail(`Invalid status "${value}": expected ${STATUS_FORMS}`);
}
