/**
 * The signals of a standalone process, end to end with live connections: SIGUSR1 graceful stop
 * (and `hard-stop-after`), SIGTERM/SIGINT hard stop, SIGTTOU pause and SIGTTIN resume, SIGHUP's
 * state dump (and, first, the dump's lines for the backend states a live test cannot set up cheaply).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { CliProcess, deadPort, exchange, sleep, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin, RawClient } from "./_http_helpers.ts";
import { Backend } from "../src/core/backend.ts";
import { STATE_DUMP_HEADER, stateDumpLines } from "../src/lifecycle/state_dump.ts";

/** A request that keeps its connection alive. */
/** The port runtimes open their inspector (debugger) on. */
const INSPECTOR_PORT = 9229;

/** Whether process `pid` has a listening TCP socket on `port` (Linux /proc; false elsewhere). */
function listensOn(pid: number, port: number): boolean {
  let table: string;
  try {
    table = readFileSync("/proc/net/tcp", "utf8") + readFileSync("/proc/net/tcp6", "utf8");
  } catch {
    return false;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // local_address is "ADDR:PORT" in hex; state 0A is LISTEN; the inode is the tenth field.
    if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A") inodes.add(fields[9]!);
  }
  if (inodes.size === 0) return false;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match !== null && inodes.has(match[1]!)) return true;
    } catch {
      // The descriptor closed meanwhile.
    }
  }
  return false;
}

function get(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`;
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

/** An http frontend "web" on a free loopback port in front of `servers`. */
function webConfig(servers: string, extra = ""): string {
  return `${extra}
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
${servers}
`;
}

/** Starts the CLI on a configuration; resolves once frontend "web" listens, with its port. */
async function startProxy(text: string): Promise<{ proxy: CliProcess; port: number; remove: () => void }> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/);
    return { proxy, port: Number(match[1]), remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** Waits until `count()` reaches `atLeast`, bounded. */
async function until(count: () => number, atLeast: number, what: string): Promise<void> {
  await waitUntil(() => count() >= atLeast, `${what} to reach ${atLeast} (${count()} so far)`);
}

/** Occurrences of `pattern` (global) in `text`. */
function occurrences(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

describe("SIGHUP state dump lines", () => {
  const backend = () =>
    new Backend({
      name: "app",
      balance: "roundrobin",
      retries: 3,
      redispatch: true,
      allBackups: false,
      connectTimeout: 5_000,
      serverTimeout: 30_000,
      tunnelTimeout: 0,
      servers: [
        { name: "a", host: "10.0.0.1", port: 80, weight: 1, maxconn: 0, backup: false },
        { name: "spare", host: "10.0.0.2", port: 80, weight: 1, maxconn: 0, backup: true },
      ],
    });

  test("a backend running on its backup server, one with no server left, and one without servers", () => {
    const app = backend();
    app.markDown(app.servers[0]!, "test", false);
    app.servers[1]!.totalConnections = 7;
    app.servers[1]!.activeConnections = 2;
    app.activeConnections = 2;
    app.totalConnections = 9;
    assert.deepEqual(stateDumpLines([], [app]), [
      STATE_DUMP_HEADER,
      "SIGHUP: Server app/a is DOWN. Conn: 0 act, 0 pend, 0 tot.",
      "SIGHUP: Server app/spare is UP. Conn: 2 act, 0 pend, 7 tot.",
      "SIGHUP: Proxy app is running on backup servers ! Conn: act(FE+BE): 0+2, 0 pend (0 unass), tot(FE+BE): 0+9.",
    ]);
    app.setMaintenance(app.servers[1]!, true);
    assert.equal(
      stateDumpLines([], [app]).at(-1),
      "SIGHUP: Proxy app has no server available ! Conn: act(FE+BE): 0+2, 0 pend (0 unass), tot(FE+BE): 0+9.",
    );
    assert.equal(stateDumpLines([], [app])[2], "SIGHUP: Server app/spare is DOWN. Conn: 2 act, 0 pend, 7 tot.");
    const empty = { name: "none", servers: [], usableActive: 0, usableBackup: 0, activeConnections: 0, totalConnections: 0, queue: { length: 3 } };
    assert.deepEqual(stateDumpLines([{ name: "web", activeSessions: 4, totalSessions: 40 }], [empty]), [
      STATE_DUMP_HEADER,
      "SIGHUP: Proxy web has no servers. Conn: act(FE+BE): 4+0, 0 pend (0 unass), tot(FE+BE): 40+0.",
      "SIGHUP: Proxy none has no servers. Conn: act(FE+BE): 0+0, 3 pend (3 unass), tot(FE+BE): 0+0.",
    ]);
  });
});

describe("signals of a standalone process", () => {
  test("SIGUSR1 stops listening, finishes an in-flight slow response with Connection: close, then exits 0", async () => {
    const origin = await heldOrigin();
    const { proxy, port, remove } = await startProxy(webConfig(`servers = [{ name = "a", address = "${origin.address}" }]`));
    const client = new RawClient(port);
    try {
      await client.opened;
      client.send(get("/slow"));
      await until(origin.requests, 1, "requests at the origin");
      // Deno arms its SIGUSR1 inspector 500 ms after start (see below): signal a process older than that.
      await sleep(600);
      proxy.sendSignal("SIGUSR1");
      await proxy.waitFor(/SIGUSR1 received: stopped listening, finishing 1 session\(s\)/);
      await assert.rejects(exchange(port, "", false), /ECONNREFUSED/);
      assert.equal(proxy.running, true, "the proxy must wait for the session in flight");
      // Deno >= 2.9.2 opens a debugger on 127.0.0.1:9229 on every SIGUSR1: the runtime module closes
      // it as soon as it is up, which on a loaded machine may take a moment.
      await waitUntil(() => !listensOn(proxy.pid, INSPECTOR_PORT), "no inspector to stay open after SIGUSR1");
      origin.release();
      const text = await client.untilClosed();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /Connection: close\r\n\r\ndone \/slow$/);
      assert.equal(await proxy.waitExit(), 0);
      assert.match(proxy.stderr, /Proxy stopped: every session finished/);
    } finally {
      client.close();
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} cuts an in-flight response at once and exits 0`, async () => {
      const origin = await heldOrigin();
      const { proxy, port, remove } = await startProxy(webConfig(`servers = [{ name = "a", address = "${origin.address}" }]`));
      const client = new RawClient(port);
      try {
        await client.opened;
        client.send(get("/slow"));
        await until(origin.requests, 1, "requests at the origin");
        const started = Date.now();
        proxy.sendSignal(signal);
        // At once: the origin never answers, so only the hard stop can close the connection (the
        // bound leaves room for a loaded machine).
        const text = await client.untilClosed();
        assert.ok(Date.now() - started < 10_000, `closed after ${Date.now() - started} ms`);
        assert.equal(text, "", "no response may arrive: the origin has not answered");
        assert.equal(await proxy.waitExit(), 0);
        assert.match(proxy.stderr, new RegExp(`${signal} received: stopping now, cutting 1 session\\(s\\)`));
      } finally {
        client.close();
        await proxy.stop();
        remove();
        await origin.close();
      }
    });
  }

  test("hard-stop-after cuts the session that would outlive it, after letting a shorter one finish", async () => {
    // Both requests are held: /short until the stop has begun, /long for good.
    const answers = new Map<string, () => void>();
    const origin = await httpOrigin((request, response) => {
      answers.set(request.url!, () => response.end(`done ${request.url}`));
    });
    const { proxy, port, remove } = await startProxy(
      webConfig(`servers = [{ name = "a", address = "${origin.address}" }]`, `[global]\nhard-stop-after = "3s"\n`),
    );
    const short = new RawClient(port);
    const long = new RawClient(port);
    try {
      await Promise.all([short.opened, long.opened]);
      long.send(get("/long"));
      short.send(get("/short"));
      await until(() => answers.size, 2, "requests at the origin");
      const started = Date.now();
      proxy.sendSignal("SIGUSR1");
      await proxy.waitFor(/SIGUSR1 received: stopped listening, finishing 2 session\(s\)/);
      answers.get("/short")!();
      assert.match(await short.untilClosed(), /Connection: close\r\n\r\ndone \/short$/);
      assert.equal(proxy.running, true, "the long session is still within hard-stop-after");
      assert.equal(await long.untilClosed(), "");
      // Not before hard-stop-after (3 s); the origin never answers /long, so only the hard stop
      // ends it (the upper bound leaves room for a loaded machine).
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 2_900 && elapsed < 15_000, `cut after ${elapsed} ms, hard-stop-after is 3 s`);
      assert.equal(await proxy.waitExit(), 0);
      assert.match(proxy.stderr, /hard-stop-after \(3000 ms\) expired: cutting 1 remaining session\(s\)/);
    } finally {
      short.close();
      long.close();
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  test("SIGTTOU refuses new connections while established ones are served; SIGTTIN accepts again; SIGUSR1 while paused stops", async () => {
    const origin = await heldOrigin();
    const { proxy, port, remove } = await startProxy(webConfig(`servers = [{ name = "a", address = "${origin.address}" }]`));
    const client = new RawClient(port);
    try {
      await client.opened;
      client.send(get("/slow"));
      await until(origin.requests, 1, "requests at the origin");
      proxy.sendSignal("SIGTTOU");
      await proxy.waitFor(/SIGTTOU received: paused, stopped listening; 1 session\(s\) go on/);
      await assert.rejects(exchange(port, "", false), /ECONNREFUSED/);
      origin.release();
      // Paused is not stopping: the response keeps its connection alive, which serves another request.
      const first = await client.until((text) => text.endsWith("done /slow"));
      assert.doesNotMatch(first, /Connection: close/);
      client.send(get("/again"));
      await client.until((text) => text.endsWith("done /again"));
      assert.equal(client.closed, false);

      proxy.sendSignal("SIGTTIN");
      await proxy.waitFor(/SIGTTIN received: resumed, listening again/);
      const answer = (await exchange(port, "GET /resumed HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")).toString();
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[^]*done \/resumed$/);

      proxy.sendSignal("SIGTTOU");
      await until(() => occurrences(proxy.stderr, /SIGTTOU received: paused/g), 2, "pauses logged");
      await assert.rejects(exchange(port, "", false), /ECONNREFUSED/);
      proxy.sendSignal("SIGUSR1");
      // The idle keep-alive connection is let go, and the process ends.
      await client.untilClosed();
      assert.equal(await proxy.waitExit(), 0);
      assert.match(proxy.stderr, /Proxy stopped: every session finished/);
    } finally {
      client.close();
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  test("SIGTTIN stays paused while the address is taken and listens once a later SIGTTIN finds it free", async () => {
    const origin = await heldOrigin();
    const { proxy, port, remove } = await startProxy(webConfig(`servers = [{ name = "a", address = "${origin.address}" }]`));
    const squatter = net.createServer((socket) => socket.destroy());
    let squatting = false;
    try {
      proxy.sendSignal("SIGTTOU");
      await proxy.waitFor(/SIGTTOU received: paused/);
      await new Promise<void>((resolve, reject) => {
        squatter.once("error", reject);
        squatter.listen(port, "127.0.0.1", resolve);
      });
      squatting = true;
      proxy.sendSignal("SIGTTIN");
      await proxy.waitFor(/SIGTTIN received: cannot listen again, staying paused \(send SIGTTIN again to retry\): Cannot bind "127\.0\.0\.1:\d+": address already in use/);
      assert.equal(proxy.running, true);
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
      squatting = false;
      await assert.rejects(exchange(port, "", false), /ECONNREFUSED/);
      proxy.sendSignal("SIGTTIN");
      await proxy.waitFor(/SIGTTIN received: resumed, listening again/);
      const answer = (await exchange(port, "GET /back HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")).toString();
      assert.match(answer, /done \/back$/);
    } finally {
      if (squatting) squatter.close();
      await proxy.stop();
      remove();
      await origin.close();
    }
  });

  test("SIGHUP writes every server's state to the log at notice level, a server DOWN by its check and one UP; SIGUSR2 is ignored", async () => {
    const origin = await heldOrigin();
    const dead = await deadPort();
    // A check timeout longer than the interval: a check the loaded machine runs late is not a failure.
    const servers = `check = { interval = "100ms", timeout = "10s", rise = 1, fall = 1 }
servers = [
  { name = "up", address = "${origin.address}" },
  { name = "down", address = "127.0.0.1:${dead}" },
]`;
    // [global] log: operator messages also go to stdout, in RFC 5424 so their severity shows.
    const { proxy, port, remove } = await startProxy(webConfig(servers, `[global]\nlog = [{ target = "stdout", format = "rfc5424" }]\n`));
    try {
      await proxy.waitFor(/Server "app\/down" is DOWN/);
      for (const path of ["/1", "/2"]) {
        const answer = (await exchange(port, `GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`)).toString();
        assert.match(answer, new RegExp(`done ${path}$`));
      }
      const expected = [
        "SIGHUP received, dumping servers states.",
        "SIGHUP: Proxy web has no servers. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 2+0.",
        "SIGHUP: Server app/up is UP. Conn: 0 act, 0 pend, 2 tot.",
        "SIGHUP: Server app/down is DOWN. Conn: 0 act, 0 pend, 0 tot.",
        "SIGHUP: Proxy app has 1 active servers and 0 backup servers available. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+2.",
      ];
      // The clients saw their connections close; the proxy may count the sessions a moment longer.
      let dump = "";
      const deadline = Date.now() + 20_000;
      for (let dumps = 1; Date.now() < deadline && !expected.every((line) => dump.includes(line)); dumps++) {
        const before = proxy.stderr.length;
        proxy.sendSignal("SIGHUP");
        await until(() => occurrences(proxy.stderr, /SIGHUP: Proxy app /g), dumps, "state dumps");
        dump = proxy.stderr.slice(before);
        if (!expected.every((line) => dump.includes(line))) await sleep(50);
      }
      for (const line of expected) assert.ok(dump.includes(line), `missing on stderr: ${line}\n${proxy.stderr}`);
      const inLog = (line: string) => proxy.stdout.split("\n").findLast((candidate) => candidate.endsWith(line));
      await waitUntil(() => expected.every((line) => inLog(line) !== undefined), "the dump in the [global] log");
      for (const line of expected) {
        const logged = inLog(line);
        assert.ok(logged !== undefined, `missing in the [global] log: ${line}\n${proxy.stdout}`);
        const priority = Number(/^<(\d+)>1 /.exec(logged)?.[1]);
        assert.equal(priority % 8, 5, `severity of ${logged}`);
      }
      assert.equal(proxy.running, true, "SIGHUP does not stop the proxy");
      // SIGUSR2 (-W's reload signal) must not take a standalone process down either.
      proxy.sendSignal("SIGUSR2");
      await proxy.waitFor(/SIGUSR2 received: ignored/);
      assert.equal(proxy.running, true);
      const answer = (await exchange(port, "GET /after HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")).toString();
      assert.match(answer, /done \/after$/);
    } finally {
      await proxy.stop();
      remove();
      await origin.close();
    }
  });
});
