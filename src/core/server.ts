/**
 * A server of a backend: where it is, its weight and limits, its state, and its live counters.
 *
 * @module
 */

import type { TlsClientOptions } from "../runtime/types.ts";
import type { Logger } from "./logger.ts";
import type { CheckCounter } from "./health/check_counter.ts";
import { SlotQueue } from "./server_slot.ts";
import { TrafficCounters } from "./counters.ts";

/** Highest weight a server can have, as in HAProxy. */
export const MAX_WEIGHT = 256;

/** Weight of a server that does not set one, as in HAProxy. */
export const DEFAULT_WEIGHT = 1;

/** What a server is made from. */
export interface ServerSpec {
  readonly name: string;
  /** An IP address (host names are resolved before the server is built). */
  readonly host: string;
  /** null: use the port the client connected to (HAProxy's server without a port). */
  readonly port: number | null;
  readonly weight: number;
  /** Concurrent sessions (http: requests) at most; 0 for no limit. */
  readonly maxconn: number;
  /** Requests waiting in the server's own queue at most; 0 for no limit (default 0). */
  readonly maxqueue?: number;
  readonly backup: boolean;
  /** Starts in maintenance (default false). */
  readonly disabled?: boolean;
  /** TLS towards the server; undefined: plain TCP. */
  readonly tls?: TlsClientOptions;
  /** http mode: each connection sends the request's Host as its SNI name (and verifies it). */
  readonly tlsSniFromHost?: boolean;
  /** Weight and maxconn ramp-up after coming back up, ms; 0: none (default 0). */
  readonly slowstart?: number;
  /** The PROXY protocol header each connection to the server opens with; undefined: none. */
  readonly proxyHeader?: ProxyHeaderSpec;
}

/** Which PROXY protocol header a server gets (HAProxy's `send-proxy`, `send-proxy-v2[-ssl[-cn]]`). */
export interface ProxyHeaderSpec {
  readonly version: 1 | 2;
  /** v2: the SSL TLV. */
  readonly ssl: boolean;
  /** v2: the client certificate's CN in the SSL TLV. */
  readonly sslCn: boolean;
}

/**
 * Passive health: what sessions tell a server's health check about real traffic (HAProxy's
 * `observe`). The check decides what counts as an error.
 */
export interface TrafficObserver {
  /** A connection attempt failed or timed out. */
  connectFailed(): void;
  /** A connection attempt succeeded. */
  connected(): void;
  /** An http response head arrived with this status. */
  responseStatus(status: number): void;
  /** No valid http response: invalid, cut short, or timed out. */
  responseFailed(): void;
}

/**
 * Told about the connection errors of real traffic when the server is checked: the health check,
 * which turns a run of them into failed checks (see ServerCheck.connectRefused).
 */
export interface RefusalWatcher {
  /** A connection attempt failed with an error (refused, reset, unreachable): `inRow` so far, without a success between. */
  connectRefused(inRow: number, error: unknown): void;
}

/** A server with its live state. Balancers read it; sessions take and release its slots. */
export class Server {
  readonly name: string;
  readonly host: string;
  readonly port: number | null;
  /** Position in the backend, from 0: declaration order. */
  readonly index: number;
  readonly backup: boolean;
  /** Concurrent sessions (http: requests) at most; 0 for no limit. */
  readonly maxconn: number;
  /** Requests waiting in {@link queue} at most; 0 for no limit. */
  readonly maxqueue: number;
  /** Ramp-up time after the server comes back, ms (0: none). */
  readonly slowstart: number;
  /** The weight as configured. */
  readonly configuredWeight: number;
  /** Current weight: the configured one, ramped during a slow start (0 takes the server out of balancing). */
  weight: number;
  /** Operational state: false when health checks (or traffic) marked it down. */
  up = true;
  /** Administrative maintenance (HAProxy's MAINT): no traffic, no checks. */
  maintenance: boolean;
  /** Administrative drain (HAProxy's DRAIN): no new traffic, sessions finish, checks go on. */
  draining = false;
  /** Share of the weight and maxconn in effect, below 1 while slow-starting. */
  rampFraction = 1;
  /** The health counter when the server is checked, else null. */
  counter: CheckCounter | null = null;
  /** Where sessions report traffic errors (passive health), or null. */
  observer: TrafficObserver | null = null;
  /** The health check told about refused connections, or null (the server is not checked). */
  refusalWatcher: RefusalWatcher | null = null;
  /** Requests that must go to this server and wait for one of its slots (hash balancing). */
  readonly queue = new SlotQueue();
  /** Sessions holding a slot. */
  readonly holders = new SlotQueue();
  /** Sessions (http: requests) currently holding a slot. */
  activeConnections = 0;
  /** Sessions ever given a slot. */
  totalConnections = 0;
  /** Connection attempts that failed. */
  connectFailures = 0;
  /**
   * Connection attempts that failed with an error since the last one that succeeded (or since the
   * server was last marked down): what {@link RefusalWatcher} judges.
   */
  refusedInRow = 0;
  /** TLS towards the server (undefined: plain TCP), as every connection to it is dialled. */
  readonly tls: TlsClientOptions | undefined;
  readonly tlsSniFromHost: boolean;
  /**
   * The PROXY header each new connection opens with, describing its client; null: none. In http
   * mode such a connection is private to that client unless `http-reuse always`.
   */
  readonly proxyHeader: ProxyHeaderSpec | null;
  /**
   * TLS failures (a certificate refused, a failed handshake) since the last connection that
   * succeeded: the sessions log the first of a run, not every request that meets it.
   */
  tlsFailuresInRow = 0;
  /** Traffic counters for the stats (see counters.ts). */
  readonly counters = new TrafficCounters();
  /** Checks that failed while the server was up [chkfail]. */
  checkFailures = 0;
  /** Times the server went from up to down [chkdown]. */
  downTransitions = 0;
  /** When the state (up, down, maintenance, drain) last changed, monotonic ms [lastchg]. */
  lastChangeAt = 0;
  /** Time spent down or in maintenance, ms, over the periods that ended [downtime]. */
  downtimeEnded = 0;
  /** When the current down period began, monotonic ms; -1 while up. */
  downSince = -1;

  constructor(spec: ServerSpec, index: number) {
    this.tls = spec.tls;
    this.tlsSniFromHost = spec.tlsSniFromHost ?? false;
    this.proxyHeader = spec.proxyHeader ?? null;
    this.name = spec.name;
    this.host = spec.host;
    this.port = spec.port;
    this.index = index;
    this.backup = spec.backup;
    this.maxconn = spec.maxconn;
    this.maxqueue = spec.maxqueue ?? 0;
    this.slowstart = spec.slowstart ?? 0;
    this.maintenance = spec.disabled ?? false;
    this.configuredWeight = spec.weight;
    this.weight = spec.weight;
  }

  /**
   * A connection attempt to the server failed: `timedOut` when `timeout connect` expired, else
   * `error` is the socket's error (undefined for a close without one). A failure other than a
   * timeout is the system saying the server cannot be reached now (nobody listens, a reset, no
   * route): the check hears of it, while a timeout may only be load and waits for the checks.
   */
  connectFailed(timedOut: boolean, error: unknown): void {
    this.connectFailures++;
    this.counters.connectionsOpened++;
    this.observer?.connectFailed();
    if (timedOut) return;
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code === "ECERTVERIFY" || code === "ETLSHANDSHAKE") this.tlsFailuresInRow++;
    this.refusedInRow++;
    this.refusalWatcher?.connectRefused(this.refusedInRow, error);
  }

  /** A connection attempt succeeded: the run of refusals, if any, is over. */
  connected(): void {
    this.counters.connectionsOpened++;
    this.refusedInRow = 0;
    this.tlsFailuresInRow = 0;
    this.observer?.connected();
  }

  /** Up, not in maintenance or drain, with a non-zero weight: a balancer may send it new work. */
  isUsable(): boolean {
    return this.up && !this.maintenance && !this.draining && this.weight > 0;
  }

  /** The maxconn in effect: HAProxy's srv_dynamic_maxconn, ramped during a slow start (at least 1). */
  dynamicMaxconn(): number {
    if (this.rampFraction >= 1 || this.maxconn === 0) return this.maxconn;
    const ramped = Math.floor(this.maxconn * this.rampFraction);
    return ramped > 1 ? ramped : 1;
  }

  /** Below its maxconn with nobody waiting in its queue (always true without a maxconn). */
  hasFreeSlot(): boolean {
    return this.maxconn === 0 || (this.queue.length === 0 && this.activeConnections < this.dynamicMaxconn());
  }

  /** Usable with a free slot: a balancer may pick it for a request that must not wait. */
  isAvailable(): boolean {
    return this.isUsable() && this.hasFreeSlot();
  }

  /** Whether a request may still join its own queue (below `maxqueue`). */
  queueHasRoom(): boolean {
    return this.maxqueue === 0 || this.queue.length < this.maxqueue;
  }

  /** The state changed at `nowMs`: starts or ends a down period (down or in maintenance). */
  stateChanged(nowMs: number): void {
    this.lastChangeAt = nowMs;
    const stopped = !this.up || this.maintenance;
    if (stopped && this.downSince < 0) this.downSince = nowMs;
    else if (!stopped && this.downSince >= 0) {
      this.downtimeEnded += nowMs - this.downSince;
      this.downSince = -1;
    }
  }

  /** Time spent down or in maintenance up to `nowMs`, ms [downtime]. */
  downtime(nowMs: number): number {
    return this.downtimeEnded + (this.downSince >= 0 ? nowMs - this.downSince : 0);
  }

  /** HAProxy's state words: MAINT, DRAIN, UP, DOWN, with a change in progress ("UP 2/3", "DOWN 1/2"). */
  describeState(): string {
    if (this.maintenance) return "MAINT";
    if (this.up && (this.draining || this.configuredWeight === 0)) return "DRAIN";
    if (this.counter !== null) return this.counter.describe();
    return this.up ? "UP" : "DOWN";
  }
}

/**
 * Logs the first TLS failure of a run towards a server (a refused certificate, a failed handshake):
 * the request still gets its retries and its 503, and the operator learns why once, not per request.
 */
export function warnTlsFailure(logger: Logger, backendName: string, server: Server, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  logger.warn(`Server "${backendName}/${server.name}": ${message}; until it succeeds, further TLS failures are not logged`);
}
