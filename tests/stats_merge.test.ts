import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeSnapshots, serverStatusSeverity } from "../src/stats/merge.ts";
import type { StatsSnapshot } from "../src/stats/snapshot.ts";
import { backend, check, frontend, processStats, server } from "./helpers/stats_fixture.ts";

/** Two workers of one proxy: same objects, different traffic and, here and there, different states. */
function workers(): [StatsSnapshot, StatsSnapshot] {
  const first: StatsSnapshot = {
    info: processStats({ pid: 101, uptimeSeconds: 100, startedAt: 5_000, currentConnections: 3, totalConnections: 10, connectionRate: 2, connectionRateMax: 9, memoryRss: 1_000, idlePercent: 90 }),
    frontends: [frontend({ seed: 1, name: "fe", id: 1 })],
    backends: [
      backend({
        seed: 3,
        name: "be",
        id: 2,
        sessionsTotal: 300,
        responseTime: 10,
        queueTimeMax: 50,
        lastSessionSeconds: 7,
        downTransitions: 2,
        downtimeSeconds: 30,
        servers: [
          server({ seed: 4, name: "a", id: 1, status: "UP", sessionsTotal: 100, responseTime: 10, weight: 10, check: check({ status: "L7OK" }) }),
          server({ seed: 5, name: "b", id: 2, status: "UP", sessionsTotal: 0, responseTime: 0, lastSessionSeconds: -1, check: check({ status: "L7OK" }) }),
        ],
      }),
    ],
  };
  const second: StatsSnapshot = {
    info: processStats({ pid: 102, uptimeSeconds: 40, startedAt: 65_000, currentConnections: 4, totalConnections: 20, connectionRate: 3, connectionRateMax: 7, memoryRss: 2_000, idlePercent: 70, stopping: true }),
    frontends: [frontend({ seed: 2, name: "fe", id: 1, status: "FULL" })],
    backends: [
      backend({
        seed: 6,
        name: "be",
        id: 2,
        sessionsTotal: 100,
        responseTime: 30,
        queueTimeMax: 20,
        lastSessionSeconds: 3,
        downTransitions: 5,
        downtimeSeconds: 12,
        servers: [
          server({ seed: 7, name: "a", id: 1, status: "UP 2/3", sessionsTotal: 300, responseTime: 30, weight: 7, check: check({ status: "L7STS", code: 503 }) }),
          server({ seed: 8, name: "b", id: 2, status: "UP", sessionsTotal: 0, responseTime: 0, lastSessionSeconds: -1, check: check({ status: "L7OK" }) }),
          server({ seed: 9, name: "c", id: 3, status: "UP" }),
        ],
      }),
    ],
  };
  return [first, second];
}

test("counters, current values and rates are summed", () => {
  const [first, second] = workers();
  const merged = mergeSnapshots([first, second]);
  const fe = merged.frontends[0]!;
  assert.equal(fe.sessionsTotal, first.frontends[0]!.sessionsTotal + second.frontends[0]!.sessionsTotal);
  assert.equal(fe.sessionsCurrent, 1_001 + 2_001);
  assert.equal(fe.bytesIn, 1_007 + 2_007);
  assert.equal(fe.sessionRate, 1_005 + 2_005);
  assert.equal(fe.responses["5xx"], 1_019 + 2_019);
  assert.equal(fe.intercepted, 1_030 + 2_030);
  assert.equal(fe.deniedConnections, 1_031 + 2_031);
  const a = merged.backends[0]!.servers[0]!;
  assert.equal(a.bytesOut, 4_008 + 7_008);
  assert.equal(a.queueCurrent, 4_040 + 7_040);
  assert.equal(a.idleConnections, 4_048 + 7_048);
  assert.equal(a.checkFailures, 4_042 + 7_042, "each worker checks on its own");
  assert.equal(a.selectedTotal, 4_047 + 7_047);
  assert.equal(merged.backends[0]!.queueFailures, 3_049 + 6_049);
});

test("limits are summed: each worker enforces its own", () => {
  const [first, second] = workers();
  const merged = mergeSnapshots([first, second]);
  assert.equal(merged.frontends[0]!.sessionsLimit, 1_003 + 2_003);
  assert.equal(merged.info.maxconn, 4_096 * 2);
});

test("maxima of counts and rates are the highest worker's, maxima of times too", () => {
  const merged = mergeSnapshots(workers());
  assert.equal(merged.frontends[0]!.sessionsMax, 2_002);
  assert.equal(merged.frontends[0]!.sessionRateMax, 2_006);
  assert.equal(merged.backends[0]!.queueMax, 6_041);
  assert.equal(merged.backends[0]!.queueTimeMax, 50);
  assert.equal(merged.info.connectionRateMax, 9);
});

test("time averages are weighted by each worker's sessions", () => {
  const merged = mergeSnapshots(workers());
  // Backend: 10 ms over 300 sessions and 30 ms over 100: (3000 + 3000) / 400 = 15.
  assert.equal(merged.backends[0]!.responseTime, 15);
  // Server a: 10 ms over 100 and 30 ms over 300: (1000 + 9000) / 400 = 25.
  assert.equal(merged.backends[0]!.servers[0]!.responseTime, 25);
  // Server b: no sessions anywhere, the plain mean.
  assert.equal(merged.backends[0]!.servers[1]!.responseTime, 0);
});

test("differing states show the least healthy, and what goes with it from the same worker", () => {
  const merged = mergeSnapshots(workers());
  const a = merged.backends[0]!.servers[0]!;
  assert.equal(a.status, "UP 2/3");
  assert.equal(a.weight, 7, "the weight of the worker whose status is shown");
  assert.equal(a.check!.status, "L7STS");
  assert.equal(a.check!.code, 503);
  assert.equal(merged.backends[0]!.servers[1]!.status, "UP");
  assert.equal(merged.frontends[0]!.status, "FULL");
  const down = workers();
  const stopped = { ...down[1], backends: [{ ...down[1].backends[0]!, status: "DOWN" as const }] };
  assert.equal(mergeSnapshots([down[0], stopped]).backends[0]!.status, "DOWN", "UP only if UP everywhere");
  assert.equal(mergeSnapshots([stopped, down[0]]).backends[0]!.status, "DOWN");
});

test("the severity order of server statuses", () => {
  const ordered = ["MAINT", "MAINT (via x/y)", "DOWN", "DOWN (agent)", "DOWN 1/2", "NOLB", "DRAIN", "UP 1/3", "UP", "no check"];
  const ranks = ordered.map(serverStatusSeverity);
  assert.deepEqual(ranks, [0, 0, 1, 1, 2, 3, 4, 5, 6, 7]);
});

test("shared events and downtime are the highest worker's, last session the most recent", () => {
  const merged = mergeSnapshots(workers());
  const be = merged.backends[0]!;
  assert.equal(be.downTransitions, 5);
  assert.equal(be.downtimeSeconds, 30);
  assert.equal(be.lastSessionSeconds, 3);
  assert.equal(be.servers[1]!.lastSessionSeconds, -1, "never, in any worker");
});

test("objects only some workers have are kept, in the first worker's order", () => {
  const merged = mergeSnapshots(workers());
  assert.deepEqual(merged.backends[0]!.servers.map((sv) => sv.name), ["a", "b", "c"]);
  assert.equal(merged.backends[0]!.servers[2]!.sessionsTotal, 9_004);
});

test("the process: counted, summed, averaged, from the first for its identity", () => {
  const merged = mergeSnapshots(workers());
  assert.equal(merged.info.processes, 2);
  assert.equal(merged.info.pid, 101);
  assert.equal(merged.info.currentConnections, 7);
  assert.equal(merged.info.totalConnections, 30);
  assert.equal(merged.info.connectionRate, 5);
  assert.equal(merged.info.memoryRss, 3_000);
  assert.equal(merged.info.idlePercent, 80);
  assert.equal(merged.info.uptimeSeconds, 100);
  assert.equal(merged.info.startedAt, 5_000);
  assert.equal(merged.info.stopping, true);
  assert.equal(mergeSnapshots([merged, workers()[0]]).info.processes, 3, "a merged snapshot counts its processes");
});

test("one snapshot is itself, none is an error", () => {
  const [first] = workers();
  assert.equal(mergeSnapshots([first]), first);
  assert.throws(() => mergeSnapshots([]), /no snapshot/);
});
