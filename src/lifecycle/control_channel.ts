/**
 * The control channel between a -W master and each of its workers: one loopback TCP connection
 * carrying newline-delimited JSON frames.
 *
 * Why TCP on 127.0.0.1 and not a pipe or a unix socket: every runtime's contract already has
 * `listen` and `connect`, a jailed Deno worker may use the network and nothing else, and a pipe to
 * a child is not portable across the three runtimes' spawn APIs. The master listens on port 0 and
 * gives each worker the address and a random token of its own (`PROXY_MASTER`); anyone else on the
 * machine can connect, but without the token gets nothing and is cut off.
 *
 * Frames are bounded (a frame over the limit, bytes that are not UTF-8, a line that is not a JSON
 * object with a string `type`, or a frame of an unexpected type close the channel): the master
 * trusts nothing from the port, and the worker nothing it did not ask for.
 *
 * The conversation:
 * ```
 * worker → master  {"type":"hello","token":"…","pid":1234}
 * master → worker  {"type":"setup","worker":2,"generation":1,"setup":{…}}   (config_handover.ts)
 * worker → master  {"type":"ready"}  or  {"type":"failed","message":"Cannot bind …"}
 * master → worker  {"type":"finish"}   (later: finish the sessions and exit; a reload, or SIGUSR1)
 * master → worker  {"type":"command","id":7,"words":["show","servers","state"],"level":"admin"}
 * worker → master  {"type":"answer","id":7,"answer":{"kind":"text","text":"1\n# be_id ..."}}
 * worker → master  {"type":"stats","snapshot":{…}}              (every second, when stats are shown)
 * master → worker  {"type":"peer-stats","worker":2,"snapshot":{…}}
 * ```
 * `command` and `answer` carry the runtime API: the master listens on the `stats-socket` and asks
 * each worker (master_runtime_api.ts); a worker's answer and stats frames may be larger than its
 * other frames (`MAX_WORKER_ANSWER_FRAME_BYTES`, allowed once the worker has said hello). `stats`
 * and `peer-stats` let each worker's stats pages show the whole proxy (src/engine/peer_stats.ts):
 * the master passes a worker's snapshot to the other workers of its generation.
 * The channel stays open as long as both live: when it closes, the master is gone and the worker
 * finishes its sessions and exits, as HAProxy's workers do.
 *
 * @module
 */

import type { Connection, ConnectionHandler } from "../runtime/types.ts";
import type { NetError } from "../runtime/net_error.ts";
import { LifecycleError } from "./errors.ts";
import { ACCESS_LEVELS } from "../control/types.ts";
import type { AccessLevel, Answer } from "../control/types.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";

/** Largest frame a worker may send: hello, ready, failed (a failure message is cut to fit). */
export const MAX_WORKER_FRAME_BYTES = 64 * 1024;
/** Largest frame a worker may send once it said hello: a runtime API answer (`show stat` of a large configuration). */
export const MAX_WORKER_ANSWER_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest frame the master may send: the setup frame carries every config file and errorfile text. */
export const MAX_MASTER_FRAME_BYTES = 32 * 1024 * 1024;
/** Longest failure message a worker sends; the rest is cut with a marker. */
export const MAX_FAILURE_MESSAGE_CHARS = 16 * 1024;

/** A decoded frame: a JSON object with a string `type`. */
export type Frame = { readonly type: string } & Readonly<Record<string, unknown>>;

/** A worker introducing itself with the token from its `PROXY_MASTER` variable. */
export interface HelloFrame {
  readonly type: "hello";
  readonly token: string;
  readonly pid: number;
}

/** Every listener is bound, privileges are dropped: the worker serves. */
export interface ReadyFrame {
  readonly type: "ready";
}

/** The worker could not start; `message` says why (the master prints it). */
export interface FailedFrame {
  readonly type: "failed";
  readonly message: string;
}

/** The answer to a runtime API command the master sent (`id` is the command's). */
export interface AnswerFrame {
  readonly type: "answer";
  readonly id: number;
  readonly answer: Answer;
}

/** What a worker sends. */
/** A worker's counters, for the other workers' stats pages (src/engine/peer_stats.ts). */
export interface StatsFrame {
  readonly type: "stats";
  readonly snapshot: StatsSnapshot;
}

/** Another worker's counters, passed on by the master. */
export interface PeerStatsFrame {
  readonly type: "peer-stats";
  readonly worker: number;
  readonly snapshot: StatsSnapshot;
}

export type WorkerFrame = HelloFrame | ReadyFrame | FailedFrame | AnswerFrame | StatsFrame;

const NEWLINE = 0x0a;
const ENCODER = new TextEncoder();

/** One frame as bytes: compact JSON and a newline (JSON escapes every newline inside strings). */
export function encodeFrame(frame: Frame): Uint8Array {
  return ENCODER.encode(JSON.stringify(frame) + "\n");
}

function protocolError(message: string): LifecycleError {
  return new LifecycleError("LIFECYCLE_WORKER", message);
}

/** Splits a byte stream into frames, holding at most `maxFrameBytes` of an unfinished line. */
export class FrameDecoder {
  /** Raised once the peer is trusted (`ControlChannel.allowFrames`). */
  maxFrameBytes: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  // fatal: bytes that are not UTF-8 are a broken peer, not text to patch up with U+FFFD.
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes of an unfinished frame held so far. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Takes the next bytes; returns the frames they complete. Throws a LifecycleError on a bad frame. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end < 0) {
        this.hold(chunk.subarray(start));
        break;
      }
      const piece = chunk.subarray(start, end);
      this.checkSize(piece.length);
      frames.push(this.parse(this.takeLine(piece)));
      start = end + 1;
    }
    return frames;
  }

  private hold(piece: Uint8Array): void {
    this.checkSize(piece.length);
    // The chunk belongs to us (runtime contract), but copy anyway: a pooled buffer must not be kept.
    this.pending.push(piece.slice());
    this.pendingBytes += piece.length;
  }

  private checkSize(more: number): void {
    if (this.pendingBytes + more > this.maxFrameBytes) {
      throw protocolError(`Control frame over ${this.maxFrameBytes} bytes`);
    }
  }

  private takeLine(last: Uint8Array): Uint8Array {
    if (this.pending.length === 0) return last;
    const line = new Uint8Array(this.pendingBytes + last.length);
    let offset = 0;
    for (const piece of this.pending) {
      line.set(piece, offset);
      offset += piece.length;
    }
    line.set(last, offset);
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  private parse(line: Uint8Array): Frame {
    let text: string;
    try {
      text = this.decoder.decode(line);
    } catch {
      throw protocolError("Control frame is not UTF-8");
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw protocolError(`Control frame is not JSON: "${text.slice(0, 40)}"`);
    }
    if (
      typeof value !== "object" || value === null || Array.isArray(value) ||
      typeof (value as { type?: unknown }).type !== "string"
    ) {
      throw protocolError(`Control frame is not an object with a type: "${text.slice(0, 40)}"`);
    }
    return value as Frame;
  }
}

/** Reads a worker's frame; throws a LifecycleError when it is not one the master expects. */
export function parseWorkerFrame(frame: Frame): WorkerFrame {
  switch (frame.type) {
    case "hello":
      if (typeof frame.token !== "string" || !Number.isSafeInteger(frame.pid) || (frame.pid as number) < 1) {
        break;
      }
      return { type: "hello", token: frame.token, pid: frame.pid as number };
    case "ready":
      return { type: "ready" };
    case "failed":
      if (typeof frame.message !== "string") break;
      return { type: "failed", message: frame.message };
    case "answer": {
      const answer = parseAnswer(frame.answer);
      if (!Number.isSafeInteger(frame.id) || answer === null) break;
      return { type: "answer", id: frame.id as number, answer };
    }
    case "stats":
      if (!isSnapshot(frame.snapshot)) break;
      return { type: "stats", snapshot: frame.snapshot };
  }
  throw protocolError(`Unexpected control frame "${frame.type}" from a worker`);
}

/**
 * The shape of a stats snapshot as a frame carries it: an object with `info`, `frontends` and
 * `backends`. Its fields are not checked one by one: it comes from a worker that proved its token,
 * and the merge that reads it falls back to the worker's own figures if it cannot.
 */
function isSnapshot(value: unknown): value is StatsSnapshot {
  if (typeof value !== "object" || value === null) return false;
  const { info, frontends, backends } = value as { info?: unknown; frontends?: unknown; backends?: unknown };
  return typeof info === "object" && info !== null && Array.isArray(frontends) && Array.isArray(backends);
}

/** Reads a peer-stats frame from the master; throws a LifecycleError when it is not one. */
export function parsePeerStatsFrame(frame: Frame): PeerStatsFrame {
  if (frame.type === "peer-stats" && Number.isSafeInteger(frame.worker) && isSnapshot(frame.snapshot)) {
    return { type: "peer-stats", worker: frame.worker as number, snapshot: frame.snapshot };
  }
  throw protocolError(`Invalid control frame "${frame.type}" from the master`);
}

/** A runtime API answer as a frame carries it, or null when it is not one. */
export function parseAnswer(value: unknown): Answer | null {
  if (typeof value !== "object" || value === null) return null;
  const { kind, text, severity } = value as { kind?: unknown; text?: unknown; severity?: unknown };
  if (typeof text !== "string") return null;
  if (kind === "text") return { kind, text };
  if (kind === "message" && Number.isInteger(severity) && (severity as number) >= 0 && (severity as number) <= 7) {
    return { kind, severity: severity as number, text };
  }
  return null;
}

/** A runtime API command the master sends a worker. */
export interface CommandFrame {
  readonly type: "command";
  readonly id: number;
  readonly words: readonly string[];
  readonly level: AccessLevel;
}

/** Reads a command frame from the master; throws a LifecycleError when it is not one. */
export function parseCommandFrame(frame: Frame): CommandFrame {
  const words = frame.words;
  if (
    frame.type === "command" && Number.isSafeInteger(frame.id) && Array.isArray(words) && words.length > 0 &&
    words.every((word) => typeof word === "string") && typeof frame.level === "string" &&
    (ACCESS_LEVELS as readonly string[]).includes(frame.level)
  ) {
    return { type: "command", id: frame.id as number, words: words as string[], level: frame.level as AccessLevel };
  }
  throw protocolError(`Invalid control frame "${frame.type}" from the master`);
}

/** `message` cut to {@link MAX_FAILURE_MESSAGE_CHARS}, so a failure always fits in a frame. */
export function failureMessage(message: string): string {
  return message.length <= MAX_FAILURE_MESSAGE_CHARS
    ? message
    : `${message.slice(0, MAX_FAILURE_MESSAGE_CHARS)}… (cut)`;
}

/** Compares two tokens in time independent of where they differ. */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** A random token: 128 bits as hex. */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `host:port token`, as carried by `PROXY_MASTER`. */
export interface MasterAddress {
  readonly host: string;
  readonly port: number;
  readonly token: string;
}

/** Formats the value of `PROXY_MASTER`. */
export function formatMasterAddress(address: MasterAddress): string {
  return `${address.host}:${address.port} ${address.token}`;
}

/** Parses the value of `PROXY_MASTER`; throws a LifecycleError when it is malformed. */
export function parseMasterAddress(value: string): MasterAddress {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5}) ([0-9a-f]{16,128})$/.exec(value);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port >= 1 && port <= 65535)) {
    throw protocolError(`Invalid master address "${value}": expected "127.0.0.1:PORT TOKEN"`);
  }
  return { host: match[1]!, port, token: match[3]! };
}

/** What a {@link ControlChannel} reports. */
export interface ChannelEvents {
  /** A frame arrived; throwing closes the channel (a frame the receiver does not accept). */
  onFrame(frame: Frame): void;
  /** The channel is gone, once: `reason` says why when it was not an orderly close. */
  onClose(reason: string | undefined): void;
}

/** One end of the control channel over a runtime connection. */
export class ControlChannel implements ConnectionHandler {
  private readonly decoder: FrameDecoder;
  private readonly events: ChannelEvents;
  private connection: Connection | null = null;
  private closed = false;
  private resolveOpened: (() => void) | null = null;
  /** Settles when an outgoing connection is established (never for a channel that fails first). */
  readonly opened: Promise<void>;

  constructor(maxIncomingFrameBytes: number, events: ChannelEvents) {
    this.decoder = new FrameDecoder(maxIncomingFrameBytes);
    this.events = events;
    this.opened = new Promise((resolve) => (this.resolveOpened = resolve));
  }

  /** Takes an accepted connection. */
  attach(connection: Connection): void {
    this.connection = connection;
    connection.setHandler(this);
    connection.setNoDelay(true);
  }

  /** Raises the size a frame from the peer may have (a worker that said hello may answer commands at length). */
  allowFrames(maxBytes: number): void {
    if (maxBytes > this.decoder.maxFrameBytes) this.decoder.maxFrameBytes = maxBytes;
  }

  /** True until the channel closed. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** Queues a frame; false when the channel is closed. */
  send(frame: Frame): boolean {
    if (this.closed || this.connection === null) return false;
    this.connection.write(encodeFrame(frame));
    return true;
  }

  /** Closes after what is queued was sent. */
  close(): void {
    if (this.closed) return;
    this.connection?.end();
  }

  /** Closes at once and reports `reason`. */
  destroy(reason: string | undefined): void {
    if (this.closed) return;
    this.finish(reason);
    this.connection?.destroy();
  }

  onOpen(connection: Connection): void {
    this.connection = connection;
    this.resolveOpened?.();
  }

  onData(connection: Connection, chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (this.closed) return;
        this.events.onFrame(frame);
      }
    } catch (error) {
      this.connection ??= connection;
      this.destroy(error instanceof Error ? error.message : String(error));
    }
  }

  onDrain(_connection: Connection): void {}

  onEnd(connection: Connection): void {
    // The peer is done: a half-open control channel has no use.
    connection.end();
  }

  onClose(_connection: Connection, error: NetError | undefined): void {
    this.finish(error?.message);
  }

  private finish(reason: string | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.events.onClose(reason);
  }
}
