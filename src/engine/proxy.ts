/**
 * Builds a running proxy from a validated Config: resolves server addresses, creates backends and
 * frontends, binds the listeners.
 *
 * @module
 */

import type { TlsClientOptions } from "../runtime/types.ts";
import type { ServerTlsConfig } from "../config/types.ts";
import { serverTlsNames } from "../config/server_tls.ts";
import { checkSendsProxy } from "../config/send_proxy.ts";
import type { Runtime } from "../runtime/types.ts";
import { useByteSlabs } from "../core/byte_slab.ts";
import { NetError } from "../runtime/net_error.ts";
import { Backend } from "../core/backend.ts";
import type { BackendServices } from "../core/backend.ts";
import type { Logger } from "../core/logger.ts";
import { SILENT_LOGGER, teeLogger } from "../core/logger.ts";
import { TimerWheel } from "../core/timer_wheel.ts";
import type { ServerSpec } from "../core/server.ts";
import { firstCheckDelay, ServerCheck } from "../core/health/server_check.ts";
import type { HealthProbe } from "../core/health/probe.ts";
import type { BackendConfig, Config, HealthCheckConfig } from "../config/types.ts";
import { TcpConnectProbe } from "../tcp/connect_probe.ts";
import { HttpCheckProbe } from "../http/check_probe.ts";
import { ServerPool } from "../http/server_pool.ts";
import { buildHttpFrontendPolicy } from "../http/policy.ts";
import { SniRouter } from "../tcp/sni_router.ts";
import { Frontend } from "./frontend.ts";
import type { InheritedListeners, ProcessLimit } from "./frontend.ts";
import { LogTargets } from "./log_targets.ts";
import { StatsCollector } from "./stats_snapshot.ts";
import type { PeerStats } from "./peer_stats.ts";
import type { StatsServices } from "../http/policy.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";
import { STATS_RENDERERS } from "../stats/renderers.ts";

/** A proxy built from a Config: call `start` (or `prepare`, then `listen`) to serve. */
export class Proxy {
  readonly config: Config;
  readonly runtime: Runtime;
  /**
   * Operator messages: the logger given, and from `start` on also the [global] log targets at
   * HAProxy's severities.
   */
  logger: Logger;
  /** The log targets, open from `start` on (null before). */
  logTargets: LogTargets | null = null;
  readonly wheel: TimerWheel;
  /** Idle keep-alive connections to servers, shared by every http frontend. */
  readonly serverPool: ServerPool;
  frontends: readonly Frontend[] = [];
  backends: readonly Backend[] = [];
  /** The health checks of every checked server, running once started. */
  checks: readonly ServerCheck[] = [];
  /** Takes the snapshots the stats readers show. */
  readonly stats: StatsCollector;
  /** A graceful stop began (`beginStop`). */
  private stopping = false;
  /** A -W worker's peers' counters: its stats pages then show the whole proxy (null: this process is the whole proxy). */
  peers: PeerStats | null = null;
  private readonly limit: ProcessLimit;
  private listening = false;
  private prepared = false;
  private checksStarted = false;

  /** Listening sockets handed down by a -W master, adopted instead of bound; null: bind them all. */
  private readonly inherited: InheritedListeners | null;
  private readonly tlsTicketKeys: Uint8Array | undefined;

  /**
   * `tlsTicketKeys`: session ticket keys shared with the other processes serving the same binds
   * (a -W master hands its workers the same keys, generation after generation).
   */
  constructor(config: Config, runtime: Runtime, logger: Logger, inherited: InheritedListeners | null = null, tlsTicketKeys?: Uint8Array) {
    this.tlsTicketKeys = tlsTicketKeys;
    this.inherited = inherited;
    this.config = config;
    this.runtime = runtime;
    this.logger = logger;
    useByteSlabs(runtime.info.byteSlabs);
    this.wheel = new TimerWheel(runtime, undefined, (error) => {
      logger.error(`Timer callback failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    this.serverPool = new ServerPool(this.wheel, () => runtime.now());
    this.stats = new StatsCollector(runtime);
    const proxy = this;
    this.limit = {
      maxconn: config.global.maxconn,
      active: 0,
      slotFreed() {
        for (const frontend of proxy.frontends) frontend.startParked();
      },
    };
  }

  /**
   * Resolves servers, builds everything and binds every frontend: `prepare` then `listen`. Rejects
   * with the first error, after closing whatever it opened (log targets, listeners, timers).
   */
  async start(): Promise<void> {
    await this.prepare();
    try {
      await this.listen();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * Builds everything without binding: resolves server, check and log-target addresses, opens the
   * log targets (from here on `logger` also reaches the [global] targets), creates backends, health
   * checks (not running yet) and frontends. Called once; `listen` binds afterwards. A reload
   * hand-over (src/lifecycle/handover.ts) needs the two apart: everything that can fail for a
   * reason of our own fails here, before the old process is disturbed. Rejects with the first
   * error after closing what it opened.
   */
  async prepare(): Promise<void> {
    if (this.prepared) throw new Error("The proxy is already prepared");
    this.prepared = true;
    const logTargets = await LogTargets.open(this.config, this.runtime, this.logger);
    this.logTargets = logTargets;
    if (logTargets.global.length > 0) this.logger = teeLogger(this.logger, logTargets.operatorLog);
    try {
      await this.build(logTargets);
    } catch (error) {
      // Nothing listens: the log sockets and timers must not outlive the failed start.
      await this.close();
      throw error;
    }
  }

  private async build(logTargets: LogTargets): Promise<void> {
    const backends = new Map<string, Backend>();
    for (const backendConfig of this.config.backends) {
      backends.set(backendConfig.name, await this.buildBackend(backendConfig));
    }
    this.backends = [...backends.values()];
    this.checks = await this.buildChecks();
    const byName = new Map(this.config.backends.map((config) => [config.name, { backend: backends.get(config.name)!, config }]));
    const bufsize = this.config.global.tune.bufsize;
    const statsShown = this.showsStats;
    const statsServices: StatsServices | null = statsShown ? { source: { snapshot: () => this.wholeSnapshot() }, renderers: STATS_RENDERERS } : null;
    this.frontends = this.config.frontends.map((frontendConfig) => {
      const backend = backends.get(frontendConfig.defaultBackend) ?? null;
      const trafficLog = logTargets.trafficLog(frontendConfig);
      if (frontendConfig.mode === "http") {
        const policy = buildHttpFrontendPolicy(frontendConfig, byName, this.config.global.tune, statsServices);
        return new Frontend(frontendConfig, backend, this.runtime, this.wheel, this.logger, this.limit, this.serverPool, policy, trafficLog, this.inherited, bufsize);
      }
      const known = (name: string): Backend => {
        const found = backends.get(name);
        if (found === undefined) throw new Error(`Frontend "${frontendConfig.name}" uses unknown backend "${name}"`);
        return found;
      };
      const fallback = frontendConfig.defaultBackend === "" ? null : known(frontendConfig.defaultBackend);
      const sniRouter = frontendConfig.sniRoutes.length === 0
        ? null
        : new SniRouter(frontendConfig.sniRoutes.map((route) => ({ names: route.names, target: known(route.backend) })), fallback);
      return new Frontend(frontendConfig, fallback, this.runtime, this.wheel, this.logger, this.limit, this.serverPool, null, trafficLog, this.inherited, bufsize, sniRouter);
    });
    for (const frontend of this.frontends) {
      frontend.tlsTicketKeys = this.tlsTicketKeys;
      // The time averages need every session's timers once anything shows them.
      if (statsShown) frontend.timed = true;
    }
  }

  /** Something shows the counters: a frontend's stats page or metrics, or the runtime API (`show stat`). */
  get showsStats(): boolean {
    return this.config.global.statsSockets.length > 0 || this.config.frontends.some((frontend) => frontend.stats !== null);
  }

  /** The counters and states now, for the stats readers. */
  snapshot(): StatsSnapshot {
    return this.stats.snapshot(this, this.stopping);
  }

  /** This process's snapshot merged with its peers' (a -W worker's, see peer_stats.ts): what the stats pages show. */
  wholeSnapshot(): StatsSnapshot {
    const own = this.snapshot();
    return this.peers === null ? own : this.peers.merged(own, this.runtime.now());
  }

  /**
   * Binds every frontend, all or none: on failure those already bound are closed again and the
   * first error (a NetError: EADDRINUSE...) is rethrown, leaving the proxy as it was, so the
   * caller may retry (the -sf fallback does, every 10 ms). After `prepare`; also listens again
   * after `stopListening` (SIGTTIN), on the same ports as before even where 0 was configured. The
   * first success starts the health checks: only a proxy that serves checks its servers.
   */
  async listen(): Promise<void> {
    if (!this.prepared) throw new Error("The proxy must be prepared before it listens");
    if (this.listening) return;
    const bound: Frontend[] = [];
    try {
      for (const frontend of this.frontends) {
        await frontend.bind();
        bound.push(frontend);
      }
    } catch (error) {
      await Promise.all(bound.map((frontend) => frontend.unbind()));
      throw error;
    }
    this.listening = true;
    if (!this.checksStarted) {
      this.checksStarted = true;
      this.checks.forEach((check, position) => check.start(firstCheckDelay(position, this.checks.length, check.interval)));
    }
  }

  /** Stops accepting (graceful stop, pause); established sessions go on. `listen` binds again. */
  async stopListening(): Promise<void> {
    this.listening = false;
    await Promise.all(this.frontends.map((frontend) => frontend.unbind()));
  }

  /** The longest `grace` of the frontends, ms: a graceful stop keeps listening that long with its monitors failing. */
  get grace(): number {
    return Math.max(0, ...this.config.frontends.map((frontend) => frontend.grace));
  }

  /** A graceful stop began: every monitor-uri answers 503 from now on (for good). */
  beginStop(): void {
    this.stopping = true;
    for (const frontend of this.frontends) frontend.httpPolicy?.monitor?.beginStop();
  }

  /** True while the listeners are bound. */
  get isListening(): boolean {
    return this.listening;
  }

  /** Sessions running in all frontends. */
  get activeSessions(): number {
    return this.limit.active;
  }

  /** Resolves when every frontend has no session left. */
  async whenIdle(): Promise<void> {
    await Promise.all(this.frontends.map((frontend) => frontend.whenIdle()));
  }

  /**
   * Stops the listeners (if still bound), the checks and the timer wheel so nothing keeps the
   * event loop alive, then sends the last log lines (waiting a bounded time for a slow target).
   * Call after the sessions ended, or just before the process exits (sessions still running are
   * not closed: the exit cuts them).
   */
  async close(): Promise<void> {
    if (this.listening) await this.stopListening();
    for (const check of this.checks) check.stop();
    for (const backend of this.backends) backend.close();
    this.serverPool.closeAll();
    this.wheel.close();
    const logTargets = this.logTargets;
    this.logTargets = null;
    await logTargets?.close();
  }

  private async buildBackend(config: BackendConfig): Promise<Backend> {
    const hosts: string[] = [];
    for (const server of config.servers) {
      try {
        hosts.push((await this.runtime.lookup(server.host))[0]!);
      } catch (error) {
        const code = error instanceof NetError ? error.code : "ENOTFOUND";
        throw new NetError(code, `Cannot resolve "${server.host}" for server "${config.name}/${server.name}"`, {
          cause: error,
        });
      }
    }
    return buildBackend(config, hosts, { logger: this.logger, wheel: this.wheel });
  }

  /** One check per server that has one; check addresses are resolved now, once, as server addresses. */
  private async buildChecks(): Promise<ServerCheck[]> {
    const checks: ServerCheck[] = [];
    for (const backend of this.backends) {
      const config = this.config.backends.find((candidate) => candidate.name === backend.name)!;
      for (const [index, serverConfig] of config.servers.entries()) {
        const check = serverConfig.check;
        if (check === null) continue;
        const server = backend.servers[index]!;
        let host = server.host;
        if (check.address !== null) {
          try {
            host = (await this.runtime.lookup(check.address))[0]!;
          } catch (error) {
            const code = error instanceof NetError ? error.code : "ENOTFOUND";
            throw new NetError(code, `Cannot resolve "${check.address}" for the check of server "${backend.name}/${server.name}"`, {
              cause: error,
            });
          }
        }
        // The validator requires a check port when the server has none.
        const port = check.port ?? server.port!;
        // As HAProxy's `ssl` implies `check-ssl` when the check goes to the server itself.
        const ownAddress = check.address === null && (check.port === null || check.port === server.port);
        const tls = ownAddress ? server.tls : undefined;
        const sendProxy = serverConfig.sendProxy;
        // HAProxy: v2 when the server's traffic gets v2, else v1.
        const proxyHeader = checkSendsProxy(sendProxy, ownAddress) ? (sendProxy.version === 2 ? 2 : 1) : 0;
        checks.push(new ServerCheck(backend, server, check, this.probe(check, host, port, tls, proxyHeader), this.wheel, this.runtime, this.logger));
      }
    }
    return checks;
  }

  private probe(check: HealthCheckConfig, host: string, port: number, tls: TlsClientOptions | undefined, proxyHeader: 0 | 1 | 2): HealthProbe {
    return check.http !== null && check.type === "http"
      ? new HttpCheckProbe(this.runtime, host, port, check.http, tls, proxyHeader)
      : new TcpConnectProbe(this.runtime, host, port, tls, proxyHeader);
  }
}

/** The runtime's options for TLS towards a server (names from `serverTlsNames`). */
export function serverTlsOptions(tls: ServerTlsConfig, addressHost: string): TlsClientOptions {
  const { serverName, verifyName } = serverTlsNames(tls, addressHost);
  return Object.freeze({
    serverName,
    verify: tls.verify,
    verifyName,
    ...(tls.ca === null ? {} : { ca: tls.ca }),
    ...(tls.certificate === null ? {} : { certificate: tls.certificate }),
    alpn: tls.alpn,
    minVersion: tls.minVersion,
  });
}

/** A running backend from its configuration, with each server's resolved address (`hosts[i]` for `config.servers[i]`). */
export function buildBackend(
  config: BackendConfig,
  hosts: readonly string[],
  services: BackendServices = { logger: SILENT_LOGGER, wheel: null },
): Backend {
  const servers: ServerSpec[] = config.servers.map((server, index) => ({
    name: server.name,
    host: hosts[index]!,
    port: server.port,
    weight: server.weight,
    maxconn: server.maxconn,
    maxqueue: server.maxqueue,
    backup: server.backup,
    disabled: server.disabled,
    slowstart: server.slowstart,
    ...(server.tls === null ? {} : { tls: serverTlsOptions(server.tls, server.host), tlsSniFromHost: server.tls.sniFromHost }),
    ...(server.sendProxy.version === 0
      ? {}
      : { proxyHeader: Object.freeze({ version: server.sendProxy.version, ssl: server.sendProxy.ssl, sslCn: server.sendProxy.sslCn }) }),
  }));
  return new Backend({
    name: config.name,
    balance: config.balance,
    hashKey: config.hashKey,
    retries: config.retries,
    redispatch: config.redispatch,
    allBackups: config.allBackups,
    connectTimeout: config.timeouts.connect,
    serverTimeout: config.timeouts.server,
    tunnelTimeout: config.timeouts.tunnel,
    queueTimeout: config.timeouts.queue,
    servers,
  }, services);
}
