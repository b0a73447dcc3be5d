/**
 * The http-mode keys that frontends, backends and [defaults] share (`http-request`,
 * `http-response`, `errorfiles`, `http-connection-mode`, `http-no-delay`), read over what the
 * section inherits, and the warnings for http-only keys set in a tcp-mode section.
 *
 * @module
 */

import { readErrorFiles } from "./errorfiles.ts";
import { isResponseRule, readRules } from "./http_rules.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import type { HttpConnectionMode, HttpSectionConfig, ProxyMode } from "./types.ts";

/** http-mode keys of frontends, backends and [defaults]. */
export const HTTP_SECTION_KEYS = ["http-request", "http-response", "errorfiles", "http-connection-mode", "http-no-delay"] as const;

const CONNECTION_MODES: readonly HttpConnectionMode[] = ["http-keep-alive", "http-server-close", "httpclose"];

/** Why a key of an http-mode section does nothing in a tcp-mode one (a warning). */
const TCP_MODE_NO_EFFECT: Record<string, string> = {
  errorfiles: "it replaces error pages of http responses",
  "http-connection-mode": "it applies to http connections",
  "http-no-delay": "it applies to http message bodies",
  "http-reuse": "it applies to server connections carrying http requests",
};

/** What a section has when neither it nor [defaults] sets an http key. */
export const DEFAULT_HTTP_SECTION: HttpSectionConfig = Object.freeze({
  httpRequestRules: Object.freeze([]),
  httpResponseRules: Object.freeze([]),
  errorFiles: Object.freeze([]),
  connectionMode: "http-keep-alive",
  httpNoDelay: false,
});

/** The keys of HttpSectionConfig in a section, over the inherited ones (the same object when none is set). */
export function readHttpSection(
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

export function warnNoEffectInTcp(reader: Reader, path: ConfigPath, table: Table, keys: readonly string[]): void {
  for (const key of keys) {
    if (table[key] !== undefined) reader.warn([...path, key], `"${key}" has no effect in tcp mode: ${TCP_MODE_NO_EFFECT[key]}`);
  }
}
