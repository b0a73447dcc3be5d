/**
 * The slow-reader benchmark's pure parts (scripts/bench/slowread_*.ts): options, percentiles, the
 * client's report, and the summary table against HAProxy. Nothing here starts a proxy or
 * slowhttptest.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_CONTENDERS,
  DEFAULT_WMEM_MAX,
  FULL_DEFAULTS,
  parseSlowReadOptions,
  QUICK_DEFAULTS,
} from "../scripts/bench/slowread_options.ts";
import {
  failureSummary,
  parseClientReport,
  percentile,
  slowReadTable,
  summarizeSlowReads,
} from "../scripts/bench/slowread_results.ts";
import type { ClientLatencyReport, SlowReadRun } from "../scripts/bench/slowread_results.ts";

function report(p99Ms: number, timeouts = 0): ClientLatencyReport {
  return {
    requests: 100,
    successes: 100 - timeouts,
    failures: { refused: 0, reset: 0, timeout: timeouts, closed: 0, incomplete: 0, status: 0, other: 0 },
    p50Ms: 1,
    p99Ms,
    maxMs: p99Ms * 2,
  };
}

function run(contender: string, round: number, p99Ms: number, rssPeakMiB: number, timeouts = 0): SlowReadRun {
  return {
    contender,
    round,
    baseline: report(2),
    underAttack: report(p99Ms, timeouts),
    slowReadersAtStart: 1_000,
    slowReadersAtEnd: 1_000,
    rssIdleBytes: 20 * 1048576,
    rssPeakBytes: rssPeakMiB * 1048576,
  };
}

describe("slow-reader benchmark options", () => {
  test("defaults are the issue's attack; --quick is smaller", () => {
    const full = parseSlowReadOptions([]);
    assert.equal(full.slowReaders, FULL_DEFAULTS.slowReaders);
    assert.equal(full.durationSeconds, FULL_DEFAULTS.durationSeconds);
    assert.equal(full.slowPath, "/1mb");
    assert.equal(full.wmemMax, DEFAULT_WMEM_MAX);
    assert.deepEqual(full.only, DEFAULT_CONTENDERS);
    const quick = parseSlowReadOptions(["--quick", "--only", "ours/bun,haproxy", "--proxy-env", "PROXY_SOCKETS=node:net"]);
    assert.equal(quick.slowReaders, QUICK_DEFAULTS.slowReaders);
    assert.deepEqual(quick.only, ["ours/bun", "haproxy"]);
    assert.deepEqual(quick.proxyEnv, { PROXY_SOCKETS: "node:net" });
    assert.equal(parseSlowReadOptions(["--wmem-max", "0"]).wmemMax, 0);
  });

  test("bad values are refused, naming the option and the value", () => {
    assert.throws(() => parseSlowReadOptions(["--slow-readers", "many"]), /Invalid --slow-readers "many"/);
    assert.throws(() => parseSlowReadOptions(["--slow-path", "/2mb"]), /Invalid --slow-path "\/2mb"/);
    assert.throws(() => parseSlowReadOptions(["--wmem-max", "100"]), /Invalid --wmem-max "100"/);
    assert.throws(() => parseSlowReadOptions(["--proxy-env", "NOVALUE"]), /Invalid --proxy-env "NOVALUE"/);
    assert.throws(() => parseSlowReadOptions(["--frobnicate"]), /see --help/);
  });
});

describe("slow-reader benchmark results", () => {
  test("percentile is the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    assert.equal(percentile(values, 0.5), 50);
    assert.equal(percentile(values, 0.99), 99);
    assert.equal(percentile([7], 0.99), 7);
    assert.equal(percentile([], 0.5), null);
  });

  test("the client's last line is its report", () => {
    const parsed = parseClientReport(`noise\n${JSON.stringify(report(3, 2))}\n`);
    assert.equal(parsed.p99Ms, 3);
    assert.equal(failureSummary(parsed), "2 timeout");
    assert.equal(failureSummary(report(3)), "0");
    assert.throws(() => parseClientReport("{}"), /Unexpected client report/);
  });

  test("summaries take medians over rounds, sum failures, and compare p99 with HAProxy's", () => {
    const summaries = summarizeSlowReads([
      run("ours/bun", 1, 10, 120),
      run("haproxy", 1, 5, 70),
      run("ours/bun", 2, 30, 140, 1),
      run("haproxy", 2, 7, 72),
      run("ours/bun", 3, 20, 130),
      run("haproxy", 3, 6, 71),
    ]);
    const bun = summaries.find((summary) => summary.contender === "ours/bun")!;
    assert.equal(bun.p99Ms, 20);
    assert.equal(bun.failures, 1);
    assert.equal(bun.requests, 300);
    assert.equal(bun.rssPeakBytes, 140 * 1048576);
    // Median over rounds of (peak - idle) / slow readers held: (130 - 20) MiB / 1,000.
    assert.equal(bun.bytesPerSlowReader, (110 * 1048576) / 1_000);
    const table = slowReadTable(summaries);
    assert.match(table, /\| ours\/bun +\| +1000 \|.* 20\.00ms \|.*\| +1 \/ 300 \| +3\.33x \|/);
    assert.match(table, /\| haproxy +\|.*\| +1\.00x \|/);
  });
});
