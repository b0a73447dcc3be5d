/**
 * `show servers state`: HAProxy's server-state format (version 1, the one its `server-state-file`
 * is written in): a version line, the field names, then one line per server with its volatile
 * state (proxy.c, dump_servers_state).
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
]);

/** HAProxy's srv_op_state values. */
export const SERVER_OP_STOPPED = 0;
export const SERVER_OP_STARTING = 1;
export const SERVER_OP_RUNNING = 2;

/** HAProxy's srv_admin_state flags we set. */
export const SERVER_ADMIN_FORCED_MAINT = 0x01;
export const SERVER_ADMIN_FORCED_DRAIN = 0x08;

/** HAProxy's check state flags (CHK_ST_*). */
export const CHECK_STATE_CONFIGURED = 0x02;
export const CHECK_STATE_ENABLED = 0x04;
export const CHECK_STATE_PAUSED = 0x08;

/** HAProxy's check results (CHK_RES_*). */
export const CHECK_RESULT_UNKNOWN = 0;
export const CHECK_RESULT_FAILED = 2;
export const CHECK_RESULT_PASSED = 3;

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
  ].join(" ");
}

/** The whole answer: the version, the field names, a line per server. */
export function serversStateText(rows: readonly ServerStateRow[]): string {
  const lines = [String(SERVER_STATE_VERSION), `# ${SERVER_STATE_FIELDS.join(" ")}`, ...rows.map(serverStateLine)];
  return lines.join("\n") + "\n";
}
