/**
 * Takes a {@link StatsSnapshot} of a running proxy: copies the live counters and states of its
 * frontends, backends and servers (core/counters.ts) into plain data, with the process figures.
 * Runs when a reader asks (a stats page, a scrape, a runtime API command), never per request.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import type { TrafficCounters } from "../core/counters.ts";
import type { Backend } from "../core/backend.ts";
import type { Server } from "../core/server.ts";
import type { ServerCheck } from "../core/health/server_check.ts";
import { CHECK_STATUS_CODE } from "../core/health/probe.ts";
import type {
  BackendStats,
  CheckStats,
  FrontendStats,
  ProcessStats,
  ServerStats,
  StatsSnapshot,
  TimeStats,
  TrafficStats,
} from "../stats/snapshot.ts";
import { VERSION } from "../version.ts";
import type { Frontend } from "./frontend.ts";
import type { Proxy } from "./proxy.ts";

/** Shortest interval over which the idle share is measured again; shorter asks reuse the last figure. */
export const IDLE_SAMPLE_MIN_MS = 1_000;

/** Takes snapshots of one proxy; keeps what spans snapshots (start time, the CPU sample for the idle share). */
export class StatsCollector {
  private readonly runtime: Runtime;
  private readonly startedAt: number;
  private readonly startedAtWall: number;
  private sampleAt: number;
  private sampleCpuMicros = 0;
  private idlePercent = 100;

  constructor(runtime: Runtime) {
    this.runtime = runtime;
    this.startedAt = runtime.now();
    this.startedAtWall = runtime.wallClock();
    this.sampleAt = this.startedAt;
    this.sampleCpuMicros = runtime.resourceUsage().cpuMicros;
  }

  /** The proxy's counters and states now. */
  snapshot(proxy: Proxy, stopping = false): StatsSnapshot {
    const now = proxy.wheel.now > 0 ? Math.max(proxy.wheel.now, this.runtime.now()) : this.runtime.now();
    const checks = new Map<Server, ServerCheck>();
    for (const check of proxy.checks) checks.set(check.server, check);
    const frontends = proxy.frontends.map((frontend, index) => frontendStats(frontend, index + 1, now));
    const modes = new Map<string, "tcp" | "http">(proxy.config.backends.map((config) => [config.name, config.mode]));
    const algorithms = new Map<string, string>(proxy.config.backends.map((config) => [config.name, config.balance]));
    const backends = proxy.backends.map((backend, index) =>
      backendStats(backend, frontends.length + index + 1, modes.get(backend.name) ?? "tcp", algorithms.get(backend.name) ?? "", checks, proxy, now)
    );
    return { info: this.processStats(proxy, frontends, now, stopping), frontends, backends };
  }

  private processStats(proxy: Proxy, frontends: readonly FrontendStats[], now: number, stopping: boolean): ProcessStats {
    const usage = this.runtime.resourceUsage();
    const elapsed = now - this.sampleAt;
    if (elapsed >= IDLE_SAMPLE_MIN_MS || this.sampleAt === this.startedAt) {
      // The event loop is one thread: CPU time over wall time is its busy share (GC and I/O threads
      // count too, so under heavy load this reads a little low: documented in docs/operations.md).
      const busy = elapsed > 0 ? (usage.cpuMicros - this.sampleCpuMicros) / 1_000 / elapsed : 0;
      this.idlePercent = Math.round(100 * Math.min(1, Math.max(0, 1 - busy)));
      this.sampleAt = now;
      this.sampleCpuMicros = usage.cpuMicros;
    }
    let currentConnections = 0;
    let totalConnections = 0;
    let connectionRate = 0;
    let connectionRateMax = 0;
    let totalRequests = 0;
    let requestRate = 0;
    let requestRateMax = 0;
    for (const frontend of frontends) {
      currentConnections += frontend.sessionsCurrent;
      totalConnections += frontend.sessionsTotal;
      connectionRate += frontend.sessionRate;
      connectionRateMax = Math.max(connectionRateMax, frontend.sessionRateMax);
      totalRequests += frontend.requestsTotal;
      requestRate += frontend.requestRate;
      requestRateMax = Math.max(requestRateMax, frontend.requestRateMax);
    }
    const info = this.runtime.info;
    return {
      name: "proxy",
      version: VERSION,
      runtime: `${info.name} ${info.version}`,
      pid: this.runtime.pid,
      processes: 1,
      uptimeSeconds: Math.floor((now - this.startedAt) / 1_000),
      startedAt: this.startedAtWall,
      maxconn: proxy.config.global.maxconn,
      currentConnections,
      totalConnections,
      connectionRate,
      connectionRateMax: Math.max(connectionRateMax, connectionRate),
      totalRequests,
      requestRate,
      requestRateMax: Math.max(requestRateMax, requestRate),
      memoryRss: usage.rss,
      memoryHeapUsed: usage.heapUsed,
      idlePercent: this.idlePercent,
      stopping,
    };
  }
}

function trafficStats(counters: TrafficCounters, current: number, limit: number, now: number): TrafficStats {
  return {
    sessionsCurrent: current,
    sessionsMax: Math.max(counters.sessionsMax, current),
    sessionsLimit: limit,
    sessionsTotal: counters.sessionsTotal,
    sessionRate: counters.sessionRate.read(now),
    sessionRateMax: counters.sessionRate.max,
    bytesIn: counters.bytesIn,
    bytesOut: counters.bytesOut,
    deniedRequests: counters.deniedRequests,
    requestErrors: counters.requestErrors,
    connectionErrors: counters.connectionErrors,
    responseErrors: counters.responseErrors,
    retries: counters.retries,
    redispatches: counters.redispatches,
    responses: {
      "1xx": counters.responses1xx,
      "2xx": counters.responses2xx,
      "3xx": counters.responses3xx,
      "4xx": counters.responses4xx,
      "5xx": counters.responses5xx,
      other: counters.responsesOther,
    },
    requestsTotal: counters.requestsTotal,
    requestRate: counters.requestRate.read(now),
    requestRateMax: counters.requestRate.max,
    clientAborts: counters.clientAborts,
    serverAborts: counters.serverAborts,
    connectionsOpened: counters.connectionsOpened,
    connectionsReused: counters.connectionsReused,
  };
}

function timeStats(counters: TrafficCounters): TimeStats {
  return {
    queueTime: counters.queueTime.value,
    connectTime: counters.connectTime.value,
    responseTime: counters.responseTime.value,
    totalTime: counters.totalTime.value,
    queueTimeMax: counters.queueTime.max,
    connectTimeMax: counters.connectTime.max,
    responseTimeMax: counters.responseTime.max,
    totalTimeMax: counters.totalTime.max,
  };
}

function secondsSince(at: number, now: number): number {
  return at < 0 ? -1 : Math.max(0, Math.floor((now - at) / 1_000));
}

function frontendStats(frontend: Frontend, id: number, now: number): FrontendStats {
  const counters = frontend.counters;
  const maxconn = frontend.config.maxconn;
  const status = !frontend.isListening ? "STOP" : frontend.activeSessions >= maxconn ? "FULL" : "OPEN";
  return {
    ...trafficStats(counters, frontend.activeSessions, maxconn, now),
    name: frontend.name,
    id,
    mode: frontend.config.mode,
    status,
    intercepted: counters.intercepted,
    deniedConnections: counters.deniedConnections,
    failedHandshakes: frontend.failedHandshakes,
    failedProxyHeaders: frontend.failedProxyHeaders,
  };
}

function backendStats(
  backend: Backend,
  id: number,
  mode: "tcp" | "http",
  algorithm: string,
  checks: ReadonlyMap<Server, ServerCheck>,
  proxy: Proxy,
  now: number,
): BackendStats {
  const counters = backend.counters;
  const servers = backend.servers.map((server) => serverStats(server, checks.get(server) ?? null, proxy, now));
  let weight = 0;
  let configuredWeight = 0;
  let downTransitions = 0;
  let opened = 0;
  let reused = 0;
  for (let index = 0; index < backend.servers.length; index++) {
    const server = backend.servers[index]!;
    configuredWeight += server.configuredWeight;
    // HAProxy's backend weight: the active servers usable now (the backups while they serve).
    if (server.isUsable() && (!server.backup || backend.usableActive === 0)) weight += server.weight;
    downTransitions += server.downTransitions;
    opened += servers[index]!.connectionsOpened;
    reused += servers[index]!.connectionsReused;
  }
  const traffic = trafficStats(counters, backend.activeConnections, 0, now);
  return {
    ...traffic,
    ...timeStats(counters),
    // A backend counts each http request as a session: its request total is its session total.
    requestsTotal: mode === "http" ? counters.sessionsTotal : 0,
    connectionsOpened: opened,
    connectionsReused: reused,
    name: backend.name,
    id,
    mode,
    algorithm,
    status: backend.usableActive + backend.usableBackup > 0 ? "UP" : "DOWN",
    queueCurrent: backend.queue.length,
    queueMax: Math.max(counters.queueMax, backend.queue.length),
    weight: Math.round(weight),
    configuredWeight,
    activeServers: backend.usableActive,
    backupServers: backend.usableBackup,
    downTransitions,
    lastChangeSeconds: secondsSince(backend.lastChangeAt, now),
    downtimeSeconds: Math.floor(backend.downtime(now) / 1_000),
    lastSessionSeconds: secondsSince(counters.lastSessionAt, now),
    selectedTotal: backend.totalConnections,
    queueFailures: backend.queueFailures,
    servers,
  };
}

function serverStats(server: Server, check: ServerCheck | null, proxy: Proxy, now: number): ServerStats {
  const counters = server.counters;
  let status = server.describeState();
  if (check === null && status === "UP") status = "no check";
  return {
    ...trafficStats(counters, server.activeConnections, server.maxconn, now),
    ...timeStats(counters),
    requestsTotal: 0,
    name: server.name,
    id: server.index + 1,
    address: server.port === null ? server.host : `${server.host.includes(":") ? `[${server.host}]` : server.host}:${server.port}`,
    status,
    weight: Math.round(server.weight),
    configuredWeight: server.configuredWeight,
    backup: server.backup,
    queueCurrent: server.queue.length,
    queueMax: Math.max(counters.queueMax, server.queue.length),
    queueLimit: server.maxqueue,
    throttlePercent: Math.round(server.rampFraction * 100),
    checkFailures: server.checkFailures,
    downTransitions: server.downTransitions,
    lastChangeSeconds: secondsSince(server.lastChangeAt, now),
    downtimeSeconds: Math.floor(server.downtime(now) / 1_000),
    lastSessionSeconds: secondsSince(counters.lastSessionAt, now),
    selectedTotal: server.totalConnections,
    check: check === null ? null : checkStats(check, server),
    idleConnections: proxy.serverPool.idleCount(server),
  };
}

function checkStats(check: ServerCheck, server: Server): CheckStats {
  const result = check.lastResult;
  const counter = check.counter;
  let status = result === null ? "INI" : CHECK_STATUS_CODE[result.status] ?? "UNK";
  if (server.maintenance) status = "MAINT";
  return {
    status,
    description: result === null ? "Initializing" : result.status,
    code: result?.code ?? null,
    durationMs: check.lastDuration,
    rise: counter.rise,
    fall: counter.fall,
    health: counter.health,
    enabled: check.enabled,
  };
}
