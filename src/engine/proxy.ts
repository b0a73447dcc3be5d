/**
 * Builds a running proxy from a validated Config: resolves server addresses, creates backends and
 * frontends, binds the listeners.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import { NetError } from "../runtime/net_error.ts";
import { Backend } from "../core/backend.ts";
import type { Logger } from "../core/logger.ts";
import { TimerWheel } from "../core/timer_wheel.ts";
import type { ServerSpec } from "../core/server.ts";
import type { BackendConfig, Config } from "../config/types.ts";
import { ServerPool } from "../http/server_pool.ts";
import { buildHttpFrontendPolicy } from "../http/policy.ts";
import { Frontend } from "./frontend.ts";
import type { ProcessLimit } from "./frontend.ts";

/** A proxy built from a Config: call `start` to bind. */
export class Proxy {
  readonly config: Config;
  readonly runtime: Runtime;
  readonly logger: Logger;
  readonly wheel: TimerWheel;
  /** Idle keep-alive connections to servers, shared by every http frontend. */
  readonly serverPool: ServerPool;
  frontends: readonly Frontend[] = [];
  backends: readonly Backend[] = [];
  private readonly limit: ProcessLimit;
  private listening = false;

  constructor(config: Config, runtime: Runtime, logger: Logger) {
    this.config = config;
    this.runtime = runtime;
    this.logger = logger;
    this.wheel = new TimerWheel(runtime, undefined, (error) => {
      logger.error(`Timer callback failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    this.serverPool = new ServerPool(this.wheel, () => runtime.now());
    const proxy = this;
    this.limit = {
      maxconn: config.global.maxconn,
      active: 0,
      slotFreed() {
        for (const frontend of proxy.frontends) frontend.startParked();
      },
    };
  }

  /** Resolves servers, builds everything and binds every frontend. Rejects with the first error. */
  async start(): Promise<void> {
    const backends = new Map<string, Backend>();
    for (const backendConfig of this.config.backends) {
      backends.set(backendConfig.name, await this.buildBackend(backendConfig));
    }
    this.backends = [...backends.values()];
    const byName = new Map(this.config.backends.map((config) => [config.name, { backend: backends.get(config.name)!, config }]));
    this.frontends = this.config.frontends.map((frontendConfig) => {
      const backend = backends.get(frontendConfig.defaultBackend) ?? null;
      if (frontendConfig.mode === "http") {
        const policy = buildHttpFrontendPolicy(frontendConfig, byName, this.config.global.tune);
        return new Frontend(frontendConfig, backend, this.runtime, this.wheel, this.logger, this.limit, this.serverPool, policy);
      }
      if (backend === null) {
        throw new Error(`Frontend "${frontendConfig.name}" uses unknown backend "${frontendConfig.defaultBackend}"`);
      }
      return new Frontend(frontendConfig, backend, this.runtime, this.wheel, this.logger, this.limit, this.serverPool, null);
    });
    await this.listen();
  }

  /** Binds every frontend (again, after `stopListening`). */
  async listen(): Promise<void> {
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
  }

  /** Stops accepting; established sessions go on. */
  async stopListening(): Promise<void> {
    this.listening = false;
    await Promise.all(this.frontends.map((frontend) => frontend.unbind()));
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

  /** Stops the timer wheel so nothing keeps the event loop alive. Call after the sessions ended. */
  close(): void {
    this.serverPool.closeAll();
    this.wheel.close();
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
    return buildBackend(config, hosts);
  }
}

/** A running backend from its configuration, with each server's resolved address (`hosts[i]` for `config.servers[i]`). */
export function buildBackend(config: BackendConfig, hosts: readonly string[]): Backend {
  const servers: ServerSpec[] = config.servers.map((server, index) => ({
    name: server.name,
    host: hosts[index]!,
    port: server.port,
    weight: server.weight,
    maxconn: server.maxconn,
    backup: server.backup,
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
    servers,
  });
}
