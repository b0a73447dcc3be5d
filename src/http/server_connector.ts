/**
 * The server side of an http request: from the request's claim on a server to the connection the
 * exchange runs on, and back. One {@link ServerConnector} per `HttpSession` (session.ts), created
 * and pooled with it, reused for every request of the client connection.
 *
 * HAProxy's stream has a back "stream connector" and backend.c's functions over it (assign a
 * server, queue, connect, retry, redispatch); this is that part of the stream. It owns:
 *
 * - **The slot.** A request takes a slot on a server (the server's maxconn counts requests in
 *   progress, not connections) through `Backend.takeSlot`; when every server is full it waits in a
 *   queue (core/backend.ts) for at most `timeout queue`, then gets a 503. The connector is the
 *   slot's user: grants and refusals come to it; the balancer's questions about the request and a
 *   server's `shutdown-sessions` are passed on to the session.
 * - **The connection.** A fresh one (connect options, server TLS, the SNI name taken from the
 *   request's Host under `sni = "req.hdr(host)"`, the PROXY header written on open), or an idle one
 *   under `http-reuse`: with "safe" (HAProxy's default) a client's first request always gets a
 *   fresh connection, later requests may take an idle one from the pool of the server picked for
 *   them; "always" lets every request take one; "never" keeps a connection private to its client
 *   connection, reused only by that client's next request to the same server. A connection that
 *   carried a PROXY header describes its first client, so "safe" keeps it private as "never" does.
 *   Once the exchange is over the connection goes back to the pool, stays private, or is closed.
 * - **Retries.** A failed connection is retried up to `retries` times as in tcp mode: redispatched
 *   at once to another server when the backend says so (`Backend.redispatchSlot`), else on the
 *   same server after the turn-around (none after a connect timeout), moved off a server marked
 *   down meanwhile (`Backend.retargetSlot`). A connection that closes before any response byte is
 *   retried too, when the session says the request may be sent again (`retryEmptyResponse`).
 *
 * The connector is the handler of the server connection (and of a private idle one), so the
 * connection's events reach the request they belong to, not the client connection: the shape a
 * stream needs once one client connection carries several requests at a time (HTTP/2). It passes
 * the events of a ready connection on to the session ({@link ServerConnectorUser}) and keeps for
 * itself those of an attempt. It allocates nothing per request: the slot is its own, the timer the
 * session's one wheel entry (the connect, queue and turn-around timeouts are phases of it), and the
 * log facts it measures go straight into the session's record.
 *
 * @module
 */

import type { Connection, ConnectionHandler, TlsClientOptions } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import { isIpLiteral } from "../config/address.ts";
import type { HttpReuseMode } from "../config/types.ts";
import type { Backend } from "../core/backend.ts";
import { SLOT_QUEUED, SLOT_TAKEN } from "../core/backend.ts";
import type { BalanceContext } from "../core/balance/types.ts";
import { DISCARD_HANDLER } from "../core/discard_handler.ts";
import { warnTlsFailure } from "../core/server.ts";
import type { Server } from "../core/server.ts";
import { SLOT_HOLDING, SLOT_WAITING, ServerSlot } from "../core/server_slot.ts";
import type { ShutdownCause, SlotUser } from "../core/server_slot.ts";
import type { WheelTimer } from "../core/timer_wheel.ts";
import type { LogRecord } from "../log/record.ts";
import { encodeProxyHeader } from "../proxy_protocol/encode.ts";
import type { SessionHost } from "../tcp/session_host.ts";
import { PHASE_LETTER_CONNECT, PHASE_LETTER_QUEUE, recordQueuePosition } from "../tcp/session_log.ts";
import { requestHost } from "./conditions.ts";
import type { HttpHead } from "./head_parser.ts";
import type { HttpBackendRoute } from "./policy.ts";
import type { ServerPool } from "./server_pool.ts";

/** What a connector needs from the frontend its session runs in. */
export interface ServerConnectorHost extends SessionHost {
  /** Idle server connections shared by the sessions. */
  readonly serverPool: ServerPool;
}

/**
 * The request a connector works for (the session, until streams and connections are separate
 * objects): the balancer's view of it, and where the server side's outcomes go.
 */
export interface ServerConnectorUser extends BalanceContext {
  /** The client's connection: its port is the server's when the server has none, its addresses go in the PROXY header. */
  readonly clientConnection: Connection | null;
  /** The request being sent (while the connector works for one), for the SNI name taken from its Host. */
  readonly currentRequest: HttpHead;
  /**
   * The connection is ready for the request head: opened, or taken idle after `assign` returned
   * (a queued request granted its slot: synchronously, from the grant). Never from within
   * {@link ServerConnector.assign}: a connection ready at once is its return value, so that the
   * caller sends the head when it is done with the chunk it is reading. `at`: the log clock's
   * reading then.
   */
  serverReady(at: number): void;
  /** No server will take this request (none usable, queue timeout, every retry failed): answer 503. `termination`: the log's state. */
  serverUnavailable(termination: string): void;
  /** The server the request holds a slot on was taken out with its sessions. */
  shutdownByServer(cause: ShutdownCause): void;
  /** The events of a ready connection. */
  onServerData(chunk: Uint8Array): void;
  onServerDrain(): void;
  onServerEnd(): void;
  /** The connection closed; {@link ServerConnector.connection} is already null. */
  onServerClose(error: NetError | undefined): void;
}

/** {@link ServerConnector.assign}'s answer when no connection is ready yet. */
export const NOT_READY = -1;

/** No request, or its connection was let go. */
const STATE_IDLE = 0;
/** Waiting in a queue for a slot. */
const STATE_QUEUED = 1;
/** A fresh connection is being opened. */
const STATE_CONNECTING = 2;
/** Waiting before the next attempt on the same server (the turn-around). */
const STATE_TURNAROUND = 3;
/** The connection is the exchange's: its events go to the user. */
const STATE_READY = 4;

/** One request's claim on a server and its connection to it; see the module notes. */
export class ServerConnector implements ConnectionHandler, SlotUser {
  private readonly host: ServerConnectorHost;
  private readonly user: ServerConnectorUser;
  /** The session's one wheel entry: armed here while queued, connecting or in a turn-around. */
  private readonly timer: WheelTimer;
  /** The session's log record: queue and connect facts are written here. */
  private readonly record: LogRecord;
  /** tune.bufsize, each server connection's write high-water mark. */
  private readonly bufferBytes: number;
  /** The request's claim on a server: held, queued, or free between requests. */
  private readonly slot: ServerSlot;
  private state = STATE_IDLE;
  private conn: Connection | null = null;
  private backend: Backend | null = null;
  /** The route's http-reuse, for taking and giving back idle connections. */
  private reuse: HttpReuseMode = "safe";
  /** The current request may take an idle connection opened for someone else. */
  private mayReuse = false;
  /** The current connection came from the idle pool (or was this client's private one). */
  private isReused = false;
  private remainingRetries = 0;
  private retriesMade = 0;
  /** The last connection attempt timed out (sC rather than SC). */
  private connectTimedOut = false;
  /** http-reuse never (or a PROXY header under safe): this client's idle server connection and its server. */
  private privateConn: Connection | null = null;
  private privateTarget: Server | null = null;
  /** Log clock times of the current request: queued, first connection attempt; -1: not yet. */
  private queueEnteredAt = -1;
  private connectStartedAt = -1;
  /** The server the current request went to, or last tried. */
  private lastTried: Server | null = null;

  /**
   * `timer` and `record` are the session's, `bufferBytes` tune.bufsize.
   */
  constructor(
    host: ServerConnectorHost,
    user: ServerConnectorUser,
    timer: WheelTimer,
    record: LogRecord,
    bufferBytes: number,
  ) {
    this.host = host;
    this.user = user;
    this.timer = timer;
    this.record = record;
    this.bufferBytes = bufferBytes;
    this.slot = new ServerSlot(this);
  }

  /** The server connection of the current request, null while there is none (queued, between attempts, let go). */
  get connection(): Connection | null {
    return this.conn;
  }

  /** The server whose slot the current request holds (null while queued or without one). */
  get target(): Server | null {
    return this.slot.state === SLOT_HOLDING ? this.slot.server : null;
  }

  /** The request waits in a queue for a slot. */
  get waitingInQueue(): boolean {
    return this.state === STATE_QUEUED;
  }

  /** Retries the current request still has (the backend's `retries` when it began). */
  get retriesLeft(): number {
    return this.remainingRetries;
  }

  /** Retries the current request made (0 for one that never reached a server: %rc, the stats' wretr). */
  get retries(): number {
    return this.retriesMade;
  }

  /** When the current request entered a queue (log clock), -1 if it did not. */
  get queuedAt(): number {
    return this.queueEnteredAt;
  }

  /** The server the current request went to, or last tried, for its log line. */
  get lastServer(): Server | null {
    return this.lastTried;
  }

  // ---- the balancer's questions go to the request ----

  get clientAddress(): string {
    return this.user.clientAddress;
  }

  get requestTarget(): string {
    return this.user.requestTarget;
  }

  requestHeader(lowerName: string): string | undefined {
    return this.user.requestHeader(lowerName);
  }

  // ---- the request's life ----

  /**
   * Finds a server for the request routed to `route`: a slot held at once and a connection
   * started or taken idle, a place in a queue, or {@link ServerConnectorUser.serverUnavailable}.
   * `firstRequest`: the first request of its client connection (http-reuse safe). Returns the log
   * clock's reading when an idle connection was taken: the request may be sent at once, and
   * {@link ServerConnectorUser.serverReady} is not called for it (the caller, in the middle of a
   * client chunk, sends the head with the body bytes that follow it). Otherwise
   * {@link NOT_READY}: `serverReady` comes later, or `serverUnavailable`.
   */
  assign(route: HttpBackendRoute, firstRequest: boolean): number {
    const backend = route.backend;
    this.backend = backend;
    this.reuse = route.reuse;
    this.mayReuse = mayTakeIdle(route.reuse, firstRequest);
    this.remainingRetries = backend.retries;
    const outcome = backend.takeSlot(this.slot, this.host.wheel.now);
    if (outcome === SLOT_TAKEN) {
      this.record.queueTime = 0;
      return this.takeConnection(this.mayReuse);
    }
    if (outcome === SLOT_QUEUED) {
      this.state = STATE_QUEUED;
      this.queueEnteredAt = this.logClock();
      recordQueuePosition(this.record, backend, this.slot);
      this.armTimer(backend.queueTimeout);
    } else {
      this.host.logger.debug(`Backend "${backend.name}" has no server available for ${this.user.clientAddress}`);
      this.user.serverUnavailable("S" + PHASE_LETTER_CONNECT);
    }
    return NOT_READY;
  }

  /** A slot freed up for this queued request. */
  slotGranted(_server: Server): void {
    if (this.state !== STATE_QUEUED) return;
    this.record.queueTime = Math.round(this.logClock() - this.queueEnteredAt);
    this.connect(this.mayReuse);
  }

  /** The last server went down while this request was queued. */
  slotRefused(): void {
    if (this.state !== STATE_QUEUED) return;
    this.user.serverUnavailable("S" + PHASE_LETTER_QUEUE);
  }

  shutdownByServer(cause: ShutdownCause): void {
    this.user.shutdownByServer(cause);
  }

  /** The session's timer fired while the request was queued, connecting or in a turn-around. */
  timedOut(): void {
    switch (this.state) {
      case STATE_QUEUED: {
        const backend = this.backend!;
        backend.queueTimedOut(this.slot);
        this.host.logger.debug(`Request from ${this.user.clientAddress} waited over ${backend.queueTimeout} ms in the queue of backend "${backend.name}"`);
        this.user.serverUnavailable("s" + PHASE_LETTER_QUEUE);
        return;
      }
      case STATE_CONNECTING: {
        const attempt = this.conn;
        this.conn = null;
        if (attempt !== null) {
          attempt.setHandler(DISCARD_HANDLER);
          attempt.destroy();
        }
        this.connectTimedOut = true;
        this.attemptFailed(undefined);
        return;
      }
      case STATE_TURNAROUND:
        // A server marked down during the turn-around is left for another one.
        this.backend!.retargetSlot(this.slot);
        this.connect(false);
        return;
    }
  }

  /**
   * A ready connection closed before any byte of the response. `replayable`: the session may send
   * the request again (nothing of it consumed, an idempotent method). A reused connection the
   * server closed as we reused it gets the request again, once, on a fresh connection to the same
   * server; a fresh one counts as a failed attempt (HAProxy's `retry-on empty-response`) and, while
   * retries are left, the request goes to another server when one has room, else to the same one.
   * Returns false when it is not sent again (the session answers 502).
   */
  retryEmptyResponse(replayable: boolean, error: NetError | undefined): boolean {
    if (replayable && this.isReused) {
      this.host.logger.debug(`Reused connection to "${this.backend!.name}/${this.target!.name}" closed before the response: retrying on a new one`);
      this.connect(false);
      return true;
    }
    this.target?.observer?.responseFailed();
    if (replayable && this.remainingRetries > 0) {
      this.retryElsewhere(error);
      return true;
    }
    return false;
  }

  /**
   * The exchange is over. A connection still in step (`reusable`) goes back to the pool, or stays
   * with this client (http-reuse never, or a PROXY header under safe; closed if the client
   * connection is `closing`); otherwise it is closed. Then the slot is given up.
   */
  release(reusable: boolean, closing: boolean): void {
    const conn = this.conn;
    this.conn = null;
    this.state = STATE_IDLE;
    if (conn !== null) {
      if (reusable && conn.open) {
        conn.resume();
        // A connection that opened with a PROXY header speaks for its first client: HAProxy keeps
        // it private to that client, shared only under `http-reuse always`.
        const reuse = this.reuse;
        const isPrivate = reuse === "never" || (reuse === "safe" && this.target!.proxyHeader !== null);
        if (isPrivate && closing) {
          // Private to a client connection that is closing: nobody will take it.
          conn.setHandler(DISCARD_HANDLER);
          conn.destroy();
        } else if (isPrivate) {
          this.privateConn = conn;
          this.privateTarget = this.target;
        } else {
          this.host.serverPool.release(this.target!, conn);
        }
      } else {
        conn.setHandler(DISCARD_HANDLER);
        conn.destroy();
      }
    }
    this.unassign();
  }

  /** The request no longer needs its server: the slot (or the place in a queue) is given up. */
  unassign(): void {
    const slot = this.slot;
    if (slot.state === SLOT_HOLDING) this.backend!.releaseSlot(slot);
    else if (slot.state === SLOT_WAITING) this.backend!.cancelWait(slot);
  }

  /** Lets go of the connection, if any, without waiting for its close; false if there was none. The slot stays. */
  closeConnection(): boolean {
    const conn = this.conn;
    if (conn === null) return false;
    this.conn = null;
    conn.setHandler(DISCARD_HANDLER);
    conn.destroy();
    return true;
  }

  /** Gives up the request's server side at once: the connection is closed, the slot given up. */
  drop(): void {
    this.closeConnection();
    this.state = STATE_IDLE;
    this.unassign();
  }

  /** Closes this client's idle private connection (http-reuse never). */
  dropPrivateConnection(): void {
    const idle = this.privateConn;
    this.privateConn = null;
    this.privateTarget = null;
    if (idle !== null) {
      idle.setHandler(DISCARD_HANDLER);
      idle.destroy();
    }
  }

  /** Forgets the current request's log facts (its line is written, or will not be). */
  resetLogFacts(): void {
    this.retriesMade = 0;
    this.queueEnteredAt = -1;
    this.connectStartedAt = -1;
    this.lastTried = null;
  }

  // ---- the connection's events ----

  onOpen(conn: Connection): void {
    if (conn !== this.conn) return;
    const server = this.target;
    server?.connected();
    const now = this.logClock();
    this.record.connectTime = Math.round(now - this.connectStartedAt);
    // The PROXY header goes before the first request head: it describes this connection's first
    // client, and the connection stays with that client (see release) unless http-reuse always.
    const header = server?.proxyHeader ?? null;
    const client = this.user.clientConnection;
    // Towards a TLS server it went before the handshake (the connection's preface).
    if (header !== null && client !== null && conn.tls === undefined) conn.write(encodeProxyHeader(header, client));
    this.state = STATE_READY;
    this.user.serverReady(now);
  }

  onData(conn: Connection, chunk: Uint8Array): void {
    if (conn === this.conn) this.user.onServerData(chunk);
    // An idle connection has nothing to say: bytes now would be out of step with any request.
    else if (conn === this.privateConn) this.dropPrivateConnection();
  }

  onDrain(conn: Connection): void {
    if (conn === this.conn) this.user.onServerDrain();
  }

  onEnd(conn: Connection): void {
    // Runtimes may report a FIN after the connection was let go (Bun): identity checks first.
    if (conn === this.conn) {
      if (this.state !== STATE_CONNECTING) {
        this.user.onServerEnd();
        return;
      }
      // A FIN before the connection opened ends the attempt as a close would.
      this.closeConnection();
      this.attemptFailed(undefined);
    } else if (conn === this.privateConn) {
      this.dropPrivateConnection();
    }
  }

  onClose(conn: Connection, error: NetError | undefined): void {
    if (conn === this.conn) {
      this.conn = null;
      if (this.state === STATE_CONNECTING) this.attemptFailed(error);
      else this.user.onServerClose(error);
    } else if (conn === this.privateConn) {
      this.privateConn = null;
      this.privateTarget = null;
    }
  }

  // ---- attempts ----

  /** Connects for the current request; a connection taken idle is reported ready at once. */
  private connect(mayReuse: boolean): void {
    const readyAt = this.takeConnection(mayReuse);
    if (readyAt !== NOT_READY) this.user.serverReady(readyAt);
  }

  /**
   * Takes an idle connection to the slot's server, returning the log clock's reading (see
   * {@link assign}), or starts a fresh one: {@link NOT_READY}, its open is reported by onOpen.
   */
  private takeConnection(mayReuse: boolean): number {
    const server = this.target!;
    this.lastTried = server;
    this.connectTimedOut = false;
    let idle: Connection | null = null;
    if (this.privateConn !== null) {
      // This client's own idle connection: taken when the request goes to the same server.
      if (this.privateTarget === server && this.privateConn.open) {
        idle = this.privateConn;
        this.privateConn = null;
        this.privateTarget = null;
      } else {
        this.dropPrivateConnection();
      }
    }
    if (idle === null && mayReuse) idle = this.host.serverPool.take(server);
    // A connection made for another Host's SNI name does not serve this one (HAProxy marks such
    // connections with their SNI and reuses them only for the same name).
    if (idle !== null && server.tlsSniFromHost && idle.tls?.serverName !== sniFromHost(this.user.currentRequest)) {
      idle.destroy();
      idle = null;
    }
    if (idle !== null) {
      this.isReused = true;
      this.conn = idle;
      this.state = STATE_READY;
      idle.setHandler(this);
      // HAProxy logs a connect time of 0 for a connection it reused.
      if (this.connectStartedAt < 0) this.record.connectTime = 0;
      return this.logClock();
    }
    this.isReused = false;
    if (this.connectStartedAt < 0) this.connectStartedAt = this.logClock();
    this.state = STATE_CONNECTING;
    this.armTimer(this.backend!.connectTimeout);
    const port = server.port ?? this.user.clientConnection!.local.port;
    const tls = server.tls;
    const header = server.proxyHeader;
    this.conn = this.host.runtime.connect(
      tls === undefined
        ? { host: server.host, port, noDelay: true, bufferSize: this.bufferBytes }
        : {
          host: server.host,
          port,
          noDelay: true,
          bufferSize: this.bufferBytes,
          tls: server.tlsSniFromHost ? this.tlsForHost(tls) : tls,
          preface: header === null ? undefined : encodeProxyHeader(header, this.user.clientConnection!),
        },
      this,
    );
    return NOT_READY;
  }

  /** `sni = "req.hdr(host)"`: the request's host is sent as SNI and is the name the certificate must be for. */
  private tlsForHost(tls: TlsClientOptions): TlsClientOptions {
    const request = this.user.currentRequest;
    const name = requestHost(request) ?? "";
    return { ...tls, serverName: sniFromHost(request), verifyName: name === "" ? tls.verifyName : name };
  }

  /** A connection attempt failed (`this.conn` already let go): retried, redispatched, or the request gets its 503. */
  private attemptFailed(error: NetError | undefined): void {
    const failed = this.target!;
    const backend = this.backend!;
    failed.connectFailed(this.connectTimedOut, error);
    this.host.logger.debug(`Connection to server "${backend.name}/${failed.name}" failed: ${error?.message ?? "timed out"}`);
    if (failed.tlsFailuresInRow === 1) warnTlsFailure(this.host.logger, backend.name, failed, error);
    if (this.remainingRetries <= 0) {
      this.host.logger.info(`Backend "${backend.name}": no server reachable for ${this.user.clientAddress}`);
      this.user.serverUnavailable((this.connectTimedOut ? "s" : "S") + PHASE_LETTER_CONNECT);
      return;
    }
    this.remainingRetries--;
    this.retriesMade++;
    if (backend.redispatchSlot(this.slot, this.remainingRetries) !== null) {
      this.record.redispatched = true;
      this.connect(false);
      return;
    }
    // The same server again: after an error, not before the turn-around (it would most likely
    // fail the same way); after a timeout, at once.
    const delay = backend.retryTurnaround(this.connectTimedOut);
    if (delay === 0) {
      this.connect(false);
      return;
    }
    this.state = STATE_TURNAROUND;
    this.armTimer(delay);
  }

  /**
   * A fresh connection closed before any response byte and nothing of the body was sent: the
   * request goes again, to another server when one has room (HAProxy's `retry-on empty-response`
   * with redispatch), else to the same one.
   */
  private retryElsewhere(error: NetError | undefined): void {
    const backend = this.backend!;
    const failed = this.target!;
    this.remainingRetries--;
    this.retriesMade++;
    const other = backend.pickServer(this, failed);
    if (other !== null && other !== failed && other.hasFreeSlot()) {
      backend.moveSlot(this.slot, other);
    }
    this.host.logger.debug(
      `Server "${backend.name}/${failed.name}" closed before its response (${error?.message ?? "closed"}): retrying on "${this.target!.name}"`,
    );
    this.connect(false);
  }

  /** Monotonic now for the timers, or 0 when nothing shows them (as the session's, see SessionHost.timed). */
  private logClock(): number {
    return this.host.timed ? this.host.runtime.now() : 0;
  }

  private armTimer(ms: number): void {
    if (ms > 0) this.timer.arm(ms);
    else this.timer.disarm();
  }
}

/** Whether a request may ride an idle connection opened for someone else (HAProxy's http-reuse). */
function mayTakeIdle(reuse: HttpReuseMode, firstRequest: boolean): boolean {
  switch (reuse) {
    case "always":
      return true;
    case "safe":
      // The first request of a connection never rides an idle connection opened for someone
      // else; a later request may, as its client has shown it speaks HTTP properly.
      return !firstRequest;
    default:
      return false;
  }
}

/** The SNI name of a request's Host: none for an IP address (RFC 6066 3) or no Host. */
function sniFromHost(request: HttpHead): string {
  const name = requestHost(request) ?? "";
  return isIpLiteral(name) ? "" : name;
}
