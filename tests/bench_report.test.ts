/**
 * The benchmark's parsing, ratio, target and table code, run on wrk output recorded from real runs
 * (tests/fixtures/wrk_*.txt). Nothing here measures time: figures come from the fixtures.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { fileURLToPath } from "node:url";
import { BODY_PATHS, closesEachConnection } from "../scripts/bench/bodies.ts";
import { haproxyConfig, nginxHttpProxyConfig, nginxStreamConfig } from "../scripts/bench/configs.ts";
import { ourFlags } from "../scripts/bench/contenders.ts";
import { connectionsWithinLimit } from "../scripts/bench/file_limits.ts";
import { udpSocketDrops } from "../scripts/bench/log_receiver.ts";
import { loggingCosts, proxyReportedDrops } from "../scripts/bench/logging.ts";
import { ALL_MODES, FULL_DEFAULTS, parseBenchOptions, QUICK_DEFAULTS } from "../scripts/bench/options.ts";
import type { BenchMode, BodyName, LogLineCount, RunSample } from "../scripts/bench/report.ts";
import { loggingBaseline, median, otherLoadSummary, summarize } from "../scripts/bench/report.ts";
import { roundOrder, slotGroups } from "../scripts/bench/rounds.ts";
import {
  formatLatency,
  formatRatioSpread,
  loggingTable,
  markdownTable,
  memoryTable,
  targetsTable,
  throughputTable,
} from "../scripts/bench/table.ts";
import type { IdleMemoryResult } from "../scripts/bench/targets.ts";
import { checkTargets, rssAtTargetConnections } from "../scripts/bench/targets.ts";
import type { WrkResult } from "../scripts/bench/wrk_output.ts";
import { parseWrkOutput, parseWrkSize, parseWrkTime } from "../scripts/bench/wrk_output.ts";
import { wrkArguments } from "../scripts/bench/wrk.ts";
import { BENCH_CERTIFICATE, describeResumption, FULL_HANDSHAKE_SHIM_SOURCE } from "../scripts/bench/tls_client.ts";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), "utf8");
}

const MB = 1024 * 1024;

describe("wrk output parsing", () => {
  test("reads every figure of a 16-byte run", () => {
    const result = parseWrkOutput(fixture("wrk_small_body.txt"));
    assert.equal(result.requests, 369_976);
    assert.equal(result.durationSeconds, 3);
    assert.equal(result.requestsPerSecond, 123_256.6);
    assert.ok(Math.abs(result.bytesRead - 57.86 * MB) < 1);
    assert.ok(Math.abs(result.bytesPerSecond - 19.28 * MB) < 1);
    assert.ok(Math.abs(result.latencyAverageMicros - 322.07) < 1e-9);
    assert.ok(Math.abs(result.latencyMaxMicros - 4_720) < 1e-9);
    assert.deepEqual(result.latencyPercentilesMicros, { p50: 230, p75: 410, p90: 581, p99: 843 });
    assert.deepEqual(result.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
    assert.equal(result.non2xxOr3xxResponses, 0);
  });

  test("reads gigabytes and milliseconds of a 1 MB run", () => {
    const result = parseWrkOutput(fixture("wrk_1mb_body.txt"));
    assert.equal(result.requests, 6_860);
    assert.equal(result.durationSeconds, 3.04);
    assert.ok(Math.abs(result.bytesRead - 6.7 * 1024 * MB) < 1024);
    assert.ok(Math.abs(result.bytesPerSecond - 2.2 * 1024 * MB) < 1024);
    assert.ok(Math.abs(result.latencyPercentilesMicros.p50 - 3_690) < 1e-9);
    assert.ok(Math.abs(result.latencyPercentilesMicros.p99 - 16_040) < 1e-9);
  });

  test("counts error statuses", () => {
    const result = parseWrkOutput(fixture("wrk_non2xx.txt"));
    assert.equal(result.requests, 274_412);
    assert.equal(result.non2xxOr3xxResponses, 274_412);
  });

  test("counts socket errors and error statuses together", () => {
    const result = parseWrkOutput(fixture("wrk_socket_errors.txt"));
    assert.deepEqual(result.socketErrors, { connect: 0, read: 10, write: 0, timeout: 0 });
    assert.equal(result.non2xxOr3xxResponses, 21_387);
    assert.equal(result.durationSeconds, 3);
  });

  test("rejects the output of a run that never connected, quoting wrk", () => {
    assert.throws(
      () => parseWrkOutput(fixture("wrk_connection_refused.txt")),
      /Cannot parse wrk output: .*"unable to connect to 127\.0\.0\.1:18099 Connection refused"/,
    );
  });

  test("converts every wrk time and size unit", () => {
    assert.equal(parseWrkTime("12.00us"), 12);
    assert.equal(parseWrkTime("1.50ms"), 1_500);
    assert.equal(parseWrkTime("2.00s"), 2_000_000);
    assert.equal(parseWrkTime("1.00m"), 60_000_000);
    assert.equal(parseWrkTime("1.00h"), 3_600_000_000);
    assert.equal(parseWrkSize("512.00B"), 512);
    assert.equal(parseWrkSize("2.00KB"), 2_048);
    assert.equal(parseWrkSize("1.00TB"), 1024 ** 4);
    assert.throws(() => parseWrkTime("12 parsecs"), /Cannot parse wrk time "12 parsecs"/);
    assert.throws(() => parseWrkSize("3.00XB"), /Cannot parse wrk size "3.00XB"/);
  });
});

describe("summaries and ratios", () => {
  const small = parseWrkOutput(fixture("wrk_small_body.txt"));
  const large = parseWrkOutput(fixture("wrk_1mb_body.txt"));
  const failing = parseWrkOutput(fixture("wrk_socket_errors.txt"));

  function sample(
    contender: string,
    mode: BenchMode,
    body: BodyName,
    round: number,
    wrk: WrkResult,
    requestsPerSecond: number,
    cpuMicrosPerRequest: number,
    pinned = true,
  ): RunSample {
    const scaled = { ...wrk, requestsPerSecond };
    return {
      contender,
      mode,
      body,
      round,
      wrk: scaled,
      cpuMicros: cpuMicrosPerRequest * wrk.requests,
      // A quarter of the process's time again, as softirq on its CPU: the shape seen on loopback.
      softirqMicros: pinned ? (cpuMicrosPerRequest / 4) * wrk.requests : null,
      // In round 3 something else kept half a core busy.
      otherLoadMicros: pinned ? (round === 3 ? 0.5 : 0.01) * wrk.durationSeconds * 1_000_000 : null,
      log: null,
      stats: null,
    };
  }

  const samples: RunSample[] = [
    sample("origin direct", "direct", "small", 1, small, 120_000, 5),
    sample("origin direct", "direct", "small", 2, small, 100_000, 5),
    sample("origin direct", "direct", "small", 3, small, 110_000, 5),
    sample("haproxy", "tcp", "small", 1, small, 60_000, 10),
    sample("haproxy", "tcp", "small", 2, small, 50_000, 12),
    sample("haproxy", "tcp", "small", 3, small, 55_000, 11),
    sample("ours/node", "tcp", "small", 1, small, 30_000, 25),
    sample("ours/node", "tcp", "small", 2, failing, 27_500, 22),
    sample("ours/node", "tcp", "small", 3, failing, 10_000, 90),
    sample("haproxy", "tcp", "1mb", 1, large, 1_000, 1_000),
    sample("ours/bun", "tcp", "1mb", 1, large, 950, 600),
    sample("ours/bun", "http", "small", 1, small, 40_000, 14, false),
  ];
  const summaries = summarize(samples);
  const find = (contender: string, mode: BenchMode, body: BodyName) => {
    const found = summaries.find((summary) =>
      summary.contender === contender && summary.mode === mode && summary.body === body
    );
    assert.ok(found !== undefined, `no summary for ${contender} ${mode} ${body}`);
    return found;
  };

  test("takes medians over rounds, so one bad round does not move the figure", () => {
    const ours = find("ours/node", "tcp", "small");
    assert.equal(ours.rounds, 3);
    assert.equal(ours.requestsPerSecond, 27_500);
    assert.ok(Math.abs(ours.cpuMicrosPerRequest - 25) < 1e-9);
    assert.equal(ours.latencyP50Micros, 120);
  });

  test("sums errors and error statuses over rounds", () => {
    const ours = find("ours/node", "tcp", "small");
    assert.equal(ours.errors, 20);
    assert.equal(ours.non2xxResponses, 2 * 21_387);
  });

  test("compares with HAProxy in the same mode and body, and with the origin direct", () => {
    const ours = find("ours/node", "tcp", "small");
    assert.ok(Math.abs(ours.ratios.requestsPerSecondVsHaproxy! - 27_500 / 55_000) < 1e-9);
    assert.ok(Math.abs(ours.ratios.cpuPerRequestVsHaproxy! - 25 / 11) < 1e-9);
    assert.ok(Math.abs(ours.ratios.requestsPerSecondVsDirect! - 27_500 / 110_000) < 1e-9);
    const bun = find("ours/bun", "tcp", "1mb");
    assert.ok(Math.abs(bun.ratios.requestsPerSecondVsHaproxy! - 0.95) < 1e-9);
    assert.ok(Math.abs(bun.ratios.cpuPerRequestVsHaproxy! - 0.6) < 1e-9);
    assert.equal(bun.ratios.requestsPerSecondVsDirect, null);
  });

  test("leaves a ratio empty when its reference was not measured", () => {
    const bunHttp = find("ours/bun", "http", "small");
    assert.equal(bunHttp.ratios.requestsPerSecondVsHaproxy, null);
    assert.equal(bunHttp.ratios.cpuPerRequestVsHaproxy, null);
    assert.ok(bunHttp.ratios.requestsPerSecondVsDirect !== null);
  });

  test("reports how busy the contender's core was", () => {
    const haproxy = find("haproxy", "tcp", "small");
    assert.ok(Math.abs(haproxy.coreBusy - (11 * small.requests) / 3_000_000) < 1e-9);
  });

  test("reports softirq time per request only when every round measured it", () => {
    assert.ok(Math.abs(find("ours/node", "tcp", "small").softirqMicrosPerRequest! - 25 / 4) < 1e-9);
    assert.equal(find("ours/bun", "http", "small").softirqMicrosPerRequest, null);
  });

  test("reports the other load on the machine, per summary and for the whole run", () => {
    assert.ok(Math.abs(find("haproxy", "tcp", "small").otherLoadCores! - 0.01) < 1e-9);
    assert.equal(find("ours/bun", "http", "small").otherLoadCores, null);
    const noise = otherLoadSummary(samples);
    assert.ok(noise !== null);
    assert.ok(Math.abs(noise.median - 0.01) < 1e-9);
    assert.ok(Math.abs(noise.worst - 0.5) < 1e-9);
    assert.equal(noise.worstSample, "origin direct small round 3");
    assert.equal(otherLoadSummary([]), null);
  });

  test("median handles odd and even counts and refuses none", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), /Cannot take the median of no values/);
  });

  test("prints a table with every measured row and its ratios", () => {
    const table = throughputTable(summaries, "small");
    const lines = table.split("\n");
    assert.match(lines[0]!, /^16-byte responses/);
    const row = lines.find((line) => line.startsWith("| ours/node "));
    assert.ok(row !== undefined);
    assert.match(row, /\|\s+27,500 \|/);
    assert.match(row, /\|\s+25\.00 \|/);
    assert.match(row, /\|\s+0\.50x \|\s+2\.27x \|\s+0\.25x \|$/);
    assert.doesNotMatch(table, /\| ours\/bun\s+\| tcp/, "1 MB rows belong to the other table");
    assert.match(throughputTable(summaries, "1mb"), /\| ours\/bun\s+\| tcp/);
    const widths = new Set(lines.slice(2).filter((line) => line.startsWith("|")).map((line) => line.length));
    assert.equal(widths.size, 1, "every row has the same width");
  });

  test("checks the targets: met, not met and not measured", () => {
    const memory: IdleMemoryResult[] = [
      {
        contender: "ours/node",
        mode: "tcp",
        requested: 10_000,
        held: 10_000,
        rssBeforeBytes: 50 * MB,
        rssAfterBytes: 90 * MB,
        firstError: null,
      },
    ];
    const checks = checkTargets(summaries, memory);
    const check = (contender: string, target: string, mode: string) => {
      const found = checks.find((entry) =>
        entry.contender === contender && entry.target.startsWith(target) && entry.mode === mode
      );
      assert.ok(found !== undefined, `no check ${contender} ${target} ${mode}`);
      return found;
    };
    assert.equal(check("ours/node", "tcp mode CPU", "tcp").status, "not met");
    assert.equal(check("ours/bun", "http mode CPU", "http").status, "not measured");
    // Issue 21 states the 1 MB targets for http mode only; the tcp rows stay in the throughput table.
    assert.ok(!checks.some((entry) => entry.target.startsWith("1 MB") && entry.mode === "tcp"));
    // tcp mode's idle memory has no target: measured, shown, marked as information.
    assert.equal(check("ours/node", "RSS with", "tcp").status, "informative");
    assert.equal(check("ours/node", "RSS with", "tcp").limit, null);
    assert.equal(check("ours/node", "RSS with", "tcp").measured, 90);
    assert.equal(check("ours/deno", "RSS with", "tcp").status, "not measured");
    assert.match(
      targetsTable(checks),
      /\| RSS with 10,000 idle connections +\| ours\/node \| tcp +\| - +\|\s+90\.0 MB \| informative/,
    );
  });
});

describe("traffic logging cost", () => {
  const small = parseWrkOutput(fixture("wrk_small_body.txt"));

  function run(
    contender: string,
    round: number,
    requestsPerSecond: number,
    cpuMicrosPerRequest: number,
    log: LogLineCount | null = null,
  ): RunSample {
    return {
      contender,
      mode: "http",
      body: "small",
      round,
      wrk: { ...small, requestsPerSecond },
      cpuMicros: cpuMicrosPerRequest * small.requests,
      softirqMicros: null,
      otherLoadMicros: null,
      log,
      stats: null,
    };
  }
  const lines = (count: number, kernelDrops: number | null = 0): LogLineCount => ({
    lines: count,
    kernelDrops,
  });

  // Round 2 ran while the machine was slower for both: the per-round ratio does not move.
  const samples: RunSample[] = [
    run("ours/node", 1, 30_000, 30),
    run("ours/node+log", 1, 24_000, 36, lines(small.requests + 64)),
    run("ours/node", 2, 20_000, 45),
    run("ours/node+log", 2, 17_000, 58.5, lines(small.requests - 100, 100)),
    run("ours/node", 3, 31_000, 29),
    run("ours/node+log", 3, 25_000, 34.8, lines(small.requests)),
    run("haproxy", 1, 50_000, 18),
    run("haproxy+log", 1, 45_000, 21.6, lines(small.requests, null)),
    run("ours/bun+log", 1, 40_000, 20, lines(small.requests)),
  ];

  test("names the contender a logging one is compared with", () => {
    assert.equal(loggingBaseline("ours/node+log"), "ours/node");
    assert.equal(loggingBaseline("haproxy+log"), "haproxy");
    assert.equal(loggingBaseline("ours/node"), null);
    assert.equal(loggingBaseline("+log"), null);
  });

  test("takes the median of per-round ratios, with their range, and each side's medians", () => {
    const [node] = loggingCosts(samples);
    assert.ok(node !== undefined);
    assert.equal(node.contender, "ours/node");
    assert.equal(node.variant, "ours/node+log");
    assert.equal(node.requestsPerSecondOff, 30_000);
    assert.equal(node.requestsPerSecondOn, 24_000);
    assert.ok(Math.abs(node.cpuMicrosPerRequestOff! - 30) < 1e-9);
    assert.ok(Math.abs(node.cpuMicrosPerRequestOn - 36) < 1e-9);
    const cpu = node.cpuPerRequestRatio!;
    assert.equal(cpu.rounds, 3);
    assert.ok(Math.abs(cpu.median - 1.2) < 1e-9);
    assert.ok(Math.abs(cpu.min - 1.2) < 1e-9);
    assert.ok(Math.abs(cpu.max - 1.3) < 1e-9);
    const throughput = node.requestsPerSecondRatio!;
    assert.ok(Math.abs(throughput.median - 25_000 / 31_000) < 1e-9);
    assert.ok(Math.abs(throughput.min - 0.8) < 1e-9);
    assert.ok(Math.abs(throughput.max - 0.85) < 1e-9);
  });

  test("sums the lines received, the requests and the lines lost in the kernel", () => {
    const [node, haproxy] = loggingCosts(samples, new Map([["ours/node+log", 7], ["haproxy+log", null]]));
    assert.equal(node!.requests, 3 * small.requests);
    assert.equal(node!.linesReceived, 3 * small.requests - 36);
    assert.equal(node!.kernelDrops, 100);
    assert.equal(node!.senderDrops, 7);
    assert.equal(haproxy!.contender, "haproxy");
    assert.equal(haproxy!.kernelDrops, null, "unknown in one round: unknown in all");
    assert.equal(haproxy!.senderDrops, null);
  });

  test("leaves the comparison empty when the contender without logging was not measured", () => {
    const bun = loggingCosts(samples).find((cost) => cost.variant === "ours/bun+log");
    assert.ok(bun !== undefined);
    assert.equal(bun.requestsPerSecondOff, null);
    assert.equal(bun.cpuMicrosPerRequestOff, null);
    assert.equal(bun.cpuPerRequestRatio, null);
    assert.equal(bun.requestsPerSecondRatio, null);
    assert.equal(loggingCosts(samples.filter((sample) => !sample.contender.endsWith("+log"))).length, 0);
  });

  test("pairs only rounds that measured both sides", () => {
    const missing = samples.filter((sample) => !(sample.contender === "ours/node" && sample.round === 2));
    const [node] = loggingCosts(missing);
    assert.equal(node!.cpuPerRequestRatio!.rounds, 2);
    assert.ok(Math.abs(node!.cpuPerRequestRatio!.max - 1.2) < 1e-9);
  });

  test("compares a logging row with HAProxy logging, not with HAProxy without", () => {
    const summaries = summarize(samples);
    const find = (contender: string) => summaries.find((summary) => summary.contender === contender)!;
    assert.ok(Math.abs(find("ours/node+log").ratios.cpuPerRequestVsHaproxy! - 36 / 21.6) < 1e-9);
    assert.ok(Math.abs(find("ours/node").ratios.cpuPerRequestVsHaproxy! - 30 / 18) < 1e-9);
    assert.equal(find("haproxy+log").ratios.cpuPerRequestVsHaproxy, 1);
    const withoutHaproxyLogging = summarize(samples.filter((sample) => sample.contender !== "haproxy+log"));
    assert.equal(
      withoutHaproxyLogging.find((summary) => summary.contender === "ours/node+log")!.ratios
        .cpuPerRequestVsHaproxy,
      null,
    );
  });

  test("prints one row per logging contender with ratios, their range and the line counts", () => {
    const table = loggingTable(loggingCosts(samples, new Map([["ours/node+log", 0]])));
    const tableLines = table.split("\n");
    assert.match(tableLines[0]!, /^Traffic logging, on vs off/);
    const node = tableLines.find((line) => line.startsWith("| ours/node "));
    assert.ok(node !== undefined);
    assert.match(node, /\| http \| 16-byte \|\s+30,000 \|\s+24,000 \| 0\.81x \(0\.80-0\.85\) \|/);
    assert.match(node, /\|\s+30\.00 \|\s+36\.00 \| 1\.20x \(1\.20-1\.30\) \|/);
    assert.match(node, /\|\s+1,109,892 \|\s+1,109,928 \|\s+100\.00% \|\s+100 \|\s+0 \|$/);
    const haproxy = tableLines.find((line) => line.startsWith("| haproxy "))!;
    assert.match(haproxy, /\|\s+1\.20x \|/, "one round: no range");
    assert.match(haproxy, /\|\s+- \|\s+- \|$/, "kernel and proxy drops unknown");
    assert.match(tableLines.find((line) => line.startsWith("| ours/bun "))!, /\|\s+- \|\s+40,000 \|\s+- \|/);
    const widths = new Set(
      tableLines.slice(2).filter((line) => line.startsWith("|")).map((line) => line.length),
    );
    assert.equal(widths.size, 1, "every row has the same width");
  });

  test("formats a ratio over rounds", () => {
    assert.equal(formatRatioSpread(null), "-");
    assert.equal(formatRatioSpread({ median: 1.234, min: 1.2, max: 1.3, rounds: 3 }), "1.23x (1.20-1.30)");
    assert.equal(formatRatioSpread({ median: 1.5, min: 1.5, max: 1.5, rounds: 1 }), "1.50x");
  });

  test("reads the drops our proxy reports on stderr, the last total winning", () => {
    const stderr = [
      'ℹ Frontend "main" (http) listening on 127.0.0.1:9000, backend "main": 2 server(s)',
      '⚠ Log target "udp://127.0.0.1:5140" dropped 12 lines (12 in all): too many datagrams waiting to be sent',
      '⚠ Log target "udp://127.0.0.1:5140" dropped 1 line (13 in all): queue full',
      "ℹ Proxy stopped",
    ].join("\n");
    assert.equal(proxyReportedDrops(stderr), 13);
    assert.equal(proxyReportedDrops("ℹ Proxy stopped\n"), 0);
  });

  test("reads the kernel's drop counter of the receiver's socket from /proc/net/udp", () => {
    const procNetUdp = [
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            ",
      "  512: 0100007F:B8C7 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 912345 2 0000000000000000 0        ",
      "  873: 0100007F:1435 00000000:0000 07 00000000:00034000 00:00000000 00000000     0        0 912399 2 0000000000000000 4711     ",
      "  874: 00000000:1435 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 912400 2 0000000000000000 9        ",
    ].join("\n");
    assert.equal(udpSocketDrops(procNetUdp, 0x1435), 4711);
    assert.equal(udpSocketDrops(procNetUdp, 0xb8c7), 0);
    assert.equal(udpSocketDrops(procNetUdp, 514), null);
  });

  test("keeps each logging slot right after its baseline's, reversed in odd rounds, never split", () => {
    const targets = [
      { contender: "origin direct", mode: "direct" as const },
      { contender: "ours/node", mode: "tcp" as const },
      { contender: "ours/node", mode: "http" as const },
      { contender: "ours/node+log", mode: "http" as const },
      { contender: "ours/bun+log", mode: "http" as const },
    ];
    const groups = slotGroups(
      targets,
      (target) => target.contender.endsWith("+log") ? ["small"] : ["small", "1mb"],
    );
    const label = (slot: { target: { contender: string; mode: string }; body: string }) =>
      `${slot.target.contender} ${slot.target.mode} ${slot.body}`;
    assert.deepEqual(groups.map((group) => group.map(label)), [
      ["origin direct direct small"],
      ["origin direct direct 1mb"],
      ["ours/node tcp small"],
      ["ours/node tcp 1mb"],
      ["ours/node http small", "ours/node+log http small"],
      ["ours/node http 1mb"],
      ["ours/bun+log http small"],
    ]);
    for (let round = 0; round < 5; round++) {
      const order = roundOrder(groups, round, 5).map(label);
      assert.equal(order.length, 8);
      const at = order.indexOf("ours/node http small");
      const partner = order.indexOf("ours/node+log http small");
      assert.equal(Math.abs(at - partner), 1, `round ${round + 1}: the pair runs back to back`);
      assert.equal(partner > at, round % 2 === 0, `round ${round + 1}: who goes first alternates`);
    }
  });

  test("rotates the order as before when nothing logs", () => {
    const targets = ["a", "b", "c"].map((contender) => ({ contender, mode: "tcp" as const }));
    const groups = slotGroups(targets, () => ["small", "1mb"]);
    const slots = groups.flat();
    for (let round = 0; round < 3; round++) {
      const offset = Math.round((round * slots.length) / 3);
      assert.deepEqual(roundOrder(groups, round, 3), [...slots.slice(offset), ...slots.slice(0, offset)]);
    }
  });
});

describe("memory figures", () => {
  const partial: IdleMemoryResult = {
    contender: "ours/bun",
    mode: "tcp",
    requested: 2_000,
    held: 2_000,
    rssBeforeBytes: 40 * MB,
    rssAfterBytes: 60 * MB,
    firstError: null,
  };

  test("extrapolates to 10,000 connections from fewer, and says so", () => {
    const { bytes, note } = rssAtTargetConnections(partial);
    assert.equal(bytes, 140 * MB);
    assert.equal(note, "extrapolated from 2000 held connections");
  });

  test("has no figure when no connection was held", () => {
    const { bytes, note } = rssAtTargetConnections({ ...partial, held: 0, firstError: "ECONNREFUSED" });
    assert.equal(bytes, null);
    assert.equal(note, "no connection held (ECONNREFUSED)");
  });

  test("prints held counts, RSS and the growth per connection", () => {
    const table = memoryTable([partial]);
    assert.match(table, /\| ours\/bun {2}\| tcp {2}\|\s+2,000 \/ 2,000 \|\s+40\.0 \|\s+60\.0 \|\s+10\.2 \|/);
  });

  test("sizes the scenario by the file limit: two descriptors per proxied connection", () => {
    assert.equal(connectionsWithinLimit(20_000), 9_872);
    assert.equal(connectionsWithinLimit(65_536), 32_640);
    assert.equal(connectionsWithinLimit(100), 0);
  });
});

describe("table formatting", () => {
  test("aligns columns and marks numeric ones right-aligned", () => {
    const table = markdownTable(["name", "value"], [["a", "1"], ["longer", "22"]], new Set([1]));
    assert.equal(
      table,
      ["| name   | value |", "|--------|------:|", "| a      |     1 |", "| longer |    22 |"].join("\n"),
    );
  });

  test("formats latencies in the largest fitting unit", () => {
    assert.equal(formatLatency(230), "230us");
    assert.equal(formatLatency(3_690), "3.69ms");
    assert.equal(formatLatency(1_200_000), "1.20s");
  });
});

describe("options", () => {
  test("defaults to a full run", () => {
    const options = parseBenchOptions([]);
    assert.equal(options.quick, false);
    assert.equal(options.durationSeconds, FULL_DEFAULTS.durationSeconds);
    assert.equal(options.rounds, FULL_DEFAULTS.rounds);
    assert.equal(options.idleConnections, 10_000);
    assert.equal(options.jsonPath, null);
    assert.equal(options.pinCpus, true);
    assert.deepEqual(options.proxyEnv, {});
  });

  test("--quick shortens the run but keeps at least three rounds", () => {
    const options = parseBenchOptions(["--quick"]);
    assert.equal(options.durationSeconds, QUICK_DEFAULTS.durationSeconds);
    assert.ok(options.rounds >= 3);
    assert.ok(options.idleConnections < FULL_DEFAULTS.idleConnections);
  });

  test("passes --proxy-env through, repeatable, values may hold '='", () => {
    const options = parseBenchOptions([
      "--proxy-env",
      "PROXY_SOCKETS=native",
      "--proxy-env=EXTRA=a=b",
      "--json",
      "out.json",
      "--only=ours/node,haproxy",
      "--rounds=5",
      "--no-pin",
    ]);
    assert.deepEqual(options.proxyEnv, { PROXY_SOCKETS: "native", EXTRA: "a=b" });
    assert.equal(options.jsonPath, "out.json");
    assert.deepEqual(options.only, ["ours/node", "haproxy"]);
    assert.equal(options.rounds, 5);
    assert.equal(options.pinCpus, false);
  });

  test("refuses what it does not understand, quoting it", () => {
    assert.throws(() => parseBenchOptions(["--fast"]), /Unknown option "--fast"/);
    assert.throws(
      () => parseBenchOptions(["--rounds", "two"]),
      /Invalid --rounds "two": expected a positive whole number/,
    );
    assert.throws(() => parseBenchOptions(["--rounds", "0"]), /Invalid --rounds "0"/);
    assert.throws(
      () => parseBenchOptions(["--proxy-env", "NOVALUE"]),
      /Invalid --proxy-env "NOVALUE": expected KEY=VALUE/,
    );
    assert.throws(() => parseBenchOptions(["--json"]), /Option "--json" needs a value/);
    assert.equal(parseBenchOptions(["--idle-connections", "0"]).idleConnections, 0);
  });

  test("--modes selects proxy modes, in the usual order, each once; all by default", () => {
    assert.deepEqual(parseBenchOptions([]).modes, ["tcp", "http", "https"]);
    assert.deepEqual(ALL_MODES, ["tcp", "http", "https"]);
    assert.deepEqual(parseBenchOptions(["--modes", "https"]).modes, ["https"]);
    assert.deepEqual(parseBenchOptions(["--modes=https, tcp,https"]).modes, ["tcp", "https"]);
    assert.throws(
      () => parseBenchOptions(["--modes", "tls"]),
      /Invalid --modes "tls": expected one of tcp, http, https/,
    );
    assert.throws(() => parseBenchOptions(["--modes", ","]), /Invalid --modes ",": expected one or more/);
  });
});

describe("contender configurations", () => {
  const limits = { clientConnections: 10_100, fileLimit: 20_000 };
  const backends = ["127.0.0.1:8001", "127.0.0.1:8002"];

  test("HAProxy runs one thread, round robin, within the file limit", () => {
    const tcp = haproxyConfig("tcp", 9000, backends, limits);
    assert.match(tcp, /^\s+nbthread 1$/m);
    assert.match(tcp, /^\s+mode tcp$/m);
    assert.match(tcp, /^\s+balance roundrobin$/m);
    assert.match(tcp, /^\s+server origin2 127\.0\.0\.1:8002$/m);
    assert.match(tcp, /^\s+maxconn 9936$/m);
    assert.doesNotMatch(tcp, /http-reuse/);
    const http = haproxyConfig("http", 9000, backends, limits);
    assert.match(http, /^\s+mode http$/m);
    assert.match(http, /^\s+option http-keep-alive$/m);
    assert.match(http, /^\s+http-reuse safe$/m);
    assert.doesNotMatch(http, /log/);
  });

  test("HAProxy with logging sends httplog lines to the receiver over UDP", () => {
    const http = haproxyConfig("http", 9000, backends, limits, 5140);
    const [globalSection, defaultsSection] = http.split("\n\n");
    assert.match(globalSection!, /^ {4}log 127\.0\.0\.1:5140 local0$/m);
    assert.match(defaultsSection!, /^ {4}log global\n {4}option httplog$/m);
    assert.equal(http.replace(/^.*log.*\n/gm, ""), haproxyConfig("http", 9000, backends, limits));
  });

  test("our logging contender is the same command line plus --log to the receiver", () => {
    const plain = ourFlags("http", 9000, backends);
    assert.deepEqual(plain, ["--bind", "127.0.0.1:9000", "--backend", backends.join(","), "--mode", "http"]);
    assert.deepEqual(ourFlags("http", 9000, backends, 5140), [...plain, "--log", "udp://127.0.0.1:5140"]);
  });

  test("https: HAProxy binds with ssl crt, nginx listens ssl, ours is http mode with --cert", () => {
    const https = haproxyConfig("http", 9000, backends, limits, null, "/tmp/bench/site.pem");
    assert.match(https, /^ {4}bind 127\.0\.0\.1:9000 ssl crt \/tmp\/bench\/site\.pem$/m);
    assert.match(https, /^\s+mode http$/m);
    // Only the bind differs from the plain http configuration.
    assert.equal(
      https.replace(" ssl crt /tmp/bench/site.pem", ""),
      haproxyConfig("http", 9000, backends, limits),
    );

    const paths = { directory: "/tmp/bench", name: "nginx-https" };
    const nginx = nginxHttpProxyConfig(paths, 9000, backends, limits, "/tmp/bench/site.pem");
    assert.match(nginx, /^\s+listen 127\.0\.0\.1:9000 ssl backlog=4096;$/m);
    assert.match(nginx, /^\s+ssl_certificate \/tmp\/bench\/site\.pem;$/m);
    assert.match(nginx, /^\s+ssl_certificate_key \/tmp\/bench\/site\.pem;$/m);
    assert.doesNotMatch(nginxHttpProxyConfig(paths, 9000, backends, limits), /ssl/);

    assert.deepEqual(ourFlags("https", 9000, backends, null, "/tmp/bench/site.pem"), [
      ...ourFlags("http", 9000, backends),
      "--cert",
      "/tmp/bench/site.pem",
    ]);
    assert.throws(() => ourFlags("https", 9000, backends), /https mode needs a certificate/);
  });

  test("the benchmark's certificate is ECDSA P-256 and valid for 127.0.0.1", () => {
    const pem = readFileSync(fileURLToPath(new URL(`../${BENCH_CERTIFICATE}`, import.meta.url)), "utf8");
    const certificate = new X509Certificate(pem);
    assert.equal(certificate.publicKey.asymmetricKeyType, "ec");
    assert.equal(certificate.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.match(certificate.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    assert.match(pem, /-----BEGIN (EC )?PRIVATE KEY-----/);
  });

  test("nginx runs one worker, loads the stream module only for tcp, keeps upstreams alive for http", () => {
    const paths = { directory: "/tmp/bench", name: "nginx-tcp" };
    const stream = nginxStreamConfig(
      paths,
      9000,
      backends,
      "/usr/lib/nginx/modules/ngx_stream_module.so",
      limits,
    );
    assert.match(stream, /^load_module \/usr\/lib\/nginx\/modules\/ngx_stream_module\.so;$/m);
    assert.match(stream, /^worker_processes 1;$/m);
    assert.match(stream, /^stream \{$/m);
    assert.match(stream, /^pid \/tmp\/bench\/nginx-tcp\.pid;$/m);
    const http = nginxHttpProxyConfig(paths, 9000, backends, limits);
    assert.doesNotMatch(http, /load_module/);
    assert.match(http, /^\s+keepalive 256;$/m);
    assert.match(http, /^\s+proxy_http_version 1\.1;$/m);
  });
});

describe("TLS rows", () => {
  test("wrk speaks https for TLS rows and sends Connection: close for a handshake per request", () => {
    const base = { port: 9443, path: BODY_PATHS["small-close"], durationSeconds: 3, connections: 64 };
    const handshakes = wrkArguments({ ...base, tls: true, closeEachConnection: closesEachConnection("small-close") });
    assert.deepEqual(handshakes.slice(-3), ["-H", "Connection: close", "https://127.0.0.1:9443/"]);
    const keepAlive = wrkArguments({ ...base, tls: true, closeEachConnection: closesEachConnection("small") });
    assert.equal(keepAlive.at(-1), "https://127.0.0.1:9443/");
    assert.ok(!keepAlive.includes("Connection: close"));
    assert.equal(wrkArguments({ ...base, tls: false, closeEachConnection: false }).at(-1), "http://127.0.0.1:9443/");
    assert.equal(closesEachConnection("1mb"), false);
  });

  test("the full-handshake shim drops the kept session on a handshake's first call only", () => {
    assert.match(FULL_HANDSHAKE_SHIM_SOURCE, /int SSL_connect\(void \*ssl\)/);
    assert.match(FULL_HANDSHAKE_SHIM_SOURCE, /if \(in_before\(ssl\)\) set_session\(ssl, NULL\);/);
    assert.doesNotMatch(FULL_HANDSHAKE_SHIM_SOURCE, /#include <openssl/);
  });

  test("says how many handshakes were resumed", () => {
    assert.equal(describeResumption({ full: 1_359, resumed: 0, requests: 1_359 }), "0 of 1,359 handshakes resumed");
    assert.equal(
      describeResumption({ full: 681, resumed: 678, requests: 1_359 }),
      "678 of 1,359 handshakes resumed (50%)",
    );
    assert.equal(describeResumption({ full: 0, resumed: 0, requests: 0 }), "0 of 0 handshakes resumed");
  });

  const small = parseWrkOutput(fixture("wrk_small_body.txt"));
  const row = (contender: string, mode: BenchMode, body: BodyName, cpuMicrosPerRequest: number): RunSample => ({
    contender,
    mode,
    body,
    round: 1,
    wrk: small,
    cpuMicros: cpuMicrosPerRequest * small.requests,
    softirqMicros: null,
    otherLoadMicros: null,
    log: null,
    stats: null,
  });
  const samples = [
    row("haproxy", "http", "small", 18),
    row("haproxy", "https", "small", 33),
    row("haproxy", "https", "small-close", 435),
    row("ours/bun", "https", "small", 40),
    row("ours/bun", "https", "small-close", 500),
    row("ours/node", "https", "small", 56),
    row("ours/node", "https", "small-close", 650),
    row("nginx", "https", "small-close", 180),
  ];

  test("TLS rows are compared with HAProxy terminating TLS under the same load", () => {
    const summaries = summarize(samples);
    const ratio = (contender: string, body: BodyName) =>
      summaries.find((summary) => summary.contender === contender && summary.mode === "https" && summary.body === body)!
        .ratios.cpuPerRequestVsHaproxy!;
    assert.ok(Math.abs(ratio("ours/bun", "small") - 40 / 33) < 1e-9);
    assert.ok(Math.abs(ratio("ours/bun", "small-close") - 500 / 435) < 1e-9);
    assert.ok(Math.abs(ratio("nginx", "small-close") - 180 / 435) < 1e-9);
    const table = throughputTable(summaries, "small-close");
    assert.match(table, /^16-byte responses, one connection per request \(Connection: close; over TLS one full handshake each\)/);
    assert.match(table, /\| ours\/node +\| https +\|/);
    assert.doesNotMatch(table, /\| http +\|/);
  });

  test("checks the TLS targets: keep-alive on every runtime, the full handshake on Bun", () => {
    const checks = checkTargets(summarize(samples), []).filter((check) => check.mode === "https");
    const found = (target: string, contender: string) =>
      checks.find((check) => check.target === target && check.contender === contender);
    const keepAlive = "TLS keep-alive CPU per request";
    const handshake = "TLS full handshake CPU per request";
    assert.equal(found(keepAlive, "ours/bun")!.limit, 1.3);
    assert.equal(found(keepAlive, "ours/bun")!.status, "met");
    assert.equal(found(keepAlive, "ours/node")!.limit, 1.6);
    assert.equal(found(keepAlive, "ours/node")!.status, "not met");
    assert.equal(found(keepAlive, "ours/deno")!.status, "not measured");
    assert.equal(found(handshake, "ours/bun")!.limit, 1.0);
    assert.equal(found(handshake, "ours/bun")!.status, "not met");
    assert.equal(found(handshake, "ours/node"), undefined);
    assert.equal(checks.length, 4);
  });
});
