/**
 * Backend policy shared by tcp and http sessions: backups, and HAProxy's redispatch rule.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backend } from "../src/core/backend.ts";
import type { BackendSpec } from "../src/core/backend.ts";

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

const client = { clientAddress: "192.0.2.7" };

test("redispatch sends only the last retry to another server", () => {
  const app = backend();
  const [a, b] = app.servers;
  assert.equal(app.redispatchTarget(client, a!, 2), null);
  assert.equal(app.redispatchTarget(client, a!, 1), null);
  assert.equal(app.redispatchTarget(client, a!, 0), b);
  assert.equal(app.redispatchTarget(client, b!, 0), a);
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

test("the retry turn-around is min(timeout connect, 1 s)", () => {
  assert.equal(backend().retryTurnaround(), 1_000);
  assert.equal(backend({ connectTimeout: 250 }).retryTurnaround(), 250);
  assert.equal(backend({ connectTimeout: 0 }).retryTurnaround(), 1_000);
});
