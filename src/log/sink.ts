/**
 * Delivery of log lines to one target: a syslog server over UDP or TCP, or standard output/error.
 *
 * Sending must never slow traffic, so a line is only framed and queued where it is produced; the
 * queue is written once per turn of the event loop (one timer per batch, not per line). Every
 * buffer is bounded: when the target is down, slow or not reading, lines are dropped, counted, and
 * the drops reported to the operator at most once per LOG_DROP_REPORT_INTERVAL_MS. The process
 * never blocks on a log target and its memory never grows with the target's backlog.
 *
 * - UDP: one datagram per line (RFC 5426), on a socket connected to the target so that the kernel
 *   can report an unreachable port (Node and Bun tell it; Deno's node:dgram does not). A lost
 *   datagram is otherwise invisible to the sender, as with HAProxy.
 * - TCP: RFC 6587 octet-counted frames, each batch in one write. The connection is made at start
 *   and remade after a loss with a growing delay; while it is down, or while its unsent bytes are
 *   over LOG_STREAM_BUFFER_MAX_BYTES (a receiver that stopped reading), lines are dropped.
 * - stdout/stderr: newline-terminated lines, one write in flight at a time through the runtime's
 *   non-blocking output; lines wait in the queue meanwhile, and are dropped once it is full.
 *
 * @module
 */

import type {
  Connection,
  ConnectionHandler,
  DatagramHandler,
  DatagramSocket,
  Runtime,
  TimerHandle,
} from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import type { Logger } from "../core/logger.ts";
import type { LogTargetSpec } from "./log_target.ts";
import { octetCount, SyslogFramer } from "./syslog_format.ts";

/** Lines waiting for the next write, per target, and their characters (long lines fill bytes first). */
export const LOG_QUEUE_MAX_LINES = 4_096;
export const LOG_QUEUE_MAX_CHARS = 1_048_576;
/** Datagrams handed to the runtime and not yet confirmed sent. */
export const LOG_DATAGRAMS_IN_FLIGHT_MAX = 1_024;
/** Bytes a TCP target may leave unsent before lines are dropped (a receiver that stopped reading). */
export const LOG_STREAM_BUFFER_MAX_BYTES = 262_144;
/** At most one drop report per target in this time. */
export const LOG_DROP_REPORT_INTERVAL_MS = 10_000;
/** A TCP target is dialled again after this delay, doubled after each failure up to the maximum. */
export const LOG_RECONNECT_DELAY_MS = 1_000;
export const LOG_RECONNECT_DELAY_MAX_MS = 30_000;
/** A TCP connection attempt that has not succeeded in this time is abandoned. */
export const LOG_CONNECT_TIMEOUT_MS = 5_000;
/** How long `close` waits for the last lines to leave. */
export const LOG_CLOSE_WAIT_MS = 1_000;

/** What a sink needs from the process. */
export interface LogSinkServices {
  readonly runtime: Runtime;
  /** Where drop reports go: the operator's console, never a log target (a report could not pass either). */
  readonly reporter: Logger;
}

const encoder = new TextEncoder();

/** One log target: lines in, delivery and drop accounting inside. */
export abstract class LogSink {
  readonly spec: LogTargetSpec;
  /** Lines less urgent than this severity are not sent. */
  readonly level: number;
  /** Lines handed to the target (UDP: confirmed sent; streams: written). */
  sent = 0;
  /** Lines lost: queue full, target down or not reading, send failed. */
  dropped = 0;
  protected readonly runtime: Runtime;
  protected queue: string[] = [];
  /** Characters in `queue`. */
  private queuedChars = 0;
  protected closed = false;
  private readonly framer: SyslogFramer;
  private readonly reporter: Logger;
  private flushTimer: TimerHandle | null = null;
  private readonly flushNow: () => void;
  private unreported = 0;
  private lastReason = "";
  private lastReportAt = Number.NEGATIVE_INFINITY;
  private reportTimer: TimerHandle | null = null;

  constructor(spec: LogTargetSpec, framer: SyslogFramer, services: LogSinkServices) {
    this.spec = spec;
    this.level = spec.level;
    this.framer = framer;
    this.runtime = services.runtime;
    this.reporter = services.reporter;
    this.flushNow = () => {
      this.flushTimer = null;
      if (this.queue.length > 0) this.flush();
    };
  }

  /** Frames `message` at `severity` (0-7) and queues it; never blocks, never throws for delivery. */
  push(severity: number, message: string): void {
    if (severity > this.level || this.closed) return;
    if (this.queue.length >= LOG_QUEUE_MAX_LINES) {
      this.drop(1, "queue full");
      return;
    }
    const line = this.framer.frame(severity, message, this.runtime.wallClock());
    if (this.queuedChars + line.length > LOG_QUEUE_MAX_CHARS) {
      this.drop(1, "queue full");
      return;
    }
    this.queue.push(line);
    this.queuedChars += line.length;
    if (this.flushTimer === null) this.flushTimer = this.runtime.setTimer(0, this.flushNow, true);
  }

  /** Connects or opens what the target needs. Rejects when it cannot (DNS was resolved before). */
  abstract open(): Promise<void>;

  /** Sends the queued lines, then lets go of the target, waiting at most LOG_CLOSE_WAIT_MS. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer !== null) {
      this.runtime.clearTimer(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.queue.length > 0) this.flush();
    this.closed = true;
    await this.settle(LOG_CLOSE_WAIT_MS);
    this.release();
    if (this.reportTimer !== null) {
      this.runtime.clearTimer(this.reportTimer);
      this.reportTimer = null;
    }
    if (this.unreported > 0) this.report();
  }

  /** Writes the queue (or part of it) to the target. */
  protected abstract flush(): void;

  /** Resolves once nothing is left to send, or after `ms`. */
  protected abstract settle(ms: number): Promise<void>;

  /** Closes sockets and timers. */
  protected abstract release(): void;

  /** Takes the whole queue for one write. */
  protected takeQueue(): string[] {
    const lines = this.queue;
    this.queue = [];
    this.queuedChars = 0;
    return lines;
  }

  /** Counts lost lines, and arranges for the operator to hear of them. */
  protected drop(count: number, reason: string): void {
    this.dropped += count;
    this.unreported += count;
    this.lastReason = reason;
    if (this.reportTimer !== null || this.closed) return;
    const delay = Math.max(0, this.lastReportAt + LOG_DROP_REPORT_INTERVAL_MS - this.runtime.now());
    this.reportTimer = this.runtime.setTimer(delay, () => {
      this.reportTimer = null;
      this.report();
    }, true);
  }

  private report(): void {
    const count = this.unreported;
    this.unreported = 0;
    this.lastReportAt = this.runtime.now();
    this.reporter.warn(
      `Log target "${this.spec.target}" dropped ${count} line${count === 1 ? "" : "s"} (${this.dropped} in all): ${this.lastReason}`,
    );
  }

  /** Polls `done` every few ms up to `ms`: closing is rare and must not hang on a dead target. */
  protected waitUntil(done: () => boolean, ms: number): Promise<void> {
    if (done()) return Promise.resolve();
    const deadline = this.runtime.now() + ms;
    return new Promise((resolve) => {
      const poll = () => {
        if (done() || this.runtime.now() >= deadline) resolve();
        else this.runtime.setTimer(5, poll, true);
      };
      this.runtime.setTimer(5, poll, true);
    });
  }
}

/** One datagram per line to a connected UDP socket. */
export class UdpLogSink extends LogSink implements DatagramHandler {
  private readonly address: string;
  private socket: DatagramSocket | null = null;
  private inFlight = 0;

  /** `address`: the target's host, resolved to an IP address. */
  constructor(spec: LogTargetSpec, framer: SyslogFramer, services: LogSinkServices, address: string) {
    super(spec, framer, services);
    this.address = address;
  }

  async open(): Promise<void> {
    this.socket = await this.runtime.connectDatagram({ host: this.address, port: this.spec.port }, this);
  }

  protected flush(): void {
    const lines = this.takeQueue();
    const socket = this.socket;
    if (socket === null) {
      this.drop(lines.length, "socket not open");
      return;
    }
    let sent = 0;
    const room = LOG_DATAGRAMS_IN_FLIGHT_MAX - this.inFlight;
    const count = lines.length < room ? lines.length : room;
    for (; sent < count; sent++) socket.send(encoder.encode(lines[sent]!));
    this.inFlight += sent;
    if (sent < lines.length) this.drop(lines.length - sent, "too many datagrams waiting to be sent");
  }

  onSent(error: NetError | undefined): void {
    this.inFlight--;
    if (error === undefined) this.sent++;
    else this.drop(1, error.message);
  }

  onError(error: NetError): void {
    // The kernel reports that an earlier datagram found no receiver: one line lost after all.
    this.drop(1, error.message);
  }

  protected settle(ms: number): Promise<void> {
    return this.waitUntil(() => this.inFlight <= 0, ms);
  }

  protected release(): void {
    this.socket?.close();
    this.socket = null;
  }
}

/** RFC 6587 octet-counted frames over one TCP connection, made again after a loss. */
export class TcpLogSink extends LogSink implements ConnectionHandler {
  private readonly address: string;
  private connection: Connection | null = null;
  private connected = false;
  private lastError = "not connected yet";
  private reconnectDelay = LOG_RECONNECT_DELAY_MS;
  private timer: TimerHandle | null = null;

  /** `address`: the target's host, resolved to an IP address. */
  constructor(spec: LogTargetSpec, framer: SyslogFramer, services: LogSinkServices, address: string) {
    super(spec, framer, services);
    this.address = address;
  }

  /** Starts dialling; a syslog server that is down at start must not keep the proxy from starting. */
  open(): Promise<void> {
    this.dial();
    return Promise.resolve();
  }

  protected flush(): void {
    const lines = this.takeQueue();
    const connection = this.connection;
    if (!this.connected || connection === null) {
      this.drop(lines.length, this.lastError);
      return;
    }
    if (connection.bufferedAmount > LOG_STREAM_BUFFER_MAX_BYTES) {
      this.drop(lines.length, "the receiver is not reading");
      return;
    }
    let frames = "";
    for (let i = 0; i < lines.length; i++) frames += octetCount(lines[i]!);
    connection.write(encoder.encode(frames));
    this.sent += lines.length;
  }

  private dial(): void {
    if (this.closed) return;
    this.connected = false;
    this.connection = this.runtime.connect({ host: this.address, port: this.spec.port, noDelay: false }, this);
    this.timer = this.runtime.setTimer(LOG_CONNECT_TIMEOUT_MS, () => {
      this.timer = null;
      this.lastError = `connection timed out after ${LOG_CONNECT_TIMEOUT_MS} ms`;
      this.connection?.destroy();
    }, true);
  }

  onOpen(_conn: Connection): void {
    this.clearTimer();
    this.connected = true;
    this.reconnectDelay = LOG_RECONNECT_DELAY_MS;
  }

  onData(): void {
    // A syslog receiver has nothing to say; whatever it sends is ignored.
  }

  onDrain(): void {}

  onEnd(conn: Connection): void {
    // The receiver closed its side: it will read no more.
    this.lastError = "the receiver closed the connection";
    conn.destroy();
  }

  onClose(_conn: Connection, error: NetError | undefined): void {
    this.clearTimer();
    this.connection = null;
    this.connected = false;
    if (error !== undefined) this.lastError = error.message;
    if (this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(delay * 2, LOG_RECONNECT_DELAY_MAX_MS);
    this.timer = this.runtime.setTimer(delay, () => {
      this.timer = null;
      this.dial();
    }, true);
  }

  protected settle(ms: number): Promise<void> {
    return this.waitUntil(() => this.connection === null || this.connection.bufferedAmount === 0, ms);
  }

  protected release(): void {
    this.clearTimer();
    const connection = this.connection;
    this.connection = null;
    this.connected = false;
    connection?.end();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.runtime.clearTimer(this.timer);
      this.timer = null;
    }
  }
}

/** Newline-terminated lines on standard output or error, one non-blocking write at a time. */
export class OutputLogSink extends LogSink {
  private writing = 0;
  private readonly written: (error: Error | undefined) => void;

  constructor(spec: LogTargetSpec, framer: SyslogFramer, services: LogSinkServices) {
    super(spec, framer, services);
    this.written = (error) => {
      const lines = this.writing;
      this.writing = 0;
      if (error === undefined) this.sent += lines;
      else this.drop(lines, error.message);
      if (this.queue.length > 0) this.flush();
    };
  }

  open(): Promise<void> {
    return Promise.resolve();
  }

  protected flush(): void {
    // A write in flight: the lines wait in the queue (bounded by push) and leave when it is done.
    if (this.writing > 0) return;
    const lines = this.takeQueue();
    this.writing = lines.length;
    this.runtime.writeOutput(
      this.spec.transport === "stderr" ? "stderr" : "stdout",
      encoder.encode(lines.join("\n") + "\n"),
      this.written,
    );
  }

  protected settle(ms: number): Promise<void> {
    return this.waitUntil(() => this.writing === 0 && this.queue.length === 0, ms);
  }

  protected release(): void {}
}

/**
 * The sink for `spec`. `address` is its host resolved to an IP address ("" for stdout/stderr);
 * `hostname` the machine's, printed in rfc3164 and rfc5424 headers when the target names none.
 */
export function createLogSink(spec: LogTargetSpec, address: string, services: LogSinkServices, hostname: string): LogSink {
  const framer = new SyslogFramer({
    format: spec.format,
    facility: spec.facility,
    tag: spec.tag,
    pid: spec.pid ? services.runtime.pid : null,
    // RFC 3164 4.1.2 and RFC 5424 6.2.4 ask for the name the machine knows itself by. HAProxy
    // prints "localhost" and "-" when `log-send-hostname` is absent; the real name serves the
    // receiver better. The "local" header has no host name field.
    hostname: spec.hostname ?? (spec.format === "local" ? "" : hostname),
    maxLength: spec.maxLength,
  });
  switch (spec.transport) {
    case "udp":
      return new UdpLogSink(spec, framer, services, address);
    case "tcp":
      return new TcpLogSink(spec, framer, services, address);
    default:
      return new OutputLogSink(spec, framer, services);
  }
}
