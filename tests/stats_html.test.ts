import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_REFRESH_SECONDS, duration, escapeHtml, renderStatsPage, serverStateClass } from "../src/stats/html_page.ts";
import { backend, frontend, makeSnapshot, processStats, server } from "./helpers/stats_fixture.ts";

function page(options: Partial<Parameters<typeof renderStatsPage>[1]> = {}, snapshot = makeSnapshot()): string {
  return renderStatsPage(snapshot, { uri: "/stats", ...options });
}

/** The rows of the page: their class and name cell. */
function rows(html: string): { className: string; name: string; cells: string[] }[] {
  return [...html.matchAll(/<tr class="([^"]*)"><th class="name"[^>]*>([^<]*)<\/th>(.*?)<\/tr>/g)].map((match) => ({
    className: match[1]!,
    name: match[2]!,
    cells: [...match[3]!.matchAll(/<td>([^<]*)<\/td>/g)].map((cell) => cell[1]!),
  }));
}

test("a self-contained document: doctype, viewport, inline style, no script and no outside asset", () => {
  const html = page();
  assert.ok(html.startsWith("<!DOCTYPE html>\n<html lang=\"en\">"));
  assert.ok(html.includes('<meta name="viewport" content="width=device-width, initial-scale=1">'));
  assert.ok(html.includes("<style>"));
  assert.equal(/<script|<link|<img|src=|@import|url\(/i.test(html), false);
  assert.ok(html.trimEnd().endsWith("</html>"));
});

test("a table per proxy, a row per frontend, server and backend, in order", () => {
  const html = page();
  assert.equal((html.match(/<table>/g) ?? []).length, 4);
  assert.equal((html.match(/<section class="proxy">/g) ?? []).length, 4);
  const found = rows(html);
  assert.deepEqual(found.map((row) => row.name), ["Frontend", "Frontend", "web1", "web2", "web3", "web4", "spare", "Backend", "db1", "Backend"]);
  const widths = new Set(found.map((row) => row.cells.length));
  assert.equal(widths.size, 1, "every row has as many cells");
  assert.ok(html.includes("<h2><span class=\"kind\">backend</span> app <small>http</small></h2>"));
});

test("rows are coloured by state with HAProxy's classes", () => {
  const classes = Object.fromEntries(rows(page()).map((row) => [row.name, row.className]));
  assert.equal(classes.web1, "server active_up");
  assert.equal(classes.web2, "server active_down");
  assert.equal(classes.web3, "server maintain");
  assert.equal(classes.web4, "server active_draining");
  assert.equal(classes.spare, "server backup_no_check");
  assert.equal(classes.db1, "server active_going_down");
  assert.equal(serverStateClass({ status: "DOWN 1/2", backup: false }), "active_going_up");
  assert.equal(serverStateClass({ status: "UP", backup: true }), "backup_up");
  assert.equal(serverStateClass({ status: "NOLB", backup: false }), "active_nolb");
  assert.equal(serverStateClass({ status: "DOWN (agent)", backup: true }), "backup_down");
  const downBackend = page({}, { info: processStats(), frontends: [], backends: [backend({ status: "DOWN", servers: [] })] });
  assert.equal(rows(downBackend)[0]!.className, "backend active_down");
  for (const name of ["active_up", "active_down", "active_going_up", "active_going_down", "maintain", "active_draining", "backup_up"]) {
    assert.ok(new RegExp(`\\.${name} \\{ background: #[0-9a-f]{6}; \\}`).test(page()), `${name} has a colour`);
  }
});

test("the cells show the counters: sessions, bytes, status and check", () => {
  const snapshot = makeSnapshot();
  const web1 = snapshot.backends[0]!.servers[0]!;
  const row = rows(page())[2]!;
  assert.equal(row.cells[0], String(web1.queueCurrent));
  assert.equal(row.cells[5], String(web1.sessionsCurrent));
  assert.equal(row.cells[8], String(web1.sessionsTotal));
  assert.equal(row.cells[11], String(web1.bytesIn));
  assert.equal(row.cells[12], String(web1.bytesOut));
  assert.equal(row.cells[20], `${duration(web1.lastChangeSeconds)} UP`);
  assert.equal(row.cells[21], "L7OK/200 in 3ms");
  assert.equal(row.cells[22], "100/100");
  assert.equal(row.cells[29], String(web1.requestsTotal));
  assert.equal(row.cells[34], String(web1.responses["5xx"]));
  assert.equal(row.cells[38], String(web1.responseTime));
  assert.equal(row.cells.length, 40);
  const db1 = rows(page()).find((found) => found.name === "db1")!;
  assert.equal(db1.cells[29], "", "tcp: no HTTP counts");
});

test("the process header: pid, uptime, version, runtime, connections, memory", () => {
  const html = page();
  assert.ok(html.includes("<dt>pid</dt><dd>4242</dd>"));
  assert.ok(html.includes("<dt>uptime</dt><dd>1h02m</dd>"));
  assert.ok(html.includes("<dt>version</dt><dd>0.1.0, node 24.21.0</dd>"));
  assert.ok(html.includes("<dt>connections</dt><dd>7 current, 1500 total, maxconn 4096</dd>"));
  assert.ok(html.includes("<dt>memory</dt><dd>50.0 MiB resident, 10.0 MiB heap</dd>"));
  assert.ok(html.includes("<dt>updated</dt><dd>2025-01-01T01:02:05Z</dd>"));
  assert.ok(page({}, { ...makeSnapshot(), info: processStats({ processes: 2 }) }).includes("<dd>4242 (2 processes)</dd>"));
});

test("refresh: the default, a chosen period, none", () => {
  assert.equal(DEFAULT_REFRESH_SECONDS, 10);
  assert.ok(page().includes('<meta http-equiv="refresh" content="10">'));
  assert.ok(page({ refreshSeconds: 30 }).includes('<meta http-equiv="refresh" content="30">'));
  assert.equal(page({ refreshSeconds: 0 }).includes("http-equiv"), false);
  assert.equal(page({ refreshSeconds: 0 }).includes(";norefresh"), false);
});

test("links to ;csv, ;json and ;norefresh are relative to the page's URI", () => {
  const html = page();
  assert.ok(html.includes('<a href="./stats;csv">CSV export</a>'));
  assert.ok(html.includes('<a href="./stats;json">JSON export</a>'));
  assert.ok(html.includes('<a href="./stats;norefresh">'));
  assert.ok(html.includes('<a href="./stats">Refresh now</a>'));
  assert.ok(page({ uri: "/" }).includes('<a href="./;csv">'));
  assert.ok(page({ uri: "/admin/haproxy?stats" }).includes('<a href="./haproxy;json">'));
  assert.ok(page({ uri: '/x"><script>' }).includes('<a href="./x&quot;&gt;&lt;script&gt;;csv">'));
});

test("every name is escaped: no markup from a frontend, backend, server, check or version", () => {
  const evil = '<script>alert("x")</script>';
  const snapshot = {
    info: processStats({ version: evil, runtime: "<b>", name: "<i>proxy" }),
    frontends: [frontend({ name: evil })],
    backends: [backend({ name: `${evil}&`, algorithm: evil, servers: [server({ name: `<img src=x onerror=alert(1)>`, address: '"><svg>', status: "<u>" })] })],
  };
  const html = page({ showLegends: true }, snapshot);
  assert.equal(html.includes("<script"), false);
  assert.equal(html.includes("<img"), false);
  assert.equal(html.includes("<svg"), false);
  assert.equal(html.includes("<u>"), false);
  assert.equal(html.includes("<b>"), false);
  assert.equal(html.includes("<i>"), false);
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
  assert.ok(html.includes('title="&quot;&gt;&lt;svg&gt; (Layer7 check passed)"'));
  assert.equal(escapeHtml(`<>&"'`), "&lt;&gt;&amp;&quot;&#39;");
});

test("durations read like HAProxy's", () => {
  assert.equal(duration(7), "7s");
  assert.equal(duration(724), "12m04s");
  assert.equal(duration(3_725), "1h02m");
  assert.equal(duration(3 * 86_400 + 4 * 3_600 + 5 * 60), "3d 4h05m");
  assert.equal(duration(-1), "");
});
