/**
 * The keys a frontend offers the tier in front of it (a DNS or ECMP balancer, keepalived, a cloud
 * balancer, Kubernetes): `monitor-uri` (HAProxy's keyword), `monitor-fail` (HAProxy's
 * `monitor fail if { nbsrv(app) lt 2 }`) and `grace` (HAProxy's per-proxy `grace`).
 *
 * `monitor-uri` and `grace` may be set in [defaults], as in HAProxy; `monitor-fail` names
 * backends and belongs to one frontend (HAProxy allows `monitor fail` in frontends only).
 *
 * @module
 */

import type { ConfigPath, Reader, Table } from "./reader.ts";
import type { MonitorConfig, MonitorFailConfig, ProxyMode } from "./types.ts";

/** Keys of [defaults] read here. */
export const DEFAULTS_MONITOR_KEYS = ["monitor-uri", "grace"] as const;
/** Keys of a frontend read here. */
export const FRONTEND_MONITOR_KEYS = ["monitor-uri", "monitor-fail", "grace"] as const;

const MONITOR_FAIL_KEYS = ["backend", "min-servers"] as const;

/** A minimum beyond any realistic backend, to catch a typo rather than a design. */
const MAX_MIN_SERVERS = 65_535;

/** What a frontend inherits from [defaults]: the URI (null: none) and the grace, ms. */
export interface DefaultsMonitor {
  readonly uri: string | null;
  readonly grace: number;
}

/** Neither [defaults] nor the frontend sets them: no health endpoint, no grace (today's stop). */
export const NO_DEFAULTS_MONITOR: DefaultsMonitor = Object.freeze({ uri: null, grace: 0 });

/** A backend named by `monitor-fail`, checked once every backend is read. */
export interface MonitorReference {
  readonly backend: string;
  readonly path: ConfigPath;
}

function readUri(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const uri = reader.string(path, value);
  if (uri === undefined) return undefined;
  // Compared with the request's path (the query left out), so it must look like one.
  if (!uri.startsWith("/") || uri.includes("?") || /[\s]/.test(uri)) {
    reader.error(path, `Expected a path such as "/healthz" (starting with "/", no query, no spaces), found "${uri}"`);
    return undefined;
  }
  return uri;
}

/** `monitor-uri` and `grace` of [defaults]. */
export function readDefaultsMonitor(reader: Reader, table: Table): DefaultsMonitor {
  const uri = readUri(reader, ["defaults", "monitor-uri"], table["monitor-uri"]);
  const grace = reader.duration(["defaults", "grace"], table.grace);
  if (uri === undefined && grace === undefined) return NO_DEFAULTS_MONITOR;
  return Object.freeze({ uri: uri ?? null, grace: grace ?? 0 });
}

/**
 * A frontend's monitor (null: none) and grace, over what [defaults] gives. A monitor-uri set in a
 * tcp frontend is warned about and dropped (there is no request to look at); one inherited from
 * [defaults] is dropped silently, as the other http keys are. Backends named by `monitor-fail` are
 * pushed to `references`.
 */
export function readFrontendMonitor(
  reader: Reader,
  path: ConfigPath,
  table: Table,
  inherited: DefaultsMonitor,
  mode: ProxyMode,
  references: MonitorReference[],
): { monitor: MonitorConfig | null; grace: number } {
  const grace = reader.duration([...path, "grace"], table.grace) ?? inherited.grace;
  const uri = readUri(reader, [...path, "monitor-uri"], table["monitor-uri"]) ?? inherited.uri;
  const fail = readFail(reader, [...path, "monitor-fail"], table["monitor-fail"], references);
  if (mode === "tcp") {
    for (const key of ["monitor-uri", "monitor-fail"] as const) {
      if (table[key] !== undefined) reader.warn([...path, key], `"${key}" has no effect in tcp mode: it answers http requests`);
    }
    return { monitor: null, grace };
  }
  if (uri === null) {
    if (table["monitor-fail"] !== undefined) {
      reader.warn([...path, "monitor-fail"], `"monitor-fail" has no effect without "monitor-uri": nothing answers the monitor`);
    }
    return { monitor: null, grace };
  }
  return { monitor: Object.freeze({ uri, fail: Object.freeze(fail) }), grace };
}

function readFail(reader: Reader, path: ConfigPath, value: unknown, references: MonitorReference[]): MonitorFailConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    reader.error(path, `Expected an array of conditions such as [{ backend = "app", min-servers = 2 }]`);
    return [];
  }
  const conditions: MonitorFailConfig[] = [];
  value.forEach((entry, index) => {
    const at = [...path, index];
    const table = reader.table(at, entry, MONITOR_FAIL_KEYS);
    if (table === undefined) return;
    const backend = reader.string([...at, "backend"], table.backend);
    const minServers = reader.integer([...at, "min-servers"], table["min-servers"], 1, MAX_MIN_SERVERS);
    if (table.backend === undefined) reader.error(at, `A monitor-fail condition needs "backend": the backend whose servers are counted`);
    if (table["min-servers"] === undefined) reader.error(at, `A monitor-fail condition needs "min-servers": the fewest usable servers that still answer 200`);
    if (backend === undefined || minServers === undefined) return;
    references.push({ backend, path: [...at, "backend"] });
    conditions.push(Object.freeze({ backend, minServers }));
  });
  return conditions;
}
