/**
 * `monitor-uri`, `monitor-fail` and `grace` (src/config/monitor_setting.ts): defaults,
 * inheritance from [defaults], and every mistake reported at its place.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { issuesOf, loadText } from "./_config_helpers.ts";

function config(defaults: string, frontend: string, mode = "http"): string {
  return `
[defaults]
mode = "${mode}"
${defaults}

[frontends.web]
bind = ":8080"
default-backend = "app"
${frontend}

[backends.app]
servers = [{ name = "a", address = "10.0.0.1:80" }, { name = "b", address = "10.0.0.2:80" }]

[backends.db]
mode = "tcp"
servers = [{ name = "a", address = "10.0.0.3:5432" }]
`;
}

const load = loadText;

test("no monitor and no grace by default", () => {
  const frontend = load(config("", "")).config.frontends[0]!;
  assert.equal(frontend.monitor, null);
  assert.equal(frontend.grace, 0);
});

test("monitor-uri, monitor-fail and grace of a frontend; monitor-fail may count a tcp backend", () => {
  const frontend = load(config("", `monitor-uri = "/healthz"\ngrace = "5s"\nmonitor-fail = [{ backend = "app", min-servers = 2 }, { backend = "db", min-servers = 1 }]`))
    .config.frontends[0]!;
  assert.deepEqual(frontend.monitor, {
    uri: "/healthz",
    fail: [{ backend: "app", minServers: 2 }, { backend: "db", minServers: 1 }],
  });
  assert.equal(frontend.grace, 5_000);
  assert.ok(Object.isFrozen(frontend.monitor));
});

test("monitor-uri and grace are inherited from [defaults] and overridden by the frontend", () => {
  const inherited = load(config(`monitor-uri = "/up"\ngrace = "2s"`, "")).config.frontends[0]!;
  assert.deepEqual(inherited.monitor, { uri: "/up", fail: [] });
  assert.equal(inherited.grace, 2_000);
  const own = load(config(`monitor-uri = "/up"\ngrace = "2s"`, `monitor-uri = "/healthz"\ngrace = 0`)).config.frontends[0]!;
  assert.equal(own.monitor?.uri, "/healthz");
  assert.equal(own.grace, 0);
});

test("a tcp frontend keeps its grace and has no monitor: a warning when set there, silence when inherited", () => {
  const tcp = config(`grace = "3s"\nmonitor-uri = "/up"`, "", "tcp").replace(`[backends.app]`, `[backends.app]\nmode = "tcp"`);
  const frontend = load(tcp).config.frontends[0]!;
  assert.equal(frontend.monitor, null);
  assert.equal(frontend.grace, 3_000);
  assert.deepEqual(load(tcp).warnings, []);
  const own = config("", `monitor-uri = "/up"`, "tcp").replace(`[backends.app]`, `[backends.app]\nmode = "tcp"`);
  assert.deepEqual(issuesOf(own, "warning"), [`frontends.web.monitor-uri: "monitor-uri" has no effect in tcp mode: it answers http requests`]);
});

test("monitor-fail without monitor-uri is a warning", () => {
  assert.deepEqual(issuesOf(config("", `monitor-fail = [{ backend = "app", min-servers = 1 }]`), "warning"), [
    `frontends.web.monitor-fail: "monitor-fail" has no effect without "monitor-uri": nothing answers the monitor`,
  ]);
});

test("mistakes are reported at their place", () => {
  assert.deepEqual(issuesOf(config("", `monitor-uri = "healthz"`), "error"), [
    `frontends.web.monitor-uri: Expected a path such as "/healthz" (starting with "/", no query, no spaces), found "healthz"`,
  ]);
  assert.deepEqual(issuesOf(config(`grace = "soon"`, ""), "error").length, 1);
  assert.deepEqual(issuesOf(config("", `monitor-uri = "/h"\nmonitor-fail = [{ backend = "ap", min-servers = 1 }]`), "error"), [
    `frontends.web.monitor-fail[0].backend: Backend "ap" does not exist: did you mean "app"?`,
  ]);
  assert.deepEqual(issuesOf(config("", `monitor-uri = "/h"\nmonitor-fail = [{ backend = "app" }]`), "error"), [
    `frontends.web.monitor-fail[0]: A monitor-fail condition needs "min-servers": the fewest usable servers that still answer 200`,
  ]);
  assert.deepEqual(issuesOf(config("", `monitor-uri = "/h"\nmonitor-fail = [{ backend = "app", min-servers = 0 }]`), "error"), [
    `frontends.web.monitor-fail[0].min-servers: Expected an integer from 1 to 65535, found 0`,
  ]);
  assert.deepEqual(issuesOf(config("", `monitor-uri = "/h"\nmonitor-fail = { backend = "app", min-servers = 1 }`), "error"), [
    `frontends.web.monitor-fail: Expected an array of conditions such as [{ backend = "app", min-servers = 2 }]`,
  ]);
});
