/**
 * Slow readers (issue 17): clients that ask for a large answer and then stop reading must cost the
 * proxy one buffer each (tune.bufsize) plus the read that filled it, as HAProxy holds at most one
 * buffer per direction, and must not keep a normal client from being answered.
 *
 * What the proxy holds is counted from outside, exactly: the origin knows what it handed to its
 * kernel, /proc/net/tcp knows what waits in every kernel queue between the origin and each client,
 * and each client knows what it read; the rest is in the proxy's memory. Before the fix the
 * runtimes stopped reading the origin only once 64 KiB were queued for the client, whatever
 * bufsize said, and node:net read once more after a pause: up to 180 KiB per slow reader on Node
 * and Deno. Bun's reads cannot be bounded (up to 512 KiB), so there the bound is loose and the
 * high-water mark is checked by tests/runtime_conformance.test.ts.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { sleep, startOrigin, startProxy } from "./_cli_helpers.ts";
import { tcpQueuesAvailable, tcpSockets } from "./_tcp_queues.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";

const SLOW_READERS = 30;
/** tune.bufsize's default. */
const BUFSIZE = 16_384;
/**
 * The most one read hands over: libuv's 64 KiB under node:net (Node, Deno), whatever the kernel
 * has up to 512 KiB under Bun's uSockets (docs/architecture.md, "Buffers per connection").
 */
const LARGEST_READ = detectRuntimeName() === "bun" ? 512 * 1024 : 64 * 1024;
/** The origin writes pieces of this size as fast as its kernel takes them: the grain of its count. */
const PIECE = Buffer.alloc(4_096, 120);
/** The origin's count is exact to a piece, and the kernel's queues are read a moment apart. */
const SLACK = 2 * PIECE.length;
const NORMAL_REQUESTS = 20;
/** Generous for a loaded 2-core machine: the kernel queues of 30 connections fill in a few seconds. */
const FILL_DEADLINE_MS = 90_000;
const SAMPLE_MS = 200;

/** One slow response as the origin sees it. */
interface SlowStream {
  readonly socket: net.Socket;
  /** Bytes of body written with `socket.write`. */
  written: number;
}

test("a slow reader costs the proxy a buffer and one read at most, and a normal client is still served", {
  skip: tcpQueuesAvailable() ? false : "needs /proc/net/tcp (Linux)",
  timeout: 180_000,
}, async () => {
  const streams = new Map<number, SlowStream>();
  const origin = await startOrigin((socket) => {
    let head = "";
    socket.on("data", (data: Buffer) => {
      head += data.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const target = /^GET (\S+) /.exec(head)?.[1] ?? "";
      head = "";
      const slow = /^\/slow\/(\d+)$/.exec(target);
      if (slow === null) {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
        return;
      }
      // A body that never ends in the test's time, written as fast as the kernel takes it.
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n");
      const stream: SlowStream = { socket, written: 0 };
      streams.set(Number(slow[1]), stream);
      const pump = (): void => {
        while (!socket.destroyed) {
          stream.written += PIECE.length;
          if (!socket.write(PIECE)) return;
        }
      };
      socket.on("drain", pump);
      pump();
    });
  });
  const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "http"]);
  const readers: net.Socket[] = [];
  try {
    for (let id = 0; id < SLOW_READERS; id++) {
      const reader = net.connect({ host: "127.0.0.1", port });
      reader.on("error", () => {});
      reader.on("connect", () => {
        reader.write(`GET /slow/${id} HTTP/1.1\r\nHost: test\r\n\r\n`);
        reader.pause();
      });
      readers.push(reader);
    }

    // Full when every origin connection has bytes its kernel refused, and nothing moved for a while.
    const deadline = Date.now() + FILL_DEADLINE_MS;
    let last = -1;
    let quiet = 0;
    while (quiet < 3) {
      assert.ok(Date.now() < deadline, `the slow readers' paths did not fill in ${FILL_DEADLINE_MS} ms (${streams.size} streams)`);
      await sleep(SAMPLE_MS);
      let total = 0;
      let refused = 0;
      for (const stream of streams.values()) {
        total += stream.written - stream.socket.writableLength;
        if (stream.socket.writableLength > 0) refused++;
      }
      quiet = streams.size === SLOW_READERS && refused === SLOW_READERS && total === last ? quiet + 1 : 0;
      last = total;
    }

    // Each holds what was queued for it (under a buffer) and the read that filled the queue.
    const held = heldPerReader(streams, readers, port, origin.port).sort((a, b) => a - b);
    const most = held.at(-1)!;
    assert.ok(
      most <= BUFSIZE + LARGEST_READ + SLACK,
      `a slow reader costs the proxy ${most} bytes (median ${held[held.length >> 1]}), more than a buffer of ${BUFSIZE} and a read of ${LARGEST_READ}`,
    );

    // A normal client beside them: every request answered, each on a new connection.
    for (let i = 0; i < NORMAL_REQUESTS; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "0123456789abcdef");
    }
  } finally {
    for (const reader of readers) reader.destroy();
    await proxy.stop();
    await origin.close();
  }
});

/**
 * For each slow reader: what its origin connection handed to the kernel, less what waits in the
 * four kernel queues of its path (origin → proxy, proxy → client) and what the client read.
 */
function heldPerReader(streams: Map<number, SlowStream>, readers: net.Socket[], proxyPort: number, originPort: number): number[] {
  const sockets = tcpSockets();
  const queued = (localPort: number, remotePort: number): number => {
    let bytes = 0;
    for (const socket of sockets) {
      if (socket.localPort === localPort && socket.remotePort === remotePort) bytes += socket.sendQueue + socket.receiveQueue;
    }
    return bytes;
  };
  const held: number[] = [];
  for (const [id, stream] of streams) {
    const serverSide = stream.socket.remotePort!;
    const clientSide = readers[id]!.localPort!;
    const inKernel = queued(originPort, serverSide) + queued(serverSide, originPort) + queued(proxyPort, clientSide) +
      queued(clientSide, proxyPort);
    held.push(stream.written - stream.socket.writableLength - inKernel - readers[id]!.bytesRead);
  }
  return held;
}
