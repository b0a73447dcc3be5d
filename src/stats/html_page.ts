/**
 * The stats page: one self-contained HTML document (inline CSS, no script, no outside asset)
 * laid out like HAProxy's: the process at the top, then a table per proxy with a row per
 * frontend, per server and per backend, coloured by state with HAProxy's palette (light and dark).
 *
 * Built for a phone as well: the viewport follows the device, each wide table scrolls sideways
 * inside its own box with the name column kept in view, and the counters HAProxy hides in
 * tooltips (response classes, average times) have columns of their own, since a phone has no
 * hover.
 *
 * Refresh: a `<meta http-equiv="refresh">` every {@link DEFAULT_REFRESH_SECONDS} seconds unless
 * told otherwise (HAProxy refreshes only with `stats refresh`; a page opened to watch a proxy is
 * a page meant to refresh). The page links to `<uri>;norefresh`, HAProxy's switch for one view
 * without refresh, which the caller turns into `refreshSeconds: 0`.
 *
 * Every name and every text from the snapshot is escaped: a server named `<script>` shows as
 * text.
 *
 * @module
 */

import type { BackendStats, FrontendStats, ProcessStats, ServerStats, StatsSnapshot } from "./snapshot.ts";

/** Seconds between reloads of the page when the caller does not say. */
export const DEFAULT_REFRESH_SECONDS = 10;

/** How to render the page. */
export interface StatsPageOptions {
  /**
   * The stats URI the page answers on, as configured ("/stats", "/"): the CSV, JSON and refresh
   * links are relative to it, so they still work behind a proxy that mounts the page elsewhere.
   */
  readonly uri: string;
  /** Seconds between reloads; 0 for none. Default {@link DEFAULT_REFRESH_SECONDS}. */
  readonly refreshSeconds?: number;
  /** Show servers' addresses and backends' algorithms (HAProxy's `stats show-legends`). Default false. */
  readonly showLegends?: boolean;
}

/** Text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** The page. */
export function renderStatsPage(snapshot: StatsSnapshot, options: StatsPageOptions): string {
  const refreshSeconds = options.refreshSeconds ?? DEFAULT_REFRESH_SECONDS;
  const title = `Statistics Report for ${snapshot.info.name}`;
  const refresh = refreshSeconds > 0 ? `<meta http-equiv="refresh" content="${Math.ceil(refreshSeconds)}">\n` : "";
  const tables = [
    ...snapshot.frontends.map((frontend) => frontendTable(frontend)),
    ...snapshot.backends.map((backend) => backendTable(backend, options.showLegends ?? false)),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${processSection(snapshot.info)}
${linksSection(options.uri, refreshSeconds)}
${LEGEND}
${tables.join("\n")}
</body>
</html>
`;
}

/** A link relative to the page: its last path segment, behind "./" so no segment reads as a scheme. */
function relativeLink(uri: string, suffix: string): string {
  const path = uri.split(/[?#;]/, 1)[0]!;
  return `./${path.slice(path.lastIndexOf("/") + 1)}${suffix}`;
}

function linksSection(uri: string, refreshSeconds: number): string {
  const links = [
    `<a href="${escapeHtml(relativeLink(uri, ""))}">Refresh now</a>`,
    refreshSeconds > 0 ? `<a href="${escapeHtml(relativeLink(uri, ";norefresh"))}">Stop refresh (every ${refreshSeconds} s)</a>` : "",
    `<a href="${escapeHtml(relativeLink(uri, ";csv"))}">CSV export</a>`,
    `<a href="${escapeHtml(relativeLink(uri, ";json"))}">JSON export</a>`,
  ];
  return `<nav class="links">${links.filter((link) => link !== "").join(" ")}</nav>`;
}

function processSection(info: ProcessStats): string {
  const now = new Date(info.startedAt + info.uptimeSeconds * 1_000);
  const facts: [string, string][] = [
    ["pid", `${info.pid}${info.processes > 1 ? ` (${info.processes} processes)` : ""}`],
    ["version", `${info.version}, ${info.runtime}`],
    ["uptime", duration(info.uptimeSeconds)],
    ["updated", isoDate(now)],
    ["connections", `${info.currentConnections} current, ${info.totalConnections} total, maxconn ${info.maxconn}`],
    ["connection rate", `${info.connectionRate}/s, max ${info.connectionRateMax}/s`],
    ["requests", `${info.totalRequests} total, ${info.requestRate}/s, max ${info.requestRateMax}/s`],
    ["memory", `${bytes(info.memoryRss)} resident, ${bytes(info.memoryHeapUsed)} heap`],
    ["idle", `${info.idlePercent}%`],
  ];
  if (info.stopping) facts.push(["state", "stopping"]);
  const items = facts.map(([name, value]) => `<div><dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd></div>`);
  return `<dl class="info">${items.join("")}</dl>`;
}

function isoDate(date: Date): string {
  return Number.isFinite(date.getTime()) ? date.toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

/** HAProxy's way of writing a duration: "3d 4h05m", "12m04s", "7s". */
export function duration(totalSeconds: number): string {
  if (totalSeconds < 0) return "";
  let seconds = Math.floor(totalSeconds);
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3_600);
  seconds -= hours * 3_600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const two = (value: number) => String(value).padStart(2, "0");
  if (days > 0) return `${days}d ${hours}h${two(minutes)}m`;
  if (hours > 0) return `${hours}h${two(minutes)}m`;
  if (minutes > 0) return `${minutes}m${two(seconds)}s`;
  return `${seconds}s`;
}

function bytes(count: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = count;
  let unit = 0;
  while (value >= 1_024 && unit < units.length - 1) {
    value /= 1_024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * The column groups: HAProxy's, queue to server (Denied shows refused connections where HAProxy
 * shows denied responses, which we never count), then ours, HTTP and times.
 */
const GROUPS: readonly [title: string, columns: readonly string[]][] = [
  ["Queue", ["Cur", "Max", "Limit"]],
  ["Session rate", ["Cur", "Max"]],
  ["Sessions", ["Cur", "Max", "Limit", "Total", "LbTot", "Last"]],
  ["Bytes", ["In", "Out"]],
  ["Denied", ["Req", "Conn"]],
  ["Errors", ["Req", "Conn", "Resp"]],
  ["Warnings", ["Retr", "Redis"]],
  ["Server", ["Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme", "Thrtle"]],
  ["HTTP", ["Req", "1xx", "2xx", "3xx", "4xx", "5xx", "Other"]],
  ["Avg times (ms)", ["Queue", "Connect", "Response", "Total"]],
];

const COLUMN_COUNT = GROUPS.reduce((count, [, columns]) => count + columns.length, 0);

type Cell = string | number | null;

function tableHead(kind: string, name: string, subtitle: string): string {
  const groups = GROUPS.map(([title, columns]) => `<th colspan="${columns.length}">${escapeHtml(title)}</th>`).join("");
  const columns = GROUPS.flatMap(([, names]) => names.map((column) => `<th>${escapeHtml(column)}</th>`)).join("");
  return `<section class="proxy">
<h2><span class="kind">${escapeHtml(kind)}</span> ${escapeHtml(name)}${subtitle === "" ? "" : ` <small>${escapeHtml(subtitle)}</small>`}</h2>
<div class="scroll"><table>
<thead><tr><th rowspan="2" class="name">Name</th>${groups}</tr><tr>${columns}</tr></thead>
<tbody>`;
}

const TABLE_END = "</tbody></table></div></section>";

function row(className: string, name: string, cells: readonly Cell[], nameTitle = ""): string {
  if (cells.length !== COLUMN_COUNT) throw new Error(`Stats page row has ${cells.length} cells, expected ${COLUMN_COUNT}`);
  const title = nameTitle === "" ? "" : ` title="${escapeHtml(nameTitle)}"`;
  const tds = cells.map((cell) => `<td>${cell === null ? "" : escapeHtml(String(cell))}</td>`).join("");
  return `<tr class="${className}"><th class="name"${title}>${escapeHtml(name)}</th>${tds}</tr>`;
}

function httpCells(stats: FrontendStats | BackendStats | ServerStats, http: boolean): Cell[] {
  if (!http) return [null, null, null, null, null, null, null];
  const r = stats.responses;
  return [stats.requestsTotal, r["1xx"], r["2xx"], r["3xx"], r["4xx"], r["5xx"], r.other];
}

function timeCells(stats: BackendStats | ServerStats): Cell[] {
  return [stats.queueTime, stats.connectTime, stats.responseTime, stats.totalTime];
}

function since(seconds: number): string | null {
  return seconds < 0 ? null : duration(seconds);
}

function frontendTable(frontend: FrontendStats): string {
  const http = frontend.mode === "http";
  const cells: Cell[] = [
    null, null, null,
    frontend.sessionRate, frontend.sessionRateMax,
    frontend.sessionsCurrent, frontend.sessionsMax, frontend.sessionsLimit || null, frontend.sessionsTotal, null, null,
    frontend.bytesIn, frontend.bytesOut,
    frontend.deniedRequests, frontend.deniedConnections,
    frontend.requestErrors, null, null,
    null, null,
    frontend.status, null, null, null, null, null, null, null, null,
    ...httpCells(frontend, http),
    null, null, null, null,
  ];
  const stateClass = frontend.status === "STOP" ? " maintain" : frontend.status === "FULL" ? " active_going_down" : "";
  return `${tableHead("frontend", frontend.name, frontend.mode)}
${row(`frontend${stateClass}`, "Frontend", cells)}
${TABLE_END}`;
}

/** HAProxy's row colour for a server status: its CSS class names. */
export function serverStateClass(server: Pick<ServerStats, "status" | "backup">): string {
  const status = server.status;
  if (status.startsWith("MAINT")) return "maintain";
  const side = server.backup ? "backup" : "active";
  if (status.startsWith("DRAIN")) return `${side}_draining`;
  if (status === "NOLB") return `${side}_nolb`;
  if (status.startsWith("NOLB ") || status.startsWith("UP ")) return `${side}_going_down`;
  if (status === "UP") return `${side}_up`;
  if (status === "no check") return `${side}_no_check`;
  if (/^DOWN \d/.test(status)) return `${side}_going_up`;
  return `${side}_down`;
}

/** HAProxy's LastChk: "L7OK/200 in 3ms", while checks run (not when disabled or paused by maintenance). */
function lastCheck(server: ServerStats): string | null {
  const check = server.check;
  if (check === null || !check.enabled || check.status === "MAINT") return null;
  let text = check.status;
  if (check.code !== null) text += `/${check.code}`;
  if (check.durationMs >= 0) text += ` in ${check.durationMs}ms`;
  return text;
}

function serverRow(backend: BackendStats, server: ServerStats, showLegends: boolean): string {
  const checked = server.check !== null && server.check.enabled;
  const cells: Cell[] = [
    server.queueCurrent, server.queueMax, server.queueLimit || null,
    server.sessionRate, server.sessionRateMax,
    server.sessionsCurrent, server.sessionsMax, server.sessionsLimit || null, server.sessionsTotal, server.selectedTotal,
    since(server.lastSessionSeconds),
    server.bytesIn, server.bytesOut,
    null, null,
    null, server.connectionErrors, server.responseErrors,
    server.retries, server.redispatches,
    `${duration(server.lastChangeSeconds)} ${server.status}`, lastCheck(server), `${server.weight}/${server.configuredWeight}`,
    server.backup ? "-" : "Y", server.backup ? "Y" : "-",
    checked ? server.checkFailures : null, checked ? server.downTransitions : null, checked ? duration(server.downtimeSeconds) : null,
    server.throttlePercent < 100 ? `${server.throttlePercent}%` : "-",
    ...httpCells(server, backend.mode === "http"),
    ...timeCells(server),
  ];
  const title = server.check?.description ?? "";
  return row(`server ${serverStateClass(server)}`, server.name, cells, showLegends ? `${server.address}${title === "" ? "" : ` (${title})`}` : title);
}

function backendTable(backend: BackendStats, showLegends: boolean): string {
  const cells: Cell[] = [
    backend.queueCurrent, backend.queueMax, null,
    backend.sessionRate, backend.sessionRateMax,
    backend.sessionsCurrent, backend.sessionsMax, backend.sessionsLimit || null, backend.sessionsTotal, backend.selectedTotal,
    since(backend.lastSessionSeconds),
    backend.bytesIn, backend.bytesOut,
    backend.deniedRequests, null,
    null, backend.connectionErrors, backend.responseErrors,
    backend.retries, backend.redispatches,
    `${duration(backend.lastChangeSeconds)} ${backend.status}`, null, `${backend.weight}/${backend.configuredWeight}`,
    backend.activeServers, backend.backupServers,
    null, backend.downTransitions, backend.servers.length > 0 ? duration(backend.downtimeSeconds) : null,
    null,
    ...httpCells(backend, backend.mode === "http"),
    ...timeCells(backend),
  ];
  const subtitle = showLegends ? `${backend.mode}, ${backend.algorithm}` : backend.mode;
  const servers = backend.servers.map((server) => serverRow(backend, server, showLegends));
  const stateClass = backend.status === "DOWN" ? " active_down" : "";
  return `${tableHead("backend", backend.name, subtitle)}
${servers.join("\n")}${servers.length > 0 ? "\n" : ""}${row(`backend${stateClass}`, "Backend", cells)}
${TABLE_END}`;
}

/** The colours, explained as HAProxy's page explains them. */
const LEGEND = `<ul class="legend">
<li><span class="swatch active_up"></span>active UP</li>
<li><span class="swatch backup_up"></span>backup UP</li>
<li><span class="swatch active_going_down"></span>UP, going down</li>
<li><span class="swatch active_going_up"></span>DOWN, going up</li>
<li><span class="swatch active_down"></span>DOWN</li>
<li><span class="swatch active_nolb"></span>NOLB</li>
<li><span class="swatch active_draining"></span>DRAIN</li>
<li><span class="swatch maintain"></span>MAINT</li>
<li><span class="swatch active_no_check"></span>not checked</li>
</ul>`;

/** HAProxy's palette (its stats page, light and dark), on a layout that fits a phone. */
const STYLE = `
:root { color-scheme: light dark; }
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; font-size: 14px; margin: 0.5rem; color: #000; background: #fff; }
h1 { font-size: 1.2rem; margin: 0.3rem 0; }
h2 { font-size: 1rem; margin: 1rem 0 0.2rem; }
h2 .kind { display: inline-block; background: #b00040; color: #ffff40; padding: 0 0.4em; border-radius: 3px; font-size: 0.8em; text-transform: uppercase; }
h2 small { font-weight: normal; color: #666; }
dl.info { display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; margin: 0.3rem 0; }
dl.info div { display: flex; gap: 0.4em; }
dl.info dt { font-weight: bold; }
dl.info dd { margin: 0; }
nav.links a { margin-right: 1em; white-space: nowrap; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; font-size: 0.85em; }
.swatch { display: inline-block; width: 1em; height: 1em; margin-right: 0.3em; vertical-align: middle; border: 1px solid #888; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
table { border-collapse: collapse; font-size: 12px; white-space: nowrap; }
th, td { border: 1px solid #999; padding: 1px 4px; }
td { text-align: right; }
thead th { background: #20d0d0; color: #000; }
th.name { position: sticky; left: 0; text-align: left; background: inherit; z-index: 1; }
thead th.name { background: #20d0d0; }
tr.frontend, tr.backend { background: #e8e8d0; font-weight: bold; }
.active_down { background: #ff9090; }
.active_going_up { background: #ffd020; }
.active_going_down { background: #ffffa0; }
.active_up { background: #c0ffc0; }
.active_nolb { background: #20a0ff; }
.active_draining { background: #20a0ff; }
.active_no_check { background: #e0e0e0; }
.backup_down { background: #ff9090; }
.backup_going_up { background: #ff80ff; }
.backup_going_down { background: #c060ff; }
.backup_up { background: #b0d0ff; }
.backup_nolb { background: #90b0e0; }
.backup_draining { background: #cc9900; }
.backup_no_check { background: #e0e0e0; }
.maintain { background: #c07820; }
tr.active_down, tr.backup_down { font-weight: bold; }
@media (prefers-color-scheme: dark) {
  body { color: #e8e6e3; background: #131516; }
  h2 small { color: #aaa; }
  th, td { border-color: #444; }
  thead th, thead th.name { background: #0f6a6a; color: #e8e6e3; }
  tr.frontend, tr.backend { background: #2f3437; }
  .active_down, .backup_down { background: #760000; }
  .active_going_up { background: #b99200; }
  .active_going_down { background: #6c6c00; }
  .active_up { background: #165900; }
  .active_nolb, .active_draining { background: #006ab9; }
  .active_no_check, .backup_no_check { background: #2a2d2f; }
  .backup_going_up { background: #7f007f; }
  .backup_going_down { background: #580092; }
  .backup_up { background: #2e3234; }
  .backup_nolb { background: #1e3c6a; }
  .backup_draining { background: #a37a00; }
  .maintain { background: #9a601a; }
}
`;
