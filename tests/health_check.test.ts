/**
 * The check scheduler and the health state machine, on a manual clock with a scripted probe.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backend } from "../src/core/backend.ts";
import type { BackendSpec } from "../src/core/backend.ts";
import { CheckCounter } from "../src/core/health/check_counter.ts";
import { CHECK_STATUS } from "../src/core/health/probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "../src/core/health/probe.ts";
import { firstCheckDelay, isServerErrorStatus, ServerCheck } from "../src/core/health/server_check.ts";
import type { ServerCheckSpec } from "../src/core/health/server_check.ts";
import type { Logger } from "../src/core/logger.ts";
import { TimerWheel } from "../src/core/timer_wheel.ts";
import { ManualClock } from "./_runtime_helpers.ts";

const PASS: ProbeResult = { passed: true, status: CHECK_STATUS.layer7Passed, code: 200, info: "OK" };
const FAIL: ProbeResult = { passed: false, status: CHECK_STATUS.layer7WrongStatus, code: 500, info: "Internal Server Error" };

/** A probe whose answers the test scripts: each run answers after `latency` ms, or never (`hang`). */
class ScriptedProbe implements HealthProbe {
  next: ProbeResult = PASS;
  latency = 5;
  hang = false;
  connected = false;
  readonly startedAt: number[] = [];
  readonly #clock: ManualClock;

  constructor(clock: ManualClock) {
    this.#clock = clock;
  }

  start(done: (result: ProbeResult) => void): ProbeRun {
    this.startedAt.push(this.#clock.now());
    const result = this.next;
    let cancelled = false;
    const run = { connected: this.connected, cancel: () => (cancelled = true) };
    if (!this.hang) this.#clock.setTimer(this.latency, () => cancelled || done(result));
    return run;
  }
}

/** A logger that keeps every message with its level. */
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

const SPEC: ServerCheckSpec = {
  interval: 1_000,
  fastInterval: 200,
  downInterval: 3_000,
  rise: 2,
  fall: 3,
  timeout: 500,
  observe: null,
  errorLimit: 3,
  onError: "fail-check",
  shutdownSessionsOnDown: false,
  shutdownBackupSessionsOnUp: false,
};

function rig(spec: Partial<ServerCheckSpec> = {}, backendSpec: Partial<BackendSpec> = {}) {
  const clock = new ManualClock(0);
  // 1 ms ticks: the timings below are exact.
  const wheel = new TimerWheel(clock, 1);
  const logger = new RecordingLogger();
  const backend = new Backend({
    name: "app",
    balance: "roundrobin",
    retries: 3,
    redispatch: true,
    allBackups: false,
    connectTimeout: 1_000,
    serverTimeout: 1_000,
    tunnelTimeout: 0,
    servers: [
      { name: "a", host: "10.0.0.1", port: 80, weight: 1, maxconn: 0, backup: false },
      { name: "b", host: "10.0.0.2", port: 80, weight: 1, maxconn: 0, backup: false },
    ],
    ...backendSpec,
  }, { logger, wheel });
  const server = backend.servers[0]!;
  const probe = new ScriptedProbe(clock);
  const check = new ServerCheck(backend, server, { ...SPEC, ...spec }, probe, wheel, clock, logger);
  return { clock, wheel, logger, backend, server, probe, check };
}

test("the counter follows HAProxy: up from rise, a good check from down counts one, a bad one from up counts one", () => {
  const counter = new CheckCounter(2, 3);
  assert.equal(counter.describe(), "UP 1/3", "starts at rise: one failure from down");
  assert.equal(counter.pass(), "moved");
  assert.equal(counter.describe(), "UP");
  assert.equal(counter.pass(), "none");
  assert.equal(counter.fail(), "moved");
  assert.equal(counter.describe(), "UP 2/3");
  assert.equal(counter.progress(), "2/3 UP");
  assert.equal(counter.fail(), "moved");
  assert.equal(counter.fail(), "went-down");
  assert.equal(counter.describe(), "DOWN");
  assert.equal(counter.fail(), "none");
  assert.equal(counter.pass(), "moved");
  assert.equal(counter.describe(), "DOWN 1/2");
  assert.equal(counter.fail(), "moved", "a bad check while rising starts over");
  assert.equal(counter.describe(), "DOWN");
  counter.pass();
  assert.equal(counter.pass(), "went-up");
  assert.equal(counter.describe(), "UP", "up again at the top: fall failures needed");
  assert.equal(counter.suddenDeath(), "moved");
  assert.equal(counter.fail(), "went-down");
});

test("checks start at their spread offset and follow one interval after the previous one ended", () => {
  const { clock, probe, check } = rig();
  check.start(250);
  clock.advanceTo(240);
  assert.deepEqual(probe.startedAt, []);
  clock.advanceTo(260);
  assert.deepEqual(probe.startedAt, [250]);
  clock.advanceTo(5_000);
  // Each check ends 5 ms after it starts; the next starts an interval (1 s) later.
  assert.deepEqual(probe.startedAt, [250, 1_255, 2_260, 3_265, 4_270]);
  check.stop();
  clock.advance(10_000);
  assert.equal(probe.startedAt.length, 5);
});

test("first checks of several servers are spread over the interval", () => {
  assert.deepEqual([0, 1, 2, 3].map((position) => firstCheckDelay(position, 4, 2_000)), [0, 500, 1_000, 1_500]);
  assert.equal(firstCheckDelay(0, 1, 2_000), 0);
});

/** Asserts that the last check started at `at`, or up to two 1 ms ticks later (the wheel fires at most a tick late). */
function assertLastStart(probe: ScriptedProbe, at: number, message?: string): void {
  const started = probe.startedAt.at(-1)!;
  assert.ok(started >= at && started <= at + 2, `${message ?? "last check"}: started at ${started}, expected ${at}`);
}

test("fall failed checks take a steady server down; rise good checks bring it back; intervals per state", () => {
  const { clock, probe, check, server, backend, logger } = rig();
  check.start(0);
  clock.advanceTo(100); // the first check passes: UP 1/3 becomes UP
  assert.equal(server.describeState(), "UP");
  probe.next = FAIL;
  clock.advanceTo(1_050);
  assertLastStart(probe, 1_005);
  assert.equal(server.describeState(), "UP 2/3");
  assert.ok(server.up);
  assert.match(logger.lines.at(-1)!, /^warn: Health check for server "app\/a" failed, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: 5ms, status: 2\/3 UP\.$/);
  // While changing state, the next check comes at fastinter (200 ms) instead of 1 s.
  const second = probe.startedAt.at(-1)!;
  clock.advanceTo(second + 250);
  assertLastStart(probe, second + 205, "fastinter");
  assert.equal(server.describeState(), "UP 1/3");
  const third = probe.startedAt.at(-1)!;
  clock.advanceTo(third + 250);
  assertLastStart(probe, third + 205, "fastinter");
  assert.equal(server.up, false);
  assert.equal(server.describeState(), "DOWN");
  assert.equal(backend.usableActive, 1);
  assert.match(
    logger.lines.at(-1)!,
    /^alert: Server "app\/a" is DOWN, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: 5ms\. 1 active and 0 backup servers left\. 0 sessions active, 0 requeued, 0 remaining in queue\.$/,
  );
  // Down: the next check comes at downinter (3 s).
  probe.next = PASS;
  const fourth = probe.startedAt.at(-1)!;
  clock.advanceTo(fourth + 3_100);
  assertLastStart(probe, fourth + 3_005, "downinter");
  assert.equal(server.describeState(), "DOWN 1/2");
  assert.match(logger.lines.at(-1)!, /^notice: Health check for server "app\/a" succeeded, reason: Layer7 check passed, code: 200, info: "OK", check duration: 5ms, status: 1\/2 DOWN\.$/);
  const fifth = probe.startedAt.at(-1)!;
  clock.advanceTo(fifth + 250);
  assertLastStart(probe, fifth + 205, "fastinter while rising");
  assert.ok(server.up);
  assert.equal(backend.usableActive, 2);
  assert.match(logger.lines.at(-1)!, /^notice: Server "app\/a" is UP, reason: Layer7 check passed, code: 200, info: "OK", check duration: 5ms\. 2 active and 0 backup servers online\. 0 total in queue\.$/);
  const sixth = probe.startedAt.at(-1)!;
  clock.advanceTo(sixth + 1_100);
  assertLastStart(probe, sixth + 1_005, "steady again: the interval");
  check.stop();
});

test("a server that fails its first check after a start is down at once (it starts at rise)", () => {
  const { clock, probe, check, server } = rig();
  probe.next = FAIL;
  check.start(0);
  clock.advanceTo(10);
  assert.equal(server.up, false);
  check.stop();
});

test("a check that does not answer within its timeout fails: Layer4 before the connection, Layer7 after", () => {
  const { clock, probe, check, logger } = rig();
  probe.hang = true;
  check.start(0);
  clock.advanceTo(520);
  assert.match(logger.lines.at(-1)!, /is DOWN, reason: Layer4 timeout, check duration: 50\dms/);
  assert.equal(check.running, false);
  probe.hang = false;
  probe.next = PASS;
  clock.advanceTo(3_600);
  probe.hang = true;
  probe.connected = true;
  clock.advanceTo(4_300);
  assert.match(logger.lines.at(-1)!, /failed, reason: Layer7 timeout, check duration: 50\dms, status: 0\/2 DOWN/);
  check.stop();
});

test("a server in maintenance is not checked", () => {
  const { clock, probe, check, backend, server } = rig();
  backend.setMaintenance(server, true);
  check.start(0);
  clock.advanceTo(5_000);
  assert.equal(probe.startedAt.length, 0);
  assert.equal(server.describeState(), "MAINT");
  backend.setMaintenance(server, false);
  clock.advanceTo(6_000);
  assert.equal(probe.startedAt.length, 1, "checks resume within an interval");
  check.stop();
});

test("passive health: error-limit consecutive errors count as a failed check and hurry the next check", () => {
  const { clock, probe, check, server, logger } = rig({ observe: "layer7" });
  check.start(0);
  clock.advanceTo(100);
  assert.equal(server.describeState(), "UP");
  const observer = server.observer!;
  observer.responseStatus(503);
  observer.responseStatus(502);
  observer.responseStatus(200); // a success in between starts the count over
  observer.responseStatus(501); // "not implemented" is not the server failing
  observer.responseStatus(505);
  observer.responseStatus(500);
  observer.responseFailed();
  assert.equal(server.describeState(), "UP");
  observer.connectFailed();
  assert.equal(server.describeState(), "UP 2/3");
  assert.match(logger.lines.at(-1)!, /reason: Health analyze, info: "Detected 3 consecutive errors, last one was: Layer4 connection problem"/);
  // The next check was planned at 1005; it now comes at fastinter from now.
  clock.advanceTo(320);
  assert.equal(probe.startedAt.at(-1), 300);
  check.stop();
});

test("passive health: mark-down takes the server down at once; layer4 ignores http statuses", () => {
  const markDown = rig({ observe: "layer4", onError: "mark-down" });
  markDown.check.start(0);
  markDown.clock.advanceTo(100);
  const observer = markDown.server.observer!;
  for (let i = 0; i < 10; i++) observer.responseStatus(500);
  assert.ok(markDown.server.up);
  observer.connectFailed();
  observer.connectFailed();
  observer.connected();
  observer.connectFailed();
  observer.connectFailed();
  assert.ok(markDown.server.up);
  observer.connectFailed();
  assert.equal(markDown.server.up, false);
  assert.match(markDown.logger.lines.at(-1)!, /^alert: Server "app\/a" is DOWN, reason: Health analyze/);
  markDown.check.stop();

  const sudden = rig({ observe: "layer4", onError: "sudden-death" });
  sudden.check.start(0);
  sudden.clock.advanceTo(100);
  for (let i = 0; i < 3; i++) sudden.server.observer!.connectFailed();
  assert.equal(sudden.server.describeState(), "UP 1/3");
  sudden.check.stop();
});

test("without observe, sessions find no observer", () => {
  const { server, check } = rig();
  assert.equal(server.observer, null);
  check.stop();
});

test("layer-7 errors are 5xx except 501 and 505", () => {
  assert.deepEqual([200, 404, 499, 500, 501, 502, 503, 504, 505, 599].filter(isServerErrorStatus), [500, 502, 503, 504, 599]);
});

/** The error a runtime reports for a connection nobody accepts. */
const REFUSED = Object.assign(new Error('Cannot connect to "10.0.0.1:80": connection refused'), { code: "ECONNREFUSED" });

test("refused connections of traffic take a steady server down after fall of them, whatever the interval", () => {
  const { clock, probe, check, server, backend, logger } = rig({ interval: 60_000, fastInterval: 60_000, downInterval: 60_000 });
  check.start(0);
  clock.advanceTo(100); // the first check passes: UP 1/3 becomes UP
  assert.equal(server.describeState(), "UP");
  const linesBefore = logger.lines.length;
  server.connectFailed(false, REFUSED);
  server.connectFailed(false, REFUSED);
  assert.ok(server.up);
  assert.equal(server.describeState(), "UP", "the run is not shown as failed checks until it reaches fall");
  assert.equal(logger.lines.length, linesBefore, "nothing logged before the run takes the server down");
  server.connectFailed(false, REFUSED);
  assert.equal(server.up, false);
  assert.equal(server.describeState(), "DOWN");
  assert.equal(backend.usableActive, 1);
  assert.match(
    logger.lines.at(-1)!,
    /^alert: Server "app\/a" is DOWN, reason: Layer4 connection problem, info: "Connection refused", 3 traffic connections in a row\. 1 active and 0 backup servers left\./,
  );
  assert.equal(probe.startedAt.length, 1, "no check had to run: the traffic said it");
  check.stop();
});

test("a successful connection ends a run of refusals; timeouts do not count", () => {
  const { clock, check, server } = rig();
  check.start(0);
  clock.advanceTo(100);
  server.connectFailed(false, REFUSED);
  server.connectFailed(false, REFUSED);
  server.connected();
  server.connectFailed(false, REFUSED);
  server.connectFailed(false, REFUSED);
  for (let i = 0; i < 10; i++) server.connectFailed(true, undefined);
  assert.ok(server.up, "two refusals, a success, two refusals and timeouts: no run of three");
  assert.equal(server.connectFailures, 14);
  server.connectFailed(false, undefined); // a close without an error while connecting counts as a refusal
  assert.equal(server.up, false);
  check.stop();
});

test("a run of refusals counts as the failed checks the counter still has: fewer after failed checks, one after a start", () => {
  const failedOnce = rig();
  failedOnce.check.start(0);
  failedOnce.clock.advanceTo(100);
  failedOnce.probe.next = FAIL;
  failedOnce.clock.advanceTo(1_050);
  assert.equal(failedOnce.server.describeState(), "UP 2/3");
  failedOnce.server.connectFailed(false, REFUSED);
  assert.ok(failedOnce.server.up);
  failedOnce.server.connectFailed(false, REFUSED);
  assert.equal(failedOnce.server.up, false, "one failed check and two refusals: three");
  failedOnce.check.stop();

  const started = rig();
  started.check.start(500); // running, but its first check has not come yet
  assert.equal(started.server.describeState(), "UP 1/3");
  started.server.connectFailed(false, REFUSED);
  assert.equal(started.server.up, false, "a server starts at rise: one failure takes it down, as a first failed check does");
  started.check.stop();
});

test("refusals met while a server is down do not count once it is back up", () => {
  const { clock, probe, check, server } = rig({ rise: 1 });
  check.start(0);
  clock.advanceTo(100);
  for (let i = 0; i < 3; i++) server.connectFailed(false, REFUSED);
  assert.equal(server.up, false);
  // Attempts that were already under way when it went down.
  for (let i = 0; i < 5; i++) server.connectFailed(false, REFUSED);
  probe.next = PASS;
  clock.advanceTo(4_000);
  assert.ok(server.up, "the check brought it back");
  server.connectFailed(false, REFUSED);
  server.connectFailed(false, REFUSED);
  assert.ok(server.up, "a new run starts from 0");
  check.stop();
});

test("an unchecked server is never marked down by refusals, and a stopped check ignores them", () => {
  const { backend, check } = rig();
  const unchecked = backend.servers[1]!;
  assert.equal(unchecked.refusalWatcher, null);
  for (let i = 0; i < 20; i++) unchecked.connectFailed(false, REFUSED);
  assert.ok(unchecked.up);
  check.stop();
  for (let i = 0; i < 5; i++) check.server.connectFailed(false, REFUSED);
  assert.ok(check.server.up);
});
