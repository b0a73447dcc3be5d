/**
 * The idle server connection pool of http mode: LIFO reuse, the bound per server, idle connections
 * forgotten when the server closes them, and closed after the idle timeout.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { TimerWheel } from "../src/core/timer_wheel.ts";
import { ManualClock as FakeClock } from "./_runtime_helpers.ts";
import { Server } from "../src/core/server.ts";
import { IDLE_SERVER_TIMEOUT_MS, IDLE_SWEEP_INTERVAL_MS, MAX_IDLE_PER_SERVER, ServerPool } from "../src/http/server_pool.ts";
import type { Connection, ConnectionHandler } from "../src/runtime/types.ts";

/** A connection that records what is done to it; `close()` plays the runtime's close event. */
class FakeConnection implements Partial<Connection> {
  handler: ConnectionHandler | undefined;
  destroyed = false;
  resumed = 0;
  open = true;
  owner: unknown = undefined;
  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.open = false;
    this.handler?.onClose(this as unknown as Connection, undefined);
  }
}

function setup() {
  const clock = new FakeClock();
  const wheel = new TimerWheel(clock);
  const pool = new ServerPool(wheel, () => clock.now());
  const server = new Server({ name: "s1", host: "127.0.0.1", port: 1, weight: 1, maxconn: 0, backup: false }, 0);
  const other = new Server({ name: "s2", host: "127.0.0.1", port: 2, weight: 1, maxconn: 0, backup: false }, 1);
  return { clock, wheel, pool, server, other };
}

function conn(): FakeConnection {
  return new FakeConnection();
}

test("idle connections are reused last in, first out, and only for their own server", () => {
  const { pool, server, other } = setup();
  const first = conn();
  const second = conn();
  pool.release(server, first as unknown as Connection);
  pool.release(server, second as unknown as Connection);
  assert.equal(pool.size, 2);
  assert.equal(first.handler, pool);
  assert.equal(pool.take(other), null);
  assert.equal(pool.take(server), second);
  assert.equal(pool.take(server), first);
  assert.equal(pool.take(server), null);
  assert.equal(pool.size, 0);
});

test("a connection the server closes or sends bytes on while idle is dropped", () => {
  const { pool, server } = setup();
  const finned = conn();
  const chatty = conn();
  const kept = conn();
  pool.release(server, finned as unknown as Connection);
  pool.release(server, chatty as unknown as Connection);
  pool.release(server, kept as unknown as Connection);
  pool.onEnd(finned as unknown as Connection);
  pool.onData(chatty as unknown as Connection);
  assert.equal(finned.destroyed, true);
  assert.equal(chatty.destroyed, true);
  assert.equal(pool.size, 1);
  assert.equal(pool.take(server), kept);
});

test("idle connections are closed after the idle timeout, before a server's own keep-alive", () => {
  const { clock, pool, server } = setup();
  assert.ok(IDLE_SERVER_TIMEOUT_MS < 5_000);
  const old = conn();
  pool.release(server, old as unknown as Connection);
  clock.advance(IDLE_SERVER_TIMEOUT_MS / 2);
  const young = conn();
  pool.release(server, young as unknown as Connection);
  clock.advance(IDLE_SERVER_TIMEOUT_MS / 2 + IDLE_SWEEP_INTERVAL_MS + 200);
  assert.equal(old.destroyed, true);
  assert.equal(young.destroyed, false);
  clock.advance(IDLE_SERVER_TIMEOUT_MS);
  assert.equal(young.destroyed, true);
  assert.equal(pool.size, 0);
});

test("the pool is bounded per server: the oldest idle connection makes room", () => {
  const { pool, server } = setup();
  const conns: FakeConnection[] = [];
  for (let i = 0; i <= MAX_IDLE_PER_SERVER; i++) {
    const c = conn();
    conns.push(c);
    pool.release(server, c as unknown as Connection);
  }
  assert.equal(pool.size, MAX_IDLE_PER_SERVER);
  assert.equal(conns[0]!.destroyed, true);
  assert.equal(conns[1]!.destroyed, false);
  pool.closeAll();
  assert.equal(pool.size, 0);
  assert.ok(conns.every((c) => c.destroyed));
});
