/**
 * The log line and the stats counts of the requests of one http client connection (httplog: one
 * line per request), HAProxy's end-of-stream accounting. One {@link RequestLog} per `HttpSession`
 * (session.ts), created and pooled with it: the session tells it what happens (a request's first
 * byte, its head, its backend, the server connection ready, the response head or the proxy's own
 * answer, the first abnormal event) and when the request is over, and it keeps the timestamps,
 * the byte counts and the termination state, fills the {@link LogRecord}, counts the request on
 * its frontend, backend and server (core/counters.ts) and hands the line to the traffic log.
 *
 * The record is shared with the session's `ServerConnector`, which writes the queue and connect
 * facts it measures straight into it; the few facts the connector keeps for itself (queue entry,
 * retries, the server last tried) are read through {@link ServerSideFacts} when the line is
 * written.
 *
 * Nothing is allocated per request: the record, the counters' outcome and this object are reused
 * for every request of the connection, and every pooled connection after it. The clock is read
 * only when something shows the timers (`SessionHost.timed`), and the request's own timers (%tr
 * %TR %Ti %Ta) only when a traffic log prints them.
 *
 * @module
 */

import type { Connection } from "../runtime/types.ts";
import type { Backend } from "../core/backend.ts";
import { countOutcome, createSessionOutcome } from "../core/counters.ts";
import type { Server } from "../core/server.ts";
import type { LogRecord } from "../log/record.ts";
import type { SessionHost } from "../tcp/session_host.ts";
import { fillServer, finishRecord, startRecord } from "../tcp/session_log.ts";
import type { HttpHead } from "./head_parser.ts";

/** What the server side measured of the current request and keeps itself (the session's `ServerConnector`). */
export interface ServerSideFacts {
  /** When the request entered a queue (log clock), -1 if it did not. */
  readonly queuedAt: number;
  /** Connection retries the request made (%rc). */
  readonly retries: number;
  /** The server the request went to, or last tried. */
  readonly lastServer: Server | null;
  /** Forgets them: the request's line is written, or will not be. */
  resetLogFacts(): void;
}

/** The current request's log line and counts; see the module notes. */
export class RequestLog {
  /** Bytes of the current request read from the client (%U). */
  bytesIn = 0;
  /** Bytes of its answer written to the client (%B). */
  bytesOut = 0;
  private readonly host: SessionHost;
  private readonly record: LogRecord;
  private readonly serverSide: ServerSideFacts;
  /** How the current request ended, refilled for the stats counters at each end. */
  private readonly outcome = createSessionOutcome();
  /** A line is owed for the current request: it began (or, first on a connection, the connection did). */
  private pending = false;
  /** Wall clock minus monotonic clock at accept: turns monotonic times into dates without another clock read. */
  private wallOffset = 0;
  /** The current request's status came from its server (not from the proxy). */
  private statusFromServer = false;
  /** A rule denied the current request. */
  private denied = false;
  /**
   * Monotonic times of the current request: its stream began (accept, or the end of the previous
   * response), its first byte, connection ready; -1: not yet. (The queue's and the connection
   * attempts' are the connector's.)
   */
  private streamStartedAt = 0;
  private requestStartedAt = -1;
  private establishedAt = -1;
  /** The backend the current request went to, kept for its line after the session lets it go (the server: the connector's lastServer). */
  private backend: Backend | null = null;
  /** HAProxy's termination state (two letters) of the first abnormal event; null: normal so far. */
  private termination: string | null = null;

  /** `record` is shared with the connector whose other facts `serverSide` gives. */
  constructor(host: SessionHost, record: LogRecord, serverSide: ServerSideFacts) {
    this.host = host;
    this.record = record;
    this.serverSide = serverSide;
  }

  /** A client connection was accepted: its first stream begins. */
  connectionStarted(client: Connection): void {
    this.streamStartedAt = this.clock();
    if (this.host.trafficLog !== null) {
      this.wallOffset = this.host.runtime.wallClock() - this.streamStartedAt;
      startRecord(this.record, this.host, client);
    }
    // The connection itself is owed a line: one that closes without a request logs "CR" (or
    // nothing under dontlognull), as HAProxy does.
    this.pending = true;
  }

  /** Bytes of a request arrive: the first of a request stamps its start and counts it. */
  requestSeen(): void {
    if (this.requestStartedAt >= 0) return;
    this.requestStartedAt = this.requestClock();
    this.pending = true;
    const counters = this.host.counters;
    counters.requestsTotal++;
    counters.requestRate.add(this.host.wheel.now);
  }

  /** The request head is complete (%TR, %r). */
  requestHead(request: HttpHead): void {
    const record = this.record;
    record.requestTime = Math.round(this.requestClock() - this.requestStartedAt);
    record.method = request.method;
    record.uri = request.target;
    record.httpVersion = request.version === "1.1" ? "HTTP/1.1" : "HTTP/1.0";
  }

  /** The request goes to `backend` (%b, and the backend it is counted on). */
  routedTo(backend: Backend): void {
    this.backend = backend;
  }

  /** The server connection is ready (log clock `at`): %Tr counts from here. */
  connectionReady(at: number): void {
    this.establishedAt = at;
  }

  /** The server's response head arrived (%Tr, %ST). */
  responseHead(status: number): void {
    this.record.responseTime = Math.round(this.clock() - this.establishedAt);
    this.record.status = status;
    this.statusFromServer = true;
  }

  /** The proxy answers the request itself with `status` (an error page, a rule's answer). */
  answeredByProxy(status: number): void {
    this.record.status = status;
    this.statusFromServer = false;
  }

  /** A rule denied the request (the stats' denied requests). */
  markDenied(): void {
    this.denied = true;
  }

  /** Keeps the first abnormal end's termination state. */
  terminate(code: string): void {
    if (this.termination === null) this.termination = code;
  }

  /**
   * Writes the current request's line and counts it, once: when its response ends, when the proxy
   * answers it, or when the connection ends without an answer. The frontend's counts still
   * include it. Returns the time it took (log clock), -1 when the line was taken already.
   */
  write(): number {
    if (!this.pending) return -1;
    this.pending = false;
    // One clock read for the counters, the line and the next request's start (see nextStream).
    const now = this.clock();
    this.count(now);
    const log = this.host.trafficLog;
    if (log !== null) {
      const record = this.record;
      const requestStartedAt = this.requestStartedAt;
      record.acceptDate = this.wallOffset + this.streamStartedAt;
      record.requestDate = requestStartedAt < 0 ? record.acceptDate : this.wallOffset + requestStartedAt;
      record.idleTime = requestStartedAt < 0 ? -1 : Math.round(requestStartedAt - this.streamStartedAt);
      record.activeTime = requestStartedAt < 0 ? -1 : Math.round(now - requestStartedAt);
      record.totalTime = Math.round(now - this.streamStartedAt);
      const serverSide = this.serverSide;
      // Still queued, or left the queue without a slot: the time waited so far (HAProxy's Tw on sQ).
      if (record.queueTime < 0 && serverSide.queuedAt >= 0) record.queueTime = Math.round(now - serverSide.queuedAt);
      record.bytesRead = this.bytesOut;
      record.bytesUploaded = this.bytesIn;
      record.retries = serverSide.retries;
      fillServer(record, serverSide.lastServer, record.frontendPort);
      finishRecord(record, this.host, this.backend, serverSide.lastServer, this.termination);
      log.write(record);
    }
    this.reset();
    return now;
  }

  /**
   * The next request's stream begins on a kept-alive connection: where the previous one ended
   * (HAProxy's %t and %Ti for it). `endedAt`: that end if the caller just read it from
   * {@link write}, else -1.
   */
  nextStream(endedAt: number): void {
    this.streamStartedAt = endedAt >= 0 ? endedAt : this.clock();
  }

  /**
   * The request was answered by the proxy and is never logged (monitor-uri: HAProxy's rule, the
   * probes of the tier in front would drown the traffic log), only counted as intercepted.
   */
  skipIntercepted(): void {
    this.pending = false;
    this.host.counters.intercepted++;
    this.reset();
  }

  /** The client connection is over: a line still owed is written (a client that left, a cut response, a tunnel's end). */
  connectionEnded(): void {
    if (this.pending) {
      // HAProxy's "CR" with 400 for a connection closed before a whole request.
      if ((this.requestStartedAt < 0 || this.record.method === "") && this.record.status < 0) this.record.status = 400;
      this.write();
    }
    this.pending = false;
    this.reset();
  }

  /** Counts the request on its frontend, backend and server (core/counters.ts). */
  private count(now: number): void {
    const outcome = this.outcome;
    const record = this.record;
    const backend = this.backend;
    const timed = this.host.timed;
    outcome.status = record.status;
    outcome.statusFromServer = this.statusFromServer;
    const termination = this.termination;
    outcome.termination = termination;
    outcome.denied = this.denied;
    // HAProxy's intercepted requests: answered by the proxy itself ("LR"), no server involved.
    outcome.intercepted = termination !== null && termination[0] === "L";
    outcome.bytesIn = this.bytesIn;
    outcome.bytesOut = this.bytesOut;
    const serverSide = this.serverSide;
    outcome.retries = serverSide.retries;
    outcome.redispatched = record.redispatched;
    outcome.queueTime = !timed ? -1 : record.queueTime >= 0 ? record.queueTime : serverSide.queuedAt >= 0 ? Math.round(now - serverSide.queuedAt) : -1;
    outcome.connectTime = timed ? record.connectTime : -1;
    outcome.responseTime = timed ? record.responseTime : -1;
    outcome.totalTime = timed && this.requestStartedAt >= 0 ? Math.round(now - this.streamStartedAt) : -1;
    const server = serverSide.lastServer;
    countOutcome(this.host.counters, backend === null ? null : backend.counters, server === null ? null : server.counters, outcome, true);
  }

  /** Readies the record and the timers for the next request on this connection. */
  private reset(): void {
    const record = this.record;
    this.requestStartedAt = -1;
    this.establishedAt = -1;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.backend = null;
    this.serverSide.resetLogFacts();
    this.termination = null;
    this.statusFromServer = false;
    this.denied = false;
    record.requestTime = -1;
    record.queueTime = -1;
    record.connectTime = -1;
    record.responseTime = -1;
    record.status = -1;
    record.redispatched = false;
    record.serverQueue = 0;
    record.backendQueue = 0;
    record.method = "";
    record.uri = "";
    record.httpVersion = "";
  }

  /** Monotonic now for the timers, or 0 when nothing shows them (see SessionHost.timed). */
  private clock(): number {
    return this.host.timed ? this.host.runtime.now() : 0;
  }

  /**
   * Monotonic now for the request's own timers (%tr, %TR, %Ti, %Ta), which only a traffic log
   * prints: the stats' time averages do without them, and save two clock reads per request.
   */
  private requestClock(): number {
    return this.host.trafficLog !== null ? this.host.runtime.now() : 0;
  }
}
