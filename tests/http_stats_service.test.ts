/**
 * The http stats service (src/http/stats_service.ts) on its own: which targets it answers, in
 * which format, and who may read (source networks, basic auth), with recording renderers.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { StatsService, validCredentials } from "../src/http/stats_service.ts";
import type { StatsRequest } from "../src/http/stats_service.ts";
import type { StatsConfig } from "../src/config/types.ts";
import { parseCidr } from "../src/core/cidr.ts";
import type { Cidr } from "../src/core/cidr.ts";
import type { StatsSnapshot } from "../src/stats/snapshot.ts";

const SNAPSHOT = { info: {}, frontends: [], backends: [] } as unknown as StatsSnapshot;

function service(overrides: Partial<StatsConfig> = {}) {
  const calls: string[] = [];
  let snapshots = 0;
  const config: StatsConfig = {
    uris: ["/stats", "/"],
    metricsUri: "/metrics",
    refresh: 5_000,
    realm: "Edge",
    credentials: [],
    allow: null,
    ...overrides,
  };
  const stats = new StatsService(config, { snapshot: () => (snapshots++, SNAPSHOT) }, {
    html: (_snapshot, uri, refresh) => (calls.push(`html ${uri} ${refresh}`), "<html>"),
    csv: () => (calls.push("csv"), "# pxname"),
    json: () => (calls.push("json"), "{}"),
    prometheus: () => (calls.push("prometheus"), "# HELP"),
  });
  return { stats, calls, snapshots: () => snapshots };
}

function request(target: string, method = "GET", headers: Record<string, string> = {}): StatsRequest {
  return { method, target, headerValue: (name) => headers[name] };
}

function headerOf(answer: { headers: readonly string[] }, name: string): string | undefined {
  const index = answer.headers.findIndex((value, i) => i % 2 === 0 && value.toLowerCase() === name.toLowerCase());
  return index < 0 ? undefined : answer.headers[index + 1];
}

test("answers the page, its ;csv and ;json forms and the metrics; any other target is not its", () => {
  const { stats, calls, snapshots } = service();
  assert.equal(stats.answer(request("/stats"), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/"), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/stats;csv"), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/stats;json?x=1"), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/stats;norefresh"), "127.0.0.1")!.status, 200);
  const metrics = stats.answer(request("http://example.com/metrics"), "127.0.0.1")!;
  assert.equal(headerOf(metrics, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(headerOf(metrics, "Cache-Control"), "no-cache");
  assert.deepEqual(calls, ["html /stats 5", "html / 5", "csv", "json", "html /stats 0", "prometheus"]);
  for (const other of ["/statsx", "/stats/more", "/app", "/metrics2", "*"]) assert.equal(stats.answer(request(other), "127.0.0.1"), null, other);
  assert.equal(snapshots(), 6);
});

test("a page path that is not a prefix of the metrics path does not hide it", () => {
  const { stats, calls } = service({ uris: ["/stats"], metricsUri: "/metrics" });
  assert.equal(stats.answer(request("/metrics"), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/stats;csv"), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/"), "127.0.0.1"), null);
  assert.deepEqual(calls, ["prometheus", "csv"]);
});

test("only GET and HEAD read", () => {
  const { stats } = service();
  const answer = stats.answer(request("/stats", "POST"), "127.0.0.1")!;
  assert.equal(answer.status, 405);
  assert.equal(headerOf(answer, "Allow"), "GET, HEAD");
  assert.equal(stats.answer(request("/stats", "HEAD"), "127.0.0.1")!.status, 200);
});

test("stats-allow: a 403 outside the networks, before anything is rendered", () => {
  const { stats, calls } = service({ allow: [parseCidr("10.0.0.0/8") as Cidr, parseCidr("::1") as Cidr] });
  assert.equal(stats.answer(request("/stats"), "192.0.2.1")!.status, 403);
  assert.equal(stats.answer(request("/metrics"), "::ffff:192.0.2.1")!.status, 403);
  assert.equal(stats.answer(request("/stats"), "10.1.2.3")!.status, 200);
  assert.equal(stats.answer(request("/stats"), "::1")!.status, 200);
  assert.deepEqual(calls, ["html /stats 5", "html /stats 5"]);
});

test("stats-auth: a 401 with the realm without valid credentials", () => {
  const { stats } = service({ credentials: ["admin:s3cret", "ro:pa:ss"] });
  const refused = stats.answer(request("/stats"), "127.0.0.1")!;
  assert.equal(refused.status, 401);
  assert.equal(headerOf(refused, "WWW-Authenticate"), `Basic realm="Edge"`);
  const basic = (pair: string) => ({ authorization: `Basic ${btoa(pair)}` });
  assert.equal(stats.answer(request("/stats", "GET", basic("admin:s3cret")), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/stats", "GET", basic("ro:pa:ss")), "127.0.0.1")!.status, 200);
  assert.equal(stats.answer(request("/stats", "GET", basic("admin:s3cre")), "127.0.0.1")!.status, 401);
  assert.equal(stats.answer(request("/metrics", "GET", basic("admin:s3cret!")), "127.0.0.1")!.status, 401);
});

test("validCredentials reads RFC 7617's header and nothing else", () => {
  const pairs = ["admin:s3cret"];
  assert.equal(validCredentials(`Basic ${btoa("admin:s3cret")}`, pairs), true);
  assert.equal(validCredentials(`basic  ${btoa("admin:s3cret")}`, pairs), true);
  assert.equal(validCredentials(`Bearer ${btoa("admin:s3cret")}`, pairs), false);
  assert.equal(validCredentials(`Basic !!!`, pairs), false);
  assert.equal(validCredentials(`Basic ${btoa("admin:s3cret")} extra`, pairs), false);
  assert.equal(validCredentials(undefined, pairs), false);
  assert.equal(validCredentials(`Basic ${btoa("admin:")}`, ["admin:"]), true);
});
