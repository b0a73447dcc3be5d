/**
 * A server of a backend: where it is, its weight and limits, and its live counters.
 *
 * @module
 */

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
  /** Concurrent connections at most; 0 for no limit. */
  readonly maxconn: number;
  readonly backup: boolean;
}

/** A server with its live state. Balancers read it; sessions update the counters. */
export class Server {
  readonly name: string;
  readonly host: string;
  readonly port: number | null;
  /** Position in the backend, from 0: declaration order. */
  readonly index: number;
  readonly backup: boolean;
  /** Concurrent connections at most; 0 for no limit. */
  readonly maxconn: number;
  /** Current weight (0 takes the server out of balancing without marking it down). */
  weight: number;
  /** False when the server is down or in maintenance. */
  up = true;
  /** Sessions currently using this server. */
  activeConnections = 0;
  /** Sessions ever sent to this server. */
  totalConnections = 0;
  /** Connection attempts that failed. */
  connectFailures = 0;

  constructor(spec: ServerSpec, index: number) {
    this.name = spec.name;
    this.host = spec.host;
    this.port = spec.port;
    this.index = index;
    this.backup = spec.backup;
    this.maxconn = spec.maxconn;
    this.weight = spec.weight;
  }

  /** Up with a non-zero weight. */
  isUsable(): boolean {
    return this.up && this.weight > 0;
  }

  /** Below its maxconn (always true without one). */
  hasFreeSlot(): boolean {
    return this.maxconn === 0 || this.activeConnections < this.maxconn;
  }

  /** Usable and below its maxconn: a balancer may pick it. */
  isAvailable(): boolean {
    return this.isUsable() && this.hasFreeSlot();
  }
}
