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
 * Server connections follow HAProxy's `http-reuse safe`: a client's first request always gets a
 * fresh connection, later requests may take an idle one from the pool of the server picked for
 * them. Retries follow tcp mode for connection failures (`retries`, turn-around delay, the last
 * attempt redispatched); a reused connection that closes before any byte of the response, while
 * the request body was not consumed, is retried once on a fresh connection (the server may have
 * closed it just as the request left: RFC 9112 9.3.1 allows retrying then).
 *
 * One timer entry per session on the wheel: `timeout http-request` while a request head arrives,
 * `timeout http-keep-alive` between requests, the connect timeout while connecting, `timeout
 * server` while waiting for the response head, min(client, server) while bodies flow.
 *
 * @module
 */

import type { Connection, ConnectionHandler } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { Backend } from "../core/backend.ts";
import { DISCARD_HANDLER } from "../core/discard_handler.ts";
import type { Server } from "../core/server.ts";
import type { WheelTimer } from "../core/timer_wheel.ts";
import type { SessionHost } from "../tcp/session_host.ts";
import {
  BODY_CHUNKED,
  BODY_CONTENT_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  HEAD_FAILED,
  HEAD_INCOMPLETE,
  HeadParser,
} from "./head_parser.ts";
import { CHUNKED_FAILED, ChunkedDecoder } from "./chunked_decoder.ts";
import { serializeHead } from "./serialize.ts";
import { errorResponse } from "./error_pages.ts";
import type { ServerPool } from "./server_pool.ts";
import { forwardedHeaders, forwardForValue, NO_FORWARDED_HEADERS, replacedForwardedHeaders } from "./forwarded_headers.ts";
import type { ForwardedHeaderRules } from "./forwarded_headers.ts";
import type { SerializeOptions } from "./serialize.ts";

/** Client bytes held while no request can take them (connecting, or a response pending), before the client is paused (HAProxy's tune.bufsize). */
export const PENDING_CLIENT_BYTES_MAX = 16_384;

/** How long a closing connection may wait for the client's FIN when `timeout client` is unset. */
export const CLOSE_LINGER_MS = 5_000;

/** What an http session needs from its frontend. */
export interface HttpSessionHost extends SessionHost {
  /** Idle server connections shared by the sessions. */
  readonly serverPool: ServerPool;
  /** The proxy is stopping: close each client connection after its current response (HAProxy's soft-stop). */
  readonly draining: boolean;
}

/** The frontend timeouts an http session obeys, in ms (0: unset). */
export interface HttpClientTimeouts {
  readonly client: number;
  readonly httpRequest: number;
  readonly httpKeepAlive: number;
}

const PHASE_IDLE = 0;
/** Waiting for (or reading) a request head. */
const PHASE_REQUEST = 1;
const PHASE_CONNECTING = 2;
const PHASE_TURNAROUND = 3;
/** Connected to the server: the request body and the response flow. */
const PHASE_EXCHANGE = 4;
/** Our last response is sent and the client is told we close: waiting for the client to go. */
const PHASE_CLOSING = 5;

const REQUEST_HEAD = 0;
const REQUEST_BODY = 1;
const REQUEST_DONE = 2;

const RESPONSE_HEAD = 0;
const RESPONSE_BODY = 1;
const RESPONSE_DONE = 2;

const CONNECTION_CLOSE: readonly string[] = ["Connection", "close"];
/** An HTTP/1.0 client kept alive must be told so (RFC 9112 9.3, appendix C.2.2). */
const CONNECTION_KEEP_ALIVE: readonly string[] = ["Connection", "keep-alive"];


/** One client connection in http mode. Pooled: `start` begins a session, and it returns itself to its host at the end. */
export class HttpSession implements ConnectionHandler {
  private readonly host: HttpSessionHost;
  private readonly timer: WheelTimer;
  private readonly request = new HeadParser("request");
  private readonly response = new HeadParser("response");
  private readonly requestChunks = new ChunkedDecoder({ kind: "request" });
  private readonly responseChunks = new ChunkedDecoder({ kind: "response" });
  private client: Connection | null = null;
  private server: Connection | null = null;
  private backend: Backend | null = null;
  private target: Server | null = null;
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
  /** The current server connection came from the idle pool. */
  private reused = false;
  /** The current server connection may go back to the pool once the exchange is over. */
  private serverReusable = true;
  private retriesLeft = 0;
  /** Close the client connection after the current response. */
  private closeAfter = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private clientEnded = false;
  /** Waiting for the first byte of a request after a response (http-keep-alive applies). */
  private keepAliveWait = false;
  private timeouts: HttpClientTimeouts = { client: 0, httpRequest: 0, httpKeepAlive: 0 };
  /** Headers added to each request (X-Forwarded-For and co.), and this client's X-Forwarded-For value. */
  private forwarded: ForwardedHeaderRules = NO_FORWARDED_HEADERS;
  private forwardFor: string | null = null;
  /** Reused for every request: the added headers and the options naming them. */
  private readonly addedHeaders: string[] = [];
  private readonly requestOptions: SerializeOptions = { addHeaders: this.addedHeaders, dropHeaders: undefined };
  /** Requests whose exchange began on this connection. */
  requests = 0;

  constructor(host: HttpSessionHost) {
    this.host = host;
    this.timer = host.wheel.create(() => this.onTimer());
  }

  /** Takes over an accepted client connection and waits for its first request. */
  start(
    client: Connection,
    backend: Backend,
    timeouts: HttpClientTimeouts,
    forwarded: ForwardedHeaderRules = NO_FORWARDED_HEADERS,
  ): void {
    this.client = client;
    this.backend = backend;
    this.timeouts = timeouts;
    this.forwarded = forwarded;
    this.requestOptions.dropHeaders = replacedForwardedHeaders(forwarded);
    // The client's address does not change: its X-Forwarded-For value is decided once.
    this.forwardFor = forwarded.forwardFor === null ? null : forwardForValue(forwarded, client.remote.address);
    client.setHandler(this);
    client.setNoDelay(true);
    backend.activeConnections++;
    backend.totalConnections++;
    this.waitRequest(false);
  }

  /**
   * The proxy is stopping: a connection waiting between requests is closed now, one in the middle
   * of an exchange after its response (which says `Connection: close`), as HAProxy's soft-stop.
   */
  drain(): void {
    if (this.phase === PHASE_REQUEST && this.keepAliveWait) this.closeClient();
    else this.closeAfter = true;
  }

  /** The client's address, for balancing by source. */
  get clientAddress(): string {
    return this.client?.remote.address ?? "";
  }

  onOpen(conn: Connection): void {
    if (conn !== this.server) return;
    this.established();
  }

  onData(conn: Connection, chunk: Uint8Array): void {
    if (conn === this.client) this.clientData(chunk, 0);
    else if (conn === this.server) this.serverData(chunk, 0);
  }

  onDrain(conn: Connection): void {
    if (conn === this.client) {
      if (this.responseState === RESPONSE_BODY) this.server?.resume();
    } else if (conn === this.server) {
      if (this.requestState === REQUEST_BODY && this.phase === PHASE_EXCHANGE) this.client?.resume();
    }
  }

  onEnd(conn: Connection): void {
    // Runtimes may report a FIN after the connection was let go (Bun): identity checks first.
    if (conn === this.client) this.clientEnd();
    else if (conn === this.server) this.serverEnd();
  }

  onClose(conn: Connection, error: NetError | undefined): void {
    if (conn === this.client) {
      this.client = null;
      this.dropServer();
      this.finish();
    } else if (conn === this.server) {
      this.server = null;
      this.serverClosed(error);
    }
  }

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
      case PHASE_TURNAROUND:
        this.hold(chunk, offset);
        return;
      // PHASE_CLOSING: bytes after our final answer are read and dropped, so that closing does
      // not turn into a reset that could destroy the answer in flight (HAProxy's lingering close).
    }
  }

  /** Keeps client bytes that no request can take yet; pauses the client past the bound. */
  private hold(chunk: Uint8Array, offset: number): void {
    if (offset >= chunk.length) return;
    // The chunk is ours to keep (runtime contract): a view, not a copy.
    const kept = offset === 0 ? chunk : chunk.subarray(offset);
    this.held.push(kept);
    this.heldBytes += kept.length;
    if (this.heldBytes >= PENDING_CLIENT_BYTES_MAX) this.client?.pause();
  }

  private parseRequest(chunk: Uint8Array, offset: number): void {
    if (offset >= chunk.length) return;
    if (this.keepAliveWait) {
      // The next request started: its head must now arrive within `timeout http-request`.
      this.keepAliveWait = false;
      this.armTimer(this.requestHeadTimeout());
    }
    const end = this.request.feed(chunk, offset);
    if (end === HEAD_INCOMPLETE) return;
    if (end === HEAD_FAILED) {
      const error = this.request.error!;
      this.host.logger.debug(`Invalid request from ${this.clientAddress}: ${error.message}`);
      this.answerAndClose(error.status);
      return;
    }
    this.beginRequest();
    if (end < chunk.length) this.clientData(chunk, end);
  }

  private clientEnd(): void {
    this.clientEnded = true;
    switch (this.phase) {
      case PHASE_REQUEST:
        // No request in progress (or a truncated head): nothing to answer, close as HAProxy does.
        this.closeClient();
        return;
      case PHASE_CONNECTING:
      case PHASE_TURNAROUND:
      case PHASE_EXCHANGE:
        if (this.requestState === REQUEST_BODY) {
          // The body was cut short: the server would wait for the rest forever.
          this.abort();
          return;
        }
        // The request is whole: it is answered, and so are the pipelined requests held behind it;
        // then the connection closes (RFC 9112 9.6: the client is done sending). See waitRequest.
        return;
    }
  }

  /** A request head is complete: decide its framing, pick a server and connect. */
  private beginRequest(): void {
    const request = this.request;
    this.requests++;
    this.closeAfter = !request.keepAlive || request.closeAfterResponse || this.host.draining;
    this.requestState = request.bodyKind === BODY_NONE ? REQUEST_DONE : REQUEST_BODY;
    this.requestRemaining = request.contentLength ?? 0;
    if (request.bodyKind === BODY_CHUNKED) this.requestChunks.reset();
    const added = this.forwarded === NO_FORWARDED_HEADERS
      ? undefined
      : forwardedHeaders(this.forwarded, request, this.forwardFor, request.host, this.addedHeaders);
    this.requestHead = serializeHead(request, added === undefined ? undefined : this.requestOptions);
    this.requestBodySent = false;
    this.responseState = RESPONSE_HEAD;
    this.responseStarted = false;
    this.response.reset(request.method);
    const backend = this.backend!;
    const server = backend.pickServer(this, null);
    if (server === null) {
      this.host.logger.debug(`Backend "${backend.name}" has no server available for ${this.clientAddress}`);
      this.answerAndClose(503);
      return;
    }
    this.retriesLeft = backend.retries;
    this.assign(server);
    // http-reuse safe: the first request of a connection never rides an idle connection opened
    // for someone else; a later request may, as its client has shown it speaks HTTP properly.
    this.connect(this.requests > 1);
  }

  private forwardRequestBody(chunk: Uint8Array, offset: number): void {
    const server = this.server!;
    let end: number;
    if (this.request.bodyKind === BODY_CONTENT_LENGTH) {
      const available = chunk.length - offset;
      if (available <= this.requestRemaining) {
        end = chunk.length;
        this.requestRemaining -= available;
      } else {
        end = offset + this.requestRemaining;
        this.requestRemaining = 0;
      }
      if (this.requestRemaining === 0) this.requestState = REQUEST_DONE;
    } else {
      end = this.requestChunks.passThrough(chunk, offset);
      if (end === CHUNKED_FAILED) {
        const error = this.requestChunks.error!;
        this.host.logger.debug(`Invalid request body from ${this.clientAddress}: ${error.message}`);
        this.serverReusable = false;
        if (this.responseState === RESPONSE_HEAD && !this.responseStarted) this.answerAndClose(error.status);
        else this.abort();
        return;
      }
      if (this.requestChunks.done) this.requestState = REQUEST_DONE;
    }
    if (end > offset) {
      this.requestBodySent = true;
      const part = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
      this.touchTimer();
      if (!server.write(part)) this.client!.pause();
    }
    if (this.requestState === REQUEST_DONE) {
      if (this.responseState === RESPONSE_HEAD) this.armTimer(this.backend!.serverTimeout);
      // Whatever follows is the next pipelined request: it waits for this response.
      if (end < chunk.length) this.hold(chunk, end);
    }
  }

  // ---- server side ----

  private assign(server: Server): void {
    if (this.target !== null) this.target.activeConnections--;
    this.target = server;
    server.activeConnections++;
    server.totalConnections++;
  }

  private unassign(): void {
    if (this.target !== null) this.target.activeConnections--;
    this.target = null;
  }

  private connect(mayReuse: boolean): void {
    const server = this.target!;
    this.serverReusable = true;
    if (mayReuse) {
      const idle = this.host.serverPool.take(server);
      if (idle !== null) {
        this.reused = true;
        this.server = idle;
        idle.setHandler(this);
        this.established();
        return;
      }
    }
    this.reused = false;
    this.phase = PHASE_CONNECTING;
    this.armTimer(this.backend!.connectTimeout);
    this.server = this.host.runtime.connect(
      { host: server.host, port: server.port ?? this.client!.local.port, noDelay: true },
      this,
    );
  }

  /** The server connection is ready: send the request head and whatever body is held. */
  private established(): void {
    const server = this.server!;
    this.phase = PHASE_EXCHANGE;
    this.armTimer(this.requestState === REQUEST_DONE ? this.backend!.serverTimeout : this.bodyTimeout());
    server.write(this.requestHead!);
    if (this.held.length > 0) {
      const held = this.held;
      this.held = [];
      this.heldBytes = 0;
      for (let i = 0; i < held.length; i++) {
        this.clientData(held[i]!, 0);
        if (this.phase !== PHASE_EXCHANGE) return;
      }
    }
    if (this.requestState === REQUEST_BODY && this.heldBytes < PENDING_CLIENT_BYTES_MAX) this.client?.resume();
  }

  private connectFailed(error: NetError | undefined): void {
    const failed = this.target!;
    const backend = this.backend!;
    failed.connectFailures++;
    this.host.logger.debug(`Connection to server "${backend.name}/${failed.name}" failed: ${error?.message ?? "timed out"}`);
    if (this.client === null) {
      this.finish();
      return;
    }
    if (this.retriesLeft <= 0) {
      this.host.logger.info(`Backend "${backend.name}": no server reachable for ${this.clientAddress}`);
      this.answerAndClose(503);
      return;
    }
    this.retriesLeft--;
    const other = backend.redispatchTarget(this, failed, this.retriesLeft);
    if (other !== null) {
      this.assign(other);
      this.connect(false);
      return;
    }
    // Retrying the same server at once would most likely fail the same way.
    this.phase = PHASE_TURNAROUND;
    this.armTimer(backend.retryTurnaround());
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
    const response = this.response;
    let end: number;
    for (;;) {
      end = response.feed(chunk, offset);
      if (end === HEAD_INCOMPLETE) return;
      if (end === HEAD_FAILED) {
        this.host.logger.debug(`Invalid response from server "${this.backend!.name}/${this.target?.name}": ${response.error!.message}`);
        this.serverReusable = false;
        this.answerAndClose(502);
        return;
      }
      if (!response.interim) break;
      // RFC 9110 15.2: interim responses are forwarded, except to HTTP/1.0 clients which cannot
      // take them. 100 Continue is how `Expect: 100-continue` passes through.
      if (this.request.version === "1.1") this.client!.write(serializeHead(response));
      response.reset(this.request.method);
      if (end >= chunk.length) return;
      offset = end;
    }
    if (response.status === 101) {
      // The Upgrade header was not forwarded (tunnels arrive later): a 101 answers nothing we sent.
      this.host.logger.debug(`Server "${this.backend!.name}/${this.target?.name}" switched protocols unasked`);
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
  }

  private beginResponse(): void {
    const response = this.response;
    if (!response.keepAlive || response.closeAfterResponse) this.serverReusable = false;
    // A body delimited by the server's close can only be delimited the same way for the client.
    if (response.bodyKind === BODY_UNTIL_CLOSE || response.closeAfterResponse) this.closeAfter = true;
    // Answered before the request body was whole: the rest of it cannot be told apart from a next request.
    if (this.requestState !== REQUEST_DONE || this.host.draining) this.closeAfter = true;
    let added: readonly string[] | undefined;
    if (this.closeAfter) added = CONNECTION_CLOSE;
    else if (this.request.version === "1.0") added = CONNECTION_KEEP_ALIVE;
    const head = serializeHead(response, added === undefined ? undefined : { addHeaders: added });
    this.requestHead = null;
    this.responseRemaining = response.contentLength ?? 0;
    if (response.bodyKind === BODY_NONE) {
      this.responseState = RESPONSE_DONE;
      this.client!.write(head);
      this.responseDone();
      return;
    }
    if (response.bodyKind === BODY_CHUNKED) this.responseChunks.reset();
    this.responseState = RESPONSE_BODY;
    this.armTimer(this.bodyTimeout());
    if (!this.client!.write(head)) this.server!.pause();
  }

  private forwardResponseBody(chunk: Uint8Array, offset: number): void {
    const client = this.client!;
    const kind = this.response.bodyKind;
    let end: number;
    let done = false;
    if (kind === BODY_CONTENT_LENGTH) {
      const available = chunk.length - offset;
      if (available <= this.responseRemaining) {
        end = chunk.length;
        this.responseRemaining -= available;
      } else {
        end = offset + this.responseRemaining;
        this.responseRemaining = 0;
      }
      done = this.responseRemaining === 0;
    } else if (kind === BODY_CHUNKED) {
      end = this.responseChunks.passThrough(chunk, offset);
      if (end === CHUNKED_FAILED) {
        // The head is gone to the client already: all we can do is cut the connection.
        this.host.logger.debug(`Invalid response body from server "${this.backend!.name}/${this.target?.name}": ${this.responseChunks.error!.message}`);
        this.abort();
        return;
      }
      done = this.responseChunks.done;
    } else {
      end = chunk.length;
    }
    if (end > offset) {
      const part = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
      this.touchTimer();
      if (!client.write(part)) this.server!.pause();
    }
    if (done) {
      if (end < chunk.length) this.serverReusable = false;
      this.responseState = RESPONSE_DONE;
      this.responseDone();
    }
  }

  private serverEnd(): void {
    if (this.responseState === RESPONSE_BODY && this.response.bodyKind === BODY_UNTIL_CLOSE) {
      this.serverReusable = false;
      this.responseState = RESPONSE_DONE;
      this.responseDone();
      return;
    }
    // A FIN anywhere else ends the exchange as a close would.
    const server = this.server;
    if (server === null) return;
    this.server = null;
    server.setHandler(DISCARD_HANDLER);
    server.destroy();
    this.serverClosed(undefined);
  }

  /** The server connection is gone (`this.server` already cleared). */
  private serverClosed(error: NetError | undefined): void {
    switch (this.phase) {
      case PHASE_CONNECTING:
        this.connectFailed(error);
        return;
      case PHASE_EXCHANGE:
        break;
      default:
        return;
    }
    if (this.responseState === RESPONSE_HEAD) {
      if (!this.responseStarted && !this.requestBodySent && this.reused && this.client !== null) {
        // An idle connection the server closed as we reused it: send the request again, once,
        // on a fresh connection to the same server.
        this.host.logger.debug(`Reused connection to "${this.backend!.name}/${this.target!.name}" closed before the response: retrying on a new one`);
        this.connect(false);
        return;
      }
      // Retrying a request the server may have processed is not safe (HAProxy's default retry-on
      // is conn-failure only): the client gets a 502.
      this.host.logger.debug(`Server "${this.backend!.name}/${this.target?.name}" closed before its response: ${error?.message ?? "closed"}`);
      this.answerAndClose(502);
      return;
    }
    if (this.responseState === RESPONSE_BODY) {
      if (this.response.bodyKind === BODY_UNTIL_CLOSE && error === undefined) {
        this.responseState = RESPONSE_DONE;
        this.responseDone();
        return;
      }
      // The response is truncated: the client must see the connection cut, not a short body.
      this.abort();
    }
  }

  /** The response is complete: the server connection goes back to the pool, the client waits for its next request. */
  private responseDone(): void {
    const server = this.server;
    this.server = null;
    if (server !== null) {
      if (this.serverReusable && this.requestState === REQUEST_DONE && server.open) {
        server.resume();
        this.host.serverPool.release(this.target!, server);
      } else {
        server.setHandler(DISCARD_HANDLER);
        server.destroy();
      }
    }
    this.unassign();
    if (this.client === null) {
      this.finish();
      return;
    }
    if (this.closeAfter) {
      this.closeClient();
      return;
    }
    this.waitRequest(true);
  }

  // ---- the connection's life ----

  /** Readies for the next request and parses the bytes held meanwhile. */
  private waitRequest(keepAlive: boolean): void {
    this.phase = PHASE_REQUEST;
    this.requestState = REQUEST_HEAD;
    this.responseState = RESPONSE_HEAD;
    this.request.reset();
    this.keepAliveWait = keepAlive;
    this.armTimer(keepAlive ? this.keepAliveTimeout() : this.requestHeadTimeout());
    const client = this.client!;
    if (this.held.length > 0) {
      const held = this.held;
      this.held = [];
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
    if (this.heldBytes < PENDING_CLIENT_BYTES_MAX) client.resume();
  }

  /** Sends a generated answer and closes the client connection after it. */
  private answerAndClose(status: number): void {
    this.dropServer();
    const client = this.client;
    if (client === null) {
      this.finish();
      return;
    }
    client.write(errorResponse(status));
    this.closeClient();
  }

  /** Half-closes the client once everything is sent, and waits (bounded) for it to close. */
  private closeClient(): void {
    const client = this.client;
    this.phase = PHASE_CLOSING;
    this.held = [];
    this.heldBytes = 0;
    if (client === null) {
      this.finish();
      return;
    }
    this.armTimer(this.timeouts.client > 0 ? this.timeouts.client : CLOSE_LINGER_MS);
    client.resume();
    client.end();
  }

  /** Lets go of the server connection, if any, without waiting for its close. */
  private dropServer(): void {
    const server = this.server;
    if (server !== null) {
      this.server = null;
      server.setHandler(DISCARD_HANDLER);
      server.destroy();
    }
    this.unassign();
  }

  /** Closes both sides now. */
  private abort(): void {
    this.phase = PHASE_CLOSING;
    this.timer.disarm();
    this.dropServer();
    if (this.client !== null) this.client.destroy();
    else this.finish();
  }

  private onTimer(): void {
    switch (this.phase) {
      case PHASE_REQUEST:
        if (this.keepAliveWait) {
          // HAProxy: an idle keep-alive connection is closed silently.
          this.closeClient();
        } else {
          // Slowloris: the head did not arrive within `timeout http-request`.
          this.host.logger.debug(`Request head from ${this.clientAddress} timed out`);
          this.answerAndClose(408);
        }
        return;
      case PHASE_CONNECTING: {
        const attempt = this.server;
        this.server = null;
        if (attempt !== null) {
          attempt.setHandler(DISCARD_HANDLER);
          attempt.destroy();
        }
        this.connectFailed(undefined);
        return;
      }
      case PHASE_TURNAROUND:
        this.connect(false);
        return;
      case PHASE_EXCHANGE:
        if (this.responseState === RESPONSE_HEAD) {
          // Before the response: the client was too slow with its body (408), or the server
          // with its answer (504), as HAProxy reports them.
          this.serverReusable = false;
          this.answerAndClose(this.requestState === REQUEST_BODY ? 408 : 504);
        } else {
          this.host.logger.debug(`Session from ${this.clientAddress} timed out in a response body`);
          this.abort();
        }
        return;
      case PHASE_CLOSING:
        this.client?.destroy();
        return;
    }
  }

  private requestHeadTimeout(): number {
    return this.timeouts.httpRequest > 0 ? this.timeouts.httpRequest : this.timeouts.client;
  }

  private keepAliveTimeout(): number {
    return this.timeouts.httpKeepAlive > 0 ? this.timeouts.httpKeepAlive : this.requestHeadTimeout();
  }

  private bodyTimeout(): number {
    return minPositive(this.timeouts.client, this.backend!.serverTimeout);
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

  private finish(): void {
    if (this.phase === PHASE_IDLE) return;
    this.timer.disarm();
    this.dropServer();
    if (this.backend !== null) this.backend.activeConnections--;
    this.phase = PHASE_IDLE;
    this.client = null;
    this.backend = null;
    this.requestHead = null;
    this.held = [];
    this.heldBytes = 0;
    this.clientEnded = false;
    this.keepAliveWait = false;
    this.closeAfter = false;
    this.requests = 0;
    this.request.reset();
    this.response.reset();
    this.host.sessionEnded(this);
  }
}

function minPositive(a: number, b: number): number {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return a < b ? a : b;
}
