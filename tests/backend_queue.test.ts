/**
 * Slots, queues, backups and slow starts of a backend, without sockets.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backend, SLOT_NONE, SLOT_QUEUED, SLOT_TAKEN } from "../src/core/backend.ts";
import type { BackendSpec } from "../src/core/backend.ts";
import type { BalanceAlgorithmName } from "../src/core/balance/types.ts";
import type { Server, ServerSpec } from "../src/core/server.ts";
import { ServerSlot, SLOT_FREE, SLOT_HOLDING, SLOT_WAITING } from "../src/core/server_slot.ts";
import type { SlotUser } from "../src/core/server_slot.ts";
import { SILENT_LOGGER } from "../src/core/logger.ts";
import { TimerWheel } from "../src/core/timer_wheel.ts";
import { ManualClock } from "./_runtime_helpers.ts";

/** A session stand-in that records what the backend tells it. */
class FakeRequest implements SlotUser {
  readonly name: string;
  readonly clientAddress: string;
  readonly requestTarget = "/";
  readonly events: string[] = [];
  readonly slot: ServerSlot;

  constructor(name: string, clientAddress = "192.0.2.1") {
    this.name = name;
    this.clientAddress = clientAddress;
    this.slot = new ServerSlot(this);
  }

  requestHeader(): string | undefined {
    return undefined;
  }

  slotGranted(server: Server): void {
    this.events.push(`granted ${server.name}`);
  }

  slotRefused(): void {
    this.events.push("refused");
  }

  shutdownByServer(): void {
    this.events.push("shutdown");
  }
}

function server(name: string, overrides: Partial<ServerSpec> = {}): ServerSpec {
  return { name, host: "10.0.0.1", port: 80, weight: 1, maxconn: 1, backup: false, ...overrides };
}

function backend(servers: ServerSpec[], overrides: Partial<BackendSpec> = {}, wheel: TimerWheel | null = null): Backend {
  return new Backend({
    name: "app",
    balance: "roundrobin" as BalanceAlgorithmName,
    retries: 3,
    redispatch: true,
    allBackups: false,
    connectTimeout: 1_000,
    serverTimeout: 1_000,
    tunnelTimeout: 0,
    servers,
    ...overrides,
  }, { logger: SILENT_LOGGER, wheel });
}

test("requests beyond every server's maxconn wait in the backend queue and leave it in arrival order", () => {
  const app = backend([server("a"), server("b")]);
  const requests = ["r1", "r2", "r3", "r4", "r5"].map((name) => new FakeRequest(name));
  const outcomes = requests.map((request, index) => app.takeSlot(request.slot, index));
  assert.deepEqual(outcomes, [SLOT_TAKEN, SLOT_TAKEN, SLOT_QUEUED, SLOT_QUEUED, SLOT_QUEUED]);
  assert.equal(app.queue.length, 3);
  assert.deepEqual(app.servers.map((s) => s.activeConnections), [1, 1]);
  app.releaseSlot(requests[1]!.slot);
  assert.deepEqual(requests[2]!.events, ["granted b"]);
  assert.equal(requests[2]!.slot.state, SLOT_HOLDING);
  app.releaseSlot(requests[0]!.slot);
  assert.deepEqual(requests[3]!.events, ["granted a"]);
  assert.deepEqual(requests[4]!.events, []);
  app.cancelWait(requests[4]!.slot);
  assert.equal(requests[4]!.slot.state, SLOT_FREE);
  assert.equal(app.queue.length, 0);
  app.releaseSlot(requests[2]!.slot);
  assert.deepEqual(requests[4]!.events, [], "a cancelled request gets nothing");
  assert.deepEqual(app.servers.map((s) => s.activeConnections), [1, 0]);
});

test("a hashing algorithm queues on the key's own server, up to its maxqueue, then refuses", () => {
  const app = backend([server("a", { maxqueue: 1 }), server("b", { maxqueue: 1 })], { balance: "source" });
  const [first, second, third] = ["r1", "r2", "r3"].map((name) => new FakeRequest(name, "198.51.100.7"));
  assert.equal(app.takeSlot(first!.slot, 0), SLOT_TAKEN);
  const own = first!.slot.server!;
  assert.equal(app.takeSlot(second!.slot, 1), SLOT_QUEUED);
  assert.equal(second!.slot.server, own, "waits for its own server, not the free one");
  assert.equal(own.queue.length, 1);
  assert.equal(app.takeSlot(third!.slot, 2), SLOT_NONE, "maxqueue reached");
  app.releaseSlot(first!.slot);
  assert.deepEqual(second!.events, [`granted ${own.name}`]);
});

test("leastconn with maxqueue queues on the least loaded full server and counts its queue", () => {
  const app = backend([server("a", { maxqueue: 2 }), server("b", { maxqueue: 2 })], { balance: "leastconn" });
  const requests = ["r1", "r2", "r3", "r4", "r5", "r6"].map((name) => new FakeRequest(name));
  const outcomes = requests.slice(0, 4).map((request, index) => app.takeSlot(request.slot, index));
  assert.deepEqual(outcomes, [SLOT_TAKEN, SLOT_TAKEN, SLOT_QUEUED, SLOT_QUEUED]);
  assert.deepEqual(app.servers.map((s) => s.queue.length), [1, 1], "queued work spread evenly");
  assert.equal(app.queue.length, 0);
  assert.equal(app.takeSlot(requests[4]!.slot, 4), SLOT_QUEUED);
  assert.equal(app.takeSlot(requests[5]!.slot, 5), SLOT_QUEUED);
  assert.deepEqual(app.servers.map((s) => s.queue.length), [2, 2]);
});

test("backups take no overflow from full active servers, only the traffic of down ones", () => {
  const app = backend([server("a"), server("spare", { backup: true })]);
  const [r1, r2, r3] = ["r1", "r2", "r3"].map((name) => new FakeRequest(name));
  assert.equal(app.takeSlot(r1!.slot, 0), SLOT_TAKEN);
  assert.equal(app.takeSlot(r2!.slot, 1), SLOT_QUEUED, "full active: queue, not the backup");
  app.markDown(app.servers[0]!, "reason: test", false);
  assert.deepEqual(r2!.events, ["granted spare"], "the active went down: the backup takes the queue");
  assert.equal(app.takeSlot(r3!.slot, 2), SLOT_QUEUED);
  app.markDown(app.servers[1]!, "reason: test", false);
  assert.deepEqual(r3!.events, ["refused"], "no server left: queued requests get their 503 now");
  assert.equal(app.takeSlot(new FakeRequest("r4").slot, 3), SLOT_NONE);
  assert.equal(app.queueFailures, 1);
});

test("a server coming up takes queued requests; a server going down sends its queue elsewhere", () => {
  const app = backend([server("a", { maxqueue: 5 }), server("b", { maxqueue: 5 })], { balance: "source" });
  const requests = ["r1", "r2", "r3"].map((name) => new FakeRequest(name, "203.0.113.9"));
  for (const [index, request] of requests.entries()) app.takeSlot(request.slot, index);
  const own = requests[0]!.slot.server!;
  const other = app.servers.find((s) => s !== own)!;
  assert.equal(own.queue.length, 2);
  app.markDown(own, "reason: test", false);
  assert.deepEqual(requests[1]!.events, [`granted ${other.name}`], "rehashed to the other server");
  assert.equal(requests[2]!.slot.state, SLOT_WAITING);
  assert.equal(requests[2]!.slot.server, other);
  app.markUp(own, "reason: test", false);
  assert.equal(requests[2]!.slot.state, SLOT_WAITING, "a request queued on a server stays with it");
});

test("shutdown-sessions closes a down server's sessions; shutdown-backup-sessions the backups' when an active returns", () => {
  const app = backend([server("a", { maxconn: 0 }), server("spare", { maxconn: 0, backup: true })]);
  const onActive = new FakeRequest("r1");
  app.takeSlot(onActive.slot, 0);
  app.markDown(app.servers[0]!, "reason: test", true);
  assert.deepEqual(onActive.events, ["shutdown"]);
  app.releaseSlot(onActive.slot);
  const onBackup = new FakeRequest("r2");
  assert.equal(app.takeSlot(onBackup.slot, 1), SLOT_TAKEN);
  assert.equal(onBackup.slot.server!.name, "spare");
  app.markUp(app.servers[0]!, "reason: test", true);
  assert.deepEqual(onBackup.events, ["shutdown"]);
});

test("a redispatch moves the slot and hands the old one to the queue", () => {
  const app = backend([server("a"), server("b")]);
  const [r1, r2] = ["r1", "r2"].map((name) => new FakeRequest(name));
  app.takeSlot(r1!.slot, 0);
  const first = r1!.slot.server!;
  const other = app.servers.find((s) => s !== first)!;
  assert.equal(app.redispatchTarget(r1!, first, 0), other);
  app.moveSlot(r1!.slot, other);
  assert.equal(r1!.slot.server, other);
  assert.deepEqual(app.servers.map((s) => s.activeConnections), [1, 1].map((_, i) => (app.servers[i] === other ? 1 : 0)));
  assert.equal(app.takeSlot(r2!.slot, 1), SLOT_TAKEN);
  assert.equal(app.redispatchTarget(r1!, other, 0), null, "the other server is full");
});

test("maintenance and drain take a server out of balancing and say so", () => {
  const app = backend([server("a", { maxconn: 0 }), server("b", { maxconn: 0, disabled: true })]);
  assert.equal(app.servers[1]!.describeState(), "MAINT");
  assert.equal(app.usableActive, 1);
  app.setMaintenance(app.servers[1]!, false);
  assert.equal(app.servers[1]!.describeState(), "UP");
  app.setDrain(app.servers[0]!, true);
  assert.equal(app.servers[0]!.describeState(), "DRAIN");
  for (let i = 0; i < 4; i++) {
    const request = new FakeRequest(`r${i}`);
    app.takeSlot(request.slot, i);
    assert.equal(request.slot.server!.name, "b");
  }
});

test("slowstart ramps a returning server's weight and maxconn over the window", () => {
  const clock = new ManualClock(0);
  const wheel = new TimerWheel(clock, 1);
  const app = backend([server("a", { maxconn: 100, weight: 10, slowstart: 2_000 }), server("b", { maxconn: 100, weight: 10 })], {}, wheel);
  const a = app.servers[0]!;
  app.markDown(a, "reason: test", false);
  app.markUp(a, "reason: test", false);
  assert.equal(a.rampFraction, 1 / 20);
  assert.equal(a.weight, 0.5);
  assert.equal(a.dynamicMaxconn(), 5);
  clock.advance(1_000);
  assert.ok(a.rampFraction > 0.5 && a.rampFraction < 0.6, `fraction ${a.rampFraction}`);
  assert.ok(a.weight > 5 && a.weight < 6);
  clock.advance(1_100);
  assert.equal(a.rampFraction, 1);
  assert.equal(a.weight, 10);
  assert.equal(a.dynamicMaxconn(), 100);
  assert.equal(wheel.size, 0, "the ramp timer stops at full weight");
});

test("slowstart ramps only maxconn for static algorithms", () => {
  const clock = new ManualClock(0);
  const wheel = new TimerWheel(clock, 1);
  const app = backend([server("a", { maxconn: 40, weight: 3, slowstart: 1_000 }), server("b")], { balance: "static-rr" }, wheel);
  const a = app.servers[0]!;
  app.markDown(a, "reason: test", false);
  app.markUp(a, "reason: test", false);
  assert.equal(a.weight, 3);
  // 1 s in 20 steps would be 50 ms: steps are at least 100 ms, so the ramp starts at a tenth.
  assert.equal(a.dynamicMaxconn(), 4);
  app.close();
});

test("a retry waiting out its turn-around leaves a server marked down meanwhile", () => {
  const app = backend([server("a"), server("b")]);
  const [a, b] = app.servers;
  const request = new FakeRequest("r1");
  assert.equal(app.retryTarget(request, a!), a, "still usable: the same server");
  app.markDown(a!, "reason: test", false);
  assert.equal(app.retryTarget(request, a!), b);
  assert.equal(backend([server("a"), server("b")], { redispatch: false }).retryTarget(request, a!), a, "no redispatch: the same server");
});
