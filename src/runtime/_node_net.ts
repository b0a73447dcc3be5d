/**
 * The contract's connections and listeners over `node:net`, which all three runtimes provide.
 *
 * Quirks handled here:
 * - Every socket is created with `allowHalfOpen: true`: Node's default ends our side as soon as the
 *   peer's FIN arrives, which would cut a response still flowing back after a client half-close.
 * - Listeners are attached once per socket as shared module-level functions reading the owning
 *   connection from a symbol slot, so no closure is made per connection or per event.
 * - Chunks from `data` events are fresh Buffers that nobody reuses, so they can be handed to another
 *   socket's `write` without a copy.
 * - A socket error is kept until `close` and delivered with it, so `onClose` runs exactly once.
 * - A paused socket still emits `end` for a FIN that arrives with no byte before it (Node, and
 *   Deno's and Bun's node:net). The contract promises no event from a paused connection but its
 *   close, as the native modules do: the FIN is held and delivered after `resume()`.
 * - `server.close(callback)` calls back only when every accepted connection has ended; closing a
 *   listener must not wait for them, so `close` resolves as soon as the listening socket is closed.
 * - Buffers (`bufferSize`, HAProxy's tune.bufsize). The write high-water mark is the socket's own
 *   (`writableHighWaterMark`; `highWaterMark` of `createServer` for accepted sockets, which Deno
 *   ignores: there it is set in the stream's state after accept). libuv reads up to 64 KiB at a
 *   time, and a paused socket reads once more (the chunk waits in the stream's buffer) before it
 *   stops. A dialled socket with a `bufferSize` reads through `onread` instead (Node and Deno; Bun's
 *   node:net calls the callback without its socket): every read goes into one shared buffer of
 *   max(bufferSize, 64 KiB), `pause()` stops reading at once, and the bytes read are copied out,
 *   since a chunk must belong to its handler (one copy per read, where Node allocates a buffer for
 *   every read anyway). Reads stay at 64 KiB: 16 KiB reads cost Node a fifth more CPU on 1 MB
 *   responses, and Deno (a promise per read) half more (docs/performance.md, "Slow readers").
 *   Accepted sockets cannot be given `onread`; they keep libuv's reads.
 *
 * @module
 */

import * as net from "node:net";
import * as dns from "node:dns";
import type {
  ConnectionHandler,
  ConnectOptions,
  Connection,
  Listener,
  ListenOptions,
  NetAddr,
  TlsFacts,
} from "./types.ts";
import { addressOf, localAddressOf, NOOP_HANDLER, UNKNOWN_ADDRESS } from "./_addresses.ts";
import { adoptionError, formatHostPort, NetError, toNetError } from "./net_error.ts";
// A pure helper of the core, with no dependency of its own: the copies out of the shared read
// buffer are the same short-lived arrays as the http layer's heads.
import { takeBytes } from "../core/byte_slab.ts";

const CONNECTION = Symbol("proxy.connection");

type OwnedSocket = net.Socket & { [CONNECTION]?: NodeNetConnection };


/** A Connection over a node:net Socket. The socket is reachable as `socket` for runtime-specific tuning. */
export class NodeNetConnection implements Connection {
  readonly socket: net.Socket;
  handler: ConnectionHandler;
  remote: NetAddr;
  local: NetAddr;
  open: boolean;
  owner: unknown = undefined;
  /** Plain TCP here: `_node_tls.ts` sets it on the TLS sockets it wraps. */
  tls: TlsFacts | undefined = undefined;
  /** The first socket error, delivered with close. */
  error: NetError | undefined = undefined;
  /** "host:port" this connection dialled, for error messages; empty for accepted ones. */
  readonly target: string;
  paused = false;
  /** The peer's FIN came while paused: `onEnd` waits for `resume()`. */
  endPending = false;
  /** A dialled TLS connection's first error was read for what TLS says (`_node_tls.ts`). */
  tlsErrorSeen = false;

  /** `openEvent`: the socket's event that opens a dialled connection ("secureConnect" for TLS). */
  constructor(socket: net.Socket, handler: ConnectionHandler, accepted: boolean, target: string, openEvent = "connect") {
    this.socket = socket;
    this.handler = handler;
    this.open = accepted;
    this.target = target;
    if (accepted) {
      this.remote = addressOf(socket.remoteAddress, socket.remotePort);
      this.local = localAddressOf(socket.localAddress, socket.localPort);
    } else {
      this.remote = UNKNOWN_ADDRESS;
      this.local = UNKNOWN_ADDRESS;
    }
    (socket as OwnedSocket)[CONNECTION] = this;
    socket.on("data", onSocketData);
    socket.on("drain", onSocketDrain);
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    if (!accepted) socket.on(openEvent, onSocketConnect);
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  write(chunk: Uint8Array): boolean {
    return this.socket.write(chunk);
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket.resume();
    // Not from within resume(): the handler calling it is in the middle of its own work.
    if (this.endPending) queueMicrotask(() => deliverPendingEnd(this));
  }

  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }

  /**
   * Gives the socket up, open: its events no longer reach this connection, which reports nothing
   * more (no `onClose`). `_node_tls.ts` hands an accepted socket to TLS this way once the clear
   * bytes before its handshake are read.
   */
  release(): net.Socket {
    const socket = this.socket;
    socket.off("data", onSocketData);
    socket.off("drain", onSocketDrain);
    socket.off("end", onSocketEnd);
    socket.off("error", onSocketError);
    socket.off("close", onSocketClose);
    (socket as OwnedSocket)[CONNECTION] = undefined;
    this.open = false;
    this.handler = NOOP_HANDLER;
    return socket;
  }
}

/** Dialled sockets read through `onread` (see the module notes): not on Bun, whose callback gets no socket. */
function onreadAvailable(): boolean {
  return (globalThis as { Bun?: unknown }).Bun === undefined;
}

/** libuv's read size: smaller reads cost throughput (see the module notes). */
const READ_BYTES_MIN = 64 * 1024;

/** The shared read buffer of each size in use (usually one). */
const readBuffers = new Map<number, Uint8Array>();

function readBuffer(size: number): Uint8Array {
  let buffer = readBuffers.get(size);
  if (buffer === undefined) {
    buffer = new Uint8Array(size);
    readBuffers.set(size, buffer);
  }
  return buffer;
}

function connectionOf(socket: net.Socket): NodeNetConnection {
  return (socket as OwnedSocket)[CONNECTION]!;
}

function onSocketConnect(this: net.Socket): void {
  const conn = connectionOf(this);
  conn.open = true;
  conn.local = addressOf(this.localAddress, this.localPort);
  conn.handler.onOpen(conn);
}

function onSocketData(this: net.Socket, chunk: Uint8Array): void {
  const conn = connectionOf(this);
  conn.handler.onData(conn, chunk);
}

/**
 * `onread` callback of a dialled socket: `buffer` is the shared read buffer, so the bytes are copied
 * out before the handler sees them (the next read of any socket overwrites it). A short read (a
 * response head) is copied into a slab view where the engine turned slabs on (V8: a `slice` would
 * allocate a backing store of its own, src/core/byte_slab.ts).
 */
function onSocketRead(this: net.Socket, nread: number, buffer: Uint8Array): boolean {
  const conn = connectionOf(this);
  const bytes = takeBytes(nread);
  bytes.set(nread === buffer.length ? buffer : buffer.subarray(0, nread));
  conn.handler.onData(conn, bytes);
  return true;
}

function onSocketDrain(this: net.Socket): void {
  const conn = connectionOf(this);
  conn.handler.onDrain(conn);
}

function onSocketEnd(this: net.Socket): void {
  const conn = connectionOf(this);
  if (conn.paused) conn.endPending = true;
  else conn.handler.onEnd(conn);
}

function deliverPendingEnd(conn: NodeNetConnection): void {
  if (!conn.endPending || conn.paused || !conn.open) return;
  conn.endPending = false;
  conn.handler.onEnd(conn);
}

function onSocketError(this: net.Socket, error: Error): void {
  const conn = connectionOf(this);
  if (conn.error !== undefined) return;
  const action = conn.open ? "Connection to" : "Cannot connect to";
  const target = conn.target !== "" ? conn.target : formatHostPort(conn.remote.address, conn.remote.port);
  conn.error = toNetError(error, action, target);
}

function onSocketClose(this: net.Socket): void {
  const conn = connectionOf(this);
  conn.open = false;
  const handler = conn.handler;
  conn.handler = NOOP_HANDLER;
  // A FIN held by a pause is told before the close, as the native modules do.
  if (conn.endPending) {
    conn.endPending = false;
    handler.onEnd(conn);
  }
  handler.onClose(conn, conn.error);
}

/**
 * Deno's `createServer` ignores `highWaterMark`: its accepted sockets keep 64 KiB. The mark lives in
 * the stream's state (Node's streams, which Deno ports), read at every `write`.
 */
export function applyWriteHighWaterMark(socket: net.Socket, bufferSize: number): void {
  const state = (socket as unknown as { _writableState?: { highWaterMark: number } })._writableState;
  if (state !== undefined && typeof state.highWaterMark === "number") state.highWaterMark = bufferSize;
}

/** Dials with node:net; the connection reports through `handler`. */
export function connectNodeNet(options: ConnectOptions, handler: ConnectionHandler): Connection {
  const bufferSize = options.bufferSize;
  const connectOptions: net.TcpNetConnectOpts & { writableHighWaterMark?: number } = {
    host: options.host,
    port: options.port,
    allowHalfOpen: true,
    noDelay: options.noDelay,
  };
  if (bufferSize !== undefined) {
    // Passed on to the socket's stream (not in @types/node's connect options).
    connectOptions.writableHighWaterMark = bufferSize;
    if (onreadAvailable()) {
      connectOptions.onread = { buffer: readBuffer(Math.max(bufferSize, READ_BYTES_MIN)), callback: onSocketRead };
    }
  }
  const socket = net.connect(connectOptions);
  const conn = new NodeNetConnection(socket, handler, false, formatHostPort(options.host, options.port));
  conn.remote = addressOf(options.host, options.port);
  return conn;
}

class NodeNetListener implements Listener {
  readonly server: net.Server;
  readonly address: NetAddr;
  constructor(server: net.Server, address: NetAddr) {
    this.server = server;
    this.address = address;
  }
  close(): Promise<void> {
    // server.close() closes the listening socket at once, but its callback waits for every accepted
    // connection to end: the contract's close is about the listener only.
    this.server.close();
    return Promise.resolve();
  }
}

/**
 * Binds with node:net, or adopts `options.fd` (`listen({ fd })`: libuv opens the descriptor and
 * calls listen(2) on it; closing the server closes that descriptor only). Accept errors after
 * binding (EMFILE...) go to `onError`, never crash.
 */
export function listenNodeNet(
  options: ListenOptions,
  onAccept: (conn: Connection) => void,
  onError: (error: NetError) => void,
): Promise<Listener> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false, highWaterMark: options.bufferSize });
  const bufferSize = options.bufferSize;
  server.on("connection", (socket: net.Socket) => {
    if (bufferSize !== undefined && socket.writableHighWaterMark !== bufferSize) applyWriteHighWaterMark(socket, bufferSize);
    onAccept(new NodeNetConnection(socket, NOOP_HANDLER, true, ""));
  });
  return startListening(server, options, onError);
}

/**
 * Binds `server` as `options` say, or adopts `options.fd` (libuv opens the descriptor and calls
 * listen(2) on it; closing the server closes that descriptor only); errors after binding go to
 * `onError`. Shared by the plain and the TLS listeners, which are both node:net servers.
 */
export function startListening(server: net.Server, options: ListenOptions, onError: (error: NetError) => void): Promise<Listener> {
  const target = formatHostPort(options.host, options.port);
  return new Promise<Listener>((resolve, reject) => {
    const onBindError = (error: Error) => {
      server.close();
      reject(options.fd === undefined ? toNetError(error, "Cannot bind", target) : adoptionError(error, options.fd, target));
    };
    server.once("error", onBindError);
    server.listen(
      options.fd !== undefined ? { fd: options.fd, backlog: options.backlog } : {
        host: options.host,
        port: options.port,
        backlog: options.backlog,
        reusePort: options.reusePort,
        ipv6Only: options.ipv6Only ?? false,
        exclusive: true,
      },
      () => {
        server.off("error", onBindError);
        server.on("error", (error: Error) => onError(toNetError(error, "Listener", target)));
        const bound = server.address();
        const address = typeof bound === "object" && bound !== null
          ? addressOf(bound.address, bound.port)
          : addressOf(options.host, options.port);
        resolve(new NodeNetListener(server, address));
      },
    );
  });
}

/** Resolves with the system resolver (getaddrinfo: /etc/hosts first), as HAProxy's libc resolution at start. */
export async function lookupNodeDns(host: string): Promise<string[]> {
  if (net.isIP(host) !== 0) return [host];
  try {
    const results = await dns.promises.lookup(host, { all: true });
    return results.map((entry) => entry.address);
  } catch (error) {
    throw toNetError(error, "Cannot resolve", host);
  }
}
