/**
 * What the runtime API (HAProxy's stats socket, the "CLI") is made of, runtime-free: access
 * levels, answers and their severities, and what the interpreter acts on (a {@link ControlTarget},
 * implemented over a running proxy by `src/engine/runtime_api_target.ts`, and a {@link StatsReader}).
 *
 * @module
 */

import type { StatsSnapshot } from "../stats/snapshot.ts";

/**
 * HAProxy's levels of a stats socket, lowest first: "user" reads (no server address in `show stat`),
 * "operator" reads everything, "admin" also changes servers. HAProxy's default is "operator".
 */
export type AccessLevel = "user" | "operator" | "admin";

/** The levels, lowest first. */
export const ACCESS_LEVELS: readonly AccessLevel[] = Object.freeze(["user", "operator", "admin"] as const);

/** HAProxy's default level of a `stats socket` (cli.c: ACCESS_LVL_OPER). */
export const DEFAULT_ACCESS_LEVEL: AccessLevel = "operator";

/** Whether `have` allows what `need` asks. */
export function levelAllows(have: AccessLevel, need: AccessLevel): boolean {
  return ACCESS_LEVELS.indexOf(have) >= ACCESS_LEVELS.indexOf(need);
}

/** Syslog severities of answers, as HAProxy's `set severity-output` numbers them. */
export const SEVERITY_ERR = 3;
export const SEVERITY_WARNING = 4;
export const SEVERITY_NOTICE = 5;
export const SEVERITY_INFO = 6;

/** HAProxy's names of the syslog severities, by number (`set severity-output string`). */
export const SEVERITY_NAMES: readonly string[] = Object.freeze([
  "emerg",
  "alert",
  "crit",
  "err",
  "warning",
  "notice",
  "info",
  "debug",
]);

/** How a session shows the severity of messages (HAProxy's `set severity-output`). */
export type SeverityOutput = "none" | "number" | "string";

/**
 * What one command answers: `text` printed as it is (a dump: `show stat`, `show servers state`),
 * or a `message` with a severity (an error, a notice), which the session may prefix with it.
 * Neither holds an empty line: the empty line ends each answer on the wire.
 */
export type Answer =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "message"; readonly severity: number; readonly text: string }
  | { readonly kind: "processes"; readonly parts: readonly ProcessAnswer[] };

/**
 * One process's answer within a -W master's (HAProxy's master CLI): `label` ("@1 (pid 1234)") is
 * printed on its own line before it.
 */
export interface ProcessAnswer {
  readonly label: string;
  readonly answer: Answer;
}

/** The empty answer of a change that succeeded. */
export const NO_ANSWER: Answer = Object.freeze({ kind: "text", text: "" });

/** An error answer. */
export function errorAnswer(text: string): Answer {
  return { kind: "message", severity: SEVERITY_ERR, text };
}

/** True for an answer that reports a failure. */
export function isError(answer: Answer): boolean {
  if (answer.kind === "processes") return answer.parts.some((part) => isError(part.answer));
  return answer.kind === "message" && answer.severity <= SEVERITY_ERR;
}

/** A server's administrative state as `set server B/S state` sets it. */
export type AdminState = "ready" | "drain" | "maint";

/**
 * One line of `show servers state` (HAProxy's server-state file, version 1): the numbers are
 * HAProxy's (srv_op_state, srv_admin_state flags, check status and result codes, check state flags).
 */
export interface ServerStateRow {
  readonly backendId: number;
  readonly backendName: string;
  readonly serverId: number;
  readonly serverName: string;
  /** The server's IP address. */
  readonly address: string;
  /** 0 stopped (down), 1 starting (slow start), 2 running, 3 stopping. */
  readonly opState: number;
  /** Flags: 0x01 forced maintenance, 0x04 `disabled` in the configuration, 0x08 forced drain. */
  readonly adminState: number;
  /** Weight asked for (HAProxy's uweight) and the configuration's (iweight). */
  readonly userWeight: number;
  readonly initialWeight: number;
  readonly secondsSinceChange: number;
  /** HAProxy's HCHK_STATUS_* number of the last check (0 unchecked, 1 before the first check). */
  readonly checkStatus: number;
  /** CHK_RES_*: 0 unknown, 2 failed, 3 passed. */
  readonly checkResult: number;
  readonly checkHealth: number;
  /** CHK_ST_* flags: 0x02 configured, 0x04 enabled, 0x08 paused (maintenance); 0 unchecked. */
  readonly checkState: number;
  /** The host name the address was resolved from, "-" for an IP address. */
  readonly fqdn: string;
  /** 0 for a server without a port (the client's port is used). */
  readonly port: number;
  readonly useTls: boolean;
  /** The check's own port, 0 when it checks the server's. */
  readonly checkPort: number;
  /** The check's own address, "-" when it checks the server's. */
  readonly checkAddress: string;
  /** Our fields after HAProxy's: the maxconn in effect (the runtime API may have set it) and the configuration's; 0: no limit. */
  readonly maxconn: number;
  readonly initialMaxconn: number;
}

/** A server as the runtime API sees it: what it reads and what it changes. */
export interface ControlServer {
  readonly name: string;
  /** Weight asked for (uweight) and the configuration's (iweight). */
  weights(): { readonly current: number; readonly initial: number };
  /** Sets ready (no maintenance, no drain), drain or maintenance. */
  setAdminState(state: AdminState): void;
  /** Sets the weight asked for, 0 to 256: the balancers are told. */
  setWeight(weight: number): void;
  /** Sets maxconn (0: no limit); requests waiting get the new room at once. */
  setMaxconn(maxconn: number): void;
  /** Whether the server has a health check (`enable health` needs one). */
  readonly checked: boolean;
  /** Pauses or resumes the health check; the server keeps its state meanwhile. */
  setHealthChecks(enabled: boolean): void;
  /** Closes the sessions on the server now; returns how many. */
  shutdownSessions(): number;
  /** Its line of `show servers state`. */
  state(): ServerStateRow;
}

/** A backend as the runtime API sees it. */
export interface ControlBackend {
  readonly name: string;
  server(name: string): ControlServer | undefined;
  readonly servers: readonly ControlServer[];
}

/** The running proxy as the runtime API sees it (see `src/engine/runtime_api_target.ts`). */
export interface ControlTarget {
  /** Every backend, in configuration order. */
  readonly backends: readonly ControlBackend[];
  backend(name: string): ControlBackend | undefined;
}

/**
 * Where `show info` and `show stat` get their numbers: a snapshot of the running proxy (the
 * engine's `Proxy.snapshot`, `StatsCollector`). Injected, so the interpreter is tested with a
 * hand-made snapshot; the rows and formats of `show stat` are the stats module's.
 */
export interface StatsReader {
  snapshot(): StatsSnapshot;
}
