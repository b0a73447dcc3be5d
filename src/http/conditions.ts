/**
 * Request conditions (the `if`/`unless` of rules and the `when` of routes), compiled once from
 * the configuration into objects that test a parsed request head with plain loops.
 *
 * Semantics: every matcher given must match (AND); a list matches when any entry does (OR).
 * - host: the authority of an absolute-form target (RFC 9112 3.2.2: it wins over Host), else the
 *   first Host header; port, IPv6 brackets and a trailing dot removed, compared in lower case.
 *   "*.example.com" matches any name ending in ".example.com", not "example.com" itself.
 * - path: the target up to "?". An absolute-form target's path follows its authority ("" is "/").
 *   Targets with no path (CONNECT's authority-form, OPTIONS' "*") match no path matcher, as
 *   HAProxy's `path` fetch finds nothing in them.
 * - method: exact, case-sensitive. headers: see HeaderMatcherConfig; values are compared whole,
 *   never split on commas. sources: the client address in one of the networks.
 * - tls: the client connection is TLS (or not). sni: the name the client sent in its handshake,
 *   compared as `host` is (a connection without SNI matches no entry). alpn: the protocol agreed.
 *   client-cert: "none" (none asked or sent), "valid", "invalid" (sent, not verified).
 * - pp-authority: the AUTHORITY TLV of the connection's PROXY v2 header (an accept-proxy bind),
 *   compared as `host` is; a connection without one matches no entry.
 *
 * The path and host derived from a head are memoized on the strings they come from, so several
 * conditions tested on one request derive them once, and a rule that rewrites the target or the
 * Host header invalidates them by changing the string.
 *
 * @module
 */

import { cidrContains } from "../core/cidr.ts";
import type { Cidr } from "../core/cidr.ts";
import type { ConditionConfig, HeaderMatcherConfig, RuleGuardConfig } from "../config/types.ts";
import type { HttpHead } from "./head_parser.ts";
import type { Connection } from "../runtime/types.ts";

/** What conditions read of the client connection: its TLS handshake and its PROXY header. */
export type ConditionClient = Pick<Connection, "tls" | "proxied">;

const SLASH = 0x2f;
const QUESTION = 0x3f;
const COLON = 0x3a;
const AT = 0x40;
const DOT = 0x2e;

/**
 * Where the parts of a request target sit. One shared instance, refreshed when asked about
 * another target: read it right away, never keep it.
 */
export class TargetParts {
  target = "";
  /** The target is absolute-form ("http://host/path"). */
  absolute = false;
  /** Index where the path starts; -1 when the target has no path (authority-form, "*"). */
  pathStart = -1;
  /** Index of the "?" that starts the query, or the target's length. */
  queryStart = 0;
  /** The path ("/" for an absolute-form target with an empty one), or null without a path. */
  path: string | null = null;
  /** An absolute-form target's authority without user info (port kept), or null (also when empty). */
  authority: string | null = null;
}

const parts = new TargetParts();
// The memo starts on a target no request can have (the parser refuses an empty one).
parts.target = "\0";

/** Whether `c` may appear in a URI scheme after its first letter (RFC 3986 3.1). */
function isSchemeChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2b || c === 0x2d || c === DOT;
}

/** The parts of `target` (the shared, memoized instance). */
export function targetParts(target: string): TargetParts {
  if (target === parts.target) return parts;
  parts.target = target;
  parts.absolute = false;
  parts.authority = null;
  const length = target.length;
  let query = target.indexOf("?");
  if (query < 0) query = length;
  parts.queryStart = query;
  if (length > 0 && target.charCodeAt(0) === SLASH) {
    parts.pathStart = 0;
    parts.path = query === length ? target : target.slice(0, query);
    return parts;
  }
  parts.pathStart = -1;
  parts.path = null;
  const first = target.charCodeAt(0) | 0x20;
  if (first < 0x61 || first > 0x7a) return parts;
  let i = 1;
  while (i < length && isSchemeChar(target.charCodeAt(i))) i++;
  if (
    i + 2 >= length || target.charCodeAt(i) !== COLON || target.charCodeAt(i + 1) !== SLASH ||
    target.charCodeAt(i + 2) !== SLASH
  ) return parts;
  const authorityStart = i + 3;
  let end = authorityStart;
  let at = -1;
  for (; end < length; end++) {
    const c = target.charCodeAt(end);
    if (c === SLASH || c === QUESTION) break;
    if (c === AT) at = end;
  }
  parts.absolute = true;
  const hostStart = at < 0 ? authorityStart : at + 1;
  parts.authority = end > hostStart ? target.slice(hostStart, end) : null;
  if (end >= query) {
    // "http://host" or "http://host?q": the empty path is "/" (RFC 9112 3.2.1).
    parts.pathStart = query;
    parts.queryStart = query;
    parts.path = "/";
  } else {
    parts.pathStart = end;
    parts.path = target.slice(end, query);
  }
  return parts;
}

/** The first Host header value, or undefined. */
export function hostHeader(head: HttpHead): string | undefined {
  const names = head.headerLowerNames;
  for (let i = 0; i < head.headerCount; i++) {
    if (names[i] === "host") return head.headerValues[i];
  }
  return undefined;
}

let memoHostRaw = "\0";
let memoHost = "";

/**
 * A host as matched: lower case, port removed ("[::1]:8080" gives "::1": brackets go too), one
 * trailing dot removed. Memoized on the raw value.
 */
export function normalizeHost(raw: string): string {
  if (raw === memoHostRaw) return memoHost;
  let host = raw;
  const length = host.length;
  if (length > 0 && host.charCodeAt(0) === 0x5b) {
    const close = host.indexOf("]");
    if (close > 0) host = host.slice(1, close);
  } else {
    const colon = host.indexOf(":");
    // Several colons without brackets: a bare IPv6 address, no port to strip.
    if (colon >= 0 && host.indexOf(":", colon + 1) < 0) host = host.slice(0, colon);
  }
  if (host.length > 0 && host.charCodeAt(host.length - 1) === DOT) host = host.slice(0, host.length - 1);
  host = host.toLowerCase();
  memoHostRaw = raw;
  memoHost = host;
  return host;
}

/** The request's host as matched (see the module notes), or undefined when it has none. */
export function requestHost(head: HttpHead): string | undefined {
  const authority = targetParts(head.target).authority;
  const raw = authority ?? hostHeader(head);
  return raw === undefined ? undefined : normalizeHost(raw);
}

/** A configured host, normalized as a request's is, except that a port is kept (it never matches). */
function normalizeConfiguredHost(entry: string): string {
  let host = entry.toLowerCase();
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.endsWith(".")) host = host.slice(0, -1);
  return host;
}

/** The regex without the g and y flags, which make `test` stateful across calls. */
function statelessRegex(regex: RegExp): RegExp {
  return regex.global || regex.sticky ? new RegExp(regex.source, regex.flags.replace(/[gy]/g, "")) : regex;
}

class HeaderTest {
  readonly lowerName: string;
  readonly present: boolean;
  readonly equals: string | null;
  readonly regex: RegExp | null;

  constructor(config: HeaderMatcherConfig) {
    this.lowerName = config.lowerName;
    this.present = config.present;
    this.equals = config.equals;
    this.regex = config.regex === null ? null : statelessRegex(config.regex);
  }

  matches(head: HttpHead): boolean {
    const names = head.headerLowerNames;
    const values = head.headerValues;
    const name = this.lowerName;
    const equals = this.equals;
    const regex = this.regex;
    for (let i = 0; i < head.headerCount; i++) {
      if (names[i] !== name) continue;
      if (!this.present) return false;
      const value = values[i]!;
      if ((equals === null || value === equals) && (regex === null || regex.test(value))) return true;
    }
    return !this.present;
  }
}

/** A compiled ConditionConfig. */
export class RequestCondition {
  /** Methods, or null when not tested. */
  readonly methods: readonly string[] | null;
  readonly paths: readonly string[] | null;
  readonly pathPrefixes: readonly string[] | null;
  readonly pathRegex: RegExp | null;
  /** Exact hosts and the suffixes of wildcard ones (".example.com"); both null when not tested. */
  readonly hosts: readonly string[] | null;
  readonly hostSuffixes: readonly string[] | null;
  readonly headers: readonly HeaderTest[] | null;
  readonly sources: readonly Cidr[] | null;
  readonly tls: boolean | null;
  readonly sni: readonly string[] | null;
  readonly sniSuffixes: readonly string[] | null;
  readonly alpn: readonly string[] | null;
  readonly clientCert: readonly string[] | null;
  readonly ppAuthority: readonly string[] | null;
  readonly ppAuthoritySuffixes: readonly string[] | null;
  readonly #testsPath: boolean;
  readonly #testsTls: boolean;

  constructor(config: ConditionConfig) {
    this.methods = config.methods === null ? null : [...config.methods];
    this.paths = config.paths === null ? null : [...config.paths];
    this.pathPrefixes = config.pathPrefixes === null ? null : [...config.pathPrefixes];
    this.pathRegex = config.pathRegex === null ? null : statelessRegex(config.pathRegex);
    this.#testsPath = this.paths !== null || this.pathPrefixes !== null || this.pathRegex !== null;
    if (config.hosts === null) {
      this.hosts = null;
      this.hostSuffixes = null;
    } else {
      const exact: string[] = [];
      const suffixes: string[] = [];
      for (const entry of config.hosts) {
        const host = normalizeConfiguredHost(entry);
        if (host.startsWith("*.")) suffixes.push(host.slice(1));
        else exact.push(host);
      }
      this.hosts = exact;
      this.hostSuffixes = suffixes;
    }
    this.headers = config.headers === null ? null : config.headers.map((header) => new HeaderTest(header));
    this.sources = config.sources === null ? null : [...config.sources];
    this.tls = config.tls;
    this.sni = config.sni === null ? null : config.sni.filter((name) => !name.startsWith("*."));
    this.sniSuffixes = config.sni === null ? null : config.sni.filter((name) => name.startsWith("*.")).map((name) => name.slice(1));
    this.alpn = config.alpn === null ? null : [...config.alpn];
    this.clientCert = config.clientCert === null ? null : [...config.clientCert];
    this.ppAuthority = config.ppAuthority === null ? null : config.ppAuthority.filter((name) => !name.startsWith("*."));
    this.ppAuthoritySuffixes = config.ppAuthority === null ? null : config.ppAuthority.filter((name) => name.startsWith("*.")).map((name) => name.slice(1));
    this.#testsTls = this.tls !== null || this.sni !== null || this.alpn !== null || this.clientCert !== null ||
      this.ppAuthority !== null;
  }

  /** Whether the request matches every matcher given; `tls`: the client connection's handshake, undefined on a plain one. */
  matches(head: HttpHead, clientAddress: string, client: ConditionClient | undefined = undefined): boolean {
    if (this.#testsTls && !this.#connectionMatches(client)) return false;
    const methods = this.methods;
    if (methods !== null && !includes(methods, head.method)) return false;
    if (this.#testsPath && !this.#pathMatches(head)) return false;
    if (this.hosts !== null && !this.#hostMatches(head)) return false;
    const headers = this.headers;
    if (headers !== null) {
      for (let i = 0; i < headers.length; i++) if (!headers[i]!.matches(head)) return false;
    }
    const sources = this.sources;
    if (sources !== null) {
      let found = false;
      for (let i = 0; i < sources.length; i++) {
        if (cidrContains(sources[i]!, clientAddress)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  #pathMatches(head: HttpHead): boolean {
    const path = targetParts(head.target).path;
    if (path === null) return false;
    if (this.paths !== null && !includes(this.paths, path)) return false;
    const prefixes = this.pathPrefixes;
    if (prefixes !== null) {
      let found = false;
      for (let i = 0; i < prefixes.length; i++) {
        if (path.startsWith(prefixes[i]!)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return this.pathRegex === null || this.pathRegex.test(path);
  }

  #connectionMatches(client: ConditionClient | undefined): boolean {
    const tls = client?.tls;
    if (this.ppAuthority !== null) {
      const authority = client?.proxied?.authority.toLowerCase() ?? "";
      if (authority === "" || !nameMatches(authority, this.ppAuthority, this.ppAuthoritySuffixes!)) return false;
    }
    if (this.tls !== null && (tls !== undefined) !== this.tls) return false;
    if (this.sni !== null && !(tls !== undefined && tls.serverName !== "" && nameMatches(tls.serverName, this.sni, this.sniSuffixes!))) return false;
    if (this.alpn !== null && !(tls !== undefined && includes(this.alpn, tls.alpn))) return false;
    return this.clientCert === null || includes(this.clientCert, tls === undefined ? "none" : tls.peerCertificate);
  }

  #hostMatches(head: HttpHead): boolean {
    const host = requestHost(head);
    return host !== undefined && nameMatches(host, this.hosts!, this.hostSuffixes!);
  }
}

/** `name` is one of `exact`, or ends in one of `suffixes` (".example.com") after a non-empty label. */
function nameMatches(name: string, exact: readonly string[], suffixes: readonly string[]): boolean {
  if (includes(exact, name)) return true;
  for (let i = 0; i < suffixes.length; i++) {
    const suffix = suffixes[i]!;
    // The suffix starts with ".", so a longer name ending in it has a non-empty label before it.
    if (name.length > suffix.length && name.endsWith(suffix)) return true;
  }
  return false;
}

function includes(list: readonly string[], value: string): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === value) return true;
  return false;
}

/** Compiles a condition once; test it per request with `matches`. */
export function compileCondition(config: ConditionConfig): RequestCondition {
  return new RequestCondition(config);
}

/** A compiled rule guard: `if` (negate false), `unless` (negate true), or none (always applies). */
export class RuleGuard {
  readonly condition: RequestCondition | null;
  readonly negate: boolean;

  constructor(condition: RequestCondition | null, negate: boolean) {
    this.condition = condition;
    this.negate = negate;
  }

  /** Whether the guarded rule applies to this request. */
  applies(head: HttpHead, clientAddress: string, client: ConditionClient | undefined = undefined): boolean {
    const condition = this.condition;
    return condition === null || condition.matches(head, clientAddress, client) !== this.negate;
  }
}

/** The guard of rules without `if`/`unless`. */
export const ALWAYS: RuleGuard = Object.freeze(new RuleGuard(null, false));

/** Compiles a rule's guard; null (no `if`/`unless`) gives ALWAYS. */
export function compileGuard(guard: RuleGuardConfig | null): RuleGuard {
  if (guard === null) return ALWAYS;
  return new RuleGuard(compileCondition(guard.condition), guard.negate);
}
