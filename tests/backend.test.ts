/**
 * Backend policy shared by tcp and http sessions: backups, HAProxy's redispatch rule and the retry turn-around.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backend } from "../src/core/backend.ts";
import type { BackendSpec } from "../src/core/backend.ts";
import type { BalanceContext } from "../src/core/balance/types.ts";

function backend(overrides: Partial<BackendSpec> = {}): Backend {
  return new Backend({
    name: "app",
    balance: "roundrobin",
    retries: 3,
    redispatch: true,
    allBackups: false,
    connectTimeout: 5_000,
    serverTimeout: 30_000,
    tunnelTimeout: 0,
    servers: [
      { name: "a", host: "10.0.0.1", port: 80, weight: 1, maxconn: 0, backup: false },
      { name: "b", host: "10.0.0.2", port: 80, weight: 1, maxconn: 0, backup: false },
      { name: "spare1", host: "10.0.0.3", port: 80, weight: 1, maxconn: 0, backup: true },
      { name: "spare2", host: "10.0.0.4", port: 80, weight: 1, maxconn: 0, backup: true },
    ],
    ...overrides,
  });
}

function request(requestTarget: string, headers: Readonly<Record<string, string>> = {}): BalanceContext {
  return {
    clientAddress: "192.0.2.7",
    requestTarget,
    requestHeader: (lowerName) => Object.hasOwn(headers, lowerName) ? headers[lowerName] : undefined,
  };
}

const client = request("/");

test("redispatch sends every retry to another server at once: a failure says nothing about the others", () => {
  for (const balance of ["roundrobin", "static-rr", "leastconn", "first", "random"] as const) {
    const app = backend({ balance });
    const [a, b] = app.servers;
    assert.deepEqual([2, 1, 0].map((left) => app.redispatchTarget(client, a!, left)), [b, b, b], balance);
    assert.equal(app.redispatchTarget(client, b!, 2), a, balance);
  }
});

test("a hashing algorithm keeps its server until the last retry, unless the server went down", () => {
  const app = backend({ balance: "source" });
  const own = app.pickServer(client, null)!;
  const other = app.servers.find((server) => server !== own && !server.backup)!;
  assert.equal(app.redispatchTarget(client, own, 2), null);
  assert.equal(app.redispatchTarget(client, own, 1), null);
  assert.equal(app.redispatchTarget(client, own, 0), other, "the last retry goes elsewhere");
  app.markDown(own, "reason: test", false);
  assert.equal(app.redispatchTarget(client, own, 2), other, "a server that went down is left at once");
});

test("without redispatch, or without another server, the same server is retried", () => {
  assert.equal(backend({ redispatch: false }).redispatchTarget(client, backend().servers[0]!, 0), null);
  const app = backend();
  app.servers[1]!.up = false;
  app.serversChanged();
  assert.equal(app.redispatchTarget(client, app.servers[0]!, 0), null);
});

test("backups serve only when no active server is available: the first one, or all with allbackups", () => {
  const app = backend();
  for (const server of app.servers.slice(0, 2)) server.up = false;
  app.serversChanged();
  assert.deepEqual([1, 2, 3].map(() => app.pickServer(client, null)?.name), ["spare1", "spare1", "spare1"]);
  const all = backend({ allBackups: true });
  for (const server of all.servers.slice(0, 2)) server.up = false;
  all.serversChanged();
  assert.deepEqual([1, 2, 3, 4].map(() => all.pickServer(client, null)?.name), ["spare1", "spare2", "spare1", "spare2"]);
  all.servers[0]!.up = true;
  all.serversChanged();
  assert.equal(all.pickServer(client, null)?.name, "a");
});

test("the retry turn-around is min(timeout connect, 1 s) after an error, none after a timeout", () => {
  assert.equal(backend().retryTurnaround(false), 1_000);
  assert.equal(backend({ connectTimeout: 250 }).retryTurnaround(false), 250);
  assert.equal(backend({ connectTimeout: 0 }).retryTurnaround(false), 1_000);
  assert.equal(backend().retryTurnaround(true), 0, "timeout connect already waited");
});

test("uri hashing applies to the backups too", () => {
  const app = backend({
    balance: "uri",
    hashKey: { kind: "uri", depth: 0, len: 0, whole: false, pathOnly: false },
    allBackups: true,
  });
  const picks = (target: string) => [1, 2, 3, 4].map(() => app.pickServer(request(target), null)?.name);
  const usual = app.pickServer(request("/catalog"), null)?.name;
  assert.deepEqual(picks("/catalog?page=2"), [usual, usual, usual, usual]);
  for (const server of app.servers.slice(0, 2)) server.up = false;
  app.serversChanged();
  const seen = new Set<string | undefined>();
  for (let index = 0; index < 40; index++) {
    const names = picks(`/item/${index}`);
    assert.ok(names.every((name) => name === names[0]), `/item/${index} went to ${names.join(",")}`);
    seen.add(names[0]);
  }
  assert.deepEqual([...seen].sort(), ["spare1", "spare2"]);
});

test("hdr hashing falls back to round robin without the header", () => {
  const app = backend({
    balance: "hdr",
    hashKey: { kind: "hdr", name: "X-User", lowerName: "x-user", useDomainOnly: false },
  });
  const alice = request("/", { "x-user": "alice" });
  const first = app.pickServer(alice, null);
  assert.deepEqual([1, 2, 3].map(() => app.pickServer(alice, null)), [first, first, first]);
  assert.deepEqual([1, 2, 3, 4].map(() => app.pickServer(client, null)?.name), ["a", "b", "a", "b"]);
});

test("a uri or hdr backend needs its hash key options", () => {
  assert.throws(() => backend({ balance: "uri" }), /balance "uri" needs hash key options/);
  assert.throws(() => backend({ balance: "hdr", hashKey: null }), /balance "hdr" needs hash key options/);
  assert.equal(backend({ balance: "roundrobin", hashKey: null }).pickServer(client, null)?.name, "a");
});
