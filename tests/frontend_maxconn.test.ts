/**
 * A frontend's maxconn, through the engine API in-process: beyond the limit connections wait
 * unread and start in order as slots free.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { currentRuntime } from "../src/runtime/detect.ts";
import { Proxy } from "../src/engine/proxy.ts";
import { SILENT_LOGGER } from "../src/core/logger.ts";
import { buildQuickStartConfig } from "../src/config/quick_start.ts";
import type { Config } from "../src/config/types.ts";
import { sleep, startOrigin } from "./_cli_helpers.ts";

function withFrontendMaxconn(config: Config, maxconn: number): Config {
  return { ...config, frontends: config.frontends.map((frontend) => ({ ...frontend, maxconn })) };
}

function openClient(port: number): Promise<{ socket: net.Socket; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("error", reject);
    socket.on("connect", () => resolve({ socket, received: () => text }));
  });
}

test("beyond maxconn, connections wait unread and start as slots free, in order", async () => {
  const origin = await startOrigin((socket) => socket.on("data", (chunk: Buffer) => socket.write(chunk)));
  const config = withFrontendMaxconn(
    buildQuickStartConfig({ bind: ["127.0.0.1:0"], backend: [origin.address], mode: "tcp", reusePort: false }),
    1,
  );
  const proxy = new Proxy(config, currentRuntime(), SILENT_LOGGER);
  await proxy.start();
  const port = proxy.frontends[0]!.boundAddresses[0]!.port;
  const clients: net.Socket[] = [];
  try {
    const first = await openClient(port);
    clients.push(first.socket);
    first.socket.write("one");
    for (let i = 0; i < 100 && first.received() !== "one"; i++) await sleep(10);
    assert.equal(first.received(), "one");

    const second = await openClient(port);
    const third = await openClient(port);
    clients.push(second.socket, third.socket);
    second.socket.write("two");
    third.socket.write("three");
    await sleep(200);
    assert.equal(second.received(), "", "a connection beyond maxconn was served");
    assert.equal(third.received(), "");
    assert.equal(origin.connections(), 1);
    assert.equal(proxy.frontends[0]!.parkedConnections, 2);

    first.socket.destroy();
    for (let i = 0; i < 200 && second.received() !== "two"; i++) await sleep(10);
    assert.equal(second.received(), "two");
    assert.equal(third.received(), "", "the limit was exceeded after a slot freed");

    second.socket.destroy();
    for (let i = 0; i < 200 && third.received() !== "three"; i++) await sleep(10);
    assert.equal(third.received(), "three");
    assert.equal(origin.connections(), 3);
  } finally {
    for (const socket of clients) socket.destroy();
    await proxy.stopListening();
    await proxy.whenIdle();
    await proxy.close();
    await origin.close();
  }
});

test("a waiting connection that gives up is forgotten", async () => {
  const origin = await startOrigin((socket) => socket.on("data", (chunk: Buffer) => socket.write(chunk)));
  const config = withFrontendMaxconn(
    buildQuickStartConfig({ bind: ["127.0.0.1:0"], backend: [origin.address], mode: "tcp", reusePort: false }),
    1,
  );
  const proxy = new Proxy(config, currentRuntime(), SILENT_LOGGER);
  await proxy.start();
  const frontend = proxy.frontends[0]!;
  const port = frontend.boundAddresses[0]!.port;
  try {
    const first = await openClient(port);
    const waiting = await openClient(port);
    for (let i = 0; i < 100 && frontend.parkedConnections === 0; i++) await sleep(10);
    assert.equal(frontend.parkedConnections, 1);
    waiting.socket.destroy();
    first.socket.destroy();
    // The parked client's FIN must reach its session when it starts, or the session would wait
    // for the idle timeout (30 s).
    await Promise.race([proxy.whenIdle(), sleep(5_000)]);
    assert.equal(frontend.parkedConnections, 0);
    assert.equal(proxy.activeSessions, 0);
    assert.equal(origin.connections(), 2);
  } finally {
    await proxy.stopListening();
    await proxy.close();
    await origin.close();
  }
});
