/**
 * A tcp-mode session: one client connection spliced to one server connection, bytes untouched.
 *
 * The session is the handler of both of its connections, so the splice path is two method calls
 * per chunk with no closure, promise or copy. Backpressure is passed through: when one side's
 * write buffer is over its high-water mark, the other side stops reading until it drains. Half-close
 * is forwarded (a FIN on one side becomes `end()` on the other); an abnormal close of one side
 * destroys the other.
 *
 * Connection failures are retried as HAProxy does: up to `retries` more attempts; with `redispatch`
 * each one on another server at once (the last one only, for hashing algorithms: see
 * Backend.redispatchTarget); on the same server after a turn-around delay when the attempt failed
 * with an error, at once when it timed out.
 *
 * With SNI routes the backend is picked by the server name of the TLS ClientHello (HAProxy's
 * `req.ssl_sni` with `tcp-request inspect-delay`): the session first reads the client's bytes,
 * keeping every chunk as it came to forward it untouched, until the hello reader decides or the
 * inspect delay (the session's one wheel entry) expires; then it connects as any other session.
 *
 * A session holds a slot on its server for its whole life (the server's maxconn counts sessions);
 * when every server is full it waits in a queue (see core/backend.ts) for at most `timeout queue`,
 * then is closed, as HAProxy closes a tcp session it could not serve.
 *
 * @module
 */

import { warnTlsFailure } from "../core/server.ts";
import type { Connection, ConnectionHandler } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { Backend } from "../core/backend.ts";
import { DISCARD_HANDLER } from "../core/discard_handler.ts";
import type { Server } from "../core/server.ts";
import { SLOT_HOLDING, SLOT_WAITING, ServerSlot } from "../core/server_slot.ts";
import type { ShutdownCause, SlotUser } from "../core/server_slot.ts";
import { SLOT_QUEUED, SLOT_TAKEN } from "../core/backend.ts";
import type { TimerOwner, WheelTimer } from "../core/timer_wheel.ts";
import type { TrafficLog } from "../log/traffic_log.ts";
import type { SessionHost } from "./session_host.ts";
import type { SniRouter } from "./sni_router.ts";
import { encodeProxyHeader } from "../proxy_protocol/encode.ts";
import { ClientHelloReader, HELLO_INCOMPLETE, HELLO_SNI } from "../tls/client_hello.ts";
import { createLogRecord } from "../log/record.ts";
import { countOutcome, createSessionOutcome } from "../core/counters.ts";
import type { LogRecord } from "../log/record.ts";
import {
  fillServer,
  finishRecord,
  PHASE_LETTER_CONNECT,
  PHASE_LETTER_DATA,
  PHASE_LETTER_QUEUE,
  PHASE_LETTER_REQUEST,
  recordQueuePosition,
  startRecord,
} from "./session_log.ts";

const PHASE_IDLE = 0;
const PHASE_CONNECTING = 1;
const PHASE_TURNAROUND = 2;
const PHASE_ESTABLISHED = 3;
const PHASE_CLOSING = 4;
const PHASE_QUEUED = 5;
/** Reading the ClientHello to pick the backend by SNI. */
const PHASE_INSPECTING = 6;


/** One proxied TCP connection. Pooled: `start` begins a session, and it returns itself to its host at the end. */
export class TcpSession implements ConnectionHandler, SlotUser, TimerOwner {
  private readonly host: SessionHost;
  private readonly timer: WheelTimer;
  private readonly slot: ServerSlot;
  private client: Connection | null = null;
  private server: Connection | null = null;
  private backend: Backend | null = null;
  /** While inspecting: the frontend's SNI routes, and the reader of the hello (kept with the pooled session). */
  private router: SniRouter<Backend> | null = null;
  private hello: ClientHelloReader | null = null;
  private inspectDelay = 0;
  private phase = PHASE_IDLE;
  private retriesLeft = 0;
  /** How the session ended, refilled for the stats counters at each end. */
  private readonly outcome = createSessionOutcome();
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private clientEnded = false;
  private serverEnded = false;
  private clientClosed = false;
  private serverClosed = false;
  private idleTimeout = 0;
  /** Bytes received from the client and from the server, for logs and tests. */
  bytesFromClient = 0;
  bytesFromServer = 0;
  /** The log line's facts, refilled for each session (tcplog: one line per session). */
  private readonly record: LogRecord = createLogRecord();
  /** Monotonic times: accepted, queued (-1: never), first connection attempt (-1: none yet). */
  private acceptedAt = 0;
  private queuedAt = -1;
  private connectStartedAt = -1;
  /** The server last tried, for the log (the slot lets go of it before the end). */
  private lastServer: Server | null = null;
  /** The last connection attempt failed by timing out (sC rather than SC). */
  private connectTimedOut = false;
  /** HAProxy's termination state (two letters) of the first abnormal event; null: normal so far. */
  private termination: string | null = null;
  /** Client timeout in force while established, to tell a client-side timeout (cD) from a server-side one (sD). */
  private clientTimeout = 0;

  constructor(host: SessionHost) {
    this.host = host;
    this.timer = host.wheel.createFor(this);
    this.slot = new ServerSlot(this);
  }

  /** Takes over an accepted client connection and starts connecting to a server of `backend`. */
  start(client: Connection, backend: Backend, clientTimeout: number): void {
    this.accept(client, clientTimeout);
    this.route(backend);
  }

  /**
   * Takes over an accepted client connection and reads its TLS ClientHello for at most
   * `inspectDelay` ms, then connects to the backend `router` picks for its server name.
   */
  inspect(client: Connection, router: SniRouter<Backend>, inspectDelay: number, clientTimeout: number): void {
    this.accept(client, clientTimeout);
    this.router = router;
    this.inspectDelay = inspectDelay;
    this.phase = PHASE_INSPECTING;
    // The cap is one buffer, as HAProxy inspects what fits in tune.bufsize.
    if (this.hello === null || this.hello.limit !== this.host.bufferSize) this.hello = new ClientHelloReader(this.host.bufferSize);
    else this.hello.reset();
    this.timer.arm(inspectDelay);
    // A connection parked beyond maxconn comes paused, and the hello must be read now.
    client.resume();
  }

  private accept(client: Connection, clientTimeout: number): void {
    this.client = client;
    this.clientTimeout = clientTimeout;
    const record = this.record;
    this.acceptedAt = this.logClock();
    if (this.host.trafficLog !== null) {
      record.acceptDate = this.host.runtime.wallClock();
      record.requestDate = record.acceptDate;
      startRecord(record, this.host, client);
    }
    client.setHandler(this);
    client.setNoDelay(true);
  }

  /** Takes a slot on `backend` (or queues for one) and connects. */
  private route(backend: Backend): void {
    const client = this.client!;
    const record = this.record;
    this.backend = backend;
    this.phase = PHASE_CONNECTING;
    this.retriesLeft = backend.retries;
    // HAProxy: once both sides are connected, `timeout tunnel` supersedes client and server.
    this.idleTimeout = backend.tunnelTimeout > 0 ? backend.tunnelTimeout : minPositive(this.clientTimeout, backend.serverTimeout);
    backend.sessionStarted();
    const outcome = backend.takeSlot(this.slot, this.host.wheel.now);
    if (outcome === SLOT_TAKEN) {
      record.queueTime = 0;
      this.connect();
    } else if (outcome === SLOT_QUEUED) {
      this.phase = PHASE_QUEUED;
      // Routed at accept unless the hello was inspected first: no second clock read then.
      this.queuedAt = this.inspectDelay === 0 ? this.acceptedAt : this.logClock();
      recordQueuePosition(record, backend, this.slot);
      if (backend.queueTimeout > 0) this.timer.arm(backend.queueTimeout);
    } else {
      this.host.logger.debug(`Backend "${backend.name}" has no server available for ${client.remote.address}`);
      this.terminate("S" + PHASE_LETTER_CONNECT);
      this.abort();
    }
  }

  /** A slot freed up for this queued session. */
  slotGranted(_server: Server): void {
    if (this.phase !== PHASE_QUEUED) return;
    this.record.queueTime = Math.round(this.logClock() - this.queuedAt);
    this.connect();
  }

  /** The last server went down while this session was queued. */
  slotRefused(): void {
    if (this.phase !== PHASE_QUEUED) return;
    this.terminate("S" + PHASE_LETTER_QUEUE);
    this.abort();
  }

  /** The server was taken out with its sessions (`shutdown-sessions`, `shutdown-backup-sessions`). */
  shutdownByServer(cause: ShutdownCause): void {
    if (this.phase === PHASE_IDLE || this.phase === PHASE_CLOSING) return;
    this.terminate(cause + this.phaseLetter());
    this.abort();
  }

  /** Monotonic now for the timers, or 0 when nothing shows them (no clock read to pay, see SessionHost.timed). */
  private logClock(): number {
    return this.host.timed ? this.host.runtime.now() : 0;
  }

  /** Keeps the first abnormal end's termination state. */
  private terminate(code: string): void {
    if (this.termination === null) this.termination = code;
  }

  /** The second letter of a termination state for the current phase. */
  private phaseLetter(): string {
    switch (this.phase) {
      case PHASE_INSPECTING:
        return PHASE_LETTER_REQUEST;
      case PHASE_QUEUED:
        return PHASE_LETTER_QUEUE;
      case PHASE_CONNECTING:
      case PHASE_TURNAROUND:
        return PHASE_LETTER_CONNECT;
      default:
        return PHASE_LETTER_DATA;
    }
  }

  /** The server whose slot this session holds (null while queued or without one). */
  private get target(): Server | null {
    return this.slot.state === SLOT_HOLDING ? this.slot.server : null;
  }

  /** The client's address, for balancing by source. */
  get clientAddress(): string {
    return this.client?.remote.address ?? "";
  }

  /** tcp mode has no request: `uri` balancing falls back to round robin. */
  get requestTarget(): string {
    return "";
  }

  /** tcp mode has no request headers: `hdr` balancing falls back to round robin. */
  requestHeader(_lowerName: string): string | undefined {
    return undefined;
  }

  onOpen(conn: Connection): void {
    if (conn !== this.server) return;
    this.target?.connected();
    this.record.connectTime = Math.round(this.logClock() - this.connectStartedAt);
    this.phase = PHASE_ESTABLISHED;
    this.armIdle();
    // The PROXY header goes before any byte of the client's (HAProxy's send-proxy); towards a TLS
    // server it went before the handshake (the connection's preface).
    const header = this.target?.proxyHeader ?? null;
    if (header !== null && this.client !== null && conn.tls === undefined) conn.write(encodeProxyHeader(header, this.client));
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) conn.write(pending[i]!);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.clientEnded) conn.end();
    else this.client!.resume();
  }

  onData(conn: Connection, chunk: Uint8Array): void {
    if (conn === this.client) {
      this.bytesFromClient += chunk.length;
      if (this.phase === PHASE_ESTABLISHED) {
        const server = this.server;
        if (server === null) return;
        if (this.idleTimeout > 0) this.timer.touch(this.idleTimeout);
        if (!server.write(chunk)) conn.pause();
      } else if (this.phase !== PHASE_CLOSING) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        if (this.phase === PHASE_INSPECTING) {
          // The reader gives up at one buffer, so what is held while inspecting stays bounded too.
          if (this.hello!.feed(chunk) !== HELLO_INCOMPLETE) this.routeByHello(null);
        } else if (this.pendingBytes >= this.host.bufferSize) {
          // Held while the server connection is being made, up to one buffer (HAProxy's tune.bufsize).
          conn.pause();
        }
      }
    } else {
      this.bytesFromServer += chunk.length;
      const client = this.client;
      if (client === null || this.phase !== PHASE_ESTABLISHED) return;
      if (this.idleTimeout > 0) this.timer.touch(this.idleTimeout);
      if (!client.write(chunk)) conn.pause();
    }
  }

  onDrain(conn: Connection): void {
    if (this.phase !== PHASE_ESTABLISHED) return;
    if (conn === this.client) this.server?.resume();
    else if (conn === this.server) this.client?.resume();
  }

  onEnd(conn: Connection): void {
    // Runtimes may still report a FIN after the other side is gone (Bun emits "end" after an
    // error close of the peer socket): every forward checks that the peer is still there.
    if (conn === this.client) {
      this.clientEnded = true;
      if (this.phase === PHASE_ESTABLISHED) this.server?.end();
      // As HAProxy evaluates its rules one last time when the client shuts its side: no more bytes will come.
      else if (this.phase === PHASE_INSPECTING) this.routeByHello("the client shut its side before its ClientHello was complete");
    } else if (conn === this.server) {
      this.serverEnded = true;
      this.client?.end();
    }
  }

  onClose(conn: Connection, error: NetError | undefined): void {
    if (conn === this.client) {
      this.clientClosed = true;
      this.client = null;
      // A clean close means both directions finished; anything else aborts the server side too.
      if (error !== undefined || !this.clientEnded || this.phase !== PHASE_ESTABLISHED) {
        if (this.phase !== PHASE_CLOSING) this.terminate("C" + this.phaseLetter());
        this.abortServer();
        this.phase = PHASE_CLOSING;
      }
    } else if (conn === this.server) {
      this.serverClosed = true;
      this.server = null;
      if (this.phase === PHASE_CONNECTING) {
        this.connectFailed(error);
        return;
      }
      if (error !== undefined || !this.serverEnded) {
        if (this.phase !== PHASE_CLOSING) this.terminate("S" + PHASE_LETTER_DATA);
        this.phase = PHASE_CLOSING;
        this.client?.destroy();
      }
    } else {
      return;
    }
    if (this.clientClosed && (this.serverClosed || this.server === null)) this.finish();
  }

  /**
   * Routes by the hello once it is read or will not be (`unfinished`: why not): the server name's
   * route, else the default backend, else the connection is closed (HAProxy without a
   * default_backend). Bytes read so far stay pending and go to the server first.
   */
  private routeByHello(unfinished: string | null): void {
    const hello = this.hello!;
    const serverName = unfinished === null && hello.status === HELLO_SNI ? hello.serverName : "";
    const backend = this.router!.pick(serverName);
    this.router = null;
    this.timer.disarm();
    if (backend === null) {
      const why = unfinished ?? (serverName !== "" ? `no route for server name "${serverName}"` : hello.problem);
      this.host.logger.debug(`Frontend "${this.host.name}" closes the connection from ${this.clientAddress}: ${why}, and it has no default-backend`);
      this.terminate("P" + PHASE_LETTER_REQUEST);
      this.abort();
      return;
    }
    this.route(backend);
    // What was read with the hello may already fill the buffer held for the server (a hello plus early data).
    if (this.phase !== PHASE_CLOSING && this.pendingBytes >= this.host.bufferSize) this.client?.pause();
  }

  private connect(): void {
    const server = this.target!;
    const client = this.client!;
    this.lastServer = server;
    this.connectTimedOut = false;
    if (this.connectStartedAt < 0) this.connectStartedAt = this.logClock();
    this.phase = PHASE_CONNECTING;
    this.serverClosed = false;
    this.serverEnded = false;
    const connectTimeout = this.backend!.connectTimeout;
    if (connectTimeout > 0) this.timer.arm(connectTimeout);
    else this.timer.disarm();
    const port = server.port ?? client.local.port;
    const tls = server.tls;
    const header = server.proxyHeader;
    this.server = this.host.runtime.connect(
      tls === undefined
        ? { host: server.host, port, noDelay: true, bufferSize: this.host.bufferSize }
        : { host: server.host, port, noDelay: true, bufferSize: this.host.bufferSize, tls, preface: header === null ? undefined : encodeProxyHeader(header, client) },
      this,
    );
  }

  private connectFailed(error: NetError | undefined): void {
    const failed = this.target!;
    failed.connectFailed(this.connectTimedOut, error);
    this.host.logger.debug(
      `Connection to server "${this.backend!.name}/${failed.name}" failed: ${error?.message ?? "closed"}`,
    );
    if (failed.tlsFailuresInRow === 1) warnTlsFailure(this.host.logger, this.backend!.name, failed, error);
    if (this.client === null) {
      this.finish();
      return;
    }
    if (this.retriesLeft <= 0) {
      this.host.logger.info(`Backend "${this.backend!.name}": no server reachable for ${this.clientAddress}`);
      this.terminate((this.connectTimedOut ? "s" : "S") + PHASE_LETTER_CONNECT);
      this.abort();
      return;
    }
    this.retriesLeft--;
    const backend = this.backend!;
    if (backend.redispatchSlot(this.slot, this.retriesLeft) !== null) {
      this.record.redispatched = true;
      this.connect();
      return;
    }
    // The same server again: after an error, not before the turn-around (it would most likely
    // fail the same way); after a timeout, at once.
    const delay = backend.retryTurnaround(this.connectTimedOut);
    if (delay === 0) {
      this.connect();
      return;
    }
    this.phase = PHASE_TURNAROUND;
    this.timer.arm(delay);
  }

  /** @internal The session's timer expired (its {@link TimerOwner} method). */
  onTimer(): void {
    switch (this.phase) {
      case PHASE_INSPECTING:
        this.routeByHello(`the ClientHello was not complete within the inspect delay (${this.inspectDelay} ms)`);
        return;
      case PHASE_CONNECTING: {
        const attempt = this.server;
        this.server = null;
        if (attempt !== null) {
          attempt.setHandler(DISCARD_HANDLER);
          attempt.destroy();
        }
        this.connectTimedOut = true;
        this.connectFailed(undefined);
        return;
      }
      case PHASE_TURNAROUND:
        // A server marked down during the turn-around is left for another one.
        this.backend!.retargetSlot(this.slot);
        this.connect();
        return;
      case PHASE_QUEUED:
        this.backend!.queueTimedOut(this.slot);
        this.host.logger.debug(`Session from ${this.clientAddress} waited over ${this.backend!.queueTimeout} ms in the queue of backend "${this.backend!.name}"`);
        this.terminate("s" + PHASE_LETTER_QUEUE);
        this.abort();
        return;
      case PHASE_ESTABLISHED:
        this.host.logger.debug(`Session from ${this.clientAddress} timed out after ${this.idleTimeout} ms idle`);
        // The timeout in force is the client's when it is the shorter one (and no tunnel timeout replaced both).
        this.terminate((this.idleTimeout === this.clientTimeout ? "c" : "s") + PHASE_LETTER_DATA);
        this.abort();
        return;
    }
  }

  private armIdle(): void {
    if (this.idleTimeout > 0) this.timer.arm(this.idleTimeout);
    else this.timer.disarm();
  }

  private abortServer(): void {
    const server = this.server;
    if (server === null) return;
    if (this.phase !== PHASE_ESTABLISHED) {
      // A connection attempt in flight: let it go and finish without waiting for its outcome.
      this.server = null;
      server.setHandler(DISCARD_HANDLER);
    }
    server.destroy();
  }

  /** Closes both sides now; finish follows from their close events (or at once if none is left). */
  private abort(): void {
    this.phase = PHASE_CLOSING;
    this.timer.disarm();
    this.abortServer();
    if (this.client !== null) this.client.destroy();
    else this.finish();
  }

  private finish(): void {
    if (this.phase === PHASE_IDLE) return;
    this.timer.disarm();
    const backend = this.backend;
    // One clock read for the counters and the line.
    const now = this.logClock();
    this.count(now);
    const log = this.host.trafficLog;
    if (log !== null) this.writeLog(log, now);
    if (backend !== null) {
      if (this.slot.state === SLOT_HOLDING) backend.releaseSlot(this.slot);
      else if (this.slot.state === SLOT_WAITING) backend.cancelWait(this.slot);
      backend.activeConnections--;
    }
    this.phase = PHASE_IDLE;
    this.client = null;
    this.server = null;
    this.backend = null;
    this.router = null;
    this.inspectDelay = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.clientEnded = false;
    this.serverEnded = false;
    this.clientClosed = false;
    this.serverClosed = false;
    this.bytesFromClient = 0;
    this.bytesFromServer = 0;
    this.queuedAt = -1;
    this.connectStartedAt = -1;
    this.lastServer = null;
    this.termination = null;
    const record = this.record;
    record.queueTime = -1;
    record.connectTime = -1;
    record.serverQueue = 0;
    record.backendQueue = 0;
    record.redispatched = false;
    this.host.sessionEnded(this);
  }

  /** Counts the session on its frontend, backend and server (core/counters.ts). */
  private count(now: number): void {
    const outcome = this.outcome;
    const record = this.record;
    const backend = this.backend;
    const timed = this.host.timed;
    outcome.termination = this.termination;
    outcome.bytesIn = this.bytesFromClient;
    outcome.bytesOut = this.bytesFromServer;
    outcome.retries = backend === null ? 0 : backend.retries - this.retriesLeft;
    outcome.redispatched = record.redispatched;
    outcome.queueTime = !timed ? -1 : record.queueTime >= 0 ? record.queueTime : this.queuedAt >= 0 ? Math.round(now - this.queuedAt) : -1;
    outcome.connectTime = timed ? record.connectTime : -1;
    outcome.totalTime = timed ? Math.round(now - this.acceptedAt) : -1;
    countOutcome(this.host.counters, backend === null ? null : backend.counters, this.lastServer === null ? null : this.lastServer.counters, outcome, false);
  }

  /** The session's line, taken before it lets go of its slot (the counts include it, as HAProxy's). */
  private writeLog(log: TrafficLog, now: number): void {
    const record = this.record;
    const backend = this.backend;
    record.totalTime = Math.round(now - this.acceptedAt);
    // Still queued, or left the queue without a slot: the time waited so far (HAProxy's Tw on sQ).
    if (record.queueTime < 0 && this.queuedAt >= 0) record.queueTime = Math.round(now - this.queuedAt);
    record.bytesRead = this.bytesFromServer;
    record.bytesUploaded = this.bytesFromClient;
    record.retries = backend === null ? 0 : backend.retries - this.retriesLeft;
    // The server last tried, reached or not (HAProxy logs it with SC); <NOSRV> when none was tried.
    fillServer(record, this.lastServer, record.frontendPort);
    finishRecord(record, this.host, backend, this.lastServer, this.termination);
    log.write(record);
  }
}

function minPositive(a: number, b: number): number {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return a < b ? a : b;
}
