/**
 * Turns a raw configuration document (parsed TOML, or the document the quick-start flags build)
 * into the validated, frozen Config. Every problem is collected, not just the first: each issue
 * names the key path, what was found and what is allowed, with a "did you mean" for a misspelled
 * key or name. Where an issue is in the source (file:line:col, or a flag) is resolved by the caller.
 *
 * The validator does no I/O. Errorfiles are read by the caller (see `errorFilePaths` and
 * `ValidationOptions.errorFile`) and their content is checked here with `parseErrorFile` from
 * src/http/error_file.ts: the one exception to the rule that config does not depend on the http
 * layer, since that function is pure message syntax and the engine must read a page exactly as
 * it was checked.
 *
 * @module
 */

import { BALANCE_ALGORITHMS } from "../core/balance/mod.ts";
import type { BalanceAlgorithmName, BalanceHashKeyConfig } from "../core/balance/types.ts";
import { DEFAULT_WEIGHT, MAX_WEIGHT } from "../core/server.ts";
import { parseErrorFile } from "../http/error_file.ts";
import { AddressError, parseBindAddress, parseServerAddress } from "./address.ts";
import { parseCidr } from "../core/cidr.ts";
import type { Cidr } from "../core/cidr.ts";
import { closestMatch } from "./did_you_mean.ts";
import { parseDuration } from "./duration.ts";
import { formatTomlPath } from "./toml_positions.ts";
import { DEFAULTS } from "./types.ts";
import type {
  BackendConfig,
  BindConfig,
  ConditionConfig,
  Config,
  ErrorFileConfig,
  ForwardedHeadersConfig,
  ForwardForConfig,
  FrontendConfig,
  GlobalConfig,
  HeaderMatcherConfig,
  HttpConnectionMode,
  HttpRequestRuleConfig,
  HttpResponseRuleConfig,
  HttpReuseMode,
  HttpSectionConfig,
  ProxyMode,
  RedirectCode,
  RouteConfig,
  RuleGuardConfig,
  ServerConfig,
  TuneConfig,
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

/** What reading an errorfile gave: its text, or why it could not be read (`missing`: there is no such file). */
export type ErrorFileText = { readonly text: string } | { readonly error: string; readonly missing?: boolean };

/** What the validation needs from outside the document. */
export interface ValidationOptions {
  /**
   * The errorfile at `path` (as written in the configuration). The validator does no I/O: the
   * loader reads the files `errorFilePaths` lists first. Absent: errorfiles cannot be checked and
   * are refused.
   */
  readonly errorFile?: (path: string) => ErrorFileText;
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
const GLOBAL_KEYS = ["maxconn", "pidfile", "workers", "user", "group", "log", "tune"] as const;
const TUNE_KEYS = ["bufsize", "maxrewrite", "http-maxhdr"] as const;
const FORWARDED_KEYS = ["forwardfor", "forwarded-proto", "forwarded-host"] as const;
const FORWARDFOR_KEYS = ["except", "header", "if-none"] as const;
/** http-mode keys of frontends, backends and [defaults]. */
const HTTP_SECTION_KEYS = ["http-request", "http-response", "errorfiles", "http-connection-mode", "http-no-delay"] as const;
const DEFAULTS_KEYS = [
  "mode", "balance", "retries", "redispatch", "allbackups", "maxconn", "backlog", "log-format", "timeout", "http-reuse",
  ...FORWARDED_KEYS, ...HTTP_SECTION_KEYS,
] as const;
const FRONTEND_KEYS = [
  "bind", "default-backend", "mode", "maxconn", "backlog", "reuseport", "log-format", "timeout", "routes",
  ...FORWARDED_KEYS, ...HTTP_SECTION_KEYS,
] as const;
const BACKEND_KEYS = [
  "mode", "balance", "retries", "redispatch", "allbackups", "servers", "check", "timeout", "http-reuse",
  ...FORWARDED_KEYS, ...HTTP_SECTION_KEYS,
] as const;
/** An HTTP header name (RFC 9110 5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A method is a token too (RFC 9110 9.1). */
const TOKEN = HEADER_NAME;
const SERVER_KEYS = ["name", "address", "weight", "maxconn", "backup", "check"] as const;
const FRONTEND_TIMEOUTS = ["client", "http-request", "http-keep-alive"] as const;
const BACKEND_TIMEOUTS = ["connect", "server", "queue", "tunnel"] as const;
const ALL_TIMEOUTS = [...FRONTEND_TIMEOUTS, ...BACKEND_TIMEOUTS] as const;
/** Timeouts of features still being built: accepted (they belong to the model) with a warning. */
const INACTIVE_TIMEOUTS: Partial<Record<(typeof ALL_TIMEOUTS)[number], string>> = {
  queue: "server queues, which arrive with the overload protection work",
};

/** Largest tune.bufsize: HAProxy accepts more, but a buffer per direction and session adds up fast. */
const MAX_BUFSIZE = 1_048_576;
/** Largest `depth` of `balance uri`: deeper than any real path. */
const MAX_URI_DEPTH = 255;

/** The algorithms written as a plain name; `hdr` always needs a header name. */
const PLAIN_ALGORITHMS: readonly string[] = [...BALANCE_ALGORITHMS.filter((name) => name !== "uri" && name !== "hdr"), "uri"];
/** What `balance` accepts as a string, as listed in messages. */
const BALANCE_FORMS: readonly string[] = [...PLAIN_ALGORITHMS, "hdr(NAME)"];
const URI_KEYS = ["algorithm", "depth", "len", "whole", "path-only"] as const;
const HDR_KEYS = ["algorithm", "name", "use-domain-only"] as const;

const HTTP_REUSE_MODES: readonly HttpReuseMode[] = ["never", "safe", "always"];
const CONNECTION_MODES: readonly HttpConnectionMode[] = ["http-keep-alive", "http-server-close", "httpclose"];

/** Matchers of a route and of an `if` / `unless` condition. */
const MATCHER_KEYS = ["host", "path", "path-prefix", "path-regex", "method", "header", "source"] as const;
const ROUTE_KEYS = ["backend", ...MATCHER_KEYS] as const;
const HEADER_MATCHER_KEYS = ["name", "present", "equals", "regex"] as const;

const REQUEST_ACTIONS = ["set-header", "add-header", "del-header", "set-path", "redirect", "deny", "return"] as const;
const RESPONSE_ACTIONS = ["set-header", "add-header", "del-header"] as const;
/** The arguments of each action; every rule may also have `if` or `unless`. */
const ACTION_KEYS: Record<(typeof REQUEST_ACTIONS)[number], readonly string[]> = {
  "set-header": ["name", "value"],
  "add-header": ["name", "value"],
  "del-header": ["name"],
  "set-path": ["path"],
  redirect: ["location", "prefix", "scheme", "code", "drop-query"],
  deny: ["status"],
  return: ["status", "content-type", "body"],
};
const ALL_ACTION_KEYS = new Set(Object.values(ACTION_KEYS).flat());
const REDIRECT_CODES: readonly RedirectCode[] = [301, 302, 303, 307, 308];
/** Headers a rule may not touch, and why: the proxy keeps them right itself. */
const PROTECTED_HEADERS: Record<string, string> = {
  "content-length": "it frames the message body, which the proxy keeps consistent",
  "transfer-encoding": "it frames the message body, which the proxy keeps consistent",
  trailer: "it announces the fields after a chunked body, which the proxy forwards as they are",
  connection: "it is hop-by-hop: the proxy handles it on each connection",
  "keep-alive": "it is hop-by-hop: the proxy handles it on each connection",
  "proxy-connection": "it is hop-by-hop: the proxy handles it on each connection",
  te: "it is hop-by-hop: the proxy handles it on each connection",
  upgrade: "it is hop-by-hop: the proxy handles it on each connection",
};

/** HAProxy's errorfile codes: the pages a proxy generates that are worth replacing. */
const ERROR_FILE_STATUSES = ["400", "403", "408", "500", "502", "503", "504"] as const;

/** Why a key of an http-mode section does nothing in a tcp-mode one (a warning). */
const TCP_MODE_NO_EFFECT: Record<string, string> = {
  errorfiles: "it replaces error pages of http responses",
  "http-connection-mode": "it applies to http connections",
  "http-no-delay": "it applies to http message bodies",
  "http-reuse": "it applies to server connections carrying http requests",
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

function quoteList(values: readonly (string | number)[]): string {
  return values.map((value) => typeof value === "string" ? `"${value}"` : String(value)).join(", ");
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const suggestion = closestMatch(key, allowed);
  return `Unknown key "${key}"` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : `: expected one of ${allowed.join(", ")}`);
}

/** A problem of a header value a rule writes, or undefined. */
function headerValueProblem(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00) return "it contains a CR, LF or NUL character, which would split or end the header";
    if (c > 0xff) return `character "${value[i]}" is not latin1: a header value is bytes, write it percent-encoded`;
  }
  return undefined;
}

/** A problem of a path (as matched or set), or undefined. */
function pathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return `a path starts with "/"`;
  if (path.includes("?")) return `the query string is not part of a path (it starts at "?")`;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23) {
      return `spaces, "#", control and non-ASCII characters cannot appear in a request's path: write them percent-encoded, as requests carry them`;
    }
  }
  return undefined;
}

const HOST_LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOST_NAME = new RegExp(`^(?:\\*\\.)?${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

/**
 * A `host` entry as requests are compared with it (lower case; an IPv6 address without brackets,
 * since the Host header's are removed before matching), or what is wrong with it.
 */
function parseHost(text: string): { readonly host: string } | { readonly problem: string } {
  const lower = text.toLowerCase();
  const bracketed = lower.startsWith("[") && lower.endsWith("]");
  const inner = bracketed ? lower.slice(1, -1) : lower;
  if (bracketed || inner.indexOf(":") !== inner.lastIndexOf(":")) {
    if (/^[0-9a-f:.]+$/.test(inner) && typeof parseCidr(inner) !== "string") return { host: inner };
    return { problem: `expected an IPv6 address such as "2001:db8::1" or "[2001:db8::1]"` };
  }
  if (inner.includes(":")) return { problem: "give it without a port: the port is removed from the Host header before matching" };
  if (lower.length > 253 || !HOST_NAME.test(lower)) {
    return { problem: `expected a host name such as "example.com", "*.example.com" (any subdomain of example.com) or "192.0.2.1"` };
  }
  return { host: lower };
}

function isRelativePath(path: string): boolean {
  return !path.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(path) && !path.startsWith("\\\\");
}

/** A `balance` setting: the algorithm, and what uri and hdr hash. */
interface BalanceSetting {
  readonly algorithm: BalanceAlgorithmName;
  readonly hashKey: BalanceHashKeyConfig | null;
}

const URI_HASH_KEY: BalanceHashKeyConfig = Object.freeze({ kind: "uri", depth: 0, len: 0, whole: false, pathOnly: false });

function hdrHashKey(name: string, useDomainOnly: boolean): BalanceHashKeyConfig {
  return Object.freeze({ kind: "hdr", name, lowerName: name.toLowerCase(), useDomainOnly });
}

/** One string of a matcher, with where it was written. */
interface Located {
  readonly text: string;
  readonly path: ConfigPath;
}

/** Collects issues while reading a document. */
class Reader {
  readonly issues: ValidationIssue[] = [];
  readonly errorFile: ValidationOptions["errorFile"];
  /** tune.bufsize, once [global] is read: an errorfile must fit in one buffer. */
  bufsize: number = DEFAULTS.tuneBufsize;

  constructor(options: ValidationOptions) {
    this.errorFile = options.errorFile;
  }

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
      if (!allowed.includes(key)) this.error([...path, key], unknownKeyMessage(key, allowed), "key");
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

  /** A string that may be empty. */
  text(path: ConfigPath, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      this.error(path, `Expected a string, found ${describe(value)}`);
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
      `Expected one of ${quoteList(allowed)}, found ${describe(value)}` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : ""),
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

  /** A header name: a token, and (`forRule`) not one the proxy must keep control of. */
  headerName(path: ConfigPath, value: unknown, forRule: boolean): string | undefined {
    const name = this.string(path, value);
    if (name === undefined) return undefined;
    if (!HEADER_NAME.test(name)) {
      this.error(path, `Invalid header name "${name}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
      return undefined;
    }
    const protectedBecause = forRule ? PROTECTED_HEADERS[name.toLowerCase()] : undefined;
    if (protectedBecause !== undefined) {
      this.error(path, `Header "${name}" cannot be changed by a rule: ${protectedBecause}`);
      return undefined;
    }
    return name;
  }

  /** A header value a rule writes (may be empty). */
  headerValue(path: ConfigPath, value: unknown): string | undefined {
    const text = this.text(path, value);
    if (text === undefined) return undefined;
    const problem = headerValueProblem(text);
    if (problem !== undefined) {
      this.error(path, `Invalid header value ${JSON.stringify(text)}: ${problem}`);
      return undefined;
    }
    return text;
  }

  /** `balance`: a name, "hdr(NAME)", or a table { algorithm = ..., parameters }. */
  balance(path: ConfigPath, value: unknown): BalanceSetting | undefined {
    if (value === undefined) return undefined;
    if (isTable(value)) return this.balanceTable(path, value);
    if (typeof value === "string") {
      if (value === "uri") return { algorithm: "uri", hashKey: URI_HASH_KEY };
      if (PLAIN_ALGORITHMS.includes(value)) return { algorithm: value as BalanceAlgorithmName, hashKey: null };
      const hdr = /^hdr\((.*)\)$/.exec(value);
      if (hdr !== null) {
        if (!HEADER_NAME.test(hdr[1]!)) {
          this.error(path, `Invalid header name "${hdr[1]}" in "${value}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
          return undefined;
        }
        return { algorithm: "hdr", hashKey: hdrHashKey(hdr[1]!, false) };
      }
      if (value === "hdr") {
        this.error(path, `Balance "hdr" needs the name of the header to hash: write "hdr(NAME)", e.g. "hdr(Host)"`);
        return undefined;
      }
      const words = value.split(/\s+/);
      if (words.length > 1 && (words[0] === "uri" || words[0]!.startsWith("hdr("))) {
        const algorithm = words[0] === "uri" ? "uri" : "hdr";
        this.error(
          path,
          `Invalid balance "${value}": give the parameters of "${algorithm}" in a table, e.g. balance = ` +
            (algorithm === "uri" ? `{ algorithm = "uri", depth = 2 }` : `{ algorithm = "hdr", name = "Host", use-domain-only = true }`),
        );
        return undefined;
      }
    }
    const suggestion = typeof value === "string" ? closestMatch(value, BALANCE_FORMS) : undefined;
    this.error(
      path,
      `Expected one of ${quoteList(BALANCE_FORMS)}, found ${describe(value)}` + (suggestion !== undefined ? `: did you mean "${suggestion}"?` : ""),
    );
    return undefined;
  }

  private balanceTable(path: ConfigPath, table: Table): BalanceSetting | undefined {
    const algorithmPath = [...path, "algorithm"];
    if (table.algorithm === undefined) {
      this.error(path, `Missing "algorithm": e.g. balance = { algorithm = "uri", depth = 2 }`);
      return undefined;
    }
    const forms = [...PLAIN_ALGORITHMS, "hdr"];
    const algorithm = this.oneOf(algorithmPath, table.algorithm, forms) as BalanceAlgorithmName | undefined;
    if (algorithm === undefined) return undefined;
    const allowed: readonly string[] = algorithm === "uri" ? URI_KEYS : algorithm === "hdr" ? HDR_KEYS : ["algorithm"];
    let valid = true;
    for (const key of Object.keys(table)) {
      if (allowed.includes(key)) continue;
      valid = false;
      if ((URI_KEYS as readonly string[]).includes(key) || (HDR_KEYS as readonly string[]).includes(key)) {
        this.error([...path, key], `Key "${key}" does not apply to algorithm "${algorithm}": expected ${allowed.length === 1 ? "only algorithm" : `one of ${allowed.join(", ")}`}`, "key");
      } else {
        this.error([...path, key], unknownKeyMessage(key, allowed), "key");
      }
    }
    if (algorithm === "uri") {
      const depth = this.integer([...path, "depth"], table.depth, 0, MAX_URI_DEPTH);
      const len = this.integer([...path, "len"], table.len, 0, MAX_BUFSIZE);
      const whole = this.boolean([...path, "whole"], table.whole);
      const pathOnly = this.boolean([...path, "path-only"], table["path-only"]);
      return {
        algorithm,
        hashKey: Object.freeze({ kind: "uri", depth: depth ?? 0, len: len ?? 0, whole: whole ?? false, pathOnly: pathOnly ?? false }),
      };
    }
    if (algorithm === "hdr") {
      const name = this.headerName([...path, "name"], table.name, false);
      const useDomainOnly = this.boolean([...path, "use-domain-only"], table["use-domain-only"]) ?? false;
      if (table.name === undefined) this.error(path, `Missing "name": balance "hdr" hashes the header it names, e.g. { algorithm = "hdr", name = "Host" }`);
      if (name === undefined) return undefined;
      return { algorithm, hashKey: hdrHashKey(name, useDomainOnly) };
    }
    return valid ? { algorithm, hashKey: null } : undefined;
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

  /** A string or a non-empty array of strings, each with its path. */
  stringList(path: ConfigPath, value: unknown, example: string): Located[] | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string") return this.string(path, value) === undefined ? [] : [{ text: value, path }];
    if (!Array.isArray(value) || value.length === 0) {
      this.error(path, `Expected a string or a non-empty array of strings such as ${example}, found ${Array.isArray(value) ? "an empty array" : describe(value)}`);
      return [];
    }
    const list: Located[] = [];
    value.forEach((item: unknown, index) => {
      const text = this.string([...path, index], item);
      if (text !== undefined) list.push({ text, path: [...path, index] });
    });
    return list;
  }
}

/** Reads the matchers of a route or a condition (the table's keys are already checked); null keys: not given. */
function readCondition(reader: Reader, path: ConfigPath, table: Table): { condition: ConditionConfig; matchers: number } {
  const matchers = MATCHER_KEYS.filter((key) => table[key] !== undefined).length;
  let hosts: string[] | null = null;
  const hostList = reader.stringList([...path, "host"], table.host, `"example.com" or ["example.com", "*.example.com"]`);
  if (hostList !== undefined) {
    hosts = [];
    for (const { text, path: at } of hostList) {
      const parsed = parseHost(text);
      if ("problem" in parsed) reader.error(at, `Invalid host "${text}": ${parsed.problem}`);
      else hosts.push(parsed.host);
    }
  }
  const paths = (key: "path" | "path-prefix"): string[] | null => {
    const list = reader.stringList([...path, key], table[key], `"/api/" or ["/api/", "/v2/"]`);
    if (list === undefined) return null;
    const result: string[] = [];
    for (const { text, path: at } of list) {
      const problem = pathProblem(text);
      if (problem !== undefined) reader.error(at, `Invalid ${key} "${text}": ${problem}`);
      else result.push(text);
    }
    return result;
  };
  const exactPaths = paths("path");
  const pathPrefixes = paths("path-prefix");
  const pathRegex = readRegex(reader, [...path, "path-regex"], table["path-regex"]);
  let methods: string[] | null = null;
  const methodList = reader.stringList([...path, "method"], table.method, `"GET" or ["GET", "HEAD"]`);
  if (methodList !== undefined) {
    methods = [];
    for (const { text, path: at } of methodList) {
      if (!TOKEN.test(text)) {
        reader.error(at, `Invalid method "${text}": a method is a token (letters, digits and ! # $ % & ' * + - . ^ _ \` | ~)`);
        continue;
      }
      if (text !== text.toUpperCase()) {
        reader.warn(at, `Method "${text}" is not upper case: methods are case-sensitive, so it matches only requests that write it "${text}"`);
      }
      methods.push(text);
    }
  }
  const headers = readHeaderMatchers(reader, [...path, "header"], table.header);
  let sources: Cidr[] | null = null;
  const sourceList = reader.stringList([...path, "source"], table.source, `"10.0.0.0/8" or ["10.0.0.0/8", "2001:db8::/32"]`);
  if (sourceList !== undefined) {
    sources = [];
    for (const { text, path: at } of sourceList) {
      const parsed = parseCidr(text);
      if (typeof parsed === "string") reader.error(at, `Invalid network "${text}": ${parsed}`);
      else sources.push(parsed);
    }
  }
  const freeze = <T>(list: T[] | null): readonly T[] | null => list === null ? null : Object.freeze(list);
  return {
    condition: Object.freeze({
      hosts: freeze(hosts),
      paths: freeze(exactPaths),
      pathPrefixes: freeze(pathPrefixes),
      pathRegex,
      methods: freeze(methods),
      headers: freeze(headers),
      sources: freeze(sources),
    }),
    matchers,
  };
}

/** A regular expression written as a string (JavaScript syntax, no flags). */
function readRegex(reader: Reader, path: ConfigPath, value: unknown): RegExp | null {
  const text = reader.string(path, value);
  if (text === undefined) return null;
  try {
    return new RegExp(text);
  } catch (error) {
    // Engines word it differently; drop the part that repeats what the message already says.
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^Invalid regular expression: (\/.*\/[a-z]*: )?/, "");
    reader.error(path, `Invalid regular expression "${text}": ${reason}`);
    return null;
  }
}

/** `header`: one test `{ name, present, equals, regex }` or an array of them, all required. */
function readHeaderMatchers(reader: Reader, path: ConfigPath, value: unknown): HeaderMatcherConfig[] | null {
  if (value === undefined) return null;
  const single = isTable(value);
  if (!single && (!Array.isArray(value) || value.length === 0)) {
    reader.error(path, `Expected a header test such as { name = "X-Env", equals = "prod" } or a non-empty array of them, found ${Array.isArray(value) ? "an empty array" : describe(value)}`);
    return [];
  }
  const items: unknown[] = single ? [value] : value as unknown[];
  const matchers: HeaderMatcherConfig[] = [];
  items.forEach((item, index) => {
    const itemPath = single ? path : [...path, index];
    if (!isTable(item)) {
      reader.error(itemPath, `Expected a header test such as { name = "X-Env", equals = "prod" }, found ${describe(item)}`);
      return;
    }
    const table = reader.table(itemPath, item, HEADER_MATCHER_KEYS)!;
    if (table.name === undefined) reader.error(itemPath, `Missing "name": a header test names its header, e.g. { name = "X-Env", equals = "prod" }`);
    const name = reader.headerName([...itemPath, "name"], table.name, false);
    const present = reader.boolean([...itemPath, "present"], table.present) ?? true;
    const equals = reader.text([...itemPath, "equals"], table.equals) ?? null;
    const regex = readRegex(reader, [...itemPath, "regex"], table.regex);
    if (table.present === false && (table.equals !== undefined || table.regex !== undefined)) {
      reader.error([...itemPath, "present"], `"present = false" tests that the header is absent: it cannot be combined with "equals" or "regex"`);
      return;
    }
    if (table.equals !== undefined && table.regex !== undefined) {
      reader.error([...itemPath, "regex"], `Give "equals" or "regex", not both: to require both, write two header tests`);
      return;
    }
    if (name === undefined) return;
    matchers.push(Object.freeze({ name, lowerName: name.toLowerCase(), present, equals, regex }));
  });
  return matchers;
}

/** `if = {...}` or `unless = {...}` of a rule; null: always. */
function readGuard(reader: Reader, path: ConfigPath, table: Table): RuleGuardConfig | null {
  if (table.if !== undefined && table.unless !== undefined) {
    reader.error([...path, "unless"], `Give "if" or "unless", not both`, "key");
    return null;
  }
  const key = table.if !== undefined ? "if" : table.unless !== undefined ? "unless" : undefined;
  if (key === undefined) return null;
  const guardPath = [...path, key];
  const guard = table[key];
  if (!isTable(guard)) {
    reader.error(guardPath, `Expected a condition such as { path-prefix = "/admin/" }, found ${describe(guard)}`);
    return null;
  }
  reader.table(guardPath, guard, MATCHER_KEYS);
  const { condition, matchers } = readCondition(reader, guardPath, guard);
  if (matchers === 0) {
    reader.error(guardPath, `Empty condition: give at least one of ${MATCHER_KEYS.join(", ")} (without "${key}", the rule always applies)`);
    return null;
  }
  return Object.freeze({ condition, negate: key === "unless" });
}

/** One `http-request` or `http-response` rule. */
function readRule(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  actions: readonly string[],
  key: "http-request" | "http-response",
): HttpRequestRuleConfig | undefined {
  if (!isTable(value)) {
    reader.error(path, `Expected a rule such as { action = "set-header", name = "X-Env", value = "prod" }, found ${describe(value)}`);
    return undefined;
  }
  if (value.action === undefined) {
    reader.error(path, `Missing "action": expected one of ${quoteList(actions)}`);
    return undefined;
  }
  if (typeof value.action === "string" && !actions.includes(value.action) && (REQUEST_ACTIONS as readonly string[]).includes(value.action)) {
    reader.error([...path, "action"], `Action "${value.action}" is not available in ${key}: expected one of ${quoteList(actions)}`);
    return undefined;
  }
  const action = reader.oneOf([...path, "action"], value.action, actions as readonly (typeof REQUEST_ACTIONS)[number][]);
  if (action === undefined) return undefined;
  const allowed = ["action", ...ACTION_KEYS[action], "if", "unless"];
  for (const name of Object.keys(value)) {
    if (allowed.includes(name)) continue;
    reader.error(
      [...path, name],
      ALL_ACTION_KEYS.has(name) ? `Key "${name}" does not apply to action "${action}": expected one of ${allowed.join(", ")}` : unknownKeyMessage(name, allowed),
      "key",
    );
  }
  const when = readGuard(reader, path, value);
  const missing = (...names: string[]): boolean => {
    const absent = names.filter((name) => value[name] === undefined);
    if (absent.length > 0) {
      reader.error(path, `Missing ${absent.map((name) => `"${name}"`).join(" and ")}: action "${action}" needs ${names.join(" and ")}`);
    }
    return absent.length > 0;
  };
  switch (action) {
    case "set-header":
    case "add-header": {
      const absent = missing("name", "value");
      const name = reader.headerName([...path, "name"], value.name, true);
      const text = reader.headerValue([...path, "value"], value.value);
      if (absent || name === undefined || text === undefined) return undefined;
      return Object.freeze({ action, name, value: text, when });
    }
    case "del-header": {
      const absent = missing("name");
      const name = reader.headerName([...path, "name"], value.name, true);
      if (absent || name === undefined) return undefined;
      return Object.freeze({ action, name, when });
    }
    case "set-path": {
      const absent = missing("path");
      const target = reader.string([...path, "path"], value.path);
      if (absent || target === undefined) return undefined;
      const problem = pathProblem(target);
      if (problem !== undefined) {
        reader.error([...path, "path"], `Invalid path "${target}": ${problem}` + (target.includes("?") ? "; set-path keeps the request's query string" : ""));
        return undefined;
      }
      return Object.freeze({ action, path: target, when });
    }
    case "redirect":
      return readRedirect(reader, path, value, when);
    case "deny": {
      const status = reader.integer([...path, "status"], value.status, 200, 599) ?? 403;
      return Object.freeze({ action, status, when });
    }
    case "return": {
      const status = reader.integer([...path, "status"], value.status, 200, 599) ?? 200;
      const contentType = reader.string([...path, "content-type"], value["content-type"]);
      if (contentType !== undefined) {
        const problem = headerValueProblem(contentType);
        if (problem !== undefined) reader.error([...path, "content-type"], `Invalid header value ${JSON.stringify(contentType)}: ${problem}`);
      }
      const body = reader.text([...path, "body"], value.body) ?? "";
      if ((status === 204 || status === 304) && body !== "") {
        reader.error([...path, "body"], `A ${status} response has no body: remove "body" or use another status`);
      }
      return Object.freeze({ action, status, contentType: contentType ?? "text/plain", body, when });
    }
  }
}

function readRedirect(reader: Reader, path: ConfigPath, table: Table, when: RuleGuardConfig | null): HttpRequestRuleConfig | undefined {
  const given = (["location", "prefix", "scheme"] as const).filter((key) => table[key] !== undefined);
  if (given.length === 0) {
    reader.error(path, `Missing the target: action "redirect" needs one of "location", "prefix" or "scheme"`);
  } else if (given.length > 1) {
    reader.error([...path, given[1]!], `Give only one of "location", "prefix" and "scheme": this redirect has ${given.map((key) => `"${key}"`).join(" and ")}`, "key");
  }
  const target = (key: "location" | "prefix"): string | null => {
    const text = reader.string([...path, key], table[key]);
    if (text === undefined) return null;
    const problem = headerValueProblem(text);
    if (problem !== undefined) {
      reader.error([...path, key], `Invalid ${key} ${JSON.stringify(text)}: ${problem}`);
      return null;
    }
    return text;
  };
  const location = target("location");
  const prefix = target("prefix");
  const scheme = reader.oneOf([...path, "scheme"], table.scheme, ["http", "https"]) ?? null;
  let code: RedirectCode = 302;
  if (table.code !== undefined) {
    if (REDIRECT_CODES.includes(table.code as RedirectCode)) code = table.code as RedirectCode;
    else reader.error([...path, "code"], `Expected one of ${quoteList(REDIRECT_CODES)}, found ${describe(table.code)}`);
  }
  const dropQuery = reader.boolean([...path, "drop-query"], table["drop-query"]) ?? false;
  if (dropQuery && table.location !== undefined) {
    reader.warn([...path, "drop-query"], `"drop-query" has no effect with "location": the location is sent as written`);
  }
  if (given.length !== 1 || (location ?? prefix ?? scheme) === null) return undefined;
  return Object.freeze({ action: "redirect", code, location, prefix, scheme, dropQuery, when });
}

/** `http-request` / `http-response`: an array of rules. undefined: not set. */
function readRules(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  key: "http-request" | "http-response",
): HttpRequestRuleConfig[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    reader.error(path, `Expected an array of rules such as [{ action = "del-header", name = "X-Debug" }], found ${describe(value)}`);
    return undefined;
  }
  const actions = key === "http-request" ? REQUEST_ACTIONS : RESPONSE_ACTIONS;
  const rules: HttpRequestRuleConfig[] = [];
  value.forEach((item: unknown, index) => {
    const rule = readRule(reader, [...path, index], item, actions, key);
    if (rule !== undefined) rules.push(rule);
  });
  return rules;
}

function isResponseRule(rule: HttpRequestRuleConfig): rule is HttpResponseRuleConfig {
  return rule.action === "set-header" || rule.action === "add-header" || rule.action === "del-header";
}

/** `errorfiles`: status → file, each read, checked and merged over the inherited ones. undefined: not set. */
function readErrorFiles(reader: Reader, path: ConfigPath, value: unknown, inherited: readonly ErrorFileConfig[]): readonly ErrorFileConfig[] | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) {
    reader.error(path, `Expected a table of status = "FILE" such as { 503 = "/etc/proxy/errors/503.http" }, found ${describe(value)}`);
    return undefined;
  }
  const byStatus = new Map(inherited.map((file) => [file.status, file]));
  for (const [key, fileValue] of Object.entries(value)) {
    const keyPath = [...path, key];
    if (!(ERROR_FILE_STATUSES as readonly string[]).includes(key)) {
      reader.error(
        keyPath,
        /^[0-9]{3}$/.test(key)
          ? `No errorfile can be given for status ${key}: expected one of ${ERROR_FILE_STATUSES.join(", ")}`
          : `Unknown key "${key}": expected a status code, one of ${ERROR_FILE_STATUSES.join(", ")}`,
        "key",
      );
      continue;
    }
    const file = reader.string(keyPath, fileValue);
    if (file === undefined) continue;
    const status = Number(key);
    const read = reader.errorFile?.(file);
    if (read === undefined) {
      reader.error(keyPath, `Errorfile "${file}" was not read: errorfiles are read when a configuration is loaded from files`);
      continue;
    }
    if ("error" in read) {
      reader.error(keyPath, `Cannot read errorfile "${file}": ${read.error}` + (read.missing === true && isRelativePath(file) ? " (a relative path is relative to the current directory)" : ""));
      continue;
    }
    const parsed = parseErrorFile(read.text);
    if (typeof parsed === "string") {
      reader.error(keyPath, `Invalid errorfile "${file}": ${parsed}`);
      continue;
    }
    if (parsed.status !== status) {
      reader.error(keyPath, `Errorfile "${file}" answers ${parsed.status}, not ${status}: its status line must be "HTTP/1.1 ${status} ..."`);
      continue;
    }
    const size = new TextEncoder().encode(read.text).length;
    if (size > reader.bufsize) {
      reader.error(keyPath, `Errorfile "${file}" has ${size} bytes, more than tune.bufsize (${reader.bufsize}): a page must fit in one buffer`);
      continue;
    }
    byStatus.set(status, Object.freeze({ status, path: file, text: read.text }));
  }
  return Object.freeze([...byStatus.values()].sort((a, b) => a.status - b.status));
}

/** The keys of HttpSectionConfig in a section, over the inherited ones (the same object when none is set). */
function readHttpSection(
  reader: Reader,
  path: ConfigPath,
  table: Table,
  inherited: HttpSectionConfig,
  mode: ProxyMode | undefined,
  what: string,
): HttpSectionConfig {
  const requestRules = readRules(reader, [...path, "http-request"], table["http-request"], "http-request");
  const responseRules = readRules(reader, [...path, "http-response"], table["http-response"], "http-response");
  const errorFiles = readErrorFiles(reader, [...path, "errorfiles"], table.errorfiles, inherited.errorFiles);
  const connectionMode = reader.oneOf([...path, "http-connection-mode"], table["http-connection-mode"], CONNECTION_MODES);
  const httpNoDelay = reader.boolean([...path, "http-no-delay"], table["http-no-delay"]);
  if (mode === "tcp") {
    for (const key of ["http-request", "http-response"] as const) {
      const rules = table[key];
      // An empty array is how a tcp section sets aside rules inherited from [defaults].
      if (Array.isArray(rules) && rules.length > 0) reader.error([...path, key], `"${key}" rules need http mode: ${what} is in tcp mode`);
    }
    warnNoEffectInTcp(reader, path, table, ["errorfiles", "http-connection-mode", "http-no-delay"]);
  }
  if (requestRules === undefined && responseRules === undefined && errorFiles === undefined && connectionMode === undefined && httpNoDelay === undefined) {
    return inherited;
  }
  return Object.freeze({
    httpRequestRules: requestRules === undefined ? inherited.httpRequestRules : Object.freeze(requestRules),
    httpResponseRules: responseRules === undefined ? inherited.httpResponseRules : Object.freeze(responseRules.filter(isResponseRule)),
    errorFiles: errorFiles ?? inherited.errorFiles,
    connectionMode: connectionMode ?? inherited.connectionMode,
    httpNoDelay: httpNoDelay ?? inherited.httpNoDelay,
  });
}

function warnNoEffectInTcp(reader: Reader, path: ConfigPath, table: Table, keys: readonly string[]): void {
  for (const key of keys) {
    if (table[key] !== undefined) reader.warn([...path, key], `"${key}" has no effect in tcp mode: ${TCP_MODE_NO_EFFECT[key]}`);
  }
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
  timeouts: Record<(typeof ALL_TIMEOUTS)[number], number>;
  forwarded: ForwardedHeadersConfig;
  httpReuse: HttpReuseMode;
  http: HttpSectionConfig;
}

const NO_FORWARDED_HEADERS: ForwardedHeadersConfig = Object.freeze({ forwardFor: null, forwardedProto: false, forwardedHost: false });

const DEFAULT_HTTP_SECTION: HttpSectionConfig = Object.freeze({
  httpRequestRules: Object.freeze([]),
  httpResponseRules: Object.freeze([]),
  errorFiles: Object.freeze([]),
  connectionMode: "http-keep-alive",
  httpNoDelay: false,
});

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

function readTune(reader: Reader, value: unknown): TuneConfig {
  const path = ["global", "tune"];
  const table = reader.table(path, value, TUNE_KEYS) ?? {};
  const bufsize = reader.integer([...path, "bufsize"], table.bufsize, 1_024, MAX_BUFSIZE) ?? DEFAULTS.tuneBufsize;
  // HAProxy's rule: the rewrite reserve stays below half of the buffer, so a head always has the larger half.
  const maxMaxrewrite = Math.ceil(bufsize / 2) - 1;
  const given = table.maxrewrite;
  let maxrewrite: number | undefined;
  if (typeof given === "number" && Number.isInteger(given) && given > maxMaxrewrite) {
    reader.error([...path, "maxrewrite"], `Expected an integer from 0 to ${maxMaxrewrite}, below half of bufsize (${bufsize}), found ${given}`);
  } else {
    maxrewrite = reader.integer([...path, "maxrewrite"], given, 0, maxMaxrewrite);
  }
  return Object.freeze({
    bufsize,
    maxrewrite: maxrewrite ?? Math.min(DEFAULTS.tuneMaxrewrite, maxMaxrewrite),
    httpMaxhdr: reader.integer([...path, "http-maxhdr"], table["http-maxhdr"], 1, 32_767) ?? DEFAULTS.tuneHttpMaxhdr,
  });
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
  const tune = readTune(reader, table.tune);
  reader.bufsize = tune.bufsize;
  return {
    maxconn: reader.integer(["global", "maxconn"], table.maxconn, 1, MAX_MAXCONN) ?? DEFAULTS.globalMaxconn,
    pidfile: reader.string(["global", "pidfile"], table.pidfile) ?? null,
    tune,
  };
}

function readDefaults(reader: Reader, value: unknown): Inherited {
  const table = reader.table(["defaults"], value, DEFAULTS_KEYS) ?? {};
  reader.logFormat(["defaults", "log-format"], table["log-format"]);
  return {
    mode: reader.mode(["defaults", "mode"], table.mode) ?? "tcp",
    balance: reader.balance(["defaults", "balance"], table.balance) ?? { algorithm: DEFAULTS.balance, hashKey: null },
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
    httpReuse: reader.oneOf(["defaults", "http-reuse"], table["http-reuse"], HTTP_REUSE_MODES) ?? "safe",
    http: readHttpSection(reader, ["defaults"], table, DEFAULT_HTTP_SECTION, undefined, "[defaults]"),
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
  readonly kind: "default-backend" | "route";
}

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

/** `routes`: an array of { backend, matchers... }, tried in order. */
function readRoutes(
  reader: Reader,
  path: ConfigPath,
  value: unknown,
  frontend: string,
  mode: ProxyMode,
  references: BackendReference[],
): RouteConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    reader.error(path, `Expected an array of routes such as [{ backend = "api", path-prefix = "/api/" }], found ${describe(value)}`);
    return [];
  }
  if (mode === "tcp" && value.length > 0) {
    reader.error(path, `"routes" need http mode: frontend "${frontend}" is in tcp mode, where every connection goes to its default-backend`);
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
  return routes;
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
  reader.logFormat([...path, "log-format"], table["log-format"]);
  const reusePort = reader.boolean([...path, "reuseport"], table.reuseport) ?? true;
  const defaultBackend = reader.string([...path, "default-backend"], table["default-backend"]);
  const timeouts = readTimeouts(reader, [...path, "timeout"], table.timeout, FRONTEND_TIMEOUTS, inherited.timeouts);
  const mode = reader.mode([...path, "mode"], table.mode) ?? inherited.mode;
  const routes = readRoutes(reader, [...path, "routes"], table.routes, name, mode, references);
  // As HAProxy without default_backend: requests that no route takes get a 503.
  const routed = mode === "http" && Array.isArray(table.routes) && table.routes.length > 0;
  if (table["default-backend"] === undefined && !routed) {
    reader.error(path, `Frontend "${name}" has no "default-backend": name the backend that gets its connections`);
  }
  if (defaultBackend !== undefined) {
    references.push({ frontend: name, mode, backend: defaultBackend, path: [...path, "default-backend"], kind: "default-backend" });
  }
  const forwarded = reader.forwarded(path, table, inherited.forwarded, mode);
  const http = readHttpSection(reader, path, table, inherited.http, mode, `frontend "${name}"`);
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
    routes: Object.freeze(routes),
    http,
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
  const ownBalance = reader.balance([...path, "balance"], table.balance);
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
      queue: timeouts.queue,
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
    } else if (backend.mode === "tcp" && reference.kind === "route") {
      reader.error(reference.path, `Backend "${backend.name}" is in tcp mode: a route leads requests to an http backend`);
    } else if (backend.mode === "tcp" && reference.mode === "http") {
      reader.error(reference.path, `Frontend "${reference.frontend}" is in http mode but backend "${backend.name}" is in tcp mode`);
    }
  }
}

/** The errorfile paths a raw document names, each once, for the loader to read before validating. */
export function errorFilePaths(document: unknown): string[] {
  const paths = new Set<string>();
  const collect = (section: unknown): void => {
    if (!isTable(section) || !isTable(section.errorfiles)) return;
    for (const file of Object.values(section.errorfiles)) if (typeof file === "string" && file !== "") paths.add(file);
  };
  if (!isTable(document)) return [];
  collect(document.defaults);
  for (const group of [document.frontends, document.backends]) {
    if (isTable(group)) for (const section of Object.values(group)) collect(section);
  }
  return [...paths];
}

/** Validates a raw document into a frozen Config, collecting every issue. */
export function validateConfigDocument(document: unknown, options: ValidationOptions = {}): ValidationResult {
  const reader = new Reader(options);
  const top = reader.table([], document, TOP_KEYS) ?? {};
  const global = readGlobal(reader, top.global);
  const inherited = readDefaults(reader, top.defaults);
  const frontendTables = reader.table(["frontends"], top.frontends, Object.keys(isTable(top.frontends) ? top.frontends : {})) ?? {};
  const backendTables = reader.table(["backends"], top.backends, Object.keys(isTable(top.backends) ? top.backends : {})) ?? {};
  const places: BindPlaces = [];
  const references: BackendReference[] = [];
  const frontends = Object.entries(frontendTables)
    .map(([name, value]) => readFrontend(reader, name, value, inherited, places, references))
    .filter((frontend): frontend is FrontendConfig => frontend !== undefined);
  const backends = Object.entries(backendTables)
    .map(([name, value]) => readBackend(reader, name, value, inherited))
    .filter((backend): backend is BackendConfig => backend !== undefined);
  if (Object.keys(frontendTables).length === 0) {
    reader.error(["frontends"], `No frontend is defined: nothing would listen (add a [frontends.NAME] table)`);
  }
  checkReferences(reader, backends, places, references);
  const config = reader.failed
    ? undefined
    : Object.freeze({ global: Object.freeze(global), frontends: Object.freeze(frontends), backends: Object.freeze(backends) });
  return { config, issues: reader.issues };
}
