/**
 * Ours against the socket-layer floor of the same runtime, computed from synthetic runs: CPU per
 * request of ours/<runtime> divided by floor/<runtime>'s in the same mode and body, the floor's
 * own ratio to HAProxy against issue 21's goal, and the idle-connection memory of both. Nothing
 * here runs a proxy.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { floorComparisons, floorMemoryComparisons } from "../scripts/bench/floor_comparison.ts";
import type { BenchMode, BodyName, RunSample } from "../scripts/bench/report.ts";
import { summarize } from "../scripts/bench/report.ts";
import { syntheticRun } from "./helpers/bench_fixtures.ts";
import { floorMemoryTable, floorTable } from "../scripts/bench/table.ts";
import type { IdleMemoryResult } from "../scripts/bench/targets.ts";

/** One round of one contender at `cpu` microseconds per request. */
function run(contender: string, mode: BenchMode, body: BodyName, cpu: number): RunSample {
  return syntheticRun(contender, mode, body, { cpu });
}

const close = (actual: number | null, expected: number): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);
};

describe("ours vs the socket-layer floor", () => {
  const summaries = summarize([
    run("ours/node", "tcp", "small", 20),
    run("floor/node", "tcp", "small", 16),
    run("haproxy", "tcp", "small", 12.5),
    run("ours/node", "http", "small", 40),
    run("floor/node", "http", "small", 20),
    run("haproxy", "http", "small", 18),
    run("ours/node", "http", "1mb", 900),
    run("floor/node", "http", "1mb", 600),
    run("haproxy", "http", "1mb", 800),
    // Bun: the floor alone, in http mode only.
    run("floor/bun", "http", "small", 15),
    // A contender of another runtime and the origin are no floor rows.
    run("ours/deno", "http", "small", 50),
  ]);
  const rows = floorComparisons(summaries);

  test("one row per runtime, mode and body measured, tcp before http, 16 bytes before 1 MB", () => {
    assert.deepEqual(
      rows.map((row) => `${row.runtime} ${row.mode} ${row.body}`),
      ["node tcp small", "node http small", "node http 1mb", "bun http small", "deno http small"],
    );
  });

  test("ours divided by the floor, the floor and ours divided by HAProxy, in the same mode and body", () => {
    const tcp = rows[0]!;
    close(tcp.oursVsFloor, 20 / 16);
    close(tcp.floorVsHaproxy, 16 / 12.5);
    close(tcp.oursVsHaproxy, 20 / 12.5);
    assert.equal(tcp.socketLayer, "node:net");
    const http = rows[1]!;
    close(http.oursVsFloor, 2);
    close(http.floorVsHaproxy, 20 / 18);
    const large = rows[2]!;
    close(large.oursVsFloor, 1.5);
    close(large.floorVsHaproxy, 0.75);
  });

  test("the floor against issue 21's goal: above it, within it, and no goal for 1 MB", () => {
    assert.equal(rows[0]!.goalVsHaproxy, 1.2);
    assert.equal(rows[0]!.verdict, "layer above the goal", "1.28x against at most 1.2x in tcp mode on Node");
    assert.equal(rows[1]!.goalVsHaproxy, 1.3);
    assert.equal(rows[1]!.verdict, "layer within the goal", "1.11x against at most 1.3x in http mode");
    assert.equal(rows[2]!.goalVsHaproxy, null);
    assert.equal(rows[2]!.verdict, null);
  });

  test("a missing side gives no ratio rather than a wrong one; the floor alone still gets its verdict", () => {
    const bun = rows[3]!;
    assert.equal(bun.oursCpuMicrosPerRequest, null);
    assert.equal(bun.oursVsFloor, null);
    close(bun.floorVsHaproxy, 15 / 18);
    assert.equal(bun.goalVsHaproxy, 1.0);
    assert.equal(bun.verdict, "layer within the goal");
    const deno = rows[4]!;
    assert.equal(deno.floorCpuMicrosPerRequest, null);
    assert.equal(deno.oursVsFloor, null);
    close(deno.oursVsHaproxy, 50 / 18);
    assert.equal(deno.verdict, null, "no floor, no verdict on it");
  });

  test("without HAProxy the floor still divides ours, but has no verdict", () => {
    const withoutHaproxy = floorComparisons(summarize([
      run("ours/bun", "tcp", "small", 14),
      run("floor/bun", "tcp", "small", 10),
    ]));
    assert.equal(withoutHaproxy.length, 1);
    close(withoutHaproxy[0]!.oursVsFloor, 1.4);
    assert.equal(withoutHaproxy[0]!.floorVsHaproxy, null);
    assert.equal(withoutHaproxy[0]!.verdict, null);
  });

  test("the table: the runtime with its layer, the ratios, the goal and the verdict", () => {
    const table = floorTable(rows);
    assert.match(table, /^Ours against the socket-layer floor/);
    const tcpLine = table.split("\n").find((line) =>
      line.startsWith("| node (node:net)") && line.includes("| tcp ")
    );
    assert.ok(tcpLine !== undefined, table);
    for (
      const cell of [
        "20.00",
        "16.00",
        "12.50",
        "1.25x",
        "1.28x",
        "1.60x",
        "at most 1.2x",
        "layer above the goal",
      ]
    ) {
      assert.ok(tcpLine.includes(cell), `${cell} in ${tcpLine}`);
    }
    assert.ok(table.includes("| bun (Bun.listen/Bun.connect)"), table);
  });
});

describe("idle connections against the floor", () => {
  const held = (
    contender: string,
    mode: "tcp" | "http",
    count: number,
    grownBytes: number,
  ): IdleMemoryResult => ({
    contender,
    mode,
    requested: 2_000,
    held: count,
    rssBeforeBytes: 50 * 1024 * 1024,
    rssAfterBytes: 50 * 1024 * 1024 + grownBytes,
    firstError: null,
  });

  test("growth per held connection of ours and of the floor, runtime by runtime", () => {
    const rows = floorMemoryComparisons([
      held("ours/node", "http", 2_000, 2_000 * 9 * 1024),
      held("floor/node", "http", 2_000, 2_000 * 3 * 1024),
      held("ours/bun", "tcp", 2_000, 2_000 * 3.4 * 1024),
      held("floor/bun", "tcp", 0, 0),
      held("haproxy", "http", 2_000, 2_000 * 1.3 * 1024),
    ]);
    assert.deepEqual(rows.map((row) => `${row.runtime} ${row.mode}`), ["node http", "bun tcp"]);
    close(rows[0]!.oursBytesPerConnection, 9 * 1024);
    close(rows[0]!.floorBytesPerConnection, 3 * 1024);
    assert.equal(rows[1]!.floorBytesPerConnection, null, "a floor that held nothing has no figure");
    const table = floorMemoryTable(rows);
    assert.match(table, /\| node\s+\| http\s+\|\s+9\.0 \|\s+3\.0 \|\s+3\.00x \|/);
    assert.match(table, /\| bun\s+\| tcp\s+\|\s+3\.4 \|\s+- \|\s+- \|/);
  });
});
