import { test } from "node:test";
import assert from "node:assert/strict";
import { csvHeaderLine, csvText, formatStatsCsv } from "../src/stats/csv.ts";
import { STAT_FIELD_NAMES } from "../src/stats/stat_fields.ts";
import { statRows, statValue } from "../src/stats/stat_rows.ts";
import { readCsv, readStatsCsv } from "./helpers/csv_reader.ts";
import { backend, frontend, makeSnapshot, processStats, server } from "./helpers/stats_fixture.ts";

/**
 * HAProxy 2.6's column names, copied in order from stat_fields[] in src/stats.c (tag v2.6.0), so
 * that a name or a position changed in our list fails here.
 */
const HAPROXY_2_6_FIELDS = [
  "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq", "dresp", "ereq",
  "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck", "chkfail", "chkdown", "lastchg",
  "downtime", "qlimit", "pid", "iid", "sid", "throttle", "lbtot", "tracked", "type", "rate", "rate_lim",
  "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
  "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt",
  "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime", "rtime",
  "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise",
  "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo",
  "conn_rate", "conn_rate_max", "conn_tot", "intercepted", "dcon", "dses", "wrew", "connect", "reuse",
  "cache_lookups", "cache_hits", "srv_icur", "src_ilim", "qtime_max", "ctime_max", "rtime_max", "ttime_max",
  "eint", "idle_conn_cur", "safe_conn_cur", "used_conn_cur", "need_conn_est", "uweight",
  "agg_server_check_status",
];

function csvRows(options = {}) {
  return readStatsCsv(formatStatsCsv(makeSnapshot(), options)).rows;
}

function rowOf(rows: Record<string, string>[], pxname: string, svname: string): Record<string, string> {
  const found = rows.filter((row) => row.pxname === pxname && row.svname === svname);
  assert.equal(found.length, 1, `one row ${pxname}/${svname}`);
  return found[0]!;
}

test("the header is HAProxy 2.6's column list in its order, then its '-' marker", () => {
  assert.equal(STAT_FIELD_NAMES.length, 101);
  assert.deepEqual([...STAT_FIELD_NAMES], HAPROXY_2_6_FIELDS);
  const { header } = readStatsCsv(formatStatsCsv(makeSnapshot()));
  assert.deepEqual(header, [...HAPROXY_2_6_FIELDS, "-", ""]);
  assert.equal(csvHeaderLine(), `# ${HAPROXY_2_6_FIELDS.join(",")},-,\n`);
});

test("every line ends with a comma and a bare line feed, as HAProxy writes them", () => {
  const text = formatStatsCsv(makeSnapshot());
  assert.ok(text.endsWith(",-,\n"));
  assert.ok(!text.includes("\r"));
  for (const line of text.split("\n").slice(0, -1)) assert.ok(line.endsWith(",-,"), line);
  assert.equal(readCsv(text).length, 1 + 2 + 5 + 1 + 1 + 1);
});

test("rows come in HAProxy's order: frontends, then each backend's servers and its BACKEND row", () => {
  const order = csvRows().map((row) => `${row.pxname}/${row.svname}`);
  assert.deepEqual(order, [
    "http-in/FRONTEND",
    "tcp-in/FRONTEND",
    "app/web1",
    "app/web2",
    "app/web3",
    "app/web4",
    "app/spare",
    "app/BACKEND",
    "db/db1",
    "db/BACKEND",
  ]);
});

test("a frontend row: its counters in their columns, server-side columns empty", () => {
  const fe = makeSnapshot().frontends[0]!;
  const row = rowOf(csvRows(), "http-in", "FRONTEND");
  const expected: Record<string, string> = {
    scur: String(fe.sessionsCurrent),
    smax: String(fe.sessionsMax),
    slim: String(fe.sessionsLimit),
    stot: String(fe.sessionsTotal),
    bin: String(fe.bytesIn),
    bout: String(fe.bytesOut),
    dreq: String(fe.deniedRequests),
    ereq: String(fe.requestErrors),
    dcon: String(fe.deniedConnections),
    status: "OPEN",
    pid: "1",
    iid: "1",
    sid: "0",
    type: "0",
    rate: String(fe.sessionRate),
    rate_max: String(fe.sessionRateMax),
    req_rate: String(fe.requestRate),
    req_rate_max: String(fe.requestRateMax),
    req_tot: String(fe.requestsTotal),
    hrsp_1xx: String(fe.responses["1xx"]),
    hrsp_2xx: String(fe.responses["2xx"]),
    hrsp_3xx: String(fe.responses["3xx"]),
    hrsp_4xx: String(fe.responses["4xx"]),
    hrsp_5xx: String(fe.responses["5xx"]),
    hrsp_other: String(fe.responses.other),
    intercepted: String(fe.intercepted),
    mode: "http",
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(row[name], value, name);
  for (const empty of ["qcur", "qmax", "econ", "eresp", "wretr", "wredis", "weight", "act", "lastchg", "lbtot", "lastsess", "qtime", "connect", "cli_abrt", "rate_lim", "dresp", "addr", "algo"]) {
    assert.equal(row[empty], "", empty);
  }
  assert.equal(row["-"], "-");
});

test("a tcp frontend leaves the response classes and intercepted empty, but not its request counters", () => {
  const row = rowOf(csvRows(), "tcp-in", "FRONTEND");
  for (const name of ["hrsp_1xx", "hrsp_2xx", "hrsp_5xx", "hrsp_other", "intercepted"]) assert.equal(row[name], "", name);
  assert.equal(row.req_tot, String(makeSnapshot().frontends[1]!.requestsTotal));
  assert.equal(row.status, "FULL");
  assert.equal(row.iid, "2");
});

test("a server row: counters, state, check, times", () => {
  const be = makeSnapshot().backends[0]!;
  const sv = be.servers[0]!;
  const row = rowOf(csvRows(), "app", "web1");
  const expected: Record<string, string> = {
    qcur: String(sv.queueCurrent),
    qmax: String(sv.queueMax),
    scur: String(sv.sessionsCurrent),
    smax: String(sv.sessionsMax),
    slim: "50",
    stot: String(sv.sessionsTotal),
    bin: String(sv.bytesIn),
    bout: String(sv.bytesOut),
    econ: String(sv.connectionErrors),
    eresp: String(sv.responseErrors),
    wretr: String(sv.retries),
    wredis: String(sv.redispatches),
    status: "UP",
    weight: "100",
    uweight: "100",
    act: "1",
    bck: "0",
    chkfail: String(sv.checkFailures),
    chkdown: String(sv.downTransitions),
    lastchg: String(sv.lastChangeSeconds),
    downtime: String(sv.downtimeSeconds),
    qlimit: "20",
    pid: "1",
    iid: "3",
    sid: "1",
    lbtot: String(sv.selectedTotal),
    type: "2",
    rate: String(sv.sessionRate),
    rate_max: String(sv.sessionRateMax),
    check_status: "L7OK",
    check_code: "200",
    check_duration: "3",
    check_desc: "Layer7 check passed",
    check_rise: "2",
    check_fall: "3",
    check_health: "4",
    req_tot: String(sv.requestsTotal),
    hrsp_2xx: String(sv.responses["2xx"]),
    hrsp_5xx: String(sv.responses["5xx"]),
    cli_abrt: String(sv.clientAborts),
    srv_abrt: String(sv.serverAborts),
    lastsess: String(sv.lastSessionSeconds),
    qtime: String(sv.queueTime),
    ctime: String(sv.connectTime),
    rtime: String(sv.responseTime),
    ttime: String(sv.totalTime),
    qtime_max: String(sv.queueTimeMax),
    ctime_max: String(sv.connectTimeMax),
    rtime_max: String(sv.responseTimeMax),
    ttime_max: String(sv.totalTimeMax),
    connect: String(sv.connectionsOpened),
    reuse: String(sv.connectionsReused),
    srv_icur: String(sv.idleConnections),
    mode: "http",
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(row[name], value, name);
  for (const empty of ["dreq", "ereq", "throttle", "tracked", "rate_lim", "req_rate", "addr", "dcon", "intercepted", "last_chk", "agent_status", "agg_server_check_status"]) {
    assert.equal(row[empty], "", empty);
  }
  assert.equal(be.servers[0]!.throttlePercent, 100);
});

test("servers show what HAProxy shows for their state: no limits unset, no check columns unchecked, paused checks half", () => {
  const rows = csvRows();
  const down = rowOf(rows, "app", "web2");
  assert.equal(down.status, "DOWN");
  assert.equal(down.check_status, "L4CON");
  assert.equal(down.check_code, "", "a layer 4 result has no code");
  assert.equal(down.check_health, "0");
  assert.equal(down.slim, "", "no maxconn");
  assert.equal(down.qlimit, "", "no maxqueue");

  const maintenance = rowOf(rows, "app", "web3");
  assert.equal(maintenance.status, "MAINT");
  assert.equal(maintenance.chkfail, String(makeSnapshot().backends[0]!.servers[2]!.checkFailures), "checks enabled: counters shown");
  assert.equal(maintenance.check_status, "", "paused checks: no status");
  assert.equal(maintenance.check_rise, "");

  const draining = rowOf(rows, "app", "web4");
  assert.equal(draining.status, "DRAIN");
  assert.equal(draining.throttle, "40");

  const spare = rowOf(rows, "app", "spare");
  assert.equal(spare.status, "no check");
  assert.equal(spare.act, "0");
  assert.equal(spare.bck, "1");
  for (const empty of ["chkfail", "chkdown", "downtime", "check_status", "check_code", "check_duration", "check_desc", "check_health"]) {
    assert.equal(spare[empty], "", empty);
  }

  const goingDown = rowOf(rows, "db", "db1");
  assert.equal(goingDown.status, "UP 2/3");
  assert.equal(goingDown.check_status, "L4TOUT");
  assert.equal(goingDown.check_duration, "2001");
  assert.equal(goingDown.hrsp_2xx, "", "tcp backend: no response classes");
  assert.equal(goingDown.req_tot, "", "tcp backend: no request count");
  assert.equal(goingDown.iid, "4");
});

test("a backend row: totals, state and servers counted, server columns empty", () => {
  const be = makeSnapshot().backends[0]!;
  const row = rowOf(csvRows(), "app", "BACKEND");
  const expected: Record<string, string> = {
    qcur: String(be.queueCurrent),
    qmax: String(be.queueMax),
    scur: String(be.sessionsCurrent),
    slim: String(be.sessionsLimit),
    stot: String(be.sessionsTotal),
    dreq: String(be.deniedRequests),
    econ: String(be.connectionErrors),
    status: "UP",
    weight: "200",
    uweight: "300",
    act: "2",
    bck: "1",
    chkdown: String(be.downTransitions),
    lastchg: String(be.lastChangeSeconds),
    downtime: String(be.downtimeSeconds),
    iid: "3",
    sid: "0",
    type: "1",
    lbtot: String(be.selectedTotal),
    rate: String(be.sessionRate),
    rate_max: String(be.sessionRateMax),
    req_tot: String(be.requestsTotal),
    hrsp_4xx: String(be.responses["4xx"]),
    lastsess: String(be.lastSessionSeconds),
    ttime: String(be.totalTime),
    ttime_max: String(be.totalTimeMax),
    agg_server_check_status: "0",
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(row[name], value, name);
  for (const empty of ["ereq", "chkfail", "qlimit", "throttle", "check_status", "req_rate", "srv_icur", "algo", "addr"]) {
    assert.equal(row[empty], "", empty);
  }
});

test("addresses and algorithms only with legends, as HAProxy's show-legends", () => {
  const withLegends = readStatsCsv(formatStatsCsv(makeSnapshot(), { showLegends: true })).rows;
  assert.equal(rowOf(withLegends, "app", "web2").addr, "10.0.0.2:8080");
  assert.equal(rowOf(withLegends, "db", "BACKEND").algo, "leastconn");
  assert.equal(rowOf(withLegends, "http-in", "FRONTEND").addr, "");
  assert.equal(rowOf(csvRows(), "app", "web2").addr, "");
});

test("names with commas, quotes and line breaks are quoted as HAProxy's csv_enc and read back whole", () => {
  assert.equal(csvText("plain name"), "plain name");
  assert.equal(csvText('a,"b"'), '"a,""b"""');
  assert.equal(csvText("line\nbreak"), '"line\nbreak"');
  const snapshot = {
    info: processStats(),
    frontends: [frontend({ name: 'web,"edge"\r\nline' })],
    backends: [backend({ name: "b", servers: [server({ name: 'sv "1", the first' })] })],
  };
  const { rows } = readStatsCsv(formatStatsCsv(snapshot));
  assert.equal(rows[0]!.pxname, 'web,"edge"\r\nline');
  assert.equal(rows[1]!.svname, 'sv "1", the first');
  assert.equal(rows[1]!.stot, String(snapshot.backends[0]!.servers[0]!.sessionsTotal));
});

test("values are integers even when a merged average is not", () => {
  const snapshot = { info: processStats(), frontends: [], backends: [backend({ queueTime: 2.6, servers: [] })] };
  const row = statRows(snapshot)[0]!;
  assert.equal(statValue(row, "qtime")?.value, 3);
  assert.equal(statValue(row, "qtime")?.type, "u32");
  assert.equal(statValue(row, "downtime"), undefined, "a backend without servers has no downtime");
  assert.equal(statValue(row, "lastsess")?.type, "s32");
});

test("an empty proxy prints the header alone", () => {
  assert.equal(formatStatsCsv({ info: processStats(), frontends: [], backends: [] }), csvHeaderLine());
});
