/**
 * Realistic snapshots for the stats readers' tests: an http frontend and a tcp one, an http
 * backend whose servers are in every kind of state (up and checked, down, in maintenance,
 * draining, going down, a backup without checks), and a tcp backend. Every counter of an object
 * has its own value (derived from a seed), so a column read from the wrong field shows.
 *
 * @module
 */

import type {
  BackendStats,
  CheckStats,
  FrontendStats,
  ProcessStats,
  ServerStats,
  StatsSnapshot,
  TimeStats,
  TrafficStats,
} from "../../src/stats/snapshot.ts";

/** 2025-01-01T00:00:00Z, when the fixture's process started. */
export const FIXTURE_STARTED_AT = Date.UTC(2025, 0, 1, 0, 0, 0);

/** Counters of one object, each a different number: seed * 1000 + its position. */
export function traffic(seed: number): TrafficStats {
  const n = (position: number) => seed * 1_000 + position;
  return {
    sessionsCurrent: n(1),
    sessionsMax: n(2),
    sessionsLimit: n(3),
    sessionsTotal: n(4),
    sessionRate: n(5),
    sessionRateMax: n(6),
    bytesIn: n(7),
    bytesOut: n(8),
    deniedRequests: n(9),
    requestErrors: n(10),
    connectionErrors: n(11),
    responseErrors: n(12),
    retries: n(13),
    redispatches: n(14),
    responses: { "1xx": n(15), "2xx": n(16), "3xx": n(17), "4xx": n(18), "5xx": n(19), other: n(20) },
    requestsTotal: n(21),
    requestRate: n(22),
    requestRateMax: n(23),
    clientAborts: n(24),
    serverAborts: n(25),
    connectionsOpened: n(26),
    connectionsReused: n(27),
  };
}

/** Time averages and maxima, ms, each different. */
export function times(seed: number): TimeStats {
  return {
    queueTime: seed + 1,
    connectTime: seed + 2,
    responseTime: seed + 3,
    totalTime: seed + 4,
    queueTimeMax: seed * 10 + 1,
    connectTimeMax: seed * 10 + 2,
    responseTimeMax: seed * 10 + 3,
    totalTimeMax: seed * 10 + 4,
  };
}

export function processStats(overrides: Partial<ProcessStats> = {}): ProcessStats {
  return {
    name: "proxy",
    version: "0.1.0",
    runtime: "node 24.21.0",
    pid: 4242,
    processes: 1,
    uptimeSeconds: 3_725,
    startedAt: FIXTURE_STARTED_AT,
    maxconn: 4_096,
    currentConnections: 7,
    totalConnections: 1_500,
    connectionRate: 12,
    connectionRateMax: 80,
    totalRequests: 9_000,
    requestRate: 30,
    requestRateMax: 250,
    memoryRss: 52_428_800,
    memoryHeapUsed: 10_485_760,
    idlePercent: 97,
    stopping: false,
    ...overrides,
  };
}

export function frontend(overrides: Partial<FrontendStats> & { seed?: number } = {}): FrontendStats {
  const { seed = 1, ...rest } = overrides;
  return {
    ...traffic(seed),
    name: "http-in",
    id: 1,
    mode: "http",
    status: "OPEN",
    intercepted: seed * 1_000 + 30,
    deniedConnections: seed * 1_000 + 31,
    failedHandshakes: seed * 1_000 + 32,
    failedProxyHeaders: seed * 1_000 + 33,
    ...rest,
  };
}

export function check(overrides: Partial<CheckStats> = {}): CheckStats {
  return {
    status: "L7OK",
    description: "Layer7 check passed",
    code: 200,
    durationMs: 3,
    rise: 2,
    fall: 3,
    health: 4,
    enabled: true,
    ...overrides,
  };
}

export function server(overrides: Partial<ServerStats> & { seed?: number } = {}): ServerStats {
  const { seed = 10, ...rest } = overrides;
  return {
    ...traffic(seed),
    ...times(seed),
    sessionsLimit: 0,
    name: "web1",
    id: 1,
    address: "10.0.0.1:8080",
    status: "UP",
    weight: 100,
    configuredWeight: 100,
    backup: false,
    queueCurrent: seed * 1_000 + 40,
    queueMax: seed * 1_000 + 41,
    queueLimit: 0,
    throttlePercent: 100,
    checkFailures: seed * 1_000 + 42,
    downTransitions: seed * 1_000 + 43,
    lastChangeSeconds: seed * 1_000 + 44,
    downtimeSeconds: seed * 1_000 + 45,
    lastSessionSeconds: seed * 1_000 + 46,
    selectedTotal: seed * 1_000 + 47,
    check: check(),
    idleConnections: seed * 1_000 + 48,
    ...rest,
  };
}

export function backend(overrides: Partial<BackendStats> & { seed?: number } = {}): BackendStats {
  const { seed = 5, ...rest } = overrides;
  return {
    ...traffic(seed),
    ...times(seed),
    name: "app",
    id: 3,
    mode: "http",
    algorithm: "roundrobin",
    status: "UP",
    queueCurrent: seed * 1_000 + 40,
    queueMax: seed * 1_000 + 41,
    weight: 200,
    configuredWeight: 300,
    activeServers: 2,
    backupServers: 1,
    downTransitions: seed * 1_000 + 43,
    lastChangeSeconds: seed * 1_000 + 44,
    downtimeSeconds: seed * 1_000 + 45,
    lastSessionSeconds: seed * 1_000 + 46,
    selectedTotal: seed * 1_000 + 47,
    queueFailures: seed * 1_000 + 49,
    servers: [],
    ...rest,
  };
}

/** Two frontends, an http backend with servers in six states, a tcp backend with one server going down. */
export function makeSnapshot(): StatsSnapshot {
  return {
    info: processStats(),
    frontends: [
      frontend({ seed: 1, name: "http-in", id: 1, mode: "http" }),
      frontend({ seed: 2, name: "tcp-in", id: 2, mode: "tcp", status: "FULL" }),
    ],
    backends: [
      backend({
        seed: 5,
        name: "app",
        id: 3,
        servers: [
          server({ seed: 11, name: "web1", id: 1, sessionsLimit: 50, queueLimit: 20 }),
          server({
            seed: 12,
            name: "web2",
            id: 2,
            address: "10.0.0.2:8080",
            status: "DOWN",
            check: check({ status: "L4CON", description: "Layer4 connection problem", code: null, durationMs: 1, health: 0 }),
          }),
          server({ seed: 13, name: "web3", id: 3, address: "10.0.0.3:8080", status: "MAINT", check: check({ status: "MAINT" }) }),
          server({ seed: 14, name: "web4", id: 4, address: "10.0.0.4:8080", status: "DRAIN", throttlePercent: 40 }),
          server({ seed: 15, name: "spare", id: 5, address: "10.0.0.5:8080", status: "no check", backup: true, check: null }),
        ],
      }),
      backend({
        seed: 6,
        name: "db",
        id: 4,
        mode: "tcp",
        algorithm: "leastconn",
        weight: 1,
        configuredWeight: 1,
        activeServers: 1,
        backupServers: 0,
        servers: [
          server({
            seed: 16,
            name: "db1",
            id: 1,
            address: "10.0.1.1:5432",
            status: "UP 2/3",
            weight: 1,
            configuredWeight: 1,
            check: check({ status: "L4TOUT", description: "Layer4 timeout", code: null, durationMs: 2001, health: 3 }),
          }),
        ],
      }),
    ],
  };
}
