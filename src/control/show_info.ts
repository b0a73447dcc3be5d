/**
 * `show info`: the process, as HAProxy's `Name: value` lines, with HAProxy's field names
 * (stats.c, stat_cols_info) for what we count, in HAProxy's order; what HAProxy has no field for
 * (the runtime, memory as the JavaScript runtime sees it) comes last under names of our own.
 *
 * @module
 */

import type { ProcessStats } from "../stats/snapshot.ts";

/** HAProxy's uptime format: "0d 1h02m03s". */
export function formatUptime(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const days = Math.floor(whole / 86_400);
  const hours = Math.floor((whole % 86_400) / 3_600);
  const minutes = Math.floor((whole % 3_600) / 60);
  const rest = whole % 60;
  return `${days}d ${hours}h${String(minutes).padStart(2, "0")}m${String(rest).padStart(2, "0")}s`;
}

/** The `show info` answer. */
export function showInfoText(info: ProcessStats): string {
  const fields: Array<[string, string | number]> = [
    ["Name", info.name],
    ["Version", info.version],
    ["Nbthread", 1],
    ["Nbproc", info.processes],
    ["Process_num", 1],
    ["Pid", info.pid],
    ["Uptime", formatUptime(info.uptimeSeconds)],
    ["Uptime_sec", Math.floor(info.uptimeSeconds)],
    ["Start_time_sec", Math.floor(info.startedAt / 1_000)],
    ["Maxconn", info.maxconn],
    ["Hard_maxconn", info.maxconn],
    ["CurrConns", info.currentConnections],
    ["CumConns", info.totalConnections],
    ["CumReq", info.totalRequests],
    ["ConnRate", info.connectionRate],
    ["ConnRateLimit", 0],
    ["MaxConnRate", info.connectionRateMax],
    ["SessRate", info.connectionRate],
    ["SessRateLimit", 0],
    ["MaxSessRate", info.connectionRateMax],
    ["Idle_pct", Math.round(info.idlePercent)],
    ["Stopping", info.stopping ? 1 : 0],
    ["Runtime", info.runtime],
    ["ReqRate", info.requestRate],
    ["MaxReqRate", info.requestRateMax],
    ["Memory_rss_bytes", info.memoryRss],
    ["Memory_heap_used_bytes", info.memoryHeapUsed],
  ];
  return fields.map(([name, value]) => `${name}: ${value}`).join("\n") + "\n";
}
