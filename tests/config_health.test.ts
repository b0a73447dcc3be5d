/**
 * Health checks and overload protection in configuration files: `check` with its defaults and its
 * merge order ([defaults], backend, server), every error at its key, the server keys maxqueue,
 * disabled and slowstart, and `timeout queue` following `timeout connect`.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigFileError, loadConfigSources } from "../src/config/load.ts";
import type { ConfigIssue } from "../src/config/load.ts";
import { DEFAULTS } from "../src/config/types.ts";
import type { BackendConfig, HealthCheckConfig } from "../src/config/types.ts";

/** A frontend "web" on backend "app"; `before` goes first (e.g. [defaults]), `app` is the backend's body. */
function document(app: string, before = ""): string {
  return `${before}
[frontends.web]
bind = ":8080"
default-backend = "app"

[backends.app]
${app}
`;
}

function load(text: string) {
  return loadConfigSources([{ name: "test.toml", text }]);
}

function backend(text: string): BackendConfig {
  const { config, warnings } = load(text);
  assert.deepEqual(warnings, []);
  return config.backends.find((candidate) => candidate.name === "app")!;
}

/** The errors of a configuration that must fail, as "path: message". */
function errorsOf(text: string): string[] {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error.issues
      .filter((issue: ConfigIssue) => issue.severity === "error")
      .map((issue: ConfigIssue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error("the configuration was accepted");
}

const TCP_CHECK: HealthCheckConfig = {
  type: "tcp",
  interval: DEFAULTS.checkInterval,
  fastInterval: DEFAULTS.checkInterval,
  downInterval: DEFAULTS.checkInterval,
  rise: DEFAULTS.checkRise,
  fall: DEFAULTS.checkFall,
  timeout: DEFAULTS.checkInterval,
  port: null,
  address: null,
  http: null,
  observe: null,
  errorLimit: DEFAULTS.checkErrorLimit,
  onError: DEFAULTS.checkOnError,
  shutdownSessionsOnDown: false,
  shutdownBackupSessionsOnUp: false,
};

describe("check", () => {
  test("check = true is a tcp connect check with HAProxy's defaults; no check is null", () => {
    const app = backend(document(`servers = [
  { name = "a", address = "10.0.0.1:80", check = true },
  { name = "b", address = "10.0.0.2:80" },
]`));
    assert.deepEqual(app.servers[0]!.check, TCP_CHECK);
    assert.equal(app.servers[1]!.check, null);
    assert.ok(Object.isFrozen(app.servers[0]!.check));
  });

  test("an http check: defaults, and every key given", () => {
    const app = backend(document(`mode = "http"
servers = [
  { name = "a", address = "10.0.0.1:80", check = { type = "http" } },
  { name = "b", address = "10.0.0.2:80", check = { type = "http", interval = "5s", fastinter = "1s", downinter = "30s", rise = 1, fall = 10, timeout = "2s", port = 8081, address = "10.0.0.9", method = "HEAD", path = "/health?full=1", host = "app.example.com", expect-status = "200", expect-body = "ok", observe = "layer7", error-limit = 5, on-error = "mark-down", on-marked-down = "shutdown-sessions", on-marked-up = "shutdown-backup-sessions" } },
]`, `[defaults]\nmode = "http"`));
    assert.deepEqual(app.servers[0]!.check, {
      ...TCP_CHECK,
      type: "http",
      http: { method: "GET", path: "/", host: null, expectStatus: [{ min: 200, max: 399 }], expectBody: null },
    });
    assert.deepEqual(app.servers[1]!.check, {
      type: "http",
      interval: 5_000,
      fastInterval: 1_000,
      downInterval: 30_000,
      rise: 1,
      fall: 10,
      timeout: 2_000,
      port: 8081,
      address: "10.0.0.9",
      http: { method: "HEAD", path: "/health?full=1", host: "app.example.com", expectStatus: [{ min: 200, max: 200 }], expectBody: "ok" },
      observe: "layer7",
      errorLimit: 5,
      onError: "mark-down",
      shutdownSessionsOnDown: true,
      shutdownBackupSessionsOnUp: true,
    });
  });

  test("fastinter, downinter and timeout default to the merged interval", () => {
    const app = backend(document(`check = { interval = "10s" }
servers = [{ name = "a", address = "h:1", check = { downinter = "1m" } }]`, `[defaults]\ncheck = { timeout = "1s" }`));
    const check = app.servers[0]!.check!;
    assert.deepEqual([check.interval, check.fastInterval, check.downInterval, check.timeout], [10_000, 10_000, 60_000, 1_000]);
  });

  test("merge order: server over backend over [defaults], key by key", () => {
    const app = backend(document(
      `mode = "http"
check = { path = "/backend", rise = 4, interval = "3s" }
servers = [
  { name = "a", address = "h:1", check = { rise = 1 } },
  { name = "b", address = "h:2", check = true },
  { name = "c", address = "h:3" },
]`,
      `[defaults]\nmode = "http"\ncheck = { type = "http", path = "/defaults", fall = 9, host = "d.example" }`,
    ));
    const [a, b, c] = app.servers.map((server) => server.check!);
    assert.deepEqual([a!.type, a!.http!.path, a!.http!.host, a!.rise, a!.fall, a!.interval], ["http", "/backend", "d.example", 1, 9, 3_000]);
    assert.deepEqual([b!.http!.path, b!.rise], ["/backend", 4]);
    assert.deepEqual([c!.http!.path, c!.rise], ["/backend", 4]);
  });

  test("check = false: a server opts out, a backend drops [defaults]'s, and a server may opt back in", () => {
    const off = backend(document(`check = true
servers = [
  { name = "a", address = "h:1", check = false },
  { name = "b", address = "h:2" },
]`));
    assert.deepEqual(off.servers.map((server) => server.check === null), [true, false]);
    const dropped = backend(document(`check = false
servers = [
  { name = "a", address = "h:1" },
  { name = "b", address = "h:2", check = true },
  { name = "c", address = "h:3", check = { fall = 1 } },
]`, `[defaults]\ncheck = { rise = 7 }`));
    assert.equal(dropped.servers[0]!.check, null);
    // Switching checks back on keeps the settings inherited from [defaults].
    assert.equal(dropped.servers[1]!.check!.rise, 7);
    assert.deepEqual([dropped.servers[2]!.check!.rise, dropped.servers[2]!.check!.fall], [7, 1]);
  });

  test("a type tcp below an http check drops the inherited http settings", () => {
    const app = backend(document(
      `check = { type = "http", path = "/x" }
servers = [{ name = "a", address = "h:1", check = { type = "tcp" } }, { name = "b", address = "h:2", check = { type = "http" } }]`,
    ));
    assert.deepEqual([app.servers[0]!.check!.type, app.servers[0]!.check!.http], ["tcp", null]);
    assert.equal(app.servers[1]!.check!.http!.path, "/x");
  });

  test("http keys in a tcp check are an error at the key", () => {
    assert.deepEqual(errorsOf(document(`servers = [{ name = "a", address = "h:1", check = { type = "tcp", path = "/health" } }]`)), [
      `backends.app.servers[0].check.path: Key "path" applies to http checks, but this check has type "tcp"`,
    ]);
    assert.deepEqual(errorsOf(document(`check = { expect-status = "200", method = "HEAD" }\nservers = []`)), [
      `backends.app.check.expect-status: Key "expect-status" applies to http checks, and this check is a tcp check (the default type): give type = "http"`,
      `backends.app.check.method: Key "method" applies to http checks, and this check is a tcp check (the default type): give type = "http"`,
    ]);
    assert.deepEqual(errorsOf(document(`check = { type = "tcp" }\nservers = [{ name = "a", address = "h:1", check = { host = "x" } }]`)), [
      `backends.app.servers[0].check.host: Key "host" applies to http checks, and this check is a tcp check (type "tcp" at backends.app.check.type): give type = "http"`,
    ]);
  });

  test("expect-status: a status, a class, a range, or an array of them; a bad one says which forms exist", () => {
    const statuses = (value: string) =>
      backend(document(`servers = [{ name = "a", address = "h:1", check = { type = "http", expect-status = ${value} } }]`)).servers[0]!.check!.http!.expectStatus;
    assert.deepEqual(statuses(`"204"`), [{ min: 204, max: 204 }]);
    assert.deepEqual(statuses(`"5xx"`), [{ min: 500, max: 599 }]);
    assert.deepEqual(statuses(`"200-299"`), [{ min: 200, max: 299 }]);
    assert.deepEqual(statuses(`["200", "3xx", "401-403", 418]`), [{ min: 200, max: 200 }, { min: 300, max: 399 }, { min: 401, max: 403 }, { min: 418, max: 418 }]);
    const bad = (value: string) => errorsOf(document(`servers = [{ name = "a", address = "h:1", check = { type = "http", expect-status = ${value} } }]`));
    assert.deepEqual(bad(`"2xz"`), [
      `backends.app.servers[0].check.expect-status: Invalid status "2xz": expected a status such as "200", a class such as "2xx" or a range such as "200-299"`,
    ]);
    assert.deepEqual(bad(`["200", "299-200"]`), [
      `backends.app.servers[0].check.expect-status[1]: Invalid status range "299-200": the first status is above the second`,
    ]);
    assert.deepEqual(bad(`"600"`), [`backends.app.servers[0].check.expect-status: Invalid status "600": expected a status from 100 to 599`]);
    assert.deepEqual(bad(`[]`), [
      `backends.app.servers[0].check.expect-status: Expected a status such as "200", a class such as "2xx" or a range such as "200-299", or an array of them, found an empty array`,
    ]);
  });

  test("values out of range, unknown keys and wrong types, each at its key", () => {
    assert.deepEqual(
      errorsOf(document(`servers = [{ name = "a", address = "h:1", check = { interval = "5ms", rise = 0, timeout = 0, port = 70000, on-error = "die", on-marked-down = "yes", inter = "2s" } }]`)),
      [
        `backends.app.servers[0].check.interval: Expected a duration of at least 10ms, found "5ms"`,
        `backends.app.servers[0].check.rise: Expected an integer from 1 to 1000, found 0`,
        `backends.app.servers[0].check.timeout: Expected a duration of at least 1ms, found 0`,
        `backends.app.servers[0].check.port: Expected an integer from 1 to 65535, found 70000`,
        `backends.app.servers[0].check.on-error: Expected one of "fastinter", "fail-check", "sudden-death", "mark-down", found "die"`,
        `backends.app.servers[0].check.on-marked-down: Expected one of "shutdown-sessions", found "yes"`,
        `backends.app.servers[0].check.inter: Unknown key "inter": did you mean "interval"? (HAProxy's "inter")`,
      ],
    );
    assert.deepEqual(errorsOf(document(`check = "yes"\nservers = []`)), [
      `backends.app.check: Expected true, false or a table such as { type = "http", path = "/health" }, found "yes"`,
    ]);
    assert.deepEqual(errorsOf(document(`servers = [{ name = "a", address = "h:1", check = { address = "10.0.0.1:80", type = "http", path = "health" } }]`)), [
      `backends.app.servers[0].check.address: Invalid check address "10.0.0.1:80": give a host or an IP address only, and the port in "port"`,
      `backends.app.servers[0].check.path: Invalid check path "health": a path starts with "/"`,
    ]);
  });

  test("a checked server without a port needs the check's port", () => {
    assert.deepEqual(errorsOf(document(`check = true\nservers = [{ name = "x", address = "10.0.0.1" }]`)), [
      `backends.app.servers[0]: Server "x" has no port: give the check a "port"`,
    ]);
    const app = backend(document(`check = { port = 9000 }\nservers = [{ name = "x", address = "10.0.0.1" }, { name = "y", address = "10.0.0.2", check = false }]`));
    assert.equal(app.servers[0]!.check!.port, 9000);
    assert.equal(app.servers[1]!.check, null);
  });

  test("observe layer7 needs an http backend", () => {
    assert.deepEqual(errorsOf(document(`servers = [{ name = "a", address = "h:1", check = { observe = "layer7" } }]`)), [
      `backends.app.servers[0].check.observe: Observe "layer7" needs http mode (it judges http responses): backend "app" is in tcp mode; use "layer4"`,
    ]);
    // Inherited from [defaults]: said once, at the backend.
    assert.deepEqual(errorsOf(document(`servers = [{ name = "a", address = "h:1" }, { name = "b", address = "h:2" }]`, `[defaults]\ncheck = { observe = "layer7" }`)), [
      `backends.app: Backend "app" is in tcp mode but its checks inherit observe "layer7" from defaults.check.observe, which needs http mode: give the backend check = { observe = "layer4" }`,
    ]);
    const app = backend(document(`mode = "http"\nservers = [{ name = "a", address = "h:1", check = { observe = "layer7" } }]`, `[defaults]\nmode = "http"`));
    assert.equal(app.servers[0]!.check!.observe, "layer7");
    assert.equal(backend(document(`servers = [{ name = "a", address = "h:1", check = { observe = "layer4" } }]`)).servers[0]!.check!.observe, "layer4");
  });
});

describe("maxqueue, disabled, slowstart", () => {
  test("defaults, values, and slowstart inherited from [defaults] then the backend", () => {
    const app = backend(document(`slowstart = "30s"
servers = [
  { name = "a", address = "h:1", maxconn = 10, maxqueue = 50, disabled = true, slowstart = "1m" },
  { name = "b", address = "h:2" },
]`, `[defaults]\nslowstart = "5s"`));
    const [a, b] = app.servers;
    assert.deepEqual([a!.maxconn, a!.maxqueue, a!.disabled, a!.slowstart], [10, 50, true, 60_000]);
    assert.deepEqual([b!.maxqueue, b!.disabled, b!.slowstart], [0, false, 30_000]);
    const plain = backend(document(`servers = [{ name = "a", address = "h:1" }]`, `[defaults]\nslowstart = "5s"`));
    assert.equal(plain.servers[0]!.slowstart, 5_000);
    assert.equal(backend(document(`servers = [{ name = "a", address = "h:1" }]`)).servers[0]!.slowstart, 0);
  });

  test("errors at their keys", () => {
    assert.deepEqual(errorsOf(document(`servers = [{ name = "a", address = "h:1", maxqueue = -1, disabled = "yes", slowstart = "soon" }]`)), [
      `backends.app.servers[0].maxqueue: Expected an integer from 0 to 10000000, found -1`,
      `backends.app.servers[0].disabled: Expected true or false, found "yes"`,
      `backends.app.servers[0].slowstart: Invalid duration: expected a duration such as "100ms", "5s", "2m", "1h" or "1d", found "soon"`,
    ]);
  });
});

describe("timeout queue", () => {
  test("unset anywhere: the backend's final connect timeout", () => {
    assert.equal(backend(document(`servers = [{ name = "a", address = "h:1" }]`)).timeouts.queue, DEFAULTS.timeoutConnect);
    const own = backend(document(`timeout = { connect = "2s" }\nservers = [{ name = "a", address = "h:1" }]`, `[defaults.timeout]\nconnect = "9s"`));
    assert.deepEqual([own.timeouts.connect, own.timeouts.queue], [2_000, 2_000]);
  });

  test("an explicit value is kept, in [defaults] or the backend, with no warning", () => {
    const fromDefaults = backend(document(`timeout = { connect = "2s" }\nservers = [{ name = "a", address = "h:1" }]`, `[defaults.timeout]\nqueue = "1m"`));
    assert.deepEqual([fromDefaults.timeouts.connect, fromDefaults.timeouts.queue], [2_000, 60_000]);
    const own = backend(document(`timeout = { queue = "0" }\nservers = [{ name = "a", address = "h:1" }]`));
    assert.equal(own.timeouts.queue, 0);
  });
});
