/**
 * `show servers state`: HAProxy's server-state format (version 1, the one its `server-state-file`
 * is written in): a version line, the field names, then one line per server with its volatile
 * state (proxy.c, dump_servers_state); and its reader (server_state.c, srv_state_parse_line and
 * the checks of srv_state_srv_update), for a new generation to start from the state of the one
 * it replaces (`src/engine/server_state_apply.ts` applies what is read here).
 *
 * Two fields follow HAProxy's 25 on each line: `srv_umaxconn` (the maxconn in effect, which the
 * runtime API may have set) and `srv_imaxconn` (the configuration's), as `srv_uweight` and
 * `srv_iweight` do for the weight. Version 1 grew the same way (HAProxy's last five fields are
 * optional), HAProxy's own reader takes the first 25 fields of a longer line and ignores the
 * rest, and a tool that reads fields by position finds HAProxy's where it expects them; a line
 * without the two (a file HAProxy wrote) leaves maxconn to the configuration.
 *
 * @module
 */

import type { ServerStateRow } from "./types.ts";

/** HAProxy's SRV_STATE_FILE_VERSION. */
export const SERVER_STATE_VERSION = 1;

/** HAProxy's SRV_STATE_FILE_FIELD_NAMES, in their order. */
export const SERVER_STATE_FIELDS: readonly string[] = Object.freeze([
  "be_id",
  "be_name",
  "srv_id",
  "srv_name",
  "srv_addr",
  "srv_op_state",
  "srv_admin_state",
  "srv_uweight",
  "srv_iweight",
  "srv_time_since_last_change",
  "srv_check_status",
  "srv_check_result",
  "srv_check_health",
  "srv_check_state",
  "srv_agent_state",
  "bk_f_forced_id",
  "srv_f_forced_id",
  "srv_fqdn",
  "srv_port",
  "srvrecord",
  "srv_use_ssl",
  "srv_check_port",
  "srv_check_addr",
  "srv_agent_addr",
  "srv_agent_port",
  "srv_umaxconn",
  "srv_imaxconn",
]);

/** HAProxy's own fields (SRV_STATE_FILE_MAX_FIELDS_VERSION_1); ours follow them. */
export const HAPROXY_SERVER_STATE_FIELDS = 25;
/** Fields a version 1 line has at least (SRV_STATE_FILE_MIN_FIELDS_VERSION_1: up to `srvrecord`). */
export const MIN_SERVER_STATE_FIELDS = 20;

/** HAProxy's srv_op_state values. */
export const SERVER_OP_STOPPED = 0;
export const SERVER_OP_STARTING = 1;
export const SERVER_OP_RUNNING = 2;
export const SERVER_OP_STOPPING = 3;

/**
 * HAProxy's srv_admin_state flags we set: maintenance forced (through the runtime API, or by the
 * configuration's `disabled`, which sets both FMAINT and CMAINT, as HAProxy's does), CMAINT as
 * long as the configuration says `disabled` (even once the API took the server out of
 * maintenance: that is how a reload tells the API's change from the configuration's), drain forced.
 */
export const SERVER_ADMIN_FORCED_MAINT = 0x01;
export const SERVER_ADMIN_CONFIG_MAINT = 0x04;
export const SERVER_ADMIN_FORCED_DRAIN = 0x08;
/**
 * Flags HAProxy writes that a reader drops (srv_state_srv_update recomputes them): maintenance and
 * drain inherited from a tracked server (IMAINT, IDRAIN), maintenance for a failed resolution
 * (RMAINT), the FQDN set through the API (HMAINT).
 */
export const SERVER_ADMIN_RECOMPUTED = 0x02 | 0x10 | 0x20 | 0x40;
/** The admin states HAProxy's reader accepts once the recomputed flags are dropped. */
const VALID_ADMIN_STATES: readonly number[] = [
  0,
  SERVER_ADMIN_FORCED_MAINT,
  SERVER_ADMIN_CONFIG_MAINT,
  SERVER_ADMIN_CONFIG_MAINT | SERVER_ADMIN_FORCED_MAINT,
  SERVER_ADMIN_CONFIG_MAINT | SERVER_ADMIN_FORCED_DRAIN,
  SERVER_ADMIN_FORCED_DRAIN,
];

/** HAProxy's check state flags (CHK_ST_*). */
export const CHECK_STATE_IN_PROGRESS = 0x01;
export const CHECK_STATE_CONFIGURED = 0x02;
export const CHECK_STATE_ENABLED = 0x04;
export const CHECK_STATE_PAUSED = 0x08;
export const CHECK_STATE_AGENT = 0x10;
const CHECK_STATE_FLAGS = CHECK_STATE_IN_PROGRESS | CHECK_STATE_CONFIGURED | CHECK_STATE_ENABLED | CHECK_STATE_PAUSED |
  CHECK_STATE_AGENT;

/** HAProxy's check results (CHK_RES_*). */
export const CHECK_RESULT_UNKNOWN = 0;
export const CHECK_RESULT_NEUTRAL = 1;
export const CHECK_RESULT_FAILED = 2;
export const CHECK_RESULT_PASSED = 3;
export const CHECK_RESULT_CONDITIONAL_PASS = 4;

/** HAProxy's healthcheck_status numbers, by the status words our checks report (core/health/probe.ts). */
export const CHECK_STATUS_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  "Health analyze": 4,
  "Layer4 check passed": 6,
  "Layer4 timeout": 7,
  "Layer4 connection problem": 8,
  "Layer6 invalid response": 11,
  "Layer7 timeout": 12,
  "Layer7 invalid response": 13,
  "Layer7 check passed": 15,
  "Layer7 wrong status": 17,
});

/** HCHK_STATUS_UNKNOWN (a server without a check) and HCHK_STATUS_INI (checked, no result yet). */
export const CHECK_STATUS_UNKNOWN = 0;
export const CHECK_STATUS_INITIALIZING = 1;

/** One server's line, fields separated by one space. */
export function serverStateLine(row: ServerStateRow): string {
  return [
    row.backendId,
    row.backendName,
    row.serverId,
    row.serverName,
    row.address,
    row.opState,
    row.adminState,
    row.userWeight,
    row.initialWeight,
    row.secondsSinceChange,
    row.checkStatus,
    row.checkResult,
    row.checkHealth,
    row.checkState,
    0, // srv_agent_state: no agent checks
    0, // bk_f_forced_id: ids are positions
    0, // srv_f_forced_id
    row.fqdn,
    row.port,
    "-", // srvrecord: no DNS SRV records
    row.useTls ? 1 : 0,
    row.checkPort,
    row.checkAddress,
    "-", // srv_agent_addr
    0, // srv_agent_port
    row.maxconn,
    row.initialMaxconn,
  ].join(" ");
}

/** The whole answer: the version, the field names, a line per server. */
export function serversStateText(rows: readonly ServerStateRow[]): string {
  const lines = [String(SERVER_STATE_VERSION), `# ${SERVER_STATE_FIELDS.join(" ")}`, ...rows.map(serverStateLine)];
  return lines.join("\n") + "\n";
}

/** HAProxy's longest weight (SRV_UWGHT_MAX). */
const MAX_STATE_WEIGHT = 256;
/** HAProxy's longest host name (DNS_MAX_NAME_SIZE). */
const MAX_FQDN_LENGTH = 255;
const FQDN = /^[A-Za-z0-9_.-]+$/;
const INTEGER = /^-?\d+$/;
/** The line a -W master puts before each worker's answer (master_runtime_api.ts). */
const PROCESS_LABEL = /^@\d+ \(pid \d+\)$/;

/** One server's line of a server-state text, read and checked. */
export interface SavedServerState {
  /** Where it was in the text, from 1. */
  readonly line: number;
  readonly backendName: string;
  readonly serverName: string;
  /** The IP address it had ("-" when it had none). */
  readonly address: string;
  /** HAProxy's srv_op_state: 0 stopped (down), 1 starting, 2 running, 3 stopping. */
  readonly opState: number;
  /** HAProxy's srv_admin_state without the flags a reader recomputes ({@link SERVER_ADMIN_RECOMPUTED}). */
  readonly adminState: number;
  /** The weight asked for (uweight) and the configuration's (iweight). */
  readonly userWeight: number;
  readonly initialWeight: number;
  readonly secondsSinceChange: number;
  /** CHK_ST_* flags of its health check (0: not checked). */
  readonly checkState: number;
  /** The host name it was configured with ("-": an IP address). */
  readonly fqdn: string;
  /** 0: no port (the client's). */
  readonly port: number;
  /** Our two fields after HAProxy's (null on a line without them): the maxconn in effect, the configuration's. */
  readonly maxconn: number | null;
  readonly initialMaxconn: number | null;
}

/** Something wrong with a server-state text: `line` 0 for the whole text. */
export interface ServerStateIssue {
  readonly line: number;
  /** "warning": a line (or the text) is malformed; "notice": nothing to apply (an empty text). */
  readonly severity: "warning" | "notice";
  readonly message: string;
}

/** A server-state text read: the servers' lines that are valid, and what was wrong with the others. */
export interface ParsedServerState {
  readonly servers: readonly SavedServerState[];
  readonly issues: readonly ServerStateIssue[];
}

/**
 * Reads a server-state text (`show servers state`, a `server-state-file`): the version line `1`,
 * then one line per server; blank lines and `#` comments (the field names) are skipped. A line
 * with the wrong number of fields or a value HAProxy's reader refuses is left out with a warning
 * (HAProxy gives up the whole file at a corrupted line; one bad line here costs that server
 * alone), as is a second line for the same server (HAProxy drops it silently). Another version, or
 * no version line, is a warning and nothing is read. A -W master's answer, each worker's under a
 * line "@N (pid P)", is read from its first worker's part (the workers share their admin state).
 */
export function parseServerState(text: string): ParsedServerState {
  let lines = text.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length > 0 && PROCESS_LABEL.test(lines[0]!)) {
    // A -W master's answer (`proxy ctl "show servers state" > FILE`): its first worker's part.
    const next = lines.findIndex((line, index) => index > 0 && PROCESS_LABEL.test(line));
    lines = lines.slice(1, next < 0 ? lines.length : next);
  }
  if (lines.length === 0) return { servers: [], issues: [{ line: 0, severity: "notice", message: "Empty server state" }] };
  const version = lines[0]!;
  if (version !== String(SERVER_STATE_VERSION)) {
    const message = /^\d+$/.test(version)
      ? `Unsupported server state version "${version}" (only version ${SERVER_STATE_VERSION} is read)`
      : `No server state version on the first line (found "${abbreviate(version)}", expected "${SERVER_STATE_VERSION}")`;
    return { servers: [], issues: [{ line: 1, severity: "warning", message }] };
  }
  const servers: SavedServerState[] = [];
  const issues: ServerStateIssue[] = [];
  const seen = new Map<string, number>();
  for (let index = 1; index < lines.length; index++) {
    const number = index + 1;
    const content = lines[index]!.trim();
    if (content === "" || content.startsWith("#")) continue;
    const read = readServerLine(content.split(/[ \t]+/), number);
    if (typeof read === "string") {
      issues.push({ line: number, severity: "warning", message: `Line ${number} skipped: ${read}` });
      continue;
    }
    const key = `${read.backendName}/${read.serverName}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({ line: number, severity: "warning", message: `Line ${number} skipped: "${key}" already has line ${first}` });
      continue;
    }
    seen.set(key, number);
    servers.push(read);
  }
  return { servers, issues };
}

/** One server's fields checked as HAProxy's reader does; a string says what is wrong. */
function readServerLine(fields: readonly string[], line: number): SavedServerState | string {
  const count = fields.length;
  if (count < MIN_SERVER_STATE_FIELDS || count > SERVER_STATE_FIELDS.length || count === SERVER_STATE_FIELDS.length - 1) {
    return `${count} fields, expected ${MIN_SERVER_STATE_FIELDS} to ${HAPROXY_SERVER_STATE_FIELDS} (HAProxy's) or ${SERVER_STATE_FIELDS.length}`;
  }
  const problems: string[] = [];
  const field = (index: number) => fields[index]!;
  const integer = (index: number, valid: (value: number) => boolean = () => true): number => {
    const text = field(index);
    const value = INTEGER.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || !valid(value)) {
      problems.push(`${SERVER_STATE_FIELDS[index]} "${abbreviate(text)}" is not valid`);
      return 0;
    }
    return value;
  };
  integer(0, (value) => value >= 0); // be_id: the name is what matches
  integer(2, (value) => value >= 0); // srv_id
  const opState = integer(5, (value) => value >= SERVER_OP_STOPPED && value <= SERVER_OP_STOPPING);
  const adminState = integer(6, (value) => value >= 0 && VALID_ADMIN_STATES.includes(value & ~SERVER_ADMIN_RECOMPUTED)) &
    ~SERVER_ADMIN_RECOMPUTED;
  const userWeight = integer(7, (value) => value >= 0 && value <= MAX_STATE_WEIGHT);
  const initialWeight = integer(8, (value) => value >= 0 && value <= MAX_STATE_WEIGHT);
  const secondsSinceChange = integer(9);
  integer(10, (value) => value >= 0); // srv_check_status
  integer(11, (value) => value >= CHECK_RESULT_UNKNOWN && value <= CHECK_RESULT_CONDITIONAL_PASS);
  integer(12); // srv_check_health
  const checkState = integer(13, (value) => value >= 0 && (value & ~CHECK_STATE_FLAGS) === 0);
  integer(14, (value) => value >= 0 && (value & ~CHECK_STATE_FLAGS) === 0); // srv_agent_state
  integer(15, (value) => value === 0 || value === 1); // bk_f_forced_id
  integer(16, (value) => value === 0 || value === 1); // srv_f_forced_id
  const fqdn = field(17);
  if (fqdn !== "-" && (fqdn.length > MAX_FQDN_LENGTH || !FQDN.test(fqdn))) problems.push(`srv_fqdn "${abbreviate(fqdn)}" is not valid`);
  const port = integer(18, (value) => value >= 0 && value <= 65_535);
  let maxconn: number | null = null;
  let initialMaxconn: number | null = null;
  if (count === SERVER_STATE_FIELDS.length) {
    maxconn = integer(HAPROXY_SERVER_STATE_FIELDS, (value) => value >= 0);
    initialMaxconn = integer(HAPROXY_SERVER_STATE_FIELDS + 1, (value) => value >= 0);
  }
  if (problems.length > 0) return `${problems.join(", ")} (server "${field(1)}/${field(3)}")`;
  return {
    line,
    backendName: field(1),
    serverName: field(3),
    address: field(4),
    opState,
    adminState,
    userWeight,
    initialWeight,
    secondsSinceChange,
    checkState,
    fqdn,
    port,
    maxconn,
    initialMaxconn,
  };
}

/** The start of a long value, for a message. */
function abbreviate(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 40)}…`;
}
