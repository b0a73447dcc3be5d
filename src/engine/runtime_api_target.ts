/**
 * The runtime API's view of a running proxy: what `src/control/runtime_api.ts` reads and changes,
 * applied to the live model (`Backend`, `Server`, `ServerCheck`). Every change goes through the
 * backend, which tells the balancers and hands queued requests to a server that can take them.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import type { Logger } from "../core/logger.ts";
import type { Server } from "../core/server.ts";
import type { ServerCheck } from "../core/health/server_check.ts";
import type { BackendConfig, ServerConfig } from "../config/types.ts";
import {
  CHECK_RESULT_FAILED,
  CHECK_RESULT_PASSED,
  CHECK_RESULT_UNKNOWN,
  CHECK_STATE_CONFIGURED,
  CHECK_STATE_ENABLED,
  CHECK_STATE_PAUSED,
  CHECK_STATUS_INITIALIZING,
  CHECK_STATUS_NUMBERS,
  CHECK_STATUS_UNKNOWN,
  SERVER_ADMIN_CONFIG_MAINT,
  SERVER_ADMIN_FORCED_DRAIN,
  SERVER_ADMIN_FORCED_MAINT,
  SERVER_OP_RUNNING,
  SERVER_OP_STARTING,
  SERVER_OP_STOPPED,
} from "../control/server_state.ts";
import type { AdminState, ControlBackend, ControlServer, ControlTarget, ServerStateRow } from "../control/types.ts";

/** What the target needs of a proxy (`src/engine/proxy.ts`'s `Proxy` has it). */
export interface ControlledProxy {
  readonly frontends: readonly unknown[];
  readonly backends: readonly Backend[];
  readonly checks: readonly ServerCheck[];
  readonly config: { readonly backends: readonly BackendConfig[] };
  readonly logger: Logger;
}

/** An IPv4 or IPv6 literal (no name to report as the server's FQDN). */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

class TargetServer implements ControlServer {
  readonly name: string;
  readonly checked: boolean;
  private readonly owner: TargetBackend;
  private readonly server: Server;
  private readonly check: ServerCheck | null;
  private readonly config: ServerConfig | undefined;

  constructor(owner: TargetBackend, server: Server, check: ServerCheck | null, config: ServerConfig | undefined) {
    this.owner = owner;
    this.server = server;
    this.check = check;
    this.config = config;
    this.name = server.name;
    this.checked = check !== null;
  }

  private get label(): string {
    return `"${this.owner.name}/${this.name}"`;
  }

  weights(): { readonly current: number; readonly initial: number } {
    return { current: this.server.configuredWeight, initial: this.server.initialWeight };
  }

  setAdminState(state: AdminState): void {
    const backend = this.owner.backend;
    const server = this.server;
    // Each order keeps the server from taking traffic in between (drain set before maintenance leaves).
    if (state === "maint") {
      backend.setMaintenance(server, true);
      backend.setDrain(server, false);
    } else if (state === "drain") {
      backend.setDrain(server, true);
      backend.setMaintenance(server, false);
    } else {
      backend.setDrain(server, false);
      backend.setMaintenance(server, false);
    }
  }

  setWeight(weight: number): void {
    const before = this.server.configuredWeight;
    if (before === weight) return;
    this.owner.backend.setWeight(this.server, weight);
    this.owner.logger.notice(`Server ${this.label} weight changed from ${before} to ${weight} (initial ${this.server.initialWeight}) by the runtime API.`);
  }

  setMaxconn(maxconn: number): void {
    const before = this.server.maxconn;
    this.owner.backend.setMaxconn(this.server, maxconn);
    this.owner.logger.notice(`Server ${this.label} maxconn changed from ${before} to ${maxconn} by the runtime API.`);
  }

  setHealthChecks(enabled: boolean): void {
    const check = this.check;
    if (check === null || check.enabled === enabled) return;
    if (enabled) check.enable();
    else check.disable();
    this.owner.logger.notice(
      `Health checks of server ${this.label} ${enabled ? "enabled" : `disabled (it stays ${this.server.up ? "UP" : "DOWN"})`} by the runtime API.`,
    );
  }

  shutdownSessions(): number {
    const count = this.owner.backend.shutdownServerSessions(this.server);
    this.owner.logger.notice(`Server ${this.label}: ${count} session(s) shut down by the runtime API.`);
    return count;
  }

  state(): ServerStateRow {
    const server = this.server;
    const backend = this.owner.backend;
    const check = this.check;
    const result = check?.lastResult ?? null;
    const host = this.config?.host ?? server.host;
    const checkConfig = this.config?.check ?? null;
    return {
      backendId: this.owner.id,
      backendName: backend.name,
      serverId: server.index + 1,
      serverName: server.name,
      address: server.host,
      opState: !server.up ? SERVER_OP_STOPPED : server.rampFraction < 1 ? SERVER_OP_STARTING : SERVER_OP_RUNNING,
      adminState: (server.maintenance ? SERVER_ADMIN_FORCED_MAINT : 0) | (this.config?.disabled === true ? SERVER_ADMIN_CONFIG_MAINT : 0) |
        (server.draining ? SERVER_ADMIN_FORCED_DRAIN : 0),
      userWeight: server.configuredWeight,
      initialWeight: server.initialWeight,
      secondsSinceChange: Math.max(0, Math.floor((backend.now() - server.lastChangeAt) / 1_000)),
      checkStatus: check === null
        ? CHECK_STATUS_UNKNOWN
        : result === null
        ? CHECK_STATUS_INITIALIZING
        : CHECK_STATUS_NUMBERS[result.status] ?? CHECK_STATUS_UNKNOWN,
      checkResult: result === null ? CHECK_RESULT_UNKNOWN : result.passed ? CHECK_RESULT_PASSED : CHECK_RESULT_FAILED,
      checkHealth: check === null ? 0 : check.counter.health,
      checkState: check === null
        ? 0
        : CHECK_STATE_CONFIGURED | (check.enabled ? CHECK_STATE_ENABLED : 0) | (server.maintenance ? CHECK_STATE_PAUSED : 0),
      fqdn: isIpLiteral(host) ? "-" : host,
      port: server.port ?? 0,
      useTls: server.tls !== undefined,
      checkPort: checkConfig?.port ?? 0,
      checkAddress: checkConfig?.address ?? "-",
      maxconn: server.maxconn,
      initialMaxconn: this.config?.maxconn ?? server.maxconn,
    };
  }
}

class TargetBackend implements ControlBackend {
  readonly backend: Backend;
  readonly name: string;
  /** HAProxy's proxy id: numbered after the frontends, as the stats number it. */
  readonly id: number;
  readonly logger: Logger;
  readonly servers: readonly TargetServer[];

  constructor(backend: Backend, id: number, checks: ReadonlyMap<Server, ServerCheck>, config: BackendConfig | undefined, logger: Logger) {
    this.backend = backend;
    this.name = backend.name;
    this.id = id;
    this.logger = logger;
    this.servers = backend.servers.map((server) => new TargetServer(this, server, checks.get(server) ?? null, config?.servers[server.index]));
  }

  server(name: string): ControlServer | undefined {
    return this.servers.find((server) => server.name === name);
  }
}

/** The runtime API's target over a running proxy; built once the proxy is prepared (its backends and checks exist). */
export class ProxyControlTarget implements ControlTarget {
  readonly backends: readonly ControlBackend[];

  constructor(proxy: ControlledProxy) {
    const checks = new Map(proxy.checks.map((check) => [check.server, check]));
    const configs = new Map(proxy.config.backends.map((config) => [config.name, config]));
    // The logger is read now: once prepared, the proxy's reaches the [global] log targets too.
    this.backends = proxy.backends.map((backend, index) =>
      new TargetBackend(backend, proxy.frontends.length + index + 1, checks, configs.get(backend.name), proxy.logger)
    );
  }

  backend(name: string): ControlBackend | undefined {
    return this.backends.find((backend) => backend.name === name);
  }
}
