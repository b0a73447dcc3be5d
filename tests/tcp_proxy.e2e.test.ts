/**
 * tcp mode end to end: the real CLI in a child process of the runtime running the tests, real
 * origin servers and real clients on loopback.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { createHash } from "node:crypto";
import { assertStalledThenResumes, CliProcess, deadPort, exchange, startOrigin, startProxy, waitUntil } from "./_cli_helpers.ts";
import { patternBytes } from "./_runtime_helpers.ts";

/** An origin that says its name on connect and closes. */
function namedOrigin(name: string) {
  return startOrigin((socket) => socket.end(name));
}

describe("tcp mode, end to end", () => {
  test("round robin alternates between two origins", async () => {
    const a = await namedOrigin("A");
    const b = await namedOrigin("B");
    const { proxy, port } = await startProxy(["--backend", `${a.address},${b.address}`, "--mode", "tcp"]);
    try {
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) answers.push((await exchange(port, "", false)).toString());
      assert.deepEqual(answers, ["A", "B", "A", "B", "A", "B"]);
    } finally {
      await proxy.stop();
      await a.close();
      await b.close();
    }
  });

  test("a dead origin is skipped after its connect failure and the client still gets its answer", async () => {
    const dead = await deadPort();
    const alive = await namedOrigin("alive");
    const { proxy, port } = await startProxy(["--backend", `127.0.0.1:${dead},${alive.address}`, "-V", "--mode", "tcp"]);
    try {
      // The first session goes to the dead server first: refused, retried, then redispatched.
      for (let i = 0; i < 2; i++) assert.equal((await exchange(port, "", false)).toString(), "alive");
      assert.match(proxy.stderr, new RegExp(`Cannot connect to "127\\.0\\.0\\.1:${dead}": connection refused`));
      assert.equal(alive.connections(), 2);
      assert.equal(proxy.running, true);
    } finally {
      await proxy.stop();
      await alive.close();
    }
  });

  test("no reachable server: the client connection is closed, not left hanging", async () => {
    const dead = await deadPort();
    const { proxy, port } = await startProxy(["--backend", `127.0.0.1:${dead}`, "--mode", "tcp"]);
    try {
      const started = Date.now();
      const answer = await exchange(port, "hello", false, 15_000);
      assert.equal(answer.length, 0);
      // Three retries after min(timeout connect, 1 s) each.
      assert.ok(Date.now() - started < 10_000);
      assert.equal(proxy.running, true);
    } finally {
      await proxy.stop();
    }
  });

  test("half-close from the client reaches the server and the response still flows back", async () => {
    const origin = await startOrigin((socket) => {
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.on("end", () => socket.end(`got ${Buffer.concat(received).toString()} then FIN`));
    });
    const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "tcp"]);
    try {
      assert.equal((await exchange(port, "question", true)).toString(), "got question then FIN");
    } finally {
      await proxy.stop();
      await origin.close();
    }
  });

  test("half-close from the server: the client can still send", async () => {
    let lateUpload = "";
    const origin = await startOrigin((socket) => {
      socket.end("banner");
      socket.on("data", (chunk: Buffer) => (lateUpload += chunk.toString()));
    });
    const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "tcp"]);
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("end", () => socket.end("after your FIN"));
        socket.on("close", () => resolve(text));
        socket.on("error", reject);
      });
      assert.equal(answer, "banner");
      await waitUntil(() => lateUpload !== "", "the upload sent after the server's FIN");
      assert.equal(lateUpload, "after your FIN");
    } finally {
      await proxy.stop();
      await origin.close();
    }
  });

  test("5 MB each way, byte-exact", async () => {
    const size = 5 * 1024 * 1024;
    const download = patternBytes(size, 3);
    let uploadDigest = "";
    const origin = await startOrigin((socket) => {
      const hash = createHash("sha256");
      let received = 0;
      socket.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
      });
      socket.on("end", () => {
        uploadDigest = `${received}:${hash.digest("hex")}`;
        socket.end();
      });
      socket.write(download);
    });
    const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "tcp"]);
    try {
      const upload = patternBytes(size, 5);
      const received = await exchange(port, upload, true, 60_000);
      assert.equal(received.length, size);
      assert.ok(Buffer.from(download).equals(received), "download corrupted");
      const expected = `${size}:${createHash("sha256").update(upload).digest("hex")}`;
      assert.equal(uploadDigest, expected, "upload corrupted");
    } finally {
      await proxy.stop();
      await origin.close();
    }
  });

  test("a client that stops reading does not make the proxy buffer without bound", async () => {
    const chunk = Buffer.alloc(64 * 1024, 120);
    let written = 0;
    const origin = await startOrigin((socket) => {
      // Writes as fast as the proxy accepts: only backpressure can stop it.
      const pump = () => {
        while (socket.writable) {
          written += chunk.length;
          if (!socket.write(chunk)) return;
        }
      };
      socket.on("drain", pump);
      pump();
    });
    const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "tcp"]);
    const client = net.connect({ host: "127.0.0.1", port });
    client.on("error", () => {});
    try {
      client.pause();
      await new Promise<void>((resolve) => client.once("connect", () => resolve()));
      await assertStalledThenResumes(client, proxy.pid, () => written);
    } finally {
      client.destroy();
      await proxy.stop();
      await origin.close();
    }
  });

  test("aborts on either side close the other side and the proxy keeps serving", async () => {
    let originClosed = 0;
    const origin = await startOrigin((socket) => {
      socket.on("close", () => originClosed++);
      socket.on("end", () => socket.end());
      socket.on("data", (data: Buffer) => {
        if (data.toString().includes("die")) socket.resetAndDestroy();
        else socket.write(data);
      });
    });
    const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "tcp"]);
    try {
      // Client reset mid-session: the server side is closed.
      const client = net.connect({ host: "127.0.0.1", port });
      client.on("error", () => {});
      await new Promise<void>((resolve) => client.once("connect", () => resolve()));
      client.write("ping");
      await new Promise<void>((resolve) => client.once("data", () => resolve()));
      client.resetAndDestroy();
      await waitUntil(() => originClosed > 0, "the server side to close");
      assert.equal(originClosed, 1);

      // Server reset mid-session: the client side is closed.
      const closed = await new Promise<boolean>((resolve) => {
        const victim = net.connect({ host: "127.0.0.1", port });
        victim.on("error", () => {});
        victim.on("connect", () => victim.write("die"));
        const timer = setTimeout(() => resolve(false), 20_000);
        victim.on("close", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      assert.equal(closed, true);

      // Many abrupt clients at once.
      await Promise.all(Array.from({ length: 50 }, () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: "127.0.0.1", port });
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          socket.on("connect", () => {
            socket.write("x");
            socket.resetAndDestroy();
          });
        })));
      assert.equal((await exchange(port, "still alive", true)).toString(), "still alive");
      assert.equal(proxy.running, true);
      assert.doesNotMatch(proxy.stderr, /Internal error/);
    } finally {
      await proxy.stop();
      await origin.close();
    }
  });

  test("SIGUSR1 stops listening at once, lets the open session finish, then exits 0", async () => {
    let release: (() => void) | undefined;
    const origin = await startOrigin((socket) => {
      release = () => socket.end("finished");
    });
    const { proxy, port } = await startProxy(["--backend", origin.address, "--mode", "tcp"]);
    try {
      const answer = exchange(port, "", false);
      await waitUntil(() => release !== undefined, "the session at the origin");
      proxy.sendSignal("SIGUSR1");
      await proxy.waitFor(/SIGUSR1 received/);
      await assert.rejects(exchange(port, "", false), /ECONNREFUSED/);
      assert.equal(proxy.running, true);
      release!();
      assert.equal((await answer).toString(), "finished");
      assert.equal(await proxy.waitExit(), 0);
    } finally {
      await proxy.stop();
      await origin.close();
    }
  });

  test("the demo answers through the proxy", async () => {
    const demo = new CliProcess(["demo", "--bind", "127.0.0.1:0"]);
    try {
      const match = await demo.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
      const port = Number(match[1]);
      // The demo origins keep connections alive: the client's FIN ends each exchange.
      const first = (await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true)).toString();
      const second = (await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true)).toString();
      assert.match(first, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(first, /Hello from origin 1/);
      assert.match(second, /Hello from origin 2/);
    } finally {
      await demo.stop();
    }
  });
});

describe("command line errors", () => {
  test("a port in use is a clear error and exit code 1", async () => {
    const busy = await startOrigin(() => {});
    try {
      const proxy = new CliProcess(["--bind", busy.address, "--backend", "127.0.0.1:9", "--no-reuseport"]);
      assert.equal(await proxy.waitExit(), 1);
      assert.match(proxy.stderr, new RegExp(`Cannot bind "${busy.address.replace(/\./g, "\\.")}": address already in use`));
    } finally {
      await busy.close();
    }
  });

  test("--mode http starts an http frontend instead of a tcp one", async () => {
    const { proxy } = await startProxy(["--backend", "127.0.0.1:9", "--mode", "http"]);
    try {
      assert.match(proxy.stderr, /Frontend "main" \(http\) listening on 127\.0\.0\.1:\d+/);
    } finally {
      await proxy.stop();
    }
  });

  test("an unknown option is a usage error, exit code 2", async () => {
    const proxy = new CliProcess(["--bind", "127.0.0.1:0", "--backnd", "127.0.0.1:9"]);
    assert.equal(await proxy.waitExit(), 2);
    assert.match(proxy.stderr, /Unknown option "--backnd"/);
  });

  test("a bad address names the flag and the value", async () => {
    const proxy = new CliProcess(["--bind", "127.0.0.1:99999", "--backend", "127.0.0.1:9"]);
    assert.equal(await proxy.waitExit(), 1);
    assert.match(proxy.stderr, /"127\.0\.0\.1:99999".*--bind/);
  });

  test("version names the runtime and the poller", async () => {
    const proxy = new CliProcess(["version"]);
    assert.equal(await proxy.waitExit(), 0);
    assert.match(proxy.stdout, /^proxy \d+\.\d+\.\d+\n/);
    assert.match(proxy.stdout, /runtime: (node|bun|deno) \d+/);
    assert.match(proxy.stdout, /poller: (epoll|kqueue|IOCP|poll)/);
  });
});
