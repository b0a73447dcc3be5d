/**
 * The runtime API's interpreter (src/control/runtime_api.ts) on a fake target and a hand-made
 * stats snapshot: every command, every error, every level; the command-line syntax; `help`.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseMaxconn, parseWeight, resolveCommand, RuntimeApi } from "../src/control/runtime_api.ts";
import { quoteWords, splitCommands, splitWords } from "../src/control/command_line.ts";
import { COMMANDS, commandsAt, findCommand, helpText, unknownCommandMessage } from "../src/control/commands.ts";
import { serverStateLine, serversStateText, SERVER_STATE_FIELDS } from "../src/control/server_state.ts";
import { formatUptime, showInfoText } from "../src/control/show_info.ts";
import { isError, levelAllows, NO_ANSWER, SEVERITY_ERR } from "../src/control/types.ts";
import type {
  AccessLevel,
  AdminState,
  Answer,
  ControlBackend,
  ControlServer,
  ControlTarget,
  ServerStateRow,
  StatsReader,
} from "../src/control/types.ts";
import type { BackendStats, FrontendStats, ProcessStats, ServerStats, StatsSnapshot } from "../src/stats/snapshot.ts";

/** A server that records what the API does to it. */
class FakeServer implements ControlServer {
  readonly name: string;
  readonly checked: boolean;
  readonly calls: string[] = [];
  weight: number;
  readonly initial: number;
  sessions = 2;

  constructor(name: string, weight = 10, checked = true) {
    this.name = name;
    this.weight = weight;
    this.initial = weight;
    this.checked = checked;
  }

  weights() {
    return { current: this.weight, initial: this.initial };
  }
  setAdminState(state: AdminState): void {
    this.calls.push(`state ${state}`);
  }
  setWeight(weight: number): void {
    this.weight = weight;
    this.calls.push(`weight ${weight}`);
  }
  setMaxconn(maxconn: number): void {
    this.calls.push(`maxconn ${maxconn}`);
  }
  setHealthChecks(enabled: boolean): void {
    this.calls.push(`health ${enabled ? "on" : "off"}`);
  }
  shutdownSessions(): number {
    this.calls.push("shutdown");
    const count = this.sessions;
    this.sessions = 0;
    return count;
  }
  state(): ServerStateRow {
    return stateRow(this.name, this.weight, this.initial);
  }
}

function stateRow(name: string, userWeight: number, initialWeight: number): ServerStateRow {
  return {
    backendId: 3,
    backendName: "app",
    serverId: name === "a" ? 1 : 2,
    serverName: name,
    address: "10.0.0.1",
    opState: 2,
    adminState: 0,
    userWeight,
    initialWeight,
    secondsSinceChange: 7,
    checkStatus: 15,
    checkResult: 3,
    checkHealth: 4,
    checkState: 6,
    fqdn: "-",
    port: 8080,
    useTls: false,
    checkPort: 0,
    checkAddress: "-",
    maxconn: 20,
    initialMaxconn: 10,
  };
}

class FakeBackend implements ControlBackend {
  readonly name: string;
  readonly servers: FakeServer[];
  constructor(name: string, servers: FakeServer[]) {
    this.name = name;
    this.servers = servers;
  }
  server(name: string): ControlServer | undefined {
    return this.servers.find((server) => server.name === name);
  }
}

function rig(stats: StatsReader | null = fakeStats()) {
  const a = new FakeServer("a", 10);
  const b = new FakeServer("b", 1, false);
  const app = new FakeBackend("app", [a, b]);
  const other = new FakeBackend("other", []);
  const target: ControlTarget = {
    backends: [app, other],
    backend: (name) => [app, other].find((backend) => backend.name === name),
  };
  const api = new RuntimeApi(target, stats);
  const run = (line: string, level: AccessLevel = "admin") => api.execute(splitWords(line), level);
  return { a, b, app, api, run };
}

function text(answer: Answer): string {
  assert.equal(answer.kind, "text", `expected a text answer, got ${JSON.stringify(answer)}`);
  return (answer as { text: string }).text;
}

function error(answer: Answer): string {
  assert.ok(isError(answer), `expected an error, got ${JSON.stringify(answer)}`);
  return (answer as { text: string }).text;
}

// ---- a hand-made snapshot ----

const INFO: ProcessStats = {
  name: "proxy",
  version: "0.1.0",
  runtime: "node 24.21.0",
  pid: 4242,
  processes: 1,
  uptimeSeconds: 3_723,
  startedAt: 1_700_000_000_000,
  maxconn: 2_000,
  currentConnections: 3,
  totalConnections: 120,
  connectionRate: 4,
  connectionRateMax: 9,
  totalRequests: 300,
  requestRate: 5,
  requestRateMax: 11,
  memoryRss: 50_000_000,
  memoryHeapUsed: 20_000_000,
  idlePercent: 97,
  stopping: false,
};

const ZERO_TRAFFIC = {
  sessionsCurrent: 0, sessionsMax: 0, sessionsLimit: 0, sessionsTotal: 0, sessionRate: 0, sessionRateMax: 0,
  bytesIn: 0, bytesOut: 0, deniedRequests: 0, requestErrors: 0, connectionErrors: 0, responseErrors: 0,
  retries: 0, redispatches: 0, responses: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, other: 0 },
  requestsTotal: 0, requestRate: 0, requestRateMax: 0, clientAborts: 0, serverAborts: 0, connectionsOpened: 0, connectionsReused: 0,
};
const ZERO_TIMES = { queueTime: 0, connectTime: 0, responseTime: 0, totalTime: 0, queueTimeMax: 0, connectTimeMax: 0, responseTimeMax: 0, totalTimeMax: 0 };

function serverStats(name: string, id: number, status: string): ServerStats {
  return {
    ...ZERO_TRAFFIC, ...ZERO_TIMES, name, id, address: `10.0.0.${id}:80`, status, weight: 1, configuredWeight: 1, backup: false,
    queueCurrent: 0, queueMax: 0, queueLimit: 0, throttlePercent: 100, checkFailures: 0, downTransitions: 0,
    lastChangeSeconds: 0, downtimeSeconds: 0, lastSessionSeconds: -1, selectedTotal: 0, check: null, idleConnections: 0,
  };
}

function frontendStats(name: string, id: number): FrontendStats {
  return { ...ZERO_TRAFFIC, name, id, mode: "http", status: "OPEN", intercepted: 0, deniedConnections: 0, failedHandshakes: 0, failedProxyHeaders: 0 };
}

function backendStats(name: string, id: number, servers: ServerStats[]): BackendStats {
  return {
    ...ZERO_TRAFFIC, ...ZERO_TIMES, name, id, mode: "http", algorithm: "roundrobin", status: "UP", queueCurrent: 0, queueMax: 0,
    weight: 2, configuredWeight: 2, activeServers: 2, backupServers: 0, downTransitions: 0, lastChangeSeconds: 0,
    downtimeSeconds: 0, lastSessionSeconds: -1, selectedTotal: 0, queueFailures: 0, servers,
  };
}

const SNAPSHOT: StatsSnapshot = {
  info: INFO,
  frontends: [frontendStats("web", 1), frontendStats("app", 2)],
  backends: [
    backendStats("app", 3, [serverStats("a", 1, "UP"), serverStats("b", 2, "DOWN"), serverStats("c", 3, "MAINT")]),
    backendStats("other", 4, []),
  ],
};

function fakeStats(): StatsReader {
  return { snapshot: () => SNAPSHOT };
}

/** The rows of a CSV answer as "pxname,svname,addr". */
function csvRows(csv: string): string[] {
  const lines = csv.trim().split("\n");
  assert.match(lines[0]!, /^# pxname,svname,qcur,qmax,scur,/);
  const header = lines[0]!.slice(2).split(",");
  const addr = header.indexOf("addr");
  return lines.slice(1).map((line) => {
    const columns = line.split(",");
    return `${columns[0]},${columns[1]},${columns[addr]}`;
  });
}

describe("command lines", () => {
  test("commands split at unescaped semicolons, words at spaces and tabs, backslash escapes", () => {
    assert.deepEqual(splitCommands("show info;show stat"), ["show info", "show stat"]);
    assert.deepEqual(splitCommands("a\\;b;c"), ["a\\;b", "c"]);
    assert.deepEqual(splitCommands(""), [""]);
    assert.deepEqual(splitWords("  set  server\tapp/a state   drain "), ["set", "server", "app/a", "state", "drain"]);
    assert.deepEqual(splitWords("a\\ b c\\;d e\\\\f"), ["a b", "c;d", "e\\f"]);
    assert.deepEqual(splitWords("   "), []);
    assert.equal(quoteWords(["show", "foo"]), "'show foo'");
  });

  test("a command is found by its keywords, the longest first", () => {
    assert.deepEqual(findCommand(["show", "servers", "state", "app"])?.words, ["show", "servers", "state"]);
    assert.deepEqual(findCommand(["set", "maxconn", "server", "app/a", "3"])?.words, ["set", "maxconn", "server"]);
    assert.deepEqual(findCommand(["set", "server", "app/a", "state", "drain"])?.words, ["set", "server"]);
    assert.equal(findCommand(["show"]), undefined);
    assert.equal(findCommand(["set", "maxconn", "frontend"]), undefined);
  });
});

describe("levels", () => {
  test("HAProxy's order: user < operator < admin", () => {
    assert.equal(levelAllows("admin", "user"), true);
    assert.equal(levelAllows("operator", "user"), true);
    assert.equal(levelAllows("operator", "admin"), false);
    assert.equal(levelAllows("user", "operator"), false);
  });

  test("every change needs admin, every read is open to user (HAProxy's cli_has_level calls)", () => {
    const admin = COMMANDS.filter((spec) => spec.level === "admin").map((spec) => spec.words.join(" ")).sort();
    assert.deepEqual(admin, [
      "disable health", "disable server", "enable health", "enable server", "set maxconn server", "set server", "set weight",
      "shutdown sessions server",
    ]);
    assert.deepEqual(COMMANDS.filter((spec) => spec.level === "operator"), []);
  });

  for (const level of ["user", "operator"] as const) {
    test(`at level ${level}, every change is "Permission denied" and changes nothing`, () => {
      const { a, run } = rig();
      for (
        const line of [
          "set server app/a state drain", "set server app/a weight 5", "set weight app/a 5", "set maxconn server app/a 5",
          "enable server app/a", "disable server app/a", "enable health app/a", "disable health app/a",
          "shutdown sessions server app/a",
          // The level is checked before the arguments, as HAProxy does.
          "set server nowhere/x state drain", "disable server",
        ]
      ) {
        assert.equal(error(run(line, level)), "Permission denied", line);
      }
      assert.deepEqual(a.calls, []);
      assert.match(text(run("show servers state", level)), /^1\n/);
      assert.equal(text(run("get weight app/a", level)), "10 (initial 10)\n");
    });
  }

  test("help lists the commands of the connection's level, then help, prompt and quit", () => {
    const user = helpText("user");
    assert.match(user, /^The following commands are valid at this level:\n/);
    assert.match(user, /  show servers state \[<backend>\] +: dump volatile server information/);
    assert.doesNotMatch(user, /set server|shutdown sessions|disable health/);
    assert.match(user, /  help \[<command>\] +: list matching or all commands\n  prompt \[n\|i\|p\] +: .*\n  quit +: disconnect\n$/);
    const admin = helpText("admin");
    for (const spec of COMMANDS) assert.ok(admin.includes(`  ${spec.usage}`), spec.usage);
    assert.equal(commandsAt("operator").length, commandsAt("user").length);
    // `help set` lists the "set" commands only.
    const set = helpText("admin", ["set"]).split("\n").filter((line) => line.startsWith("  ") && !/help|prompt|quit/.test(line));
    assert.ok(set.length === 4 && set.every((line) => line.startsWith("  set ")), set.join("\n"));
  });
});

describe("unknown commands", () => {
  test("one line, the word quoted, and the commands that share its first words", () => {
    const { run } = rig();
    assert.equal(error(run("frob")), "Unknown command: 'frob'. Enter 'help' for the commands available at this level.");
    assert.equal(
      error(run("show foo")),
      "Unknown command: 'show foo', but maybe one of the following ones is a better match: 'show backend', 'show info', " +
        "'show servers state', 'show stat'. Enter 'help' for all of them.",
    );
    assert.equal(error(run("show")), unknownCommandMessage(["show"], "admin"));
    assert.match(error(run("set maxconn frontend web 3")), /^Unknown command: 'set maxconn frontend', but maybe .*'set maxconn server'/);
    // At level user, the suggestions are the user's commands.
    assert.equal(error(run("set foo", "user")), "Unknown command: 'set foo', but maybe one of the following ones is a better match: 'set severity-output'. Enter 'help' for all of them.");
    assert.ok(!error(run("frob")).includes("\n"));
  });

  test("resolveCommand refuses what is unknown or above the level, before any argument is read", () => {
    assert.ok("refusal" in resolveCommand(["nope"], "admin"));
    const denied = resolveCommand(["disable", "server"], "operator");
    assert.ok("refusal" in denied && isError(denied.refusal) && (denied.refusal as { text: string }).text === "Permission denied");
    const found = resolveCommand(["show", "info"], "user");
    assert.ok("spec" in found && found.spec.words.join(" ") === "show info");
  });
});

describe("server commands", () => {
  test("backend/server arguments: HAProxy's three errors, and extra words refused", () => {
    const { a, run } = rig();
    for (const line of ["set server", "set server app", "set server app/", "disable server", "enable health", "shutdown sessions server", "get weight app"]) {
      assert.equal(error(run(line)), "Require 'backend/server'.", line);
    }
    assert.equal(error(run("set server nowhere/a state drain")), "No such backend.");
    assert.equal(error(run("set server /a state drain")), "No such backend.");
    assert.equal(error(run("set server app/zz state drain")), "No such server.");
    assert.equal(error(run("disable server app/zz")), "No such server.");
    assert.equal(error(run("enable server app/a now")), "Too many arguments for 'enable server': 'now' is not expected.");
    assert.equal(error(run("set server app/a state drain now")), "Too many arguments for 'set server': 'now' is not expected.");
    assert.deepEqual(a.calls, []);
  });

  test("set server B/S state ready|drain|maint, enable/disable server", () => {
    const { a, run } = rig();
    for (const line of ["set server app/a state drain", "set server app/a state maint", "set server app/a state ready", "disable server app/a", "enable server app/a"]) {
      assert.deepEqual(run(line), NO_ANSWER, line);
    }
    assert.deepEqual(a.calls, ["state drain", "state maint", "state ready", "state maint", "state ready"]);
    assert.equal(error(run("set server app/a state")), "'set server <srv> state' expects 'ready', 'drain' and 'maint'.");
    assert.equal(error(run("set server app/a state up")), "'set server <srv> state' expects 'ready', 'drain' and 'maint'.");
    assert.equal(error(run("set server app/a")), "'set server <srv>' only supports 'state' and 'weight'.");
    assert.equal(error(run("set server app/a addr 10.0.0.9")), "'set server <srv>' only supports 'state' and 'weight'.");
    assert.equal(a.calls.length, 5);
  });

  test("set weight and set server weight: absolute, relative to the initial weight, HAProxy's errors", () => {
    const { a, run } = rig();
    assert.deepEqual(run("set server app/a weight 5"), NO_ANSWER);
    assert.deepEqual(run("set weight app/a 0"), NO_ANSWER);
    assert.deepEqual(run("set weight app/a 50%"), NO_ANSWER);
    assert.deepEqual(run("set weight app/a 100%"), NO_ANSWER);
    assert.deepEqual(a.calls, ["weight 5", "weight 0", "weight 5", "weight 10"]);
    assert.equal(text(run("get weight app/a")), "10 (initial 10)\n");
    assert.equal(error(run("set weight app/a")), "Require <weight> or <weight%>.");
    assert.equal(error(run("set weight app/a abc")), "Empty weight string empty or preceded by garbage");
    assert.equal(error(run("set weight app/a 300")), "Absolute weight can only be between 0 and 256 inclusive.");
    assert.equal(error(run("set weight app/a -1")), "Absolute weight can only be between 0 and 256 inclusive.");
    assert.equal(error(run("set weight app/a 12x")), "Trailing garbage in weight string");
    assert.equal(error(run("set weight app/a -5%")), "Relative weight must be positive.");
    assert.equal(error(run("set server app/a weight")), "Require <weight> or <weight%>.");
    assert.equal(a.calls.length, 4);
  });

  test("parseWeight: percentages of the initial weight, rounded down and capped at 256", () => {
    assert.equal(parseWeight("50%", 3), 1);
    assert.equal(parseWeight("1000%", 100), 256);
    assert.equal(parseWeight("99999999%", 1), 256);
    assert.equal(parseWeight("0%", 7), 0);
    assert.equal(parseWeight("256", 1), 256);
    assert.equal(parseWeight("+3", 1), 3);
  });

  test("set maxconn server: a number from 0 (no limit), HAProxy's errors and a range", () => {
    const { a, run } = rig();
    assert.deepEqual(run("set maxconn server app/a 20"), NO_ANSWER);
    assert.deepEqual(run("set maxconn server app/a 0"), NO_ANSWER);
    assert.deepEqual(a.calls, ["maxconn 20", "maxconn 0"]);
    assert.equal(error(run("set maxconn server app/a")), "Require <maxconn>.");
    assert.equal(error(run("set maxconn server app/a lots")), "maxconn string empty or preceded by garbage");
    assert.equal(error(run("set maxconn server app/a 10k")), "Trailing garbage in maxconn string");
    assert.equal(error(run("set maxconn server app/a -3")), "Maxconn can only be between 0 (no limit) and 10000000 inclusive.");
    assert.equal(error(run("set maxconn server app/zz 3")), "No such server.");
    assert.equal(parseMaxconn("10000001"), "Maxconn can only be between 0 (no limit) and 10000000 inclusive.");
    assert.equal(a.calls.length, 2);
  });

  test("enable/disable health: a server without a check cannot be enabled; disabling it is a no-op, as HAProxy", () => {
    const { a, b, run } = rig();
    assert.deepEqual(run("disable health app/a"), NO_ANSWER);
    assert.deepEqual(run("enable health app/a"), NO_ANSWER);
    assert.deepEqual(a.calls, ["health off", "health on"]);
    assert.equal(error(run("enable health app/b")), "Health check was not configured on this server, cannot enable.");
    assert.deepEqual(run("disable health app/b"), NO_ANSWER);
    assert.deepEqual(b.calls, []);
  });

  test("shutdown sessions server", () => {
    const { a, run } = rig();
    assert.deepEqual(run("shutdown sessions server app/a"), NO_ANSWER);
    assert.deepEqual(a.calls, ["shutdown"]);
    assert.equal(error(run("shutdown sessions server app/zz")), "No such server.");
    assert.equal(error(run("shutdown sessions")), unknownCommandMessage(["shutdown", "sessions"], "admin"));
  });
});

describe("show commands", () => {
  test("show servers state: version 1, HAProxy's field names and our two after them, a line per server; one backend; unknown backend", () => {
    const { run } = rig();
    const all = text(run("show servers state", "user"));
    const lines = all.split("\n");
    assert.equal(lines[0], "1");
    assert.equal(lines[1], `# ${SERVER_STATE_FIELDS.join(" ")}`);
    assert.equal(SERVER_STATE_FIELDS.length, 27);
    assert.deepEqual(SERVER_STATE_FIELDS.slice(25), ["srv_umaxconn", "srv_imaxconn"]);
    assert.equal(SERVER_STATE_FIELDS[24], "srv_agent_port", "HAProxy's 25 first, in its order");
    assert.equal(lines[2], "3 app 1 a 10.0.0.1 2 0 10 10 7 15 3 4 6 0 0 0 - 8080 - 0 0 - - 0 20 10");
    assert.equal(lines[2]!.split(" ").length, 27);
    assert.equal(lines.length, 5, "two servers and the final newline");
    assert.equal(text(run("show servers state app")), all);
    assert.equal(text(run("show servers state other")), `1\n# ${SERVER_STATE_FIELDS.join(" ")}\n`);
    assert.equal(error(run("show servers state nowhere")), "Can't find backend.");
    assert.equal(error(run("show servers state app other")), "Too many arguments for 'show servers state': 'other' is not expected.");
    assert.equal(serversStateText([]), `1\n# ${SERVER_STATE_FIELDS.join(" ")}\n`);
    assert.equal(serverStateLine({ ...stateRow("a", 0, 3), useTls: true, fqdn: "web1.internal", checkPort: 9000, checkAddress: "10.0.0.9" }),
      "3 app 1 a 10.0.0.1 2 0 0 3 7 15 3 4 6 0 0 0 web1.internal 8080 - 1 9000 10.0.0.9 - 0 20 10");
  });

  test("show backend", () => {
    const { run } = rig();
    assert.equal(text(run("show backend", "user")), "# name\napp\nother\n");
    assert.equal(error(run("show backend app")), "Too many arguments for 'show backend': 'app' is not expected.");
  });

  test("show info: HAProxy's Name: value lines from the snapshot", () => {
    const { run } = rig();
    const info = text(run("show info", "user"));
    assert.equal(info, showInfoText(INFO));
    assert.match(info, /^Name: proxy\nVersion: 0\.1\.0\n/);
    for (const line of ["Pid: 4242", "Uptime: 0d 1h02m03s", "Uptime_sec: 3723", "CurrConns: 3", "CumConns: 120", "CumReq: 300", "MaxConnRate: 9", "Idle_pct: 97", "Stopping: 0", "Maxconn: 2000"]) {
      assert.ok(info.split("\n").includes(line), line);
    }
    assert.ok(!info.includes("\n\n"));
    assert.equal(formatUptime(90_061), "1d 1h01m01s");
    assert.equal(error(run("show info json")), "Unsupported option 'json' for 'show info': only the plain form is available.");
  });

  test("show stat: HAProxy's CSV of the snapshot; addresses from level operator up; typed and json; the iid/type/sid filter; up and no-maint", () => {
    const { run } = rig();
    const all = ["web,FRONTEND,", "app,FRONTEND,", "app,a,10.0.0.1:80", "app,b,10.0.0.2:80", "app,c,10.0.0.3:80", "app,BACKEND,", "other,BACKEND,"];
    assert.deepEqual(csvRows(text(run("show stat", "admin"))), all);
    assert.deepEqual(csvRows(text(run("show stat", "operator"))), all);
    assert.deepEqual(csvRows(text(run("show stat", "user"))).filter((row) => row.startsWith("app,a")), ["app,a,"]);
    assert.ok(Array.isArray(JSON.parse(text(run("show stat json")))));
    assert.match(text(run("show stat typed")), /^F\.1\.0\.0\.pxname\.1:KNS:str:web$/m);
    // By name: the frontend and the backend called "app" (a HAProxy `listen`); type 4: servers only.
    assert.deepEqual(csvRows(text(run("show stat app 4 -1"))), ["app,a,10.0.0.1:80", "app,b,10.0.0.2:80", "app,c,10.0.0.3:80"]);
    assert.deepEqual(csvRows(text(run("show stat app 1 -1"))), ["app,FRONTEND,"]);
    assert.deepEqual(csvRows(text(run("show stat 3 6 2"))), ["app,b,10.0.0.2:80", "app,BACKEND,"]);
    assert.deepEqual(csvRows(text(run("show stat -1 2 -1"))), ["app,BACKEND,", "other,BACKEND,"]);
    assert.deepEqual(csvRows(text(run("show stat -1 4 -1 up"))), ["app,a,10.0.0.1:80"]);
    assert.deepEqual(csvRows(text(run("show stat -1 4 -1 no-maint"))), ["app,a,10.0.0.1:80", "app,b,10.0.0.2:80"]);
    assert.equal(error(run("show stat nowhere -1 -1")), "No such proxy.");
    assert.equal(error(run("show stat domain dns")), "Invalid statistics domain.");
  });

  test("without stats, show info and show stat say so; the rest works", () => {
    const { run } = rig(null);
    assert.equal(error(run("show info")), "Statistics are not available in this process.");
    assert.equal(error(run("show stat")), "Statistics are not available in this process.");
    assert.match(text(run("show servers state")), /^1\n/);
  });

  test("errors are severity 3, dumps are text", () => {
    const { run } = rig();
    const failed = run("frob");
    assert.ok(failed.kind === "message" && failed.severity === SEVERITY_ERR);
    assert.equal(isError(run("show backend")), false);
  });
});
