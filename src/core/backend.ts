/**
 * A backend: its servers, the balancers over them, and its retry policy.
 *
 * @module
 */

import type {
  BalanceAlgorithmName,
  BalanceContext,
  BalanceHashKeyConfig,
  Balancer,
} from "./balance/types.ts";
import { createBalancer } from "./balance/mod.ts";
import { Server } from "./server.ts";
import type { ServerSpec } from "./server.ts";

/** What a backend is made from (resolved addresses, validated values). */
export interface BackendSpec {
  readonly name: string;
  readonly balance: BalanceAlgorithmName;
  /** What `uri` and `hdr` hash; required for them, ignored by the others (default null). */
  readonly hashKey?: BalanceHashKeyConfig | null;
  readonly retries: number;
  readonly redispatch: boolean;
  readonly allBackups: boolean;
  readonly connectTimeout: number;
  readonly serverTimeout: number;
  /** Idle timeout of an established tcp session; 0: min(client, server) applies. */
  readonly tunnelTimeout: number;
  readonly servers: readonly ServerSpec[];
}

/** Turn-around delay before retrying the same server, as HAProxy: min(timeout connect, 1 s). */
export const RETRY_TURNAROUND_MAX_MS = 1_000;

/** A pool of servers behind one balancing algorithm. */
export class Backend {
  readonly name: string;
  readonly servers: readonly Server[];
  readonly retries: number;
  readonly redispatch: boolean;
  readonly connectTimeout: number;
  readonly serverTimeout: number;
  readonly tunnelTimeout: number;
  /** Sessions currently using a server of this backend. */
  activeConnections = 0;
  totalConnections = 0;
  private readonly activeBalancer: Balancer;
  private readonly backupBalancer: Balancer | null;
  private readonly backupServers: readonly Server[];
  private readonly allBackups: boolean;

  constructor(spec: BackendSpec) {
    this.name = spec.name;
    this.retries = spec.retries;
    this.redispatch = spec.redispatch;
    this.connectTimeout = spec.connectTimeout;
    this.serverTimeout = spec.serverTimeout;
    this.tunnelTimeout = spec.tunnelTimeout;
    this.allBackups = spec.allBackups;
    this.servers = spec.servers.map((serverSpec, index) => new Server(serverSpec, index));
    const active = this.servers.filter((server) => !server.backup);
    this.backupServers = this.servers.filter((server) => server.backup);
    const hashKey = spec.hashKey ?? null;
    this.activeBalancer = createBalancer(spec.balance, active, undefined, hashKey);
    this.backupBalancer = this.backupServers.length > 0
      ? createBalancer(spec.balance, this.backupServers, undefined, hashKey)
      : null;
  }

  /**
   * Picks a server for a new session, or null when none is available. Backup servers are used only
   * when no active server is: the first available one, or all of them with `allBackups`.
   */
  pickServer(context: BalanceContext, avoid: Server | null): Server | null {
    const active = this.activeBalancer.pick(context, avoid);
    if (active !== null || this.backupBalancer === null) return active;
    if (this.allBackups) return this.backupBalancer.pick(context, avoid);
    let fallback: Server | null = null;
    for (const server of this.backupServers) {
      if (!server.isAvailable()) continue;
      if (server !== avoid) return server;
      fallback = server;
    }
    return fallback;
  }

  /** Tells the balancers that weights or states changed. */
  serversChanged(): void {
    this.activeBalancer.update();
    this.backupBalancer?.update();
  }

  /** Finds a server by name. */
  server(name: string): Server | undefined {
    return this.servers.find((server) => server.name === name);
  }

  /**
   * After a failed connection attempt, the server the next attempt goes to at once, or null to
   * retry `failed` after the turn-around delay. HAProxy's `option redispatch` default: the last
   * retry (`retriesLeft` is 0 once it is counted) goes to another server when there is one.
   */
  redispatchTarget(context: BalanceContext, failed: Server, retriesLeft: number): Server | null {
    if (!this.redispatch || retriesLeft !== 0) return null;
    const other = this.pickServer(context, failed);
    return other !== null && other !== failed ? other : null;
  }

  /** Delay before retrying the same server after a failed connection attempt. */
  retryTurnaround(): number {
    return this.connectTimeout > 0 ? Math.min(this.connectTimeout, RETRY_TURNAROUND_MAX_MS) : RETRY_TURNAROUND_MAX_MS;
  }
}
