/**
 * The -sf/-st reload hand-over, end to end: an old process A serving with a request in flight,
 * a new process B started on the same configuration with `-sf <pidA>` or `-st <pidA>`. With
 * SO_REUSEPORT B binds beside A; without it (--no-reuseport) B pauses A, binds, then finishes it;
 * when B cannot bind A resumes; a broken configuration leaves A alone.
 *
 * The ports are explicit (picked free first): two processes cannot share port 0.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { CliProcess, deadPort, exchange, sleep, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin, RawClient } from "./_http_helpers.ts";

/** A request that keeps its connection alive. */
function get(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`;
}

/** One request on a fresh connection; resolves with the whole answer. */
async function fetchOnce(port: number, path: string): Promise<string> {
  return (await exchange(port, `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`, true)).toString();
}

/**
 * An origin answering `done PATH` at once, except /slow: held until `release()`, so a test decides
 * when a response in flight completes (never, for a hard stop) whatever the machine's speed.
 */
async function heldOrigin() {
  const held: Array<() => void> = [];
  const origin = await httpOrigin((request, response) => {
    const answer = () => response.end(`done ${request.url}`);
    if (request.url === "/slow") held.push(answer);
    else answer();
  });
  return {
    ...origin,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
  };
}

/** An http frontend "web" on each of `ports` (127.0.0.1) in front of one server. */
function webConfig(ports: readonly number[], origin: string): string {
  return `
[defaults]
mode = "http"

[frontends.web]
bind = [${ports.map((port) => `"127.0.0.1:${port}"`).join(", ")}]
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "${origin}" }]
`;
}

/** Starts the CLI and waits until frontend "web" listens. */
async function startListening(args: readonly string[]): Promise<CliProcess> {
  const proxy = new CliProcess(args);
  try {
    await proxy.waitFor(/Frontend "web" \(http\) listening on /);
    return proxy;
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

/** Waits until `count()` reaches `atLeast`, bounded. */
async function until(count: () => number, atLeast: number, what: string): Promise<void> {
  await waitUntil(() => count() >= atLeast, `${what} to reach ${atLeast} (${count()} so far)`);
}

/** A plain listener (no SO_REUSEPORT) holding a port, as a foreign program would. */
async function squat(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return server;
}

/** The pid of a process that has exited. */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ["--version"], { stdio: "ignore" });
  await new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return child.pid!;
}

describe("reload with -sf/-st", () => {
  test("-sf with SO_REUSEPORT: B binds beside A, the request in flight on A completes, A exits 0, B serves; -p writes B's pid", async () => {
    const origin = await heldOrigin();
    const port = await deadPort();
    const file = configFile(webConfig([port], origin.address));
    const pidfile = `${file.path}.pid`;
    let a: CliProcess | undefined;
    let b: CliProcess | undefined;
    let client: RawClient | undefined;
    try {
      a = await startListening(["-f", file.path]);
      client = new RawClient(port);
      await client.opened;
      client.send(get("/slow"));
      await until(origin.requests, 1, "requests at the origin");
      b = await startListening(["-f", file.path, "-sf", String(a.pid), "-p", pidfile]);
      await b.waitFor(new RegExp(`Told old process\\(es\\) ${a.pid} to finish their sessions \\(SIGUSR1\\)`));
      assert.doesNotMatch(b.stderr, /pausing/, "the address was shared: nobody was paused");
      assert.equal(readFileSync(pidfile, "utf8"), `${b.pid}\n`);
      await a.waitFor(/SIGUSR1 received: stopped listening, finishing 1 session\(s\)/);
      assert.equal(a.running, true, "A waits for its request in flight");
      origin.release();
      const text = await client.untilClosed();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n\r\ndone \/slow$/);
      assert.equal(await a.waitExit(), 0);
      assert.match(a.stderr, /SIGUSR1 received/);
      for (const path of ["/b1", "/b2", "/b3"]) assert.match(await fetchOnce(port, path), new RegExp(`done ${path}$`));
      assert.equal(b.running, true);
    } finally {
      client?.close();
      await a?.stop();
      await b?.stop();
      file.remove();
      await origin.close();
    }
  });

  test("-st: B binds, then A stops at once and its request in flight is cut", async () => {
    const origin = await heldOrigin();
    const port = await deadPort();
    const file = configFile(webConfig([port], origin.address));
    let a: CliProcess | undefined;
    let b: CliProcess | undefined;
    let client: RawClient | undefined;
    try {
      a = await startListening(["-f", file.path]);
      client = new RawClient(port);
      await client.opened;
      client.send(get("/slow"));
      await until(origin.requests, 1, "requests at the origin");
      b = await startListening(["-f", file.path, "-st", String(a.pid)]);
      await b.waitFor(/to stop now \(SIGTERM\)/);
      // At once: the origin never answers, so only the stop can close the connection.
      assert.equal(await client.untilClosed(), "");
      assert.equal(await a.waitExit(), 0);
      assert.match(a.stderr, /SIGTERM received: stopping now, cutting 1 session\(s\)/);
      assert.match(await fetchOnce(port, "/b"), /done \/b$/);
    } finally {
      client?.close();
      await a?.stop();
      await b?.stop();
      file.remove();
      await origin.close();
    }
  });

  // A bound without SO_REUSEPORT: B cannot bind beside it, whether it asks for SO_REUSEPORT or not.
  for (const bArgs of [["--no-reuseport"], []]) {
    test(`A with --no-reuseport, B ${bArgs.length === 0 ? "asking for SO_REUSEPORT" : "with --no-reuseport"}: B pauses A, binds, A finishes its request and exits`, async () => {
      const origin = await heldOrigin();
      const port = await deadPort();
      const file = configFile(webConfig([port], origin.address));
      let a: CliProcess | undefined;
      let b: CliProcess | undefined;
      let client: RawClient | undefined;
      try {
        a = await startListening(["-f", file.path, "--no-reuseport"]);
        client = new RawClient(port);
        await client.opened;
        client.send(get("/slow"));
        await until(origin.requests, 1, "requests at the origin");
        b = await startListening(["-f", file.path, ...bArgs, "-sf", String(a.pid)]);
        assert.match(b.stderr, new RegExp(`address already in use: pausing old process\\(es\\) ${a.pid} \\(SIGTTOU\\)`));
        assert.match(b.stderr, new RegExp(`Took the listeners over from paused process\\(es\\) ${a.pid}`));
        await b.waitFor(/finish their sessions \(SIGUSR1\)/);
        await a.waitFor(/SIGUSR1 received/);
        origin.release();
        assert.match(await client.untilClosed(), /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n\r\ndone \/slow$/);
        assert.equal(await a.waitExit(), 0);
        assert.match(a.stderr, /SIGTTOU received: paused[^]*SIGUSR1 received/);
        assert.match(await fetchOnce(port, "/b"), /done \/b$/);
      } finally {
        client?.close();
        await a?.stop();
        await b?.stop();
        file.remove();
        await origin.close();
      }
    });
  }

  test("B cannot bind an address held by a foreign listener: A is paused, then resumed, and keeps serving; B exits 1 naming the address", async () => {
    const origin = await heldOrigin();
    const port = await deadPort();
    const foreignPort = await deadPort();
    const fileA = configFile(webConfig([port], origin.address));
    const fileB = configFile(webConfig([port, foreignPort], origin.address));
    const pidfile = `${fileB.path}.pid`;
    let a: CliProcess | undefined;
    let b: CliProcess | undefined;
    let foreign: net.Server | undefined;
    let client: RawClient | undefined;
    try {
      a = await startListening(["-f", fileA.path]);
      foreign = await squat(foreignPort);
      client = new RawClient(port);
      await client.opened;
      client.send(get("/slow"));
      await until(origin.requests, 1, "requests at the origin");
      const started = Date.now();
      b = new CliProcess(["-f", fileB.path, "-sf", String(a.pid), "-p", pidfile]);
      // The request in flight on A is answered while A is paused, on a connection kept alive.
      await a.waitFor(/SIGTTOU received: paused, stopped listening; 1 session\(s\) go on/);
      origin.release();
      const text = await client.until((received) => received.endsWith("done /slow"));
      assert.doesNotMatch(text, /Connection: close/);
      // B starts (seconds on a loaded machine), retries its bind for 1 s, then gives up.
      assert.equal(await b.waitExit(30_000), 1);
      assert.ok(Date.now() - started >= 1_000, "B retries for 1 s");
      assert.match(
        b.stderr,
        new RegExp(`Cannot bind "127\\.0\\.0\\.1:${foreignPort}": address already in use, also after pausing the old process\\(es\\) for 1000 ms: old process\\(es\\) ${a.pid} told to listen again \\(SIGTTIN\\)`),
      );
      assert.equal(existsSync(pidfile), false, "no pid file from a process that did not start");
      await a.waitFor(/SIGTTIN received: resumed, listening again/);
      assert.doesNotMatch(a.stderr, /SIGUSR1/);
      assert.equal(client.closed, false);
      assert.match(await fetchOnce(port, "/a"), /done \/a$/);
      assert.equal(a.running, true);
    } finally {
      client?.close();
      foreign?.close();
      await a?.stop();
      await b?.stop();
      fileA.remove();
      fileB.remove();
      await origin.close();
    }
  });

  test("B with a configuration error exits 1 with the error's file:line:col and sends A nothing", async () => {
    const origin = await heldOrigin();
    const port = await deadPort();
    const fileA = configFile(webConfig([port], origin.address));
    const fileB = configFile(webConfig([port], origin.address).replace('[backends.app]\n', '[backends.app]\nbalance = "fastest"\n'));
    let a: CliProcess | undefined;
    let b: CliProcess | undefined;
    try {
      a = await startListening(["-f", fileA.path]);
      b = new CliProcess(["-f", fileB.path, "-sf", String(a.pid)]);
      assert.equal(await b.waitExit(30_000), 1);
      assert.match(b.stderr, new RegExp(`${fileB.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: backends\\.app\\.balance: [^\\n]*"fastest"`));
      await sleep(200);
      assert.doesNotMatch(a.stderr, /SIG/);
      assert.match(await fetchOnce(port, "/a"), /done \/a$/);
      assert.equal(a.running, true);
    } finally {
      await a?.stop();
      await b?.stop();
      fileA.remove();
      fileB.remove();
      await origin.close();
    }
  });

  test("-sf naming a process that does not exist: a warning, and B serves", async () => {
    const origin = await heldOrigin();
    const port = await deadPort();
    const file = configFile(webConfig([port], origin.address));
    const gone = await exitedPid();
    let b: CliProcess | undefined;
    try {
      b = await startListening(["-f", file.path, "-sf", String(gone)]);
      await b.waitFor(new RegExp(`Cannot send SIGUSR1 to old process ${gone}`));
      assert.match(await fetchOnce(port, "/b"), /done \/b$/);
      assert.equal(b.running, true);
    } finally {
      await b?.stop();
      file.remove();
      await origin.close();
    }
  });
});
