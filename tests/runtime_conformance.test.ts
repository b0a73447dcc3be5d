/**
 * Conformance of the runtime module of whichever runtime runs this file (node --test, bun test,
 * deno test): the same assertions hold for all three.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRuntime, detectRuntimeName, socketApisOf } from "../src/runtime/detect.ts";
import type { Connection, Listener, Runtime, SocketApi } from "../src/runtime/types.ts";
import { NetError } from "../src/runtime/net_error.ts";
import { denoNativeReusePortAvailable } from "../src/runtime/_deno_native.ts";
import { patternBytes, RecordingHandler, sameBytes, sleep, writeWithBackpressure } from "./_runtime_helpers.ts";

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

  async function connectedPair(): Promise<Pair> {
    const serverHandler = new RecordingHandler();
    let server: Connection | undefined;
    const listener = await runtime.listen(
      { host: LOOPBACK, port: 0, backlog: 16, reusePort: false },
      (conn) => {
        server = conn;
        conn.setHandler(serverHandler);
      },
      () => {},
    );
    const clientHandler = new RecordingHandler();
    const client = runtime.connect({ host: LOOPBACK, port: listener.address.port, noDelay: true }, clientHandler);
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
