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
import { boundedWait, sleep, startOrigin, waitUntil } from "./_cli_helpers.ts";

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
    await waitUntil(() => first.received() === "one", "the first echo");

    const second = await openClient(port);
    const third = await openClient(port);
    clients.push(second.socket, third.socket);
    second.socket.write("two");
    third.socket.write("three");
    // Both are accepted and parked, unread: the proxy's own count says so, however slow the machine.
    await waitUntil(() => proxy.frontends[0]!.parkedConnections === 2, "two parked connections");
    // A parked connection is never served meanwhile (a broken limit would echo within this pause).
    await sleep(200);
    assert.equal(second.received(), "", "a connection beyond maxconn was served");
    assert.equal(third.received(), "");
    assert.equal(origin.connections(), 1);
    assert.equal(proxy.frontends[0]!.parkedConnections, 2);

    first.socket.destroy();
    await waitUntil(() => second.received() === "two", "the second echo once a slot freed");
    assert.equal(third.received(), "", "the limit was exceeded after a slot freed");

    second.socket.destroy();
    await waitUntil(() => third.received() === "three", "the third echo once a slot freed");
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
    await waitUntil(() => frontend.parkedConnections > 0, "the parked connection");
    assert.equal(frontend.parkedConnections, 1);
    waiting.socket.destroy();
    first.socket.destroy();
    // The parked client's FIN must reach its session when it starts, or the session would wait
    // for the idle timeout (30 s).
    await boundedWait(proxy.whenIdle(), 15_000);
    assert.equal(frontend.parkedConnections, 0);
    assert.equal(proxy.activeSessions, 0);
    assert.equal(origin.connections(), 2);
  } finally {
    await proxy.stopListening();
    await proxy.close();
    await origin.close();
  }
});
