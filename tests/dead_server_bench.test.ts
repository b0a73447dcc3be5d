/**
 * The dead-server benchmark's pure parts (scripts/bench/dead_server.ts): options, the
 * configurations it writes (ours validated by our own loader), how it recognises a DOWN line from
 * either proxy, and its table. Nothing here starts a proxy or measures time.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfigSources } from "../src/config/load.ts";
import {
  CHECK_FALL,
  CHECK_INTERVAL_S,
  CHECK_RISE,
  CONNECT_TIMEOUT_S,
  deadServerTable,
  failedRequests,
  haproxyDeadServerConfig,
  ourDeadServerConfig,
  parseDeadServerOptions,
  RETRIES,
  saysServerDown,
} from "../scripts/bench/dead_server.ts";
import type { DeadServerResult } from "../scripts/bench/dead_server.ts";
import type { WrkResult } from "../scripts/bench/wrk_output.ts";

const BACKENDS = ["127.0.0.1:18081", "127.0.0.1:18082", "127.0.0.1:18083"];

test("options: defaults, lists, and a kill that must come before the end", () => {
  const defaults = parseDeadServerOptions([]);
  assert.deepEqual(defaults.contenders, ["node", "bun", "deno", "haproxy"]);
  assert.deepEqual(defaults.modes, ["http", "tcp"]);
  assert.deepEqual(defaults.checks, ["on"]);
  assert.equal(defaults.connections, 32);
  assert.equal(defaults.baseline, true);
  const picked = parseDeadServerOptions(["--runtimes", "bun,haproxy", "--modes", "tcp", "--checks", "both", "--no-baseline"]);
  assert.deepEqual([picked.contenders, picked.modes, picked.checks, picked.baseline], [["bun", "haproxy"], ["tcp"], ["on", "off"], false]);
  assert.throws(() => parseDeadServerOptions(["--runtimes", "nginx"]), /Invalid --runtimes "nginx": expected one of node, bun, deno, haproxy/);
  assert.throws(() => parseDeadServerOptions(["--duration", "5", "--kill-after", "5"]), /it must come before the end of the run/);
  assert.throws(() => parseDeadServerOptions(["--checks", "maybe"]), /Invalid --checks "maybe"/);
});

test("our configuration loads, with the scenario's retries, redispatch, timeout and checks", () => {
  for (const mode of ["http", "tcp"] as const) {
    for (const checks of ["on", "off"] as const) {
      const loaded = loadConfigSources([{ name: `dead-${mode}-${checks}.toml`, text: ourDeadServerConfig(mode, 18_080, BACKENDS, checks) }]);
      const backend = loaded.config.backends[0]!;
      assert.equal(loaded.config.frontends[0]!.mode, mode);
      assert.deepEqual([backend.retries, backend.redispatch, backend.servers.length], [RETRIES, true, 3]);
      assert.equal(backend.timeouts.connect, CONNECT_TIMEOUT_S * 1_000);
      for (const server of backend.servers) {
        if (checks === "off") {
          assert.equal(server.check, null);
        } else {
          assert.deepEqual([server.check!.interval, server.check!.fall, server.check!.rise], [CHECK_INTERVAL_S * 1_000, CHECK_FALL, CHECK_RISE]);
        }
      }
    }
  }
});

test("HAProxy's configuration has the same retries, redispatch and checks on every server", () => {
  const text = haproxyDeadServerConfig("http", 18_080, BACKENDS, "on");
  assert.match(text, new RegExp(`^    retries ${RETRIES}$`, "m"));
  assert.match(text, /^    option redispatch$/m);
  assert.match(text, new RegExp(`^    timeout connect ${CONNECT_TIMEOUT_S}s$`, "m"));
  assert.equal(text.match(/^    server origin\d 127\.0\.0\.1:1808\d check inter 2s fall 3 rise 2$/gm)?.length, 3);
  assert.doesNotMatch(haproxyDeadServerConfig("tcp", 18_080, BACKENDS, "off"), /check|http-keep-alive/);
});

test("a DOWN line is recognised from either proxy, for the right server only", () => {
  const ours = 'Server "origins/origin3" is DOWN, reason: Layer4 connection problem, info: "Connection refused", 3 traffic connections in a row.';
  const haproxy = "[WARNING]  (1234) : Server origins/origin3 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms.";
  assert.equal(saysServerDown(ours, "origin3"), true);
  assert.equal(saysServerDown(haproxy, "origin3"), true);
  assert.equal(saysServerDown(ours, "origin1"), false);
  assert.equal(saysServerDown('Health check for server "origins/origin3" failed', "origin3"), false);
});

function wrkResult(overrides: Partial<WrkResult>): WrkResult {
  return {
    requests: 100_000,
    durationSeconds: 10,
    requestsPerSecond: 10_000,
    bytesRead: 0,
    bytesPerSecond: 0,
    latencyAverageMicros: 1_000,
    latencyMaxMicros: 20_000,
    latencyPercentilesMicros: { p50: 900, p75: 1_100, p90: 1_500, p99: 4_200 },
    socketErrors: { connect: 0, read: 3, write: 1, timeout: 0 },
    non2xxOr3xxResponses: 2,
    ...overrides,
  };
}

test("failed requests add socket errors and bad statuses; the table has a row per run", () => {
  assert.equal(failedRequests(wrkResult({})), 6);
  const results: DeadServerResult[] = [
    { contender: "node", mode: "http", checks: "on", killed: false, wrk: wrkResult({}), downAfterMs: null, problem: null },
    { contender: "node", mode: "http", checks: "on", killed: true, wrk: wrkResult({}), downAfterMs: 12, problem: null },
    { contender: "haproxy", mode: "http", checks: "on", killed: true, wrk: wrkResult({}), downAfterMs: null, problem: null },
    { contender: "deno", mode: "tcp", checks: "off", killed: true, wrk: null, downAfterMs: null, problem: "failed to start: boom" },
  ];
  const lines = deadServerTable(results).split("\n");
  assert.equal(lines.length, 6);
  assert.match(lines[2]!, /^\| ours\/node \| http \| on +\| no +\| +100,000 \| +6 \| +10,000 \| +900us \| +4\.20ms \| +20\.00ms \| - +\|$/);
  assert.match(lines[3]!, /\| yes +\|.*\| 12 ms +\|$/);
  assert.match(lines[4]!, /^\| haproxy +\|.*\| not during the run \|$/);
  assert.match(lines[5]!, /^\| ours\/deno \| tcp +\| off +\| yes +\| failed to start: boom \|/);
});
