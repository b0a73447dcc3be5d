import { test } from "node:test";
import assert from "node:assert/strict";
import { formatShowStatJson } from "../src/stats/json.ts";
import { formatShowStat, parseShowStat, type ShowStatRequest } from "../src/stats/show_stat.ts";
import { STAT_FIELD_NAMES } from "../src/stats/stat_fields.ts";
import { statRows } from "../src/stats/stat_rows.ts";
import { formatShowStatTyped } from "../src/stats/typed.ts";
import { readStatsCsv } from "./helpers/csv_reader.ts";
import { makeSnapshot } from "./helpers/stats_fixture.ts";

function request(words: string): ShowStatRequest {
  const parsed = parseShowStat(words === "" ? [] : words.split(" "), makeSnapshot());
  assert.ok(parsed.ok, `"show stat ${words}" parses`);
  return parsed.request;
}

function rowNames(words: string): string[] {
  return statRows(makeSnapshot(), request(words)).map((row) => {
    const values = row.values;
    return `${values[0]!.value}/${values[1]!.value}`;
  });
}

test("show stat without arguments is every row, as CSV", () => {
  const parsed = request("");
  assert.equal(parsed.format, "csv");
  assert.equal(rowNames("").length, 10);
  assert.equal(formatShowStat(makeSnapshot(), parsed).split("\n")[0]!.slice(0, 20), "# pxname,svname,qcur");
});

test("show stat <iid> <type> <sid>: -1 is all, the type is a mask of 1 frontends, 2 backends, 4 servers", () => {
  assert.equal(rowNames("-1 -1 -1").length, 10);
  assert.deepEqual(rowNames("-1 1 -1"), ["http-in/FRONTEND", "tcp-in/FRONTEND"]);
  assert.deepEqual(rowNames("-1 2 -1"), ["app/BACKEND", "db/BACKEND"]);
  assert.deepEqual(rowNames("3 4 -1"), ["app/web1", "app/web2", "app/web3", "app/web4", "app/spare"]);
  assert.deepEqual(rowNames("3 4 2"), ["app/web2"]);
  assert.deepEqual(rowNames("3 6 2"), ["app/web2", "app/BACKEND"]);
  assert.deepEqual(rowNames("-1 5 1"), ["http-in/FRONTEND", "tcp-in/FRONTEND", "app/web1", "db/db1"]);
  assert.deepEqual(rowNames("4 -1 -1"), ["db/db1", "db/BACKEND"]);
  assert.deepEqual(rowNames("9 -1 -1"), [], "an unknown number selects nothing, as in HAProxy");
});

test("show stat takes a proxy name where the iid goes", () => {
  assert.deepEqual(rowNames("db -1 -1"), ["db/db1", "db/BACKEND"]);
  assert.deepEqual(rowNames("tcp-in 1 -1"), ["tcp-in/FRONTEND"]);
});

test("show stat answers HAProxy's errors", () => {
  assert.deepEqual(parseShowStat(["nosuch", "-1", "-1"], makeSnapshot()), { ok: false, error: "No such proxy." });
  assert.deepEqual(parseShowStat(["0", "-1", "-1"], makeSnapshot()), { ok: false, error: "No such proxy." });
  assert.deepEqual(parseShowStat(["domain", "dns"], makeSnapshot()), { ok: false, error: "Invalid statistics domain." });
  assert.equal(parseShowStat(["domain", "proxy", "json"], makeSnapshot()).ok, true);
});

test("up and no-maint leave servers out, and the backend status counts the running ones", () => {
  assert.deepEqual(rowNames("no-maint"), ["http-in/FRONTEND", "tcp-in/FRONTEND", "app/web1", "app/web2", "app/web4", "app/spare", "app/BACKEND", "db/db1", "db/BACKEND"]);
  assert.deepEqual(rowNames("up"), ["http-in/FRONTEND", "tcp-in/FRONTEND", "app/web1", "app/web4", "app/spare", "app/BACKEND", "db/db1", "db/BACKEND"]);
  const { rows } = readStatsCsv(formatShowStat(makeSnapshot(), request("up")));
  // web1 UP, web4 DRAIN and spare "no check" run; web2 DOWN and web3 MAINT do not.
  assert.equal(rows.find((row) => row.pxname === "app" && row.svname === "BACKEND")!.status, "UP (3/5)");
  assert.equal(rows.find((row) => row.pxname === "db" && row.svname === "BACKEND")!.status, "UP (1/1)");
  assert.equal(readStatsCsv(formatShowStat(makeSnapshot(), request(""))).rows[7]!.status, "UP");
});

test("show stat up keeps a server on its way up", () => {
  const snapshot = makeSnapshot();
  const goingUp = { ...snapshot.backends[1]!.servers[0]!, status: "DOWN 1/2" };
  const changed = { ...snapshot, backends: [snapshot.backends[0]!, { ...snapshot.backends[1]!, servers: [goingUp] }] };
  const names = statRows(changed, { upOnly: true }).map((row) => row.values[1]!.value);
  assert.ok(names.includes("db1"));
});

test("show stat typed: F.iid.sid.pos.name.pid:tags:type:value for each filled field", () => {
  const parsed = request("typed");
  assert.equal(parsed.format, "typed");
  const text = formatShowStat(makeSnapshot(), parsed);
  const lines = text.split("\n");
  assert.equal(lines.at(-1), "");
  assert.ok(lines.includes("F.1.0.0.pxname.1:KNS:str:http-in"));
  assert.ok(lines.includes("F.1.0.1.svname.1:KNS:str:FRONTEND"));
  assert.ok(lines.includes(`F.1.0.7.stot.1:MCP:u64:${makeSnapshot().frontends[0]!.sessionsTotal}`));
  assert.ok(lines.includes("S.3.2.17.status.1:SGP:str:DOWN"));
  assert.ok(lines.includes("S.3.2.36.check_status.1:MOP:str:L4CON"));
  assert.ok(lines.includes("B.4.0.32.type.1:CGS:u32:1"));
  assert.ok(lines.includes(`B.3.0.55.lastsess.1:MAP:s32:${makeSnapshot().backends[0]!.lastSessionSeconds}`));
  assert.ok(!lines.some((line) => /^F\.\d+\.0\.2\.qcur\./.test(line)), "a frontend has no qcur");
  assert.ok(lines.some((line) => /^S\.3\.1\.2\.qcur\.1:MGP:u32:\d+$/.test(line)), "a server has one");
  for (const line of lines.slice(0, -1)) {
    const match = /^([FBS])\.(\d+)\.(\d+)\.(\d+)\.([a-z0-9_]+)\.1:([MSKCP][GLmMRCDATNOa][PSsC]):(u32|u64|s32|str):(.*)$/.exec(line);
    assert.ok(match, line);
    assert.equal(STAT_FIELD_NAMES[Number(match[4])], match[5], line);
  }
  assert.equal(formatShowStatTyped(makeSnapshot(), { filter: { proxy: 4, types: 4, serverId: -1 } }).split("\n")[0], "S.4.1.0.pxname.1:KNS:str:db");
});

/** A field object of HAProxy's `show stat json`. */
interface TypedJsonField {
  objType: string;
  proxyId: number;
  id: number;
  field: { pos: number; name: string };
  processNum: number;
  tags: { origin: string; nature: string; scope: string };
  value: { type: string; value: number | string };
}

test("show stat json is HAProxy's typed JSON: rows of field objects", () => {
  assert.equal(request("json").format, "json");
  assert.equal(request("typed json").format, "json", "the last format word wins");
  const parsed = JSON.parse(formatShowStatJson(makeSnapshot())) as TypedJsonField[][];
  assert.equal(parsed.length, 10);
  const frontendRow = parsed[0]!;
  assert.deepEqual(frontendRow[0], {
    objType: "Frontend",
    proxyId: 1,
    id: 0,
    field: { pos: 0, name: "pxname" },
    processNum: 1,
    tags: { origin: "Key", nature: "Name", scope: "Service" },
    value: { type: "str", value: "http-in" },
  });
  const byName = (row: TypedJsonField[], name: string) => row.find((field) => field.field.name === name);
  assert.deepEqual(byName(frontendRow, "bin")!.value, { type: "u64", value: makeSnapshot().frontends[0]!.bytesIn });
  assert.deepEqual(byName(frontendRow, "bin")!.tags, { origin: "Metric", nature: "Counter", scope: "Process" });
  assert.equal(byName(frontendRow, "qcur"), undefined, "empty fields are left out");
  const server = parsed[3]!;
  assert.equal(byName(server, "svname")!.value.value, "web2");
  assert.equal(byName(server, "svname")!.objType, "Server");
  assert.equal(byName(server, "svname")!.id, 2);
  assert.deepEqual(byName(server, "weight")!.tags, { origin: "Metric", nature: "Avg", scope: "Process" });
  assert.deepEqual(byName(server, "check_duration")!.tags, { origin: "Metric", nature: "Duration", scope: "Process" });
  for (const row of parsed) {
    for (const field of row) assert.equal(STAT_FIELD_NAMES[field.field.pos], field.field.name);
  }
});

test("show stat json escapes names as JSON", () => {
  const snapshot = makeSnapshot();
  const odd = { ...snapshot, frontends: [{ ...snapshot.frontends[0]!, name: 'a"b\\c\n' }], backends: [] };
  const parsed = JSON.parse(formatShowStatJson(odd));
  assert.equal(parsed[0][0].value.value, 'a"b\\c\n');
});
