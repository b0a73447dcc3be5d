/**
 * The reload benchmark's pure parts (scripts/bench/reload_*.ts): reading responses, naming
 * failures, the client's report, lining failures up with reloads, options, the configurations it
 * writes (ours validated by our own loader) and the sysctl guard (on a temporary file, never on
 * /proc). Nothing here starts a proxy or measures time.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigSources } from "../src/config/load.ts";
import {
  contenderCommand,
  haproxyReloadConfig,
  HARD_STOP_AFTER_SECONDS,
  ourConfig,
} from "../scripts/bench/reload_contenders.ts";
import {
  classifyFailure,
  FAILURE_KINDS,
  isRetryable,
  isSuccessStatus,
  ResponseReader,
} from "../scripts/bench/reload_http.ts";
import type { FailureKind } from "../scripts/bench/reload_http.ts";
import { DEFAULT_RELOADS, parseReloadOptions, QUICK_RELOADS } from "../scripts/bench/reload_options.ts";
import {
  attributeFailures,
  formatFailureKinds,
  median,
  parseClientReport,
  resultsTable,
  runResult,
  totalFailures,
} from "../scripts/bench/reload_results.ts";
import type { ClientReport } from "../scripts/bench/reload_results.ts";
import { MigrateReqGuard, readMigrateReq } from "../scripts/bench/reload_sysctl.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function noFailures(): Record<FailureKind, number> {
  return Object.fromEntries(FAILURE_KINDS.map((kind) => [kind, 0])) as Record<FailureKind, number>;
}

describe("ResponseReader", () => {
  test("a Content-Length body split across pushes completes on its last byte", () => {
    const reader = new ResponseReader();
    assert.equal(reader.push(bytes("HTTP/1.1 200 OK\r\nContent-Le")), false);
    assert.equal(reader.push(bytes("ngth: 10\r\n\r\n01234")), false);
    assert.equal(reader.status, 200);
    assert.equal(reader.closeAfter, false);
    assert.equal(reader.push(bytes("5678")), false);
    assert.equal(reader.push(bytes("9")), true);
    assert.equal(reader.bytes, 49);
  });

  test("Connection: close and HTTP/1.0 without keep-alive mean the server closes", () => {
    const close = new ResponseReader();
    assert.equal(
      close.push(bytes("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")),
      true,
    );
    assert.equal(close.closeAfter, true);
    const old = new ResponseReader();
    old.push(bytes("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"));
    assert.equal(old.closeAfter, true);
    const kept = new ResponseReader();
    kept.push(bytes("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"));
    assert.equal(kept.closeAfter, false);
  });

  test("a chunked body completes after the last chunk and the trailers, wherever the pushes split it", () => {
    const wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n";
    for (let split = 1; split < wire.length; split++) {
      const reader = new ResponseReader();
      const first = reader.push(bytes(wire.slice(0, split)));
      assert.equal(first, false, `complete too early at split ${split}`);
      assert.equal(reader.push(bytes(wire.slice(split))), true, `not complete at split ${split}`);
    }
  });

  test("1xx interim responses are skipped; 204 has no body", () => {
    const reader = new ResponseReader();
    assert.equal(reader.push(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")), true);
    assert.equal(reader.status, 204);
  });

  test("a body without length ends with the connection", () => {
    const reader = new ResponseReader();
    assert.equal(reader.push(bytes("HTTP/1.1 200 OK\r\n\r\nsome")), false);
    assert.equal(reader.closeAfter, true);
    assert.equal(reader.end(), true);
    const cut = new ResponseReader();
    cut.push(bytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"));
    assert.equal(cut.end(), false);
  });

  test("a malformed response throws", () => {
    assert.throws(() => new ResponseReader().push(bytes("SSH-2.0-OpenSSH\r\n\r\n")), /Malformed status line/);
    assert.throws(
      () => new ResponseReader().push(bytes("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")),
      /Malformed Content-Length "x"/,
    );
    assert.throws(
      () => new ResponseReader().push(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")),
      /Malformed chunk size/,
    );
  });
});

describe("failure kinds", () => {
  test("classifyFailure names each way a request can end without an answer", () => {
    const base = { code: null, connected: true, responseBytes: 0, timedOut: false };
    assert.equal(classifyFailure({ ...base, connected: false, code: "ECONNREFUSED" }), "refused");
    assert.equal(classifyFailure({ ...base, connected: false, code: "ECONNRESET" }), "reset");
    assert.equal(classifyFailure({ ...base, connected: false, code: "EADDRNOTAVAIL" }), "other");
    assert.equal(classifyFailure({ ...base, code: "ECONNRESET" }), "reset");
    assert.equal(classifyFailure({ ...base, code: "EPIPE" }), "reset");
    assert.equal(classifyFailure(base), "closed");
    assert.equal(classifyFailure({ ...base, responseBytes: 12, code: "ECONNRESET" }), "incomplete");
    assert.equal(classifyFailure({ ...base, responseBytes: 12, timedOut: true }), "timeout");
  });

  test("only a reused connection closed before any answer is retryable", () => {
    assert.equal(isRetryable("closed", true), true);
    assert.equal(isRetryable("reset", true), true);
    assert.equal(isRetryable("closed", false), false);
    assert.equal(isRetryable("incomplete", true), false);
    assert.equal(isRetryable("refused", true), false);
  });

  test("statuses below 400 are successes, as wrk counts them", () => {
    assert.equal(isSuccessStatus(200), true);
    assert.equal(isSuccessStatus(302), true);
    assert.equal(isSuccessStatus(404), false);
    assert.equal(isSuccessStatus(503), false);
  });
});

function report(overrides: Partial<ClientReport> = {}): ClientReport {
  return {
    load: "close",
    connections: 4,
    startedAt: 1_000,
    stoppedAt: 21_000,
    successes: 990,
    failures: { ...noFailures(), reset: 7, closed: 3 },
    retryable: 3,
    connectionsOpened: 1_000,
    longestStallMs: 42,
    longestStallEndedAt: 5_000,
    samples: [
      { at: 2_100, kind: "reset", code: "ECONNRESET", connected: true, reused: false },
      { at: 2_900, kind: "reset", code: "ECONNRESET", connected: true, reused: false },
      { at: 9_000, kind: "closed", code: null, connected: true, reused: true },
      { at: 15_500, kind: "reset", code: "ECONNRESET", connected: false, reused: false },
    ],
    samplesDropped: 0,
    cutShort: false,
    ...overrides,
  };
}

describe("client report", () => {
  test("parseClientReport reads the last JSON line and keeps every field", () => {
    const original = report();
    const parsed = parseClientReport(`warming up\n${JSON.stringify(original)}\n`);
    assert.deepEqual(parsed, original);
  });

  test("parseClientReport refuses a report with a missing or mistyped field", () => {
    assert.throws(() => parseClientReport("no json here"), /No client report found in "no json here"/);
    const { failures: _failures, ...withoutFailures } = report();
    assert.throws(() => parseClientReport(JSON.stringify(withoutFailures)), /no "failures"/);
    assert.throws(
      () => parseClientReport(JSON.stringify({ ...report(), successes: "many" })),
      /"successes" is not a number/,
    );
    assert.throws(
      () => parseClientReport(JSON.stringify({ ...report(), samples: [{ at: 1, kind: "lost" }] })),
      /samples\[0\]\.kind "lost"/,
    );
  });

  test("totals and the kinds line", () => {
    assert.equal(totalFailures(report().failures), 10);
    assert.equal(formatFailureKinds(report().failures), "reset 7, closed 3");
    assert.equal(formatFailureKinds(noFailures()), "-");
  });
});

describe("lining failures up with reloads", () => {
  const windows = [
    { startedAt: 2_000, finishedAt: 2_500 },
    { startedAt: 9_000, finishedAt: null },
    { startedAt: 15_000, finishedAt: 15_300 },
  ];

  test("a failure belongs to the reload it falls in, up to the grace after the old process exited", () => {
    const attribution = attributeFailures(report().samples, windows, 500);
    // 2,900 is 400 ms after the first reload ended: inside the grace; 15,500 is 200 ms after the third.
    assert.deepEqual(attribution, { perReload: [2, 1, 1], outside: 0 });
    const tight = attributeFailures(report().samples, windows, 100);
    assert.deepEqual(tight, { perReload: [1, 1, 0], outside: 2 });
  });

  test("runResult adds up a run and takes the median reload time of the completed reloads", () => {
    const result = runResult(
      {
        contender: "ours/node",
        reloadMode: "sf",
        proxyMode: "http",
        migrateReq: 1,
        load: "close",
        reloadsAsked: 3,
      },
      report(),
      windows,
      20,
      ["reload 2: the old process did not exit"],
      100,
    );
    assert.equal(result.reloadsDone, 2);
    assert.equal(result.reloadMedianMs, 400);
    assert.equal(result.requests, 1_000);
    assert.equal(result.failed, 10);
    assert.equal(result.failedOutsideReloads, 2);
    assert.deepEqual(result.incidents, ["reload 2: the old process did not exit"]);
    const table = resultsTable([result]).split("\n");
    assert.equal(table.length, 3);
    assert.match(
      table[2]!,
      /\| ours\/node \| -sf +\| new connection per request \| 1 +\| +2\/3 \| +1,000 \| +10 \| reset 7, closed 3 \(3 retryable\) \|/,
    );
  });

  test("median of an even and an odd count, and of none", () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe("options", () => {
  test("defaults: every contender and mode, both loads and sysctl values, 10 reloads", () => {
    const options = parseReloadOptions([]);
    assert.deepEqual(options.contenders, ["node", "bun", "deno", "haproxy"]);
    assert.deepEqual(options.reloadModes, ["sf", "master"]);
    assert.deepEqual(options.loads, ["close", "keepalive"]);
    assert.deepEqual(options.migrateReq, [0, 1]);
    assert.deepEqual(options.proxyModes, ["http"]);
    assert.equal(options.reloads, DEFAULT_RELOADS);
  });

  test("--quick, and explicit values over it", () => {
    const quick = parseReloadOptions(["--quick"]);
    assert.equal(quick.reloads, QUICK_RELOADS);
    assert.deepEqual(quick.loads, ["close"]);
    const chosen = parseReloadOptions([
      "--quick",
      "--reloads=5",
      "--runtimes",
      "deno,haproxy",
      "--only",
      "master",
      "--sysctl",
      "1",
      "--loads=keepalive",
      "--proxy-modes",
      "http,tcp",
      "--json",
      "out.json",
    ]);
    assert.equal(chosen.reloads, 5);
    assert.deepEqual(chosen.contenders, ["deno", "haproxy"]);
    assert.deepEqual(chosen.reloadModes, ["master"]);
    assert.deepEqual(chosen.migrateReq, [1]);
    assert.deepEqual(chosen.loads, ["keepalive"]);
    assert.deepEqual(chosen.proxyModes, ["http", "tcp"]);
    assert.equal(chosen.jsonPath, "out.json");
  });

  test("unknown options and values are refused with the value quoted", () => {
    assert.throws(
      () => parseReloadOptions(["--reloads", "0"]),
      /Invalid --reloads "0": expected a whole number from 1/,
    );
    assert.throws(() => parseReloadOptions(["--runtimes", "node,java"]), /Invalid --runtimes "java"/);
    assert.throws(
      () => parseReloadOptions(["--only", "st"]),
      /Invalid --only "st": expected one of sf, master/,
    );
    assert.throws(() => parseReloadOptions(["--sysctl", "2"]), /Invalid --sysctl "2"/);
    assert.throws(() => parseReloadOptions(["--reloads"]), /Option "--reloads" needs a value/);
    assert.throws(() => parseReloadOptions(["--fast"]), /Unknown option "--fast"/);
  });
});

describe("configurations and command lines", () => {
  test("our configuration is valid for our own loader, in both modes", () => {
    for (const mode of ["http", "tcp"] as const) {
      const loaded = loadConfigSources([{
        name: `reload-${mode}.toml`,
        text: ourConfig(mode, 18_080, ["127.0.0.1:18081", "127.0.0.1:18082"]),
      }]);
      const frontend = loaded.config.frontends[0]!;
      assert.equal(frontend.mode, mode);
      assert.equal(frontend.binds[0]!.port, 18_080);
      assert.equal(loaded.config.backends[0]!.servers.length, 2);
      assert.equal(loaded.config.global.hardStopAfter, HARD_STOP_AFTER_SECONDS * 1_000);
    }
  });

  test("HAProxy's configuration matches: one thread, hard-stop-after, the same servers", () => {
    const text = haproxyReloadConfig("http", 18_080, ["127.0.0.1:18081", "127.0.0.1:18082"]);
    assert.match(text, /^ {4}nbthread 1$/m);
    assert.match(text, new RegExp(`^ {4}hard-stop-after ${HARD_STOP_AFTER_SECONDS}s$`, "m"));
    assert.match(text, /^ {4}bind 127\.0\.0\.1:18080$/m);
    assert.match(text, /^ {4}server origin2 127\.0\.0\.1:18082$/m);
    assert.doesNotMatch(haproxyReloadConfig("tcp", 1, ["127.0.0.1:2"]), /http-reuse/);
  });

  test("the command lines are an operator's: -f, -p, then -sf PID or -W", () => {
    const root = "/srv/proxy";
    assert.deepEqual(
      contenderCommand({ contender: "deno", reloadMode: "sf", projectRoot: root }, "c.toml", "p.pid", 42),
      {
        command: "/srv/proxy/node_modules/.bin/deno",
        args: ["run", "-A", "/srv/proxy/src/main.ts", "-f", "c.toml", "-p", "p.pid", "-sf", "42"],
      },
    );
    assert.deepEqual(
      contenderCommand(
        { contender: "node", reloadMode: "master", projectRoot: root },
        "c.toml",
        "p.pid",
        null,
      ),
      {
        command: "/srv/proxy/node_modules/.bin/node",
        args: ["/srv/proxy/src/main.ts", "-W", "-f", "c.toml", "-p", "p.pid"],
      },
    );
    assert.deepEqual(
      contenderCommand({ contender: "haproxy", reloadMode: "sf", projectRoot: root }, "h.cfg", "p.pid", 7),
      { command: "haproxy", args: ["-f", "h.cfg", "-p", "p.pid", "-sf", "7"] },
    );
  });
});

describe("MigrateReqGuard", () => {
  test("sets the value, restores the original once, and leaves an unchanged value alone", () => {
    const directory = mkdtempSync(join(tmpdir(), "reload-sysctl-"));
    try {
      const path = join(directory, "tcp_migrate_req");
      writeFileSync(path, "0\n");
      const guard = new MigrateReqGuard(path);
      assert.equal(guard.original, 0);
      assert.equal(guard.set(1), null);
      assert.equal(readMigrateReq(path), 1);
      assert.equal(guard.restore(), null);
      assert.equal(readFileSync(path, "utf8"), "0\n");
      // Restored already: someone else's later change is not overwritten.
      writeFileSync(path, "1\n");
      assert.equal(guard.restore(), null);
      assert.equal(readMigrateReq(path), 1);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("a missing setting is reported, not written", () => {
    const guard = new MigrateReqGuard("/nonexistent/tcp_migrate_req");
    assert.equal(guard.original, null);
    assert.match(guard.set(1) ?? "", /is not available \(the setting needs Linux 5\.14 or later\)/);
    assert.equal(guard.restore(), null);
  });
});
