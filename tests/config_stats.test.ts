/**
 * The stats keys of a frontend (src/config/stats_setting.ts) and the `--stats` quick start:
 * defaults, a stats-only frontend without a backend, and every mistake reported at its place.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { issuesOf, loadText } from "./_config_helpers.ts";
import { buildQuickStartConfig } from "../src/config/quick_start.ts";
import { ConfigError } from "../src/config/errors.ts";

function config(frontend: string, mode = "http"): string {
  return `
[frontends.web]
mode = "${mode}"
bind = ":8080"
default-backend = "app"
${frontend}

[backends.app]
mode = "${mode}"
servers = [{ name = "a", address = "10.0.0.1:80" }]
`;
}

const load = loadText;

test("no stats by default", () => {
  assert.equal(load(config("")).config.frontends[0]!.stats, null);
});

test("every stats key, with its defaults", () => {
  const stats = load(config(`stats-uri = "/stats"`)).config.frontends[0]!.stats;
  assert.deepEqual(stats, { uris: ["/stats"], metricsUri: null, refresh: 10_000, realm: "Proxy Statistics", credentials: [], allow: null });
  const full = load(config(
    `stats-uri = ["/s", "/"]\nmetrics-uri = "/metrics"\nstats-refresh = "3s"\nstats-auth = ["admin:pw", "ro:x:y"]\nstats-realm = "Edge"\nstats-allow = ["10.0.0.0/8", "::1"]`,
  )).config.frontends[0]!.stats!;
  assert.deepEqual(full.uris, ["/s", "/"]);
  assert.equal(full.metricsUri, "/metrics");
  assert.equal(full.refresh, 3_000);
  assert.deepEqual(full.credentials, ["admin:pw", "ro:x:y"]);
  assert.equal(full.realm, "Edge");
  assert.equal(full.allow!.length, 2);
  assert.ok(Object.isFrozen(full));
});

test("a frontend that only shows stats needs no default-backend", () => {
  const text = `
[frontends.admin]
mode = "http"
bind = ":8404"
metrics-uri = "/metrics"
`;
  const frontend = load(text).config.frontends[0]!;
  assert.equal(frontend.defaultBackend, "");
  assert.equal(frontend.stats!.metricsUri, "/metrics");
});

test("mistakes are errors at their place", () => {
  assert.deepEqual(issuesOf(config(`stats-uri = "stats"`), "error"), [
    `frontends.web.stats-uri: Expected a path such as "/stats" (starting with "/", no query, no ";", no spaces), found "stats"`,
  ]);
  assert.deepEqual(issuesOf(config(`stats-uri = "/s"\nmetrics-uri = "/s"`), "error"), [
    `frontends.web.metrics-uri: "metrics-uri" and "stats-uri" are both "/s": give each its own path`,
  ]);
  assert.deepEqual(issuesOf(config(`stats-uri = "/s"\nstats-auth = ["nopassword"]`), "error"), [
    `frontends.web.stats-auth[0]: Expected "user:password", found "nopassword"`,
  ]);
  assert.deepEqual(issuesOf(config(`stats-uri = "/s"\nstats-allow = "10.0.0.0/33"`), "error").length, 1);
  assert.deepEqual(issuesOf(config(`stats-uri = "/s"\nstats-realm = "a\\"b"`), "error").length, 1);
});

test("stats keys in tcp mode or without a path are warnings", () => {
  assert.deepEqual(issuesOf(config(`stats-uri = "/s"`, "tcp"), "warning"), [
    `frontends.web.stats-uri: "stats-uri" has no effect in tcp mode: it answers http requests`,
  ]);
  assert.deepEqual(issuesOf(config(`stats-refresh = "5s"`), "warning"), [
    `frontends.web.stats-refresh: "stats-refresh" has no effect without "stats-uri" or "metrics-uri"`,
  ]);
});

test("--stats builds a stats frontend beside the quick start's; --stats-auth its credentials", () => {
  const config = buildQuickStartConfig({ bind: [":80"], backend: ["10.0.0.1:80"], stats: ["127.0.0.1:8404"], statsAuth: ["a:b"] });
  const stats = config.frontends.find((frontend) => frontend.name === "stats")!;
  assert.equal(stats.mode, "http");
  assert.deepEqual(stats.binds.map((bind) => `${bind.host}:${bind.port}`), ["127.0.0.1:8404"]);
  assert.deepEqual(stats.stats!.uris, ["/stats", "/"]);
  assert.equal(stats.stats!.metricsUri, "/metrics");
  assert.deepEqual(stats.stats!.credentials, ["a:b"]);
  assert.throws(
    () => buildQuickStartConfig({ bind: [":80"], backend: ["10.0.0.1:80"], stats: ["127.0.0.1:8404"], statsAuth: ["nopassword"] }),
    (error: unknown) => error instanceof ConfigError && /--stats-auth/.test(error.message),
  );
});
