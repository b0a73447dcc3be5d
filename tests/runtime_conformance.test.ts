/**
 * Conformance of the runtime module of whichever runtime runs this file (node --test, bun test,
 * deno test): the same assertions hold for all three.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRuntime, detectRuntimeName, socketApisOf } from "../src/runtime/detect.ts";
import { useByteSlabs } from "../src/core/byte_slab.ts";
import type {
  Connection,
  DatagramHandler,
  DatagramSocket,
  InheritableSocket,
  Listener,
  Runtime,
  RuntimeName,
  SocketApi,
} from "../src/runtime/types.ts";
import type { BoundSocket } from "../src/runtime/_inheritable_socket.ts";
import { NetError } from "../src/runtime/net_error.ts";
import { denoNativeReusePortAvailable } from "../src/runtime/_deno_native.ts";
import { patternBytes, RecordingHandler, sameBytes, sleep, writeWithBackpressure } from "./_runtime_helpers.ts";
import { pendingConnection } from "./_cli_helpers.ts";

const LOOPBACK = "127.0.0.1";

/**
 * Known gaps of a runtime's socket API, each with its reason. A test of a gap checks that the gap
 * is still there, so the flag is removed when a runtime fixes it.
 */
const RUNTIME_GAPS: Record<string, { readonly ipv6OnlyIgnored?: string }> = {
  "deno/node:net": {
    ipv6OnlyIgnored: "Deno's node:net binds \"::\" dual-stack whatever ipv6Only says; with SO_REUSEPORT both binds still coexist",
  },
  "deno/native": {
    ipv6OnlyIgnored: "Deno.listen has no ipv6Only option and binds \"::\" dual-stack; with SO_REUSEPORT both binds still coexist",
  },
};

/** The buffer size the bufferSize tests ask for: HAProxy's tune.bufsize. */
const BUFFER_SIZE = 16_384;

/**
 * What each runtime's node:dgram does with a connected UDP socket. Deno's `connect` is emulated
 * (the kernel socket stays unconnected and every datagram is a sendto), so the kernel never refuses
 * the connect, never reports an ICMP port unreachable, and the local address is the wildcard.
 */
const DATAGRAM_BEHAVIOUR: Record<RuntimeName, {
  /** ICMP port unreachable reaches `onError` or `onSent` as ECONNREFUSED. */
  readonly reportsRefused: boolean;
  /** The code a connect to 255.255.255.255 (no SO_BROADCAST) rejects with on Linux; undefined: it connects. */
  readonly broadcastConnect: string | undefined;
  /** `local.address` of a socket connected to 127.0.0.1. */
  readonly localAddress: string;
}> = {
  node: { reportsRefused: true, broadcastConnect: "EACCES", localAddress: "127.0.0.1" },
  // Bun's error for a refused connect carries no errno: EIO.
  bun: { reportsRefused: true, broadcastConnect: "EIO", localAddress: "127.0.0.1" },
  deno: { reportsRefused: false, broadcastConnect: undefined, localAddress: "0.0.0.0" },
};

/** Records the outcomes of a datagram socket's sends and its errors. */
class RecordingDatagramHandler implements DatagramHandler {
  readonly sent: Array<NetError | undefined> = [];
  readonly errors: NetError[] = [];
  /** How many sends had been made when each onSent came. */
  readonly sendsAtSent: number[] = [];
  sends = 0;

  onSent(error: NetError | undefined): void {
    this.sent.push(error);
    this.sendsAtSent.push(this.sends);
  }
  onError(error: NetError): void {
    this.errors.push(error);
  }
}

/** Polls `condition` every 5 ms; fails naming `what` after `timeoutMs`. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A node:dgram socket bound on `host` port 0 that keeps every datagram it gets. */
async function bindReceiver(host: string): Promise<{
  socket: dgram.Socket;
  port: number;
  messages: Array<{ data: Uint8Array; port: number }>;
}> {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  const messages: Array<{ data: Uint8Array; port: number }> = [];
  socket.on("message", (data: Uint8Array, rinfo: dgram.RemoteInfo) => messages.push({ data: new Uint8Array(data), port: rinfo.port }));
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return { socket, port: socket.address().port, messages };
}

/** connectDatagram to `receiver`; closes the receiver when it fails, so a failed test leaves nothing open. */
async function connectToReceiver(
  runtime: Runtime,
  receiver: { socket: dgram.Socket; port: number },
  host: string,
  handler: DatagramHandler,
): Promise<DatagramSocket> {
  try {
    return await runtime.connectDatagram({ host, port: receiver.port }, handler);
  } catch (error) {
    receiver.socket.close();
    throw error;
  }
}

/** True when a UDP socket can bind ::1 here. */
async function ipv6LoopbackWorks(): Promise<boolean> {
  try {
    const receiver = await bindReceiver("::1");
    receiver.socket.close();
    return true;
  } catch {
    return false;
  }
}

const ADOPT_FIXTURE = fileURLToPath(new URL("./fixtures/adopt_child.ts", import.meta.url));

/** Connections queued while no child accepts: far below the fixture's backlog. */
const QUEUED = 16;

/** tests/fixtures/adopt_child.ts with `socket` as its descriptor 3, on the runtime and socket API under test. */
class AdoptingChild {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";

  constructor(socketApi: SocketApi, socket: InheritableSocket, flag?: string) {
    const args = [ADOPT_FIXTURE, socket.address.address, String(socket.address.port), ...(flag === undefined ? [] : [flag])];
    this.child = spawn(process.execPath, detectRuntimeName() === "deno" ? ["run", "-A", ...args] : args, {
      stdio: ["ignore", "pipe", "pipe", (socket as BoundSocket).fd],
      env: { ...process.env, PROXY_SOCKETS: socketApi },
    });
    this.child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits for the JSON fact `key`; fails with the output after a bound generous for a loaded machine. */
  async fact(key: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      for (const line of this.stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const fact = JSON.parse(line) as Record<string, unknown>;
        if ("error" in fact) assert.fail(`The child failed: ${String(fact.error)}\n${this.stderr}`);
        if (key in fact) return fact[key] as Record<string, unknown>;
      }
      if (this.child.exitCode !== null) break;
      await sleep(10);
    }
    return assert.fail(`No "${key}" from the child.\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
  }

  /** SIGKILL, and resolves once it is gone (its descriptors closed). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }
}

/** Connects and resolves with the first line received, or the error code (ECONNREFUSED...). */
function answerOf(port: number): Promise<string> {
  return pendingConnection(port, "", 20_000).firstLine;
}

/** The whole suite, against one runtime built with one socket API. */
function defineConformanceSuite(socketApi: SocketApi, runtime: Runtime): void {
  /**
   * Named gap: Deno's native `Deno.listen({ reusePort: true })` needs --unstable-net (or
   * `"unstable": ["net"]` in deno.json), and without it Deno exits the process (code 70). The
   * runtime module must then refuse the bind with a NetError instead, which is what is checked.
   */
  const reusePortGap = detectRuntimeName() === "deno" && socketApi === "native" && !denoNativeReusePortAvailable()
    ? "Deno's native reusePort needs --unstable-net"
    : undefined;

  interface Pair {
    listener: Listener;
    client: Connection;
    clientHandler: RecordingHandler;
    server: Connection;
    serverHandler: RecordingHandler;
  }

  async function connectedPair(bufferSize?: number): Promise<Pair> {
    const serverHandler = new RecordingHandler();
    let server: Connection | undefined;
    const listener = await runtime.listen(
      { host: LOOPBACK, port: 0, backlog: 16, reusePort: false, bufferSize },
      (conn) => {
        server = conn;
        conn.setHandler(serverHandler);
      },
      () => {},
    );
    const clientHandler = new RecordingHandler();
    const client = runtime.connect({ host: LOOPBACK, port: listener.address.port, noDelay: true, bufferSize }, clientHandler);
    await clientHandler.until(() => clientHandler.opened, "client open");
    await clientHandler.until(() => server !== undefined, "accept");
    return { listener, client, clientHandler, server: server!, serverHandler };
  }

  async function closePair(pair: Pair): Promise<void> {
    pair.client.destroy();
    pair.server.destroy();
    await pair.listener.close();
  }

  describe(`runtime contract on ${detectRuntimeName()} with ${socketApi} sockets`, () => {
    test("detects the runtime that runs the test", () => {
      assert.equal(runtime.info.name, detectRuntimeName());
      assert.equal(runtime.info.socketApi, socketApi);
      assert.match(runtime.info.version, /^\d+\.\d+/);
    });

    test("echo: bytes go both ways and addresses are reported", async () => {
      const pair = await connectedPair();
      try {
        pair.serverHandler.onDataHook = (conn, chunk) => conn.write(chunk);
        pair.client.write(new TextEncoder().encode("hello"));
        await pair.clientHandler.until(() => pair.clientHandler.receivedBytes >= 5, "echo");
        assert.equal(pair.clientHandler.text(), "hello");
        assert.equal(pair.server.remote.address, LOOPBACK);
        assert.equal(pair.server.local.port, pair.listener.address.port);
        assert.equal(pair.client.remote.port, pair.listener.address.port);
        assert.ok(pair.client.local.port > 0);
        assert.equal(pair.client.open, true);
      } finally {
        await closePair(pair);
      }
    });

    test("large transfer with backpressure, both directions, byte-exact", async () => {
      const pair = await connectedPair();
      try {
        const size = 8 * 1024 * 1024;
        const upload = patternBytes(size, 7);
        const download = patternBytes(size, 11);
        // The receiver starts paused: the sender must see write() return false and wait for drain.
        pair.server.pause();
        pair.client.pause();
        const up = writeWithBackpressure(pair.client, pair.clientHandler, upload, 64 * 1024, false);
        const down = writeWithBackpressure(pair.server, pair.serverHandler, download, 64 * 1024, false);
        await sleep(100);
        assert.ok(up.blocked() > 0, "the client writer was never told to wait");
        assert.ok(down.blocked() > 0, "the server writer was never told to wait");
        assert.ok(pair.serverHandler.receivedBytes < size, "a paused connection kept reading");
        pair.server.resume();
        pair.client.resume();
        await Promise.all([up.done, down.done]);
        await pair.serverHandler.until(() => pair.serverHandler.receivedBytes >= size, "upload", 30_000);
        await pair.clientHandler.until(() => pair.clientHandler.receivedBytes >= size, "download", 30_000);
        assert.ok(sameBytes(pair.serverHandler.bytes(), upload), "upload corrupted");
        assert.ok(sameBytes(pair.clientHandler.bytes(), download), "download corrupted");
      } finally {
        await closePair(pair);
      }
    });

    test("half-close from the client: the server still answers after the FIN", async () => {
      const pair = await connectedPair();
      try {
        pair.serverHandler.onEndHook = (conn) => {
          conn.write(new TextEncoder().encode("answer after fin"));
          conn.end();
        };
        pair.client.write(new TextEncoder().encode("question"));
        pair.client.end();
        await pair.clientHandler.until(() => pair.clientHandler.closed, "client close");
        assert.equal(pair.serverHandler.text(), "question");
        assert.equal(pair.clientHandler.text(), "answer after fin");
        assert.equal(pair.clientHandler.ended, true);
        assert.equal(pair.clientHandler.closeError, undefined);
        await pair.serverHandler.until(() => pair.serverHandler.closed, "server close");
        assert.equal(pair.serverHandler.closeError, undefined);
      } finally {
        await closePair(pair);
      }
    });

    test("half-close from the server: the client can still send after the FIN", async () => {
      const pair = await connectedPair();
      try {
        pair.server.write(new TextEncoder().encode("banner"));
        pair.server.end();
        pair.clientHandler.onEndHook = (conn) => {
          conn.write(new TextEncoder().encode("late upload"));
          conn.end();
        };
        await pair.serverHandler.until(() => pair.serverHandler.closed, "server close");
        assert.equal(pair.clientHandler.text(), "banner");
        assert.equal(pair.serverHandler.text(), "late upload");
        assert.equal(pair.serverHandler.ended, true);
      } finally {
        await closePair(pair);
      }
    });

    test("destroy on one side: the other sees the FIN, then an error when it writes", async () => {
      const pair = await connectedPair();
      try {
        pair.server.destroy();
        await pair.serverHandler.until(() => pair.serverHandler.closed, "server close");
        await pair.clientHandler.until(() => pair.clientHandler.ended, "client sees FIN");
        // A half-open socket cannot tell a destroy from a half-close until it writes: the peer's RST
        // then surfaces as ECONNRESET or EPIPE.
        for (let i = 0; i < 50 && !pair.clientHandler.closed; i++) {
          if (pair.client.open) pair.client.write(new Uint8Array(1024));
          await sleep(10);
        }
        assert.equal(pair.clientHandler.closed, true);
        assert.ok(pair.clientHandler.closeError instanceof NetError);
        assert.ok(["ECONNRESET", "EPIPE"].includes(pair.clientHandler.closeError.code), pair.clientHandler.closeError.code);
        assert.equal(pair.client.open, false);
      } finally {
        await closePair(pair);
      }
    });

    test("connect refused is a NetError ECONNREFUSED delivered through onClose", async () => {
      const listener = await runtime.listen({ host: LOOPBACK, port: 0, backlog: 1, reusePort: false }, (c) => c.destroy(), () => {});
      const port = listener.address.port;
      await listener.close();
      const handler = new RecordingHandler();
      runtime.connect({ host: LOOPBACK, port, noDelay: true }, handler);
      await handler.until(() => handler.closed, "close after refusal");
      assert.equal(handler.opened, false);
      assert.ok(handler.closeError instanceof NetError);
      assert.equal(handler.closeError.code, "ECONNREFUSED");
      assert.equal(handler.closeError.message, `Cannot connect to "127.0.0.1:${port}": connection refused`);
    });

    test("bind in use rejects with EADDRINUSE and a message naming the address", async () => {
      const first = await runtime.listen({ host: LOOPBACK, port: 0, backlog: 1, reusePort: false }, (c) => c.destroy(), () => {});
      try {
        const port = first.address.port;
        await assert.rejects(
          runtime.listen({ host: LOOPBACK, port, backlog: 1, reusePort: false }, (c) => c.destroy(), () => {}),
          (error: unknown) => {
            assert.ok(error instanceof NetError);
            assert.equal(error.code, "EADDRINUSE");
            assert.equal(error.message, `Cannot bind "127.0.0.1:${port}": address already in use`);
            return true;
          },
        );
      } finally {
        await first.close();
      }
    });

    test("reusePort lets two listeners share one port, and both accept", async () => {
      if (reusePortGap !== undefined) {
        await assert.rejects(
          runtime.listen({ host: LOOPBACK, port: 0, backlog: 64, reusePort: true }, (c) => c.destroy(), () => {}),
          (error: unknown) => {
            assert.ok(error instanceof NetError);
            assert.equal(error.code, "EACCES");
            assert.match(error.message, /^Cannot bind "127\.0\.0\.1:0": .*--unstable-net/);
            return true;
          },
          reusePortGap,
        );
        return;
      }
      const accepted = [0, 0];
      const first = await runtime.listen({ host: LOOPBACK, port: 0, backlog: 64, reusePort: true }, (c) => {
        accepted[0]++;
        c.destroy();
      }, () => {});
      const port = first.address.port;
      let second: Listener | undefined;
      try {
        second = await runtime.listen({ host: LOOPBACK, port, backlog: 64, reusePort: true }, (c) => {
          accepted[1]++;
          c.destroy();
        }, () => {});
        assert.equal(second.address.port, port);
        // The kernel spreads connections by hash of the 4-tuple: enough connections reach both.
        for (let i = 0; i < 64 && (accepted[0] === 0 || accepted[1] === 0); i++) {
          const handler = new RecordingHandler();
          handler.onEndHook = (conn) => conn.end();
          runtime.connect({ host: LOOPBACK, port, noDelay: true }, handler);
          await handler.until(() => handler.closed, "accepted connection closed");
        }
        assert.ok(accepted[0] > 0 && accepted[1] > 0, `accepts were ${accepted.join("/")}`);
      } finally {
        await first.close();
        await second?.close();
      }
    });

    test("splice: chunks written on as they arrive stay intact under backpressure", async () => {
      // The server writes every chunk back as it is and keeps reading until 1 MiB is queued (write's
      // false is advice; nothing is dropped): with the client paused, chunks wait in the write
      // queue while later reads arrive, so a runtime that reused read buffers would corrupt the echo.
      const pair = await connectedPair();
      try {
        const size = 16 * 1024 * 1024;
        const upload = patternBytes(size, 13);
        pair.serverHandler.onDataHook = (conn, chunk) => {
          conn.write(chunk);
          if (conn.bufferedAmount > 1024 * 1024) conn.pause();
        };
        pair.serverHandler.onDrainHook = (conn) => conn.resume();
        pair.client.pause();
        // Slices that do not divide 64 KiB, so queued chunks also straddle any write batch boundary.
        const up = writeWithBackpressure(pair.client, pair.clientHandler, upload, 10_000, false);
        await sleep(100);
        pair.client.resume();
        await up.done;
        await pair.clientHandler.until(() => pair.clientHandler.receivedBytes >= size, "echo", 30_000);
        assert.ok(sameBytes(pair.clientHandler.bytes(), upload), "echo corrupted");
      } finally {
        await closePair(pair);
      }
    });

    test("with byte slabs on (as the engine sets them on V8), small reads of a dialled connection stay what was sent", async () => {
      useByteSlabs(true);
      const pair = await connectedPair(BUFFER_SIZE);
      try {
        // Each message waits for the one before it, so reads stay small and many, past several slabs.
        const kept: Uint8Array[] = [];
        pair.clientHandler.onDataHook = (_conn, chunk) => kept.push(chunk);
        const sent: number[] = [];
        for (let message = 0; message < 120; message++) {
          const bytes = new Uint8Array(100 + (message % 7)).fill(message + 1);
          sent.push(...bytes);
          const before = pair.clientHandler.receivedBytes;
          pair.server.write(bytes);
          await pair.clientHandler.until(() => pair.clientHandler.receivedBytes >= before + bytes.length, `message ${message}`);
        }
        // The chunks handed over earlier were not overwritten by the later reads.
        const joined = kept.flatMap((chunk) => [...chunk]);
        assert.deepEqual(joined, sent);
      } finally {
        useByteSlabs(false);
        await closePair(pair);
      }
    });

    test("bufferSize is the write high-water mark of accepted and dialled connections", async () => {
      const pair = await connectedPair(BUFFER_SIZE);
      try {
        // Nobody reads: the kernel takes what it can, then the connection queues until the mark.
        pair.client.pause();
        pair.server.pause();
        const piece = patternBytes(4_096, 23);
        for (const [name, conn] of [["accepted", pair.server], ["dialled", pair.client]] as const) {
          let writes = 0;
          while (conn.write(piece)) {
            writes++;
            // The kernel's share grows as it is given more: a few MiB on loopback.
            if (writes % 256 === 0) await sleep(1);
            assert.ok(writes < 64 * 1024, `${name}: write never returned false`);
          }
          assert.ok(
            conn.bufferedAmount >= BUFFER_SIZE && conn.bufferedAmount <= BUFFER_SIZE + piece.length,
            `${name}: write returned false with ${conn.bufferedAmount} bytes queued, for a bufferSize of ${BUFFER_SIZE}`,
          );
        }
      } finally {
        await closePair(pair);
      }
    });

    test("a paused dialled connection with a bufferSize holds bytes and the FIN until resumed", async () => {
      // node:net reads such a connection through onread, where pause() stops the reads themselves.
      const pair = await connectedPair(BUFFER_SIZE);
      try {
        pair.client.pause();
        pair.server.write(patternBytes(200_000, 31));
        pair.server.end();
        await sleep(100);
        assert.equal(pair.clientHandler.receivedBytes, 0, "bytes delivered while paused");
        assert.equal(pair.clientHandler.ended, false, "FIN delivered while paused");
        pair.client.resume();
        await pair.clientHandler.until(() => pair.clientHandler.ended, "FIN after resume");
        assert.ok(sameBytes(pair.clientHandler.bytes(), patternBytes(200_000, 31)), "bytes corrupted");
      } finally {
        await closePair(pair);
      }
    });

    test("end() sends everything queued before the FIN", async () => {
      const pair = await connectedPair();
      try {
        const size = 2 * 1024 * 1024;
        const upload = patternBytes(size, 17);
        // Many chunks, so that most wait in the connection's queue (not the kernel's) at end().
        for (let offset = 0; offset < size; offset += 10_000) pair.client.write(upload.subarray(offset, offset + 10_000));
        pair.client.end();
        await pair.serverHandler.until(() => pair.serverHandler.ended, "server sees FIN", 30_000);
        assert.equal(pair.serverHandler.receivedBytes, size);
        assert.ok(sameBytes(pair.serverHandler.bytes(), upload), "upload corrupted");
        assert.equal(pair.clientHandler.closed, false, "closed before the peer's FIN");
        pair.server.end();
        await pair.clientHandler.until(() => pair.clientHandler.closed, "client close");
        await pair.serverHandler.until(() => pair.serverHandler.closed, "server close");
        assert.equal(pair.clientHandler.closeError, undefined);
        assert.equal(pair.serverHandler.closeError, undefined);
      } finally {
        await closePair(pair);
      }
    });

    test("a FIN arriving alone while paused is held until resume", async () => {
      // node:net emits `end` for a lone FIN even while paused: the adapter holds it, as the native
      // modules do, so a paused connection never reports anything but its close.
      const pair = await connectedPair();
      try {
        pair.server.pause();
        pair.client.end();
        await sleep(100);
        assert.equal(pair.serverHandler.ended, false, "FIN reported while paused");
        pair.server.resume();
        await pair.serverHandler.until(() => pair.serverHandler.ended, "FIN after resume");
        assert.equal(pair.serverHandler.receivedBytes, 0);
      } finally {
        await closePair(pair);
      }
    });

    test("a paused connection holds bytes and the FIN behind them until resumed", async () => {
      const pair = await connectedPair();
      try {
        pair.server.pause();
        pair.client.write(new TextEncoder().encode("held"));
        pair.client.end();
        await sleep(100);
        assert.equal(pair.serverHandler.receivedBytes, 0);
        assert.equal(pair.serverHandler.ended, false);
        pair.server.resume();
        await pair.serverHandler.until(() => pair.serverHandler.ended, "FIN after resume");
        assert.equal(pair.serverHandler.text(), "held");
      } finally {
        await closePair(pair);
      }
    });

    test("destroy with writes queued and a read pending: onClose once, without error", async () => {
      const pair = await connectedPair();
      let closes = 0;
      const original = pair.serverHandler.onClose.bind(pair.serverHandler);
      pair.serverHandler.onClose = (conn, error) => {
        closes++;
        original(conn, error);
      };
      try {
        pair.client.pause();
        for (let i = 0; i < 64; i++) pair.server.write(new Uint8Array(64 * 1024));
        pair.server.destroy();
        pair.server.destroy();
        assert.equal(pair.server.write(new Uint8Array(1)), false, "write after destroy was taken");
        await pair.serverHandler.until(() => pair.serverHandler.closed, "server close");
        assert.equal(pair.server.open, false);
        // Rejections of the reads and writes cut short must not surface: the test runner fails on them.
        await sleep(50);
        assert.equal(closes, 1);
        assert.equal(pair.serverHandler.closeError, undefined);
      } finally {
        await closePair(pair);
      }
    });

    test("closing the listener keeps established connections, and refuses new ones", async () => {
      const pair = await connectedPair();
      try {
        await pair.listener.close();
        const refused = new RecordingHandler();
        runtime.connect({ host: LOOPBACK, port: pair.listener.address.port, noDelay: true }, refused);
        await refused.until(() => refused.closed, "refused connection closed");
        assert.equal(refused.closeError?.code, "ECONNREFUSED");
        pair.serverHandler.onDataHook = (conn, chunk) => conn.write(chunk);
        pair.client.write(new TextEncoder().encode("still here"));
        await pair.clientHandler.until(() => pair.clientHandler.receivedBytes >= 10, "echo after listener close");
        assert.equal(pair.clientHandler.text(), "still here");
      } finally {
        await closePair(pair);
      }
    });

    test("an inherited socket: bound without listening, adopted by a child; a child that closes it leaves its queue to the next", async (t) => {
      if (!runtime.info.inheritableSockets) {
        t.skip(`${runtime.info.name} cannot bind a socket for a child here`);
        return;
      }
      const socket = await runtime.bindInheritable({ host: LOOPBACK, port: 0, backlog: 0, reusePort: false });
      const children: AdoptingChild[] = [];
      const flag = join(mkdtempSync(join(tmpdir(), "proxy-adopt-")), "go");
      try {
        assert.equal(socket.address.address, LOOPBACK);
        assert.ok(socket.address.port > 0);
        // Bound, not listening: nothing can be accepted by the process that holds it.
        assert.equal(await answerOf(socket.address.port), "ECONNREFUSED");
        const first = new AdoptingChild(socketApi, socket, flag);
        children.push(first);
        const listening = await first.fact("listening");
        assert.deepEqual(listening.address, socket.address);
        assert.equal(await answerOf(socket.address.port), `pid ${first.pid}`);
        // The first child stops reading; what connects now waits in the accept queue.
        first.child.kill("SIGHUP");
        await first.fact("busy");
        const queued = Array.from({ length: QUEUED }, () => pendingConnection(socket.address.port, "", 20_000));
        await Promise.all(queued.map((each) => each.connected));
        writeFileSync(flag, "");
        await first.fact("closed");
        // Its descriptor is closed, ours keeps the socket listening, queue included.
        const second = new AdoptingChild(socketApi, socket);
        children.push(second);
        await second.fact("listening");
        const answers = await Promise.all(queued.map((each) => each.firstLine));
        assert.deepEqual(answers, queued.map(() => `pid ${second.pid}`));
      } finally {
        for (const child of children) await child.stop();
        socket.close();
        rmSync(dirname(flag), { recursive: true, force: true });
      }
      // Closed by everyone: refused again.
      assert.equal(await answerOf(socket.address.port), "ECONNREFUSED");
    });

    test("listen rejects a descriptor that is no socket with a NetError naming it and the address", async () => {
      const directory = mkdtempSync(join(tmpdir(), "proxy-adopt-"));
      const file = openSync(join(directory, "plain.txt"), "w");
      try {
        await assert.rejects(
          runtime.listen({ host: LOOPBACK, port: 8080, backlog: 8, reusePort: false, fd: file }, (c) => c.destroy(), () => {}),
          (error: unknown) =>
            error instanceof NetError &&
            error.message.startsWith(`Cannot listen on inherited descriptor ${file} for "127.0.0.1:8080": `),
        );
      } finally {
        closeSync(file);
        rmSync(directory, { recursive: true, force: true });
      }
    });

    test("bindInheritable rejects an address in use with EADDRINUSE, and resolves host names", async (t) => {
      if (!runtime.info.inheritableSockets) {
        t.skip(`${runtime.info.name} cannot bind a socket for a child here`);
        return;
      }
      const taken = await runtime.listen({ host: LOOPBACK, port: 0, backlog: 8, reusePort: false }, (c) => c.destroy(), () => {});
      try {
        await assert.rejects(
          runtime.bindInheritable({ host: LOOPBACK, port: taken.address.port, backlog: 0, reusePort: false }),
          (error: unknown) =>
            error instanceof NetError && error.code === "EADDRINUSE" &&
            error.message === `Cannot bind "127.0.0.1:${taken.address.port}": address already in use`,
        );
      } finally {
        await taken.close();
      }
      const named = await runtime.bindInheritable({ host: "localhost", port: 0, backlog: 0, reusePort: true });
      try {
        assert.ok(["127.0.0.1", "::1"].includes(named.address.address), named.address.address);
        // SO_REUSEPORT was set: a second socket shares the port.
        const beside = await runtime.bindInheritable({ host: named.address.address, port: named.address.port, backlog: 0, reusePort: true });
        beside.close();
      } finally {
        named.close();
      }
    });

    test("ipv6Only: \"::\" and \"0.0.0.0\" bind the same port side by side without reusePort", async () => {
    const gap = RUNTIME_GAPS[`${runtime.info.name}/${socketApi}`]?.ipv6OnlyIgnored;
    const v4 = await runtime.listen({ host: "0.0.0.0", port: 0, backlog: 8, reusePort: false }, (c) => c.destroy(), () => {});
    try {
      const bindV6 = runtime.listen({ host: "::", port: v4.address.port, backlog: 8, reusePort: false, ipv6Only: true }, (c) => c.destroy(), () => {});
      if (gap !== undefined) {
        await assert.rejects(bindV6, (error: unknown) => error instanceof NetError && error.code === "EADDRINUSE", gap);
      } else {
        const v6 = await bindV6;
        assert.equal(v6.address.family, 6);
        await v6.close();
      }
    } finally {
      await v4.close();
    }
  });

  test("signals are delivered to subscribers and unsubscribe works", async () => {
      let received = 0;
      const unsubscribe = runtime.onSignal("SIGHUP", () => {
        received++;
      });
      try {
        runtime.kill(runtime.pid, "SIGHUP");
        for (let i = 0; i < 100 && received === 0; i++) await sleep(10);
        assert.equal(received, 1);
      } finally {
        unsubscribe();
      }
    });

    test("timers fire, can be cleared, and the clock is monotonic", async () => {
      let fired = false;
      let cleared = false;
      const start = runtime.now();
      runtime.setTimer(20, () => {
        fired = true;
      }, false);
      const handle = runtime.setTimer(10, () => {
        cleared = true;
      }, true);
      runtime.clearTimer(handle);
      for (let i = 0; i < 100 && !fired; i++) await sleep(10);
      assert.equal(fired, true);
      assert.equal(cleared, false);
      assert.ok(runtime.now() - start >= 19);
    });

    test("datagrams: every send arrives in order and byte-exact, and onSent follows each send in order", async () => {
      const receiver = await bindReceiver(LOOPBACK);
      const handler = new RecordingDatagramHandler();
      const socket = await connectToReceiver(runtime, receiver, LOOPBACK, handler);
      try {
        assert.deepEqual(socket.remote, { address: LOOPBACK, port: receiver.port, family: 4 });
        assert.equal(socket.local.address, DATAGRAM_BEHAVIOUR[runtime.info.name].localAddress);
        assert.equal(socket.local.family, 4);
        assert.ok(socket.local.port > 0);
        // Sizes from empty to near the 64 KiB limit; the first byte numbers the datagram. Rounds of
        // 12 keep a burst within the receiver's socket buffer: UDP drops what does not fit.
        const sizes = [1, 0, 100, 1024, 1500, 9000];
        const expected: Uint8Array[] = [];
        for (let i = 0; i < 61; i++) {
          const bytes = patternBytes(i === 60 ? 60_000 : sizes[i % sizes.length]!, i + 1);
          if (bytes.length > 0) bytes[0] = i;
          expected.push(bytes);
          handler.sends++;
          socket.send(bytes);
          if (i % 12 === 11) await waitUntil(() => receiver.messages.length > i, `datagrams up to ${i}`);
        }
        await waitUntil(() => receiver.messages.length >= expected.length && handler.sent.length >= expected.length, "datagrams");
        await sleep(20);
        assert.equal(receiver.messages.length, expected.length, "a datagram was duplicated");
        receiver.messages.forEach((message, i) => {
          assert.ok(sameBytes(message.data, expected[i]!), `datagram ${i} differs or is out of order`);
          assert.equal(message.port, socket.local.port, "datagrams come from the socket's local port");
        });
        assert.equal(handler.sent.length, expected.length);
        assert.deepEqual(handler.sent, expected.map(() => undefined));
        handler.sendsAtSent.forEach((sends, i) => assert.ok(sends >= i + 1, `onSent ${i} came before its send`));
        assert.deepEqual(handler.errors, []);
      } finally {
        socket.close();
        receiver.socket.close();
      }
    });

    test("datagrams over IPv6 to ::1", async (t) => {
      if (!(await ipv6LoopbackWorks())) {
        t.skip("no IPv6 loopback on this machine");
        return;
      }
      const receiver = await bindReceiver("::1");
      const handler = new RecordingDatagramHandler();
      const socket = await connectToReceiver(runtime, receiver, "::1", handler);
      try {
        assert.deepEqual(socket.remote, { address: "::1", port: receiver.port, family: 6 });
        assert.equal(socket.local.family, 6);
        for (let i = 0; i < 3; i++) socket.send(new TextEncoder().encode(`line ${i}`));
        await waitUntil(() => receiver.messages.length >= 3 && handler.sent.length >= 3, "datagrams over IPv6");
        assert.deepEqual(receiver.messages.map((m) => new TextDecoder().decode(m.data)), ["line 0", "line 1", "line 2"]);
        assert.deepEqual(handler.sent, [undefined, undefined, undefined]);
      } finally {
        socket.close();
        receiver.socket.close();
      }
    });

    test("datagrams to a port nobody listens on: no throw, sends go on, ECONNREFUSED where the runtime tells", async () => {
      const gone = await bindReceiver(LOOPBACK);
      const port = gone.port;
      gone.socket.close();
      const handler = new RecordingDatagramHandler();
      const socket = await runtime.connectDatagram({ host: LOOPBACK, port }, handler);
      try {
        // Spaced out, so each ICMP answer has come back before the next send.
        for (let i = 0; i < 5; i++) {
          socket.send(new TextEncoder().encode(`lost ${i}`));
          await sleep(30);
        }
        await waitUntil(() => handler.sent.length >= 5, "onSent for every send");
        await sleep(50);
        assert.equal(handler.sent.length, 5);
        const reported = [...handler.errors, ...handler.sent].filter((error) => error !== undefined);
        for (const error of reported) assert.ok(error instanceof NetError, String(error));
        const refused = reported.filter((error) => error.code === "ECONNREFUSED");
        if (DATAGRAM_BEHAVIOUR[runtime.info.name].reportsRefused) {
          // Node and Bun: dgram reads the connected socket, where the kernel reports the ICMP.
          assert.ok(refused.length >= 1, `no ECONNREFUSED; got ${reported.map((e) => e.code).join(",") || "nothing"}`);
          assert.match(refused[0]!.message, new RegExp(`"127\\.0\\.0\\.1:${port}": connection refused$`));
        } else {
          // Deno: its emulated connect leaves the kernel socket unconnected, so no ICMP error arrives.
          assert.deepEqual(refused, [], "Deno now reports ICMP port unreachable: update DATAGRAM_BEHAVIOUR");
        }
      } finally {
        socket.close();
      }
    });

    test("datagrams: sends after close get onSent with EPIPE, after the ones in flight, and never throw", async () => {
      const receiver = await bindReceiver(LOOPBACK);
      const handler = new RecordingDatagramHandler();
      const socket = await connectToReceiver(runtime, receiver, LOOPBACK, handler);
      try {
        for (let i = 0; i < 3; i++) socket.send(new TextEncoder().encode(`before ${i}`));
        socket.close();
        socket.close();
        socket.send(new TextEncoder().encode("after 0"));
        socket.send(new TextEncoder().encode("after 1"));
        await waitUntil(() => handler.sent.length >= 5, "onSent for every send");
        await sleep(20);
        assert.equal(handler.sent.length, 5);
        // The three in flight at the close went out (Node, Bun) or were cancelled (Deno): either way told once.
        for (const error of handler.sent.slice(3)) {
          assert.ok(error instanceof NetError);
          assert.equal(error.code, "EPIPE");
          assert.equal(error.message, `Cannot send to "127.0.0.1:${receiver.port}": socket closed`);
        }
        assert.deepEqual(handler.errors, []);
      } finally {
        receiver.socket.close();
      }
    });

    test("connectDatagram rejects an invalid address with a NetError", async () => {
      const handler = new RecordingDatagramHandler();
      const refusals: Array<[string, number, string]> = [
        ["not-an-ip", 514, "not an IP address"],
        ["256.0.0.1", 514, "not an IP address"],
        [LOOPBACK, 0, "port out of range"],
        [LOOPBACK, 65_536, "port out of range"],
      ];
      for (const [host, port, reason] of refusals) {
        await assert.rejects(runtime.connectDatagram({ host, port }, handler), (error: unknown) => {
          assert.ok(error instanceof NetError);
          assert.equal(error.code, "EADDRNOTAVAIL");
          assert.equal(error.message, `Cannot connect to "${host}:${port}": ${reason}`);
          return true;
        });
      }
      // The kernel refuses a broadcast peer without SO_BROADCAST (Linux: EACCES), where connect reaches it.
      if (process.platform === "linux") {
        const expected = DATAGRAM_BEHAVIOUR[runtime.info.name].broadcastConnect;
        const attempt = runtime.connectDatagram({ host: "255.255.255.255", port: 514 }, handler);
        if (expected === undefined) {
          (await attempt).close();
        } else {
          await assert.rejects(attempt, (error: unknown) => {
            assert.ok(error instanceof NetError);
            assert.equal(error.code, expected);
            assert.match(error.message, /^Cannot connect to "255\.255\.255\.255:514": /);
            return true;
          });
        }
      }
      assert.deepEqual(handler.sent, []);
      assert.deepEqual(handler.errors, []);
    });

    test("readTextFile reads a file and lookup resolves localhost", async () => {
      const text = await runtime.readTextFile(new URL("../package.json", import.meta.url).pathname);
      assert.match(text, /"name"/);
      const addresses = await runtime.lookup("localhost");
      assert.ok(addresses.length > 0);
      assert.deepEqual(await runtime.lookup("10.1.2.3"), ["10.1.2.3"]);
    });
  });
}

for (const socketApi of socketApisOf(detectRuntimeName())) {
  defineConformanceSuite(socketApi, createRuntime(detectRuntimeName(), socketApi));
}

/** A child process of this runtime running tests/fixtures/output_child.ts, its output collected. */
class OutputChild {
  readonly child: ChildProcess;
  readonly stdout: Uint8Array[] = [];
  stdoutBytes = 0;
  readonly stderr: Uint8Array[] = [];
  exitCode: number | null = null;
  exited = false;

  constructor(args: readonly string[]) {
    const script = fileURLToPath(new URL("./fixtures/output_child.ts", import.meta.url));
    const command = detectRuntimeName() === "deno" ? ["run", "-A", script, ...args] : [script, ...args];
    this.child = spawn(process.execPath, command, { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stderr!.on("data", (chunk: Uint8Array) => this.stderr.push(chunk));
    this.child.on("exit", (code) => {
      this.exitCode = code;
      this.exited = true;
    });
  }

  /** Starts taking stdout in. */
  readStdout(): void {
    this.child.stdout!.on("data", (chunk: Uint8Array) => {
      this.stdout.push(chunk);
      this.stdoutBytes += chunk.length;
    });
    this.child.stdout!.resume();
  }

  stderrText(): string {
    return new TextDecoder().decode(joinBytes(this.stderr));
  }

  /** Waits for the exit and for both pipes to be read to their end. */
  async finished(timeoutMs = 30_000): Promise<void> {
    await waitUntil(() => this.exited && this.child.stdout!.readableEnded && this.child.stderr!.readableEnded, "the child to exit", timeoutMs);
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}

function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

describe(`process output and host name on ${detectRuntimeName()}`, () => {
  const runtime = createRuntime(detectRuntimeName());

  test("writeOutput: a child writes 1 MiB to stdout and 1 MiB to stderr at once, and every byte arrives", async () => {
    const size = 1024 * 1024;
    const child = new OutputChild(["bulk", String(size)]);
    try {
      child.readStdout();
      await child.finished();
      assert.equal(child.exitCode, 0, child.stderrText().slice(0, 500));
      assert.equal(child.stdoutBytes, size);
      assert.ok(sameBytes(joinBytes(child.stdout), patternBytes(size, 1)), "stdout corrupted");
      const stderr = joinBytes(child.stderr);
      assert.equal(stderr.length, size);
      assert.ok(sameBytes(stderr, patternBytes(size, 2)), "stderr corrupted");
    } finally {
      child.kill();
    }
  });

  // Node and Bun make a piped stdout O_NONBLOCK once `process.stdout` is used: then the full pipe
  // answers EAGAIN rather than holding the write. Deno leaves the pipe as it is.
  const pipeModes = detectRuntimeName() === "deno" ? ["blocking"] : ["blocking", "nonblocking"];
  for (const pipeMode of pipeModes) {
    test(`writeOutput: timers keep firing while nobody reads the stdout pipe (${pipeMode} pipe)`, async () => {
      const size = 4 * 1024 * 1024;
      const child = new OutputChild(["stall", String(size), pipeMode]);
      const ticks = () => [...child.stderrText().matchAll(/^tick (\d+)$/gm)].map((match) => Number(match[1]));
      try {
        // stdout is not read: the pipe fills within the first writes. A write that blocked the
        // event loop would stop the child's 50 ms ticks here.
        child.child.stdout!.pause();
        await waitUntil(() => ticks().length > 0 || child.exited, "a first tick from the child", 20_000);
        // Five more ticks while the pipe stays full: a write that blocked the event loop would stop
        // them for good. Waited for rather than counted over a fixed second, which a loaded machine
        // may give the child too little of.
        await waitUntil(() => ticks().length >= 6 || child.exited, "ticks with stdout unread: the event loop was blocked", 20_000).catch(() => {});
        const stalled = ticks();
        assert.ok(stalled.length >= 6, `only ${stalled.length} ticks with stdout unread: the event loop was blocked\n${child.stderrText().slice(0, 500)}`);
        // Proof that the pipe was full: otherwise the ticks above prove nothing.
        assert.ok(stalled[stalled.length - 1]! < size, "the child wrote everything without being read");
        child.readStdout();
        await child.finished();
        assert.equal(child.exitCode, 0, child.stderrText().slice(-500));
        assert.match(child.stderrText(), /^done$/m);
        assert.equal(child.stdoutBytes, size);
        assert.ok(sameBytes(joinBytes(child.stdout), patternBytes(size, 3)), "stdout corrupted");
      } finally {
        child.kill();
      }
    });
  }

  test("hostname() is the machine's host name", () => {
    const name = runtime.hostname();
    assert.equal(typeof name, "string");
    assert.ok(name.length > 0);
    // The tests run with every permission, so Deno reads the real name too.
    assert.equal(name, hostname());
  });
});
