/**
 * The contract between the health-check scheduler (runtime-free) and the probes that talk to a
 * server (tcp connect, http request; written in the protocol layers against the runtime contract).
 *
 * @module
 */

/** HAProxy's check status words, as its logs and stats print them. */
export const CHECK_STATUS = Object.freeze({
  layer4Passed: "Layer4 check passed",
  layer4Timeout: "Layer4 timeout",
  layer4Problem: "Layer4 connection problem",
  /** HAProxy's L6RSP: the TLS handshake failed or the certificate was refused. */
  layer6InvalidResponse: "Layer6 invalid response",
  layer7Passed: "Layer7 check passed",
  layer7Timeout: "Layer7 timeout",
  layer7WrongStatus: "Layer7 wrong status",
  layer7InvalidResponse: "Layer7 invalid response",
  /** Passive health: too many traffic errors in a row. */
  healthAnalyze: "Health analyze",
});

/** HAProxy's short check status for each of {@link CHECK_STATUS}, as its CSV and runtime API print them. */
export const CHECK_STATUS_CODE: Readonly<Record<string, string>> = Object.freeze({
  [CHECK_STATUS.layer4Passed]: "L4OK",
  [CHECK_STATUS.layer4Timeout]: "L4TOUT",
  [CHECK_STATUS.layer4Problem]: "L4CON",
  [CHECK_STATUS.layer6InvalidResponse]: "L6RSP",
  [CHECK_STATUS.layer7Passed]: "L7OK",
  [CHECK_STATUS.layer7Timeout]: "L7TOUT",
  [CHECK_STATUS.layer7WrongStatus]: "L7STS",
  [CHECK_STATUS.layer7InvalidResponse]: "L7RSP",
  [CHECK_STATUS.healthAnalyze]: "HANA",
});

/** What one check found. */
export interface ProbeResult {
  readonly passed: boolean;
  /** One of {@link CHECK_STATUS}. */
  readonly status: string;
  /** The http status of an http check's response; null otherwise. */
  readonly code: number | null;
  /** Detail for a person ("Connection refused", "Internal Server Error", ...); null: none. */
  readonly info: string | null;
}

/** A check in progress. */
export interface ProbeRun {
  /** The connection is established: a timeout now is the server's answer being late (Layer7). */
  readonly connected: boolean;
  /** Stops the check and closes its connection; `done` is not called afterwards. */
  cancel(): void;
}

/** Checks one server; built once per server with its target address. */
export interface HealthProbe {
  /**
   * Starts a check. `done` is called exactly once, asynchronously, unless the run is cancelled
   * first. The probe has no timer of its own: the scheduler cancels a run that takes too long and
   * records a timeout.
   */
  start(done: (result: ProbeResult) => void): ProbeRun;
}

/**
 * The detail of a failed connection, in the system's words as HAProxy prints them (strerror:
 * "Connection refused"); `code` is the NetError code, `message` is used for any other.
 */
export function describeConnectError(code: string | undefined, message: string): string {
  switch (code) {
    case "ECONNREFUSED":
      return "Connection refused";
    case "ECONNRESET":
      return "Connection reset by peer";
    case "EHOSTUNREACH":
      return "No route to host";
    case "ENETUNREACH":
      return "Network is unreachable";
    case "ETIMEDOUT":
      return "Connection timed out";
    default:
      return message;
  }
}

/**
 * The result of a connection that failed before it was established (HAProxy's L4CON); `error` is
 * the socket's error, undefined for a close without one.
 */
export function connectProblem(error: unknown): ProbeResult {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  const tls = code === "ECERTVERIFY" || code === "ETLSHANDSHAKE";
  return { passed: false, status: tls ? CHECK_STATUS.layer6InvalidResponse : CHECK_STATUS.layer4Problem, code: null, info: errorInfo(error) };
}

/** The detail of any error met while checking: the system's wording for socket errors. */
export function errorInfo(error: unknown): string {
  if (error === undefined) return "Connection closed";
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return describeConnectError(typeof code === "string" ? code : undefined, message === "" ? "Connection failed" : message);
}
