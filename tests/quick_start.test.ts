/**
 * The quick-start flags build the validated Config model: defaults, lists, and errors naming the flag.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { buildQuickStartConfig } from "../src/config/quick_start.ts";
import { ConfigError } from "../src/config/errors.ts";
import { DEFAULTS } from "../src/config/types.ts";

test("one frontend main, one backend main, servers s1..sN, defaults everywhere else", () => {
  const config = buildQuickStartConfig({ bind: [":80,[::1]:81"], backend: ["10.0.0.1:8080", "web2"] });
  assert.equal(config.frontends.length, 1);
  const frontend = config.frontends[0]!;
  assert.equal(frontend.name, "main");
  assert.equal(frontend.mode, "http");
  assert.equal(frontend.defaultBackend, "main");
  assert.deepEqual(frontend.binds.map((bind) => [bind.host, bind.port, bind.reusePort]), [
    ["0.0.0.0", 80, true],
    ["::1", 81, true],
  ]);
  assert.equal(frontend.maxconn, DEFAULTS.frontendMaxconn);
  assert.equal(frontend.timeouts.client, DEFAULTS.timeoutClient);
  const backend = config.backends[0]!;
  assert.equal(backend.balance, "roundrobin");
  assert.equal(backend.retries, 3);
  assert.equal(backend.redispatch, true);
  assert.deepEqual(backend.timeouts, {
    connect: DEFAULTS.timeoutConnect,
    server: DEFAULTS.timeoutServer,
    queue: DEFAULTS.timeoutConnect,
    tunnel: DEFAULTS.timeoutTunnel,
  });
  assert.deepEqual(backend.servers.map((server) => [server.name, server.host, server.port, server.weight]), [
    ["s1", "10.0.0.1", 8080, 1],
    ["s2", "web2", null, 1],
  ]);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(frontend) && Object.isFrozen(backend.servers[0]));
});

test("balance and reuseport flags are carried through", () => {
  const config = buildQuickStartConfig({ bind: ["8080"], backend: ["a:1"], balance: "leastconn", reusePort: false });
  assert.equal(config.backends[0]!.balance, "leastconn");
  assert.equal(config.frontends[0]!.binds[0]!.reusePort, false);
});

function codeAndPath(run: () => unknown): [string, string, string] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [error.code, error.path, error.message];
  }
  throw new Error("no error thrown");
}

test("errors name the flag and quote the value", () => {
  assert.deepEqual(codeAndPath(() => buildQuickStartConfig({ bind: [], backend: ["a:1"] })).slice(0, 2), ["CONFIG_MISSING", "--bind"]);
  assert.deepEqual(codeAndPath(() => buildQuickStartConfig({ bind: [":80"], backend: [" , "] })).slice(0, 2), ["CONFIG_MISSING", "--backend"]);
  const [code, path, message] = codeAndPath(() => buildQuickStartConfig({ bind: [":80"], backend: ["a:1"], balance: "fastest" }));
  assert.equal(code, "CONFIG_INVALID_VALUE");
  assert.equal(path, "--balance");
  assert.match(message, /^Expected one of "roundrobin", .* found "fastest" \(in --balance\)$/);
  assert.deepEqual(codeAndPath(() => buildQuickStartConfig({ bind: [":80"], backend: ["a:1"], mode: "udp" })).slice(0, 2), ["CONFIG_INVALID_VALUE", "--mode"]);
  const http = buildQuickStartConfig({ bind: [":80"], backend: ["a:1"], mode: "http" });
  assert.deepEqual([http.frontends[0]!.mode, http.backends[0]!.mode], ["http", "http"]);
  assert.deepEqual(codeAndPath(() => buildQuickStartConfig({ bind: [":80", "*:80"], backend: ["a:1"] })).slice(0, 2), ["CONFIG_INVALID_VALUE", "--bind"]);
  const [, badPath, badMessage] = codeAndPath(() => buildQuickStartConfig({ bind: [":80"], backend: ["a:70000"] }));
  assert.equal(badPath, "--backend");
  assert.match(badMessage, /"a:70000"/);
});

test("--log targets become [global] log targets the frontend logs to", () => {
  const config = buildQuickStartConfig({ bind: [":80"], backend: ["a:1"], log: ["stdout,udp://10.0.0.9"] });
  assert.deepEqual(config.global.log.map((target) => [target.transport, target.host, target.port, target.format]), [
    ["stdout", "", 0, "raw"],
    ["udp", "10.0.0.9", 514, "local"],
  ]);
  const frontend = config.frontends[0]!;
  assert.equal(frontend.log.targets, config.global.log, "the same targets, so they share one queue each");
  assert.equal(frontend.log.format, "httplog");
  assert.equal(buildQuickStartConfig({ bind: [":80"], backend: ["a:1"], mode: "tcp", log: ["stderr"] }).frontends[0]!.log.format, "tcplog");
  assert.deepEqual(buildQuickStartConfig({ bind: [":80"], backend: ["a:1"] }).frontends[0]!.log.targets, []);
  const [code, path, message] = codeAndPath(() => buildQuickStartConfig({ bind: [":80"], backend: ["a:1"], log: ["/dev/log"] }));
  assert.equal(code, "CONFIG_INVALID_VALUE");
  assert.equal(path, "--log");
  assert.match(message, /"\/dev\/log"/);
});
