/**
 * Idle keep-alive connections to servers, kept per server for the next requests (HAProxy's idle
 * connection lists, `http-reuse safe`).
 *
 * - LIFO: the connection used last is reused first (still warm, least likely closed by the server),
 *   and the oldest ones age out at the bottom of the list.
 * - Bounded per server: beyond {@link MAX_IDLE_PER_SERVER} the oldest idle connection is closed.
 * - An idle connection that receives a FIN, bytes or an error is closed and forgotten: the server
 *   has given up on it (RFC 9112 9.3: either side may close an idle connection at any time).
 * - Idle connections are closed after {@link IDLE_SERVER_TIMEOUT_MS}, before the server's own
 *   keep-alive timeout would close them while a request is on its way. One timer on the wheel
 *   sweeps the whole pool; no timer per connection.
 *
 * Which request may take which connection is decided by the session's server side (server_connector.ts).
 *
 * @module
 */

import type { Connection, ConnectionHandler } from "../runtime/types.ts";
import type { Server } from "../core/server.ts";
import type { TimerWheel, WheelTimer } from "../core/timer_wheel.ts";

/**
 * Idle time after which a pooled server connection is closed. Below 5 s, the keep-alive timeout of
 * Apache httpd and of Node's http server (the shortest common defaults; nginx has 75 s), so we
 * close first instead of racing the server's FIN with a new request.
 */
export const IDLE_SERVER_TIMEOUT_MS = 4_000;

/** How often the pool looks for connections idle too long: an aged connection lives at most this much longer. */
export const IDLE_SWEEP_INTERVAL_MS = 500;

/** Idle connections kept per server: enough for bursts, bounded so a spike does not pin sockets on the server. */
export const MAX_IDLE_PER_SERVER = 128;

/** The idle connections of one server, oldest first; `since` holds when each went idle. */
interface IdleList {
  readonly conns: Connection[];
  readonly since: number[];
}

/** Idle server connections of every server, reusable by later requests. */
export class ServerPool implements ConnectionHandler {
  private readonly now: () => number;
  private readonly lists = new Map<Server, IdleList>();
  private readonly sweeper: WheelTimer;
  private count = 0;

  constructor(wheel: TimerWheel, now: () => number) {
    this.now = now;
    this.sweeper = wheel.create(() => this.sweep());
  }

  /** Idle connections in the pool, all servers together. */
  get size(): number {
    return this.count;
  }

  /** Idle connections to `server` now (stats). */
  idleCount(server: Server): number {
    return this.lists.get(server)?.conns.length ?? 0;
  }

  /** The most recently idled connection to `server`, or null. The caller must set its handler. */
  take(server: Server): Connection | null {
    const list = this.lists.get(server);
    if (list === undefined) return null;
    while (list.conns.length > 0) {
      const conn = list.conns.pop()!;
      list.since.pop();
      this.count--;
      conn.owner = undefined;
      if (conn.open) {
        server.counters.connectionsReused++;
        return conn;
      }
    }
    return null;
  }

  /** Keeps an idle connection to `server` for later requests. */
  release(server: Server, conn: Connection): void {
    let list = this.lists.get(server);
    if (list === undefined) {
      list = { conns: [], since: [] };
      this.lists.set(server, list);
    }
    if (list.conns.length >= MAX_IDLE_PER_SERVER) {
      const oldest = list.conns.shift()!;
      list.since.shift();
      this.count--;
      oldest.owner = undefined;
      oldest.destroy();
    }
    conn.owner = server;
    conn.setHandler(this);
    list.conns.push(conn);
    list.since.push(this.now());
    this.count++;
    if (!this.sweeper.armed) this.sweeper.arm(IDLE_SWEEP_INTERVAL_MS);
  }

  /** Closes every idle connection (process shutdown). */
  closeAll(): void {
    for (const list of this.lists.values()) {
      const conns = list.conns.splice(0);
      list.since.length = 0;
      for (const conn of conns) {
        conn.owner = undefined;
        conn.destroy();
      }
    }
    this.count = 0;
    this.sweeper.disarm();
  }

  onOpen(): void {}

  onData(conn: Connection): void {
    // An idle server has nothing to say: bytes now are garbage or an error for no request.
    this.forget(conn);
    conn.destroy();
  }

  onDrain(): void {}

  onEnd(conn: Connection): void {
    this.forget(conn);
    conn.destroy();
  }

  onClose(conn: Connection): void {
    this.forget(conn);
  }

  private forget(conn: Connection): void {
    const server = conn.owner as Server | undefined;
    if (server === undefined) return;
    conn.owner = undefined;
    const list = this.lists.get(server);
    if (list === undefined) return;
    const index = list.conns.indexOf(conn);
    if (index < 0) return;
    list.conns.splice(index, 1);
    list.since.splice(index, 1);
    this.count--;
  }

  private sweep(): void {
    const oldest = this.now() - IDLE_SERVER_TIMEOUT_MS;
    for (const list of this.lists.values()) {
      while (list.since.length > 0 && list.since[0]! <= oldest) {
        const conn = list.conns.shift()!;
        list.since.shift();
        this.count--;
        conn.owner = undefined;
        conn.destroy();
      }
    }
    if (this.count > 0) this.sweeper.arm(IDLE_SWEEP_INTERVAL_MS);
  }
}
