/**
 * The matchers that pick requests (host, path, path-prefix, path-regex, method, header, source),
 * read into a `ConditionConfig`. Routes and the `if` / `unless` guards of rules share them, so a
 * request is tested the same way wherever a condition is written.
 *
 * @module
 */

import { parseCidr } from "../core/cidr.ts";
import type { Cidr } from "../core/cidr.ts";
import { HEADER_NAME, pathProblem, readHeaderName } from "./http_syntax.ts";
import { describe, isTable } from "./reader.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import type { ConditionConfig, HeaderMatcherConfig, RuleGuardConfig } from "./types.ts";
import type { PeerCertificateState } from "../runtime/types.ts";

/** Matchers of a route and of an `if` / `unless` condition. */
export const MATCHER_KEYS = [
  "host", "path", "path-prefix", "path-regex", "method", "header", "source", "tls", "sni", "alpn", "client-cert",
  "pp-authority",
] as const;
const CLIENT_CERT_STATES: readonly PeerCertificateState[] = ["none", "valid", "invalid"];
const HEADER_MATCHER_KEYS = ["name", "present", "equals", "regex"] as const;

/** A method is a token too (RFC 9110 9.1). */
const TOKEN = HEADER_NAME;

const HOST_LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
/** A host name in lower case, optionally "*." and a host name (any subdomain of it). */
export const HOST_NAME = new RegExp(`^(?:\\*\\.)?${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

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

/** Reads the matchers of a route or a condition (the table's keys are already checked); null keys: not given. */
export function readCondition(reader: Reader, path: ConfigPath, table: Table): { condition: ConditionConfig; matchers: number } {
  const matchers = MATCHER_KEYS.filter((key) => table[key] !== undefined).length;
  const readHosts = (key: "host" | "sni" | "pp-authority"): string[] | null => {
    const list = reader.stringList([...path, key], table[key], `"example.com" or ["example.com", "*.example.com"]`);
    if (list === undefined) return null;
    const result: string[] = [];
    for (const { text, path: at } of list) {
      const parsed = parseHost(text);
      if ("problem" in parsed) reader.error(at, `Invalid ${key} "${text}": ${parsed.problem}`);
      else result.push(parsed.host);
    }
    return result;
  };
  const hosts = readHosts("host");
  const sni = readHosts("sni");
  const ppAuthority = readHosts("pp-authority");
  const alpnList = reader.stringList([...path, "alpn"], table.alpn, `"http/1.1" or ["h2", "http/1.1"]`);
  const alpn = alpnList === undefined ? null : alpnList.map(({ text }) => text);
  let clientCert: PeerCertificateState[] | null = null;
  const certList = reader.stringList([...path, "client-cert"], table["client-cert"], `"valid" or ["none", "invalid"]`);
  if (certList !== undefined) {
    clientCert = [];
    for (const { text, path: at } of certList) {
      const state = reader.oneOf(at, text, CLIENT_CERT_STATES);
      if (state !== undefined) clientCert.push(state);
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
      tls: reader.boolean([...path, "tls"], table.tls) ?? null,
      sni: freeze(sni),
      alpn: freeze(alpn),
      clientCert: freeze(clientCert),
      ppAuthority: freeze(ppAuthority),
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
    const name = readHeaderName(reader, [...itemPath, "name"], table.name, false);
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
export function readGuard(reader: Reader, path: ConfigPath, table: Table): RuleGuardConfig | null {
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
