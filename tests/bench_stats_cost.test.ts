/**
 * The benchmark's stats-cost scenario without running it: how a "+stats" contender is named,
 * grouped with its baseline and started, how the scrapes are checked and counted, and how the
 * ratio, its table and the 2% target come out of recorded samples. The scraper is run against a
 * small node:http server here, never against the proxy, HAProxy or wrk.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ourFlags } from "../scripts/bench/contenders.ts";
import { spread } from "../scripts/bench/on_off.ts";
import type { RunSample, ScrapeCount } from "../scripts/bench/report.ts";
import { loggingBaseline, statsBaseline, summarize, variantOf } from "../scripts/bench/report.ts";
import { roundOrder, slotGroups } from "../scripts/bench/rounds.ts";
import { STATS_CPU_LIMIT, statsCostFailure, statsCosts } from "../scripts/bench/stats_cost.ts";
import {
  checkCsvBody,
  checkMetricsBody,
  countScrape,
  NO_SCRAPES,
  scrapeOnce,
  startScraper,
  STATS_SCRAPE_PATHS,
} from "../scripts/bench/stats_scraper.ts";
import { formatFineRatioSpread, statsCostTable, targetsTable } from "../scripts/bench/table.ts";
import { checkTargets } from "../scripts/bench/targets.ts";
import { parseWrkOutput } from "../scripts/bench/wrk_output.ts";
import { formatPrometheus } from "../src/stats/prometheus.ts";
import { formatStatsCsv } from "../src/stats/csv.ts";
import { makeSnapshot } from "./helpers/stats_fixture.ts";

const small = parseWrkOutput(
  readFileSync(fileURLToPath(new URL("./fixtures/wrk_small_body.txt", import.meta.url)), "utf8"),
);

/** The fixture's frontend in http mode (the quick start's is "main"). */
const FRONTEND = "http-in";
const METRICS = formatPrometheus(makeSnapshot());
const CSV = formatStatsCsv(makeSnapshot());

function scrapes(count: number, failed = 0, firstFailure: string | null = null): ScrapeCount {
  return { scrapes: count, failed, firstFailure, bytes: (count - failed) * 30_000, maxMillis: 4 + count };
}

function run(
  contender: string,
  round: number,
  requestsPerSecond: number,
  cpuMicrosPerRequest: number,
  stats: ScrapeCount | null = null,
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
    log: null,
    stats,
  };
}

// Round 2 ran on a slower machine for both sides: the per-round ratio does not move.
const samples: RunSample[] = [
  run("ours/node", 1, 30_000, 30),
  run("ours/node+stats", 1, 29_700, 30.3, scrapes(3)),
  run("ours/node", 2, 20_000, 45),
  run("ours/node+stats", 2, 19_800, 45.45, scrapes(4)),
  run("ours/node", 3, 31_000, 29),
  run("ours/node+stats", 3, 30_000, 29.87, scrapes(3)),
  run("ours/bun", 1, 40_000, 20),
  run("ours/bun+stats", 1, 38_000, 21, scrapes(3, 3, "GET /metrics answered 503")),
  run("ours/deno+stats", 1, 25_000, 40, scrapes(3)),
];

describe("stats cost: names and order", () => {
  test("names the contender a stats one is compared with, apart from the logging ones", () => {
    assert.equal(statsBaseline("ours/node+stats"), "ours/node");
    assert.equal(statsBaseline("ours/node+log"), null);
    assert.equal(statsBaseline("+stats"), null);
    assert.equal(loggingBaseline("ours/node+stats"), null);
    assert.deepEqual(variantOf("ours/bun+stats"), { baseline: "ours/bun", suffix: "+stats" });
    assert.deepEqual(variantOf("haproxy+log"), { baseline: "haproxy", suffix: "+log" });
    assert.equal(variantOf("ours/bun"), null);
  });

  test("our stats contender is the same command line plus --stats on a port of its own", () => {
    const plain = ourFlags("http", 9000, ["127.0.0.1:1", "127.0.0.1:2"]);
    assert.deepEqual(ourFlags("http", 9000, ["127.0.0.1:1", "127.0.0.1:2"], null, null, 9404), [
      ...plain,
      "--stats",
      "127.0.0.1:9404",
    ]);
  });

  test("a stats slot runs right beside its baseline's, also with a logging one, who goes first alternating", () => {
    const targets = [
      { contender: "ours/node", mode: "tcp" as const },
      { contender: "ours/node", mode: "http" as const },
      { contender: "ours/node+log", mode: "http" as const },
      { contender: "ours/node+stats", mode: "http" as const },
      { contender: "ours/bun", mode: "http" as const },
      { contender: "ours/bun+stats", mode: "http" as const },
      { contender: "ours/deno+stats", mode: "http" as const },
    ];
    const groups = slotGroups(targets, (target) => target.contender.includes("+") ? ["small"] : ["small", "1mb"]);
    const label = (slot: { target: { contender: string; mode: string }; body: string }) =>
      `${slot.target.contender} ${slot.target.mode} ${slot.body}`;
    assert.deepEqual(groups.map((group) => group.map(label)), [
      ["ours/node tcp small"],
      ["ours/node tcp 1mb"],
      ["ours/node+stats http small", "ours/node http small", "ours/node+log http small"],
      ["ours/node http 1mb"],
      ["ours/bun http small", "ours/bun+stats http small"],
      ["ours/bun http 1mb"],
      ["ours/deno+stats http small"],
    ]);
    for (let round = 0; round < 4; round++) {
      const order = roundOrder(groups, round, 4).map(label);
      assert.equal(order.length, 10);
      for (const [baseline, variant] of [
        ["ours/node http small", "ours/node+log http small"],
        ["ours/node http small", "ours/node+stats http small"],
        ["ours/bun http small", "ours/bun+stats http small"],
      ] as const) {
        const at = order.indexOf(baseline);
        const partner = order.indexOf(variant);
        assert.equal(Math.abs(at - partner), 1, `round ${round + 1}: ${variant} runs next to its baseline`);
      }
      const bun = order.indexOf("ours/bun http small");
      assert.equal(order.indexOf("ours/bun+stats http small") > bun, round % 2 === 0, "who goes first alternates");
    }
  });

  test("a stats row has no HAProxy ratio: HAProxy showing stats is not run", () => {
    const summaries = summarize([...samples, run("haproxy", 1, 50_000, 18)]);
    const find = (contender: string) => summaries.find((summary) => summary.contender === contender)!;
    assert.equal(find("ours/node+stats").ratios.cpuPerRequestVsHaproxy, null);
    assert.ok(Math.abs(find("ours/node").ratios.cpuPerRequestVsHaproxy! - 30 / 18) < 1e-9);
  });
});

describe("stats cost: ratios", () => {
  test("takes the median of per-round ratios with their range, and sums the scrapes", () => {
    const [node] = statsCosts(samples);
    assert.ok(node !== undefined);
    assert.equal(node.contender, "ours/node");
    assert.equal(node.variant, "ours/node+stats");
    assert.equal(node.requestsPerSecondOff, 30_000);
    assert.equal(node.requestsPerSecondOn, 29_700);
    assert.ok(Math.abs(node.cpuMicrosPerRequestOff! - 30) < 1e-9);
    assert.ok(Math.abs(node.cpuMicrosPerRequestOn - 30.3) < 1e-9);
    const cpu = node.cpuPerRequestRatio!;
    assert.equal(cpu.rounds, 3);
    assert.ok(Math.abs(cpu.median - 1.01) < 1e-9);
    assert.ok(Math.abs(cpu.min - 1.01) < 1e-9, "30.3 / 30 = 1.01, 45.45 / 45 = 1.01, 29.87 / 29 = 1.03");
    assert.ok(Math.abs(cpu.max - 1.03) < 1e-9);
    assert.equal(node.requests, 3 * small.requests);
    assert.equal(node.scrapes, 10);
    assert.equal(node.failedScrapes, 0);
    assert.equal(node.firstFailure, null);
    assert.equal(node.runsWithoutScrapes, 0);
    assert.equal(node.bytesPerScrape, 30_000);
    assert.equal(node.maxScrapeMillis, 8);
    assert.equal(statsCostFailure(node), null);
    assert.equal(statsCosts(samples.filter((sample) => !sample.contender.endsWith("+stats"))).length, 0);
  });

  test("a row whose scrapes failed, or a run that made none, says so", () => {
    const bun = statsCosts(samples).find((cost) => cost.variant === "ours/bun+stats")!;
    assert.equal(bun.failedScrapes, 3);
    assert.equal(bun.bytesPerScrape, null);
    assert.equal(bun.maxScrapeMillis, null);
    assert.equal(statsCostFailure(bun), "3 of 3 scrapes failed, first: GET /metrics answered 503");
    const unscraped = statsCosts([
      run("ours/node", 1, 30_000, 30),
      run("ours/node+stats", 1, 30_000, 30, scrapes(0)),
      run("ours/node", 2, 30_000, 30),
      run("ours/node+stats", 2, 30_000, 30, null),
      run("ours/node", 3, 30_000, 30),
      run("ours/node+stats", 3, 30_000, 30, scrapes(3)),
    ]);
    assert.equal(unscraped[0]!.runsWithoutScrapes, 2);
    assert.equal(statsCostFailure(unscraped[0]!), "2 runs made no scrape");
  });

  test("leaves the comparison empty without the baseline, and pairs only rounds that measured both", () => {
    const deno = statsCosts(samples).find((cost) => cost.variant === "ours/deno+stats")!;
    assert.equal(deno.cpuMicrosPerRequestOff, null);
    assert.equal(deno.cpuPerRequestRatio, null);
    const [node] = statsCosts(samples.filter((sample) => !(sample.contender === "ours/node" && sample.round === 3)));
    assert.equal(node!.cpuPerRequestRatio!.rounds, 2);
    assert.ok(Math.abs(node!.cpuPerRequestRatio!.max - 1.01) < 1e-9, "round 3 (1.03) is left out");
  });

  test("a spread ignores rounds that completed nothing", () => {
    assert.deepEqual(spread([1.5, Number.POSITIVE_INFINITY, 0.5, 1]), { median: 1, min: 0.5, max: 1.5, rounds: 3 });
    assert.equal(spread([Number.NaN]), null);
  });
});

describe("stats cost: target and tables", () => {
  const costs = statsCosts(samples);

  test("checks the 2% target per runtime: met, not met when scrapes failed, not measured when not run", () => {
    assert.equal(STATS_CPU_LIMIT, 1.02);
    const checks = checkTargets([], [], costs, ["ours/node", "ours/bun", "ours/deno"]).filter((check) =>
      check.unit === "x without stats"
    );
    const find = (contender: string) => checks.find((check) => check.contender === contender)!;
    assert.equal(find("ours/node").status, "met");
    assert.ok(Math.abs(find("ours/node").measured! - 1.01) < 1e-9);
    assert.equal(find("ours/node").note, "per round 1.010-1.030, 3 rounds, on both sides of the goal");
    assert.equal(find("ours/bun").status, "not met", "1.05x, and its scrapes failed");
    assert.match(find("ours/bun").note!, /^3 of 3 scrapes failed/);
    assert.equal(find("ours/deno").status, "not measured", "no baseline, no ratio");
    const table = targetsTable(checks);
    assert.match(
      table,
      /\| CPU per request, stats scraped vs none \| ours\/node \| http \| at most 1\.02x without stats \|\s+1\.010x \| met \(per round 1\.010-1\.030, 3 rounds, on both sides of the goal\)\s+\|/,
    );
    const cheapButBroken = statsCosts([
      run("ours/node", 1, 30_000, 30),
      run("ours/node+stats", 1, 30_000, 29, scrapes(3, 1, "GET /stats;csv: CSV does not parse")),
    ]);
    const broken = checkTargets([], [], cheapButBroken, ["ours/node"]).find((check) => check.unit === "x without stats")!;
    assert.equal(broken.status, "not met", "cheaper than without, but a scrape failed");
    const steady = statsCosts([
      run("ours/node", 1, 30_000, 30),
      run("ours/node+stats", 1, 30_000, 30.3, scrapes(3)),
      run("ours/node", 2, 30_000, 30),
      run("ours/node+stats", 2, 30_000, 30.45, scrapes(3)),
    ]);
    assert.equal(
      checkTargets([], [], steady, ["ours/node"]).find((check) => check.unit === "x without stats")!.note,
      "per round 1.010-1.015, 2 rounds",
    );
    const skipped = checkTargets([], [], [], ["ours/bun"]).filter((check) => check.unit === "x without stats");
    assert.deepEqual(skipped.map((check) => [check.contender, check.status]), [["ours/bun", "not measured"]]);
    assert.equal(checkTargets([], []).filter((check) => check.unit === "x without stats").length, 0);
  });

  test("prints one row per stats contender with the fine ratio, the scrapes and their state", () => {
    const table = statsCostTable(costs);
    const lines = table.split("\n");
    assert.match(lines[0]!, /^Stats shown and scraped, vs not/);
    const node = lines.find((line) => line.startsWith("| ours/node "))!;
    assert.match(node, /\| http \| 16-byte \|\s+30,000 \|\s+29,700 \|\s+0\.99x \(0\.97-0\.99\) \|/);
    assert.match(node, /\|\s+30\.00 \|\s+30\.30 \| 1\.010x \(1\.010-1\.030\) \|\s+10 \/ 10 \|\s+30,000 \|\s+8\.0 \| ok\s+\|$/);
    const bun = lines.find((line) => line.startsWith("| ours/bun "))!;
    assert.match(bun, /\|\s+0 \/ 3 \|\s+- \|\s+- \| FAILED: 3 of 3 scrapes failed, first: GET \/metrics answered 503 \|$/);
    assert.match(lines.find((line) => line.startsWith("| ours/deno "))!, /\|\s+- \|\s+25,000 \|\s+- \|/);
    const widths = new Set(lines.slice(2).filter((line) => line.startsWith("|")).map((line) => line.length));
    assert.equal(widths.size, 1, "every row has the same width");
  });

  test("formats a ratio of a few percent with three decimals", () => {
    assert.equal(formatFineRatioSpread(null), "-");
    assert.equal(formatFineRatioSpread({ median: 1.0123, min: 0.9981, max: 1.031, rounds: 3 }), "1.012x (0.998-1.031)");
    assert.equal(formatFineRatioSpread({ median: 1.5, min: 1.5, max: 1.5, rounds: 1 }), "1.500x");
  });
});

describe("stats cost: scrapes", () => {
  test("accepts the proxy's own metrics and CSV when they show the measured frontend", () => {
    assert.equal(checkMetricsBody(METRICS, FRONTEND), null);
    assert.equal(checkCsvBody(CSV, FRONTEND), null);
    assert.equal(checkMetricsBody(METRICS, "main"), 'metrics have no haproxy_frontend_http_requests_total{proxy="main"}');
    assert.equal(checkCsvBody(CSV, "main"), 'CSV has no FRONTEND row for "main"');
  });

  test("refuses bodies that do not parse", () => {
    assert.match(checkMetricsBody("<html>503 Service Unavailable</html>\n", FRONTEND)!, /^metrics do not parse: line 1/);
    assert.match(checkMetricsBody(METRICS.slice(0, -1), FRONTEND)!, /line feed/);
    assert.match(checkCsvBody("pxname,svname\nmain,FRONTEND\n", FRONTEND)!, /^CSV does not parse: .*"# " header/);
    const [header, first, ...rest] = CSV.split("\n");
    assert.match(checkCsvBody([header, `${first},extra`, ...rest].join("\n"), FRONTEND)!, /^CSV does not parse: Record 2 has/);
    assert.match(checkCsvBody("# svname,pxname\nFRONTEND,main\n", "main")!, /not "pxname,svname"/);
  });

  test("counts scrapes, failures with the first reason, bytes and the slowest", () => {
    let count = NO_SCRAPES;
    count = countScrape(count, { bytes: 100, millis: 3 });
    count = countScrape(count, { failure: "GET /metrics answered 500" });
    count = countScrape(count, { bytes: 120, millis: 7.5 });
    count = countScrape(count, { failure: "GET /stats;csv: no answer within 2 s" });
    assert.deepEqual(count, {
      scrapes: 4,
      failed: 2,
      firstFailure: "GET /metrics answered 500",
      bytes: 220,
      maxMillis: 7.5,
    });
    assert.deepEqual(NO_SCRAPES, { scrapes: 0, failed: 0, firstFailure: null, bytes: 0, maxMillis: 0 });
  });

  test("scrapes the metrics and the CSV on a schedule, and fails on a wrong answer", async () => {
    let broken = false;
    const asked: string[] = [];
    // As the quick start names its frontend.
    const served = { metrics: METRICS.replaceAll(FRONTEND, "main"), csv: CSV.replaceAll(FRONTEND, "main") };
    const server = createServer((request, response) => {
      asked.push(request.url ?? "");
      if (broken) {
        response.writeHead(503).end("no stats here\n");
        return;
      }
      response.end(request.url === STATS_SCRAPE_PATHS.metrics ? served.metrics : served.csv);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const once = await scrapeOnce(port);
      assert.ok("bytes" in once, JSON.stringify(once));
      assert.equal(once.bytes, Buffer.byteLength(served.metrics) + Buffer.byteLength(served.csv));
      assert.deepEqual(asked, ["/metrics", "/stats;csv"]);
      const scraper = startScraper(port, 40);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const good = await scraper.stop();
      assert.ok(good.scrapes >= 2 && good.scrapes <= 5, `${good.scrapes} scrapes in 150 ms at 40 ms`);
      assert.equal(good.failed, 0);
      const settled = asked.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(asked.length, settled, "no scrape after stop");
      broken = true;
      const failing = startScraper(port, 40);
      await new Promise((resolve) => setTimeout(resolve, 60));
      const bad = await failing.stop();
      assert.ok(bad.scrapes >= 1);
      assert.equal(bad.failed, bad.scrapes);
      assert.equal(bad.firstFailure, "GET /metrics answered 503");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
