/**
 * `accept-proxy` below the sessions: {@link ProxyHeaderReader} reads the PROXY header of a newly
 * accepted connection (bounded by `timeout client` on the proxy's timer wheel), and
 * {@link ProxiedConnection} is that connection as the sessions then see it: the same socket, with
 * the header's addresses as `remote` and `local` and the header itself as `proxied`. The tcp and
 * http sessions, the log, X-Forwarded-For, source conditions and `balance source` all read
 * `remote`, so none of them knows about the PROXY protocol.
 *
 * The wrapper is the socket's handler and forwards each event with itself as the connection (a
 * session tells its two sockets apart by identity): one extra call per event, no closure and no
 * promise per chunk, and only on accept-proxy binds.
 *
 * On a TLS bind the header comes in clear before the ClientHello: the listener hands each plain
 * connection to the reader first (the runtime's `TlsServerOptions.prelude`), the reader gives the
 * bytes after the header back to TLS (`TlsHandshakeStarter`), and once the handshake is done the
 * wrapper is put around the TLS connection, which carries both the header (`proxied`) and the
 * handshake's facts (`tls`).
 *
 * @module
 */

import type {
  Connection,
  ConnectionHandler,
  NetAddr,
  TlsFacts,
  TlsHandshakeFailure,
  TlsHandshakeStarter,
  TlsHandshakeTarget,
} from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { TimerWheel, WheelTimer } from "../core/timer_wheel.ts";
import { ProxyHeaderParser } from "./parse.ts";
import type { ProxyHeader, ProxyHeaderErrorCode, ProxyParseResult } from "./parse.ts";

const IGNORE_EVENTS: ConnectionHandler = Object.freeze({
  onOpen() {},
  onData() {},
  onDrain() {},
  onEnd() {},
  onClose() {},
});

/** An accepted connection whose client is the one its PROXY header names. */
export class ProxiedConnection implements Connection, ConnectionHandler {
  /** The socket itself. */
  readonly socket: Connection;
  /** The header's source, or the socket's peer for LOCAL, UNKNOWN, UNSPEC and UNIX headers. */
  readonly remote: NetAddr;
  /** The header's destination, or the socket's own address where the header has none. */
  readonly local: NetAddr;
  readonly proxied: ProxyHeader;
  owner: unknown = undefined;
  /** Bytes that followed the header, for the session to take first (null once taken). */
  pending: Uint8Array | null;
  #handler: ConnectionHandler = IGNORE_EVENTS;

  constructor(socket: Connection, header: ProxyHeader, rest: Uint8Array) {
    this.socket = socket;
    this.proxied = header;
    this.remote = header.source ?? socket.remote;
    this.local = header.destination ?? socket.local;
    this.pending = rest.length === 0 ? null : rest;
    socket.setHandler(this);
  }

  /** The bytes that followed the header, once: the caller hands them to the session. */
  takePending(): Uint8Array | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }

  setHandler(handler: ConnectionHandler): void {
    this.#handler = handler;
  }
  write(chunk: Uint8Array): boolean {
    return this.socket.write(chunk);
  }
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  end(): void {
    this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }
  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }
  get open(): boolean {
    return this.socket.open;
  }
  get tls(): TlsFacts | undefined {
    return this.socket.tls;
  }

  // The socket's events, passed on as this connection's.
  onOpen(): void {}
  onData(_socket: Connection, chunk: Uint8Array): void {
    this.#handler.onData(this, chunk);
  }
  onDrain(): void {
    this.#handler.onDrain(this);
  }
  onEnd(): void {
    this.#handler.onEnd(this);
  }
  onClose(_socket: Connection, error: NetError | undefined): void {
    this.#handler.onClose(this, error);
  }
}

/** Who gets the outcome of a header read. */
export interface ProxyHeaderHost {
  readonly wheel: TimerWheel;
  /** The header was read: start a session on `conn` (its `pending` bytes first). */
  proxyHeaderRead(conn: ProxiedConnection): void;
  /**
   * The header was refused, the connection ended or timed out before it: the socket is already
   * destroyed; `acceptMs` is when it was accepted (wall clock), `bindIndex` which bind took it.
   */
  proxyHeaderFailed(socket: Connection, code: ProxyHeaderErrorCode, acceptMs: number, bindIndex: number): void;
  /**
   * A TLS bind: the header was read, then the TLS handshake failed; the connection is closed.
   * `failure` names the header's client (as every later step would have).
   */
  proxiedHandshakeFailed(failure: TlsHandshakeFailure, bindIndex: number): void;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Reads one connection's PROXY header, then hands the connection on wrapped. Allocated per
 * accepted connection on an accept-proxy bind, and dropped once the header is read (on a TLS bind,
 * once the handshake that follows it is over: it is where the handshake ends).
 */
export class ProxyHeaderReader implements ConnectionHandler, TlsHandshakeTarget {
  readonly #host: ProxyHeaderHost;
  readonly #socket: Connection;
  readonly #parser: ProxyHeaderParser;
  readonly #timer: WheelTimer;
  readonly #acceptMs: number;
  readonly #bindIndex: number;
  /** A TLS bind: what starts the handshake once the header is read; null on a plain bind. */
  readonly #handshake: TlsHandshakeStarter | null;
  /** The header, kept for the TLS connection that follows it. */
  #header: ProxyHeader | null = null;
  #finished = false;

  /**
   * Starts reading: takes the socket's events, and arms `timeoutMs` (0: no limit). `handshake`: the
   * socket is a TLS bind's, plain until the header is read, then handed back to TLS.
   */
  constructor(
    host: ProxyHeaderHost,
    socket: Connection,
    timeoutMs: number,
    maxV2Length: number,
    acceptMs: number,
    bindIndex: number,
    handshake: TlsHandshakeStarter | null = null,
  ) {
    this.#host = host;
    this.#socket = socket;
    this.#parser = new ProxyHeaderParser(maxV2Length);
    this.#acceptMs = acceptMs;
    this.#bindIndex = bindIndex;
    this.#handshake = handshake;
    this.#timer = host.wheel.create(() => this.#settle(this.#parser.end("timeout")));
    socket.setHandler(this);
    if (timeoutMs > 0) this.#timer.arm(timeoutMs);
  }

  onOpen(): void {}
  onData(_socket: Connection, chunk: Uint8Array): void {
    if (this.#finished) return;
    const result = this.#parser.push(chunk);
    if (result.kind !== "more") this.#settle(result);
  }
  onDrain(): void {}
  onEnd(): void {
    if (!this.#finished) this.#settle(this.#parser.end());
  }
  onClose(_socket: Connection, error: NetError | undefined): void {
    if (!this.#finished) this.#settle(this.#parser.end(error === undefined ? "closed" : "error"));
  }

  #settle(result: ProxyParseResult): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#timer.disarm();
    if (result.kind === "header") {
      if (this.#handshake !== null) {
        this.#header = result.header;
        this.#handshake.start(this.#socket, result.rest, this);
        return;
      }
      this.#host.proxyHeaderRead(new ProxiedConnection(this.#socket, result.header, result.rest));
      return;
    }
    if (result.kind === "error") {
      this.#socket.setHandler(IGNORE_EVENTS);
      this.#socket.destroy();
      this.#host.proxyHeaderFailed(this.#socket, result.code, this.#acceptMs, this.#bindIndex);
    }
  }

  /** @internal TLS bind: the handshake after the header is done. */
  tlsAccepted(conn: Connection): void {
    this.#host.proxyHeaderRead(new ProxiedConnection(conn, this.#header!, NO_BYTES));
  }

  /** @internal TLS bind: the handshake after the header failed. */
  tlsFailed(failure: TlsHandshakeFailure): void {
    const header = this.#header!;
    this.#host.proxiedHandshakeFailed(
      { remote: header.source ?? failure.remote, local: header.destination ?? failure.local, reason: failure.reason },
      this.#bindIndex,
    );
  }
}
