/**
 * `stats-socket` in [global] and `--stats-socket`: the forms, the defaults (HAProxy's: mode 0600,
 * level operator, timeout 10s), every error at its file:line:col, the admin level kept off the
 * network unless asked (and warned about when asked), and `proxy check`.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigFileError, formatConfigIssue, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";
import { loadQuickStart } from "../src/config/quick_start.ts";
import { ConfigError } from "../src/config/errors.ts";
import { MAX_STATS_SOCKET_PATH_BYTES } from "../src/config/stats_socket.ts";
import { CliProcess } from "./_cli_helpers.ts";

const REST = `
[frontends.web]
bind = "127.0.0.1:8080"
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }]
`;

function load(global: string) {
  return loadConfigSources([{ name: "test.toml", text: `[global]\n${global}\n${REST}` }]);
}

function issuesOf(global: string, severity: "error" | "warning" = "error"): string[] {
  let issues: readonly ConfigIssue[];
  try {
    issues = load(global).warnings;
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    issues = error.issues;
  }
  return issues.filter((issue) => issue.severity === severity).map((issue) => `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`);
}

describe("stats-socket", () => {
  test("a path alone: a UNIX socket with HAProxy's defaults (mode 0600, level operator, 10 s idle timeout)", () => {
    const { config, warnings } = load(`stats-socket = "/run/proxy.sock"`);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.global.statsSockets, [{ kind: "unix", path: "/run/proxy.sock", mode: 0o600, level: "operator", timeout: 10_000 }]);
    assert.deepEqual(load("").config.global.statsSockets, []);
  });

  test("a table: mode in octal text or TOML octal, level, timeout; path and address together make two sockets", () => {
    assert.deepEqual(load(`stats-socket = { path = "/run/p.sock", mode = "0660", level = "admin", timeout = "2m" }`).config.global.statsSockets, [
      { kind: "unix", path: "/run/p.sock", mode: 0o660, level: "admin", timeout: 120_000 },
    ]);
    for (const mode of [`"600"`, `"0o600"`, `0o600`]) {
      assert.equal((load(`stats-socket = { path = "/run/p.sock", mode = ${mode} }`).config.global.statsSockets[0] as { mode: number }).mode, 0o600, mode);
    }
    assert.deepEqual(load(`stats-socket = { path = "/run/p.sock", address = "127.0.0.1:9999", level = "user" }`).config.global.statsSockets, [
      { kind: "unix", path: "/run/p.sock", mode: 0o600, level: "user", timeout: 10_000 },
      { kind: "tcp", text: "127.0.0.1:9999", host: "127.0.0.1", port: 9999, level: "user", timeout: 10_000 },
    ]);
  });

  test("an array: an admin UNIX socket and a read-only TCP one", () => {
    const { config, warnings } = load(`stats-socket = [ "/run/p.sock", { address = ":9999", level = "user" } ]`);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.global.statsSockets.map((socket) => `${socket.kind} ${socket.level}`), ["unix operator", "tcp user"]);
    assert.equal((config.global.statsSockets[1] as { host: string }).host, "0.0.0.0");
  });

  test("the admin level on a TCP address is refused unless expose-admin, and then it is warned about", () => {
    assert.deepEqual(issuesOf(`stats-socket = { address = "127.0.0.1:9999", level = "admin" }`), [
      `2:54 global.stats-socket.level: The runtime API's admin level is never exposed on a network address unless asked: anyone who can reach "127.0.0.1:9999" could take servers out and end sessions. Set expose-admin = true to mean it, or use level "operator" or "user"`,
    ]);
    const exposed = `stats-socket = { address = "127.0.0.1:9999", level = "admin", expose-admin = true }`;
    assert.deepEqual(issuesOf(exposed), []);
    assert.deepEqual(issuesOf(exposed, "warning"), [
      `2:78 global.stats-socket.expose-admin: The runtime API's admin level is exposed on TCP address "127.0.0.1:9999" (expose-admin = true): anyone who can reach it can take servers out and end sessions`,
    ]);
    assert.equal(load(exposed).config.global.statsSockets[0]!.level, "admin");
    // The default level (operator) on TCP needs nothing.
    assert.deepEqual(issuesOf(`stats-socket = { address = "127.0.0.1:9999" }`), []);
    assert.deepEqual(issuesOf(`stats-socket = { address = "127.0.0.1:9999", expose-admin = true }`, "warning"), [
      `2:61 global.stats-socket.expose-admin: "expose-admin" has no effect at level "operator": only the admin level is kept off the network`,
    ]);
  });

  test("errors at their positions, the value quoted", () => {
    assert.deepEqual(issuesOf(`stats-socket = 3`), [
      `2:16 global.stats-socket: Expected a socket path such as "/run/proxy.sock" or a table such as { path = "/run/proxy.sock", level = "admin" }, found 3`,
    ]);
    assert.deepEqual(issuesOf(`stats-socket = ""`), [`2:16 global.stats-socket: Expected the path of a UNIX socket such as "/run/proxy.sock", found an empty string`]);
    assert.deepEqual(issuesOf(`stats-socket = []`), [`2:16 global.stats-socket: Expected a socket path, a table or a non-empty array of them, found an empty array`]);
    assert.deepEqual(issuesOf(`stats-socket = { level = "admin" }`), [
      `2:16 global.stats-socket: Missing "path" or "address": where the runtime API listens, e.g. path = "/run/proxy.sock"`,
    ]);
    assert.deepEqual(
      issuesOf(`stats-socket = { path = "/run/p.sock", mode = "0999", level = "root", timeout = "soon", lvl = 1 }`),
      [
        `2:47 global.stats-socket.mode: Expected a file mode in octal such as "0600" or "0660" (or TOML's 0o600), found "0999"`,
        `2:63 global.stats-socket.level: Expected one of "user", "operator", "admin", found "root"`,
        `2:81 global.stats-socket.timeout: Invalid duration: expected a duration such as "100ms", "5s", "2m", "1h" or "1d", found "soon"`,
        `2:89 global.stats-socket.lvl: Unknown key "lvl": expected one of path, mode, level, address, expose-admin, timeout`,
      ],
    );
    assert.deepEqual(issuesOf(`stats-socket = { path = "/run/p.sock", mode = 4095 }`), [
      `2:47 global.stats-socket.mode: Expected a file mode in octal such as "0600" or "0660" (or TOML's 0o600), found 4095`,
    ]);
    assert.deepEqual(issuesOf(`stats-socket = { address = "127.0.0.1:9999", mode = "0600" }`), [
      `2:53 global.stats-socket.mode: "mode" is the permission of a UNIX socket file: give a "path" too, or drop it`,
    ]);
    assert.deepEqual(issuesOf(`stats-socket = { path = "/run/p.sock", expose-admin = true }`), [
      `2:55 global.stats-socket.expose-admin: "expose-admin" is about a TCP "address": give one, or drop it`,
    ]);
    assert.deepEqual(issuesOf(`stats-socket = { address = "localhost" }`), [
      `2:28 global.stats-socket.address: Invalid address "localhost": missing port, as in "localhost:80"`,
    ]);
    const long = `/tmp/${"x".repeat(MAX_STATS_SOCKET_PATH_BYTES)}`;
    assert.deepEqual(issuesOf(`stats-socket = "${long}"`), [
      `2:16 global.stats-socket: Socket path "${long}" is too long: ${long.length} bytes, at most ${MAX_STATS_SOCKET_PATH_BYTES} (the kernel takes 107, and the socket is bound as "PATH.PID.tmp" first)`,
    ]);
  });

  test("a TCP address bound by a frontend, or used twice, is refused", () => {
    assert.deepEqual(issuesOf(`stats-socket = { address = "127.0.0.1:8080" }`), [
      `2:28 global.stats-socket.address: Address "127.0.0.1:8080" is bound twice: also at frontends.web.bind`,
    ]);
    assert.deepEqual(issuesOf(`stats-socket = [ "/run/p.sock", "/run/p.sock" ]`), [
      `2:33 global.stats-socket[1]: Socket path "/run/p.sock" is used twice by the runtime API: also at global.stats-socket[0]`,
    ]);
  });

  test("formatted for editors like every other issue", () => {
    try {
      load(`stats-socket = { path = "/run/p.sock", level = "root" }`);
      assert.fail("accepted");
    } catch (error) {
      assert.ok(error instanceof ConfigFileError);
      assert.deepEqual(error.issues.map(formatConfigIssue), [
        `test.toml:2:48: global.stats-socket.level: Expected one of "user", "operator", "admin", found "root"`,
      ]);
    }
  });
});

describe("--stats-socket", () => {
  test("the quick start's socket is level admin, mode 0600", () => {
    const { config } = loadQuickStart({ bind: ["127.0.0.1:0"], backend: ["127.0.0.1:1"], statsSocket: "/tmp/p.sock" });
    assert.deepEqual(config.global.statsSockets, [{ kind: "unix", path: "/tmp/p.sock", mode: 0o600, level: "admin", timeout: 10_000 }]);
  });

  test("a bad path is reported against the flag", () => {
    assert.throws(
      () => loadQuickStart({ bind: ["127.0.0.1:0"], backend: ["127.0.0.1:1"], statsSocket: "" }),
      (error: unknown) => error instanceof ConfigError && error.path === "--stats-socket" && /Expected the path of a UNIX socket/.test(error.message),
    );
  });

  test("proxy check validates stats-socket at its position, and -f files refuse --stats-socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "proxy-stats-socket-"));
    try {
      const file = join(dir, "bad.toml");
      writeFileSync(file, `[global]\nstats-socket = { address = "127.0.0.1:9999", level = "admin" }\n${REST}`);
      const bad = new CliProcess(["check", "-f", file]);
      assert.equal(await bad.waitExit(), 1);
      assert.match(bad.stderr, /bad\.toml:2:54: global\.stats-socket\.level: The runtime API's admin level is never exposed/);
      const good = join(dir, "good.toml");
      writeFileSync(good, `[global]\nstats-socket = { path = "${join(dir, "api.sock")}", level = "admin" }\n${REST}`);
      const ok = new CliProcess(["check", "-f", good]);
      assert.equal(await ok.waitExit(), 0, ok.stderr);
      const mixed = new CliProcess(["-f", good, "--stats-socket", join(dir, "x.sock")]);
      assert.equal(await mixed.waitExit(), 2);
      assert.match(mixed.stderr, /Options --stats-socket cannot be combined with -f/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
