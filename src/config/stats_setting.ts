/**
 * The stats service of an http frontend: `stats-uri` (HAProxy's `stats uri`: the page, and its
 * `;csv` and `;json` forms; a list gives the page several paths), `metrics-uri` (Prometheus text, with HAProxy's exporter names),
 * `stats-refresh`, and who may read them: `stats-auth` (basic auth, HAProxy's `stats auth`),
 * `stats-realm` and `stats-allow` (source networks; others get a 403).
 *
 * Frontend keys only: HAProxy also takes `stats` in defaults, which mostly surprises people with a
 * stats page on every frontend.
 *
 * @module
 */

import { parseCidr } from "../core/cidr.ts";
import type { Cidr } from "../core/cidr.ts";
import type { ConfigPath, Reader, Table } from "./reader.ts";
import type { ProxyMode, StatsConfig } from "./types.ts";

/** The frontend keys read here. */
export const FRONTEND_STATS_KEYS = ["stats-uri", "metrics-uri", "stats-refresh", "stats-auth", "stats-realm", "stats-allow"] as const;

/** The page reloads itself this often unless `stats-refresh` says otherwise (HAProxy has none; an operator watching wants one). */
export const DEFAULT_STATS_REFRESH_MS = 10_000;
/** HAProxy's default realm is "HAProxy Statistics". */
export const DEFAULT_STATS_REALM = "Proxy Statistics";

function validPath(reader: Reader, path: ConfigPath, uri: string): boolean {
  if (uri.startsWith("/") && !uri.includes("?") && !uri.includes(";") && !/\s/.test(uri)) return true;
  reader.error(path, `Expected a path such as "/stats" (starting with "/", no query, no ";", no spaces), found "${uri}"`);
  return false;
}

function readPath(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const uri = reader.string(path, value);
  return uri !== undefined && validPath(reader, path, uri) ? uri : undefined;
}

/** A frontend's stats service, or null when it has neither `stats-uri` nor `metrics-uri`. */
export function readFrontendStats(reader: Reader, path: ConfigPath, table: Table, mode: ProxyMode): StatsConfig | null {
  const uris: string[] = [];
  for (const { text, path: at } of reader.stringList([...path, "stats-uri"], table["stats-uri"], `"/stats" or ["/", "/stats"]`) ?? []) {
    if (validPath(reader, at, text)) uris.push(text);
  }
  const metricsUri = readPath(reader, [...path, "metrics-uri"], table["metrics-uri"]) ?? null;
  const refresh = reader.duration([...path, "stats-refresh"], table["stats-refresh"]);
  const realmText = reader.string([...path, "stats-realm"], table["stats-realm"]);
  if (realmText !== undefined && (realmText.includes('"') || realmText.includes("\\") || /[\x00-\x1f]/.test(realmText))) {
    reader.error([...path, "stats-realm"], `A realm cannot hold quotes, backslashes or control characters, found "${realmText}"`);
  }
  const credentials: string[] = [];
  for (const { text, path: at } of reader.stringList([...path, "stats-auth"], table["stats-auth"], `"admin:secret"`) ?? []) {
    const colon = text.indexOf(":");
    if (colon <= 0) reader.error(at, `Expected "user:password", found "${text}"`);
    else credentials.push(text);
  }
  let allow: Cidr[] | null = null;
  const allowList = reader.stringList([...path, "stats-allow"], table["stats-allow"], `"127.0.0.1/8" or ["10.0.0.0/8", "::1/128"]`);
  if (allowList !== undefined) {
    allow = [];
    for (const { text, path: at } of allowList) {
      const parsed = parseCidr(text);
      if (typeof parsed === "string") reader.error(at, `Invalid network "${text}": ${parsed}`);
      else allow.push(parsed);
    }
  }
  const present = FRONTEND_STATS_KEYS.filter((key) => table[key] !== undefined);
  if (mode === "tcp") {
    for (const key of present) reader.warn([...path, key], `"${key}" has no effect in tcp mode: it answers http requests`);
    return null;
  }
  if (uris.length === 0 && metricsUri === null) {
    for (const key of present) reader.warn([...path, key], `"${key}" has no effect without "stats-uri" or "metrics-uri"`);
    return null;
  }
  if (metricsUri !== null && uris.includes(metricsUri)) {
    reader.error([...path, "metrics-uri"], `"metrics-uri" and "stats-uri" are both "${metricsUri}": give each its own path`);
  }
  return Object.freeze({
    uris: Object.freeze(uris),
    metricsUri,
    refresh: refresh ?? DEFAULT_STATS_REFRESH_MS,
    realm: realmText ?? DEFAULT_STATS_REALM,
    credentials: Object.freeze(credentials),
    allow: allow === null ? null : Object.freeze(allow),
  });
}
