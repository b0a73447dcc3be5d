/**
 * A frontend: its listening sockets, its connection limit, and the sessions it runs.
 *
 * `maxconn`: HAProxy stops polling a full listener and lets the kernel's accept queue hold new
 * connections. libuv and uSockets accept continuously and cannot stop without closing the socket,
 * so beyond the limit we accept, pause the connection (nothing is read, the client's bytes wait in
 * the kernel), and park it; parked connections start in arrival order as sessions end. The parked
 * list is bounded by the backlog, like the kernel queue it stands in for; beyond it new
 * connections are closed at once.
 *
 * @module
 */

import type {
  Connection,
  ConnectionHandler,
  Listener,
  NetAddr,
  Runtime,
  TlsHandshakeFailure,
  TlsHandshakeStarter,
  TlsServerOptions,
} from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { Backend } from "../core/backend.ts";
import type { Logger } from "../core/logger.ts";
import type { TimerWheel } from "../core/timer_wheel.ts";
import { Pool } from "../core/pool.ts";
import { TcpSession } from "../tcp/session.ts";
import type { SniRouter } from "../tcp/sni_router.ts";
import { HttpSession } from "../http/session.ts";
import type { HttpSessionHost } from "../http/session.ts";
import type { HttpFrontendPolicy } from "../http/policy.ts";
import { ServerPool } from "../http/server_pool.ts";
import type { BindConfig, BindTlsConfig, FrontendConfig } from "../config/types.ts";
import { SniSelector } from "../tls/sni_selector.ts";
import { formatConnectionError } from "../log/log_format.ts";
import { DEFAULTS } from "../config/types.ts";
import type { TrafficLog } from "../log/traffic_log.ts";
import { ProxiedConnection, ProxyHeaderReader } from "../proxy_protocol/proxied_connection.ts";
import type { ProxyHeaderHost } from "../proxy_protocol/proxied_connection.ts";
import { PROXY_HEADER_ERROR_TEXT, V2_PREAMBLE_LENGTH } from "../proxy_protocol/parse.ts";
import type { ProxyHeaderErrorCode } from "../proxy_protocol/parse.ts";
import { TrafficCounters } from "../core/counters.ts";

/** Idle session objects kept for reuse per frontend. */
export const SESSION_POOL_CAPACITY = 1_024;

/** The process-wide connection count shared by all frontends (`global.maxconn`). */
export interface ProcessLimit {
  readonly maxconn: number;
  active: number;
  /** Called when a session ends anywhere, so another frontend's parked connection can start. */
  slotFreed(): void;
}

/** Holds parked connections: no reading, and a close removes them from the queue. */
const PARKED_HANDLER: ConnectionHandler = {
  onOpen() {},
  onData(conn: Connection, chunk: Uint8Array) {
    // A runtime may deliver bytes read before the pause took effect: start the session now rather
    // than lose them, one connection over the limit.
    (conn.owner as Frontend).startParkedEarly(conn, chunk);
  },
  onDrain() {},
  // A paused connection reports its FIN only once resumed (runtime contract): the session gets it.
  onEnd() {},
  onClose(conn: Connection) {
    (conn.owner as Frontend).unpark(conn);
  },
};

/** A listening socket handed down by the parent process (a -W master): adopted instead of bound. */
export interface InheritedListener {
  /** Its descriptor in this process. */
  readonly fd: number;
  /** Where it is bound (the real port where 0 was configured). */
  readonly host: string;
  readonly port: number;
}

/** Where frontends find the listening sockets handed down to them. */
export interface InheritedListeners {
  /**
   * The socket of bind `index` of frontend `frontend`, or null when none was handed down (the
   * frontend binds its own). Throws when it was handed down and taken before: a descriptor closed
   * once cannot be adopted again (its number may belong to another file by then).
   */
  take(frontend: string, index: number): InheritedListener | null;
}

/** The session of a connection: a byte splice in tcp mode, an HTTP/1.1 exchange loop in http mode. */
type Session = TcpSession | HttpSession;

/** Runs the listeners and sessions of one frontend. */
export class Frontend implements HttpSessionHost, ProxyHeaderHost {
  readonly name: string;
  readonly config: FrontendConfig;
  readonly runtime: Runtime;
  readonly wheel: TimerWheel;
  readonly logger: Logger;
  /**
   * tcp mode: where every connection goes, or with SNI routes where those no route takes go (null:
   * they are closed). http mode routes each request (see `httpPolicy`).
   */
  readonly backend: Backend | null;
  /** tcp mode with SNI routes: picks each connection's backend by its ClientHello's server name. */
  readonly sniRouter: SniRouter<Backend> | null;
  /** Idle server connections for http sessions (shared by the frontends of a proxy). */
  readonly serverPool: ServerPool;
  /** Set once the proxy waits for its sessions to end (graceful stop): http sessions close after their response. */
  draining = false;
  /** Sessions running now. */
  activeSessions = 0;
  /** Sessions ever started. */
  totalSessions = 0;
  /** Connections closed because even the parking queue was full. */
  rejectedConnections = 0;
  /** TLS handshakes that failed on this frontend's binds. */
  failedHandshakes = 0;
  /** Connections of accept-proxy binds closed for a missing, bad or late PROXY header. */
  failedProxyHeaders = 0;
  /** Connections of accept-proxy binds still reading their PROXY header (on a TLS bind, or in the handshake after it). */
  readingProxyHeaders = 0;
  /** Stats counters of the frontend (core/counters.ts). */
  readonly counters = new TrafficCounters();
  /**
   * Sessions read the clock for their timers (SessionHost.timed): with a traffic log, or once the
   * proxy shows stats (the proxy sets it).
   */
  timed: boolean;
  /** Session ticket keys shared with the other processes serving these binds (see TlsServerOptions). */
  tlsTicketKeys: Uint8Array | undefined = undefined;
  /** http mode: rules, router, pages and limits of the sessions (null in tcp mode). */
  readonly httpPolicy: HttpFrontendPolicy | null;
  /** Where the sessions' traffic lines go; null: no traffic log. */
  readonly trafficLog: TrafficLog | null;
  /** tune.bufsize: each connection's buffer per direction, for the runtime (see SessionHost). */
  readonly bufferSize: number;
  private readonly limit: ProcessLimit;
  private readonly pool: Pool<Session>;
  private readonly parked: Connection[] = [];
  private listeners: Listener[] = [];
  /** TLS listeners closed since the last `whenIdle`, whose handshakes a graceful stop waits for. */
  private handshaking: Listener[] = [];
  /** The addresses of the first successful bind, one per `config.binds` entry (null before). */
  private firstAddresses: NetAddr[] | null = null;
  private idleWaiters: Array<() => void> = [];
  /** Running http sessions, to close the idle ones when draining (empty in tcp mode). */
  private readonly httpSessions = new Set<HttpSession>();
  private readonly inherited: InheritedListeners | null;

  constructor(
    config: FrontendConfig,
    backend: Backend | null,
    runtime: Runtime,
    wheel: TimerWheel,
    logger: Logger,
    limit: ProcessLimit,
    serverPool: ServerPool | undefined,
    httpPolicy: HttpFrontendPolicy | null,
    trafficLog: TrafficLog | null = null,
    inherited: InheritedListeners | null = null,
    bufferSize: number = DEFAULTS.tuneBufsize,
    sniRouter: SniRouter<Backend> | null = null,
  ) {
    this.sniRouter = sniRouter;
    this.inherited = inherited;
    this.bufferSize = bufferSize;
    this.httpPolicy = httpPolicy;
    this.trafficLog = trafficLog;
    this.timed = trafficLog !== null;
    this.name = config.name;
    this.config = config;
    this.backend = backend;
    this.runtime = runtime;
    this.wheel = wheel;
    this.logger = logger;
    this.limit = limit;
    this.serverPool = serverPool ?? new ServerPool(wheel, () => runtime.now());
    // The mode decides the session type once: each frontend pools sessions of one kind.
    if (config.mode === "http") {
      if (httpPolicy === null) throw new Error(`Frontend "${config.name}" is in http mode but has no http policy`);
      this.pool = new Pool<Session>(() => new HttpSession(this, httpPolicy), SESSION_POOL_CAPACITY);
    } else {
      if (backend === null && sniRouter === null) throw new Error(`Frontend "${config.name}" is in tcp mode but has no backend`);
      this.pool = new Pool<Session>(() => new TcpSession(this), SESSION_POOL_CAPACITY);
    }
  }

  /** The addresses actually bound (real ports when 0 was asked). */
  get boundAddresses(): readonly Listener["address"][] {
    return this.listeners.map((listener) => listener.address);
  }

  /** Its listeners are bound (not paused, not stopping). */
  get isListening(): boolean {
    return this.listeners.length > 0;
  }

  /** Sessions running in every frontend of the process. */
  get processSessions(): number {
    return this.limit.active;
  }

  /** Connections accepted and waiting for a free slot. */
  get parkedConnections(): number {
    return this.parked.length;
  }

  /**
   * Binds every address, or adopts the socket handed down for it (`inherited`); on failure closes
   * those already bound and rethrows the NetError. Binding again after `unbind` (SIGTTIN) takes the
   * addresses of the first bind: the ports, also where 0 was configured, so a resumed listener is
   * found where it was; and the IP addresses a host name resolved to, as HAProxy resolves bind
   * names once, since a chrooted process can resolve no name.
   */
  async bind(): Promise<void> {
    const bound: Listener[] = [];
    const first = this.firstAddresses;
    try {
      for (const [index, bind] of this.config.binds.entries()) {
        const before = first?.[index];
        const inherited = this.inherited?.take(this.name, index) ?? null;
        const port = bind.port === 0 && before !== undefined ? before.port : bind.port;
        bound.push(await this.listen(bind, before?.address ?? bind.host, port, inherited, index));
      }
    } catch (error) {
      await Promise.all(bound.map((listener) => listener.close()));
      throw error;
    }
    this.listeners = bound;
    this.firstAddresses ??= bound.map((listener) => listener.address);
  }

  /** Stops listening; running sessions go on. */
  async unbind(): Promise<void> {
    const listeners = this.listeners;
    this.listeners = [];
    this.handshaking.push(...listeners.filter((listener) => listener.handshakesDone !== undefined));
    await Promise.all(listeners.map((listener) => listener.close()));
  }

  /**
   * Resolves when no session is running (at once if none is). http sessions are asked to finish:
   * those waiting between requests close now, the others after their current response, as
   * HAProxy's soft-stop does with keep-alive connections (otherwise an idle client would hold the
   * stop for a whole `timeout http-keep-alive`).
   */
  whenIdle(): Promise<void> {
    const closed = this.handshaking.splice(0);
    if (closed.length > 0) {
      // Connections a closed TLS listener accepted may still be in their handshake: each becomes a
      // session (which drains at once) or fails; only then is the frontend idle or not.
      this.drain();
      return Promise.all(closed.map((listener) => listener.handshakesDone!())).then(() => this.whenIdle());
    }
    // A connection still reading its PROXY header becomes a session (which drains) or fails,
    // within `timeout client`: a graceful stop waits for it as for a handshake.
    if (this.activeSessions === 0 && this.parked.length === 0 && this.readingProxyHeaders === 0) {
      this.draining = false;
      return Promise.resolve();
    }
    this.drain();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const session of [...this.httpSessions]) session.drain();
  }

  /**
   * The runtime's TLS options for a bind; a failed handshake is logged as HAProxy does, once. With
   * `accept-proxy`, each connection's PROXY header is read before the handshake (the prelude).
   */
  private tlsOptions(tls: BindTlsConfig, bindIndex: number, acceptProxy: boolean): TlsServerOptions {
    const sni = new SniSelector(tls.certificates.map((certificate) => certificate.names), tls.strictSni);
    return {
      certificates: tls.certificates.map((certificate) => ({ chain: certificate.chain, key: certificate.key })),
      selectCertificate: (name) => sni.select(name),
      alpn: tls.alpn,
      minVersion: tls.minVersion,
      ...(tls.maxVersion === null ? {} : { maxVersion: tls.maxVersion }),
      ...(tls.ciphers === null ? {} : { ciphers: tls.ciphers }),
      ...(tls.ciphersuites === null ? {} : { ciphersuites: tls.ciphersuites }),
      verify: tls.verify,
      ...(tls.ca === null ? {} : { ca: tls.ca }),
      ...(this.tlsTicketKeys === undefined ? {} : { ticketKeys: this.tlsTicketKeys }),
      // HAProxy bounds the handshake by `timeout client`.
      handshakeTimeout: this.config.timeouts.client,
      onHandshakeFailure: (failure) => this.handshakeFailed(failure, bindIndex),
      ...(acceptProxy ? { prelude: { readPrelude: (conn, handshake) => this.readProxyHeader(conn, bindIndex, handshake) } } : {}),
    };
  }

  /** A failed TLS handshake on bind `bindIndex`: counted, and logged as HAProxy does. */
  private handshakeFailed(failure: TlsHandshakeFailure, bindIndex: number): void {
    this.failedHandshakes++;
    const line = formatConnectionError(
      failure.remote.address, failure.remote.port, this.runtime.wallClock(), this.name, String(bindIndex + 1),
      `SSL handshake failure (${failure.reason})`,
    );
    if (this.trafficLog !== null) this.trafficLog.writeLine(line, true);
    else this.logger.debug(line);
  }

  private listen(bind: BindConfig, host: string, port: number, inherited: InheritedListener | null, bindIndex: number): Promise<Listener> {
    return this.runtime.listen(
      {
        host: inherited?.host ?? host,
        port: inherited?.port ?? port,
        backlog: this.config.backlog,
        reusePort: bind.reusePort,
        // nginx's default (ipv6only=on): "[::]:80" takes IPv6 only, so ":80" and "[::]:80" together
        // cover both families instead of colliding on the IPv4 port.
        ipv6Only: bind.host === "::",
        bufferSize: this.bufferSize,
        ...(inherited === null ? {} : { fd: inherited.fd }),
        ...(bind.tls === null ? {} : { tls: this.tlsOptions(bind.tls, bindIndex, bind.acceptProxy === true) }),
      },
      // A TLS bind's header is read through its TLS options (`prelude`), before the handshake.
      bind.acceptProxy === true && bind.tls === null ? (conn) => this.readProxyHeader(conn, bindIndex) : (conn) => this.accept(conn),
      (error: NetError) => this.logger.error(`Frontend "${this.name}": ${error.message}`),
    );
  }

  /**
   * accept-proxy: the header comes first, before the connection counts against `maxconn` (it is
   * bounded by `timeout client` instead, as HAProxy bounds its embryonic connections).
   */
  private readProxyHeader(conn: Connection, bindIndex: number, handshake: TlsHandshakeStarter | null = null): void {
    this.readingProxyHeaders++;
    // The header must fit in one buffer (tune.bufsize), as in HAProxy (proxy_protocol/parse.ts).
    new ProxyHeaderReader(this, conn, this.config.timeouts.client, this.bufferSize - V2_PREAMBLE_LENGTH, this.runtime.wallClock(), bindIndex, handshake);
  }

  /** @internal The PROXY header is read: the connection goes on as any accepted one. */
  proxyHeaderRead(conn: ProxiedConnection): void {
    this.readingProxyHeaders--;
    this.accept(conn);
    // Refused (the parking queue full): a graceful stop may have waited for this header only.
    this.notifyIdle();
  }

  /** @internal A TLS bind: the handshake after a PROXY header failed, logged with the header's client. */
  proxiedHandshakeFailed(failure: TlsHandshakeFailure, bindIndex: number): void {
    this.readingProxyHeaders--;
    this.notifyIdle();
    this.handshakeFailed(failure, bindIndex);
  }

  /** @internal A missing, bad or late PROXY header: logged as HAProxy logs embryonic connections. */
  proxyHeaderFailed(socket: Connection, code: ProxyHeaderErrorCode, acceptMs: number, bindIndex: number): void {
    this.readingProxyHeaders--;
    this.failedProxyHeaders++;
    this.notifyIdle();
    const line = formatConnectionError(
      socket.remote.address, socket.remote.port, acceptMs, this.name, String(bindIndex + 1), PROXY_HEADER_ERROR_TEXT[code],
    );
    if (this.trafficLog !== null) this.trafficLog.writeLine(line, true);
    else this.logger.debug(line);
  }

  private accept(conn: Connection): void {
    if (this.hasFreeSlot()) {
      this.startSession(conn);
      return;
    }
    if (this.parked.length >= this.config.backlog) {
      this.rejectedConnections++;
      this.counters.deniedConnections++;
      conn.destroy();
      return;
    }
    conn.owner = this;
    conn.setHandler(PARKED_HANDLER);
    conn.pause();
    this.parked.push(conn);
  }

  private hasFreeSlot(): boolean {
    return this.activeSessions < this.config.maxconn && this.limit.active < this.limit.maxconn;
  }

  private startSession(conn: Connection): Session {
    this.activeSessions++;
    this.totalSessions++;
    this.limit.active++;
    this.counters.sessionStarted(this.activeSessions, this.wheel.now);
    const session = this.pool.acquire();
    this.startOn(session, conn);
    // accept-proxy: the bytes that came after the header, as if they had just been read.
    const pending = conn instanceof ProxiedConnection ? conn.takePending() : null;
    if (pending !== null && conn.open) session.onData(conn, pending);
    return session;
  }

  private startOn(session: Session, conn: Connection): void {
    if (session instanceof HttpSession) {
      this.httpSessions.add(session);
      session.start(conn, this.config.timeouts);
      if (this.draining) session.drain();
    } else if (this.sniRouter !== null) {
      session.inspect(conn, this.sniRouter, this.config.timeouts.inspectDelay, this.config.timeouts.client);
    } else {
      session.start(conn, this.backend!, this.config.timeouts.client);
    }
  }

  /** Starts parked connections while there are free slots. */
  startParked(): void {
    while (this.parked.length > 0 && this.hasFreeSlot()) {
      const conn = this.parked.shift()!;
      conn.owner = undefined;
      this.startSession(conn);
    }
  }

  /** @internal A parked connection was closed by its client. */
  unpark(conn: Connection): void {
    const index = this.parked.indexOf(conn);
    if (index >= 0) this.parked.splice(index, 1);
    this.notifyIdle();
  }

  /** @internal A parked connection delivered bytes anyway. */
  startParkedEarly(conn: Connection, chunk: Uint8Array): void {
    const index = this.parked.indexOf(conn);
    if (index >= 0) this.parked.splice(index, 1);
    conn.owner = undefined;
    this.startSession(conn).onData(conn, chunk);
  }

  sessionEnded(session: object): void {
    this.activeSessions--;
    this.limit.active--;
    if (session instanceof HttpSession) this.httpSessions.delete(session);
    this.pool.release(session as Session);
    this.limit.slotFreed();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.activeSessions !== 0 || this.parked.length !== 0 || this.readingProxyHeaders !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    // Idle again: sessions that start from now on (if still listening) keep their connections.
    this.draining = false;
    for (const resolve of waiters) resolve();
  }
}
