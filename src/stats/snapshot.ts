/**
 * A snapshot of the proxy's counters and states: plain data, copied from the live objects at one
 * instant (src/engine/stats_snapshot.ts takes it), so the readers (HTML page, CSV, JSON,
 * Prometheus, the runtime API) never touch the hot path, and a -W master can gather its workers'
 * snapshots as JSON and sum them (merge.ts).
 *
 * Units: bytes, milliseconds, counts; `...Seconds` fields are seconds. HAProxy's CSV column each
 * field feeds is named in brackets.
 *
 * @module
 */

/** The whole proxy at one instant. */
export interface StatsSnapshot {
  readonly info: ProcessStats;
  readonly frontends: readonly FrontendStats[];
  readonly backends: readonly BackendStats[];
}

/** The process (HAProxy's `show info`). With -W, the workers' sum (see merge.ts). */
export interface ProcessStats {
  /** "proxy" */
  readonly name: string;
  readonly version: string;
  /** "node 24.21.0", "bun 1.4.5", "deno 2.9.6". */
  readonly runtime: string;
  /** The serving process (-W: the master's). */
  readonly pid: number;
  /** Processes whose counters the snapshot holds: 1, or the workers of a -W master. */
  readonly processes: number;
  /** Since the process (-W: the master) started. */
  readonly uptimeSeconds: number;
  /** Wall clock when it started, ms since the epoch. */
  readonly startedAt: number;
  /** global.maxconn (per process). */
  readonly maxconn: number;
  /** Sessions running now [CurrConns], ever started [CumConns], and per second [ConnRate, MaxConnRate]. */
  readonly currentConnections: number;
  readonly totalConnections: number;
  readonly connectionRate: number;
  readonly connectionRateMax: number;
  /** HTTP requests ever received [CumReq] and per second. */
  readonly totalRequests: number;
  readonly requestRate: number;
  readonly requestRateMax: number;
  /** Resident set size and JS heap in use, bytes. */
  readonly memoryRss: number;
  readonly memoryHeapUsed: number;
  /** Share of the last interval the event loop was idle, 0 to 100 [Idle_pct]. */
  readonly idlePercent: number;
  /** A graceful stop is in progress. */
  readonly stopping: boolean;
}

/** What frontends, backends and servers count alike. */
export interface TrafficStats {
  /** Sessions now [scur], highest [smax], limit [slim] (0: none), ever [stot]. */
  readonly sessionsCurrent: number;
  readonly sessionsMax: number;
  readonly sessionsLimit: number;
  readonly sessionsTotal: number;
  /** Sessions per second now [rate] and highest [rate_max]. */
  readonly sessionRate: number;
  readonly sessionRateMax: number;
  /** Bytes from clients [bin] and to clients [bout]. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Requests denied by rules [dreq]. */
  readonly deniedRequests: number;
  /** Request errors [ereq], connection errors [econ], response errors [eresp]. */
  readonly requestErrors: number;
  readonly connectionErrors: number;
  readonly responseErrors: number;
  /** Retries [wretr] and redispatches [wredis]. */
  readonly retries: number;
  readonly redispatches: number;
  /** Responses by class [hrsp_1xx ... hrsp_other]. */
  readonly responses: HttpResponseClasses;
  /** HTTP requests [req_tot] and their rate [req_rate, req_rate_max] (frontends; backends: req_tot). */
  readonly requestsTotal: number;
  readonly requestRate: number;
  readonly requestRateMax: number;
  /** Data transfers aborted by the client [cli_abrt] and by the server [srv_abrt]. */
  readonly clientAborts: number;
  readonly serverAborts: number;
  /** Server connections dialled [connect] and reused [reuse] (backends and servers). */
  readonly connectionsOpened: number;
  readonly connectionsReused: number;
}

/** Responses by status class. */
export interface HttpResponseClasses {
  readonly "1xx": number;
  readonly "2xx": number;
  readonly "3xx": number;
  readonly "4xx": number;
  readonly "5xx": number;
  readonly other: number;
}

/** Averages over the last 1024 requests and maxima, ms [qtime ctime rtime ttime, *_max]. */
export interface TimeStats {
  readonly queueTime: number;
  readonly connectTime: number;
  readonly responseTime: number;
  readonly totalTime: number;
  readonly queueTimeMax: number;
  readonly connectTimeMax: number;
  readonly responseTimeMax: number;
  readonly totalTimeMax: number;
}

/** A frontend. */
export interface FrontendStats extends TrafficStats {
  readonly name: string;
  /** Its position among the frontends, from 1 [iid]. */
  readonly id: number;
  readonly mode: "tcp" | "http";
  /** "OPEN" (listening), "STOP" (not listening: paused or stopping), "FULL" (at maxconn) [status]. */
  readonly status: "OPEN" | "STOP" | "FULL";
  /** Requests answered by the proxy itself: monitor, stats, redirects, returns [intercepted]. */
  readonly intercepted: number;
  /** Connections closed because even the parking queue beyond maxconn was full [dcon]. */
  readonly deniedConnections: number;
  /** TLS handshakes failed, PROXY headers missing or bad. */
  readonly failedHandshakes: number;
  readonly failedProxyHeaders: number;
}

/** A backend and its servers. */
export interface BackendStats extends TrafficStats, TimeStats {
  readonly name: string;
  /** Its position among the backends, from 1, counted after the frontends as HAProxy numbers proxies [iid]. */
  readonly id: number;
  readonly mode: "tcp" | "http";
  /** The balancing algorithm [algo]. */
  readonly algorithm: string;
  /** "UP" while a server is usable, else "DOWN" [status]. */
  readonly status: "UP" | "DOWN";
  /** Requests waiting for any server now [qcur] and at most [qmax]. */
  readonly queueCurrent: number;
  readonly queueMax: number;
  /** Sum of the usable servers' weights [weight], of their configured weights [uweight]. */
  readonly weight: number;
  readonly configuredWeight: number;
  /** Usable active [act] and backup [bck] servers. */
  readonly activeServers: number;
  readonly backupServers: number;
  /** Times the backend lost its last usable server [chkdown]. */
  readonly downTransitions: number;
  /** Since the last change of status [lastchg], and total time without a usable server [downtime]. */
  readonly lastChangeSeconds: number;
  readonly downtimeSeconds: number;
  /** Since the last session, -1 before any [lastsess]. */
  readonly lastSessionSeconds: number;
  /** Times a server was picked [lbtot]. */
  readonly selectedTotal: number;
  /** Requests that left a queue with a 503 (timeout, or no server left). */
  readonly queueFailures: number;
  readonly servers: readonly ServerStats[];
}

/** A server. */
export interface ServerStats extends TrafficStats, TimeStats {
  readonly name: string;
  /** Its position in its backend, from 1 [sid]. */
  readonly id: number;
  /** "address:port" [addr] ("address" for a server without a port). */
  readonly address: string;
  /**
   * HAProxy's words [status]: "UP", "DOWN", "MAINT", "DRAIN", "no check" (up, unchecked), and a
   * change in progress "UP 1/3", "DOWN 1/2".
   */
  readonly status: string;
  /** Weight in effect [weight] and configured [uweight]. */
  readonly weight: number;
  readonly configuredWeight: number;
  readonly backup: boolean;
  /** Requests in its own queue now [qcur], at most [qmax], its limit [qlimit] (0: none). */
  readonly queueCurrent: number;
  readonly queueMax: number;
  readonly queueLimit: number;
  /** Slow start: percentage of the weight in effect, 100 when none runs [throttle]. */
  readonly throttlePercent: number;
  /** Checks failed [chkfail], times it went down [chkdown]. */
  readonly checkFailures: number;
  readonly downTransitions: number;
  /** Since its state last changed [lastchg], and total time down or in maintenance [downtime]. */
  readonly lastChangeSeconds: number;
  readonly downtimeSeconds: number;
  /** Since its last session, -1 before any [lastsess]. */
  readonly lastSessionSeconds: number;
  /** Times it was picked [lbtot]. */
  readonly selectedTotal: number;
  /** The health check, null when the server is not checked. */
  readonly check: CheckStats | null;
  /** Idle keep-alive connections to it in the pool, ready for reuse [srv_icur]. */
  readonly idleConnections: number;
}

/** A server's health check. */
export interface CheckStats {
  /**
   * HAProxy's short status [check_status]: "INI" before the first check, "L4OK", "L4TOUT", "L4CON",
   * "L6RSP", "L7OK", "L7TOUT", "L7STS", "L7RSP"; "MAINT" while checks are paused by the operator.
   */
  readonly status: string;
  /** The long form ("Layer4 check passed") [check_desc]. */
  readonly description: string;
  /** The http status of the last http check, null otherwise [check_code]. */
  readonly code: number | null;
  /** The last check's duration, ms; -1 before the first [check_duration]. */
  readonly durationMs: number;
  /** rise, fall and the health counter (0 to rise+fall-1) [check_rise, check_fall, check_health]. */
  readonly rise: number;
  readonly fall: number;
  readonly health: number;
  /** Checks are running (false after `disable health`). */
  readonly enabled: boolean;
}
