/**
 * send-proxy keys in configuration files: on a backend for its servers and on a server, the v1/v2
 * conflict, the server's choice replacing its backend's, check-send-proxy, and server TLS beside
 * them.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigFileError, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";
import type { BackendConfig } from "../src/config/types.ts";
import { checkSendsProxy, NO_SEND_PROXY } from "../src/config/send_proxy.ts";

function document(app: string): string {
  return `
[frontends.web]
bind = ":8080"
default-backend = "app"

[backends.app]
${app}
`;
}

function backend(app: string): BackendConfig {
  const { config, warnings } = loadConfigSources([{ name: "test.toml", text: document(app) }]);
  assert.deepEqual(warnings, []);
  return config.backends.find((candidate) => candidate.name === "app")!;
}

function errorsOf(app: string): string[] {
  try {
    loadConfigSources([{ name: "test.toml", text: document(app) }]);
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error.issues.filter((issue: ConfigIssue) => issue.severity === "error").map((issue: ConfigIssue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error("the configuration was accepted");
}

test("no key: no header", () => {
  assert.deepEqual(backend(`servers = [{ name = "a", address = "127.0.0.1:80" }]`).servers[0]!.sendProxy, NO_SEND_PROXY);
});

test("a backend's keys are its servers' default; a server's choice replaces it as a whole", () => {
  const servers = backend(`
send-proxy-v2-ssl-cn = true
check-send-proxy = true
servers = [
  { name = "a", address = "127.0.0.1:80" },
  { name = "b", address = "127.0.0.1:81", send-proxy = true },
  { name = "c", address = "127.0.0.1:82", send-proxy-v2 = false },
  { name = "d", address = "127.0.0.1:83", send-proxy-v2-ssl = true, check-send-proxy = false },
]`).servers;
  assert.deepEqual(servers.map((server) => ({ ...server.sendProxy })), [
    { version: 2, ssl: true, sslCn: true, check: true },
    { version: 1, ssl: false, sslCn: false, check: true },
    { version: 0, ssl: false, sslCn: false, check: true },
    { version: 2, ssl: true, sslCn: false, check: false },
  ]);
});

test("v1 and v2 together are refused at the key, and a value must be a boolean", () => {
  const errors = errorsOf(`servers = [{ name = "a", address = "127.0.0.1:80", send-proxy = true, send-proxy-v2 = true }]`);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^backends\.app\.servers\[0\]\.send-proxy: "send-proxy" \(PROXY protocol v1\) and "send-proxy-v2" \(v2\) cannot both be on/);
  assert.equal(errorsOf(`send-proxy = true\nsend-proxy-v2-ssl = true\nservers = [{ name = "a", address = "127.0.0.1:80" }]`).length, 1);
  assert.equal(errorsOf(`send-proxy = "yes"\nservers = [{ name = "a", address = "127.0.0.1:80" }]`).length, 1);
});

test("send-proxy beside server tls is kept: the header goes before the handshake (a runtime that cannot is refused by tls_config.test.ts)", () => {
  const [server] = backend(`servers = [{ name = "a", address = "127.0.0.1:443", tls = { verify = "none" }, send-proxy-v2 = true }]`).servers;
  assert.equal(server!.sendProxy.version, 2);
  assert.notEqual(server!.tls, null);
  const [checked] = backend(`tls = { verify = "none" }\ncheck-send-proxy = true\nservers = [{ name = "a", address = "127.0.0.1:443" }]`).servers;
  assert.equal(checked!.sendProxy.check, true);
});

test("checks send the header when told, else when the server's traffic does and the check goes to the server", () => {
  assert.equal(checkSendsProxy({ ...NO_SEND_PROXY, check: true }, false), true);
  assert.equal(checkSendsProxy({ version: 2, ssl: false, sslCn: false, check: false }, true), false);
  assert.equal(checkSendsProxy({ version: 1, ssl: false, sslCn: false, check: undefined }, true), true);
  assert.equal(checkSendsProxy({ version: 1, ssl: false, sslCn: false, check: undefined }, false), false);
  assert.equal(checkSendsProxy(NO_SEND_PROXY, true), false);
});
