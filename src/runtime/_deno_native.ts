/**
 * The contract's connections and listeners over Deno's native sockets (`Deno.listen`,
 * `Deno.connect`, `Deno.TcpConn`): the "native" socket API on Deno, the alternative to node:net.
 *
 * Deno's sockets are pull-based, one promise per accept, per read and per write, where the contract
 * pushes events. So each connection runs at most one read loop and one write loop, and costs one
 * promise per read and one per write, never one per event:
 * - Reads go into a per-connection buffer at a moving offset, and `onData` gets a fresh subarray of
 *   what was read. A region is never read into again once handed out, so chunks may be passed to
 *   any `write` or kept (the tcp session keeps early client bytes without copying) as with
 *   node:net. Only regions nobody ever saw (the unread tail of a slab, once no read is pending on
 *   it) go back to a pool.
 * - A pending read pins its buffer for as long as the connection is idle, where node:net allocates
 *   only when bytes arrive. So a connection reads into a small buffer of its own, and into 64 KiB
 *   slabs only while a read fills all the room it was given (more is waiting); the first short read
 *   goes back to the small buffer. 2,000 idle sessions through the proxy cost 238 MB with 64 KiB
 *   reads throughout, 48 MB this way (node:net: 27 MB).
 * - Writes start at once when none is in flight; while one is, chunks are queued, and the queue is
 *   written as one batch copied into a pooled buffer (a writev stand-in: Deno has no vectored
 *   write), so a burst of small chunks costs one promise, not one each.
 *
 * Quirks handled here (Deno 2.9):
 * - `Deno.listen({ reusePort: true })` needs `--unstable-net` (or `"unstable": ["net"]` in
 *   deno.json), and without it neither throws nor rejects: Deno prints "Unstable API ..." and exits
 *   the process with code 70. `listen` checks for the flag first (`Deno.listenDatagram` exists only
 *   under it) and rejects with a NetError instead. node:net on Deno shares ports without the flag.
 * - Reads and writes are zero-copy: the op holds the caller's bytes until its promise settles. A
 *   buffer passed to `read` or `write` must stay untouched until then, hence fresh subarrays for
 *   reads, and a slab tail goes back to the pool only after the read pending on it has settled.
 *   Writes are polled once inside the call and usually finish there, which hides a reused buffer
 *   until the kernel's send buffer is full (the conformance splice test makes it full).
 * - `listener.close()` closes the listening socket only when the pending `accept()` settles; until
 *   then the port still takes connections, which the kernel then resets (ECONNRESET where a client
 *   expects ECONNREFUSED). `close` resolves once the accept loop has ended.
 * - `close()` with a read pending may settle that read with a value rather than a rejection; reads,
 *   writes and `close()` on a closed connection throw or reject with BadResource, and a pending
 *   `accept()` rejects with BadResource ("Listener has been closed") when the listener closes.
 * - Errors are classes (ConnectionRefused, ConnectionReset, BrokenPipe, AddrInUse...) with the kind
 *   in `name`; `toNetError` maps them.
 * - `Deno.listen` has no ipv6Only option: "[::]:P" is always dual-stack (IPv4 peers appear as
 *   ::ffff:a.b.c.d), so next to "0.0.0.0:P" it binds only with SO_REUSEPORT. `ipv6Only` is ignored,
 *   as Deno's node:net does, so a configuration behaves the same on both socket APIs.
 * - The `Deno` global is only touched inside functions, so this module loads on every runtime.
 *
 * @module
 */

import type { ConnectionHandler, ConnectOptions, Connection, Listener, ListenOptions, NetAddr, TlsFacts } from "./types.ts";
import { addressOf, NOOP_HANDLER, UNKNOWN_ADDRESS } from "./_addresses.ts";
import { formatHostPort, NetError, toNetError } from "./net_error.ts";

/**
 * Queued bytes at which `write` returns false when no `bufferSize` is given: Node's default
 * high-water mark since v22.
 */
const WRITE_HIGH_WATER_MARK = 64 * 1024;

/** Bytes of a fresh read slab for bulk reads: as libuv's 64 KiB per read under node:net. */
const READ_SLAB_BYTES = 64 * 1024;

/**
 * Least room offered to a bulk read (HAProxy's tune.bufsize): a slab with a shorter free tail is
 * left to the chunks pointing into it and a new region is taken. Also the least tail worth pooling.
 */
const READ_MIN_BYTES = 16 * 1024;

/**
 * Bytes of the small buffer an idle connection reads into: one page is what an idle connection
 * pins, and holds most request heads and small answers in one read.
 */
const READ_SMALL_BYTES = 4 * 1024;

/** Least room offered to a small read; a shorter tail is left to its chunks and a new buffer taken. */
const READ_SMALL_MIN_BYTES = 512;

/** Bytes of a write batch buffer: one full batch is one high-water mark's worth. */
const WRITE_BATCH_BYTES = 64 * 1024;

/** Regions kept per pool (LIFO, so hot memory stays hot); bounds each pool at 8 MiB. */
const POOL_MAX = 128;

/**
 * Pause after an accept error other than a closed listener (out of file descriptors...): the next
 * accept would fail at once, and retrying in a tight loop would starve the established sessions.
 */
const ACCEPT_RETRY_DELAY_MS = 100;


/** Free read regions: never handed to a handler, no read pending on them. */
const readRegions: Uint8Array[] = [];
/** Free write batch buffers of WRITE_BATCH_BYTES. */
const batchBuffers: Uint8Array[] = [];

function takeReadRegion(): Uint8Array {
  return readRegions.pop() ?? new Uint8Array(READ_SLAB_BYTES);
}

function takeBatchBuffer(): Uint8Array {
  return batchBuffers.pop() ?? new Uint8Array(WRITE_BATCH_BYTES);
}

function releaseBatchBuffer(buffer: Uint8Array): void {
  if (batchBuffers.length < POOL_MAX) batchBuffers.push(buffer);
}

function addressOfDeno(address: Deno.Addr): NetAddr {
  return address.transport === "tcp" ? addressOf(address.hostname, address.port) : UNKNOWN_ADDRESS;
}

/**
 * Hands an error thrown by a handler to the process's uncaught-error hook, as a throwing node:net
 * listener would, instead of letting it reject a loop promise nobody awaits.
 */
function reportUncaught(error: unknown): void {
  globalThis.reportError(error);
}

/** Deno's error for an operation on a closed resource (our own close, or the listener's). */
function isClosedResource(error: unknown): boolean {
  const name = error instanceof Error ? error.name : "";
  return name === "BadResource" || name === "Interrupted";
}

/**
 * True when `listen` can honour `reusePort` here: Deno runs with `--unstable-net`, the only case
 * where `Deno.listenDatagram` is defined.
 */
export function denoNativeReusePortAvailable(): boolean {
  return typeof (Deno as unknown as { listenDatagram?: unknown }).listenDatagram === "function";
}

/** A Connection over a Deno.TcpConn. The socket is reachable as `socket` once open. */
export class DenoNativeConnection implements Connection {
  /** The Deno connection; undefined while an outgoing connection is being made. */
  socket: Deno.TcpConn | undefined;
  handler: ConnectionHandler;
  remote: NetAddr;
  local: NetAddr;
  open: boolean;
  owner: unknown = undefined;
  /** Plain TCP here. */
  tls: TlsFacts | undefined = undefined;
  /** The error delivered with close. */
  error: NetError | undefined = undefined;
  /** "host:port" this connection dialled, for error messages; empty for accepted ones. */
  readonly target: string;

  /** destroy, an error or both FINs happened: nothing is delivered any more but onClose. */
  private closed = false;
  private paused = false;
  /** A read loop is running (it may be waiting on a read). */
  private reading = false;
  /** The peer's FIN has been read; onEnd may still be held by a pause. */
  private eof = false;
  private endDelivered = false;
  /** Bytes read while paused, delivered on resume. */
  private heldChunk: Uint8Array | null = null;
  /** The buffer reads go into (a small one, or a slab while bulk), and where the next read starts. */
  private slab: Uint8Array | null = null;
  private slabOffset = 0;
  /** The last read filled all the room it had: read into 64 KiB slabs until one comes back short. */
  private bulk = false;
  /** Queued bytes at which `write` returns false. */
  highWaterMark = WRITE_HIGH_WATER_MARK;

  /** A write loop is running (a write is in flight). */
  private writing = false;
  /** Chunks waiting for the write in flight; before open, everything written so far. */
  private readonly queue: Uint8Array[] = [];
  /** Queued plus in flight and not yet taken by the kernel. */
  private buffered = 0;
  private needDrain = false;
  /** The pooled batch buffer the write in flight points into. */
  private batch: Uint8Array | null = null;
  private endRequested = false;
  private finStarted = false;
  private finSent = false;
  private noDelay: boolean | undefined = undefined;

  constructor(socket: Deno.TcpConn | undefined, handler: ConnectionHandler, target: string) {
    this.socket = socket;
    this.handler = handler;
    this.target = target;
    this.open = socket !== undefined;
    this.remote = socket !== undefined ? addressOfDeno(socket.remoteAddr) : UNKNOWN_ADDRESS;
    this.local = socket !== undefined ? addressOfDeno(socket.localAddr) : UNKNOWN_ADDRESS;
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  /** `bufferSize`: the write high-water mark. Reads keep their 64 KiB slabs, as libuv's reads. */
  limitBuffers(bufferSize: number): void {
    this.highWaterMark = bufferSize;
  }

  write(chunk: Uint8Array): boolean {
    // Writing after end or destroy is a caller bug node:net reports as an error; here the bytes
    // are dropped and false stops the caller.
    if (this.closed || this.endRequested) return false;
    const length = chunk.length;
    if (length > 0) {
      this.buffered += length;
      if (this.writing || this.socket === undefined) this.queue.push(chunk);
      else void this.writeLoop(chunk);
    }
    if (this.buffered < this.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  get bufferedAmount(): number {
    return this.buffered;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.startReading();
  }

  end(): void {
    if (this.closed || this.endRequested) return;
    this.endRequested = true;
    if (this.socket !== undefined && !this.writing) void this.sendFin();
  }

  destroy(): void {
    this.close(undefined);
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (this.socket === undefined || this.closed) return;
    try {
      this.socket.setNoDelay(noDelay);
    } catch {
      // The socket was closed under us (reset): the close is on its way.
    }
  }

  /** Dials; called once by connectDenoNative. */
  async dial(host: string, port: number): Promise<void> {
    let socket: Deno.TcpConn;
    try {
      socket = await Deno.connect({ hostname: host, port, transport: "tcp" });
    } catch (error) {
      if (!this.closed) this.fail(error);
      return;
    }
    try {
      if (this.closed) {
        socket.close();
        return;
      }
      this.socket = socket;
      this.open = true;
      this.local = addressOfDeno(socket.localAddr);
      if (this.noDelay !== undefined) this.setNoDelay(this.noDelay);
      // Bytes written before the connection opened go first, ahead of anything onOpen writes.
      const first = this.nextBatch();
      if (first !== null) void this.writeLoop(first);
      else if (this.endRequested) void this.sendFin();
      try {
        this.handler.onOpen(this);
      } catch (error) {
        reportUncaught(error);
      }
      this.startReading();
    } catch (error) {
      reportUncaught(error);
    }
  }

  /** Starts the read loop unless one runs, reading is paused, or there is nothing left to read. */
  startReading(): void {
    if (this.reading || this.paused || this.closed || this.endDelivered || this.socket === undefined) return;
    void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    this.reading = true;
    try {
      // What was held during a pause is delivered after resume() returns, as node:net does, so a
      // handler resuming one connection from another's event is not re-entered.
      if (this.heldChunk !== null || this.eof) await undefined;
      const socket = this.socket!;
      while (!this.paused && !this.closed) {
        const held = this.heldChunk;
        if (held !== null) {
          this.heldChunk = null;
          this.deliverData(held);
          continue;
        }
        if (this.eof) {
          this.deliverEnd();
          break;
        }
        let slab = this.slab;
        if (slab === null || !this.hasRoom(slab)) {
          // No read is pending: the old buffer's unread tail can go to the pool.
          this.releaseSlab();
          slab = this.slab = this.bulk ? takeReadRegion() : new Uint8Array(READ_SMALL_BYTES);
          this.slabOffset = 0;
        }
        const offset = this.slabOffset;
        const room = slab.length - offset;
        let count: number | null;
        try {
          count = await socket.read(offset === 0 ? slab : slab.subarray(offset));
        } catch (error) {
          if (!this.closed) this.fail(error);
          break;
        }
        if (this.closed) break;
        if (count === null) {
          this.eof = true;
          continue;
        }
        if (count === 0) continue;
        this.slabOffset = offset + count;
        const chunk = slab.subarray(offset, offset + count);
        // A full read means more is waiting; a short one after bulk reads means the peer paused, and
        // the next read may wait long: it must not pin a slab.
        if (count === room) this.bulk = true;
        else if (this.bulk && count < READ_SMALL_BYTES) this.bulk = false;
        if (this.paused) this.heldChunk = chunk;
        else this.deliverData(chunk);
      }
    } catch (error) {
      reportUncaught(error);
    } finally {
      this.reading = false;
      // No read is pending any more: the slab's unread tail was never handed out.
      if (this.closed || this.eof) this.releaseSlab();
    }
  }

  /** True when `slab` suits the next read: enough room, and small unless reading in bulk. */
  private hasRoom(slab: Uint8Array): boolean {
    const room = slab.length - this.slabOffset;
    if (this.bulk) return room >= READ_MIN_BYTES;
    return slab.length <= READ_SMALL_BYTES && room >= READ_SMALL_MIN_BYTES;
  }

  private releaseSlab(): void {
    const slab = this.slab;
    if (slab === null) return;
    this.slab = null;
    const offset = this.slabOffset;
    if (slab.length - offset >= READ_MIN_BYTES && readRegions.length < POOL_MAX) {
      readRegions.push(offset === 0 ? slab : slab.subarray(offset));
    }
  }

  private async writeLoop(first: Uint8Array): Promise<void> {
    this.writing = true;
    try {
      const socket = this.socket!;
      let chunk: Uint8Array | null = first;
      while (chunk !== null) {
        let written: number;
        try {
          written = await socket.write(chunk);
        } catch (error) {
          if (!this.closed) this.fail(error);
          return;
        }
        if (this.closed) return;
        this.buffered -= written;
        if (written < chunk.length) {
          chunk = chunk.subarray(written);
          continue;
        }
        if (this.needDrain && this.buffered < this.highWaterMark) {
          this.needDrain = false;
          // Whatever the handler writes now is queued (a write loop runs) and joins the next batch.
          try {
            this.handler.onDrain(this);
          } catch (error) {
            reportUncaught(error);
          }
          if (this.closed) return;
        }
        chunk = this.nextBatch();
      }
      this.writing = false;
      if (this.endRequested) void this.sendFin();
    } catch (error) {
      reportUncaught(error);
    } finally {
      this.writing = false;
      // The write in flight has settled: its batch buffer is nobody's.
      if (this.batch !== null) {
        releaseBatchBuffer(this.batch);
        this.batch = null;
      }
    }
  }

  /** The next bytes to write: a lone or large chunk as it is, several small ones copied together. */
  private nextBatch(): Uint8Array | null {
    if (this.batch !== null) {
      releaseBatchBuffer(this.batch);
      this.batch = null;
    }
    const queue = this.queue;
    if (queue.length === 0) return null;
    const first = queue[0]!;
    if (queue.length === 1 || first.length >= WRITE_BATCH_BYTES) {
      queue.shift();
      return first;
    }
    const batch = takeBatchBuffer();
    let filled = 0;
    let taken = 0;
    while (taken < queue.length && filled < WRITE_BATCH_BYTES) {
      const part = queue[taken]!;
      const room = WRITE_BATCH_BYTES - filled;
      if (part.length <= room) {
        batch.set(part, filled);
        filled += part.length;
        taken++;
      } else {
        batch.set(part.subarray(0, room), filled);
        filled += room;
        queue[taken] = part.subarray(room);
      }
    }
    if (taken === queue.length) queue.length = 0;
    else queue.splice(0, taken);
    this.batch = batch;
    return batch.subarray(0, filled);
  }

  /** Sends our FIN; everything queued has been written. */
  private async sendFin(): Promise<void> {
    if (this.finStarted || this.closed) return;
    this.finStarted = true;
    try {
      await this.socket!.closeWrite();
    } catch (error) {
      if (!this.closed) this.fail(error);
      return;
    }
    this.finSent = true;
    this.closeIfDone();
  }

  private deliverData(chunk: Uint8Array): void {
    try {
      this.handler.onData(this, chunk);
    } catch (error) {
      reportUncaught(error);
    }
  }

  private deliverEnd(): void {
    this.endDelivered = true;
    try {
      this.handler.onEnd(this);
    } catch (error) {
      reportUncaught(error);
    }
    this.closeIfDone();
  }

  /** Both directions are done (the peer's FIN delivered, ours sent): the connection closes cleanly. */
  private closeIfDone(): void {
    if (this.endDelivered && this.finSent && !this.closed) this.close(undefined);
  }

  private fail(error: unknown): void {
    const action = this.open ? "Connection to" : "Cannot connect to";
    const target = this.target !== "" ? this.target : formatHostPort(this.remote.address, this.remote.port);
    this.close(toNetError(error, action, target));
  }

  private close(error: NetError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    this.queue.length = 0;
    this.buffered = 0;
    this.heldChunk = null;
    const socket = this.socket;
    if (socket !== undefined) {
      try {
        socket.close();
      } catch {
        // Already closed by Deno.
      }
    }
    // With a read pending, the read loop releases the slab once that read has settled.
    if (!this.reading) this.releaseSlab();
    // As node:net, onClose comes after the call that closed, never inside it.
    queueMicrotask(() => this.deliverClose());
  }

  private deliverClose(): void {
    // As node:net, `open` stays true until onClose: "between open and close".
    this.open = false;
    const handler = this.handler;
    this.handler = NOOP_HANDLER;
    try {
      handler.onClose(this, this.error);
    } catch (error) {
      reportUncaught(error);
    }
  }
}

/** Dials with Deno.connect; the connection reports through `handler`. */
export function connectDenoNative(options: ConnectOptions, handler: ConnectionHandler): Connection {
  const conn = new DenoNativeConnection(undefined, handler, formatHostPort(options.host, options.port));
  conn.remote = addressOf(options.host, options.port);
  conn.setNoDelay(options.noDelay);
  if (options.bufferSize !== undefined) conn.limitBuffers(options.bufferSize);
  void conn.dial(options.host, options.port);
  return conn;
}

class DenoNativeListener implements Listener {
  readonly socket: Deno.TcpListener;
  readonly address: NetAddr;
  closed = false;
  /** Settles when the accept loop has ended; set right after construction. */
  acceptLoopDone: Promise<void> = Promise.resolve();
  constructor(socket: Deno.TcpListener, address: NetAddr) {
    this.socket = socket;
    this.address = address;
  }
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      try {
        this.socket.close();
      } catch {
        // Already closed.
      }
    }
    // The listening socket is closed only when the pending accept() settles (see the module notes).
    return this.acceptLoopDone;
  }
}

async function acceptLoop(
  listener: DenoNativeListener,
  onAccept: (conn: Connection) => void,
  onError: (error: NetError) => void,
  target: string,
  bufferSize: number | undefined,
): Promise<void> {
  try {
    while (!listener.closed) {
      let socket: Deno.TcpConn;
      try {
        socket = await listener.socket.accept();
      } catch (error) {
        if (listener.closed || isClosedResource(error)) return;
        try {
          onError(toNetError(error, "Listener", target));
        } catch (handlerError) {
          reportUncaught(handlerError);
        }
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_DELAY_MS));
        continue;
      }
      const conn = new DenoNativeConnection(socket, NOOP_HANDLER, "");
      if (bufferSize !== undefined) conn.limitBuffers(bufferSize);
      try {
        onAccept(conn);
      } catch (error) {
        reportUncaught(error);
      }
      // The handler is set by now; a connection paused in onAccept (maxconn) is not read at all.
      conn.startReading();
    }
  } catch (error) {
    reportUncaught(error);
  }
}

/** Binds with Deno.listen. Accept errors after binding (EMFILE...) go to `onError`, never crash. */
export function listenDenoNative(
  options: ListenOptions,
  onAccept: (conn: Connection) => void,
  onError: (error: NetError) => void,
): Promise<Listener> {
  const target = formatHostPort(options.host, options.port);
  if (options.reusePort && !denoNativeReusePortAvailable()) {
    // Asking Deno anyway would end the process (exit code 70) instead of failing the bind. EACCES,
    // as for a missing --allow-net: a runtime flag withholds the operation.
    return Promise.reject(
      new NetError("EACCES", `Cannot bind "${target}": reusePort with Deno's native sockets needs --unstable-net`),
    );
  }
  let socket: Deno.TcpListener;
  try {
    const listenOptions: Deno.TcpListenOptions & { transport: "tcp" } = {
      transport: "tcp",
      hostname: options.host,
      port: options.port,
      tcpBacklog: options.backlog,
    };
    // Set only when asked: Deno checks for --unstable-net whenever the flag is true.
    if (options.reusePort) listenOptions.reusePort = true;
    socket = Deno.listen(listenOptions);
  } catch (error) {
    return Promise.reject(toNetError(error, "Cannot bind", target));
  }
  const listener = new DenoNativeListener(socket, addressOfDeno(socket.addr));
  listener.acceptLoopDone = acceptLoop(listener, onAccept, onError, target, options.bufferSize);
  return Promise.resolve(listener);
}
