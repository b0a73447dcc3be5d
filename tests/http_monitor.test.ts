/**
 * The monitor-uri decision (src/http/monitor.ts): which targets it takes, and when it answers 503.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backend } from "../src/core/backend.ts";
import { Monitor, usableServers } from "../src/http/monitor.ts";

function backend(): Backend {
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
      { name: "spare", host: "10.0.0.9", port: 80, weight: 1, maxconn: 0, backup: true },
    ],
  });
}

test("a monitor request is one whose path is the URI, in origin or absolute form, whatever its query", () => {
  const monitor = new Monitor({ uri: "/healthz", fail: [] }, () => backend());
  for (const target of ["/healthz", "/healthz?probe=1", "http://proxy.example/healthz", "http://proxy.example/healthz?x"]) {
    assert.equal(monitor.matches(target), true, target);
  }
  for (const target of ["/", "/healthz/", "/healthzz", "/api/healthz", "/x?next=/healthz", "*", "http://healthz/"]) {
    assert.equal(monitor.matches(target), false, target);
  }
});

test("503 while the backend has fewer usable servers than asked (backups count only when no active server is left), 200 again after", () => {
  const app = backend();
  const monitor = new Monitor({ uri: "/h", fail: [{ backend: "app", minServers: 2 }] }, (name) => {
    assert.equal(name, "app");
    return app;
  });
  assert.equal(usableServers(app), 2);
  assert.equal(monitor.status(), 200);
  app.setMaintenance(app.servers[0]!, true);
  assert.equal(usableServers(app), 1);
  assert.equal(monitor.status(), 503);
  app.markDown(app.servers[1]!, "test", false);
  assert.equal(usableServers(app), 1, "the backup takes over, and counts");
  app.setMaintenance(app.servers[0]!, false);
  app.markUp(app.servers[1]!, "test", false);
  assert.equal(monitor.status(), 200);
});

test("once the stop began, every answer is 503", () => {
  const monitor = new Monitor({ uri: "/h", fail: [] }, () => backend());
  assert.equal(monitor.status(), 200);
  monitor.beginStop();
  assert.equal(monitor.status(), 503);
});
