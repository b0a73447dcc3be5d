/**
 * Log delivery on a manual clock: batching, the bounds on every queue, drop counting and reporting,
 * TCP reconnection, and the traffic log's filters. No socket is opened: the runtime is a fake that
 * records what the sinks ask of it.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  DatagramHandler,
  DatagramOptions,
  DatagramSocket,
  OutputStreamName,
  Runtime,
} from "../src/runtime/types.ts";
import { NetError } from "../src/runtime/net_error.ts";
import type { Logger } from "../src/core/logger.ts";
import {
  createLogSink,
  LOG_DATAGRAMS_IN_FLIGHT_MAX,
  LOG_DROP_REPORT_INTERVAL_MS,
  LOG_QUEUE_MAX_CHARS,
  LOG_QUEUE_MAX_LINES,
  LOG_RECONNECT_DELAY_MS,
  LOG_STREAM_BUFFER_MAX_BYTES,
} from "../src/log/sink.ts";
import type { LogSink } from "../src/log/sink.ts";
import type { LogTargetSpec } from "../src/log/log_target.ts";
import { TrafficLog } from "../src/log/traffic_log.ts";
import { createLogRecord } from "../src/log/record.ts";
import { ManualClock } from "./_runtime_helpers.ts";

const decoder = new TextDecoder();

class FakeDatagramSocket implements DatagramSocket {
  readonly sent: string[] = [];
  closed = false;
  readonly handler: DatagramHandler;
  readonly local = { address: "127.0.0.1", port: 40000, family: 4 as const };
  readonly remote = { address: "127.0.0.1", port: 514, family: 4 as const };
  constructor(handler: DatagramHandler) {
    this.handler = handler;
  }
  send(bytes: Uint8Array): void {
    this.sent.push(decoder.decode(bytes));
  }
  close(): void {
    this.closed = true;
  }
}

class FakeConnection implements Partial<Connection> {
  readonly writes: string[] = [];
  bufferedAmount = 0;
  ended = false;
  destroyed = false;
  handler: ConnectionHandler;
  constructor(handler: ConnectionHandler) {
    this.handler = handler;
  }
  write(chunk: Uint8Array): boolean {
    this.writes.push(decoder.decode(chunk));
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** The parts of a Runtime the sinks use, on a manual clock. */
class FakeRuntime {
  readonly clock = new ClockWithWall();
  readonly pid = 4242;
  readonly datagrams: FakeDatagramSocket[] = [];
  readonly connections: FakeConnection[] = [];
  readonly outputs: Array<{ stream: OutputStreamName; text: string; done: (error: Error | undefined) => void }> = [];

  now(): number {
    return this.clock.now();
  }
  wallClock(): number {
    // Noon local time: the rfc3164 stamps below read "Nov 24 12:00:00" in any time zone.
    return new Date(2026, 10, 24, 12, 0, 0).getTime() + this.clock.now();
  }
  setTimer(ms: number, callback: () => void, unref: boolean): unknown {
    return this.clock.setTimer(ms, callback, unref);
  }
  clearTimer(handle: unknown): void {
    this.clock.clearTimer(handle);
  }
  connectDatagram(_options: DatagramOptions, handler: DatagramHandler): Promise<DatagramSocket> {
    const socket = new FakeDatagramSocket(handler);
    this.datagrams.push(socket);
    return Promise.resolve(socket);
  }
  connect(_options: ConnectOptions, handler: ConnectionHandler): Connection {
    const connection = new FakeConnection(handler);
    this.connections.push(connection);
    return connection as unknown as Connection;
  }
  writeOutput(stream: OutputStreamName, bytes: Uint8Array, done: (error: Error | undefined) => void): void {
    this.outputs.push({ stream, text: decoder.decode(bytes), done });
  }
}

class ClockWithWall extends ManualClock {}

class RecordingReporter implements Logger {
  readonly warnings: string[] = [];
  emerg(): void {}
  alert(): void {}
  error(): void {}
  warn(message: string): void {
    this.warnings.push(message);
  }
  notice(): void {}
  info(): void {}
  debug(): void {}
}

function spec(overrides: Partial<LogTargetSpec>): LogTargetSpec {
  return {
    target: "stdout",
    transport: "stdout",
    host: "",
    port: 0,
    format: "raw",
    facility: 16,
    level: 6,
    tag: "proxy",
    hostname: null,
    pid: true,
    maxLength: 1024,
    ...overrides,
  };
}

async function sinkFor(overrides: Partial<LogTargetSpec>): Promise<{ sink: LogSink; runtime: FakeRuntime; reporter: RecordingReporter }> {
  const runtime = new FakeRuntime();
  const reporter = new RecordingReporter();
  const sink = createLogSink(spec(overrides), "127.0.0.1", { runtime: runtime as unknown as Runtime, reporter }, "box");
  await sink.open();
  return { sink, runtime, reporter };
}

test("stdout: lines pushed in one turn leave in one write; later lines wait for it, beyond the bound they are dropped", async () => {
  const { sink, runtime, reporter } = await sinkFor({});
  sink.push(6, "one");
  sink.push(6, "two");
  sink.push(7, "debug is above the level");
  assert.equal(runtime.outputs.length, 0, "nothing is written where the line is produced");
  runtime.clock.advance(0);
  assert.deepEqual(runtime.outputs.map((output) => output.text), ["one\ntwo\n"]);
  assert.equal(runtime.outputs[0]!.stream, "stdout");
  // The write is still in flight: lines queue up to the bound, then are dropped.
  for (let i = 0; i < LOG_QUEUE_MAX_LINES + 10; i++) sink.push(6, `line ${i}`);
  runtime.clock.advance(0);
  assert.equal(runtime.outputs.length, 1, "one write in flight at a time");
  assert.equal(sink.dropped, 10);
  assert.deepEqual(reporter.warnings, ['Log target "stdout" dropped 10 lines (10 in all): queue full']);
  runtime.outputs[0]!.done(undefined);
  assert.equal(sink.sent, 2);
  assert.equal(runtime.outputs.length, 2, "the queue leaves as soon as the write is done");
  assert.equal(runtime.outputs[1]!.text.split("\n").length - 1, LOG_QUEUE_MAX_LINES);
  runtime.outputs[1]!.done(new Error("broken pipe"));
  assert.equal(sink.dropped, 10 + LOG_QUEUE_MAX_LINES);
  // The second report waits for the interval after the first.
  runtime.clock.advance(LOG_DROP_REPORT_INTERVAL_MS - 1);
  assert.equal(reporter.warnings.length, 1);
  runtime.clock.advance(1);
  assert.equal(reporter.warnings[1], `Log target "stdout" dropped ${LOG_QUEUE_MAX_LINES} lines (${10 + LOG_QUEUE_MAX_LINES} in all): broken pipe`);
});

test("the queue is bounded in characters too: long lines cannot pile up megabytes", async () => {
  const { sink, runtime } = await sinkFor({ transport: "stderr", target: "stderr", maxLength: 65_535 });
  const line = "x".repeat(60_000);
  const fit = Math.floor(LOG_QUEUE_MAX_CHARS / line.length);
  for (let i = 0; i < fit + 5; i++) sink.push(6, line);
  assert.equal(sink.dropped, 5);
  runtime.clock.advance(0);
  assert.equal(runtime.outputs[0]!.stream, "stderr");
  assert.equal(runtime.outputs[0]!.text.length, fit * (line.length + 1));
});

test("udp: one datagram per framed line, a bound on datagrams in flight, failures counted", async () => {
  const { sink, runtime, reporter } = await sinkFor({ transport: "udp", target: "udp://127.0.0.1", host: "127.0.0.1", port: 514, format: "local" });
  const socket = runtime.datagrams[0]!;
  sink.push(6, "hello");
  sink.push(3, "failed");
  runtime.clock.advance(0);
  assert.deepEqual(socket.sent, ["<134>Nov 24 12:00:00 proxy[4242]: hello", "<131>Nov 24 12:00:00 proxy[4242]: failed"]);
  socket.handler.onSent(undefined);
  socket.handler.onSent(new NetError("ECONNREFUSED", 'Sending to "127.0.0.1:514": connection refused'));
  assert.equal(sink.sent, 1);
  assert.equal(sink.dropped, 1);
  // The kernel reporting an earlier datagram unreachable: one more line lost.
  socket.handler.onError(new NetError("ECONNREFUSED", "connection refused"));
  assert.equal(sink.dropped, 2);
  runtime.clock.advance(0);
  assert.match(reporter.warnings[0]!, /^Log target "udp:\/\/127\.0\.0\.1" dropped 2 lines \(2 in all\): connection refused$/);
  // Nothing confirmed: at most LOG_DATAGRAMS_IN_FLIGHT_MAX datagrams wait in the runtime.
  for (let i = 0; i < LOG_DATAGRAMS_IN_FLIGHT_MAX + 3; i++) sink.push(6, `n${i}`);
  runtime.clock.advance(0);
  assert.equal(socket.sent.length, 2 + LOG_DATAGRAMS_IN_FLIGHT_MAX);
  assert.equal(sink.dropped, 5);
  const closing = sink.close();
  for (let i = 0; i < LOG_DATAGRAMS_IN_FLIGHT_MAX; i++) socket.handler.onSent(undefined);
  runtime.clock.advance(10);
  await closing;
  assert.ok(socket.closed);
  assert.match(reporter.warnings.at(-1)!, /dropped 3 lines \(5 in all\): too many datagrams waiting to be sent$/);
});

test("rfc3164 and rfc5424 headers carry the machine's host name unless the target names one; local never does", async () => {
  const lines: string[] = [];
  for (const [format, hostname] of [["rfc3164", null], ["rfc3164", "edge1"], ["rfc5424", null], ["local", null]] as const) {
    const { sink, runtime } = await sinkFor({ transport: "udp", target: "udp://127.0.0.1", host: "127.0.0.1", port: 514, format, hostname });
    sink.push(6, "m");
    runtime.clock.advance(0);
    lines.push(runtime.datagrams[0]!.sent[0]!);
  }
  const [rfc3164, named, rfc5424, local] = lines;
  assert.equal(rfc3164, "<134>Nov 24 12:00:00 box proxy[4242]: m");
  assert.equal(named, "<134>Nov 24 12:00:00 edge1 proxy[4242]: m");
  assert.match(rfc5424!, /^<134>1 \S+ box proxy 4242 - - m$/);
  assert.equal(local, "<134>Nov 24 12:00:00 proxy[4242]: m");
});

test("tcp: octet-counted frames in one write; lines dropped while down or while the receiver does not read; redialled with backoff", async () => {
  const { sink, runtime, reporter } = await sinkFor({ transport: "tcp", target: "tcp://127.0.0.1:601", host: "127.0.0.1", port: 601, format: "local" });
  const first = runtime.connections[0]!;
  sink.push(6, "early");
  runtime.clock.advance(0);
  assert.equal(sink.dropped, 1, "not connected yet");
  assert.match(reporter.warnings[0]!, /not connected yet$/);
  first.handler.onOpen(first as unknown as Connection);
  sink.push(6, "a");
  sink.push(6, "é");
  runtime.clock.advance(0);
  assert.deepEqual(first.writes, ["35 <134>Nov 24 12:00:00 proxy[4242]: a36 <134>Nov 24 12:00:00 proxy[4242]: é"]);
  assert.equal(sink.sent, 2);
  first.bufferedAmount = LOG_STREAM_BUFFER_MAX_BYTES + 1;
  sink.push(6, "stuck");
  runtime.clock.advance(0);
  assert.equal(sink.dropped, 2);
  // The connection is lost: redialled after 1 s, then 2 s after another failure.
  first.handler.onClose(first as unknown as Connection, new NetError("ECONNRESET", "connection reset by peer"));
  runtime.clock.advance(LOG_RECONNECT_DELAY_MS - 1);
  assert.equal(runtime.connections.length, 1);
  runtime.clock.advance(1);
  assert.equal(runtime.connections.length, 2);
  const second = runtime.connections[1]!;
  second.handler.onClose(second as unknown as Connection, new NetError("ECONNREFUSED", "connection refused"));
  runtime.clock.advance(2 * LOG_RECONNECT_DELAY_MS - 1);
  assert.equal(runtime.connections.length, 2);
  runtime.clock.advance(1);
  assert.equal(runtime.connections.length, 3);
  sink.push(6, "while down");
  runtime.clock.advance(LOG_DROP_REPORT_INTERVAL_MS);
  assert.match(reporter.warnings.at(-1)!, /dropped 2 lines \(3 in all\): connection refused$/);
});

test("the traffic log leaves out null sessions under dontlognull and raises failures to err under log-separate-errors", () => {
  const pushed: Array<[number, string]> = [];
  const sink = { push: (severity: number, line: string) => pushed.push([severity, line]) } as unknown as LogSink;
  const log = new TrafficLog((record) => `${record.status} ${record.terminationState}`, [sink], {
    dontLogNull: true,
    separateErrors: true,
  });
  const record = createLogRecord();
  log.write(record);
  assert.equal(pushed.length, 0, "nothing came from the client");
  record.bytesUploaded = 10;
  record.status = 200;
  log.write(record);
  record.status = 503;
  log.write(record);
  record.status = 200;
  record.terminationState = "CD--";
  log.write(record);
  record.terminationState = "----";
  record.retries = 1;
  log.write(record);
  assert.deepEqual(pushed.map(([severity]) => severity), [6, 3, 3, 3]);
});
