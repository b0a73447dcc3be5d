/**
 * An http-mode session: one client connection carrying HTTP/1.1 requests one after the other, each
 * balanced on its own to a server connection, fresh or taken from the idle pool.
 *
 * The stream is parsed and rebuilt (RFC 9112): request and response heads go through the
 * {@link HeadParser} and are serialized again without their hop-by-hop headers; bodies are
 * forwarded as the chunks arrive, framed by Content-Length, chunked encoding (validated by the
 * {@link ChunkedDecoder}, bytes forwarded as they are) or, for responses, the server's close.
 * A request head may get headers added at its end: X-Forwarded-For, -Proto, -Host (see
 * forwarded_headers.ts), decided per connection for the client part and per request otherwise.
 * Backpressure is passed through exactly as in tcp mode: when one side's write returns false, the
 * other side stops reading until `onDrain`.
 *
 * Requests are answered in order (RFC 9112 9.3.2): request N+1 is not parsed before response N is
 * complete. Bytes that arrive meanwhile are held (bounded, then the client is paused).
 *
 * Each request goes through the frontend's http-request rules, the router (which picks the
 * backend), the backend's http-request rules; its response through the backend's then the
 * frontend's http-response rules (see policy.ts). A rule's redirect or return is answered on the
 * kept-alive connection when the request is whole; deny and generated errors close it.
 *
 * An upgrade request (Connection: upgrade with Upgrade, no body) is forwarded with its Upgrade
 * header; a 101 answer turns the connection into a byte tunnel under `timeout tunnel`, with
 * half-close and backpressure as in tcp mode: the session's {@link HttpTunnel} (tunnel.ts).
 *
 * Writes: a head and the first piece of its body that arrived with it leave in one write (one
 * small copy costs less than a second send), and while a body is forwarded in several pieces the
 * receiving socket has TCP_NODELAY off, so that small pieces coalesce in the kernel as HAProxy's
 * MSG_MORE lets them; it is set again when the body ends, which pushes the last piece out at once.
 * `http-no-delay` keeps TCP_NODELAY on throughout; the head still leaves with the body bytes that
 * are already there, since joining them delays nothing.
 *
 * The server side of each request (its slot or place in a queue, the server connection, fresh or
 * idle under `http-reuse`, retries and redispatch) is the session's {@link ServerConnector}
 * (server_connector.ts), which is also the server connection's handler and passes the events of a
 * ready connection on to the session. The session decides what only the exchange knows: whether
 * a connection is still in step to be reused, and whether a request whose connection closed
 * before any response byte may be sent again (nothing of its body consumed, and an idempotent
 * method: RFC 9112 9.3.1, a non-idempotent request must not be retried automatically; others get
 * a 502).
 *
 * The log line and the stats counts of each request are the session's {@link RequestLog}
 * (request_log.ts): the session reports the request's milestones, bytes and first abnormal event
 * to it, and says when the request is over.
 *
 * One timer entry per session on the wheel: `timeout http-request` while a request head arrives,
 * `timeout http-keep-alive` between requests, `timeout queue`, the connect timeout and the
 * turn-around while the connector works (it arms the same entry), `timeout server` while waiting
 * for the response head, min(client, server) while bodies flow.
 *
 * @module
 */

import type { Connection, ConnectionHandler } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { Backend } from "../core/backend.ts";
import type { Server } from "../core/server.ts";
import type { ShutdownCause } from "../core/server_slot.ts";
import type { TimerOwner, WheelTimer } from "../core/timer_wheel.ts";
import {
  PHASE_LETTER_CONNECT,
  PHASE_LETTER_DATA,
  PHASE_LETTER_HEADERS,
  PHASE_LETTER_QUEUE,
  PHASE_LETTER_REQUEST,
} from "../tcp/session_log.ts";
import { createLogRecord } from "../log/record.ts";
import {
  BODY_CHUNKED,
  BODY_CONTENT_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  HEAD_FAILED,
  HEAD_INCOMPLETE,
} from "./head_parser.ts";
import type { HeadParser, HttpHead } from "./head_parser.ts";
import { CHUNKED_FAILED, ChunkedDecoder } from "./chunked_decoder.ts";
import { serializeHead } from "./serialize.ts";
import { NOT_READY, ServerConnector } from "./server_connector.ts";
import type { ServerConnectorHost, ServerConnectorUser } from "./server_connector.ts";
import { forwardedHeaders, forwardForValue, replacedForwardedHeaders } from "./forwarded_headers.ts";
import type { SerializeOptions } from "./serialize.ts";
import type { HttpBackendRoute, HttpFrontendPolicy } from "./policy.ts";
import { renderAnswer } from "./rules.ts";
import type { RuleVerdict } from "./rules.ts";
import { LINGER_IDLE_MS, LINGER_OVER, LingeringClose } from "./lingering_close.ts";
import { RequestLog } from "./request_log.ts";
import { HttpTunnel, offersUpgrade } from "./tunnel.ts";
import { writeJoined } from "./write_joined.ts";
import { bodyTimeout, bodyTimeoutSide, keepAliveTimeout, requestHeadTimeout } from "./session_timeouts.ts";
import type { HttpClientTimeouts } from "./session_timeouts.ts";

export type { HttpClientTimeouts } from "./session_timeouts.ts";

export { COALESCE_MAX_BYTES } from "./write_joined.ts";

/**
 * How long an idle keep-alive connection lives on once the proxy stops. A client under load sends
 * its next request right after a response: closing the connection at once resets that request
 * (npm run bench:reload, 10 reloads under keep-alive load: 100 to 260 failed requests per run on
 * each runtime, against none with this grace; docs/operations.md). A request arriving meanwhile is
 * served with `Connection: close`.
 */
const DRAIN_IDLE_GRACE_MS = 100;

/** What an http session needs from its frontend (the idle server connections through {@link ServerConnectorHost}). */
export interface HttpSessionHost extends ServerConnectorHost {
  /** The proxy is stopping: close each client connection after its current response (HAProxy's soft-stop). */
  readonly draining: boolean;
}


const PHASE_IDLE = 0;
/** Waiting for (or reading) a request head. */
const PHASE_REQUEST = 1;
/**
 * The request is the connector's until its server connection is ready: queued, connecting, or in
 * a retry's turn-around (the connector knows which). Set before the request is handed over; a
 * connection ready at once (taken idle: the hand-over's answer) moves on to PHASE_EXCHANGE as soon
 * as the hand-over returns.
 */
const PHASE_CONNECTING = 2;
/** Connected to the server: the request body and the response flow. */
const PHASE_EXCHANGE = 4;
/** Our last response is sent and our side half-closed: the client's bytes are read and dropped until it closes (lingering_close.ts). */
const PHASE_CLOSING = 5;
/** After a 101: bytes spliced both ways. */
const PHASE_TUNNEL = 6;
/** A rule's answer is written but the client's buffer is full: waiting for it to drain before the next request. */
const PHASE_ANSWERED = 7;

/** RFC 9110 9.2.2: methods whose repetition has the effect of one request, safe to retry. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

const REQUEST_HEAD = 0;
const REQUEST_BODY = 1;
const REQUEST_DONE = 2;

const RESPONSE_HEAD = 0;
const RESPONSE_BODY = 1;
const RESPONSE_DONE = 2;

const CLOSE_RESPONSE_OPTIONS: SerializeOptions = Object.freeze({ addHeaders: Object.freeze(["Connection", "close"]) });
/** An HTTP/1.0 client kept alive must be told so (RFC 9112 9.3, appendix C.2.2). */
const KEEP_ALIVE_RESPONSE_OPTIONS: SerializeOptions = Object.freeze({ addHeaders: Object.freeze(["Connection", "keep-alive"]) });

// How a request head is rebuilt, filled for each request by rebuildRequest and read by
// serializeHead before it returns: shared by every session (one request head is rebuilt at a
// time), where one pair per session was 100 bytes of every idle connection.
const ADDED_HEADERS: string[] = [];
const REQUEST_OPTIONS: SerializeOptions = { addHeaders: ADDED_HEADERS, dropHeaders: undefined, keepUpgrade: false };

/** The hold list of a session holding nothing (replaced by an array of its own on the first hold). */
const NOTHING_HELD: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];


/** One client connection in http mode. Pooled: `start` begins a session, and it returns itself to its host at the end. */
export class HttpSession implements ConnectionHandler, ServerConnectorUser, TimerOwner {
  private readonly host: HttpSessionHost;
  private readonly policy: HttpFrontendPolicy;
  private readonly timer: WheelTimer;
  /** The server side of each request: slot, queue, server connection, retries. */
  private readonly connector: ServerConnector;
  // Taken per exchange from the frontend's pools (head_parser_pool.ts) and given back between
  // requests: a keep-alive connection waiting for its next request holds neither (issue 21).
  /** From the first byte of a request until its response is over. */
  private request: HeadParser | null = null;
  /** From the request's hand-over to a server until its response is over. */
  private response: HeadParser | null = null;
  // Made when first needed (the tunnel too): most connections never see a chunked body, linger or
  // upgrade, and what every idle keep-alive connection holds is what 10,000 of them cost (issue 21).
  private requestChunks: ChunkedDecoder | null = null;
  private responseChunks: ChunkedDecoder | null = null;
  private linger: LingeringClose | null = null;
  private client: Connection | null = null;
  /** The backend of the current request, and the route that led to it. */
  private backend: Backend | null = null;
  private route: HttpBackendRoute | null = null;
  private phase = PHASE_IDLE;
  private requestState = REQUEST_HEAD;
  private responseState = RESPONSE_HEAD;
  private requestRemaining = 0;
  private responseRemaining = 0;
  /** The rebuilt request head, kept until the response starts so the request can be sent again. */
  private requestHead: Uint8Array | null = null;
  /** Some request body bytes went to the server: the request can no longer be retried. */
  private requestBodySent = false;
  /** Some response bytes came from the server. */
  private responseStarted = false;
  /** The current server connection is still in step: it may go back to the pool once the exchange is over. */
  private serverReusable = true;
  /** Close the client connection after the current response. */
  private closeAfter = false;
  private held: Uint8Array[] = NOTHING_HELD;
  private heldBytes = 0;
  private clientEnded = false;
  /** Waiting for the first byte of a request after a response (http-keep-alive applies). */
  private keepAliveWait = false;
  private timeouts: HttpClientTimeouts = { client: 0, httpRequest: 0, httpKeepAlive: 0 };
  /** This client's X-Forwarded-For value for the route it was computed for (routes may except different networks). */
  private forwardForRoute: HttpBackendRoute | null = null;
  private forwardFor: string | null = null;
  /** The received headers the current route's forwarded headers replace (replacedForwardedHeaders). */
  private replacedHeaders: readonly string[] | undefined = undefined;
  /** The request asks for an upgrade and it was forwarded: a 101 opens a tunnel. */
  private upgrading = false;
  /** The last request body write to the server returned false. */
  private serverPushedBack = false;
  /** Heads waiting to leave with the first body piece (see the module notes on writes). */
  private serverHead: Uint8Array | null = null;
  private clientHead: Uint8Array | null = null;
  /** TCP_NODELAY is off on the server (request body) or the client (response body) connection. */
  private serverCorked = false;
  private clientCorked = false;
  /** Requests whose exchange began on this connection. */
  requests = 0;
  /** The current request's log line and counts (httplog: one line per request). */
  private readonly requestLog: RequestLog;
  /** The bytes spliced both ways after a 101 (PHASE_TUNNEL). */
  private tunnel: HttpTunnel | null = null;

  /** `policy`: the frontend's rules, router, pages and limits. */
  constructor(host: HttpSessionHost, policy: HttpFrontendPolicy) {
    this.host = host;
    this.policy = policy;
    this.timer = host.wheel.createFor(this);
    // One record for the connector's queue and connect facts and the request log's others.
    const record = createLogRecord();
    this.connector = new ServerConnector(host, this, this.timer, record, policy.bufferBytes);
    this.requestLog = new RequestLog(host, record, this.connector);
  }

  /** Takes over an accepted client connection and waits for its first request. */
  start(client: Connection, timeouts: HttpClientTimeouts): void {
    this.client = client;
    this.timeouts = timeouts;
    client.setHandler(this);
    client.setNoDelay(true);
    this.requestLog.connectionStarted(client);
    this.waitRequest(false);
  }

  /**
   * The proxy is stopping: a connection in the middle of an exchange closes after its response
   * (which says `Connection: close`), as in HAProxy's soft-stop; one waiting between requests gets
   * {@link DRAIN_IDLE_GRACE_MS} for a request already on its way (answered with `Connection:
   * close`), then closes silently as on its keep-alive timeout.
   */
  drain(): void {
    if (this.phase === PHASE_REQUEST && this.keepAliveWait) this.armTimer(DRAIN_IDLE_GRACE_MS);
    else this.closeAfter = true;
  }

  /** The server whose slot the current request holds (null while queued or without one). */
  private get target(): Server | null {
    return this.connector.target;
  }

  /** The current request's server connection (the connector's), null while there is none. */
  private get server(): Connection | null {
    return this.connector.connection;
  }

  /** The client connection, for the connector (the server port taken from it, the PROXY header). */
  get clientConnection(): Connection | null {
    return this.client;
  }

  /** The client's address, for balancing by source. */
  get clientAddress(): string {
    return this.client?.remote.address ?? "";
  }

  /** The current request, for the connector (SNI from its Host). */
  get currentRequest(): HttpHead {
    return this.request!;
  }

  /** The current request's target, for `balance uri`. */
  get requestTarget(): string {
    return this.request!.target;
  }

  /** A header of the current request, for `balance hdr`. */
  requestHeader(lowerName: string): string | undefined {
    return this.request!.headerValue(lowerName);
  }

  // ---- the client connection's events (the session is its handler; the connector is the server connection's) ----

  /** Accepted connections are open already: only dialled ones report an open, and the connector dials. */
  onOpen(): void {}

  onData(conn: Connection, chunk: Uint8Array): void {
    if (conn !== this.client) return;
    if (this.phase === PHASE_TUNNEL) this.tunnel!.fromClient(chunk);
    else this.clientData(chunk, 0);
  }

  onDrain(conn: Connection): void {
    if (conn !== this.client) return;
    if (this.phase === PHASE_ANSWERED) {
      this.waitRequest(true);
      return;
    }
    if (this.phase === PHASE_TUNNEL) this.tunnel!.clientDrained();
    else if (this.responseState === RESPONSE_BODY) this.server?.resume();
  }

  onEnd(conn: Connection): void {
    // Runtimes may report a FIN after the connection was let go (Bun): identity checks first.
    if (conn === this.client) this.clientEnd();
  }

  onClose(conn: Connection, error: NetError | undefined): void {
    if (conn !== this.client) return;
    this.client = null;
    if (this.phase === PHASE_TUNNEL) {
      if (!this.tunnel!.clientClosed(error)) return;
    } else if (this.phase !== PHASE_CLOSING) {
      this.requestLog.terminate("C" + this.phaseLetter());
    }
    this.dropServer();
    this.finish();
  }

  // ---- what the connector reports (ServerConnectorUser) ----

  /**
   * The server connection became ready while the request waited for it (opened, or taken idle when
   * a queued request got its slot): the head leaves now, unless body bytes held meanwhile took it
   * along. (One ready at once is assign's answer: parseRequest sends its head.)
   */
  serverReady(at: number): void {
    this.established(at);
    this.flushServerHead();
  }

  /** No server for this request: a 503, logged with the connector's termination state. */
  serverUnavailable(termination: string): void {
    this.requestLog.terminate(termination);
    this.answerAndClose(503);
  }

  onServerData(chunk: Uint8Array): void {
    if (this.phase === PHASE_TUNNEL) this.tunnel!.fromServer(chunk);
    else this.serverData(chunk, 0);
  }

  onServerDrain(): void {
    if (this.phase === PHASE_TUNNEL) this.tunnel!.serverDrained();
    else if (this.requestState === REQUEST_BODY && this.phase === PHASE_EXCHANGE) this.client?.resume();
  }

  // (onServerEnd and onServerClose are with the exchange, below.)

  // ---- client side ----

  private clientData(chunk: Uint8Array, offset: number): void {
    switch (this.phase) {
      case PHASE_REQUEST:
        this.parseRequest(chunk, offset);
        return;
      case PHASE_EXCHANGE:
        if (this.requestState === REQUEST_BODY) this.forwardRequestBody(chunk, offset);
        else this.hold(chunk, offset);
        return;
      case PHASE_CONNECTING:
      case PHASE_ANSWERED:
        this.hold(chunk, offset);
        return;
      case PHASE_CLOSING:
        this.lingerOn(chunk.length - offset);
        return;
    }
  }

  /**
   * Bytes after our final answer are read and dropped, so that closing does not turn into a
   * reset that could destroy the answer in flight; past the bounds of lingering_close.ts, the
   * connection is cut.
   */
  private lingerOn(dropped: number): void {
    const wait = this.linger!.drained(dropped, this.host.wheel.now);
    if (wait !== LINGER_OVER) {
      this.timer.touch(wait);
      return;
    }
    this.host.logger.debug(`Client ${this.clientAddress} still sending after its answer (${this.linger!.bytes} bytes dropped): closing`);
    this.client?.destroy();
  }

  /** Keeps client bytes that no request can take yet; pauses the client past the bound. */
  private hold(chunk: Uint8Array, offset: number): void {
    if (offset >= chunk.length) return;
    // The chunk is ours to keep (runtime contract): a view, not a copy.
    const kept = offset === 0 ? chunk : chunk.subarray(offset);
    if (this.held === NOTHING_HELD) this.held = [];
    this.held.push(kept);
    this.heldBytes += kept.length;
    if (this.heldBytes >= this.policy.bufferBytes) this.client?.pause();
  }

  private parseRequest(chunk: Uint8Array, offset: number): void {
    // A loop, not recursion: pipelined requests answered by rules on the spot can be thousands in
    // one chunk (Bun reads up to 512 KiB at once).
    while (offset < chunk.length) {
      if (this.keepAliveWait) {
        // The next request started: its head must now arrive within `timeout http-request`.
        this.keepAliveWait = false;
        this.armTimer(requestHeadTimeout(this.timeouts));
      }
      this.requestLog.requestSeen();
      // Taken again for each request of the loop: an answered one gave its parser back.
      const request = this.request ??= this.policy.requestParsers.take();
      const end = request.feed(chunk, offset);
      if (end === HEAD_INCOMPLETE) {
        this.requestLog.bytesIn += chunk.length - offset;
        return;
      }
      if (end === HEAD_FAILED) {
        const error = request.error!;
        this.requestLog.bytesIn += chunk.length - offset;
        this.host.logger.debug(`Invalid request from ${this.clientAddress}: ${error.message}`);
        this.requestLog.terminate("P" + PHASE_LETTER_REQUEST);
        this.answerAndClose(error.status);
        return;
      }
      this.requestLog.bytesIn += end - offset;
      this.beginRequest();
      if (this.phase === PHASE_REQUEST) {
        // Answered by a rule and kept alive: the next request may follow in the same chunk.
        offset = end;
        continue;
      }
      if (this.phase === PHASE_CONNECTING) {
        // An idle connection taken at once gets the head with the body bytes of this chunk, below.
        const readyAt = this.connector.assign(this.route!, this.requests === 1);
        if (readyAt !== NOT_READY) this.established(readyAt);
      }
      if (end < chunk.length) this.clientData(chunk, end);
      // A head without body bytes in this chunk leaves alone (a no-op once it has left).
      this.flushServerHead();
      return;
    }
  }

  private clientEnd(): void {
    this.clientEnded = true;
    switch (this.phase) {
      case PHASE_TUNNEL:
        this.tunnel!.clientEnded();
        return;
      case PHASE_REQUEST:
        // No request in progress (or a truncated head): nothing to answer, close as HAProxy does.
        this.requestLog.terminate("C" + PHASE_LETTER_REQUEST);
        this.closeClient();
        return;
      case PHASE_CONNECTING:
      case PHASE_EXCHANGE:
        if (this.requestState === REQUEST_BODY) {
          // The body was cut short: the server would wait for the rest forever.
          this.requestLog.terminate("C" + PHASE_LETTER_DATA);
          this.abort();
          return;
        }
        // The request is whole: it is answered, and so are the pipelined requests held behind it;
        // then the connection closes (RFC 9112 9.6: the client is done sending). See waitRequest.
        return;
    }
  }

  /**
   * A request head is complete: apply the rules and route it. Answered by the proxy, or
   * PHASE_CONNECTING with its route for parseRequest to hand it to the connector.
   */
  private beginRequest(): void {
    const request = this.request!;
    const policy = this.policy;
    this.requests++;
    this.requestLog.requestHead(request);
    this.closeAfter = !request.keepAlive || request.closeAfterResponse || this.host.draining || policy.clientClose;
    this.requestState = request.bodyKind === BODY_NONE ? REQUEST_DONE : REQUEST_BODY;
    this.requestRemaining = request.contentLength ?? 0;
    if (request.bodyKind === BODY_CHUNKED) (this.requestChunks ??= new ChunkedDecoder({ kind: "request" })).reset();
    this.requestBodySent = false;
    this.responseState = RESPONSE_HEAD;
    this.responseStarted = false;
    // HAProxy answers the monitor before any rule: the tier in front asks about the proxy itself.
    const monitor = policy.monitor;
    if (monitor !== null && monitor.matches(request.target)) {
      this.answerMonitor(monitor.status());
      return;
    }
    const address = this.clientAddress;
    if (!policy.requestRules.isEmpty) {
      const verdict = policy.requestRules.apply(request, address, this.client ?? undefined);
      if (verdict !== null) {
        this.answerVerdict(verdict);
        return;
      }
    }
    // After the rules, as HAProxy's `stats uri`: they may deny or redirect stats requests too.
    if (policy.stats !== null) {
      const answer = policy.stats.answer(request, address);
      if (answer !== null) {
        this.answerVerdict(answer);
        return;
      }
    }
    const route = policy.router.pick(request, address, this.client ?? undefined);
    if (route === null) {
      this.host.logger.debug(`No backend for ${request.method} ${request.target} from ${address}`);
      this.requestLog.terminate("S" + PHASE_LETTER_CONNECT);
      this.answerAndClose(503);
      return;
    }
    this.route = route;
    if (route.clientClose) this.closeAfter = true;
    if (!route.requestRules.isEmpty) {
      const verdict = route.requestRules.apply(request, address, this.client ?? undefined);
      if (verdict !== null) {
        this.answerVerdict(verdict);
        return;
      }
    }
    const backend = route.backend;
    this.backend = backend;
    this.requestLog.routedTo(backend);
    backend.sessionStarted();
    this.requestHead = this.rebuildRequest(request, route);
    if (this.requestHead.length > policy.bufferBytes) {
      // HAProxy's strict rewriting: a head that no longer fits the buffer after the headers added
      // to it (tune.maxrewrite is the room kept for them) fails the request with a 500.
      this.host.logger.debug(`Request head from ${address} grew to ${this.requestHead.length} bytes with rules, over tune.bufsize`);
      this.requestLog.terminate("P" + PHASE_LETTER_REQUEST);
      this.answerAndClose(500);
      return;
    }
    (this.response ??= policy.responseParsers.take()).expectAnswerTo(request.method);
    this.phase = PHASE_CONNECTING;
  }

  /** The second letter of a termination state for where the current request is. */
  private phaseLetter(): string {
    switch (this.phase) {
      case PHASE_REQUEST:
        return PHASE_LETTER_REQUEST;
      case PHASE_CONNECTING:
        return this.connector.waitingInQueue ? PHASE_LETTER_QUEUE : PHASE_LETTER_CONNECT;
      case PHASE_EXCHANGE:
        return this.responseState === RESPONSE_HEAD && this.requestState === REQUEST_DONE
          ? PHASE_LETTER_HEADERS
          : PHASE_LETTER_DATA;
      default:
        return PHASE_LETTER_DATA;
    }
  }

  /** The server was taken out with its sessions (`shutdown-sessions`, `shutdown-backup-sessions`). */
  shutdownByServer(cause: ShutdownCause): void {
    if (this.phase === PHASE_IDLE || this.phase === PHASE_CLOSING) return;
    this.requestLog.terminate(cause + this.phaseLetter());
    this.abort();
  }

  /** The request head as the server gets it: hop-by-hop headers out, forwarded and connection headers in. */
  private rebuildRequest(request: HeadParser, route: HttpBackendRoute): Uint8Array {
    const options = REQUEST_OPTIONS;
    const added = ADDED_HEADERS;
    const forwarded = route.forwarded;
    if (this.forwardForRoute !== route) {
      // The client's address does not change: its X-Forwarded-For value is decided once per route.
      this.forwardForRoute = route;
      this.forwardFor = forwarded.forwardFor === null ? null : forwardForValue(forwarded, this.clientAddress);
      this.replacedHeaders = replacedForwardedHeaders(forwarded);
    }
    options.dropHeaders = this.replacedHeaders;
    forwardedHeaders(forwarded, request, this.forwardFor, request.host, this.client?.tls !== undefined, added);
    this.upgrading = offersUpgrade(request);
    options.keepUpgrade = this.upgrading;
    if (this.upgrading) added.push("Connection", "upgrade");
    else if (route.serverClose) added.push("Connection", "close");
    return serializeHead(request, options);
  }

  private forwardRequestBody(chunk: Uint8Array, offset: number): void {
    const server = this.server!;
    let end: number;
    if (this.request!.bodyKind === BODY_CONTENT_LENGTH) {
      end = contentLengthEnd(chunk, offset, this.requestRemaining);
      this.requestRemaining -= end - offset;
      if (this.requestRemaining === 0) this.requestState = REQUEST_DONE;
    } else {
      end = this.requestChunks!.passThrough(chunk, offset);
      if (end === CHUNKED_FAILED) {
        const error = this.requestChunks!.error!;
        this.host.logger.debug(`Invalid request body from ${this.clientAddress}: ${error.message}`);
        this.requestLog.terminate("P" + PHASE_LETTER_DATA);
        this.serverReusable = false;
        if (this.responseState === RESPONSE_HEAD && !this.responseStarted) this.answerAndClose(error.status);
        else this.abort();
        return;
      }
      if (this.requestChunks!.done) this.requestState = REQUEST_DONE;
    }
    if (end > offset) {
      this.requestBodySent = true;
      this.requestLog.bytesIn += end - offset;
      this.touchTimer();
      this.serverPushedBack = !this.writeServer(server, chunk, offset, end);
      if (this.serverPushedBack) this.client!.pause();
    }
    if (this.requestState === REQUEST_BODY) {
      if (!this.serverCorked && !this.route!.noDelay) {
        this.serverCorked = true;
        server.setNoDelay(false);
      }
    } else if (this.serverCorked) {
      this.serverCorked = false;
      server.setNoDelay(true);
    }
    if (this.requestState === REQUEST_DONE) {
      if (this.responseState === RESPONSE_HEAD) this.armTimer(this.backend!.serverTimeout);
      // Whatever follows is the next pipelined request: it waits for this response.
      if (end < chunk.length) this.hold(chunk, end);
    }
  }

  // ---- the exchange with the server ----

  /** The server connection is ready (log clock `at`): send the request head and whatever body is held. */
  private established(at: number): void {
    this.requestLog.connectionReady(at);
    this.phase = PHASE_EXCHANGE;
    this.serverReusable = true;
    this.serverPushedBack = false;
    this.armTimer(this.requestState === REQUEST_DONE ? this.backend!.serverTimeout : this.bodyTimeout());
    // Sent with the first body piece, or alone by flushServerHead.
    this.serverHead = this.requestHead;
    if (this.held.length > 0) {
      const held = this.held;
      this.held = NOTHING_HELD;
      this.heldBytes = 0;
      for (let i = 0; i < held.length; i++) {
        this.clientData(held[i]!, 0);
        if (this.phase !== PHASE_EXCHANGE) return;
      }
      // The server pushed back on the bytes just replayed: its drain resumes the client.
      if (this.serverPushedBack) return;
    }
    if (this.requestState === REQUEST_BODY && this.heldBytes < this.policy.bufferBytes) this.client?.resume();
  }

  /** Writes `chunk[offset, end)` to the server, joined with a head still waiting to leave (see the module notes). */
  private writeServer(server: Connection, chunk: Uint8Array, offset: number, end: number): boolean {
    const head = this.serverHead;
    if (head === null) return server.write(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end));
    this.serverHead = null;
    return writeJoined(server, head, chunk, offset, end);
  }

  /** Sends a waiting request head alone: no body piece came with it. */
  private flushServerHead(): void {
    const head = this.serverHead;
    if (head === null) return;
    this.serverHead = null;
    this.server?.write(head);
  }

  private writeClient(client: Connection, chunk: Uint8Array, offset: number, end: number): boolean {
    const head = this.clientHead;
    if (head === null) return client.write(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end));
    this.clientHead = null;
    return writeJoined(client, head, chunk, offset, end);
  }

  private flushClientHead(): boolean {
    const head = this.clientHead;
    if (head === null) return true;
    this.clientHead = null;
    return this.client === null || this.client.write(head);
  }

  private serverData(chunk: Uint8Array, offset: number): void {
    this.responseStarted = true;
    switch (this.responseState) {
      case RESPONSE_HEAD:
        this.parseResponse(chunk, offset);
        return;
      case RESPONSE_BODY:
        this.forwardResponseBody(chunk, offset);
        return;
      default:
        // Bytes beyond the response's framing: the connection cannot be trusted again.
        this.serverReusable = false;
    }
  }

  private parseResponse(chunk: Uint8Array, offset: number): void {
    const response = this.response!;
    let end: number;
    for (;;) {
      end = response.feed(chunk, offset);
      if (end === HEAD_INCOMPLETE) return;
      if (end === HEAD_FAILED) {
        this.host.logger.debug(`Invalid response from server "${this.backend!.name}/${this.target?.name}": ${response.error!.message}`);
        this.requestLog.terminate("P" + PHASE_LETTER_HEADERS);
        this.serverReusable = false;
        this.target?.observer?.responseFailed();
        this.answerAndClose(502);
        return;
      }
      if (!response.interim) break;
      // RFC 9110 15.2: interim responses are forwarded, except to HTTP/1.0 clients which cannot
      // take them. 100 Continue is how `Expect: 100-continue` passes through.
      if (this.request!.version === "1.1") {
        const interim = serializeHead(response);
        this.requestLog.bytesOut += interim.length;
        this.client!.write(interim);
      }
      response.reset(this.request!.method);
      if (end >= chunk.length) return;
      offset = end;
    }
    this.target?.observer?.responseStatus(response.status);
    this.requestLog.responseHead(response.status);
    if (response.status === 101) {
      if (this.upgrading) {
        this.beginTunnel(chunk, end);
        return;
      }
      // No upgrade was forwarded: a 101 answers nothing we sent.
      this.host.logger.debug(`Server "${this.backend!.name}/${this.target?.name}" switched protocols unasked`);
      this.requestLog.terminate("P" + PHASE_LETTER_HEADERS);
      this.serverReusable = false;
      this.answerAndClose(502);
      return;
    }
    // Bytes after a body-less response: the connection is out of step, it must not be reused.
    if (end < chunk.length && response.bodyKind === BODY_NONE) this.serverReusable = false;
    this.beginResponse();
    if (end < chunk.length) {
      if (this.responseState === RESPONSE_BODY) this.forwardResponseBody(chunk, end);
      else this.serverReusable = false;
    }
    if (!this.flushClientHead()) this.server?.pause();
  }

  /** A 101 to a forwarded upgrade: from now on, bytes pass untouched both ways (tunnel.ts). */
  private beginTunnel(chunk: Uint8Array, end: number): void {
    this.phase = PHASE_TUNNEL;
    this.serverReusable = false;
    this.closeAfter = true;
    this.requestHead = null;
    this.applyResponseRules();
    const held = this.held;
    this.held = NOTHING_HELD;
    this.heldBytes = 0;
    const serverBytes = end < chunk.length ? chunk.subarray(end) : null;
    (this.tunnel ??= new HttpTunnel(this.timer, this.requestLog)).open(this.client!, this.server!, this.response!, serverBytes, held, this.clientEnded, this.tunnelTimeout());
  }

  /** `timeout tunnel`, else what the client and server timeouts allow. */
  private tunnelTimeout(): number {
    const tunnel = this.backend!.tunnelTimeout;
    return tunnel > 0 ? tunnel : this.bodyTimeout();
  }

  /** The backend's, then the frontend's http-response rules (HAProxy's order). */
  private applyResponseRules(): void {
    const route = this.route!;
    const client = this.client ?? undefined;
    const response = this.response!;
    const request = this.request!;
    if (!route.responseRules.isEmpty) route.responseRules.apply(response, request, this.clientAddress, client);
    if (!this.policy.responseRules.isEmpty) this.policy.responseRules.apply(response, request, this.clientAddress, client);
  }

  private beginResponse(): void {
    const response = this.response!;
    this.applyResponseRules();
    if (!response.keepAlive || response.closeAfterResponse || this.route!.serverClose) this.serverReusable = false;
    // A body delimited by the server's close can only be delimited the same way for the client.
    if (response.bodyKind === BODY_UNTIL_CLOSE || response.closeAfterResponse) this.closeAfter = true;
    // Answered before the request body was whole: the rest of it cannot be told apart from a next request.
    if (this.requestState !== REQUEST_DONE || this.host.draining) this.closeAfter = true;
    let options: SerializeOptions | undefined;
    if (this.closeAfter) options = CLOSE_RESPONSE_OPTIONS;
    else if (this.request!.version === "1.0") options = KEEP_ALIVE_RESPONSE_OPTIONS;
    const head = serializeHead(response, options);
    this.requestLog.bytesOut += head.length;
    this.requestHead = null;
    this.responseRemaining = response.contentLength ?? 0;
    if (response.bodyKind === BODY_NONE) {
      this.responseState = RESPONSE_DONE;
      this.client!.write(head);
      this.responseDone();
      return;
    }
    if (response.bodyKind === BODY_CHUNKED) (this.responseChunks ??= new ChunkedDecoder({ kind: "response" })).reset();
    this.responseState = RESPONSE_BODY;
    this.armTimer(this.bodyTimeout());
    // Sent with the first body piece, or alone once the chunk is processed (parseResponse).
    this.clientHead = head;
  }

  private forwardResponseBody(chunk: Uint8Array, offset: number): void {
    const client = this.client!;
    const kind = this.response!.bodyKind;
    let end: number;
    let done = false;
    if (kind === BODY_CONTENT_LENGTH) {
      end = contentLengthEnd(chunk, offset, this.responseRemaining);
      this.responseRemaining -= end - offset;
      done = this.responseRemaining === 0;
    } else if (kind === BODY_CHUNKED) {
      end = this.responseChunks!.passThrough(chunk, offset);
      if (end === CHUNKED_FAILED) {
        this.host.logger.debug(`Invalid response body from server "${this.backend!.name}/${this.target?.name}": ${this.responseChunks!.error!.message}`);
        this.requestLog.terminate("P" + PHASE_LETTER_DATA);
        if (this.clientHead !== null) {
          // Nothing reached the client yet: it can still be told.
          this.clientHead = null;
          this.requestLog.bytesOut = 0;
          this.serverReusable = false;
          this.answerAndClose(502);
          return;
        }
        // The head is gone to the client already: all we can do is cut the connection.
        this.abort();
        return;
      }
      done = this.responseChunks!.done;
    } else {
      end = chunk.length;
    }
    if (end > offset) {
      this.requestLog.bytesOut += end - offset;
      this.touchTimer();
      if (!this.writeClient(client, chunk, offset, end)) this.server!.pause();
    }
    if (done) {
      if (end < chunk.length) this.serverReusable = false;
      this.responseState = RESPONSE_DONE;
      this.responseDone();
    } else if (!this.clientCorked && !this.route!.noDelay) {
      this.clientCorked = true;
      client.setNoDelay(false);
    }
  }

  onServerEnd(): void {
    if (this.phase === PHASE_TUNNEL) {
      if (this.tunnel!.serverEnded()) {
        this.dropServer();
        this.finish();
      }
      return;
    }
    if (this.responseState === RESPONSE_BODY && this.response!.bodyKind === BODY_UNTIL_CLOSE) {
      this.serverReusable = false;
      this.responseState = RESPONSE_DONE;
      this.responseDone();
      return;
    }
    // A FIN anywhere else ends the exchange as a close would.
    if (this.connector.closeConnection()) this.onServerClose(undefined);
  }

  /** The server connection is gone (the connector's already cleared; failed attempts stay with the connector). */
  onServerClose(error: NetError | undefined): void {
    switch (this.phase) {
      case PHASE_EXCHANGE:
        break;
      case PHASE_TUNNEL:
        this.connector.unassign();
        if (this.tunnel!.serverClosed(error)) this.finish();
        return;
      default:
        return;
    }
    if (this.responseState === RESPONSE_HEAD) {
      // RFC 9112 9.3.1: a non-idempotent request is never sent again, as the server may have acted on it.
      const replayable = !this.responseStarted && !this.requestBodySent && this.client !== null &&
        IDEMPOTENT_METHODS.has(this.request!.method);
      // Sent again, the request waits for its new connection as it did for the first.
      this.phase = PHASE_CONNECTING;
      if (this.connector.retryEmptyResponse(replayable, error)) return;
      this.host.logger.debug(`Server "${this.backend!.name}/${this.target?.name}" closed before its response: ${error?.message ?? "closed"}`);
      this.requestLog.terminate("S" + PHASE_LETTER_HEADERS);
      this.answerAndClose(502);
      return;
    }
    if (this.responseState === RESPONSE_BODY) {
      if (this.response!.bodyKind === BODY_UNTIL_CLOSE && error === undefined) {
        this.responseState = RESPONSE_DONE;
        this.responseDone();
        return;
      }
      // The response is truncated: the client must see the connection cut, not a short body.
      this.requestLog.terminate("S" + PHASE_LETTER_DATA);
      this.abort();
    }
  }

  /** The response is complete: the server connection goes back to the pool, the client waits for its next request. */
  private responseDone(): void {
    const server = this.server;
    // A head whose body ended in its own chunk; backpressure no longer matters between requests.
    this.flushClientHead();
    if (this.clientCorked) {
      this.clientCorked = false;
      this.client?.setNoDelay(true);
    }
    const endedAt = this.requestLog.write();
    if (server !== null && this.serverCorked) {
      this.serverCorked = false;
      server.setNoDelay(true);
    }
    // After the line: it counts the server's connections with this request's slot still held.
    this.connector.release(this.serverReusable && this.requestState === REQUEST_DONE, this.closeAfter);
    this.releaseBackend();
    if (this.client === null) {
      this.finish();
      return;
    }
    if (this.closeAfter) {
      this.closeClient();
      return;
    }
    this.waitRequest(true, endedAt);
  }

  // ---- the connection's life ----

  /**
   * Readies for the next request and parses the bytes held meanwhile. `startedAt`: when the next
   * stream begins if the caller just read the clock (the previous request's end), else -1.
   */
  private waitRequest(keepAlive: boolean, startedAt = -1): void {
    this.phase = PHASE_REQUEST;
    this.requestState = REQUEST_HEAD;
    this.responseState = RESPONSE_HEAD;
    // A connection between requests holds no parser (head_parser_pool.ts).
    this.giveBackParsers();
    this.keepAliveWait = keepAlive;
    if (keepAlive) this.requestLog.nextStream(startedAt);
    this.armTimer(keepAlive ? keepAliveTimeout(this.timeouts) : requestHeadTimeout(this.timeouts));
    const client = this.client!;
    if (this.held.length > 0) {
      const held = this.held;
      this.held = NOTHING_HELD;
      this.heldBytes = 0;
      for (let i = 0; i < held.length; i++) {
        if (this.phase === PHASE_REQUEST) this.parseRequest(held[i]!, 0);
        else this.clientData(held[i]!, 0);
        if (this.client === null || this.phase === PHASE_CLOSING) return;
      }
    }
    if (this.phase === PHASE_REQUEST && this.clientEnded) {
      this.closeClient();
      return;
    }
    if (this.heldBytes < this.policy.bufferBytes) client.resume();
  }

  /** Sends a generated answer and closes the client connection after it. */
  private answerAndClose(status: number): void {
    const pages = this.route?.errorPages ?? this.policy.errorPages;
    this.dropServer();
    this.releaseBackend();
    this.requestLog.answeredByProxy(status);
    const client = this.client;
    if (client === null) {
      this.finish();
      return;
    }
    const page = pages.response(status, "close");
    this.requestLog.bytesOut += page.length;
    client.write(page);
    this.requestLog.write();
    this.closeClient();
  }

  /**
   * Answers a request stopped by a rule. deny gets its error page and the connection is closed as
   * HAProxy does; a redirect or a return keeps the connection when the request is whole (its body
   * would otherwise be taken for the next request) and the client keeps it too.
   */
  private answerVerdict(verdict: NonNullable<RuleVerdict>): void {
    if (verdict.kind === "deny") {
      this.host.logger.debug(`Request ${this.request!.method} ${this.request!.target} from ${this.clientAddress} denied`);
      this.requestLog.terminate("P" + PHASE_LETTER_REQUEST);
      this.requestLog.markDenied();
      this.answerAndClose(verdict.status);
      return;
    }
    const client = this.client!;
    this.dropServer();
    this.releaseBackend();
    this.requestHead = null;
    // HAProxy's "LR": answered locally, no server involved.
    this.requestLog.terminate("L" + PHASE_LETTER_REQUEST);
    this.requestLog.answeredByProxy(verdict.status);
    if (this.closeAfter || this.requestState !== REQUEST_DONE) {
      const closing = renderAnswer(verdict, "close");
      this.requestLog.bytesOut += closing.length;
      client.write(closing);
      this.requestLog.write();
      this.closeClient();
      return;
    }
    const request = this.request!;
    let answer = renderAnswer(verdict, request.version === "1.0" ? "keep-alive" : null);
    // RFC 9110 9.3.2: the answer to HEAD is the head alone, Content-Length included.
    if (request.method === "HEAD") answer = answer.subarray(0, answer.length - verdict.body.length);
    this.responseState = RESPONSE_DONE;
    this.requestLog.bytesOut += answer.length;
    this.requestLog.write();
    if (client.write(answer)) {
      this.waitRequest(true);
      return;
    }
    // The client does not read its answers: take no more requests until it does (onDrain), or
    // answers would pile up in memory faster than they leave.
    this.phase = PHASE_ANSWERED;
    this.armTimer(this.timeouts.client > 0 ? this.timeouts.client : LINGER_IDLE_MS);
  }

  /**
   * Answers the monitor-uri with the frontend's page for `status` (HAProxy's 200 "Service ready."
   * or 503), keeping the connection as answerVerdict does. Never logged: HAProxy's rule, the
   * probes of the tier in front would drown the traffic log.
   */
  private answerMonitor(status: number): void {
    this.requestLog.skipIntercepted();
    const client = this.client!;
    this.requestHead = null;
    const close = this.closeAfter || this.requestState !== REQUEST_DONE;
    const request = this.request!;
    let answer = this.policy.errorPages.response(status, close ? "close" : request.version === "1.0" ? "keep-alive" : null);
    // RFC 9110 9.3.2: the answer to HEAD is the head alone.
    if (request.method === "HEAD") answer = answer.subarray(0, headLength(answer));
    if (close) {
      client.write(answer);
      this.closeClient();
      return;
    }
    this.responseState = RESPONSE_DONE;
    if (client.write(answer)) {
      this.waitRequest(true);
      return;
    }
    // As answerVerdict: take no more requests until the client reads this answer.
    this.phase = PHASE_ANSWERED;
    this.armTimer(this.timeouts.client > 0 ? this.timeouts.client : LINGER_IDLE_MS);
  }

  /** The request is over for its backend: its count of active requests goes down. */
  private releaseBackend(): void {
    if (this.backend !== null) {
      this.backend.activeConnections--;
      this.backend = null;
    }
    this.route = null;
    this.upgrading = false;
  }

  /**
   * Half-closes the client once everything is sent, then reads and drops what it still sends
   * until it closes, within the bounds of a lingering close (lingering_close.ts).
   */
  private closeClient(): void {
    const client = this.client;
    this.phase = PHASE_CLOSING;
    this.held = NOTHING_HELD;
    this.heldBytes = 0;
    if (client === null) {
      this.finish();
      return;
    }
    this.armTimer((this.linger ??= new LingeringClose()).begin(this.host.wheel.now, this.timeouts.client));
    client.resume();
    client.end();
  }

  /** Lets go of the server connection, if any, without waiting for its close. */
  private dropServer(): void {
    this.serverHead = null;
    this.serverCorked = false;
    this.connector.drop();
  }

  /** Closes both sides now. */
  private abort(): void {
    this.phase = PHASE_CLOSING;
    this.clientHead = null;
    this.timer.disarm();
    this.dropServer();
    if (this.client !== null) this.client.destroy();
    else this.finish();
  }

  /** @internal The session's timer expired (its {@link TimerOwner} method). */
  onTimer(): void {
    switch (this.phase) {
      case PHASE_REQUEST:
        if (this.keepAliveWait) {
          // HAProxy: an idle keep-alive connection is closed silently.
          this.closeClient();
        } else {
          // Slowloris: the head did not arrive within `timeout http-request`.
          this.host.logger.debug(`Request head from ${this.clientAddress} timed out`);
          this.requestLog.terminate("c" + PHASE_LETTER_REQUEST);
          this.answerAndClose(408);
        }
        return;
      case PHASE_CONNECTING:
        // `timeout queue`, `timeout connect` or the turn-around: the connector's.
        this.connector.timedOut();
        return;
      case PHASE_EXCHANGE:
        if (this.responseState === RESPONSE_HEAD) {
          // Before the response: the client was too slow with its body (408), or the server
          // with its answer (504), as HAProxy reports them.
          this.serverReusable = false;
          if (this.requestState !== REQUEST_BODY) this.target?.observer?.responseFailed();
          this.requestLog.terminate(this.requestState === REQUEST_BODY ? "c" + PHASE_LETTER_DATA : "s" + PHASE_LETTER_HEADERS);
          this.answerAndClose(this.requestState === REQUEST_BODY ? 408 : 504);
        } else {
          this.host.logger.debug(`Session from ${this.clientAddress} timed out in a response body`);
          this.requestLog.terminate(bodyTimeoutSide(this.timeouts, this.backend!.serverTimeout) + PHASE_LETTER_DATA);
          this.abort();
        }
        return;
      case PHASE_CLOSING:
        this.client?.destroy();
        return;
      case PHASE_TUNNEL:
        this.host.logger.debug(`Tunnel from ${this.clientAddress} timed out`);
        this.requestLog.terminate((this.backend!.tunnelTimeout > 0 ? "c" : bodyTimeoutSide(this.timeouts, this.backend!.serverTimeout)) + PHASE_LETTER_DATA);
        this.abort();
        return;
      case PHASE_ANSWERED:
        this.host.logger.debug(`Client ${this.clientAddress} did not read its answer in time`);
        this.abort();
        return;
    }
  }

  private bodyTimeout(): number {
    return bodyTimeout(this.timeouts, this.backend!.serverTimeout);
  }

  private armTimer(ms: number): void {
    if (ms > 0) this.timer.arm(ms);
    else this.timer.disarm();
  }

  /** Traffic moves the current deadline (one field write on the wheel). */
  private touchTimer(): void {
    if (this.responseState === RESPONSE_HEAD && this.requestState === REQUEST_DONE) return;
    const ms = this.bodyTimeout();
    if (ms > 0) this.timer.touch(ms);
  }

  private giveBackParsers(): void {
    if (this.request !== null) {
      this.policy.requestParsers.giveBack(this.request);
      this.request = null;
    }
    if (this.response !== null) {
      this.policy.responseParsers.giveBack(this.response);
      this.response = null;
    }
  }

  private finish(): void {
    if (this.phase === PHASE_IDLE) return;
    this.timer.disarm();
    this.requestLog.connectionEnded();
    this.dropServer();
    this.connector.dropPrivateConnection();
    this.releaseBackend();
    this.phase = PHASE_IDLE;
    this.client = null;
    this.requestHead = null;
    this.clientHead = null;
    this.clientCorked = false;
    this.tunnel?.clear();
    this.forwardForRoute = null;
    this.forwardFor = null;
    this.replacedHeaders = undefined;
    this.held = NOTHING_HELD;
    this.heldBytes = 0;
    this.clientEnded = false;
    this.keepAliveWait = false;
    this.closeAfter = false;
    this.requests = 0;
    this.giveBackParsers();
    this.host.sessionEnded(this);
  }
}

/** Where the body bytes of `chunk` from `offset` end when `remaining` bytes of a Content-Length body are still to come. */
function contentLengthEnd(chunk: Uint8Array, offset: number, remaining: number): number {
  return chunk.length - offset <= remaining ? chunk.length : offset + remaining;
}

/** Bytes up to and including the blank line that ends a generated response's head. */
function headLength(response: Uint8Array): number {
  for (let i = 3; i < response.length; i++) {
    if (response[i] === 0x0a && response[i - 1] === 0x0d && response[i - 2] === 0x0a && response[i - 3] === 0x0d) return i + 1;
  }
  return response.length;
}
