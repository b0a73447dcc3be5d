/**
 * What the runtime API changes in the live model, without sockets: weights through the backend
 * (balancers told, queues dispatched), maxconn raised (waiting requests served), sessions shut
 * down, health checks paused and resumed; and the engine's target over a real backend.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backend, SLOT_QUEUED, SLOT_TAKEN } from "../src/core/backend.ts";
import type { BackendSpec } from "../src/core/backend.ts";
import type { Server, ServerSpec } from "../src/core/server.ts";
import { ServerSlot } from "../src/core/server_slot.ts";
import type { ShutdownCause, SlotUser } from "../src/core/server_slot.ts";
import { SILENT_LOGGER } from "../src/core/logger.ts";
import type { Logger } from "../src/core/logger.ts";
import { TimerWheel } from "../src/core/timer_wheel.ts";
import { CHECK_STATUS } from "../src/core/health/probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "../src/core/health/probe.ts";
import { ServerCheck } from "../src/core/health/server_check.ts";
import type { ServerCheckSpec } from "../src/core/health/server_check.ts";
import { ProxyControlTarget } from "../src/engine/runtime_api_target.ts";
import { RuntimeApi } from "../src/control/runtime_api.ts";
import { serverStateLine } from "../src/control/server_state.ts";
import { validateConfigDocument } from "../src/config/validate.ts";
import type { BackendConfig } from "../src/config/types.ts";
import { ManualClock } from "./_runtime_helpers.ts";

class FakeRequest implements SlotUser {
  readonly clientAddress: string;
  readonly requestTarget = "/";
  readonly events: string[] = [];
  readonly slot: ServerSlot;
  constructor(clientAddress = "192.0.2.1") {
    this.clientAddress = clientAddress;
    this.slot = new ServerSlot(this);
  }
  requestHeader(): string | undefined {
    return undefined;
  }
  slotGranted(server: Server): void {
    this.events.push(`granted ${server.name}`);
  }
  slotRefused(): void {
    this.events.push("refused");
  }
  shutdownByServer(cause: ShutdownCause): void {
    this.events.push(`shutdown ${cause}`);
  }
}

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

function server(name: string, overrides: Partial<ServerSpec> = {}): ServerSpec {
  return { name, host: "10.0.0.1", port: 80, weight: 1, maxconn: 1, backup: false, ...overrides };
}

function backend(servers: ServerSpec[], overrides: Partial<BackendSpec> = {}, logger: Logger = SILENT_LOGGER, wheel: TimerWheel | null = null): Backend {
  return new Backend({
    name: "app",
    balance: "roundrobin",
    retries: 3,
    redispatch: true,
    allBackups: false,
    connectTimeout: 1_000,
    serverTimeout: 1_000,
    tunnelTimeout: 0,
    servers,
    ...overrides,
  }, { logger, wheel });
}

/** Which server each of `count` new requests gets (released at once). */
function picks(app: Backend, count: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const request = new FakeRequest();
    assert.equal(app.takeSlot(request.slot, 0), SLOT_TAKEN);
    names.push(request.slot.server!.name);
    app.releaseSlot(request.slot);
  }
  return names;
}

test("setWeight: the balancer follows the new weights; 0 drains the server (DRAIN), and back", () => {
  const logger = new RecordingLogger();
  const app = backend([server("a", { maxconn: 0 }), server("b", { maxconn: 0 })], {}, logger);
  const [a] = app.servers;
  app.setWeight(a!, 3);
  assert.equal(a!.configuredWeight, 3);
  assert.equal(a!.weight, 3);
  assert.equal(a!.initialWeight, 1);
  const counted = picks(app, 8).reduce((map, name) => map.set(name, (map.get(name) ?? 0) + 1), new Map<string, number>());
  assert.deepEqual([counted.get("a"), counted.get("b")], [6, 2]);
  app.setWeight(a!, 0);
  assert.equal(a!.isUsable(), false);
  assert.equal(a!.describeState(), "DRAIN");
  assert.deepEqual(picks(app, 4), ["b", "b", "b", "b"]);
  assert.ok(logger.lines.some((line) => line.startsWith('notice: Server "app/a" is entering DRAIN (weight 0).')));
  app.setWeight(a!, 1);
  assert.equal(a!.isUsable(), true);
  assert.ok(picks(app, 4).includes("a"));
});

test("setWeight: a static algorithm rebuilds its table; weight 0 on the last server refuses queued requests at once", () => {
  const app = backend([server("a", { maxconn: 0 }), server("b", { maxconn: 0 })], { balance: "static-rr" });
  app.setWeight(app.servers[1]!, 0);
  assert.deepEqual(picks(app, 3), ["a", "a", "a"]);
  const single = backend([server("a", { maxconn: 1 })]);
  const holder = new FakeRequest();
  const waiting = new FakeRequest();
  assert.equal(single.takeSlot(holder.slot, 0), SLOT_TAKEN);
  assert.equal(single.takeSlot(waiting.slot, 0), SLOT_QUEUED);
  single.setWeight(single.servers[0]!, 0);
  assert.deepEqual(waiting.events, ["refused"]);
  assert.deepEqual(holder.events, [], "the session it holds goes on");
});

test("setWeight: a server weighted up from 0 takes the requests queued meanwhile", () => {
  const app = backend([server("a", { maxconn: 1 }), server("b", { maxconn: 1, weight: 0 })]);
  const holder = new FakeRequest();
  const waiting = new FakeRequest();
  assert.equal(app.takeSlot(holder.slot, 0), SLOT_TAKEN);
  assert.equal(app.takeSlot(waiting.slot, 0), SLOT_QUEUED);
  app.setWeight(app.servers[1]!, 1);
  assert.deepEqual(waiting.events, ["granted b"]);
});

test("setMaxconn: a raised limit serves the requests waiting at once; 0 is no limit; a lowered one lets sessions finish", () => {
  const app = backend([server("a", { maxconn: 1 })]);
  const [a] = app.servers;
  const requests = [new FakeRequest(), new FakeRequest(), new FakeRequest(), new FakeRequest()];
  assert.deepEqual(requests.map((request) => app.takeSlot(request.slot, 0)), [SLOT_TAKEN, SLOT_QUEUED, SLOT_QUEUED, SLOT_QUEUED]);
  app.setMaxconn(a!, 2);
  assert.equal(a!.maxconn, 2);
  assert.deepEqual(requests.map((request) => request.events), [[], ["granted a"], [], []]);
  app.setMaxconn(a!, 0);
  assert.deepEqual(requests.map((request) => request.events), [[], ["granted a"], ["granted a"], ["granted a"]]);
  assert.equal(a!.activeConnections, 4);
  app.setMaxconn(a!, 1);
  assert.equal(a!.activeConnections, 4, "nothing is cut");
  const late = new FakeRequest();
  assert.equal(app.takeSlot(late.slot, 0), SLOT_QUEUED);
});

test("shutdownServerSessions: every session holding a slot on the server is told, with HAProxy's K", () => {
  const app = backend([server("a", { maxconn: 0 }), server("b", { maxconn: 0 })]);
  const requests = [new FakeRequest(), new FakeRequest(), new FakeRequest()];
  for (const request of requests) app.takeSlot(request.slot, 0);
  const onA = requests.filter((request) => request.slot.server!.name === "a");
  assert.equal(app.shutdownServerSessions(app.servers[0]!), onA.length);
  for (const request of requests) assert.deepEqual(request.events, onA.includes(request) ? ["shutdown K"] : []);
});

/** A probe answering what the test says, after 5 ms. */
class ScriptedProbe implements HealthProbe {
  next: ProbeResult = { passed: true, status: CHECK_STATUS.layer4Passed, code: null, info: null };
  readonly startedAt: number[] = [];
  readonly #clock: ManualClock;
  constructor(clock: ManualClock) {
    this.#clock = clock;
  }
  start(done: (result: ProbeResult) => void): ProbeRun {
    this.startedAt.push(this.#clock.now());
    const result = this.next;
    let cancelled = false;
    this.#clock.setTimer(5, () => cancelled || done(result));
    return { connected: false, cancel: () => (cancelled = true) };
  }
}

const CHECK_SPEC: ServerCheckSpec = {
  interval: 1_000, fastInterval: 200, downInterval: 3_000, rise: 2, fall: 2, timeout: 500, observe: null, errorLimit: 3,
  onError: "fail-check", shutdownSessionsOnDown: false, shutdownBackupSessionsOnUp: false,
};

function checkRig() {
  const clock = new ManualClock(0);
  const wheel = new TimerWheel(clock, 1);
  const app = backend([server("a", { maxconn: 0 }), server("b", { maxconn: 0 })], {}, SILENT_LOGGER, wheel);
  const probe = new ScriptedProbe(clock);
  const check = new ServerCheck(app, app.servers[0]!, CHECK_SPEC, probe, wheel, clock, SILENT_LOGGER);
  return { clock, app, probe, check, a: app.servers[0]! };
}

test("disable health: no probe runs and the server keeps its state, up or down; enable resumes an interval later", () => {
  const { clock, probe, check, a } = checkRig();
  check.start(0);
  clock.advance(10);
  assert.equal(probe.startedAt.length, 1);
  check.disable();
  assert.equal(check.enabled, false);
  probe.next = { passed: false, status: CHECK_STATUS.layer4Problem, code: null, info: "Connection refused" };
  clock.advance(10_000);
  assert.equal(probe.startedAt.length, 1, "no check while disabled");
  assert.equal(a.up, true, "an up server stays up");
  // Refused traffic does not count either while checks are paused.
  check.connectRefused(5, new Error("refused"));
  assert.equal(a.up, true);
  check.enable();
  assert.equal(check.enabled, true);
  const resumedAt = clock.now();
  clock.advance(999);
  assert.equal(probe.startedAt.length, 1);
  clock.advance(3_000);
  assert.ok(probe.startedAt[1]! >= resumedAt + 1_000 && probe.startedAt[1]! <= resumedAt + 1_002);
  assert.equal(a.up, false, "the checks resumed: two failures took it down");
  check.disable();
  probe.next = { passed: true, status: CHECK_STATUS.layer4Passed, code: null, info: null };
  clock.advance(20_000);
  assert.equal(a.up, false, "a down server stays down while checks are paused");
  check.stop();
  check.enable();
  clock.advance(20_000);
  assert.equal(a.up, false, "enable after the proxy stopped its checks starts nothing");
});

test("disable health before the checks start: they start paused", () => {
  const { clock, probe, check } = checkRig();
  check.disable();
  check.start(0);
  clock.advance(5_000);
  assert.deepEqual(probe.startedAt, []);
  check.enable();
  clock.advance(1_010);
  assert.equal(probe.startedAt.length, 1);
});

test("the engine's target: server states, weights, maxconn, checks and sessions through the real model", () => {
  const clock = new ManualClock(0);
  const wheel = new TimerWheel(clock, 1);
  const { config } = validateConfigDocument({
    frontends: { web: { bind: "127.0.0.1:0", "default-backend": "app" } },
    backends: {
      app: {
        servers: [
          { name: "a", address: "10.0.0.1:8080", weight: 4, check: { port: 9000 } },
          { name: "b", address: "web2.internal:8081" },
        ],
      },
    },
  });
  assert.ok(config !== undefined);
  const backendConfig: BackendConfig = config.backends[0]!;
  const logger = new RecordingLogger();
  const app = new Backend({
    name: "app", balance: "roundrobin", retries: 3, redispatch: true, allBackups: false, connectTimeout: 1_000, serverTimeout: 1_000, tunnelTimeout: 0,
    servers: [server("a", { host: "10.0.0.1", port: 8080, weight: 4, maxconn: 0 }), server("b", { host: "10.0.0.2", port: 8081, maxconn: 0 })],
  }, { logger, wheel });
  const probe = new ScriptedProbe(clock);
  const check = new ServerCheck(app, app.servers[0]!, CHECK_SPEC, probe, wheel, clock, logger);
  check.start(0);
  const target = new ProxyControlTarget({ frontends: [{}], backends: [app], checks: [check], config: { backends: [backendConfig] }, logger });
  const api = new RuntimeApi(target, null);
  const run = (line: string) => api.execute(line.split(" "), "admin");
  clock.advance(2_500);
  const [a, b] = app.servers;
  assert.equal(serverStateLine(target.backend("app")!.server("a")!.state()), "2 app 1 a 10.0.0.1 2 0 4 4 2 6 3 3 6 0 0 0 - 8080 - 0 9000 - - 0 0 0");
  assert.equal(serverStateLine(target.backend("app")!.server("b")!.state()), "2 app 2 b 10.0.0.2 2 0 1 1 2 0 0 0 0 0 0 0 web2.internal 8081 - 0 0 - - 0 0 0");

  run("set server app/a state drain");
  assert.deepEqual([a!.draining, a!.maintenance], [true, false]);
  assert.match(serverStateLine(target.backend("app")!.server("a")!.state()), /^2 app 1 a 10\.0\.0\.1 2 8 /);
  run("set server app/a state maint");
  assert.deepEqual([a!.draining, a!.maintenance], [false, true]);
  assert.match(serverStateLine(target.backend("app")!.server("a")!.state()), / 2 1 4 4 0 6 3 3 14 /, "maintenance pauses the check (flag 0x08)");
  run("set server app/a state ready");
  assert.deepEqual([a!.draining, a!.maintenance, a!.isUsable()], [false, false, true]);

  run("set weight app/a 50%");
  assert.deepEqual([a!.configuredWeight, a!.weight, a!.initialWeight], [2, 2, 4]);
  run("set maxconn server app/b 7");
  assert.equal(b!.maxconn, 7);
  run("disable health app/a");
  assert.equal(check.enabled, false);
  assert.match(serverStateLine(target.backend("app")!.server("a")!.state()), / 2 0 2 4 0 6 3 3 2 /, "configured, not enabled");
  const before = probe.startedAt.length;
  clock.advance(5_000);
  assert.equal(probe.startedAt.length, before);
  run("enable health app/a");
  assert.equal(check.enabled, true);
  const holder = new FakeRequest();
  app.takeSlot(holder.slot, clock.now());
  run(`shutdown sessions server app/${holder.slot.server!.name}`);
  assert.deepEqual(holder.events, ["shutdown K"]);
  assert.ok(logger.lines.includes('notice: Server "app/a" weight changed from 4 to 2 (initial 4) by the runtime API.'));
  assert.ok(logger.lines.includes('notice: Server "app/b" maxconn changed from 0 to 7 by the runtime API.'));
  assert.ok(logger.lines.includes('notice: Health checks of server "app/a" disabled (it stays UP) by the runtime API.'));
  assert.ok(logger.lines.some((line) => /^notice: Server "app\/[ab]": 1 session\(s\) shut down by the runtime API\.$/.test(line)));
  check.stop();
});
