/**
 * Syslog receivers for the logging tests: a UDP one (one message per datagram) and a TCP one
 * (RFC 6587 octet-counted frames), with parsers for RFC 5424 and RFC 3164 headers and for
 * HAProxy's httplog and tcplog lines.
 */

import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { sleep } from "./_cli_helpers.ts";

/** Collected messages, in arrival order. */
abstract class Receiver {
  readonly messages: string[] = [];
  abstract readonly port: number;

  /** Waits for a message matching `pattern` (after the first `from` messages); fails with what arrived. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.messages.slice(from).find((message) => pattern.test(message));
      if (found !== undefined) return found;
      await sleep(10);
    }
    throw new Error(`Expected a syslog message matching ${pattern}; got:\n${this.messages.join("\n")}`);
  }
}

/** A UDP syslog server on 127.0.0.1. */
export class UdpSyslogReceiver extends Receiver {
  private readonly socket: dgram.Socket;
  port = 0;

  private constructor(socket: dgram.Socket) {
    super();
    this.socket = socket;
    socket.on("message", (message: Buffer) => this.messages.push(message.toString("utf8")));
  }

  static async start(): Promise<UdpSyslogReceiver> {
    const socket = dgram.createSocket("udp4");
    const receiver = new UdpSyslogReceiver(socket);
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    receiver.port = socket.address().port;
    return receiver;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A TCP syslog server on 127.0.0.1 that checks every frame's octet count. */
export class TcpSyslogReceiver extends Receiver {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Frames whose announced length was not their byte length. */
  readonly badFrames: string[] = [];
  port = 0;

  private constructor() {
    super();
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      let pending = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const space = pending.indexOf(0x20);
          if (space < 0) return;
          const header = pending.subarray(0, space).toString("latin1");
          if (!/^[1-9]\d*$/.test(header)) {
            this.badFrames.push(pending.toString("utf8"));
            socket.destroy();
            return;
          }
          const length = Number(header);
          if (pending.length < space + 1 + length) return;
          this.messages.push(pending.subarray(space + 1, space + 1 + length).toString("utf8"));
          pending = pending.subarray(space + 1 + length);
        }
      });
      socket.on("error", () => {});
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<TcpSyslogReceiver> {
    const receiver = new TcpSyslogReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
    receiver.port = (receiver.server.address() as net.AddressInfo).port;
    return receiver;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** An RFC 5424 message's parts. */
export interface Rfc5424Message {
  facility: number;
  severity: number;
  timestamp: Date;
  hostname: string;
  appName: string;
  procId: string;
  message: string;
}

/** Parses an RFC 5424 message (PRI, VERSION 1, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, "-" MSGID and SD). */
export function parseRfc5424(text: string): Rfc5424Message {
  const match =
    /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|[+-]\d\d:\d\d)) (\S{1,255}) (\S{1,48}) (\S{1,128}) - - (.*)$/s
      .exec(text);
  assert.ok(match !== null, `Not an RFC 5424 message: ${JSON.stringify(text)}`);
  const priority = Number(match[1]);
  const timestamp = new Date(match[2]!);
  assert.ok(!Number.isNaN(timestamp.getTime()), `Bad RFC 5424 timestamp in ${text}`);
  return {
    facility: priority >> 3,
    severity: priority & 7,
    timestamp,
    hostname: match[3]!,
    appName: match[4]!,
    procId: match[5]!,
    message: match[6]!,
  };
}

/** An RFC 3164 message's parts. */
export interface Rfc3164Message {
  facility: number;
  severity: number;
  /** "Mmm dd hh:mm:ss" as sent. */
  timestamp: string;
  /** null when the sender left the HOSTNAME out (HAProxy's default). */
  hostname: string | null;
  tag: string;
  pid: number | null;
  message: string;
}

/** Parses an RFC 3164 message: PRI, "Mmm dd hh:mm:ss", optional HOSTNAME, TAG[PID]: MSG. */
export function parseRfc3164(text: string): Rfc3164Message {
  const match =
    /^<(\d{1,3})>((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d) (?:(\S+) )?([!-9;-Z^-~]{1,32}?)(?:\[(\d+)\])?: (.*)$/s
      .exec(text);
  assert.ok(match !== null, `Not an RFC 3164 message: ${JSON.stringify(text)}`);
  const priority = Number(match[1]);
  return {
    facility: priority >> 3,
    severity: priority & 7,
    timestamp: match[2]!,
    hostname: match[3] ?? null,
    tag: match[4]!,
    pid: match[5] === undefined ? null : Number(match[5]),
    message: match[6]!,
  };
}

/** HAProxy's httplog fields, by name. */
export interface HttplogLine {
  clientIp: string;
  clientPort: number;
  date: string;
  frontend: string;
  backend: string;
  server: string;
  TR: number;
  Tw: number;
  Tc: number;
  Tr: number;
  Ta: number;
  status: number;
  bytes: number;
  capturedRequestCookie: string;
  capturedResponseCookie: string;
  terminationState: string;
  actconn: number;
  feconn: number;
  beconn: number;
  srvconn: number;
  retries: string;
  srvQueue: number;
  backendQueue: number;
  request: string;
}

const DATE = String.raw`(\d\d/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d\d:\d\d:\d\d\.\d{3})`;
const HTTPLOG = new RegExp(
  String.raw`^(\S+):(\d+) \[` + DATE + String.raw`\] (\S+) (\S+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+) (-?\d+) (\d+) (\S+) (\S+) (\S{4}) (\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) (\d+)/(\d+) "(.*)"$`,
);
const TCPLOG = new RegExp(
  String.raw`^(\S+):(\d+) \[` + DATE + String.raw`\] (\S+) (\S+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+) (\d+) (\S\S) (\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) (\d+)/(\d+)$`,
);

/** Parses an httplog line (no captured headers). */
export function parseHttplog(line: string): HttplogLine {
  const m = HTTPLOG.exec(line);
  assert.ok(m !== null, `Not an httplog line: ${JSON.stringify(line)}`);
  return {
    clientIp: m[1]!,
    clientPort: Number(m[2]),
    date: m[3]!,
    frontend: m[4]!,
    backend: m[5]!,
    server: m[6]!,
    TR: Number(m[7]),
    Tw: Number(m[8]),
    Tc: Number(m[9]),
    Tr: Number(m[10]),
    Ta: Number(m[11]),
    status: Number(m[12]),
    bytes: Number(m[13]),
    capturedRequestCookie: m[14]!,
    capturedResponseCookie: m[15]!,
    terminationState: m[16]!,
    actconn: Number(m[17]),
    feconn: Number(m[18]),
    beconn: Number(m[19]),
    srvconn: Number(m[20]),
    retries: m[21]!,
    srvQueue: Number(m[22]),
    backendQueue: Number(m[23]),
    request: m[24]!,
  };
}

/** HAProxy's tcplog fields, by name. */
export interface TcplogLine {
  clientIp: string;
  clientPort: number;
  date: string;
  frontend: string;
  backend: string;
  server: string;
  Tw: number;
  Tc: number;
  Tt: number;
  bytes: number;
  terminationState: string;
  actconn: number;
  feconn: number;
  beconn: number;
  srvconn: number;
  retries: string;
  srvQueue: number;
  backendQueue: number;
}

/** Parses a tcplog line. */
export function parseTcplog(line: string): TcplogLine {
  const m = TCPLOG.exec(line);
  assert.ok(m !== null, `Not a tcplog line: ${JSON.stringify(line)}`);
  return {
    clientIp: m[1]!,
    clientPort: Number(m[2]),
    date: m[3]!,
    frontend: m[4]!,
    backend: m[5]!,
    server: m[6]!,
    Tw: Number(m[7]),
    Tc: Number(m[8]),
    Tt: Number(m[9]),
    bytes: Number(m[10]),
    terminationState: m[11]!,
    actconn: Number(m[12]),
    feconn: Number(m[13]),
    beconn: Number(m[14]),
    srvconn: Number(m[15]),
    retries: m[16]!,
    srvQueue: Number(m[17]),
    backendQueue: Number(m[18]),
  };
}
