/**
 * -W end to end: the real CLI as a master with real workers, real origins and real clients, on the
 * runtime running the tests. Each test cleans up the master and every worker it saw (from the log
 * lines and from the master's /proc children), also when it fails.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pendingConnection, waitUntil } from "./_cli_helpers.ts";
import { httpOrigin } from "./_http_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";
import { alive, freePort, listeningSocketHolders, MasterProcess, MIGRATE_REQ } from "./_process_helpers.ts";

const RUNTIME = detectRuntimeName();

/** The cores each thread of `pid` may run on (Cpus_allowed_list), one entry per thread. */
function coresOfThreads(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((task) =>
    /^Cpus_allowed_list:\s+(\S+)$/m.exec(readFileSync(`/proc/${pid}/task/${task}/status`, "utf8"))![1]!
  );
}

/** One GET on a fresh connection (no keep-alive: each request may land on another worker). */
function get(port: number, path = "/", timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port, path, agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, body }));
      response.on("error", reject);
    });
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`No answer within ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/**
 * An origin answering its name, and `slow-NAME` on /slow once the test calls `releaseSlow()`: a
 * request on /slow is in flight for as long as the test needs, whatever the machine's speed.
 */
async function namedOrigin(name: string) {
  const held: Array<() => void> = [];
  const origin = await httpOrigin((request, response) => {
    const answer = (body: string) => response.writeHead(200, { "content-type": "text/plain" }).end(body);
    if (request.url === "/slow") held.push(() => answer(`slow-${name}`));
    else answer(name);
  });
  return {
    ...origin,
    slowHeld: () => held.length,
    releaseSlow: () => {
      for (const answer of held.splice(0)) answer();
    },
  };
}

function tempDirectory(): { path: string; file: (name: string, text: string) => string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), "proxy-master-"));
  return {
    path,
    file(name, text) {
      const file = join(path, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Two workers behind one http frontend whose traffic lines name the worker's pid on stdout. */
function configText(port: number, origin: string, global = ""): string {
  return `
[global]
workers = 2
${global}

[frontends.web]
bind = "127.0.0.1:${port}"
mode = "http"
default-backend = "app"
log = { target = "stdout", format = "raw" }
log-format = "served-by=%pid %HP %ST"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "${origin}" }]
`;
}

/** Pids that logged a served request since `from` on stdout. */
function servingPids(master: MasterProcess, from = 0): Set<number> {
  return new Set(
    [...master.stdout.slice(from).matchAll(/served-by=(\d+) /g)].map((match) => Number(match[1])),
  );
}

/** Waits until each of the `pids` said it stopped listening because its master asked it to finish. */
async function oldStoppedListening(master: MasterProcess, pids: readonly number[], from: number): Promise<void> {
  for (const pid of pids) {
    await master.waitFor(new RegExp(`\\(pid ${pid}\\): Master asked to finish: stopped listening`), from);
  }
}

/** O_NONBLOCK in a descriptor's open flags (Linux). */
const O_NONBLOCK = 0o4000;

/**
 * Connections made while no worker accepts: far below the frontends' backlog (4,096), and enough
 * that SO_REUSEPORT's hash leaves none of four sockets without some (a chance of 1 in 10^8).
 */
const QUEUED_CONNECTIONS = 64;

/** SIGCONT to each pid still there. */
function continueProcesses(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // Gone.
    }
  }
}

/** Start-up figures, printed at the end of the run for the report. */
const readyTimes: string[] = [];

describe(`master-worker (-W) on ${RUNTIME}`, () => {
  test("two workers serve, the pid file holds the master's pid, each worker checks its jail; SIGTERM stops everything", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const pidfile = join(directory.path, "proxy.pid");
    const file = directory.file("proxy.toml", configText(port, origin.address, `pidfile = "${pidfile}"`));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      const ready = await master.waitFor(/Master \(pid \d+\): 2 workers ready in (\d+) ms/);
      readyTimes.push(
        `${RUNTIME}: 2 workers ready ${Date.now() - master.startedAt} ms after the master was spawned (${
          ready[1]
        } ms by the master's clock)`,
      );
      const workers = master.readyWorkers();
      assert.deepEqual(workers.map((worker) => worker.number).sort(), [1, 2]);
      assert.equal(new Set(workers.map((worker) => worker.pid)).size, 2);
      assert.equal(readFileSync(pidfile, "utf8"), `${master.pid}\n`);
      // The jail: the config file is readable by the master and must not be by a jailed worker.
      for (const { number, pid } of workers) {
        const prefix = `Worker ${number} \\(pid ${pid}\\): `;
        if (RUNTIME === "bun") {
          await master.waitFor(new RegExp(`${prefix}File system open: bun has no permission model`));
        } else {
          const jail = RUNTIME === "deno" ? "deno-permissions" : "node-permission-model";
          await master.waitFor(
            new RegExp(
              `${prefix}File system closed: reading "${
                file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
              }" was denied \\(${jail}\\)`,
            ),
          );
        }
      }
      // Both workers take connections: SO_REUSEPORT spreads them over the two listening sockets.
      for (let i = 0; i < 60 && servingPids(master).size < 2; i++) {
        assert.equal((await get(port)).body, "one");
      }
      assert.deepEqual([...servingPids(master)].sort(), workers.map((worker) => worker.pid).sort());
      master.signalMaster("SIGTERM");
      assert.equal(await master.waitExit(), 0);
      await master.waitWorkersGone();
      assert.match(master.stderr, /SIGTERM received: stopping 2 workers now/);
      await assert.rejects(get(port, "/", 2_000));
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("SIGUSR2 reload: the new configuration serves, an in-flight request on the old workers completes, they exit", async () => {
    const before = await namedOrigin("before");
    const after = await namedOrigin("after");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, before.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const old = master.readyWorkers().map((worker) => worker.pid);
      assert.equal((await get(port)).body, "before");
      const slow = get(port, "/slow", 60_000);
      await waitUntil(() => before.slowHeld() === 1, "the slow request at the origin");
      writeFileSync(file, configText(port, after.address));
      const mark = master.stderr.length;
      master.signalMaster("SIGUSR2");
      await master.waitFor(
        /Reload done: 2 workers of generation 2 ready in \d+ ms, 2 workers of generation 1 finishing/,
        mark,
      );
      const fresh = master.readyWorkers(mark).map((worker) => worker.pid);
      assert.equal(fresh.length, 2);
      assert.deepEqual(fresh.filter((pid) => old.includes(pid)), []);
      // One listening socket, the master's, in every new worker too, and still non-blocking: the
      // flag belongs to the socket, and a worker's accept() would block on a blocking one.
      const holders = listeningSocketHolders(port, [master.pid, ...fresh]);
      assert.deepEqual([...new Set(holders.map((holder) => holder.pid))].sort(), [master.pid, ...fresh].sort());
      for (const holder of holders) assert.ok((holder.flags & O_NONBLOCK) !== 0, JSON.stringify(holder));
      // Until the old workers have closed their listeners, the kernel may still hand them connections.
      await oldStoppedListening(master, old, mark);
      for (let i = 0; i < 10; i++) assert.equal((await get(port)).body, "after");
      assert.ok(old.some(alive), "the old worker with a request in flight waits for it");
      before.releaseSlow();
      assert.deepEqual(await slow, { status: 200, body: "slow-before" });
      for (const pid of old) {
        await master.waitFor(new RegExp(`Worker \\d \\(pid ${pid}\\) exited with code 0`), mark);
      }
      assert.ok(old.every((pid) => !alive(pid)));
      assert.ok(fresh.every(alive));
      assert.equal(master.running, true);
    } finally {
      await master.stop();
      await before.close();
      await after.close();
      directory.remove();
    }
  });

  test("workers = 2 without -W: a reload with a broken configuration keeps the old workers and logs the position; a later good reload works", async () => {
    const before = await namedOrigin("before");
    const after = await namedOrigin("after");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, before.address));
    // No -W: `workers = 2` runs a master too.
    const master = new MasterProcess(["-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const old = master.readyWorkers().map((worker) => worker.pid);
      const broken = configText(port, after.address).replace(
        'default-backend = "app"',
        'default-backend = "nowhere"',
      );
      const brokenLine = broken.split("\n").findIndex((line) => line.includes("nowhere")) + 1;
      writeFileSync(file, broken);
      let mark = master.stderr.length;
      master.signalMaster("SIGHUP");
      const failure = await master.waitFor(
        /Reload failed, the running workers keep serving: Configuration has 1 error:\n(\S+):(\d+):(\d+): /,
        mark,
      );
      assert.equal(failure[1], file);
      assert.equal(Number(failure[2]), brokenLine);
      for (let i = 0; i < 5; i++) assert.equal((await get(port)).body, "before");
      assert.ok(old.every(alive));
      assert.deepEqual(master.readyWorkers(mark), []);
      writeFileSync(file, configText(port, after.address));
      mark = master.stderr.length;
      master.signalMaster("SIGUSR2");
      await master.waitFor(/Reload done/, mark);
      await oldStoppedListening(master, old, mark);
      for (let i = 0; i < 5; i++) assert.equal((await get(port)).body, "after");
    } finally {
      await master.stop();
      await before.close();
      await after.close();
      directory.remove();
    }
  });

  test(`connections waiting in an accept queue during a reload are all answered, none reset (tcp_migrate_req ${MIGRATE_REQ})`, async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    const stopped: number[] = [];
    const stop = (pids: readonly number[]) => {
      for (const pid of pids) {
        process.kill(pid, "SIGSTOP");
        stopped.push(pid);
      }
    };
    try {
      await master.waitFor(/2 workers ready/);
      const old = master.readyWorkers().map((worker) => worker.pid);
      // The old workers can neither accept nor read their control connection: the "finish" the
      // reload sends them waits there, in front of what the clients below send.
      stop(old);
      const mark = master.stderr.length;
      master.signalMaster("SIGUSR2");
      await master.waitFor(
        /Reload done: 2 workers of generation 2 ready in \d+ ms, 2 workers of generation 1 finishing/,
        mark,
      );
      const fresh = master.readyWorkers(mark).map((worker) => worker.pid);
      stop(fresh);
      // Nobody accepts now: each connection completes its handshake in the kernel and waits in an
      // accept queue (each worker's own with SO_REUSEPORT, or the master's one socket).
      const clients = Array.from(
        { length: QUEUED_CONNECTIONS },
        () => pendingConnection(port, "GET / HTTP/1.1\r\nHost: queued\r\nConnection: close\r\n\r\n"),
      );
      await Promise.all(clients.map((client) => client.connected));
      // Old worker 1 goes on: on Node and Bun it reads "finish" before it accepts, and closes its
      // listener with connections queued (Deno accepts what is queued first). Old worker 2 is
      // killed: its descriptors close without it running at all, on every runtime.
      const [finishing, killed] = old as [number, number];
      continueProcesses([finishing]);
      process.kill(killed, "SIGKILL");
      await oldStoppedListening(master, [finishing], mark);
      await master.waitFor(new RegExp(`Worker \\d \\(pid ${killed}\\) exited on SIGKILL`), mark);
      continueProcesses(fresh);
      const outcomes = await Promise.all(clients.map((client) => client.firstLine));
      const tally: Record<string, number> = {};
      for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
      assert.deepEqual(tally, { "HTTP/1.1 200 OK": QUEUED_CONNECTIONS });
    } finally {
      continueProcesses(stopped);
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("a reload binds the addresses it adds before the new workers start, and closes those it drops after; one it cannot bind fails it", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const [first, second, taken] = [await freePort(), await freePort(), await freePort()];
    const file = directory.file("proxy.toml", configText(first, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    const blocker = net.createServer();
    try {
      await master.waitFor(/2 workers ready/);
      let mark = master.stderr.length;
      writeFileSync(file, configText(first, origin.address).replace(`bind = "127.0.0.1:${first}"`, `bind = ["127.0.0.1:${first}", "127.0.0.1:${second}"]`));
      master.signalMaster("SIGUSR2");
      await master.waitFor(/Reload done/, mark);
      assert.equal((await get(second)).body, "one");
      assert.equal((await get(first)).body, "one");
      // An address in use: the reload fails before any worker starts, and the running ones serve on.
      await new Promise<void>((resolve) => blocker.listen(taken, "127.0.0.1", resolve));
      mark = master.stderr.length;
      writeFileSync(file, configText(first, origin.address).replace(`bind = "127.0.0.1:${first}"`, `bind = ["127.0.0.1:${second}", "127.0.0.1:${taken}"]`));
      master.signalMaster("SIGUSR2");
      await master.waitFor(
        new RegExp(`Reload failed, the running workers keep serving: Frontend "web": Cannot bind "127\\.0\\.0\\.1:${taken}": address already in use`),
        mark,
      );
      assert.deepEqual(master.readyWorkers(mark), []);
      assert.equal((await get(first)).body, "one");
      assert.equal((await get(second)).body, "one");
      // Dropped: closed once the old workers are told to finish, and free for anyone.
      mark = master.stderr.length;
      writeFileSync(file, configText(second, origin.address));
      const old = master.readyWorkers().slice(-2).map((worker) => worker.pid);
      master.signalMaster("SIGUSR2");
      await master.waitFor(/Reload done/, mark);
      // Once the old workers are gone, nobody holds the dropped socket any more.
      for (const pid of old) await master.waitFor(new RegExp(`Worker \\d \\(pid ${pid}\\) exited with code 0`), mark);
      assert.equal((await get(second)).body, "one");
      await assert.rejects(get(first, "/", 2_000), (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED");
    } finally {
      await master.stop();
      await new Promise<void>((resolve) => (blocker.listening ? blocker.close(() => resolve()) : resolve()));
      await origin.close();
      directory.remove();
    }
  });

  test("a worker killed with SIGKILL is restarted and logged, and traffic keeps flowing", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const victim = master.readyWorkers().find((worker) => worker.number === 1)!;
      const mark = master.stderr.length;
      process.kill(victim.pid, "SIGKILL");
      await master.waitFor(
        new RegExp(`Worker 1 \\(pid ${victim.pid}\\) exited on SIGKILL: restarting in 100 ms`),
        mark,
      );
      // Its sibling takes every connection meanwhile.
      for (let i = 0; i < 10; i++) assert.equal((await get(port)).body, "one");
      const restarted = await master.waitFor(/Worker 1 \(pid (\d+)\) ready in \d+ ms \(restarted\)/, mark);
      assert.notEqual(Number(restarted[1]), victim.pid);
      const stdoutMark = master.stdout.length;
      for (let i = 0; i < 60 && !servingPids(master, stdoutMark).has(Number(restarted[1])); i++) {
        assert.equal((await get(port)).body, "one");
      }
      assert.ok(servingPids(master, stdoutMark).has(Number(restarted[1])), "the restarted worker serves");
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("SIGUSR1 at the master: the workers finish their sessions, then everything exits", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const workers = master.readyWorkers().map((worker) => worker.pid);
      const slow = get(port, "/slow", 60_000);
      await waitUntil(() => origin.slowHeld() === 1, "the slow request at the origin");
      const mark = master.stderr.length;
      master.signalMaster("SIGUSR1");
      await master.waitFor(/SIGUSR1 received: 2 workers finish their sessions/, mark);
      await oldStoppedListening(master, workers, mark);
      // Nobody listens any more, while the slow response is still on its way.
      await assert.rejects(get(port, "/", 2_000));
      assert.equal(master.running, true);
      origin.releaseSlow();
      assert.deepEqual(await slow, { status: 200, body: "slow-one" });
      assert.equal(await master.waitExit(), 0);
      await master.waitWorkersGone();
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("quick start with -W: when the master is killed with SIGKILL, its workers exit on their own", async () => {
    const origin = await namedOrigin("quick");
    const port = await freePort();
    const master = new MasterProcess(["-W", "--bind", `127.0.0.1:${port}`, "--backend", origin.address]);
    try {
      await master.waitFor(/1 worker ready/);
      assert.equal((await get(port)).body, "quick");
      const workers = master.liveWorkers();
      assert.equal(workers.length, 1);
      master.child.kill("SIGKILL");
      await master.waitExit();
      await master.waitFor(
        /Worker 1 \(pid \d+\): Master gone[^:\n]*: stopped listening, finishing \d+ session\(s\)/,
      );
      await master.waitWorkersGone();
    } finally {
      await master.stop();
      await origin.close();
    }
  });

  test("SIGTTOU at the master pauses every worker and frees the address; SIGTTIN starts new workers on it", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const workers = master.readyWorkers();
      let mark = master.stderr.length;
      master.signalMaster("SIGTTOU");
      for (const { pid } of workers) {
        await master.waitFor(new RegExp(`\\(pid ${pid}\\): SIGTTOU received: paused`), mark);
      }
      await master.waitFor(/SIGTTOU received: the master closed its listening sockets/, mark);
      await assert.rejects(
        get(port, "/", 2_000),
        (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED",
      );
      // Free: another process can bind it, without SO_REUSEPORT.
      const other = net.createServer();
      await new Promise<void>((resolve, reject) => {
        other.once("error", reject);
        other.listen(port, "127.0.0.1", resolve);
      });
      await new Promise<void>((resolve) => other.close(() => resolve()));
      mark = master.stderr.length;
      master.signalMaster("SIGTTIN");
      await master.waitFor(/SIGTTIN received: binding again and starting new workers/, mark);
      await master.waitFor(/Resume done: 2 workers of generation 2 ready in \d+ ms, 2 workers of generation 1 finishing/, mark);
      const fresh = master.readyWorkers(mark).map((worker) => worker.pid);
      const stdoutMark = master.stdout.length;
      for (let i = 0; i < 5; i++) assert.equal((await get(port)).body, "one");
      for (const pid of servingPids(master, stdoutMark)) assert.ok(fresh.includes(pid), `served by ${pid}`);
      for (const { pid } of workers) {
        await master.waitFor(new RegExp(`Worker \\d \\(pid ${pid}\\) exited with code 0`), mark);
      }
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("a worker paused by its own SIGTTOU leaves the connections to its sibling, and cannot listen again", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const [paused, sibling] = master.readyWorkers().map((worker) => worker.pid) as [number, number];
      const mark = master.stderr.length;
      process.kill(paused, "SIGTTOU");
      await master.waitFor(new RegExp(`\\(pid ${paused}\\): SIGTTOU received: paused`), mark);
      const stdoutMark = master.stdout.length;
      for (let i = 0; i < 10; i++) assert.equal((await get(port)).body, "one");
      assert.deepEqual([...servingPids(master, stdoutMark)], [sibling]);
      process.kill(paused, "SIGTTIN");
      await master.waitFor(
        new RegExp(
          `\\(pid ${paused}\\): SIGTTIN received: cannot listen again, staying paused \\(send SIGTTIN again to retry\\): ` +
            `Cannot listen on "127\\.0\\.0\\.1:${port}" again: its socket came from the master`,
        ),
        mark,
      );
      for (let i = 0; i < 5; i++) assert.equal((await get(port)).body, "one");
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("the control port hangs up on a wrong token, a used token and garbage, and the workers go on", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      await master.waitFor(/2 workers ready/);
      const worker = master.readyWorkers()[0]!;
      const environment = readFileSync(`/proc/${worker.pid}/environ`, "utf8").split("\0");
      const value = environment.find((entry) => entry.startsWith("PROXY_MASTER="))!.slice(
        "PROXY_MASTER=".length,
      );
      const [address, token] = value.split(" ");
      const controlPort = Number(address!.split(":")[1]);
      const hangsUp = (line: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect({ host: "127.0.0.1", port: controlPort });
          let received = "";
          const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error(`The control port did not hang up on ${JSON.stringify(line)}`));
          }, 5_000);
          socket.on("connect", () => socket.write(line));
          socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
          socket.on("error", () => {});
          socket.on("close", () => {
            clearTimeout(timer);
            resolve(received);
          });
        });
      const wrong = token!.replace(/./, (digit) => (digit === "0" ? "1" : "0"));
      assert.equal(await hangsUp(`{"type":"hello","token":"${wrong}","pid":1}\n`), "");
      // The worker already said hello with it: a replay gets nothing either (no configuration leaks).
      assert.equal(await hangsUp(`{"type":"hello","token":"${token}","pid":1}\n`), "");
      assert.equal(await hangsUp("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "");
      assert.equal(await hangsUp(`{"type":"ready"}\n`), "");
      for (let i = 0; i < 5; i++) assert.equal((await get(port)).body, "one");
      assert.equal(master.readyWorkers().length, 2);
      assert.ok(master.readyWorkers().every(({ pid }) => alive(pid)));
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("an address in use fails the start at the master with its reason, and no worker is started", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const master = new MasterProcess(["-W", "-f", file]);
    try {
      assert.equal(await master.waitExit(), 1);
      assert.match(
        master.stderr,
        new RegExp(`Frontend "web": Cannot bind "127\\.0\\.0\\.1:${port}": address already in use`),
      );
      // The master binds before it starts anyone.
      assert.deepEqual(master.readyWorkers(), []);
      assert.doesNotMatch(master.stderr, /Worker \d/);
      await master.waitWorkersGone();
    } finally {
      await master.stop();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      await origin.close();
      directory.remove();
    }
  });

  test(
    RUNTIME === "node" ? "cpu-map is refused on Node, clearly" : "cpu-map pins worker 1 to core 1",
    async () => {
      const origin = await namedOrigin("one");
      const directory = tempDirectory();
      const port = await freePort();
      const file = directory.file(
        "proxy.toml",
        configText(port, origin.address, 'cpu-map = { 1 = "1", 2 = "0" }'),
      );
      const master = new MasterProcess(["-W", "-f", file]);
      try {
        if (RUNTIME === "node") {
          assert.equal(await master.waitExit(), 1);
          assert.match(master.stderr, /cpu-map/);
          assert.match(master.stderr, /Node/);
          assert.deepEqual(master.liveWorkers(), []);
          return;
        }
        await master.waitFor(/2 workers ready/);
        const workers = master.readyWorkers();
        const first = workers.find((worker) => worker.number === 1)!;
        const second = workers.find((worker) => worker.number === 2)!;
        const firstCores = coresOfThreads(first.pid);
        assert.ok(firstCores.length > 1, "a runtime has several threads");
        assert.deepEqual(new Set(firstCores), new Set(["1"]));
        assert.deepEqual(new Set(coresOfThreads(second.pid)), new Set(["0"]));
        assert.equal((await get(port)).body, "one");
      } finally {
        await master.stop();
        await origin.close();
        directory.remove();
      }
    },
  );

  test("systemd notifications: READY after start, RELOADING with MONOTONIC_USEC then READY on reload, STOPPING on stop", async () => {
    const origin = await namedOrigin("one");
    const directory = tempDirectory();
    const port = await freePort();
    const file = directory.file("proxy.toml", configText(port, origin.address));
    const record = join(directory.path, "notifications.txt");
    const script = directory.file("systemd-notify", `#!/bin/sh\necho "$*" >> "${record}"\n`);
    chmodSync(script, 0o755);
    const master = new MasterProcess(["-W", "-f", file], {
      PATH: `${directory.path}:${process.env.PATH ?? ""}`,
      NOTIFY_SOCKET: join(directory.path, "notify.sock"),
    });
    const lines = () => {
      try {
        return readFileSync(record, "utf8").trim().split("\n");
      } catch {
        return [];
      }
    };
    const waitLines = async (count: number) => {
      await waitUntil(() => lines().length >= count, `${count} notifications`).catch(() => {});
      assert.equal(lines().length, count, `notifications so far: ${lines().join(" | ")}\n${master.stderr}`);
    };
    try {
      await master.waitFor(/2 workers ready/);
      await waitLines(1);
      assert.deepEqual(lines(), [`--pid=${master.pid} READY=1`]);
      master.signalMaster("SIGUSR2");
      await master.waitFor(/Reload done/);
      await waitLines(3);
      const reloading = /^--pid=(\d+) RELOADING=1 MONOTONIC_USEC=(\d+)$/.exec(lines()[1]!);
      assert.ok(reloading !== null, lines()[1]);
      assert.equal(Number(reloading[1]), master.pid);
      // CLOCK_MONOTONIC: not more than the time since boot (which also counts suspend), in microseconds.
      const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
      const micros = Number(reloading[2]);
      assert.ok(
        micros > 0 && micros <= (uptime + 5) * 1e6,
        `MONOTONIC_USEC ${micros} against uptime ${uptime} s`,
      );
      assert.equal(lines()[2], `--pid=${master.pid} READY=1`);
      master.signalMaster("SIGTERM");
      assert.equal(await master.waitExit(), 0);
      assert.deepEqual(lines().slice(3), [`--pid=${master.pid} STOPPING=1`]);
    } finally {
      await master.stop();
      await origin.close();
      directory.remove();
    }
  });

  test("start-up time (for the report)", () => {
    for (const line of readyTimes) console.log(line);
    assert.ok(readyTimes.length > 0);
  });
});
