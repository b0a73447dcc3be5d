/**
 * Conformance of `listenUnix` and `connectUnix` (the runtime API's socket) on the runtime running
 * this file, for each of its socket APIs: mode, stale and live sockets, files that are not
 * sockets, take-over by a reload, removal on close, errors of a client.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { existsSync, linkSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRuntime, detectRuntimeName, socketApisOf } from "../src/runtime/detect.ts";
import type { Connection, Runtime, UnixListener } from "../src/runtime/types.ts";
import { NetError } from "../src/runtime/net_error.ts";
import { MAX_UNIX_PATH_BYTES } from "../src/runtime/_node_unix.ts";
import { RecordingHandler } from "./_runtime_helpers.ts";

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), "proxy-unix-"));
}

/** A socket file nobody listens on: a hard link to a socket whose listener then closed (and removed its own name). */
async function staleSocket(path: string): Promise<void> {
  const original = `${path}.original`;
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(original, resolve));
  linkSync(original, path);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Listens with an echo server on every accepted connection; `accepted` collects them. */
async function echoListener(runtime: Runtime, path: string, mode = 0o600, takeOver = false): Promise<{
  listener: UnixListener;
  accepted: Connection[];
}> {
  const accepted: Connection[] = [];
  const listener = await runtime.listenUnix({ path, mode, backlog: 16, takeOver }, (conn) => {
    accepted.push(conn);
    const handler = new RecordingHandler();
    handler.onDataHook = (connection, chunk) => connection.write(chunk);
    handler.onEndHook = (connection) => connection.end();
    conn.setHandler(handler);
  }, () => {});
  return { listener, accepted };
}

/** Connects with the contract's client, sends `text`, half-closes and resolves with the echo. */
async function echo(runtime: Runtime, path: string, text: string): Promise<string> {
  const handler = new RecordingHandler();
  const conn = runtime.connectUnix(path, handler);
  await handler.until(() => handler.opened || handler.closed, "open");
  assert.equal(handler.closeError, undefined);
  conn.write(new TextEncoder().encode(text));
  conn.end();
  await handler.until(() => handler.closed, "close");
  return handler.text();
}

/** The error a client gets connecting to `path`. */
async function connectError(runtime: Runtime, path: string): Promise<NetError | undefined> {
  const handler = new RecordingHandler();
  runtime.connectUnix(path, handler);
  await handler.until(() => handler.closed, "close");
  assert.equal(handler.opened, false);
  return handler.closeError;
}

for (const socketApi of socketApisOf(detectRuntimeName())) {
  const runtime = createRuntime(detectRuntimeName(), socketApi);

  describe(`UNIX sockets on ${detectRuntimeName()} with ${socketApi} sockets`, () => {
    test("listens with the mode asked, echoes both ways with half-close, and leaves no temporary file", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        const { listener, accepted } = await echoListener(runtime, path);
        try {
          const stats = lstatSync(path);
          assert.ok(stats.isSocket());
          assert.equal(stats.mode & 0o777, 0o600);
          assert.deepEqual(readdirSync(dir), ["api.sock"]);
          assert.equal(listener.path, path);
          assert.equal(await echo(runtime, path, "show info\n"), "show info\n");
          assert.equal(accepted.length, 1);
          assert.equal(accepted[0]!.remote.port, 0);
        } finally {
          await listener.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("another mode is set before the socket appears at the path", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        const { listener } = await echoListener(runtime, path, 0o660);
        try {
          assert.equal(lstatSync(path).mode & 0o777, 0o660);
        } finally {
          await listener.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("close removes the socket file; a client then gets ENOENT", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        const { listener } = await echoListener(runtime, path);
        await listener.close();
        assert.equal(existsSync(path), false);
        const error = await connectError(runtime, path);
        assert.ok(error instanceof NetError);
        assert.equal(error.code, "ENOENT");
        assert.equal(error.message, `Cannot connect to "${path}": no such file or directory`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a stale socket file (its process died) is replaced; a client of the stale file gets ECONNREFUSED", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        await staleSocket(path);
        const refused = await connectError(runtime, path);
        assert.equal(refused?.code, "ECONNREFUSED");
        const { listener } = await echoListener(runtime, path);
        try {
          assert.equal(await echo(runtime, path, "after"), "after");
        } finally {
          await listener.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a live socket is refused with EADDRINUSE, and keeps answering", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        const first = await echoListener(runtime, path);
        try {
          await assert.rejects(echoListener(runtime, path), (error: unknown) => {
            assert.ok(error instanceof NetError);
            assert.equal(error.code, "EADDRINUSE");
            assert.equal(error.message, `Cannot bind "${path}": address already in use (a running process answers on it)`);
            return true;
          });
          assert.equal(await echo(runtime, path, "still"), "still");
          assert.deepEqual(readdirSync(dir), ["api.sock"]);
        } finally {
          await first.listener.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("takeOver replaces a live socket; the old listener's close leaves the new socket in place", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        const old = await echoListener(runtime, path);
        const next = await echoListener(runtime, path, 0o600, true);
        try {
          assert.equal(await echo(runtime, path, "new"), "new");
          assert.equal(old.accepted.length, 0);
          assert.equal(next.accepted.length, 1);
          await old.listener.close();
          assert.ok(lstatSync(path).isSocket());
          assert.equal(await echo(runtime, path, "again"), "again");
        } finally {
          await old.listener.close();
          await next.listener.close();
        }
        assert.equal(existsSync(path), false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a file that is not a socket is never replaced, even with takeOver", async () => {
      const dir = temporaryDirectory();
      try {
        const path = join(dir, "api.sock");
        writeFileSync(path, "precious");
        for (const takeOver of [false, true]) {
          await assert.rejects(echoListener(runtime, path, 0o600, takeOver), (error: unknown) => {
            assert.ok(error instanceof NetError);
            assert.equal(error.code, "EADDRINUSE");
            assert.match(error.message, /a file that is not a socket is there/);
            return true;
          });
        }
        assert.equal(readFileSync(path, "utf8"), "precious");
        assert.deepEqual(readdirSync(dir), ["api.sock"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a missing directory is ENOENT, a path over the kernel's limit ENAMETOOLONG, both before any file is made", async () => {
      const dir = temporaryDirectory();
      try {
        await assert.rejects(echoListener(runtime, join(dir, "no", "api.sock")), (error: unknown) => {
          assert.ok(error instanceof NetError);
          assert.equal(error.code, "ENOENT");
          return true;
        });
        const long = join(dir, "x".repeat(MAX_UNIX_PATH_BYTES));
        await assert.rejects(echoListener(runtime, long), (error: unknown) => {
          assert.ok(error instanceof NetError);
          assert.equal(error.code, "ENAMETOOLONG");
          assert.match(error.message, /^Cannot bind ".*": a UNIX socket path may have \d+ bytes/);
          return true;
        });
        assert.deepEqual(readdirSync(dir), []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
