/**
 * The server state a new generation starts from: the reader of HAProxy's server-state format
 * (every field, HAProxy's lines and ours, malformed lines, versions, a -W master's labelled
 * answer) and its application to a freshly built generation (admin states set through the API
 * against the configuration's `disabled`, weights, maxconn, paused checks, the operational state
 * and its checks afterwards; servers, backends and addresses that changed). Each "generation" is
 * the real model built from a configuration document, with the runtime API's target over it, so
 * the text applied is what the old generation's `show servers state` printed. And where the text
 * comes from: the -sf process's runtime API, the server-state-file, a -W worker, each bounded.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Logger } from "../src/core/logger.ts";
import { TimerWheel } from "../src/core/timer_wheel.ts";
import { CHECK_STATUS } from "../src/core/health/probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "../src/core/health/probe.ts";
import { ServerCheck } from "../src/core/health/server_check.ts";
import { validateConfigDocument } from "../src/config/validate.ts";
import type { Config } from "../src/config/types.ts";
import { buildBackend } from "../src/engine/proxy.ts";
import { ProxyControlTarget } from "../src/engine/runtime_api_target.ts";
import { RuntimeApi } from "../src/control/runtime_api.ts";
import { applyServerState } from "../src/engine/server_state_apply.ts";
import type { StatefulProxy } from "../src/engine/server_state_apply.ts";
import { parseServerState, SERVER_STATE_FIELDS } from "../src/control/server_state.ts";
import type { Answer } from "../src/control/types.ts";
import type { Connection, ConnectionHandler } from "../src/runtime/types.ts";
import { NetError } from "../src/runtime/net_error.ts";
import type { GlobalConfig } from "../src/config/types.ts";
import {
  askWorker,
  initialServerState,
  readServerStateFile,
  SERVER_STATE_ANSWER_TIMEOUT_MS,
} from "../src/lifecycle/server_state_handover.ts";
import { MasterCommandExecutor } from "../src/lifecycle/master_runtime_api.ts";
import { ManualClock } from "./_runtime_helpers.ts";

class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  emerg(message: string): void {
    this.lines.push(`emerg: ${message}`);
  }
  alert(message: string): void {
    this.lines.push(`alert: ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error: ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
  notice(message: string): void {
    this.lines.push(`notice: ${message}`);
  }
  info(message: string): void {
    this.lines.push(`info: ${message}`);
  }
  debug(): void {}
}

/** A probe whose result the test sets, answering after 5 ms. */
class ScriptedProbe implements HealthProbe {
  passed = true;
  runs = 0;
  readonly #clock: ManualClock;
  constructor(clock: ManualClock) {
    this.#clock = clock;
  }
  start(done: (result: ProbeResult) => void): ProbeRun {
    this.runs++;
    const result: ProbeResult = this.passed
      ? { passed: true, status: CHECK_STATUS.layer4Passed, code: null, info: null }
      : { passed: false, status: CHECK_STATUS.layer4Problem, code: null, info: "Connection refused" };
    let cancelled = false;
    this.#clock.setTimer(5, () => cancelled || done(result));
    return { connected: false, cancel: () => (cancelled = true) };
  }
}

/** Addresses the test's host names resolve to. */
const NAMES: Record<string, string> = { "web1.internal": "10.0.1.1", "web2.internal": "10.0.1.2" };

/** One generation: the model built from `backends` (a document's [backends]), its checks not started. */
function generation(backends: Record<string, unknown>, names: Record<string, string> = NAMES) {
  const { config, issues } = validateConfigDocument({
    frontends: { web: { bind: "127.0.0.1:0", "default-backend": Object.keys(backends)[0] } },
    backends,
  });
  assert.ok(config !== undefined, JSON.stringify(issues));
  const clock = new ManualClock(0);
  const wheel = new TimerWheel(clock, 1);
  const logger = new RecordingLogger();
  const built = config.backends.map((backendConfig) =>
    buildBackend(backendConfig, backendConfig.servers.map((server) => names[server.host] ?? server.host), { logger, wheel })
  );
  const probes = new Map<string, ScriptedProbe>();
  const checks: ServerCheck[] = [];
  for (const [b, backendConfig] of config.backends.entries()) {
    for (const [s, serverConfig] of backendConfig.servers.entries()) {
      if (serverConfig.check === null) continue;
      const probe = new ScriptedProbe(clock);
      probes.set(`${backendConfig.name}/${serverConfig.name}`, probe);
      checks.push(new ServerCheck(built[b]!, built[b]!.servers[s]!, serverConfig.check, probe, wheel, clock, logger));
    }
  }
  const proxy: StatefulProxy & { frontends: unknown[]; config: Config } = { frontends: [{}], backends: built, checks, config, logger };
  const api = new RuntimeApi(new ProxyControlTarget(proxy), null);
  return {
    proxy,
    clock,
    logger,
    probes,
    checks,
    /** What `proxy.listen` does: the checks start. */
    serve() {
      for (const check of checks) check.start(0);
    },
    run(line: string): Answer {
      const answer = api.execute(line.split(" "), "admin");
      assert.ok(answer.kind === "text", `${line}: ${JSON.stringify(answer)}`);
      return answer;
    },
    state(): string {
      return (api.execute(["show", "servers", "state"], "user") as { text: string }).text;
    },
    server(path: string) {
      const [backendName, serverName] = path.split("/");
      const server = built.find((backend) => backend.name === backendName)!.server(serverName!)!;
      return server;
    },
    check(path: string) {
      return checks.find((check) => check.server === this.server(path))!;
    },
  };
}

/** The fields of each server line of a state text, by "backend/server". */
function lines(text: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const line of text.split("\n").slice(2)) {
    if (line === "") continue;
    const fields = line.split(" ");
    result.set(`${fields[1]}/${fields[3]}`, fields);
  }
  return result;
}

const FIELD = Object.fromEntries(SERVER_STATE_FIELDS.map((name, index) => [name, index]));

/** The fields a reload must carry: op state, admin state, weights, check state, maxconn. */
function carried(fields: readonly string[]): string[] {
  return ["srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight", "srv_check_state", "srv_umaxconn", "srv_imaxconn"].map(
    (name) => fields[FIELD[name]!]!,
  );
}

const CHECK = { interval: "1s", rise: 2, fall: 2 };
const FARM = {
  app: {
    check: CHECK,
    servers: [
      { name: "a", address: "10.0.0.1:80", weight: 10 },
      { name: "b", address: "10.0.0.2:80", weight: 10 },
      { name: "c", address: "web1.internal:80" },
      { name: "d", address: "10.0.0.4:80", maxconn: 10 },
      { name: "e", address: "10.0.0.5:80" },
    ],
  },
};

describe("reading a server state", () => {
  test("our own text: every field a reload uses, HAProxy's 25 first and our two maxconn fields after", () => {
    const old = generation(FARM);
    old.serve();
    old.run("set server app/a state maint");
    old.run("set server app/b weight 50%");
    old.run("set server app/c state drain");
    old.run("set maxconn server app/d 7");
    old.run("disable health app/b");
    const { servers, issues } = parseServerState(old.state());
    assert.deepEqual(issues, []);
    assert.deepEqual(servers.map((server) => `${server.backendName}/${server.serverName}@${server.line}`), [
      "app/a@3",
      "app/b@4",
      "app/c@5",
      "app/d@6",
      "app/e@7",
    ]);
    const [a, b, c, d] = servers;
    assert.deepEqual([a!.address, a!.port, a!.fqdn, a!.opState, a!.adminState], ["10.0.0.1", 80, "-", 2, 1]);
    assert.deepEqual([b!.userWeight, b!.initialWeight, b!.checkState], [5, 10, 0x02], "configured, not enabled");
    assert.deepEqual([c!.address, c!.fqdn, c!.adminState, c!.checkState], ["10.0.1.1", "web1.internal", 8, 0x06]);
    assert.deepEqual([d!.maxconn, d!.initialMaxconn], [7, 10]);
    assert.ok(a!.secondsSinceChange >= 0);
  });

  test("HAProxy's own lines: 25 fields, or the 20 of older versions; no maxconn; inherited flags dropped", () => {
    const text = "1\n" +
      "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight ...\n" +
      "3 app 1 a 10.0.0.1 2 0 1 1 120 6 3 4 6 0 0 0 - 80 - 0 0 - - 0\n" +
      "3 app 2 b 10.0.0.2 0 3 1 1 5 7 2 0 6 0 0 0 - 80 -\n" + // FMAINT | IMAINT: the inherited one is dropped
      "3\tapp\t3\tc 10.0.0.3 2 24 1 1 5 7 2 0 6 0 0 0 - 80 -\n"; // tabs; FDRAIN | IDRAIN
    const { servers, issues } = parseServerState(text);
    assert.deepEqual(issues, []);
    assert.deepEqual(servers.map((server) => [server.serverName, server.opState, server.adminState, server.maxconn, server.initialMaxconn]), [
      ["a", 2, 0, null, null],
      ["b", 0, 1, null, null],
      ["c", 2, 8, null, null],
    ]);
    assert.equal(servers[0]!.secondsSinceChange, 120);
  });

  test("a malformed line is left out with a warning naming it; the others are read", () => {
    const good = "3 app 1 a 10.0.0.1 2 0 1 1 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0";
    const withFields = (name: string, changes: Record<number, string>) =>
      good.split(" ").map((field, index) => (index === 3 ? name : changes[index] ?? field)).join(" ");
    const text = [
      "1",
      "# fields",
      good,
      "",
      "   # a comment, indented",
      "3 app 2 short 10.0.0.2 2 0 1 1",
      withFields("op", { 5: "7" }),
      withFields("admin", { 6: "9" }),
      withFields("weight", { 7: "300" }),
      withFields("word", { 8: "ten" }),
      withFields("fqdn", { 17: "bad/name" }),
      withFields("port", { 18: "70000" }),
      withFields("check", { 13: "64" }),
      `${withFields("twenty-six", {})} 5`,
      `${withFields("maxconn", {})} 5 -1`,
      `${withFields("more", {})} 5 10 11`,
      good.replace("2 0 1 1", "2 8 2 1"),
      withFields("last", {}) + "\r",
    ].join("\n") + "\n";
    const { servers, issues } = parseServerState(text);
    assert.deepEqual(servers.map((server) => server.serverName), ["a", "last"]);
    assert.deepEqual(issues.map((issue) => [issue.line, issue.severity]), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17].map((line) => [line, "warning"]));
    const messages = issues.map((issue) => issue.message);
    assert.equal(messages[0], "Line 6 skipped: 9 fields, expected 20 to 25 (HAProxy's) or 27");
    assert.equal(messages[1], 'Line 7 skipped: srv_op_state "7" is not valid (server "app/op")');
    assert.equal(messages[2], 'Line 8 skipped: srv_admin_state "9" is not valid (server "app/admin")');
    assert.equal(messages[3], 'Line 9 skipped: srv_uweight "300" is not valid (server "app/weight")');
    assert.equal(messages[4], 'Line 10 skipped: srv_iweight "ten" is not valid (server "app/word")');
    assert.equal(messages[5], 'Line 11 skipped: srv_fqdn "bad/name" is not valid (server "app/fqdn")');
    assert.equal(messages[6], 'Line 12 skipped: srv_port "70000" is not valid (server "app/port")');
    assert.equal(messages[7], 'Line 13 skipped: srv_check_state "64" is not valid (server "app/check")');
    assert.equal(messages[8], "Line 14 skipped: 26 fields, expected 20 to 25 (HAProxy's) or 27");
    assert.equal(messages[9], 'Line 15 skipped: srv_imaxconn "-1" is not valid (server "app/maxconn")');
    assert.equal(messages[10], "Line 16 skipped: 28 fields, expected 20 to 25 (HAProxy's) or 27");
    assert.equal(messages[11], 'Line 17 skipped: "app/a" already has line 3');
  });

  test("versions: none, another, an empty text; a -W master's labelled answer is read from its first worker", () => {
    const line = "3 app 1 a 10.0.0.1 2 1 1 1 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0";
    assert.deepEqual(parseServerState(`${line}\n`), {
      servers: [],
      issues: [{ line: 1, severity: "warning", message: `No server state version on the first line (found "3 app 1 a 10.0.0.1 2 1 1 1 0 6 3 4 6 0 0…", expected "1")` }],
    });
    assert.deepEqual(parseServerState(`2\n${line}\n`).issues, [
      { line: 1, severity: "warning", message: 'Unsupported server state version "2" (only version 1 is read)' },
    ]);
    assert.deepEqual(parseServerState(""), { servers: [], issues: [{ line: 0, severity: "notice", message: "Empty server state" }] });
    const master = `@1 (pid 100)\n1\n# names\n${line}\n@2 (pid 101)\n1\n# names\n${line.replace(" 2 1 1 1 ", " 2 0 1 1 ")}\n`;
    const read = parseServerState(master);
    assert.deepEqual(read.issues, []);
    assert.deepEqual(read.servers.map((server) => server.adminState), [1]);
  });
});

describe("applying a server state to a new generation", () => {
  test("a reload with the same configuration: maintenance, drain, weight, maxconn, paused checks and DOWN carry over", () => {
    const old = generation(FARM);
    old.serve();
    old.probes.get("app/e")!.passed = false;
    old.clock.advance(2_000);
    assert.equal(old.server("app/e").up, false);
    old.run("set server app/a state maint");
    old.run("set server app/b weight 50%");
    old.run("set server app/c state drain");
    old.run("set maxconn server app/d 7");
    old.run("disable health app/b");
    const saved = old.state();

    const next = generation(FARM);
    const outcome = applyServerState(next.proxy, saved, "the old process");
    assert.deepEqual(outcome, { applied: 5, skipped: 0, malformed: 0 });
    next.serve();
    const before = lines(saved);
    const after = lines(next.state());
    for (const name of ["app/a", "app/b", "app/c", "app/d", "app/e"]) {
      assert.deepEqual(carried(after.get(name)!), carried(before.get(name)!), name);
    }
    assert.deepEqual(carried(after.get("app/e")!), ["0", "0", "1", "1", "6", "0", "0"]);
    const a = next.server("app/a");
    assert.deepEqual([a.maintenance, next.server("app/c").draining, next.server("app/b").configuredWeight, next.server("app/d").maxconn], [
      true,
      true,
      5,
      7,
    ]);
    assert.equal(next.check("app/b").enabled, false);
    assert.deepEqual(next.logger.lines.filter((line) => line.includes("carried over")), [
      'notice: Server "app/a": maintenance carried over from the old process',
      'notice: Server "app/b": weight 5 (initial 10), health checks paused carried over from the old process',
      'notice: Server "app/c": drain carried over from the old process',
      'notice: Server "app/d": maxconn 7 (configured 10) carried over from the old process',
      'notice: Server "app/e": DOWN carried over from the old process',
    ]);
    assert.ok(next.logger.lines.includes("notice: Server state from the old process: 5 server(s) restored"));
    assert.ok(
      next.logger.lines.some((line) => line.startsWith('alert: Server "app/e" is DOWN, as in the server state from the old process; 2 good check(s) bring it up.')),
      next.logger.lines.join("\n"),
    );
  });

  test("operational state: DOWN needs rise good checks, UP starts steady (fall failed checks take it down, not the first)", () => {
    const old = generation(FARM);
    old.serve();
    old.probes.get("app/e")!.passed = false;
    old.clock.advance(2_000);
    const next = generation(FARM);
    applyServerState(next.proxy, old.state(), "the old process");
    const e = next.server("app/e");
    const a = next.server("app/a");
    assert.deepEqual([e.up, next.check("app/e").counter.health], [false, 0]);
    assert.deepEqual([a.up, next.check("app/a").counter.health], [true, 3], "rise + fall - 1");
    next.probes.get("app/a")!.passed = false;
    next.serve();
    next.clock.advance(10);
    assert.equal(next.probes.get("app/e")!.runs, 1);
    assert.deepEqual([e.up, a.up], [false, true], "one good check is not rise; one failed check is not fall");
    next.clock.advance(3_000);
    assert.ok(next.probes.get("app/e")!.runs >= 2);
    assert.equal(e.up, true, "the second good check brings it up");
    assert.equal(a.up, false, "the second failed check takes it down");
  });

  test("a server the old generation had UP but did not check starts as a fresh start would; an unchecked one ignores a saved DOWN", () => {
    const old = generation({ app: { servers: [{ name: "a", address: "10.0.0.1:80" }, { name: "b", address: "10.0.0.2:80", check: CHECK }] } });
    old.serve();
    old.probes.get("app/b")!.passed = false;
    old.clock.advance(2_000);
    assert.equal(old.server("app/b").up, false);
    const next = generation({ app: { servers: [{ name: "a", address: "10.0.0.1:80", check: CHECK }, { name: "b", address: "10.0.0.2:80" }] } });
    applyServerState(next.proxy, old.state(), "the old process");
    assert.equal(next.check("app/a").counter.health, 2, "rise: HAProxy's start-up rule, one failed check takes it down");
    assert.equal(next.server("app/b").up, true, "no check could ever bring it back up");
  });

  test("disabled in the configuration versus maintenance through the API: the configuration's change wins, the API's holds otherwise", () => {
    const servers = (disabled: Record<string, boolean>) => ({
      app: { servers: ["a", "b", "c", "d", "e"].map((name, index) => ({ name, address: `10.0.0.${index + 1}:80`, disabled: disabled[name] ?? false })) },
    });
    // a: disabled, left alone. b: disabled, then ready through the API. c: maint through the API.
    // d: disabled, ready through the API, then `disabled` removed. e: maint through the API, then `disabled` added.
    const old = generation(servers({ a: true, b: true, d: true }));
    old.run("set server app/b state ready");
    old.run("set server app/c state maint");
    old.run("set server app/d state ready");
    old.run("set server app/e state maint");
    const saved = lines(old.state());
    assert.deepEqual(["a", "b", "c", "d", "e"].map((name) => saved.get(`app/${name}`)![FIELD.srv_admin_state!]), ["5", "4", "1", "4", "1"]);

    const same = generation(servers({ a: true, b: true, d: true }));
    applyServerState(same.proxy, old.state(), "the old process");
    assert.deepEqual(["a", "b", "c", "d", "e"].map((name) => same.server(`app/${name}`).maintenance), [true, false, true, false, true]);
    assert.ok(same.logger.lines.includes('notice: Server "app/b": ready (set through the runtime API over disabled = true) carried over from the old process'));

    // The configuration changed: a loses `disabled`, c gains it, e loses nothing.
    const changed = generation(servers({ b: true, c: true, e: false }));
    applyServerState(changed.proxy, old.state(), "the old process");
    assert.deepEqual(["a", "b", "c", "d", "e"].map((name) => changed.server(`app/${name}`).maintenance), [false, false, true, false, true]);
  });

  test("the configuration's weight or maxconn changed: it wins over the API's; drain waits for the end of maintenance", () => {
    const old = generation(FARM);
    old.run("set server app/a weight 3");
    old.run("set server app/b weight 3");
    old.run("set maxconn server app/d 7");
    old.run("set server app/e state drain");
    const farm = structuredClone(FARM);
    farm.app.servers[0]!.weight = 20;
    farm.app.servers[3]!.maxconn = 12;
    (farm.app.servers[4] as Record<string, unknown>).disabled = true;
    const next = generation(farm);
    applyServerState(next.proxy, old.state(), "the old process");
    assert.equal(next.server("app/a").configuredWeight, 20, "the configured weight changed: the API's 3 is dropped");
    assert.equal(next.server("app/b").configuredWeight, 3);
    assert.equal(next.server("app/d").maxconn, 12);
    assert.deepEqual([next.server("app/e").maintenance, next.server("app/e").draining], [true, false]);
  });

  test("servers and backends that are gone, and servers that moved, are skipped with one notice each", () => {
    const old = generation({
      app: {
        servers: [
          { name: "a", address: "10.0.0.1:80" },
          { name: "gone", address: "10.0.0.2:80" },
          { name: "moved", address: "10.0.0.3:80" },
          { name: "port", address: "10.0.0.4:80" },
          { name: "named", address: "web1.internal:80" },
          { name: "renamed", address: "web2.internal:80" },
        ],
      },
      old: { servers: [{ name: "x", address: "10.0.9.1:80" }, { name: "y", address: "10.0.9.2:80" }] },
    });
    for (const name of ["a", "moved", "port", "named", "renamed"]) old.run(`set server app/${name} state maint`);
    const next = generation(
      {
        app: {
          servers: [
            { name: "a", address: "10.0.0.1:80" },
            { name: "moved", address: "10.0.0.33:80" },
            { name: "port", address: "10.0.0.4:81" },
            { name: "named", address: "web1.internal:80" },
            { name: "renamed", address: "web3.internal:80" },
          ],
        },
      },
      // The name resolves elsewhere now: still the same server.
      { "web1.internal": "10.0.1.99", "web3.internal": "10.0.1.2" },
    );
    const outcome = applyServerState(next.proxy, old.state(), "the file");
    assert.deepEqual(outcome, { applied: 2, skipped: 6, malformed: 0 });
    assert.deepEqual(["a", "moved", "port", "named", "renamed"].map((name) => next.server(`app/${name}`).maintenance), [true, false, false, true, false]);
    const notices = next.logger.lines.filter((line) => line.startsWith("notice: Server state from the file"));
    assert.deepEqual(notices, [
      'notice: Server state from the file: server "app/gone" no longer exists: skipped',
      'notice: Server state from the file: server "app/moved" moved from "10.0.0.3:80" to "10.0.0.33:80": its saved state is not applied',
      'notice: Server state from the file: server "app/port" moved from "10.0.0.4:80" to "10.0.0.4:81": its saved state is not applied',
      'notice: Server state from the file: server "app/renamed" moved from "web2.internal:80" to "web3.internal:80": its saved state is not applied',
      'notice: Server state from the file: backend "old" no longer exists: its 2 server line(s) skipped',
      "notice: Server state from the file: 2 server(s) restored, 6 skipped",
    ]);
  });

  test("a malformed text starts nothing wrong: warnings, and the servers stay as configured", () => {
    const next = generation(FARM);
    const outcome = applyServerState(next.proxy, "1\n3 app 1 a 10.0.0.1 2 1 1 1 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0 7\nnot a line\n", "the file");
    assert.deepEqual(outcome, { applied: 0, skipped: 0, malformed: 2 });
    assert.equal(next.server("app/a").maintenance, false);
    assert.deepEqual(next.logger.lines.filter((line) => line.startsWith("warn:")), [
      "warn: Server state from the file: Line 2 skipped: 26 fields, expected 20 to 25 (HAProxy's) or 27",
      "warn: Server state from the file: Line 3 skipped: 3 fields, expected 20 to 25 (HAProxy's) or 27",
    ]);
    const empty = generation(FARM);
    assert.deepEqual(applyServerState(empty.proxy, "", "the file"), { applied: 0, skipped: 0, malformed: 0 });
    assert.ok(empty.logger.lines.includes("notice: Server state from the file: Empty server state"));
  });

  test("a file HAProxy wrote: its 25 fields apply, maxconn stays the configuration's", () => {
    const next = generation(FARM);
    const text = "1\n# be_id ...\n" +
      "3 app 1 a 10.0.0.1 2 1 10 10 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0\n" +
      "3 app 4 d 10.0.0.4 2 0 4 1 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0\n";
    assert.deepEqual(applyServerState(next.proxy, text, "HAProxy's file"), { applied: 2, skipped: 0, malformed: 0 });
    assert.equal(next.server("app/a").maintenance, true);
    assert.deepEqual([next.server("app/d").configuredWeight, next.server("app/d").maxconn], [4, 10]);
  });
});

/** A connection to a fake runtime API: answers `reply` (or stays silent, or is refused). */
function fakeApiRuntime(replies: Record<string, string | "silent" | "refused">, files: Record<string, string> = {}) {
  const clock = new ManualClock(0);
  const asked: string[] = [];
  const runtime = {
    setTimer: (ms: number, callback: () => void) => clock.setTimer(ms, callback),
    clearTimer: (handle: unknown) => clock.clearTimer(handle),
    lookup: () => Promise.resolve(["127.0.0.1"]),
    connect: () => {
      throw new Error("no TCP here");
    },
    connectUnix(path: string, handler: ConnectionHandler): Connection {
      const reply = replies[path] ?? "refused";
      const connection = {
        write(bytes: Uint8Array) {
          asked.push(`${path}: ${new TextDecoder().decode(bytes)}`);
          if (reply === "silent" || reply === "refused") return true;
          queueMicrotask(() => {
            handler.onData(connection, new TextEncoder().encode(`\n${reply}\n`));
            handler.onClose(connection, undefined);
          });
          return true;
        },
        end() {},
        destroy() {},
      } as unknown as Connection;
      queueMicrotask(() => {
        if (reply === "refused") handler.onClose(connection, new NetError("ECONNREFUSED", `Cannot connect to "${path}": connection refused`));
        else handler.onOpen(connection);
      });
      return connection;
    },
    readTextFile(path: string): Promise<string> {
      if (path in files) return Promise.resolve(files[path]!);
      const error = new Error(`No such file: "${path}"`) as Error & { code: string };
      error.code = path.includes("secret") ? "EACCES" : "ENOENT";
      return Promise.reject(error);
    },
  };
  return { runtime, clock, asked };
}

function globalWith(sockets: string[], serverStateFile: string | null): GlobalConfig {
  return {
    statsSockets: sockets.map((path) => ({ kind: "unix", path, mode: 0o600, level: "user", timeout: 10_000 })),
    serverStateFile,
  } as unknown as GlobalConfig;
}

const STATE = "1\n# be_id be_name ...\n3 app 1 a 10.0.0.1 2 1 1 1 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0 0 0\n";

describe("where the state comes from", () => {
  test("-sf with a stats-socket: the old process's answer to show servers state, asked on the sockets in order", async () => {
    const { runtime, asked } = fakeApiRuntime({ "/run/b.sock": STATE });
    const logger = new RecordingLogger();
    const state = await initialServerState(globalWith(["/run/a.sock", "/run/b.sock"], "/var/lib/state"), true, runtime, logger);
    assert.deepEqual(state, { text: STATE, source: `the old process's runtime API at "/run/b.sock"` });
    assert.deepEqual(asked, ["/run/b.sock: set severity-output number;show servers state\n"]);
    assert.deepEqual(logger.lines, []);
  });

  test("no old process answers: the server-state-file; a silent one is waited for a bounded time only", async () => {
    const { runtime } = fakeApiRuntime({}, { "/var/lib/state": STATE });
    const logger = new RecordingLogger();
    const state = await initialServerState(globalWith(["/run/a.sock"], "/var/lib/state"), true, runtime, logger);
    assert.deepEqual(state, { text: STATE, source: 'the server-state-file "/var/lib/state"' });
    assert.deepEqual(logger.lines, [
      'notice: No server state from the old process: Cannot connect to the runtime API at "/run/a.sock": connection refused',
    ]);

    const silent = fakeApiRuntime({ "/run/a.sock": "silent" }, { "/var/lib/state": STATE });
    const waiting = initialServerState(globalWith(["/run/a.sock"], "/var/lib/state"), true, silent.runtime, logger);
    // The command is written (the fake is driven by microtasks only), then the process stays silent.
    for (let turns = 0; silent.asked.length === 0 && turns < 1_000; turns++) await Promise.resolve();
    assert.equal(silent.asked.length, 1);
    silent.clock.advance(SERVER_STATE_ANSWER_TIMEOUT_MS);
    assert.equal((await waiting)?.source, 'the server-state-file "/var/lib/state"');
    assert.equal(logger.lines.at(-1), `warn: No server state from the old process: The runtime API at "/run/a.sock" did not answer within ${SERVER_STATE_ANSWER_TIMEOUT_MS} ms`);
  });

  test("a plain start reads the file only; a missing file is a notice, an unreadable one a warning; neither: nothing", async () => {
    const { runtime, asked } = fakeApiRuntime({ "/run/a.sock": STATE });
    const logger = new RecordingLogger();
    assert.equal(await initialServerState(globalWith(["/run/a.sock"], "/nowhere"), false, runtime, logger), null);
    assert.deepEqual(asked, [], "without -sf nobody is asked");
    assert.deepEqual(logger.lines, ['notice: No server-state-file at "/nowhere": the servers start from the configuration']);
    assert.equal(await readServerStateFile("/secret", runtime, logger), null);
    assert.equal(logger.lines.at(-1), 'warn: Cannot read the server-state-file "/secret": No such file: "/secret"; the servers start from the configuration');
    assert.equal(await initialServerState(globalWith([], null), false, runtime, logger), null);
    assert.equal(await initialServerState(globalWith([], null), true, runtime, logger), null);
    assert.match(logger.lines.at(-1)!, /^info: Neither a stats-socket nor a server-state-file/);
  });

  test("-W: one worker asked over its channel, bounded; an error answer or silence is a warning and null", async () => {
    const clock = new ManualClock(0);
    const timers = { setTimer: (ms: number, callback: () => void) => clock.setTimer(ms, callback), clearTimer: (handle: unknown) => clock.clearTimer(handle) };
    const logger = new RecordingLogger();
    const asked: string[] = [];
    const worker = (answer: Answer | null) => ({
      number: 2,
      pid: 4242,
      ask: (words: readonly string[], level: string) => {
        asked.push(`${words.join(" ")} (${level})`);
        return answer === null ? new Promise<Answer>(() => {}) : Promise.resolve(answer);
      },
    });
    assert.deepEqual(await askWorker(worker({ kind: "text", text: STATE }), 3, timers, logger), { text: STATE, source: "worker 2 (pid 4242) of generation 3" });
    assert.deepEqual(asked, ["show servers state (user)"]);
    assert.equal(await askWorker(worker({ kind: "message", severity: 3, text: "This worker is not serving yet." }), 3, timers, logger), null);
    assert.equal(logger.lines.at(-1), "warn: No server state from worker 2 (pid 4242) of generation 3: This worker is not serving yet.");
    const silent = askWorker(worker(null), 3, timers, logger, 500);
    clock.advance(500);
    assert.equal(await silent, null);
    assert.equal(logger.lines.at(-1), "warn: No server state from worker 2 (pid 4242) of generation 3 within 500 ms");
  });

  test("-W: the master's executor says when a change went through it (admin commands), not for reads or refusals", async () => {
    let changes = 0;
    const worker = { number: 1, pid: 7, ask: () => Promise.resolve<Answer>({ kind: "text", text: "" }) };
    const executor = new MasterCommandExecutor(() => [worker], () => changes++);
    await executor.execute(["show", "servers", "state"], "admin");
    await executor.execute(["set", "server", "app/a", "state", "maint"], "operator");
    assert.equal(changes, 0);
    await executor.execute(["set", "server", "app/a", "state", "maint"], "admin");
    await executor.execute(["@1", "disable", "health", "app/a"], "admin");
    assert.equal(changes, 2);
  });
});

describe("server-state-file in [global]", () => {
  test("a path, none by default; an empty string or another type is an error at the key", () => {
    const backends = { app: { servers: [{ name: "a", address: "10.0.0.1:80" }] } };
    const frontends = { web: { bind: "127.0.0.1:0", "default-backend": "app" } };
    const load = (global: Record<string, unknown>) => validateConfigDocument({ global, frontends, backends });
    assert.equal(load({}).config!.global.serverStateFile, null);
    assert.equal(load({ "server-state-file": "/var/lib/proxy/servers.state" }).config!.global.serverStateFile, "/var/lib/proxy/servers.state");
    assert.equal(load({ "server-state-file": "servers.state" }).config!.global.serverStateFile, "servers.state");
    for (const [value, found] of [["", "an empty string"], [3, "3"]] as const) {
      const { config, issues } = load({ "server-state-file": value });
      assert.equal(config, undefined);
      assert.deepEqual(issues.map((issue) => [issue.path.join("."), issue.message]), [
        ["global.server-state-file", `Expected a non-empty string, found ${found}`],
      ]);
    }
  });
});
