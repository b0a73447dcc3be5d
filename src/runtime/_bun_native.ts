/**
 * The contract's connections and listeners over Bun's native sockets (`Bun.listen`, `Bun.connect`):
 * the "native" socket API on Bun, the alternative to node:net.
 *
 * Bun's API already has the contract's shape: one handler object per listener or per connect, shared
 * by all its sockets, with the per-connection state in `socket.data`. Here `socket.data` is the
 * {@link BunNativeConnection} (for an accepted socket it is first the listener's {@link AcceptTarget},
 * replaced in `open`), and the handler objects below are module constants: no closure is made per
 * connection, per chunk or per event.
 *
 * What Bun leaves to us, and how (Bun 1.4.5, uSockets underneath):
 * - `socket.write` is a bare non-blocking send: it returns the bytes the kernel took (partial writes)
 *   and buffers nothing. The rest is queued here, `write` returns false once `bufferSize` bytes are
 *   queued ({@link WRITE_HIGH_WATER_MARK} without one), the queue is flushed from the `drain`
 *   handler, and `onDrain` follows once it is back under the mark.
 * - Reads cannot be bounded: uSockets reads up to 512 KiB at once (its receive buffer) and Bun has
 *   no option for less; one `data` chunk is whatever the kernel had queued, up to that. Setting
 *   SO_RCVBUF would bound it, but a receive buffer smaller than loopback's 64 KiB segments stalls
 *   the connection, and 64 KiB cut a large transfer to 40% of its speed (docs/architecture.md).
 * - `data` chunks are fresh arrays copied out of uSockets' shared receive buffer (`binaryType`
 *   conversion copies; nothing is reused after the callback), so a chunk may be queued by reference
 *   in another connection's write queue: the splice path has no copy, as with node:net. Only when
 *   the kernel refuses part of a write and the part left is at most half of its buffer is it copied
 *   (`unsent`), so a stalled peer does not keep a whole 512 KiB read alive for a small remainder.
 * - `socket.end()` is not a half-close: it flushes and then closes the socket, so data still coming
 *   from the peer is lost (and unread bytes turn the close into a reset). `end()` here sends the FIN
 *   with `socket.shutdown()`, after the queue has drained, and keeps reading (`allowHalfOpen: true`
 *   is set on both listen and connect, or Bun closes the socket at the peer's FIN).
 * - The peer's FIN after our own never reaches the `end` handler: uSockets closes the socket at once
 *   ("clean shutdown") and only `close` is called. `onEnd` is then delivered just before `onClose`.
 * - `close()` calls the `close` handler synchronously, inside our own call. Every `onClose` is
 *   delivered from a microtask, as node:net delivers `close` on the next tick, so a handler is never
 *   re-entered from its own `destroy()`.
 * - `pause()`/`resume()` really stop and restart reading: uSockets drops the socket's readable
 *   interest (epoll), so the kernel buffers fill and the peer's writes stall. Checked with strace on
 *   1.4.5: a partial write on a paused socket re-arms writable only (older uSockets re-armed
 *   readable too, undoing the pause), and events already polled for a socket paused meanwhile are
 *   masked. Should a chunk still come after `pause()`, it is held and delivered by `resume()`,
 *   with a FIN behind it, as the contract promises no `onData` while paused.
 * - After the peer's FIN uSockets stops reading by itself; `pause()`/`resume()` are then no longer
 *   passed on (nothing is left to read, and each would cost an epoll_ctl), and a repeated `end` is
 *   ignored.
 * - Connection failures always come to `connectError` with code ECONNREFUSED, whatever the errno
 *   (unreachable networks included); invalid options throw synchronously from `Bun.connect`.
 * - A connecting socket cannot be cancelled (there is no socket object before `open`): `destroy()`
 *   during connect reports `onClose` at once and closes the socket when it opens.
 * - uSockets turns Nagle off on every socket it creates, accepted or dialled: `noDelay: false` must be
 *   applied explicitly.
 * - `Bun.listen` takes no backlog (uSockets listens with 512, capped by net.core.somaxconn), binds
 *   synchronously (errors are thrown, with Node-style codes), and reports no accept errors (EMFILE...)
 *   to JavaScript, so a listener's `onError` is never called. `stop(false)` closes the listening socket
 *   at once and leaves accepted connections alone.
 * - Exceptions thrown by our handlers propagate as uncaught exceptions (no `error` handler is set), as
 *   node:net's listeners do.
 * - The `Bun` global is only touched inside functions, so this module loads on every runtime.
 *
 * @module
 */

import type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  Listener,
  ListenOptions,
  NetAddr,
  TlsFacts,
} from "./types.ts";
import type { NetError } from "./net_error.ts";
import { addressOf, localAddressOf, NOOP_HANDLER, UNKNOWN_ADDRESS } from "./_addresses.ts";
import { adoptionError, formatHostPort, toNetError } from "./net_error.ts";

/**
 * Queued bytes at which `write` returns false when no `bufferSize` is given: Node's default
 * high-water mark for sockets since v22. Only what the kernel's send buffer refused is queued here.
 */
export const WRITE_HIGH_WATER_MARK = 64 * 1024;

/** Consumed slots at the front of a write queue before they are cut off, so the array does not grow forever. */
const QUEUE_COMPACT_THRESHOLD = 1024;

// The minimal structural types of Bun's socket API used here (no bun-types: `deno check` reads this).

/** A TCP socket of Bun's native API. */
interface BunSocket {
  data: unknown;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Sends at once; returns the bytes the kernel took, or -1 when the socket is closed or shut down. */
  write(data: Uint8Array): number;
  /** FIN (half-close); `shutdown(true)` would shut the read side instead. */
  shutdown(): void;
  close(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
}

interface BunSocketHandler {
  open(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
  binaryType: "uint8array";
}

interface BunTcpListener {
  readonly hostname: string;
  readonly port: number;
  getsockname?(out: { address?: string; port?: number }): void;
  stop(closeActiveConnections?: boolean): void;
}

interface BunSocketsApi {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    reusePort: boolean;
    ipv6Only: boolean;
    data: unknown;
    socket: BunSocketHandler;
  } | {
    /** A descriptor to adopt (Bun calls listen(2) on it), instead of hostname and port. */
    fd: number;
    allowHalfOpen: boolean;
    data: unknown;
    socket: BunSocketHandler;
  }): BunTcpListener;
  connect(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    data: unknown;
    socket: BunSocketHandler;
  }): Promise<BunSocket>;
}

function bunSockets(): BunSocketsApi {
  return (globalThis as unknown as { Bun: BunSocketsApi }).Bun;
}

const EMPTY = new Uint8Array(0);


/** Connecting or open: events are delivered. */
const STATE_OPEN = 0;
/** Closed at the socket level; held events and `onClose` wait for the deferred delivery. */
const STATE_CLOSING = 1;
/** `onClose` delivered; nothing more happens. */
const STATE_CLOSED = 2;

/**
 * A Connection over a Bun native socket. The socket is reachable as `socket` for runtime-specific
 * tuning (undefined while an outgoing connection is being made).
 */
export class BunNativeConnection implements Connection {
  socket: BunSocket | undefined;
  handler: ConnectionHandler = NOOP_HANDLER;
  remote: NetAddr;
  local: NetAddr;
  open: boolean;
  owner: unknown = undefined;
  /** Plain TCP here. */
  tls: TlsFacts | undefined = undefined;
  /** "host:port" this connection dialled, for error messages; empty for accepted ones. */
  readonly target: string;
  /** STATE_OPEN, STATE_CLOSING or STATE_CLOSED. */
  state = STATE_OPEN;
  /** The error the connection ended with, delivered with onClose. */
  error: NetError | undefined = undefined;
  /** Queued bytes at which `write` returns false. */
  highWaterMark = WRITE_HIGH_WATER_MARK;
  /** Bytes the kernel has not taken yet, in order; `queue[queueHead]` is the next to send. */
  queue: Uint8Array[] = [];
  queueHead = 0;
  queuedBytes = 0;
  /** `write` returned false: call onDrain once back under the high-water mark. */
  needDrain = false;
  paused = false;
  noDelay = true;
  /** `end()` was called: the FIN goes out once the queue is empty. */
  endRequested = false;
  finSent = false;
  /** The peer's FIN arrived (or was inferred from a clean close after ours). */
  peerEnded = false;
  /** The peer's FIN is known but waits behind held bytes (or for the deferred delivery). */
  endPending = false;
  /** Chunks read after pause(), for resume() to deliver; `held[heldHead]` is the next. */
  held: Uint8Array[] = [];
  heldHead = 0;
  /** Already in the deferred-delivery list. */
  deferred = false;

  constructor(socket: BunSocket | undefined, target: string) {
    this.socket = socket;
    this.target = target;
    if (socket !== undefined) {
      this.open = true;
      this.remote = addressOf(socket.remoteAddress, socket.remotePort);
      this.local = localAddressOf(socket.localAddress, socket.localPort);
    } else {
      this.open = false;
      this.remote = UNKNOWN_ADDRESS;
      this.local = UNKNOWN_ADDRESS;
    }
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  write(chunk: Uint8Array): boolean {
    if (this.state !== STATE_OPEN || this.endRequested) return false;
    const length = chunk.length;
    const socket = this.socket;
    if (socket === undefined || this.queueHead < this.queue.length) return this.enqueue(chunk);
    if (length === 0) return true;
    const written = socket.write(chunk);
    if (written === length) return true;
    // -1: Bun has already closed the socket, and its close handler has run or is about to.
    if (written < 0) return false;
    return this.enqueue(unsent(chunk, written));
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    const socket = this.socket;
    // After the peer's FIN uSockets has stopped reading already.
    if (socket !== undefined && this.state === STATE_OPEN && !this.peerEnded) socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.state !== STATE_OPEN) return;
    const socket = this.socket;
    if (socket !== undefined && !this.peerEnded) socket.resume();
    if (this.heldHead < this.held.length || this.endPending) scheduleDelivery(this);
  }

  end(): void {
    if (this.state !== STATE_OPEN || this.endRequested) return;
    this.endRequested = true;
    if (this.socket !== undefined && this.queueHead === this.queue.length) this.sendFin(this.socket);
  }

  destroy(): void {
    if (this.state !== STATE_OPEN) return;
    this.markClosing();
    this.dropHeld();
    this.endPending = false;
    const socket = this.socket;
    // Bun runs the close handler inside close(); it finds the connection closing and does nothing.
    if (socket !== undefined) socket.close();
    scheduleDelivery(this);
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (this.socket !== undefined && this.state === STATE_OPEN) this.socket.setNoDelay(noDelay);
  }

  private enqueue(chunk: Uint8Array): boolean {
    if (chunk.length > 0) {
      this.queue.push(chunk);
      this.queuedBytes += chunk.length;
    }
    if (this.queuedBytes < this.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  /** Writes queued bytes until the kernel refuses more; sends the FIN when all is out and end() asked for it. */
  flush(socket: BunSocket): void {
    const queue = this.queue;
    let head = this.queueHead;
    while (head < queue.length) {
      const chunk = queue[head]!;
      const written = socket.write(chunk);
      if (written === chunk.length) {
        queue[head++] = EMPTY;
        this.queuedBytes -= written;
        continue;
      }
      if (written < 0) return;
      if (written > 0) {
        queue[head] = unsent(chunk, written);
        this.queuedBytes -= written;
      }
      break;
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else if (head >= QUEUE_COMPACT_THRESHOLD) {
      queue.splice(0, head);
      head = 0;
    }
    this.queueHead = head;
    if (head === queue.length && this.endRequested && !this.finSent) this.sendFin(socket);
  }

  /** onDrain, if `write` said to wait and the queue is back under the mark. */
  notifyDrain(): void {
    if (!this.needDrain || this.state !== STATE_OPEN || this.queuedBytes >= this.highWaterMark) return;
    this.needDrain = false;
    this.handler.onDrain(this);
  }

  private sendFin(socket: BunSocket): void {
    this.finSent = true;
    // Half-close. After the peer's FIN, uSockets closes the socket soon after (a clean `close`).
    socket.shutdown();
  }

  /** The socket is gone: no more writes, events wait for the deferred delivery. */
  markClosing(): void {
    this.state = STATE_CLOSING;
    this.open = false;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.needDrain = false;
  }

  hold(chunk: Uint8Array): void {
    this.held.push(chunk);
  }

  dropHeld(): void {
    if (this.held.length === 0) return;
    this.held = [];
    this.heldHead = 0;
  }

  /** Delivers held bytes and FIN (while not paused, or when closing), then onClose if the socket is gone. */
  deliver(): void {
    if (this.state === STATE_CLOSED) return;
    // A handler may pause (the rest waits for resume) or destroy (held bytes are dropped) meanwhile.
    while (this.heldHead < this.held.length && (this.state === STATE_CLOSING || !this.paused)) {
      const chunk = this.held[this.heldHead]!;
      this.held[this.heldHead++] = EMPTY;
      this.handler.onData(this, chunk);
    }
    if (this.heldHead < this.held.length) return;
    this.dropHeld();
    if (this.endPending && (this.state === STATE_CLOSING || !this.paused)) {
      this.endPending = false;
      this.handler.onEnd(this);
    }
    if (this.state !== STATE_CLOSING) return;
    this.state = STATE_CLOSED;
    this.socket = undefined;
    const handler = this.handler;
    this.handler = NOOP_HANDLER;
    handler.onClose(this, this.error);
  }
}

/**
 * What the kernel did not take of `chunk`, to queue. The caller must not modify `chunk` afterwards
 * (contract) and data chunks are never reused, so a view is safe; but a view keeps the whole buffer
 * behind it alive, up to a 512 KiB read, for as long as a stalled peer leaves it queued. When the
 * part left is at most half of that buffer it is copied out, freeing more than the copy takes: what a
 * slow reader costs is then about what it has still to receive.
 */
function unsent(chunk: Uint8Array, written: number): Uint8Array {
  const rest = chunk.length - written;
  return rest * 2 <= chunk.buffer.byteLength ? chunk.slice(written) : chunk.subarray(written);
}

// Deferred delivery: onClose (Bun calls the close handler inside our own close()), and bytes held
// across a pause. One shared list and one microtask per batch, no closure per event.

const pendingDelivery: BunNativeConnection[] = [];
let deliveryScheduled = false;

function scheduleDelivery(conn: BunNativeConnection): void {
  if (conn.deferred) return;
  conn.deferred = true;
  pendingDelivery.push(conn);
  if (!deliveryScheduled) {
    deliveryScheduled = true;
    queueMicrotask(runDeliveries);
  }
}

function runDeliveries(): void {
  let index = 0;
  try {
    // Handlers may schedule more connections while this runs: they are taken in the same pass.
    while (index < pendingDelivery.length) {
      const conn = pendingDelivery[index++]!;
      conn.deferred = false;
      conn.deliver();
    }
  } finally {
    // A handler that threw becomes an uncaught error; the connections after it still get their turn.
    pendingDelivery.splice(0, index);
    if (pendingDelivery.length > 0) queueMicrotask(runDeliveries);
    else deliveryScheduled = false;
  }
}

// Shared Bun socket handlers: `socket.data` is the connection.

function connectionOf(socket: BunSocket): BunNativeConnection {
  return socket.data as BunNativeConnection;
}

function onSocketData(socket: BunSocket, chunk: Uint8Array): void {
  const conn = connectionOf(socket);
  if (conn.state !== STATE_OPEN) return;
  // Read after pause() in the same wakeup, or behind bytes still held: keep the order.
  if (conn.paused || conn.heldHead < conn.held.length) {
    conn.hold(chunk);
    return;
  }
  conn.handler.onData(conn, chunk);
}

function onSocketDrain(socket: BunSocket): void {
  const conn = connectionOf(socket);
  if (conn.state !== STATE_OPEN || conn.socket === undefined) return;
  if (conn.queueHead < conn.queue.length) conn.flush(socket);
  conn.notifyDrain();
}

function onSocketEnd(socket: BunSocket): void {
  const conn = connectionOf(socket);
  if (conn.state !== STATE_OPEN || conn.peerEnded) return;
  conn.peerEnded = true;
  if (conn.heldHead < conn.held.length) {
    conn.endPending = true;
    return;
  }
  conn.handler.onEnd(conn);
}

function onSocketClose(socket: BunSocket, error?: Error): void {
  const conn = connectionOf(socket);
  // Closing already: destroy() did it, and onClose is scheduled.
  if (conn.state !== STATE_OPEN) return;
  conn.markClosing();
  if (error !== undefined) {
    conn.dropHeld();
    conn.endPending = false;
    const target = conn.target !== "" ? conn.target : formatHostPort(conn.remote.address, conn.remote.port);
    conn.error = toNetError(error, "Connection to", target);
  } else if (conn.finSent && !conn.peerEnded) {
    // uSockets closes at the peer's FIN after ours without calling `end`.
    conn.peerEnded = true;
    conn.endPending = true;
  }
  scheduleDelivery(conn);
}

function onAcceptOpen(socket: BunSocket): void {
  const target = socket.data as AcceptTarget;
  const conn = new BunNativeConnection(socket, "");
  conn.highWaterMark = target.highWaterMark;
  socket.data = conn;
  target.onAccept(conn);
}

function onConnectOpen(socket: BunSocket): void {
  const conn = connectionOf(socket);
  if (conn.state !== STATE_OPEN) {
    // destroy() was called while connecting; its onClose is delivered already or on its way.
    socket.close();
    return;
  }
  conn.socket = socket;
  conn.open = true;
  conn.local = addressOf(socket.localAddress, socket.localPort);
  if (!conn.noDelay) socket.setNoDelay(false);
  if (conn.paused) socket.pause();
  // Bytes written (and end() called) while connecting go out first.
  if (conn.queueHead < conn.queue.length || conn.endRequested) conn.flush(socket);
  if (conn.state !== STATE_OPEN) return;
  conn.handler.onOpen(conn);
  conn.notifyDrain();
}

function onConnectError(socket: BunSocket, error: Error): void {
  const conn = connectionOf(socket);
  if (conn.state !== STATE_OPEN) return;
  conn.markClosing();
  conn.error = toNetError(error, "Cannot connect to", conn.target);
  scheduleDelivery(conn);
}

const ACCEPTED_SOCKET_HANDLER: BunSocketHandler = {
  open: onAcceptOpen,
  data: onSocketData,
  drain: onSocketDrain,
  end: onSocketEnd,
  close: onSocketClose,
  binaryType: "uint8array",
};

const DIALLED_SOCKET_HANDLER: BunSocketHandler = {
  open: onConnectOpen,
  data: onSocketData,
  drain: onSocketDrain,
  end: onSocketEnd,
  close: onSocketClose,
  connectError: onConnectError,
  binaryType: "uint8array",
};

/** Dials with `Bun.connect`; the connection reports through `handler`. */
export function connectBunNative(options: ConnectOptions, handler: ConnectionHandler): Connection {
  const conn = new BunNativeConnection(undefined, formatHostPort(options.host, options.port));
  conn.handler = handler;
  conn.remote = addressOf(options.host, options.port);
  conn.noDelay = options.noDelay;
  if (options.bufferSize !== undefined) conn.highWaterMark = options.bufferSize;
  try {
    // The promise is not needed: `open` or `connectError` reports, and with a connectError handler
    // Bun rejects it as handled.
    bunSockets().connect({
      hostname: options.host,
      port: options.port,
      allowHalfOpen: true,
      data: conn,
      socket: DIALLED_SOCKET_HANDLER,
    });
  } catch (error) {
    // Invalid options (a port out of range...) throw synchronously.
    conn.markClosing();
    conn.error = toNetError(error, "Cannot connect to", conn.target);
    scheduleDelivery(conn);
  }
  return conn;
}

/** What a listener's accepted sockets carry in `socket.data` until `open` replaces it with their connection. */
class AcceptTarget {
  readonly onAccept: (conn: Connection) => void;
  readonly highWaterMark: number;
  constructor(onAccept: (conn: Connection) => void, highWaterMark: number) {
    this.onAccept = onAccept;
    this.highWaterMark = highWaterMark;
  }
}

/** A Listener over `Bun.listen`. The Bun listener is reachable as `native`. */
class BunNativeListener implements Listener {
  readonly native: BunTcpListener;
  readonly address: NetAddr;
  private closed = false;
  constructor(native: BunTcpListener, address: NetAddr) {
    this.native = native;
    this.address = address;
  }
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      // false: close the listening socket only; accepted connections live on.
      this.native.stop(false);
    }
    return Promise.resolve();
  }
}

/**
 * Binds with `Bun.listen`. `backlog` is not configurable on Bun (uSockets uses 512), and Bun reports
 * no accept errors, so `_onError` is never called.
 */
export function listenBunNative(
  options: ListenOptions,
  onAccept: (conn: Connection) => void,
  _onError: (error: NetError) => void,
): Promise<Listener> {
  const target = formatHostPort(options.host, options.port);
  let native: BunTcpListener;
  try {
    const accepting = {
      allowHalfOpen: true,
      data: new AcceptTarget(onAccept, options.bufferSize ?? WRITE_HIGH_WATER_MARK),
      socket: ACCEPTED_SOCKET_HANDLER,
    };
    native = options.fd !== undefined ? bunSockets().listen({ fd: options.fd, ...accepting }) : bunSockets().listen({
      hostname: options.host,
      port: options.port,
      reusePort: options.reusePort,
      ipv6Only: options.ipv6Only ?? false,
      ...accepting,
    });
  } catch (error) {
    return Promise.reject(
      options.fd === undefined ? toNetError(error, "Cannot bind", target) : adoptionError(error, options.fd, target),
    );
  }
  // getsockname gives the bound address (a host name given to listen is resolved there); a listener
  // on an adopted descriptor may have neither, and is where the options say.
  const bound: { address?: string; port?: number } = {};
  if (typeof native.getsockname === "function") native.getsockname(bound);
  const address = addressOf(bound.address ?? native.hostname ?? options.host, bound.port ?? native.port ?? options.port);
  return Promise.resolve(new BunNativeListener(native, address));
}
