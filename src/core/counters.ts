/**
 * The live counters of a frontend, a backend and a server, as HAProxy's stats show them (its
 * `fe_counters`, `be_counters`, freq_ctr and swrate): plain numeric fields bumped on the hot path,
 * no allocation and no lookup per request. Readers (src/stats/) copy them into snapshots.
 *
 * A session counts once, when it ends (tcp) or when its request ends (http): bytes, status class,
 * errors and aborts are taken from what the log line would say (termination state, status, timers),
 * whether a traffic log is configured or not. Bytes of a long tcp tunnel are therefore counted
 * when it closes, not while it runs.
 *
 * @module
 */

/** Requests over which HAProxy averages its queue, connect, response and total times. */
export const TIME_SAMPLES = 1_024;

/** A rate over one-second periods: HAProxy's freq_ctr. */
export class EventRate {
  /** Highest rate read at an event so far (HAProxy's *_max columns). */
  max = 0;
  private period = -1;
  private current = 0;
  private previous = 0;

  /** Counts one event at `nowMs` (the monotonic clock). */
  add(nowMs: number): void {
    const period = Math.floor(nowMs / 1_000);
    if (period !== this.period) this.rotate(period);
    this.current++;
    const rate = this.readAt(nowMs);
    if (rate > this.max) this.max = rate;
  }

  /**
   * Events per second at `nowMs`: the current period's count plus the previous one's weighted by
   * the part of a second not yet elapsed (HAProxy's read_freq_ctr), so the rate neither jumps to 0
   * at each second nor lags a full second behind.
   */
  read(nowMs: number): number {
    const period = Math.floor(nowMs / 1_000);
    if (period !== this.period) this.rotate(period);
    return this.readAt(nowMs);
  }

  private readAt(nowMs: number): number {
    const elapsed = (nowMs % 1_000) / 1_000;
    return this.current + Math.round(this.previous * (1 - elapsed));
  }

  private rotate(period: number): void {
    this.previous = period === this.period + 1 ? this.current : 0;
    this.current = 0;
    this.period = period;
  }
}

/**
 * A sliding average over the last {@link TIME_SAMPLES} values (HAProxy's swrate with a window of
 * min(samples, 1024)): each new value replaces an average share of the sum, so the result follows
 * recent traffic without keeping the values.
 */
export class SlidingAverage {
  /** Highest value added (HAProxy's qtime_max...). */
  max = 0;
  private sum = 0;
  private samples = 0;

  add(value: number): void {
    if (value < 0) return;
    if (this.samples < TIME_SAMPLES) this.samples++;
    this.sum += value - this.sum / this.samples;
    if (value > this.max) this.max = value;
  }

  /** The average, rounded to the millisecond as HAProxy prints it; 0 before any value. */
  get value(): number {
    return this.samples === 0 ? 0 : Math.round(this.sum / this.samples);
  }
}

/** Counters shared by frontends, backends and servers (HAProxy's CSV columns in brackets). */
export class TrafficCounters {
  /** Highest concurrent sessions [smax]. */
  sessionsMax = 0;
  /** Sessions ever started [stot]; a backend's and a server's count each request in http mode. */
  sessionsTotal = 0;
  /** Sessions started per second [rate, rate_max]. */
  readonly sessionRate = new EventRate();
  /** Bytes from clients [bin] and to clients [bout]. */
  bytesIn = 0;
  bytesOut = 0;
  /** Requests denied by a rule [dreq]. */
  deniedRequests = 0;
  /** Connections refused before a session (limits, failed TLS or PROXY header) [dcon]. */
  deniedConnections = 0;
  /** Requests that were invalid, or cut short or timed out by the client before they were whole [ereq]. */
  requestErrors = 0;
  /** Server connections that failed for good, after their retries [econ]. */
  connectionErrors = 0;
  /** Responses that failed: invalid, cut short by the server, or late [eresp]. */
  responseErrors = 0;
  /** Connection attempts retried [wretr] and sent to another server [wredis]. */
  retries = 0;
  redispatches = 0;
  /** Responses by class [hrsp_1xx ... hrsp_5xx, hrsp_other]. */
  responses1xx = 0;
  responses2xx = 0;
  responses3xx = 0;
  responses4xx = 0;
  responses5xx = 0;
  responsesOther = 0;
  /** HTTP requests [req_tot] and their rate [req_rate, req_rate_max]. */
  requestsTotal = 0;
  readonly requestRate = new EventRate();
  /** Data transfers cut by the client [cli_abrt] and by the server [srv_abrt]. */
  clientAborts = 0;
  serverAborts = 0;
  /** Requests the proxy answered itself (monitor, stats, redirects, returns) [intercepted]. */
  intercepted = 0;
  /** Server connections dialled [connect] and idle ones reused [reuse]. */
  connectionsOpened = 0;
  connectionsReused = 0;
  /** Longest queue seen [qmax]. */
  queueMax = 0;
  /** Time averages over the last requests [qtime, ctime, rtime, ttime] and their maxima. */
  readonly queueTime = new SlidingAverage();
  readonly connectTime = new SlidingAverage();
  readonly responseTime = new SlidingAverage();
  readonly totalTime = new SlidingAverage();
  /** When the last session started, monotonic ms; -1 before the first [lastsess]. */
  lastSessionAt = -1;

  /** A session (http in a backend or server: a request) started; `current` counts it. */
  sessionStarted(current: number, nowMs: number): void {
    this.sessionsTotal++;
    if (current > this.sessionsMax) this.sessionsMax = current;
    this.sessionRate.add(nowMs);
    this.lastSessionAt = nowMs;
  }

  /** A queue grew to `length`. */
  queued(length: number): void {
    if (length > this.queueMax) this.queueMax = length;
  }

  /** One response of `status` (an http status; one outside 100-599 counts as "other"). */
  response(status: number): void {
    if (status >= 200 && status < 300) this.responses2xx++;
    else if (status >= 300 && status < 400) this.responses3xx++;
    else if (status >= 400 && status < 500) this.responses4xx++;
    else if (status >= 500 && status < 600) this.responses5xx++;
    else if (status >= 100 && status < 200) this.responses1xx++;
    else this.responsesOther++;
  }
}

/**
 * How a session or a request ended, for {@link countOutcome}: what its log line says. Sessions
 * keep one and refill it, so counting allocates nothing.
 */
export interface SessionOutcome {
  /** The http status sent to the client; -1 in tcp mode or when none was sent. */
  status: number;
  /** The response came from a server (not generated by the proxy). */
  statusFromServer: boolean;
  /** HAProxy's two termination letters, null for a normal end. */
  termination: string | null;
  /** A rule denied the request. */
  denied: boolean;
  /** The proxy answered the request itself (monitor, stats, redirect, return). */
  intercepted: boolean;
  bytesIn: number;
  bytesOut: number;
  /** Connection retries, and whether one went to another server. */
  retries: number;
  redispatched: boolean;
  /** Milliseconds, -1 for a phase that did not happen (as the log's timers). */
  queueTime: number;
  connectTime: number;
  responseTime: number;
  totalTime: number;
}

/** An outcome with nothing in it yet. */
export function createSessionOutcome(): SessionOutcome {
  return {
    status: -1,
    statusFromServer: false,
    termination: null,
    denied: false,
    intercepted: false,
    bytesIn: 0,
    bytesOut: 0,
    retries: 0,
    redispatched: false,
    queueTime: -1,
    connectTime: -1,
    responseTime: -1,
    totalTime: -1,
  };
}

/**
 * Counts an ended session or request on its frontend, and on the backend and server it reached
 * (null when none). `http` counts a response by class. The termination letters are read as HAProxy
 * counts them: a request cut, late or refused in its request phase is a request error (frontend);
 * a server connection failed for good is a connection error; a server that failed in its headers or
 * data phase is a response error, and in data also a server abort; a client gone in the data phase
 * is a client abort.
 */
export function countOutcome(
  frontend: TrafficCounters,
  backend: TrafficCounters | null,
  server: TrafficCounters | null,
  outcome: SessionOutcome,
  http: boolean,
): void {
  frontend.bytesIn += outcome.bytesIn;
  frontend.bytesOut += outcome.bytesOut;
  if (http && outcome.status > 0) frontend.response(outcome.status);
  if (outcome.denied) frontend.deniedRequests++;
  if (outcome.intercepted) frontend.intercepted++;
  const termination = outcome.termination;
  let who = "";
  let phase = "";
  if (termination !== null) {
    who = termination[0]!;
    phase = termination[1]!;
    // A connection closed before sending anything (a keep-alive end, a probe) is no request at all.
    if (phase === "R" && (((who === "C" || who === "c") && outcome.bytesIn > 0) || (who === "P" && !outcome.denied))) frontend.requestErrors++;
  }
  if (backend !== null) countOnBackendSide(backend, outcome, http, who, phase);
  if (server !== null) countOnBackendSide(server, outcome, http, who, phase);
  if (who === "C" && phase === "D") frontend.clientAborts++;
}

function countOnBackendSide(counters: TrafficCounters, outcome: SessionOutcome, http: boolean, who: string, phase: string): void {
  counters.bytesIn += outcome.bytesIn;
  counters.bytesOut += outcome.bytesOut;
  if (http && outcome.statusFromServer && outcome.status > 0) counters.response(outcome.status);
  counters.retries += outcome.retries;
  if (outcome.redispatched) counters.redispatches++;
  if (outcome.queueTime >= 0) counters.queueTime.add(outcome.queueTime);
  if (outcome.connectTime >= 0) counters.connectTime.add(outcome.connectTime);
  if (outcome.responseTime >= 0) counters.responseTime.add(outcome.responseTime);
  if (outcome.totalTime >= 0) counters.totalTime.add(outcome.totalTime);
  if (phase === "C" && (who === "S" || who === "s")) counters.connectionErrors++;
  else if ((phase === "H" || phase === "D") && (who === "S" || who === "s" || (who === "P" && phase === "H"))) {
    counters.responseErrors++;
    if (phase === "D" && who !== "P") counters.serverAborts++;
  } else if ((who === "C" || who === "c") && phase === "D") counters.clientAborts++;
}
